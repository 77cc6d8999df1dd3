// Package pool schedules tasks onto workers: goroutines in this process (a
// thread pool) or long-lived worker processes over pipes (a process pool).
// Both kinds share one bounded queue, lazy start, resizing that never drops a
// queued task, timeouts, and an exact account of every task submitted. The
// package knows nothing of JavaScript or of k6's metrics: it takes prepared
// tasks and settles each one exactly once through its OnDone callback.
//
// Words, one for each meaning of "worker":
//   - worker: one unit of a pool's size (Config.Workers, Stats.Workers,
//     Resize): a goroutine in a thread pool, a seat in a process pool.
//   - seat (procSeat): a process pool's worker; it keeps one worker process
//     running and replaces it when it dies, times out or is recycled.
//   - worker process (ipc.Worker): an operating-system process running a
//     worker program; Stats.Live counts those past their handshake, and
//     Stats.Restarts those replaced.
//   - run (workerRun): one worker process's life in its seat, from its start
//     to its end; a seat goes through a run per restart.
//   - slot: room for one task on a worker (see slot).
package pool

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/schema"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// Kind is what a pool's workers are.
type Kind string

// The kinds of pool.
const (
	Thread  Kind = "thread"
	Process Kind = "process"
)

// Limits on a pool's configuration.
const (
	MaxWorkers     = 1024
	MaxQueueLimit  = 1_000_000 // the queue is preallocated: 8 bytes a slot
	MaxConcurrency = 1024
)

// Defaults of a pool's configuration.
const (
	DefaultMaxQueue     = 10_000
	DefaultStartTimeout = 10 * time.Second
	// StopGrace is how long a closing worker process gets after its stdin
	// closes, and again after SIGTERM, before it is killed.
	StopGrace = 2 * time.Second
	// CancelGrace is how long a worker process gets to answer the cancel of
	// a request the pool gave up on (its task timed out, or its caller
	// cancelled it) before the pool kills the worker. A worker that answers
	// in time is healthy and keeps serving, so the other tasks in flight on
	// it are not disturbed; when the kill is unavoidable, their errors name
	// the task that timed out and say that the cancel went unanswered.
	CancelGrace = time.Second
)

// Config describes a pool. The zero values of optional fields mean "default"
// or "none", as documented on each.
type Config struct {
	Name string
	Kind Kind
	// Workers is the pool's size: goroutines, or seats that keep a worker
	// process running each. Default: runtime.NumCPU().
	Workers int
	// MaxQueue bounds the tasks waiting for a worker; one more is rejected
	// with QueueFull. A pointer so that 0 (no waiting at all) can be asked for.
	MaxQueue *int
	// TaskTimeout bounds how long a task may run once a worker took it; 0 is none.
	TaskTimeout time.Duration
	// Registry is where thread pools find workloads, and what process pools
	// check names and params against when their workers serve it too
	// (SameRegistry). Default: workload.Default.
	Registry *workload.Registry

	// StartTimeout bounds a worker process's start and handshake, and a
	// thread pool's init (in WaitLive). Default: DefaultStartTimeout.
	StartTimeout time.Duration
	// Process is what only a process pool reads; a thread pool ignores it.
	Process ProcessConfig

	// Init, if not nil, runs once on every worker before its first task.
	Init *Init

	// Logger receives worker restarts, failed starts and worker processes'
	// stderr, with the attribute "pool" (the pool's name) and others such as
	// "pid". Default: discarded.
	Logger *slog.Logger

	// Tests only: CancelGrace and the frame limit, shortened.
	cancelGrace time.Duration
	maxFrame    int
}

