package ipc

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// Defaults and limits of the pool's side.
const (
	// DefaultStartTimeout bounds a worker's spawn and hello when Config.StartTimeout is 0.
	DefaultStartTimeout = 10 * time.Second
	// MaxStderrLine is where longer stderr lines are cut.
	MaxStderrLine = 64 << 10
	// stderrTail bounds the stderr quoted in a crash message.
	stderrTail = 300
	// drainWait bounds the wait for a dead worker's stdout and stderr to end.
	drainWait = 100 * time.Millisecond
	// exitWait is how long a worker that closed its stdout or stdin gets to
	// exit before it is killed.
	exitWait  = 100 * time.Millisecond
	ioBufSize = 64 << 10
)

// Config says how to start a worker process.
type Config struct {
	// Argv is the command; no shell is involved. An Argv[0] without a slash
	// is looked up in PATH.
	Argv []string
	// Dir is the working directory; "" inherits this process's.
	Dir string
	// Env is the worker's complete environment ("KEY=value"); nil inherits
	// this process's. Start drops any WorkerEnv and WorkerIDEnv entries and
	// appends WorkerEnv=<this process's pid> and the worker's own
	// WorkerIDEnv. It also points TMPDIR (TMP and TEMP
	// on Windows) at a directory of the worker's own, made under the one Env
	// names and removed once the worker is reaped, so that nothing a killed
	// worker wrote there is left behind.
	Env []string
	// Concurrency is the most requests the worker runs at once, announced
	// in the hello; 0 means 1. The caller may have more in flight: the
	// worker starts them in order as running ones end (PROTOCOL.md,
	// "Waiting requests"); Request.OnWrite tells the caller that order.
	Concurrency int
	// MaxFrame is the largest frame either side may send; 0 means DefaultMaxFrame.
	MaxFrame int
	// Module, if not nil, is sent as the hello's "module" field (a JSON
	// object); the worker must list FeatureModule in its hello.
	Module json.RawMessage
	// StartTimeout bounds spawning the worker and its hello; 0 means 10s.
	StartTimeout time.Duration
	// Stderr, if not nil, is called with each line the worker writes to
	// its standard error, without the line end; lines longer than
	// MaxStderrLine are cut. It is called from one goroutine, in order.
	Stderr func(line string)
}

// Request is one task to run on a worker.
type Request struct {
	Workload string
	// Params is a JSON object, or nil for {}.
	Params []byte
	// Timeout is sent as timeout_ms (rounded up); 0 is none.
	Timeout time.Duration
	// OnWrite, if not nil, runs once the request is in line to reach the
	// worker, under the lock that orders the writes: its calls see the
	// requests in the order the worker reads them (a pool that sends more
	// than the worker runs at once learns which ones wait). It must be
	// quick and must not call the Worker. It does not run when Send returns
	// an error.
	OnWrite func()
}

// Response is how a request ended.
type Response struct {
	// Value is the result's JSON value; nil means null. It is only valid
	// until its Call is sent again.
	Value json.RawMessage
	// Err is a failure the worker reported (its class from the wire name;
	// unknown names are Workload failures), or a WorkerCrashed failure when
	// the worker died, broke the protocol, was killed or was closed with
	// the request in flight.
	Err *taskerr.Error
	// RunTime is run_ns from the worker; 0 if it never answered.
	RunTime time.Duration
}

// Call is a request in flight on a worker. It is reusable, one request at a
// time: Send it, receive from Done (or be called back), read its Response,
// Send it again.
type Call struct {
	Response
	id   atomic.Uint64 // read by Cancel callers while the call may be reused
	done chan struct{}
	fn   func(*Call) // callback mode: run instead of signalling done
	buf  []byte      // the request's frame, reused
	val  []byte      // the response's value, reused
}

// NewCall returns a call ready to Send, that signals Done when it settles.
func NewCall() *Call { return &Call{done: make(chan struct{}, 1)} }

// NewCallFunc returns a call that runs fn when it settles, instead of
// signalling Done: on the worker's reader goroutine for a result, or on the
// goroutine that found the worker gone. fn must not block; it may Send on
// another call (not on this one while it runs). Send never runs fn itself: a
// request it refuses is its error. Saving the hand-off to a waiting
// goroutine is what makes this mode cheaper.
func NewCallFunc(fn func(*Call)) *Call { return &Call{fn: fn} }

