package ipc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
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
	// Stderr, if not nil, is called with the worker's pid and each line
	// the worker writes to its standard error, without the line end; lines
	// longer than MaxStderrLine are cut. It is called from one goroutine per
	// worker, in order.
	Stderr func(pid int, line string)
}

// workerState is where a Worker is in its life.
type workerState int

const (
	running  workerState = iota // starting, or serving
	stopping                    // no more Sends; it is being stopped, or it stopped on its own
	ended                       // reaped, and every call settled: Done is closed
)

// causeKind is why a worker is stopping, when that was this package's or
// the caller's decision. A Close is the weakest cause: any other that comes
// after it replaces it; between the others, the first wins.
type causeKind int

const (
	causeNone     causeKind = iota
	causeClose              // Close was called
	causeProtocol           // broke the protocol; detail says how
	causeKill               // Kill(reason)
	causeStart              // did not start; detail is the whole phrase
)

type cause struct {
	kind   causeKind
	detail string
}

// Worker is a running worker process: a process under supervision, and a
// protocol client over its stdin and stdout.
type Worker struct {
	proc   *process
	client *client
	done   chan struct{}

	mu    sync.Mutex
	state workerState
	cause cause
	err   *taskerr.Error // why it ended, once it has
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
	p, err := startProcess(cfg)
	if err != nil {
		return nil, taskerr.New(taskerr.WorkerCrashed, "worker %v: cannot start: %s", cfg.Argv, err)
	}
	w := &Worker{proc: p, done: make(chan struct{})}
	w.client = newClient(p.stdout, p.stdin,
		clientConfig{Concurrency: cfg.Concurrency, MaxFrame: cfg.MaxFrame, Module: cfg.Module}, w.fault)
	go w.supervise()
	w.client.start()
	select {
	case <-w.client.ready:
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
	return taskerr.New(taskerr.WorkerCrashed, "%s ended while starting", w.proc.who)
}

// PID is the worker process's id.
func (w *Worker) PID() int { return w.proc.pid }

// Workloads is what the worker offers, from its hello. Do not modify it.
func (w *Worker) Workloads() []workload.Info { return w.client.infos }

// Has reports whether the worker's hello listed the feature.
func (w *Worker) Has(feature string) bool { return slices.Contains(w.client.features, feature) }

// Offers reports whether the worker's hello listed the workload.
func (w *Worker) Offers(name string) bool {
	_, ok := w.client.offers[name]
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
	err := w.client.send(c, req)
	if errors.Is(err, errShut) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.goneLocked()
	}
	return err
}

// goneLocked is Send's error on a stopping worker.
func (w *Worker) goneLocked() *taskerr.Error {
	switch {
	case w.err != nil:
		return &taskerr.Error{Code: w.err.Code, Message: w.err.Message}
	case w.cause.kind == causeClose:
		return taskerr.New(taskerr.WorkerCrashed, "%s was closed", w.proc.who)
	case w.cause.kind != causeNone:
		return taskerr.New(taskerr.WorkerCrashed, "%s", w.causeMessage())
	}
	return taskerr.New(taskerr.WorkerCrashed, "%s is gone", w.proc.who)
}

// Cancel sends a cancel for request id, if it is in flight: best effort.
func (w *Worker) Cancel(id uint64) { w.client.cancel(id) }

// Kill sends SIGKILL to the worker and its process group now. Requests in
// flight settle with a WorkerCrashed failure that names the pid and the
// reason, and so does Err.
// It is idempotent and safe to call concurrently with anything.
func (w *Worker) Kill(reason string) { w.stop(causeKill, reason) }

// Close stops the worker: it closes its stdin and waits up to grace for it
// to exit, then sends SIGTERM (not on Windows) and waits up to grace again,
// then sends SIGKILL; both signals go to the worker's process group. It
// returns once the worker is Done. Requests still in flight settle with
// WorkerCrashed ("... stopped while the task was running"). It is idempotent and safe to call concurrently
// with anything.
func (w *Worker) Close(grace time.Duration) {
	w.decide(causeClose, "")
	w.proc.stop(grace)
	<-w.done
}

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