// ProcessConfig is the part of a Config that only a process pool reads:
// the worker program and how each worker process runs.
type ProcessConfig struct {
	// Command is the worker's argv. Required.
	Command []string
	// SameRegistry says the worker serves Registry (it is this same binary),
	// so tasks are validated before they are sent. Otherwise the worker's
	// hello says which workloads it offers and the worker validates params.
	SameRegistry bool
	// Dir is the worker's working directory; "" inherits this process's.
	Dir string
	// Env is added to this process's environment for the worker.
	Env map[string]string
	// MaxTasksPerWorker recycles a worker process after that many tasks; 0 is never.
	MaxTasksPerWorker int
	// Concurrency is how many tasks are in flight on one worker process.
	// Default: 1, which SetDefaults also sets for a thread pool (a
	// goroutine runs one task at a time), so that the pool's capacity is
	// Workers * Concurrency for both kinds.
	Concurrency int
	// Module is a JavaScript module (jsworker.Module.Wire) that every worker
	// process loads from the pool's hello; nil is none.
	Module json.RawMessage
	// Stderr, if not nil, takes each line of a worker process's stderr, with
	// the process's pid, in place of the default, Logger.Info(line) with the
	// pool's name and the pid: the JS face logs a JS worker's console lines
	// at their own level this way.
	Stderr func(pid int, line string)
}

// The params of a pool's options: the one declaration of their limits. New
// checks a Config against them, and the JS face binds a script's options with
// the same values, so that both say the same.
//
//nolint:gochecknoglobals // constant declarations (a struct cannot be const)
var (
	WorkersParam = schema.Param{
		Name: "workers", Type: schema.Int, Min: 1, Max: MaxWorkers,
		Doc: "The pool's size: goroutines, or worker processes. Default: the number of CPUs.",
	}
	MaxQueueParam = schema.Param{
		Name: "maxQueue", Type: schema.Int, Min: 0, Max: MaxQueueLimit,
		Doc: "How many tasks may wait for a worker; one more is rejected with QueueFullError. Default: 10000.",
	}
	TaskTimeoutParam = schema.Param{
		Name: "taskTimeout", Type: schema.Duration,
		Doc: "How long a task may run once a worker took it; 0 is none.",
	}
	StartTimeoutParam = schema.Param{
		Name: "startTimeout", Type: schema.Duration, Positive: true,
		Doc: "How long a worker process gets to start and say hello. Default: 10s.",
	}
	MaxTasksPerWorkerParam = schema.Param{
		Name: "maxTasksPerWorker", Type: schema.Int, Min: 0, Max: math.MaxInt32,
		Doc: "Recycle a worker process after that many tasks; 0 is never.",
	}
	ConcurrencyParam = schema.Param{
		Name: "concurrency", Type: schema.Int, Min: 1, Max: MaxConcurrency,
		Doc: "How many tasks are in flight on one worker process. Default: 1.",
	}
)