// Done receives exactly one signal per accepted Send, when the call settles.
// Receive it before reading the Response or reusing the call.
func (c *Call) Done() <-chan struct{} { return c.done }

// ID is the id of the call's latest request, for Cancel.
func (c *Call) ID() uint64 { return c.id.Load() }

func (c *Call) settle() {
	if c.fn != nil {
		c.fn(c)
		return
	}
	select {
	case c.done <- struct{}{}:
	default: // the caller did not receive the previous signal: its bug, never block the reader
	}
}

// Why a worker is stopping, when it was this package's or the caller's decision.
const (
	causeNone     = iota
	causeProtocol // broke the protocol; detail says how
	causeKill     // Kill(reason)
	causeStart    // did not start; detail is the whole phrase
)

// Worker is a running worker process: the pool's end of its pipes.
type Worker struct {
	cfg      Config
	who      string // "worker [argv] pid N"
	cmd      *exec.Cmd
	pid      int
	maxFrame int
	tmp      string // the worker's own TMPDIR, removed once it is reaped
	id       string // WorkerIDEnv's value: marks its descendants

	sigMu  sync.Mutex
	reaped bool // its pid may be another process's: signal nothing

	stdin, stdout, stderr *os.File
	stdinOnce             sync.Once
	out                   frameWriter
	nextID                atomic.Uint64

	// Set by the reader before helloReady is closed, then read-only.
	infos []workload.Info
	// features are what the worker's hello listed (FeaturePrefetch, ...).
	features []string
	offers   map[string]struct{}

	helloReady chan struct{}
	readerDone chan struct{}
	stderrDone chan struct{}
	done       chan struct{}
	exited     chan struct{} // closed once the process is reaped

	mu        sync.Mutex
	calls     map[uint64]*Call
	stopping  bool // no more Sends
	swept     bool // in-flight calls settled; the process is reaped
	closing   bool // Close was called
	escalated string
	causeKind int
	cause     string
	// killedBecause says why we killed a worker that stopped speaking on its own.
	killedBecause string
	writeBroken   bool
	helloed       bool
	err           *taskerr.Error

	tailMu sync.Mutex
	tail   []string
}

