package pool

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// threadWorker is one goroutine of a thread pool; it runs workloads itself.
// While idle it is a free slot: pump hands it a task through its inbox.
type threadWorker struct {
	p        *Pool
	id       int             // WorkerID: 1, 2, ... in the order the pool made its workers
	ctx      context.Context // carries the worker (WorkerID, AtWorkerExit); made once
	stop     chan struct{}
	stopOnce sync.Once
	inbox    chan *Task // holds at most one task: a worker is free once at a time
	current  atomic.Pointer[Task]

	mu      sync.Mutex // orders dispatch with leaving
	leaving bool
	atExit  []func() // AtWorkerExit's functions, run when the worker leaves
}

// workerKey is the context key of the thread worker running a task.
type workerKey struct{}

// WorkerID returns the number of the thread-pool worker running the task
// (or the init) whose context is ctx: 1, 2, ... in the order the pool made
// its workers, never reused, so a worker that replaces one retired by Resize
// has a new number. It returns false outside a thread pool's workload.
func WorkerID(ctx context.Context) (int, bool) {
	w, ok := ctx.Value(workerKey{}).(*threadWorker)
	if !ok {
		return 0, false
	}
	return w.id, true
}

// AtWorkerExit registers fn to run once the thread-pool worker running the
// task of ctx leaves the pool (Resize retired it, or the pool closed), after
// its last task returned: state a workload keeps per worker (a JavaScript
// runtime) is released with the worker. It returns false, and fn never runs,
// outside a thread pool's workload. fn must not block.
func AtWorkerExit(ctx context.Context, fn func()) bool {
	w, ok := ctx.Value(workerKey{}).(*threadWorker)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.atExit = append(w.atExit, fn)
	return true
}

// context is the base of the contexts of the worker's tasks and init.
func (w *threadWorker) context() context.Context { return w.ctx }

// exit runs the AtWorkerExit functions; the worker runs no more tasks.
func (w *threadWorker) exit() {
	w.mu.Lock()
	fns := w.atExit
	w.atExit = nil
	w.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// newThreadWorker returns a worker that is free at once, before its
// goroutine runs, so that a pool's first tasks do not count as queued.
// With an init, it is free only once its init has run (see run).
func newThreadWorker(p *Pool) *threadWorker {
	w := &threadWorker{p: p, id: int(p.threadIDs.Add(1)), stop: make(chan struct{}), inbox: make(chan *Task, 1)}
	w.ctx = context.WithValue(context.Background(), workerKey{}, w) // once: a task's context derives from it
	if p.init == nil {
		p.free <- w
	}
	return w
}

func (w *threadWorker) retire() { w.stopOnce.Do(func() { close(w.stop) }) }

func (w *threadWorker) abandon() {
	if t := w.current.Load(); t != nil {
		t.Cancel(w.p.closedWhileRunning(t))
	}
}

func (w *threadWorker) run() {
	p := w.p
	defer w.exit() // a worker whose init never succeeded leaves here
	if p.init != nil && !w.initialize() {
		return
	}
	p.live.Add(1)
	p.announceUp()
	defer p.live.Add(-1)
	defer w.leave()
	for {
		select {
		case <-p.closing:
			return
		case <-w.stop:
			return
		case t := <-w.inbox:
			w.runTask(t) // frees the worker when done
		}
	}
}

// initialize runs the pool's init on this worker until it succeeds, then
// makes the worker free. While it fails, the worker takes no task, and
// queued tasks fail with the init's error if no other worker is up. It
// returns false if the worker should go (retired, or the pool closing).
func (w *threadWorker) initialize() bool {
	p := w.p
	for failures := 1; ; failures++ {
		err := p.initThread(w.context(), w.stop)
		if err == nil {
			p.free <- w
			p.pump()
			return true
		}
		failed := p.initFailed(err)
		p.noteStartFailure(failed)
		p.cfg.Logger.Warn("worker did not start: "+failed.Message, "pool", p.cfg.Name)
		if !p.waitUntilUp(w.stop, failed) || !p.sleepUnless(w.stop, backoff(failures)) {
			return false
		}
	}
}

// leave makes the worker take no more tasks, and runs the one it was handed
// while it was deciding to leave, if any.
func (w *threadWorker) leave() {
	w.mu.Lock()
	w.leaving = true
	w.mu.Unlock()
	select {
	case t := <-w.inbox:
		w.runTask(t)
	default:
	}
	w.p.purgeFree()
	w.exit() // before the worker stops counting as live
}

// park never holds a thread worker back: nothing kills one.
func (w *threadWorker) park(chan slot) bool { return false }

func (w *threadWorker) gone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leaving
}

// dispatch takes t for this worker and hands it over; the workload's
// context (and its timeout) starts now.
func (w *threadWorker) dispatch(t *Task) bool {
	p := w.p
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.leaving {
		p.led.requeue(t)
		return false
	}
	if !t.claim(p.Size()) { // settled while it was being taken out of the queue
		p.led.release()
		return false
	}
	if timeout := t.timeout(); timeout > 0 {
		t.ctx, t.cancel = context.WithTimeout(w.context(), timeout)
	} else {
		t.ctx, t.cancel = context.WithCancel(w.context())
	}
	t.start()
	w.inbox <- t // never blocks: a free worker's inbox is empty
	return true
}

func (w *threadWorker) runTask(t *Task) {
	p := w.p
	w.current.Store(t)
	var value any
	var err *taskerr.Error
	var ran time.Duration
	if p.closed.Load() { // Close came as this worker took the task, which Close counted as running
		err = p.closedWhileRunning(t)
	} else {
		value, err, ran = w.execute(t.ctx, t, t.timeout())
	}
	t.cancel()
	t.release(value, err, ran, func() {
		w.current.Store(nil)
		p.free <- w
		p.pump()
	})
}

// execute runs the workload; with a timeout, the task settles on time even
// if the workload ignores its context (the goroutine stays busy until the
// workload returns).
func (w *threadWorker) execute(
	ctx context.Context, t *Task, timeout time.Duration,
) (any, *taskerr.Error, time.Duration) {
	timedOut := func() *taskerr.Error {
		return taskerr.New(taskerr.Timeout, "%s timed out after %s (thread pool %q)", t.Workload, timeout, w.p.cfg.Name)
	}
	if timeout > 0 {
		stop := context.AfterFunc(ctx, func() {
			if ctx.Err() == context.DeadlineExceeded {
				t.fail(timedOut(), timeout)
			}
		})
		defer stop()
	}
	began := time.Now()
	value, err := t.spec.Run(ctx, t.args)
	ran := time.Since(began)
	switch {
	case err != nil && ctx.Err() == context.DeadlineExceeded:
		return nil, timedOut(), ran
	case err != nil:
		return nil, taskerr.From(err), ran
	}
	return value, nil, ran
}