// SetDefaults fills in the fields left at their zero value that have a
// default: the one place each default is applied.
func (c *Config) SetDefaults() {
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.MaxQueue == nil {
		q := DefaultMaxQueue
		c.MaxQueue = &q
	}
	if c.StartTimeout == 0 {
		// A thread pool's init is its start: WaitLive bounds it too.
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Process.Concurrency == 0 || c.Kind == Thread {
		c.Process.Concurrency = 1 // a goroutine runs one task at a time
	}
	if c.Registry == nil {
		c.Registry = workload.Default
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.cancelGrace == 0 {
		c.cancelGrace = CancelGrace
	}
}

// Validate checks a Config whose defaults are set (SetDefaults): the limits
// of WorkersParam and the others, and that a process pool has a command.
func (c *Config) Validate() error {
	if c.Kind != Thread && c.Kind != Process {
		return fmt.Errorf("kind must be %q or %q, got %q", Thread, Process, c.Kind)
	}
	checks := []struct {
		p schema.Param
		v any
	}{
		{WorkersParam, c.Workers},
		{MaxQueueParam, *c.MaxQueue},
		{TaskTimeoutParam, c.TaskTimeout},
		{StartTimeoutParam, c.StartTimeout},
		{MaxTasksPerWorkerParam, c.Process.MaxTasksPerWorker},
		{ConcurrencyParam, c.Process.Concurrency},
	}
	for _, ck := range checks {
		if err := check(ck.p.Name, ck.p, ck.v); err != nil {
			return err
		}
	}
	if c.Kind == Process && (len(c.Process.Command) == 0 || c.Process.Command[0] == "") {
		return fmt.Errorf("command must name the worker program")
	}
	return nil
}

// check checks v, a Config field, against p; field names it in the error.
func check(field string, p schema.Param, v any) error {
	if _, err := p.Value(v); err != nil {
		return fmt.Errorf("%s %w, got %v", field, err, v)
	}
	return nil
}

// Stats is a consistent snapshot of a pool's counters: at every moment
// Submitted == Completed + Failed + Queued + Busy. A settled task counts in
// neither Queued nor Busy, even while a worker that ignores cancellation
// still runs it.
type Stats struct {
	Submitted  int64 `json:"submitted"`
	Completed  int64 `json:"completed"`  // settled with a value
	Failed     int64 `json:"failed"`     // settled with an error, of any class
	Queued     int   `json:"queued"`     // not settled, waiting for a worker now
	PeakQueued int   `json:"peakQueued"` // the most that ever waited at once beyond what the workers hold
	Busy       int64 `json:"busy"`       // not settled, running on a worker now
	// Abandoned counts settled tasks whose work still holds a worker: a
	// thread workload that ignores its cancelled context, or a request a
	// worker process has not answered since its cancel (for CancelGrace
	// at most, then the worker is killed). They take room from the queue.
	Abandoned int64 `json:"abandoned"`
	Workers   int   `json:"workers"`  // the pool's size
	Live      int64 `json:"live"`     // workers up now: goroutines, or seats whose worker process is past its handshake
	Restarts  int64 `json:"restarts"` // worker processes replaced after a crash, timeout or recycle
}

// Pool runs tasks on a bounded set of workers. It is safe for concurrent use.
type Pool struct {
	cfg  Config
	led  *ledger   // the queue and the counts
	free chan slot // free capacity: idle thread workers, or process slots with no request in flight
	// spare holds each worker process's prefetch slot while it is free:
	// pump takes it only when no slot in free is left, so a task never
	// waits in a busy worker's input while another worker is idle.
	spare chan slot
	// inHand counts the slots out of free that may go back to it: taken by
	// pump, or on their way back from a result. Each holder looks at the
	// queue again once it lets go, so pump takes a spare slot only when
	// inHand is 0: a real slot in hand would run the task at once.
	inHand atomic.Int64
	// serving counts the worker processes whose slots are in the free
	// lists and that take tasks (up, and not ending): until it is the
	// pool's size, a worker coming up will have a real slot for the task
	// sooner than a busy worker's prefetch slot would start it.
	serving atomic.Int64

	closing   chan struct{} // closed by Close: every worker leaves
	stopped   chan struct{} // closed once every worker has left
	closed    atomic.Bool
	draining  atomic.Bool // Drain was called: no new task
	startOnce sync.Once
	started   atomic.Bool

	mu        sync.Mutex // guards workers and size
	workers   []worker
	size      atomic.Int64
	threadIDs atomic.Int64 // numbers the thread workers (WorkerID)

	live, restarts atomic.Int64
	upMu           sync.Mutex
	up             chan struct{} // process pools: closed when a worker comes up (upNotice)
	// startFailure is the last failure of a worker to start (or to init).
	startFailure atomic.Pointer[startFailure]
	lastUp       atomic.Int64 // when a worker last came up, in Unix nanoseconds
	init         *boundInit   // Config.Init, checked; nil is none

	wg sync.WaitGroup // every worker goroutine
}

// worker is one unit of a pool's size: a goroutine (threadWorker), or a seat
// (procSeat).
type worker interface {
	run()     // the worker's loop; returns once retired or the pool closes
	retire()  // finish the task in hand, take no more, go away
	abandon() // the pool is closing: stop the task in hand now
}

// slot is room for one task on a worker: an idle thread worker, or a process
// worker's request slot. Free slots wait in Pool.free; pump pairs them with
// queued tasks.
type slot interface {
	// dispatch hands t, taken out of the queue with its place, to the
	// slot's worker; false means the slot is still free: t went back to
	// the queue (the worker is leaving), or settled without running, its
	// place given back.
	dispatch(t *Task) bool
	// gone reports whether the slot's worker is leaving: it takes no task.
	gone() bool
	// park sets the slot aside, to go back to from later, while its worker
	// should take no new task for now; false means it may take one.
	park(from chan slot) bool
}

// New checks cfg and returns a pool with no worker running yet: workers start
// with the first task (or Start).
func New(cfg Config) (*Pool, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, taskerr.New(taskerr.InvalidArgument, "%s pool %q: %s", cfg.Kind, cfg.Name, err)
	}
	init, err := bindInit(&cfg)
	if err != nil {
		return nil, taskerr.New(taskerr.InvalidArgument, "%s pool %q: %s", cfg.Kind, cfg.Name, err)
	}
	p := &Pool{
		init: init,
		cfg:  cfg,
		led:  newLedger(),
		// Room for the slots of the largest pool twice over: slots of
		// workers that ended wait here until purged.
		free:    make(chan slot, 2*MaxWorkers*cfg.Process.Concurrency),
		spare:   make(chan slot, 2*MaxWorkers*PrefetchDepth),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	p.size.Store(int64(cfg.Workers))
	return p, nil
}

// Config returns the pool's configuration, defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Size is the number of workers the pool runs (or will run once started).
func (p *Pool) Size() int { return int(p.size.Load()) }

// Start starts the workers unless they are running already (or the pool is
// closed), and reports whether this call started them.
func (p *Pool) Start() bool {
	did := false
	p.startOnce.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed.Load() {
			return
		}
		for range p.Size() {
			p.addWorker()
		}
		p.started.Store(true)
		did = true
	})
	return did
}

