package jsworker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// host keeps a module's worker runtimes. A task takes an idle runtime, or
// makes one when none is idle, and gives it back when done: a pool's tasks
// run one per worker at a time, so a pool has as many runtimes as workers
// that ran JavaScript, and each evaluated the module's top level once.
type host struct {
	m   *Module
	log logrus.FieldLogger

	mu     sync.Mutex
	idle   []*worker
	made   int
	failed error // the module threw at its top level: every task fails with it
}

// Registry returns base's workloads plus one workload of kind js per export
// of m. Each export runs in a worker runtime of its own (see host); log gets
// the runtimes' console, with a "worker" field.
func (m *Module) Registry(base *workload.Registry, log logrus.FieldLogger) (*workload.Registry, error) {
	reg := workload.NewRegistry()
	for _, s := range base.List() {
		opts := []workload.Option{workload.WithDescription(s.Description), workload.WithParams(s.Params...)}
		if s.Raw {
			opts = append(opts, workload.RawParams())
		}
		if err := reg.Add(s.Name, s.Kind, s.Fn, opts...); err != nil {
			return nil, err
		}
	}
	h := &host{m: m, log: log}
	for _, name := range m.exports {
		if _, err := base.Lookup(name); err == nil {
			return nil, fmt.Errorf("module %s exports %q, which is a built-in workload's name: rename the export", m.Main, name)
		}
		err := reg.Add(name, workload.JS, h.run(name), workload.RawParams(),
			workload.WithDescription(fmt.Sprintf("export %s of %s, run in a JavaScript runtime of each worker.", name, m.Name())))
		if err != nil {
			return nil, err
		}
	}
	return reg, nil
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
		h.put(w)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			return nil, taskerr.New(taskerr.Workload, "%s: %s", name, describe(err))
		}
		return v, nil
	}
}

// get takes an idle runtime, or makes one.
func (h *host) get(ctx context.Context) (*worker, error) {
	h.mu.Lock()
	if h.failed != nil {
		defer h.mu.Unlock()
		return nil, h.failed
	}
	if n := len(h.idle); n > 0 {
		w := h.idle[n-1]
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		return w, nil
	}
	h.made++
	id := h.made
	h.mu.Unlock()
	w, err := newWorker(ctx, h.m, id, h.log)
	if err == nil {
		return w, nil
	}
	if ctx.Err() != nil { // a timeout of the top level: a later task may try again
		return nil, ctx.Err()
	}
	failed := taskerr.New(taskerr.Workload, "module %s failed in worker %d at its top level: %s",
		h.m.Main, id, describe(err))
	if errors.Is(err, errNeverSettles) {
		failed = taskerr.New(taskerr.Workload,
			"module %s: its top-level await can never settle: no timer is pending", h.m.Main)
	}
	h.mu.Lock()
	h.failed = failed
	h.mu.Unlock()
	return nil, failed
}

func (h *host) put(w *worker) {
	h.mu.Lock()
	h.idle = append(h.idle, w)
	h.mu.Unlock()
}
