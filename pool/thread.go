package pool

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// threadWorker is one goroutine of a thread pool; it runs workloads itself.
type threadWorker struct {
	p        *Pool
	stop     chan struct{}
	stopOnce sync.Once
	current  atomic.Pointer[Task]
}

func newThreadWorker(p *Pool) *threadWorker {
	return &threadWorker{p: p, stop: make(chan struct{})}
}

func (w *threadWorker) retire() { w.stopOnce.Do(func() { close(w.stop) }) }

func (w *threadWorker) abandon() {
	if t := w.current.Load(); t != nil {
		t.Cancel(taskerr.New(taskerr.PoolClosed, "thread pool %q closed while %s was running", w.p.cfg.Name, t.Workload))
	}
}

func (w *threadWorker) run() {
	p := w.p
	p.live.Add(1)
	defer p.live.Add(-1)
	for {
		select {
		case <-p.closing:
			return
		case <-w.stop:
			return
		case t := <-p.queue:
			w.runTask(t)
		}
	}
}

func (w *threadWorker) runTask(t *Task) {
	p := w.p
	if !t.claim(p.Size()) {
		p.outstanding.Add(-1)
		return
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = p.cfg.TaskTimeout
	}
	var ctx context.Context
	if timeout > 0 {
		ctx, t.cancel = context.WithTimeout(context.Background(), timeout)
	} else {
		ctx, t.cancel = context.WithCancel(context.Background())
	}
	t.start()
	if p.closed.Load() { // Close raced with this worker taking the task
		p.outstanding.Add(-1)
		t.Cancel(taskerr.New(taskerr.PoolClosed, "thread pool %q closed before %s reached a worker", p.cfg.Name, t.Workload))
		return
	}
	w.current.Store(t)
	p.busy.Add(1)
	value, err, ran := w.execute(ctx, t, timeout)
	// Free the worker before settling, so that whoever the result wakes
	// finds it free (a script that submits again from its callback).
	w.current.Store(nil)
	p.busy.Add(-1)
	p.outstanding.Add(-1)
	t.cancel()
	t.settle(value, err, ran)
}

// execute runs the workload; with a timeout, the task settles on time even
// if the workload ignores its context (the goroutine stays busy until the
// workload returns).
func (w *threadWorker) execute(ctx context.Context, t *Task, timeout time.Duration) (any, *taskerr.Error, time.Duration) {
	timedOut := func() *taskerr.Error {
		return taskerr.New(taskerr.Timeout, "%s timed out after %s (thread pool %q)", t.Workload, timeout, w.p.cfg.Name)
	}
	if timeout > 0 {
		stop := context.AfterFunc(ctx, func() {
			if ctx.Err() == context.DeadlineExceeded {
				t.settle(nil, timedOut(), timeout)
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