// addWorker starts one worker; p.mu is held.
func (p *Pool) addWorker() {
	var w worker
	if p.cfg.Kind == Thread {
		w = newThreadWorker(p)
	} else {
		w = newProcSeat(p)
	}
	p.workers = append(p.workers, w)
	p.wg.Go(w.run)
}

// Started reports whether the workers have been started.
func (p *Pool) Started() bool { return p.started.Load() }

// Resize changes the number of workers. Growing starts workers at once (if
// the pool has started); shrinking retires the newest workers after the task
// they have in hand. Queued tasks stay queued either way.
func (p *Pool) Resize(n int) error {
	if err := check("resize(workers)", WorkersParam, n); err != nil {
		return taskerr.New(taskerr.InvalidArgument, "%s pool %q: %s", p.cfg.Kind, p.cfg.Name, err)
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return p.closedError()
	}
	p.size.Store(int64(n))
	if p.started.Load() {
		for len(p.workers) < n {
			p.addWorker()
		}
		for len(p.workers) > n {
			last := len(p.workers) - 1
			p.workers[last].retire()
			p.workers = p.workers[:last]
		}
	}
	p.mu.Unlock()
	p.pump() // new thread workers are free at once
	return nil
}

// prepare validates a call of a workload (see Submit) and returns its task,
// number i of its call, with o applied, ready for submit.
func (p *Pool) prepare(name string, params map[string]any, o *submitOptions, i int) (*Task, error) {
	t := &Task{Workload: name, pool: p, Timeout: o.timeout, OnDone: o.onDone}
	if each := o.onEachDone; each != nil {
		t.OnDone = func(t *Task) { each(i, t) }
	}
	if p.cfg.Kind == Thread || p.cfg.Process.SameRegistry {
		spec, err := p.cfg.Registry.Lookup(name)
		if err != nil {
			return nil, err
		}
		if t.args, err = spec.Bind(params); err != nil {
			return nil, err
		}
		t.spec = spec
	}
	if p.cfg.Kind == Process && len(params) > 0 {
		if len(o.paramsJSON) > 0 {
			t.params = o.paramsJSON
			return t, nil
		}
		b, err := json.Marshal(params)
		if err != nil {
			return nil, taskerr.New(taskerr.InvalidArgument, "%s: params cannot be sent to a worker process: %s", name, err)
		}
		t.params = b
	}
	return t, nil
}