// decide records why the worker is stopping (see causeKind) and stops its
// sends; false means it has ended already.
func (w *Worker) decide(kind causeKind, detail string) bool {
	w.mu.Lock()
	if w.state == ended {
		w.mu.Unlock()
		return false
	}
	w.state = stopping
	if w.cause.kind == causeNone || (w.cause.kind == causeClose && kind > causeClose) {
		w.cause = cause{kind, detail}
	}
	w.mu.Unlock()
	w.client.stop()
	return true
}

// stop records why the worker is stopping and kills it.
func (w *Worker) stop(kind causeKind, detail string) {
	if w.decide(kind, detail) {
		w.proc.kill("") // the cause words the message
	}
}

// fault handles what the client found wrong with the worker's side.
func (w *Worker) fault(kind faultKind, detail string) {
	switch kind {
	case faultProtocol:
		w.stop(causeProtocol, detail)
	case faultHello:
		w.stop(causeStart, detail)
	case faultEOF:
		w.killUnlessClosing("it closed its standard output")
	case faultWrite:
		w.decide(causeNone, "")
		go w.killUnlessClosing("it stopped reading its input (" + detail + ")")
	}
}

// killUnlessClosing makes sure that a worker that stopped speaking on its
// own (closed its output or input) is dead: usually it is exiting, so it
// gets exitWait to do so; then it is killed, unless Close is giving it time
// to exit. why is added to the message when our SIGKILL ended it.
func (w *Worker) killUnlessClosing(why string) {
	w.decide(causeNone, "")
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-w.proc.exited:
		return
	case <-t.C:
	}
	w.mu.Lock()
	closing := w.cause.kind == causeClose || w.state == ended
	w.mu.Unlock()
	if !closing {
		w.proc.kill(why)
	}
}

// supervise waits for the process to be done and its output read, then
// words why it ended and settles whatever is still in flight.
func (w *Worker) supervise() {
	<-w.proc.done
	awaitOrClose(w.client.done, w.proc.stdout, w.proc.drainBy)
	ex := w.proc.exitStatus()
	tail := w.proc.stderrTail()
	w.mu.Lock()
	w.state = ended
	msg, err := w.verdictLocked(ex, tail)
	w.err = err
	w.mu.Unlock()
	w.client.abandon(msg)
	w.proc.release()
	close(w.done)
}

// verdictLocked words how the worker ended: msg for the calls in flight,
// err for Err (nil after a Close it obeyed).
func (w *Worker) verdictLocked(ex exit, tail string) (msg string, err *taskerr.Error) {
	who := w.proc.who
	withTail := func(s string) string {
		if tail != "" {
			return s + "; stderr: " + tail
		}
		return s
	}
	switch w.cause.kind {
	case causeNone:
		msg = who + " " + ex.status
		if ex.killedFor != "" {
			msg += " after " + ex.killedFor
		}
		if !w.client.helloed() {
			msg += " before hello"
		}
		msg = withTail(msg)
	case causeClose:
		msg = who + " stopped while the task was running"
		switch {
		case ex.sent != "":
			return msg, taskerr.New(taskerr.WorkerCrashed, "%s",
				withTail(fmt.Sprintf("%s did not exit after its input closed; it was sent %s and %s", who, ex.sent, ex.status)))
		case !ex.success:
			return msg, taskerr.New(taskerr.WorkerCrashed, "%s", withTail(who+" "+ex.status+" after its input closed"))
		}
		return msg, nil
	case causeProtocol:
		msg = withTail(w.causeMessage() + "; it " + ex.status)
	case causeKill:
		msg = w.causeMessage()
	case causeStart:
		msg = withTail(w.causeMessage())
	}
	return msg, &taskerr.Error{Code: taskerr.WorkerCrashed, Message: msg}
}

// causeMessage words the recorded cause; w.mu is held.
func (w *Worker) causeMessage() string {
	switch w.cause.kind {
	case causeProtocol:
		return w.proc.who + " broke the protocol: " + w.cause.detail
	case causeKill:
		return w.proc.who + " was killed: " + w.cause.detail
	default:
		return w.proc.who + " " + w.cause.detail
	}
}