// startPiped starts cmd with a new pipe for each of its stdin, stdout and
// stderr, and returns the parent's ends. On failure it closes every end.
func startPiped(cmd *exec.Cmd) (stdin, stdout, stderr *os.File, err error) {
	var child, parent [3]*os.File // stdin, stdout, stderr
	for i := range child {
		r, w, err := os.Pipe()
		if err != nil {
			closeFiles(child[:i])
			closeFiles(parent[:i])
			return nil, nil, nil, err
		}
		child[i], parent[i] = w, r
		if i == 0 { // stdin: the child reads
			child[i], parent[i] = r, w
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = child[0], child[1], child[2]
	err = startCmd(cmd)
	// The child has its ends (or failed to start); the parent keeps only its own.
	closeFiles(child[:])
	if err != nil {
		closeFiles(parent[:])
		return nil, nil, nil, errors.New(whyNotStarted(cmd, err))
	}
	return parent[0], parent[1], parent[2], nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// withDefaults is cfg with its zero values defaulted and a copy of Argv.
func (cfg Config) withDefaults() Config {
	cfg.Argv = slices.Clone(cfg.Argv)
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	cfg.MaxFrame = int(min(int64(cfg.MaxFrame), math.MaxUint32))
	return cfg
}

// Start spawns a worker, sends the pool's hello and waits for the worker's.
// Any failure is a WorkerCrashed *taskerr.Error naming the command, the pid
// and what went wrong, and leaves no process behind.
func Start(cfg Config) (*Worker, error) {
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return nil, taskerr.New(taskerr.WorkerCrashed, "worker %v: no command to start", cfg.Argv)
	}
	cfg = cfg.withDefaults()
	deadline := time.NewTimer(cfg.StartTimeout)
	defer deadline.Stop()

	// #nosec G204 -- running the worker command the script configured is the pool's purpose
	cmd := exec.Command(cfg.Argv[0], cfg.Argv[1:]...) //nolint:noctx // the Worker ends it, gracefully first
	cmd.Dir = cfg.Dir
	id := newWorkerID()
	tmp, env := privateTemp(append(workerEnv(cfg.Env), WorkerIDEnv+"="+id))
	cmd.Env = env
	cmd.SysProcAttr = sysProcAttr()

	inW, outR, errR, err := startPiped(cmd)
	if err != nil {
		removeTemp(tmp)
		return nil, taskerr.New(taskerr.WorkerCrashed, "worker %v: cannot start: %s", cfg.Argv, err)
	}

	w := &Worker{
		cfg:        cfg,
		cmd:        cmd,
		pid:        cmd.Process.Pid,
		maxFrame:   cfg.MaxFrame,
		tmp:        tmp,
		id:         id,
		stdin:      inW,
		stdout:     outR,
		stderr:     errR,
		helloReady: make(chan struct{}),
		readerDone: make(chan struct{}),
		stderrDone: make(chan struct{}),
		done:       make(chan struct{}),
		exited:     make(chan struct{}),
		calls:      make(map[uint64]*Call, cfg.Concurrency),
	}
	w.who = fmt.Sprintf("worker %v pid %d", cfg.Argv, w.pid)
	w.out.bw = bufio.NewWriterSize(inW, ioBufSize)
	go w.readLoop()
	go w.stderrLoop()
	go w.waitLoop()

	hello := fmt.Appendf(beginFrame(nil),
		`{"type":"hello","protocol":%d,"concurrency":%d,"max_frame":%d,"features":["%s"]}`,
		ProtocolVersion, cfg.Concurrency, cfg.MaxFrame, FeatureBatch)
	hello = appendModule(hello, cfg.Module)
	_ = w.out.write(endFrame(hello)) // a worker that is gone already is reported below

	select {
	case <-w.helloReady:
		select {
		case <-w.done: // said hello, then died at once: a start failure (the pool backs off)
			return nil, w.startErr()
		default:
			return w, nil
		}
	case <-w.done:
		return nil, w.startErr()
	case <-deadline.C:
		w.stop(causeStart, fmt.Sprintf("did not say hello within %s", cfg.StartTimeout))
		<-w.done // the worker is reaped, even if its hello raced the timeout
		return nil, w.startErr()
	}
}

// startErr is why a worker that is Done did not start.
func (w *Worker) startErr() error {
	if e := w.Err(); e != nil {
		return e
	}
	return taskerr.New(taskerr.WorkerCrashed, "%s ended while starting", w.who)
}

// workerEnv is env without WorkerEnv and WorkerIDEnv, plus WorkerEnv=<our pid>.
func workerEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if sameVar(k, WorkerEnv) || sameVar(k, WorkerIDEnv) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, WorkerEnv+"="+strconv.Itoa(os.Getpid()))
}

// PID is the worker process's id.
func (w *Worker) PID() int { return w.pid }

// Workloads is what the worker offers, from its hello. Do not modify it.
func (w *Worker) Workloads() []workload.Info { return w.infos }

// Has reports whether the worker's hello listed the feature.
func (w *Worker) Has(feature string) bool { return slices.Contains(w.features, feature) }

// Offers reports whether the worker's hello listed the workload.
func (w *Worker) Offers(name string) bool {
	_, ok := w.offers[name]
	return ok
}

