package concurrency

import (
	"os"
	"path/filepath"

	"github.com/grafana/sobek"
	"github.com/sirupsen/logrus"
	"go.k6.io/k6/v2/lib/fsext"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/jsworker"
	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// The `module` option: the script's own JavaScript as tasks (package
// jsworker). This file is its k6 side: reading the module in the init
// context, the pool's catalogue, and the worker process's loader.

func init() {
	ipc.LoadModule = loadWorkerModule
}

// jsModule is a pool's module, read in the init context, and the catalogue
// the pool runs: the built-in workloads and the module's exports.
type jsModule struct {
	mod *jsworker.Module
	reg *workload.Registry
}

// loadModule reads the module of o (if any) and every local file it imports
// through k6's file system, as open() does, so that `k6 archive` carries
// them; a relative path is relative to the script. It checks them (syntax,
// imports) and records the module's absolute path in o.
func (mi *ModuleInstance) loadModule(o *poolOptions) error {
	if o.Module == "" {
		return nil
	}
	bad := func(format string, a ...any) error {
		return taskerr.New(taskerr.InvalidArgument, "new %sPool(): option \"module\": "+format,
			append([]any{poolCtor(o.Kind)}, a...)...)
	}
	env := mi.vu.InitEnv()
	if env == nil {
		return bad("a pool with a module can only be made in the init context, where k6 reads files")
	}
	fs, ok := env.FileSystems["file"]
	if !ok || env.CWD == nil {
		return bad("k6 has no file system to read %q from", o.Module)
	}
	main := filepath.ToSlash(fsext.Abs(env.CWD.Path, o.Module))
	m, err := jsworker.Load(main, func(p string) ([]byte, error) { return fsext.ReadFile(fs, filepath.FromSlash(p)) })
	if err != nil {
		return bad("%s", err)
	}
	reg, err := m.Registry(workload.Default, env.Logger.WithField("pool", o.Name))
	if err != nil {
		return bad("%s", err)
	}
	o.Module, o.js = m.Main, &jsModule{mod: m, reg: reg}
	return nil
}

// configure makes the pool run the module: its catalogue, and for process
// pools the module sent to every worker, whose tasks are checked against the
// catalogue before they are sent (sharedPoolFor sends their console lines to
// k6's log, knowing the logger).
func (j *jsModule) configure(cfg *pool.Config) {
	if j == nil {
		return
	}
	cfg.Registry = j.reg
	if cfg.Kind == pool.Process {
		cfg.Process.Module = j.mod.Wire()
		cfg.Process.SameRegistry = true
	}
}

// workloads is `pool.workloads()`: what this pool can run, its module's
// exports (kind 'js') among them.
func (h *poolHandle) workloads(sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	cfg := h.p.Config()
	if cfg.Kind == pool.Process && !cfg.Process.SameRegistry {
		throw(rt, taskerr.New(taskerr.InvalidArgument,
			"workloads(): pool %q runs %v, whose catalogue is in its workers' hello (see PROTOCOL.md)",
			cfg.Name, cfg.Process.Command))
	}
	return h.mi.catalogue(cfg.Registry)
}

// loadWorkerModule is ipc.LoadModule in a worker process: the module's
// console writes its lines to standard error, where the pool reads them
// back into k6's log (jsworker.LogStderrLine).
func loadWorkerModule(raw []byte, base *workload.Registry) (*workload.Registry, error) {
	m, err := jsworker.Decode(raw)
	if err != nil {
		return nil, err
	}
	log := logrus.New()
	log.Out = os.Stderr
	log.Formatter = jsworker.ConsoleFormatter{}
	log.Level = logrus.DebugLevel // the pool's logger decides what it shows
	return m.Registry(base, log)
}
