package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// ServeProcess is what a worker process runs: it serves reg over stdin and
// stdout until stdin ends, and returns the process's exit code (0 after a
// clean end, 1 on an error, which it writes to stderr). It requires WorkerEnv,
// but not that the pool be its parent: a worker may be started through a
// wrapper that forks (timeout, sh -c, npx). A pool that dies is noticed by
// stdin ending, at once or whenever it dies. It keeps the protocol stream
// safe from stray prints: on unix fd 1 becomes a copy of stderr and the
// protocol uses a private copy of the original stdout.
func ServeProcess(reg *workload.Registry) int {
	v := os.Getenv(WorkerEnv)
	if v == "" {
		fmt.Fprintf(os.Stderr, "xk6-concurrency worker: %s is not set: a worker is started by a process pool, not by hand\n",
			WorkerEnv)
		return 1
	}
	out, err := protocolOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "xk6-concurrency worker: %v\n", err)
		return 1
	}
	defer func() { _ = out.Close() }()
	if err := Serve(protocolInput(), out, reg); err != nil {
		fmt.Fprintf(os.Stderr, "xk6-concurrency worker pid %d: %v\n", os.Getpid(), err)
		return 1
	}
	return 0
}

// Serve runs the worker's side of the protocol: it sends its hello, then
// runs the requests from in, each in its own goroutine, at most the pool
// hello's concurrency at once (the pool may send more: they wait, in the
// order they came), and writes their results to out. When in ends cleanly
// it cancels the tasks in flight, answers the waiting ones without running
// them, waits for the others, writes their results and returns nil. A frame
// from in that breaks the protocol ends it the same way, with an error.
func Serve(in io.Reader, out io.Writer, reg *workload.Registry) error {
	s := &server{reg: reg, tasks: make(map[uint64]*task)}
	s.out.bw = bufio.NewWriterSize(out, ioBufSize)
	s.maxFrame.Store(DefaultMaxFrame)
	if err := s.sendHello(); err != nil {
		return fmt.Errorf("writing hello: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.ctx = ctx
	s.in = bufio.NewReaderSize(in, ioBufSize)
	s.ended = make(chan error, 1)
	s.turn = make(chan *task)
	s.goroutines.Add(1)
	go s.loop(nil)
	loopErr := <-s.ended
	cancel()
	s.unrunWaiting()
	s.wg.Wait()
	s.goroutines.Wait() // the parked ones leave once ctx is done
	if err := s.out.flush(); err != nil {
		s.writeFailed(err)
	}
	if loopErr != nil {
		return loopErr
	}
	if err := s.writeErr.Load(); err != nil {
		return fmt.Errorf("writing results: %w", *err)
	}
	return nil
}

type server struct {
	ctx context.Context // cancelled when the input ends

	// The input is read by one goroutine at a time: when a frame starts a
	// task, the goroutine that read it starts the next reader and runs the
	// task itself, so a task starts without waiting to be scheduled.
	// Once its tasks are done it parks (idle) until it is handed the
	// reading, or a task of a batch, through turn.
	in    *bufio.Reader
	buf   []byte
	ended chan error // the last reader's reason to stop: nil at EOF
	turn  chan *task // hands the reading (nil) or a task to a parked goroutine
	// goroutines counts those of loop, parked ones too; parked counts
	// those waiting in idle.
	goroutines sync.WaitGroup
	parked     atomic.Int32

	reg      *workload.Registry
	out      frameWriter
	maxFrame atomic.Int64
	wg       sync.WaitGroup
	writeErr atomic.Pointer[error]
	// batchOut says the pool's hello lists FeatureBatch: the results of a
	// batch's items may reach it together.
	batchOut atomic.Bool

	mu    sync.Mutex
	tasks map[uint64]*task
	// limit is the hello's concurrency (0: none said, no limit); active
	// counts the goroutines running tasks; waiting holds valid runs past
	// the limit, oldest first.
	limit   int
	active  int
	waiting []*task
}

// admit says whether t may start now; if not, it waits its turn.
func (s *server) admit(t *task) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && s.active >= s.limit {
		s.waiting = append(s.waiting, t)
		return false
	}
	s.active++
	t.begin(s.ctx)
	return true
}

// begin gives a task that starts its context; s.mu is held. A waiting task
// has none: thousands of them waiting (a batch) would each be a child of
// s.ctx, an entry to add and remove.
func (t *task) begin(parent context.Context) {
	t.ctx, t.cancel = context.WithCancel(parent)
}

// next is the waiting task that the goroutine of a task that ended runs
// next, or nil: then that goroutine is done.
func (s *server) next() *task {
	if s.ctx.Err() != nil { // the input ended: what waits never starts
		s.unrunWaiting()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) > 0 {
		t := s.waiting[0]
		// Off the front without moving the rest: a batch's waiting runs
		// can be thousands, and this runs for each of them.
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		t.begin(s.ctx)
		return t
	}
	s.active--
	return nil
}

// work runs t, then the waiting tasks, one after another.
func (s *server) work(t *task) {
	h := resultHold{s: s}
	defer h.release()
	for t != nil {
		t = s.exec(t, &h)
	}
}

// unrunWaiting answers every waiting task without running it: the input
// ended.
func (s *server) unrunWaiting() {
	s.mu.Lock()
	w := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	for _, t := range w {
		s.unrun(t, "cancelled because the worker is stopping: its input closed before it started")
	}
}

// unwait takes the task with id out of the waiting ones, if it is there.
func (s *server) unwait(id uint64) *task {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range s.waiting {
		if t.id == id {
			s.waiting = slices.Delete(s.waiting, i, i+1)
			return t
		}
	}
	return nil
}

// unrun answers a task that waited and will not run, saying why.
func (s *server) unrun(t *task, why string) {
	s.mu.Lock()
	delete(s.tasks, t.id)
	s.mu.Unlock()
	s.writeResult(t.id, t.spec.Name, nil, taskerr.New(taskerr.Workload, "%s: %s", t.spec.Name, why), 0)
	s.wg.Done()
}

type helloOut struct {
	Type      string          `json:"type"`
	Protocol  int             `json:"protocol"`
	PID       int             `json:"pid"`
	Workloads []workload.Info `json:"workloads"`
	Features  []string        `json:"features,omitempty"`
}

func (s *server) sendHello() error {
	specs := s.reg.List()
	h := helloOut{
		Type: TypeHello, Protocol: ProtocolVersion, PID: os.Getpid(),
		Workloads: make([]workload.Info, len(specs)), Features: features(),
	}
	for i, spec := range specs {
		h.Workloads[i] = spec.Info()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if len(b) > DefaultMaxFrame {
		return fmt.Errorf("the hello of %d bytes is over the %d-byte frame limit", len(b), DefaultMaxFrame)
	}
	return s.out.write(endFrame(append(beginFrame(nil), b...)))
}

func (s *server) writeFailed(err error) { s.writeErr.CompareAndSwap(nil, &err) }

// loop is the life of one of the server's goroutines: given nil, it
// reads frames until one starts a task, hands the reading over (pass) and
// runs the task; given a task, it runs it. Then, parked, it waits to be
// handed the reading or a task again (idle). It returns once the input ends.
func (s *server) loop(t *task) {
	defer s.goroutines.Done()
	for {
		if t == nil {
			if t = s.readTask(); t == nil {
				return
			}
			s.pass(nil)
		}
		s.work(t)
		var ok bool
		if t, ok = s.idle(); !ok {
			return
		}
	}
}

// readTask reads frames until one starts a task, and returns it; nil once
// the input ended or broke the protocol, which it reports on s.ended.
func (s *server) readTask() *task {
	for {
		frame, err := ReadFrame(s.in, s.buf, int(s.maxFrame.Load()))
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			} else {
				err = fmt.Errorf("reading requests: %w", err)
			}
			s.ended <- err
			return nil
		}
		s.buf = frame
		if cap(frame) > 1<<20 {
			s.buf = nil
		}
		t, err := s.handle(frame)
		if err != nil {
			s.ended <- err
			return nil
		}
		if t != nil {
			return t
		}
	}
}