// Send sends req as c's request, with a fresh id. Unless it returns an
// error, c settles once (Done receives one signal, or its callback runs):
// with the worker's result, an InvalidArgument failure for params that are
// not a JSON object or make a frame over the limit (without sending; a call
// made with NewCallFunc gets that failure as Send's error instead), or a
// WorkerCrashed failure when the worker ends first. The error, otherwise a
// WorkerCrashed *taskerr.Error, says that the worker is gone already; then c
// does not settle.
func (w *Worker) Send(c *Call, req Request) error {
	c.Response = Response{}
	id := w.nextID.Add(1)
	c.id.Store(id)
	if req.Params != nil && !isObject(req.Params) {
		return c.refuse(taskerr.New(taskerr.InvalidArgument, "%s: params must be a JSON object", req.Workload))
	}
	var timeoutMS int64
	if req.Timeout > 0 {
		timeoutMS = int64((req.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	frame := appendRun(c.buf, id, req.Workload, req.Params, timeoutMS)
	if n := len(frame) - headerSize; n > w.maxFrame {
		return c.refuse(taskerr.New(taskerr.InvalidArgument,
			"%s: params of %d bytes make a request of %d bytes, over the %d-byte frame limit",
			req.Workload, len(req.Params), n, w.maxFrame))
	}
	c.buf = frame
	if cap(frame) > 1<<20 {
		c.buf = nil // the next request gets a fresh buffer
	}
	w.mu.Lock()
	if w.stopping {
		err := w.goneLocked()
		w.mu.Unlock()
		return err
	}
	w.calls[id] = c
	w.mu.Unlock()
	// From here on c may settle, and in callback mode be sent again, at any
	// moment: only the local frame is touched (nothing reads it once written).
	if err := w.out.writeThen(frame, req.OnWrite); err != nil {
		w.writeFailed(err)
	}
	return nil
}

// refuse settles c with a failure found before sending, or, in callback
// mode, returns it (so that Send never runs the callback itself).
func (c *Call) refuse(e *taskerr.Error) error {
	if c.fn != nil {
		return e
	}
	c.Err = e
	c.settle()
	return nil
}

// goneLocked is Send's error on a stopping worker.
func (w *Worker) goneLocked() *taskerr.Error {
	switch {
	case w.err != nil:
		return &taskerr.Error{Code: w.err.Code, Message: w.err.Message}
	case w.causeKind != causeNone:
		return taskerr.New(taskerr.WorkerCrashed, "%s", w.causeMessage())
	case w.closing:
		return taskerr.New(taskerr.WorkerCrashed, "%s was closed", w.who)
	}
	return taskerr.New(taskerr.WorkerCrashed, "%s is gone", w.who)
}

// writeFailed handles a write to the worker's stdin that failed: unless we
// closed it, the worker stopped reading (it exited, or closed its stdin), so
// it is killed to make sure the requests in flight settle.
func (w *Worker) writeFailed(err error) {
	w.mu.Lock()
	first := !w.writeBroken
	w.writeBroken, w.stopping = true, true
	w.mu.Unlock()
	if first {
		go w.killUnlessClosing("it stopped reading its input (" + err.Error() + ")")
	}
}

// killUnlessClosing makes sure that a worker that stopped speaking on its
// own (closed its output or input) is dead: usually it is exiting, so it
// gets exitWait to do so; then it is killed, unless Close is giving it time
// to exit. why is added to the message when our SIGKILL ended it.
func (w *Worker) killUnlessClosing(why string) {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-w.exited:
		return
	case <-t.C:
	}
	w.mu.Lock()
	closing := w.closing || w.swept
	if !closing && w.killedBecause == "" {
		w.killedBecause = why
	}
	w.mu.Unlock()
	if !closing {
		w.kill()
	}
}

// Cancel sends a cancel for request id, if it is in flight: best effort.
func (w *Worker) Cancel(id uint64) {
	w.mu.Lock()
	_, ok := w.calls[id]
	ok = ok && !w.stopping
	w.mu.Unlock()
	if !ok {
		return
	}
	var b [40]byte
	if err := w.out.write(appendCancel(b[:0], id)); err != nil {
		w.writeFailed(err)
	}
}

// Kill sends SIGKILL to the worker and its process group now. Requests in
// flight settle with a WorkerCrashed failure that names the pid and the
// reason, and so does Err.
// It is idempotent and safe to call concurrently with anything.
func (w *Worker) Kill(reason string) { w.stop(causeKill, reason) }

// stop records why the worker is stopping (the first cause wins) and kills it.
func (w *Worker) stop(kind int, detail string) {
	w.mu.Lock()
	if w.swept {
		w.mu.Unlock()
		return
	}
	if w.causeKind == causeNone {
		w.causeKind, w.cause = kind, detail
	}
	w.stopping = true
	w.mu.Unlock()
	w.kill()
}

// Close stops the worker: it closes its stdin and waits up to grace for it
// to exit, then sends SIGTERM (not on Windows) and waits up to grace again,
// then sends SIGKILL; both signals go to the worker's process group. It
// returns once the worker is Done. Requests still in flight settle with
// WorkerCrashed ("... stopped while the task was running"). It is idempotent and safe to call concurrently
// with anything.
func (w *Worker) Close(grace time.Duration) {
	w.mu.Lock()
	w.closing, w.stopping = true, true
	w.mu.Unlock()
	w.closeStdin()
	grace = max(grace, 0)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-w.done:
		return
	case <-t.C:
	}
	if canTerminate && w.signal(syscall.SIGTERM) {
		w.noteEscalation("SIGTERM")
		t.Reset(grace)
		select {
		case <-w.done:
			return
		case <-t.C:
		}
	}
	w.noteEscalation("SIGKILL")
	w.kill()
	<-w.done
}

func (w *Worker) noteEscalation(sig string) {
	w.mu.Lock()
	if !w.swept {
		w.escalated = sig
	}
	w.mu.Unlock()
}

func (w *Worker) closeStdin() { w.stdinOnce.Do(func() { _ = w.stdin.Close() }) }

// Done is closed once the worker has exited, what was left of its process
// group has been killed, it has been reaped, its temporary directory is
// removed, and every request that was in flight has settled.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Err says, once Done is closed, why the worker ended: a WorkerCrashed
// failure with the pid and the exit status, signal, protocol error or kill
// reason. It is nil after a Close the worker obeyed (exit status 0).
func (w *Worker) Err() *taskerr.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// frameWriter is a buffered writer shared by many goroutines: each frame is
// one Write under the mutex, and only the last writer of a burst flushes, so
// that frames written by goroutines that were waiting share a syscall. A
// hold (the reader has more results in hand, whose callbacks send the next
// requests) counts as a writer waiting: its release flushes.
type frameWriter struct {
	mu      sync.Mutex
	bw      *bufio.Writer
	waiting atomic.Int32
}

// hold defers the flushes of writes until release.
func (fw *frameWriter) hold() { fw.waiting.Add(1) }

// release ends a hold, flushing what was written meanwhile unless another
// writer is waiting (it flushes then).
func (fw *frameWriter) release() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.waiting.Add(-1) == 0 && fw.bw.Buffered() > 0 {
		return fw.bw.Flush()
	}
	return nil
}

