package jsworker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// host keeps a module's worker runtimes. On a thread pool each worker has
// its own runtime, made when the worker first runs an export (its module's
// top level runs then, once) and released when the worker leaves the pool
// (pool.AtWorkerExit: a Resize down, or Close), so a pool holds as many
// runtimes as workers that ran JavaScript. Elsewhere (a worker process,
// which runs up to its concurrency of tasks at once) a task takes an idle
// runtime, or makes one when none is idle, and gives it back when done.
type host struct {
	m   *Module
	log logrus.FieldLogger

	mu       sync.Mutex
	byWorker map[int]*worker // thread pools: each worker's runtime, by pool.WorkerID
	idle     []*worker       // worker processes: runtimes no task holds
	failed   error           // the module threw at its top level: every task fails with it
}

// Registry returns base's workloads plus one workload of kind js per export
// of m. Each export runs in a worker runtime of its own (see host); log gets
// the runtimes' console, with a "worker" field.
func (m *Module) Registry(base *workload.Registry, log logrus.FieldLogger) (*workload.Registry, error) {
	reg, _, err := m.registry(base, log)
	return reg, err
}

// registry is Registry, and the host of its exports' runtimes.
func (m *Module) registry(base *workload.Registry, log logrus.FieldLogger) (*workload.Registry, *host, error) {
	reg := workload.NewRegistry()
	for _, s := range base.List() {
		opts := []workload.Option{workload.WithDescription(s.Description), workload.WithParams(s.Params...)}
		if s.Raw {
			opts = append(opts, workload.RawParams())
		}
		if err := reg.Add(s.Name, s.Kind, s.Fn, opts...); err != nil {
			return nil, nil, err
		}
	}
	h := &host{m: m, log: log, byWorker: make(map[int]*worker)}
	for _, name := range m.exports {
		if _, err := base.Lookup(name); err == nil {
			return nil, nil, fmt.Errorf("module %s exports %q, which is a built-in workload's name: rename the export",
				m.Main, name)
		}
		desc := fmt.Sprintf("export %s of %s, run in a JavaScript runtime of each worker.", name, m.Name())
		err := reg.Add(name, workload.JS, h.run(name), workload.RawParams(), workload.WithDescription(desc))
		if err != nil {
			return nil, nil, err
		}
	}
	return reg, h, nil
}

// run is the workload.Func of an export.
func (h *host) run(name string) workload.Func {
	return func(ctx context.Context, args workload.Args) (any, error) {
		w, err := h.get(ctx)
		if err != nil {
			return nil, err
		}
		v, err := w.call(ctx, name, args.Raw())
		// The runtime serves on, even after an interrupt (sobek unwinds the
		// export and ClearInterrupt resets it): the module's top level runs
		// once per worker, timeouts or not.
		h.put(ctx, w)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			return nil, taskerr.New(taskerr.Workload, "%s: %s", name, describe(err))
		}
		return v, nil
	}
}

// get returns the runtime of the task's worker, or makes it: the thread
// pool worker's own, or an idle one of a worker process.
func (h *host) get(ctx context.Context) (*worker, error) {
	id, thread := pool.WorkerID(ctx)
	h.mu.Lock()
	if h.failed != nil {
		defer h.mu.Unlock()
		return nil, h.failed
	}
	if thread {
		if w := h.byWorker[id]; w != nil {
			h.mu.Unlock()
			return w, nil // a thread worker runs one task at a time: its runtime is free
		}
	} else if n := len(h.idle); n > 0 {
		w := h.idle[n-1]
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		return w, nil
	}
	if !thread {
		// The worker process, as the pool's messages name it ("worker pid
		// N"); its runtimes (one per request in flight) share the number.
		id = os.Getpid()
	}
	h.mu.Unlock()
	w, err := newWorker(ctx, h.m, id, h.log)
	if err == nil {
		if thread {
			h.mu.Lock()
			h.byWorker[id] = w
			h.mu.Unlock()
			pool.AtWorkerExit(ctx, func() { h.release(id) })
		}
		return w, nil
	}
	if ctx.Err() != nil { // a timeout of the top level: a later task may try again
		return nil, ctx.Err()
	}
	return nil, h.fail(err, id, thread)
}

// fail records that the module's top level failed with err in the worker
// id (a thread worker's, or a worker process's pid) and returns the error:
// every later task fails with it, for the module would fail the same way
// again.
func (h *host) fail(err error, id int, thread bool) *taskerr.Error {
	who := fmt.Sprintf("worker %d", id)
	if !thread {
		who = fmt.Sprintf("worker pid %d", id)
	}
	failed := taskerr.New(taskerr.Workload, "module %s failed in %s at its top level: %s",
		h.m.Main, who, describe(err))
	if errors.Is(err, errNeverSettles) {
		failed = taskerr.New(taskerr.Workload,
			"module %s: its top-level await can never settle: no timer is pending", h.m.Main)
	}
	h.mu.Lock()
	h.failed = failed
	h.mu.Unlock()
	return failed
}

// put gives a worker process's runtime back; a thread worker keeps its own.
func (h *host) put(ctx context.Context, w *worker) {
	if _, thread := pool.WorkerID(ctx); thread {
		return
	}
	h.mu.Lock()
	h.idle = append(h.idle, w)
	h.mu.Unlock()
}

// release drops the runtime of a thread worker that left its pool, for the
// garbage collector: a pool that shrank keeps no spare runtime.
func (h *host) release(id int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.byWorker[id]; w != nil {
		w.loop.reset()
		delete(h.byWorker, id)
	}
}

// runtimes is how many runtimes the host holds, for tests.
func (h *host) runtimes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byWorker) + len(h.idle)
}