// maxParked bounds the goroutines parked in idle: after a burst of tasks
// with no concurrency limit, the others leave.
const maxParked = 64

// pass hands the reading (nil) or a task to another goroutine: a parked one
// if there is one, else a new one. A parked goroutine keeps the stack that
// decoding frames grew; a new one grows its own again on its first frame,
// which a profile of BenchmarkWorkerRoundTripNoopPipelined16 put at about a
// fifth of the worker's CPU (runtime.newstack), with another tenth for
// starting the goroutine.
func (s *server) pass(t *task) {
	select {
	case s.turn <- t: // a parked goroutine was waiting for it
	default:
		s.goroutines.Add(1)
		go s.loop(t)
	}
}

// idle parks a goroutine whose tasks are done until pass hands it the
// reading (nil) or a task; false once the input ended. Beyond maxParked it
// does not wait.
func (s *server) idle() (*task, bool) {
	defer s.parked.Add(-1)
	if s.parked.Add(1) > maxParked {
		return nil, false
	}
	select {
	case t := <-s.turn:
		return t, true
	case <-s.ctx.Done():
		return nil, false
	}
}

// handle handles one frame from the pool: it returns the task that a run
// message (or a batch) starts now, if any, for the reading goroutine to run;
// an error is a protocol error.
func (s *server) handle(frame []byte) (*task, error) {
	var m wireMsg
	deepParams := false
	if err := m.parse(frame); err != nil {
		// encoding/json refuses JSON nested over 10000 levels: a run whose
		// params nest that deep is answered, not taken for a broken frame.
		shallow, ok := withoutParams(frame)
		if !ok || m.parse(shallow) != nil || !m.is(TypeRun) {
			return nil, fmt.Errorf("the pool sent %w", err)
		}
		deepParams = true
	}
	switch {
	case m.is(TypeRun):
		t, err := s.run(&m, deepParams)
		if t != nil && !s.admit(t) {
			t = nil // it waits its turn
		}
		return t, err
	case m.is(TypeBatch):
		return s.batch(&m)
	case m.is(TypeCancel):
		s.cancel(&m)
	case m.is(TypeHello):
		if err := s.hello(&m); err != nil {
			return nil, err
		}
	}
	return nil, nil //nolint:nilnil // other types are ignored, for later versions
}

