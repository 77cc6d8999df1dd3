package pool

import (
	"context"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// The controls a caller has over work in flight, beyond Submit and Cancel:
// knowing whether a task has started, waiting for the workers, and closing
// once the backlog is done.

// Queued reports whether no worker has started t yet (and it has not
// settled): it waits in the queue, or in a worker process's input.
func (t *Task) Queued() bool {
	s := t.state.Load()
	return s == queued || s == sent
}

// pollEvery is how often WaitLive and Drain look at the counters: they are
// rare calls, so they poll rather than put a notification on every task's
// path.
const pollEvery = 2 * time.Millisecond

// WaitLive starts the workers (if they are not running yet) and waits until
// as many are live as the pool's size. It fails with WorkerStart as soon as
// a worker's latest start failed (no worker came up since), or when they are not all
// live within the start timeout (for thread pools too, whose init is their
// start) and a second; with PoolClosed if the pool closes
// first, and with ctx's error if ctx ends first.
func (p *Pool) WaitLive(ctx context.Context) error {
	p.Start()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	deadline := time.NewTimer(p.cfg.StartTimeout + time.Second)
	defer deadline.Stop()
	for {
		if f := p.startFailure.Load(); f != nil && f.at.UnixNano() > p.lastUp.Load() {
			return taskerr.New(taskerr.WorkerStart, "%s pool %q: a worker did not start: %s", p.cfg.Kind, p.cfg.Name, f.err)
		}
		if p.Closed() {
			return p.closedError()
		}
		if p.live.Load() >= int64(p.Size()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return taskerr.New(taskerr.WorkerStart, "%s pool %q: only %d of %d workers came up within %s",
				p.cfg.Kind, p.cfg.Name, p.live.Load(), p.Size(), p.cfg.StartTimeout+time.Second)
		case <-tick.C:
		}
	}
}

// startFailure is the last time a worker of the pool failed to start, and why.
type startFailure struct {
	at  time.Time
	err string
}

// noteStartFailure records a worker's failure to start, for WaitLive.
func (p *Pool) noteStartFailure(err error) {
	p.startFailure.Store(&startFailure{at: time.Now(), err: err.Error()})
}

// Drain closes the pool once its backlog is done: from now on Submit
// rejects new tasks with PoolClosed, the tasks submitted before run to the
// end, and then the pool closes as Close does. timeout bounds the wait (0:
// none); tasks still unsettled then are stopped by Close. It reports whether
// the backlog finished within the timeout.
func (p *Pool) Drain(timeout time.Duration) bool {
	p.Refuse()
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	finished := true
	for !p.settledAll() && !p.Closed() {
		select {
		case <-expired:
			finished = false
		case <-tick.C:
			continue
		}
		break
	}
	p.Close()
	return finished
}

// settledAll reports whether every task submitted has settled.
func (p *Pool) settledAll() bool {
	c := p.led.snapshot() // one consistent reading of the counts
	return c.submitted == c.completed+c.failed
}

// Refuse makes Submit reject new tasks with PoolClosed from now on, as
// Drain does first; queued and running tasks carry on.
func (p *Pool) Refuse() { p.draining.Store(true) }

// Draining reports whether the pool refuses new tasks (Refuse or Drain).
func (p *Pool) Draining() bool { return p.draining.Load() }