func (fw *frameWriter) write(frame []byte) error { return fw.writeThen(frame, nil) }

// writeThen is write, running then first (if not nil) under the lock.
func (fw *frameWriter) writeThen(frame []byte, then func()) error {
	fw.waiting.Add(1)
	fw.mu.Lock()
	if then != nil {
		then()
	}
	_, err := fw.bw.Write(frame)
	if fw.waiting.Add(-1) == 0 && err == nil {
		err = fw.bw.Flush()
	}
	fw.mu.Unlock()
	return err
}

func (fw *frameWriter) flush() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.bw.Flush()
}

// readLoop reads the worker's frames: the hello, then results.
func (w *Worker) readLoop() {
	defer close(w.readerDone)
	br := bufio.NewReaderSize(w.stdout, ioBufSize)
	var buf []byte
	// The worker sends its hello before it has read the pool's max_frame,
	// so the hello may be as large as the default.
	limit := max(w.maxFrame, DefaultMaxFrame)
	helloed, holding := false, false
	defer func() {
		if holding {
			_ = w.out.release()
		}
	}()
	for {
		frame, err := ReadFrame(br, buf, limit)
		if err != nil {
			if fe, ok := errors.AsType[*FrameError](err); ok {
				w.stop(causeProtocol, junkMessage(fe, br))
				return
			}
			// The worker closed its stdout: it is dead or useless. Unless
			// Close is waiting for it to exit, make sure it is dead.
			w.killUnlessClosing("it closed its standard output")
			return
		}
		buf = frame
		if cap(buf) > 1<<20 {
			buf = nil // do not keep a large buffer for one large frame
		}
		if !helloed {
			if !w.handleHello(frame) {
				return
			}
			helloed = true
			limit = w.maxFrame
			continue
		}
		// Results that came in one read are handled with the writes of
		// their callbacks (the next requests) held, to go out in one.
		if !holding && frameReady(br) {
			w.out.hold()
			holding = true
		}
		ok := w.handleFrame(frame)
		if holding && (!ok || !frameReady(br)) {
			holding = false
			if err := w.out.release(); err != nil {
				w.writeFailed(err)
			}
		}
		if !ok {
			return
		}
	}
}

// frameReady says whether a whole frame is buffered: reading it does not
// block. Only then may the reader hold the writes.
func frameReady(br *bufio.Reader) bool {
	if br.Buffered() < headerSize {
		return false
	}
	head, err := br.Peek(headerSize) // buffered: it does not block
	if err != nil {
		return false
	}
	return br.Buffered()-headerSize >= int(binary.BigEndian.Uint32(head))
}

type helloIn struct {
	Protocol  *float64        `json:"protocol"`
	PID       int             `json:"pid"`
	Workloads []workload.Info `json:"workloads"`
	Features  []string        `json:"features"`
}