// cancel handles a cancel message: a task that waits its turn is answered
// without running; a running one has its context cancelled, and its result
// says the pool cancelled it (finish). An id that names neither (a task
// that ended meanwhile) is ignored: the pool's cancel crossed its result.
func (s *server) cancel(m *wireMsg) {
	id, ok := parseUint(m.id)
	if !ok {
		return
	}
	if t := s.unwait(id); t != nil { // answered without running
		s.unrun(t, "cancelled by the pool before it started")
		return
	}
	s.mu.Lock()
	var cancel context.CancelFunc
	if t := s.tasks[id]; t != nil { // it runs: it has its context (begin)
		t.cancelled.Store(true)
		cancel = t.cancel
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// hello takes in the pool's hello: its frame limit, its concurrency (how
// many tasks run at once), whether it takes a batch's results together, and
// the module it carries, if any. A module this worker cannot load ends Serve
// with that error: the worker cannot serve the pool.
func (s *server) hello(m *wireMsg) error {
	if n, ok := parseUint(m.maxFrame); ok && n >= minFrame {
		s.maxFrame.Store(int64(min(n, math.MaxUint32)))
	}
	if n, ok := parseUint(m.concurrency); ok && n >= 1 {
		s.mu.Lock()
		s.limit = int(min(n, math.MaxInt32))
		s.mu.Unlock()
	}
	s.batchOut.Store(listsFeature(m.features, FeatureBatch))
	return s.loadModule(m.module)
}

// task is a validated run, ready to run.
type task struct {
	ctx     context.Context    // set when it starts (begin), under s.mu
	cancel  context.CancelFunc // as ctx
	id      uint64
	spec    *workload.Spec
	args    workload.Args
	timeout time.Duration
	// cancelled says a cancel frame cancelled the task.
	cancelled atomic.Bool
	// batch is the batch frame the task came in (nil: a frame of its
	// own): its result may be held while the goroutine runs the next item
	// of the same batch (resultHold).
	batch *[]byte
}

// run validates a run message. Failures before the workload runs are
// answered at once; a valid run is registered and returned.
func (s *server) run(m *wireMsg, deepParams bool) (*task, error) {
	start := time.Now()
	id, ok := parseUint(m.id)
	if !ok || id == 0 {
		return nil, fmt.Errorf("the pool sent a run without a valid id: %s", snippet(m.id))
	}
	name, ok := unquote(m.workload)
	if !ok {
		return nil, fmt.Errorf("the pool sent run %d without a workload name", id)
	}
	timeout, err := runTimeout(m, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, dup := s.tasks[id]
	s.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("the pool sent run %d while a run with that id is in flight", id)
	}
	fail := func(err error) (*task, error) {
		s.writeResult(id, name, nil, taskerr.From(err), time.Since(start))
		return nil, nil //nolint:nilnil // the run failed as a task, with its result sent; no task to track
	}
	spec, err := s.reg.Lookup(name)
	if err != nil {
		return fail(err)
	}
	raw, err := runParams(m, name, deepParams)
	if err != nil {
		return fail(err)
	}
	args, err := spec.Bind(raw)
	if err != nil {
		return fail(err)
	}
	t := &task{id: id, spec: spec, args: args, timeout: timeout}
	s.mu.Lock()
	s.tasks[id] = t
	s.mu.Unlock()
	s.wg.Add(1)
	return t, nil
}

// runTimeout reads a run's timeout_ms (0: none). One that is not a number
// is a protocol error; one too large for a time.Duration is capped, which is
// no limit in practice.
func runTimeout(m *wireMsg, id uint64) (time.Duration, error) {
	if m.timeoutMS == nil {
		return 0, nil
	}
	ms, ok := parseNumber(m.timeoutMS)
	if !ok {
		return 0, fmt.Errorf("the pool sent run %d with a timeout_ms that is not a number: %s", id, snippet(m.timeoutMS))
	}
	if ms > 0 {
		return time.Duration(min(ms*float64(time.Millisecond), math.MaxInt64/2)), nil
	}
	return 0, nil
}

// runParams decodes the params of a run of the workload name for binding:
// null is no params; anything but an object, or an object nested deeper than
// MaxDepth (deep: too deep for encoding/json to parse at all), is an
// InvalidArgument error, which fails the run as a task, not the protocol.
func runParams(m *wireMsg, name string, deep bool) (map[string]any, error) {
	switch {
	case deep:
		return nil, taskerr.New(taskerr.InvalidArgument, "%s: params nest deeper than %d levels", name, MaxDepth)
	case isNull(m.params):
		return map[string]any{}, nil
	case m.params[0] != '{':
		return nil, taskerr.New(taskerr.InvalidArgument, "%s: params must be a JSON object, got %s", name, snippet(m.params))
	case jsonDepth(m.params) > MaxDepth:
		return nil, taskerr.New(taskerr.InvalidArgument, "%s: params nest deeper than %d levels", name, MaxDepth)
	}
	var raw map[string]any
	if err := json.Unmarshal(m.params, &raw); err != nil {
		return nil, taskerr.New(taskerr.InvalidArgument, "%s: params: %v", name, err)
	}
	return raw, nil
}

// exec runs a task and writes its result. It answers even a workload
// that ends its goroutine without returning (runtime.Goexit, which recover
// cannot stop) or whose panic escaped Spec.Run.
//
// It returns the waiting task that this goroutine runs next, taken before
// the result is written: a pool that has the result may count on the room.
func (s *server) exec(t *task, h *resultHold) (next *task) {
	start := time.Now()
	returned := false
	defer func() {
		goexit := false
		if !returned {
			why := "ended its goroutine without returning (runtime.Goexit)"
			if p := recover(); p != nil {
				why = fmt.Sprintf("panicked with a %T that could not be reported", p)
			} else {
				goexit = true
			}
			next = s.next()
			s.finish(t, false, nil, taskerr.New(taskerr.Workload, "%s: %s", t.spec.Name, why), time.Since(start))
		}
		s.wg.Done()
		if goexit { // this goroutine ends here: another one takes over the waiting tasks
			go s.work(next)
		}
	}()
	ctx := t.ctx
	if t.timeout > 0 { // the timeout counts from the start of the run, as run_ns does
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(t.ctx, start.Add(t.timeout))
		defer stop()
	}
	value, err := t.spec.Run(ctx, t.args)
	returned = true
	runTime := time.Since(start)
	next = s.next()
	keep := next != nil && t.batch != nil && next.batch == t.batch && s.batchOut.Load()
	if keep {
		h.hold() // until this goroutine runs something else than a batch's next item, or the hold's timer
	}
	s.finish(t, errors.Is(ctx.Err(), context.DeadlineExceeded), value, err, runTime)
	if !keep {
		h.release()
	}
	return next
}

// finish ends a task that ran: it writes its value, or its error worded by
// why it stopped.
func (s *server) finish(t *task, timedOut bool, value any, err error, runTime time.Duration) {
	t.cancel()
	s.mu.Lock()
	delete(s.tasks, t.id)
	s.mu.Unlock()
	if err != nil {
		e := taskerr.From(err)
		switch {
		case timedOut:
			e = taskerr.New(taskerr.Timeout, "%s: timed out after %s", t.spec.Name, t.timeout)
		case t.cancelled.Load():
			e = taskerr.New(taskerr.Workload, "%s: cancelled by the pool (%s)", t.spec.Name, e.Message)
		case s.ctx.Err() != nil:
			e = taskerr.New(taskerr.Workload, "%s: cancelled because the worker is stopping: its input closed (%s)",
				t.spec.Name, e.Message)
		}
		s.writeResult(t.id, t.spec.Name, nil, e, runTime)
		return
	}
	s.writeResult(t.id, t.spec.Name, value, nil, runTime)
}

//nolint:gochecknoglobals // buffers shared by every server of the process
var resultBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeResult encodes and writes a result: value is the task's value (any
// JSON-encodable Go value) or e its failure.
func (s *server) writeResult(id uint64, name string, value any, e *taskerr.Error, runTime time.Duration) {
	var js []byte
	if e == nil && value != nil {
		var why string
		if js, why = encodeValue(value); why != "" {
			e = taskerr.New(taskerr.Workload, "%s: cannot send its value as JSON: %s", name, why)
		}
	}
	bp := resultBufs.Get().(*[]byte) //nolint:forcetypeassert // resultBufs holds only *[]byte
	b := appendResult(*bp, id, js, e, int64(runTime))
	if limit := s.maxFrame.Load(); int64(len(b)-headerSize) > limit {
		e = taskerr.New(taskerr.Workload, "%s: its result of %d bytes is over the %d-byte frame limit",
			name, len(b)-headerSize, limit)
		b = appendResult(b, id, nil, e, int64(runTime))
	}
	if err := s.out.write(b); err != nil {
		s.writeFailed(err)
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		resultBufs.Put(bp)
	}
}