// submit queues a prepared task: see Submit.
func (p *Pool) submit(t *Task) {
	if p.enqueue(t) {
		p.dispatchQueued()
	}
}

// enqueue admits t into the queue, or settles it at once with QueueFull or
// PoolClosed and returns false.
func (p *Pool) enqueue(t *Task) bool {
	t.Submitted = time.Now()
	// The size at submission; a worker that takes the task sets it again.
	// A task that never reaches one (full, closed, aborted) keeps it, so
	// that every sample carries the workers tag.
	t.Workers = p.Size()
	if p.closed.Load() || p.draining.Load() {
		p.led.enter()
		t.fail(p.closedError(), 0)
		return false
	}
	p.Start()
	// Admission counts places, not queued tasks, so that the limit does not
	// depend on whether an idle worker has taken its task yet.
	capacity := int64(p.Size() * p.cfg.Process.Concurrency)
	if !p.led.admit(t, int64(*p.cfg.MaxQueue)+capacity) {
		t.fail(taskerr.New(taskerr.QueueFull,
			"%s pool %q: queue is full (maxQueue %d, beyond the %d tasks its %d workers hold): %s was not run",
			p.cfg.Kind, p.cfg.Name, *p.cfg.MaxQueue, capacity, p.Size(), t.Workload), 0)
		return false
	}
	return true
}

// dispatchQueued offers what was queued to the free workers.
func (p *Pool) dispatchQueued() {
	p.pump()
	p.led.notePeak(int64(p.Size() * p.cfg.Process.Concurrency))
	// Close may have drained the queue between the check above and the admission.
	if p.closed.Load() {
		p.rejectQueued()
	}
}

func (p *Pool) closedError() *taskerr.Error {
	if p.draining.Load() && !p.closed.Load() {
		return taskerr.New(taskerr.PoolClosed,
			"%s pool %q is draining (close({ drain: true })) and takes no new task", p.cfg.Kind, p.cfg.Name)
	}
	return taskerr.New(taskerr.PoolClosed, "%s pool %q is closed", p.cfg.Kind, p.cfg.Name)
}

// closedWhileRunning is the error of a task a worker had taken when the pool
// closed, which Close counts as running.
func (p *Pool) closedWhileRunning(t *Task) *taskerr.Error {
	return taskerr.New(taskerr.PoolClosed, "%s pool %q closed while %s was running", p.cfg.Kind, p.cfg.Name, t.Workload)
}

// rejectQueued settles every queued task with PoolClosed.
func (p *Pool) rejectQueued() {
	for {
		t := p.led.pop()
		if t == nil {
			return
		}
		t.release(nil, taskerr.New(taskerr.PoolClosed,
			"%s pool %q closed before %s reached a worker", p.cfg.Kind, p.cfg.Name, t.Workload), 0, nil)
	}
}

// Stats returns the pool's counters now.
func (p *Pool) Stats() Stats {
	c := p.led.snapshot()
	return Stats{
		Submitted:  c.submitted,
		Completed:  c.completed,
		Failed:     c.failed,
		Queued:     int(c.waiting),
		Busy:       c.busy,
		Abandoned:  c.held - c.waiting - c.busy,
		Workers:    p.Size(),
		PeakQueued: int(c.peak),
		Live:       p.live.Load(),
		Restarts:   p.restarts.Load(),
	}
}

// Closed reports whether Close was called.
func (p *Pool) Closed() bool { return p.closed.Load() }

