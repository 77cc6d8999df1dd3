package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// Init is a workload every worker runs once before its first task: a
// replacement, a recycled worker and growth by Resize too. It is Python's
// initializer/initargs and piscina's per-worker set-up. A worker whose init
// fails takes no task: it is treated as a worker that did not start.
type Init struct {
	// Workload is the workload's name; for a worker that is another
	// program, any workload the worker offers.
	Workload string `json:"workload"`
	// Params are its params; nil is none.
	Params map[string]any `json:"params,omitempty"`
}

// boundInit is the pool's Init checked once, at New.
type boundInit struct {
	name   string
	spec   *workload.Spec // thread pools, and process pools of this binary
	args   workload.Args
	params []byte // process pools: the JSON sent
}

// bindInit checks cfg.Init as Prepare checks a task: the name and the
// params, before any worker starts.
func bindInit(cfg *Config) (*boundInit, error) {
	in := cfg.Init
	if in == nil {
		return nil, nil //nolint:nilnil // no init: nothing to bind, and nothing wrong
	}
	b := &boundInit{name: in.Workload}
	if in.Workload == "" {
		return nil, fmt.Errorf("init: workload must name a workload")
	}
	if cfg.Kind == Thread || cfg.Process.SameRegistry {
		spec, err := cfg.Registry.Lookup(in.Workload)
		if err != nil {
			return nil, fmt.Errorf("init: %s", taskerr.From(err).Message)
		}
		if b.args, err = spec.Bind(in.Params); err != nil {
			return nil, fmt.Errorf("init: %s", taskerr.From(err).Message)
		}
		b.spec = spec
	}
	if cfg.Kind == Process && len(in.Params) > 0 {
		params, err := json.Marshal(in.Params)
		if err != nil {
			return nil, fmt.Errorf("init: params cannot be sent to a worker process: %w", err)
		}
		b.params = params
	}
	return b, nil
}

// initFailed is the error of tasks that found no worker because every
// worker's init failed.
func (p *Pool) initFailed(err error) *taskerr.Error {
	return taskerr.New(taskerr.WorkerStart, "%s pool %q: a worker's init (%s) failed: %s",
		p.cfg.Kind, p.cfg.Name, p.init.name, err.Error())
}

// initThread runs the init workload on a thread worker (base is the
// worker's context), bounded by the pool's taskTimeout (if any) and by the
// pool closing.
func (p *Pool) initThread(base context.Context, stop <-chan struct{}) error {
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	if p.cfg.TaskTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, p.cfg.TaskTimeout)
		defer cancel()
	}
	go func() {
		select {
		case <-p.closing:
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	_, err := p.init.spec.Run(ctx, p.init.args)
	return err
}

// initProcess runs the init workload on a worker process that just said
// hello, bounded by the pool's startTimeout: it is part of the start.
func (p *Pool) initProcess(w *ipc.Worker) error {
	if p.init.spec == nil && !w.Offers(p.init.name) {
		return fmt.Errorf("worker pid %d does not offer %q (it offers: %s)", w.PID(), p.init.name, offered(w))
	}
	c := ipc.NewCall()
	req := ipc.Request{Workload: p.init.name, Params: p.init.params, Timeout: p.cfg.StartTimeout}
	if err := w.Send(c, req); err != nil {
		return err
	}
	timer := time.NewTimer(p.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-c.Done():
	case <-timer.C:
		w.Kill(fmt.Sprintf("its init (%s) ran past startTimeout %s", p.init.name, p.cfg.StartTimeout))
		<-c.Done()
	}
	if c.Err != nil {
		return c.Err
	}
	return nil
}

// waitUntilUp settles queued tasks with a worker's start (or init) error,
// so that tasks never wait on workers that cannot start: all of them while
// no worker of the pool is up (it waits for a task if none is queued, or for
// another worker to come up, which says the failure was passing), none while
// another worker is up, since that one serves the queue (a replacement
// killed while it starts then costs no task). It returns false if stop or
// the pool's closing came first.
func (p *Pool) waitUntilUp(stop <-chan struct{}, err *taskerr.Error) bool {
	for {
		up := p.upNotice() // before looking at live, so that no worker comes up unseen
		if p.live.Load() > 0 {
			return true
		}
		if t := p.led.pop(); t != nil {
			// Settled from the queue: it never ran, so it has no
			// duration, wait or overhead sample.
			t.release(nil, err, 0, nil)
			if p.led.len() == 0 {
				return true
			}
			continue
		}
		select {
		case <-p.led.ready:
		case <-up:
		case <-stop:
			return false
		case <-p.closing:
			return false
		}
	}
}

// sleepUnless waits d unless stop or the pool's closing comes first.
func (p *Pool) sleepUnless(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-p.closing:
		return false
	}
}

// upNotice returns a channel that closes when a worker of the pool next
// comes up.
func (p *Pool) upNotice() <-chan struct{} {
	p.upMu.Lock()
	defer p.upMu.Unlock()
	if p.up == nil {
		p.up = make(chan struct{})
	}
	return p.up
}

// announceUp records that a worker came up, and closes the channel
// upNotice gave out.
func (p *Pool) announceUp() {
	p.lastUp.Store(time.Now().UnixNano())
	p.upMu.Lock()
	defer p.upMu.Unlock()
	if p.up != nil {
		close(p.up)
		p.up = nil
	}
}