func (w *Worker) handleHello(frame []byte) bool {
	var m wireMsg
	if err := m.parse(frame); err != nil {
		w.stop(causeProtocol, "sent "+err.Error())
		return false
	}
	if !m.is(TypeHello) {
		w.stop(causeStart, fmt.Sprintf("sent a %q message before its hello", m.typeName()))
		return false
	}
	var h helloIn
	if err := json.Unmarshal(frame, &h); err != nil {
		w.stop(causeStart, fmt.Sprintf("sent a malformed hello (%v): %s", err, snippet(frame)))
		return false
	}
	if h.Protocol == nil {
		w.stop(causeStart, fmt.Sprintf("sent a hello without a protocol version, want %d", ProtocolVersion))
		return false
	}
	if *h.Protocol != ProtocolVersion {
		w.stop(causeStart, fmt.Sprintf("speaks protocol %v, want %d", *h.Protocol, ProtocolVersion))
		return false
	}
	if msg := missingFeature(w.cfg, h.Features); msg != "" {
		w.stop(causeStart, msg)
		return false
	}
	offers := make(map[string]struct{}, len(h.Workloads))
	for i, info := range h.Workloads {
		if info.Name == "" {
			w.stop(causeStart, fmt.Sprintf("sent a hello whose workload #%d has no name", i+1))
			return false
		}
		if info.Kind != workload.CPU && info.Kind != workload.IO {
			w.stop(causeStart, fmt.Sprintf("sent a hello whose workload %q has kind %q, want %q or %q",
				info.Name, info.Kind, workload.CPU, workload.IO))
			return false
		}
		offers[info.Name] = struct{}{}
	}
	if h.Workloads == nil {
		h.Workloads = []workload.Info{}
	}
	w.infos, w.offers, w.features = h.Workloads, offers, h.Features
	w.mu.Lock()
	w.helloed = true
	w.mu.Unlock()
	close(w.helloReady)
	return true
}

// handleFrame handles a frame after the hello; false means the worker broke
// the protocol and is being killed.
func (w *Worker) handleFrame(frame []byte) bool {
	var m wireMsg
	if err := m.parse(frame); err != nil {
		w.stop(causeProtocol, "sent "+err.Error())
		return false
	}
	if m.is(TypeBatch) {
		return w.handleBatch(&m)
	}
	if !m.is(TypeResult) {
		if m.is(TypeHello) {
			w.stop(causeProtocol, "sent a second hello")
		} else {
			w.stop(causeProtocol, fmt.Sprintf("sent a message of unknown type %q", m.typeName()))
		}
		return false
	}
	return w.handleResult(&m, frame)
}

// handleResult handles a result message (frame is its text); false means the
// worker broke the protocol and is being killed.
func (w *Worker) handleResult(m *wireMsg, frame []byte) bool {
	id, ok := parseUint(m.id)
	if !ok || id == 0 {
		w.stop(causeProtocol, fmt.Sprintf("sent a result without a valid id: %s", snippet(frame)))
		return false
	}
	var failure *taskerr.Error
	if !isNull(m.err) {
		var we WireError
		if err := json.Unmarshal(m.err, &we); err != nil || m.err[0] != '{' {
			w.stop(causeProtocol, fmt.Sprintf("sent a result for id %d with a malformed error: %s", id, snippet(m.err)))
			return false
		}
		if we.Message == "" {
			we.Message = "the task failed (the worker gave no message)"
		}
		failure = &taskerr.Error{Code: wireCode(we.Name), Message: we.Message}
	}
	var runTime time.Duration
	if m.runNS != nil {
		ns, ok := parseNumber(m.runNS)
		if !ok {
			w.stop(causeProtocol, fmt.Sprintf("sent a result for id %d whose run_ns is not a number: %s", id, snippet(m.runNS)))
			return false
		}
		runTime = time.Duration(min(max(ns, 0), math.MaxInt64/2))
	}
	w.mu.Lock()
	c, ok := w.calls[id]
	if ok {
		delete(w.calls, id)
	}
	w.mu.Unlock()
	if !ok {
		w.stop(causeProtocol, fmt.Sprintf("sent a result for id %d, which is not in flight", id))
		return false
	}
	c.Response = Response{Err: failure, RunTime: runTime}
	if failure == nil && !isNull(m.value) {
		c.val = append(c.val[:0], m.value...)
		c.Value = c.val
		if cap(c.val) > 1<<20 {
			c.val = nil // the next response gets a fresh buffer
		}
	}
	c.settle()
	return true
}