// Close stops the pool: queued tasks and tasks still running settle with
// PoolClosed, worker processes get their stdin closed, then SIGTERM, then
// SIGKILL, and are reaped. It waits for that (and for thread workers to
// return, up to stuckAfter), and is idempotent.
func (p *Pool) Close() {
	p.mu.Lock()
	first := !p.closed.Swap(true)
	workers := p.workers
	p.workers = nil
	p.mu.Unlock()
	if first {
		close(p.closing)
		// Waiting counts the requests waiting in workers' inputs too
		// (prefetch, chunks): they are rejected with the queue's.
		c := p.led.snapshot()
		running, queued := c.busy, c.waiting
		p.rejectQueued()
		if queued > 0 || running > 0 {
			p.cfg.Logger.Warn(fmt.Sprintf(
				"%s pool %q closed with work pending: %d queued tasks rejected and %d running tasks stopped (PoolClosedError)",
				p.cfg.Kind, p.cfg.Name, queued, running), "pool", p.cfg.Name, "queued", queued, "running", running)
		}
		for _, w := range workers {
			w.abandon()
		}
		go func() {
			p.wg.Wait()
			close(p.stopped)
		}()
	}
	select {
	case <-p.stopped:
	case <-time.After(stuckAfter):
		held := p.led.snapshot().held
		p.cfg.Logger.Warn(fmt.Sprintf("%s pool %q: %d workloads ignore their cancelled context and are still running",
			p.cfg.Kind, p.cfg.Name, held), "pool", p.cfg.Name, "held", held)
	}
}

// stuckAfter bounds how long Close waits for thread workers whose workload
// does not honour its context; worker processes are always reaped.
const stuckAfter = 5 * time.Second

// pump pairs free slots with queued tasks until one of them runs out. Every
// goroutine that adds to either (a submitter, a completion) calls it after
// adding, and pump looks at the queue again after giving a slot back, so a
// task never waits while a slot is free.
func (p *Pool) pump() {
	for p.led.len() > 0 && !p.closed.Load() {
		sl, from := p.freeSlot()
		if sl == nil {
			return
		}
		// A slot of a worker on its way out is dropped, one of a worker
		// that may be about to go is parked, and one whose task did not go
		// goes back.
		if !sl.gone() && !sl.park(from) {
			if t := p.led.pop(); (t == nil || !sl.dispatch(t)) && !sl.gone() {
				from <- sl
			}
		}
		if from == p.free && p.cfg.Kind == Process {
			p.inHand.Add(-1) // then the loop looks at the queue again
		}
	}
}

// freeSlot takes a free slot, a spare one only when no other is free or in
// hand (inHand) and every worker is serving (a worker still starting takes
// the task sooner than a busy one), and says which channel it came from; nil
// when none is free. A slot from free counts in inHand until pump lets go.
func (p *Pool) freeSlot() (slot, chan slot) {
	if p.cfg.Kind != Process { // no spare slots: nothing to weigh
		select {
		case sl := <-p.free:
			return sl, p.free
		default:
			return nil, nil
		}
	}
	p.inHand.Add(1) // before the receive: nobody sees free empty and inHand 0 while the slot is in hand
	select {
	case sl := <-p.free:
		return sl, p.free
	default:
	}
	if p.inHand.Add(-1) > 0 || p.serving.Load() < int64(p.Size()) {
		// A slot in hand goes back to free, or to a task, and its
		// holder looks at the queue again; a worker that comes up pumps.
		return nil, nil
	}
	select {
	case sl := <-p.spare:
		return sl, p.spare
	default:
		return nil, nil
	}
}

// purgeFree drops the free slots of workers that left, so that restarts
// (one per task, with maxTasksPerWorker: 1) never fill p.free.
func (p *Pool) purgeFree() {
	for _, free := range []chan slot{p.free, p.spare} {
		n := len(free)
	purge:
		for range n {
			select {
			case sl := <-free:
				if !sl.gone() {
					free <- sl
				}
			default:
				break purge
			}
		}
	}
}