// stderrLoop passes the worker's stderr to cfg.Stderr line by line and keeps
// the last lines for crash messages.
func (w *Worker) stderrLoop() {
	defer close(w.stderrDone)
	br := bufio.NewReaderSize(w.stderr, MaxStderrLine)
	skipping := false // inside a line that was cut
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				w.stderrLine(line)
				skipping = true
			}
			continue
		}
		if len(line) > 0 {
			if skipping {
				skipping = false
			} else {
				w.stderrLine(line)
			}
		}
		if err != nil {
			return
		}
	}
}

func (w *Worker) stderrLine(b []byte) {
	line := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(line) != "" {
		kept := line
		if len(kept) > stderrTail {
			kept = kept[:stderrTail] + "..."
		}
		w.tailMu.Lock()
		if len(w.tail) == 8 {
			copy(w.tail, w.tail[1:])
			w.tail = w.tail[:7]
		}
		w.tail = append(w.tail, kept)
		w.tailMu.Unlock()
	}
	if w.cfg.Stderr != nil {
		w.cfg.Stderr(line)
	}
}

// stderrTail is the last stderr lines, at most about 300 bytes, or "".
func (w *Worker) stderrTail() string {
	w.tailMu.Lock()
	defer w.tailMu.Unlock()
	var parts []string
	n := 0
	for _, v := range slices.Backward(w.tail) {
		if n > 0 && n+len(v) > stderrTail {
			break
		}
		parts = append(parts, v)
		n += len(v) + 3
	}
	slices.Reverse(parts)
	return strings.Join(parts, " | ")
}

// waitLoop reaps the worker, kills its descendants, removes its TMPDIR, lets
// its stdout and stderr drain, and settles whatever is still in flight.
func (w *Worker) waitLoop() {
	w.reap()
	close(w.exited)
	killStrays(w.id)
	removeTemp(w.tmp) // after its strays: none of them writes there any more
	state := w.cmd.ProcessState
	drained := time.Now().Add(drainWait)
	awaitOrClose(w.readerDone, w.stdout, drained)
	awaitOrClose(w.stderrDone, w.stderr, drained)

	exit := "ended"
	if state != nil {
		exit = describeExit(state)
	}
	tail := w.stderrTail()
	w.mu.Lock()
	w.stopping, w.swept = true, true
	calls := w.calls
	w.calls = nil
	var msg string
	switch {
	case w.causeKind != causeNone:
		msg = w.causeMessage()
		if w.causeKind == causeProtocol {
			msg += "; it " + exit
		}
		if w.causeKind != causeKill && tail != "" {
			msg += "; stderr: " + tail
		}
		w.err = &taskerr.Error{Code: taskerr.WorkerCrashed, Message: msg}
	case w.closing:
		msg = w.who + " stopped while the task was running"
		if w.escalated != "" || state == nil || !state.Success() {
			m := w.who + " " + exit + " after its input closed"
			if w.escalated != "" {
				m = fmt.Sprintf("%s did not exit after its input closed; it was sent %s and %s", w.who, w.escalated, exit)
			}
			if tail != "" {
				m += "; stderr: " + tail
			}
			w.err = &taskerr.Error{Code: taskerr.WorkerCrashed, Message: m}
		}
	default:
		msg = w.who + " " + exit
		if w.killedBecause != "" && strings.HasSuffix(exit, "SIGKILL") {
			msg += " after " + w.killedBecause
		}
		if !w.helloed {
			msg += " before hello"
		}
		if tail != "" {
			msg += "; stderr: " + tail
		}
		w.err = &taskerr.Error{Code: taskerr.WorkerCrashed, Message: msg}
	}
	w.mu.Unlock()
	for _, c := range calls {
		c.Response = Response{Err: &taskerr.Error{Code: taskerr.WorkerCrashed, Message: msg}}
		c.settle()
	}
	w.closeStdin()
	_ = w.stdout.Close()
	_ = w.stderr.Close()
	close(w.done)
}

// causeMessage words the recorded cause; w.mu is held.
func (w *Worker) causeMessage() string {
	switch w.causeKind {
	case causeProtocol:
		return w.who + " broke the protocol: " + w.cause
	case causeKill:
		return w.who + " was killed: " + w.cause
	default:
		return w.who + " " + w.cause
	}
}

// awaitOrClose waits for done until deadline, then closes f so that the
// goroutine reading it returns, and waits for it.
func awaitOrClose(done <-chan struct{}, f *os.File, deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = f.Close()
		<-done
	}
}
