// Package concurrency is the JavaScript face of the k6 extension
// `k6/x/concurrency`: a thread pool (goroutines) and a process pool (worker
// subprocesses) for k6 scripts, whose every task lands in k6's metrics.
// It takes options in and gives promises and metrics out; scheduling lives
// in package pool, the wire protocol in ipc, the task catalogue in workload.
// The repository's root package registers it with k6 (as xk6-sql's
// register.go does) and holds the worker mode of the k6 binary.
package concurrency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/sobek"
	"github.com/sirupsen/logrus"
	"go.k6.io/k6/v2/js/common"
	"go.k6.io/k6/v2/js/modules"

	"github.com/k6-concurrency/xk6-concurrency/jsworker"
	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// ImportPath is the module's JavaScript import path.
const ImportPath = "k6/x/concurrency"

// RootModule is the extension in one k6 process: it holds the pools, which
// every VU shares, and closes them when the test ends.
type RootModule struct {
	mu      sync.Mutex
	pools   map[string]*sharedPool
	watched sync.Once
	numCPU  int
	// ctx ends when the test does; the pools' gauge samplers push with it.
	ctx  context.Context
	stop context.CancelFunc
	// samplers are the gauge samplers' done channels: closeAll waits for
	// their last samples before the test's end lets k6 stop reading them.
	samplers []chan struct{}
}

// sharedPool is a pool and the options that made it.
type sharedPool struct {
	pool *pool.Pool
	opts poolOptions
	// accounted: its account was logged (once, at the test's end).
	accounted bool
	// announced: the pool's first samples (workers, gauges) were pushed.
	announced atomic.Bool
}

// New returns the root module; k6 calls NewModuleInstance on it for every VU.
func New() *RootModule {
	ctx, stop := context.WithCancel(context.Background())
	return &RootModule{pools: make(map[string]*sharedPool), numCPU: runtime.NumCPU(), ctx: ctx, stop: stop}
}

// ModuleInstance is the module in one VU.
type ModuleInstance struct {
	vu      modules.VU
	root    *RootModule
	metrics *taskMetrics
	tags    tagCache
	// syncDone receives the task a runSync call waits for; one per VU, since
	// a VU waits on one runSync at a time.
	syncDone chan *pool.Task
	abort    *abortClasses
	// jsonParse is the runtime's own JSON.parse, taken before the script
	// runs (a script may replace the global one).
	jsonParse sobek.Callable
}

// NewModuleInstance registers the metrics (this runs in the init context)
// and returns the module for one VU.
func (r *RootModule) NewModuleInstance(vu modules.VU) modules.Instance {
	env := vu.InitEnv()
	if env == nil {
		common.Throw(vu.Runtime(), errors.New(ImportPath+" must be imported in the init context"))
	}
	m, err := registerMetrics(env.Registry)
	if err != nil {
		common.Throw(vu.Runtime(), err)
	}
	r.watchTestEnd(vu, env.Logger)
	rt := vu.Runtime()
	parse, ok := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	if !ok {
		common.Throw(rt, errors.New(ImportPath+": JSON.parse is not a function"))
	}
	mi := &ModuleInstance{
		vu: vu, root: r, metrics: m, tags: make(tagCache), syncDone: make(chan *pool.Task, 1),
		jsonParse: parse,
	}
	mi.abort = mi.defineAbort()
	return mi
}

// Exports are the module's named exports.
func (mi *ModuleInstance) Exports() modules.Exports {
	return modules.Exports{Named: map[string]any{
		"ThreadPool":  mi.newThreadPool,
		"ProcessPool": mi.newProcessPool,
		"workloads":   mi.workloads,
		"report":      mi.reportObject(),
		// The web platform's names, as k6 has no global ones.
		"AbortController": mi.abort.controller,
		"AbortSignal":     mi.abort.signal,
	}}
}

// watchTestEnd closes every pool when k6 says the test ended (after
// teardown, on a normal end, test.abort(), Ctrl-C or SIGTERM) and, as a last
// resort, when k6 is about to exit.
func (r *RootModule) watchTestEnd(vu modules.VU, logger logrus.FieldLogger) {
	global := vu.Events().Global
	if global == nil { // js/modulestest, or a k6 command that runs no test
		return
	}
	r.watched.Do(func() {
		types, missing := eventTypes(global.Subscribe, "TestEnd", "Exit")
		if len(missing) > 0 {
			logger.Warnf("%s: this k6 has no %v events; pools will close only when k6 exits", ImportPath, missing)
		}
		if len(types) == 0 {
			return
		}
		id, events := global.Subscribe(types...)
		go func() {
			for e := range events {
				r.closeAll(logger)
				r.stop()
				exit := e.Type.String() == "Exit"
				if exit {
					// Before Done: k6 exits as soon as every Exit handler
					// is done, and would cut the delete short.
					if err := workload.Cleanup(); err != nil {
						logger.Warnf("%s: removing the file workloads' directory: %v", ImportPath, err)
					}
				}
				e.Done()
				if exit {
					global.Unsubscribe(id)
					return
				}
			}
		}()
	})
}

// eventTypes finds k6's event types by name. k6 keeps its event package
// internal, but its Subscribe method and the types' String method are
// public, so the types can be found without hard-coding their numbers.
func eventTypes[T interface {
	~uint8
	fmt.Stringer
}, C any](_ func(...T) (uint64, C), names ...string) (found []T, missing []string) {
	for _, name := range names {
		ok := false
		for i := 1; i < 64; i++ {
			if t := T(i); t.String() == name {
				found, ok = append(found, t), true
				break
			}
		}
		if !ok {
			missing = append(missing, name)
		}
	}
	return found, missing
}

// closeAll closes every pool at once, waits until their workers are gone
// and their gauges' last samples are pushed, and logs once the account of
// each pool that ran anything, closed by the script or not.
func (r *RootModule) closeAll(logger logrus.FieldLogger) {
	r.mu.Lock()
	pools := make([]*pool.Pool, 0, len(r.pools))
	var account []*pool.Pool
	for _, sp := range r.pools {
		pools = append(pools, sp.pool)
		if !sp.accounted {
			sp.accounted = true
			account = append(account, sp.pool)
		}
	}
	samplers := r.samplers
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Go(p.Close)
	}
	wg.Wait()
	for _, p := range account {
		if s := p.Stats(); s.Submitted > 0 {
			logger.WithField("pool", p.Config().Name).Infof(
				"%s pool %q closed: %d tasks submitted, %d completed, %d failed, %d worker restarts",
				p.Config().Kind, p.Config().Name, s.Submitted, s.Completed, s.Failed, s.Restarts)
		}
	}
	deadline := time.After(gaugePoll + 2*finalPush)
	for _, done := range samplers {
		select {
		case <-done:
		case <-deadline:
			return
		}
	}
}

// sharedPoolFor returns the pool of that name, creating it on first use.
// The same name with other options is an error naming both option sets.
func (r *RootModule) sharedPoolFor(opts poolOptions, logger logrus.FieldLogger) (*sharedPool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sp, ok := r.pools[opts.Name]; ok {
		if !sp.opts.equal(opts) {
			return nil, taskerr.New(taskerr.InvalidArgument,
				"pool %q already exists with options %s; it cannot be made again "+
					"with options %s (give it another name, or the same options)",
				opts.Name, sp.opts, opts)
		}
		return sp, nil
	}
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	cfg.Logger = newSlogLogger(logger)
	if opts.js != nil && cfg.Kind == pool.Process {
		// A JS worker's console lines, at their level, with their fields.
		console := logger.WithField("pool", cfg.Name)
		cfg.Process.Stderr = func(pid int, line string) { jsworker.LogStderrLine(console, pid, line) }
	}
	p, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	sp := &sharedPool{pool: p, opts: opts}
	r.pools[opts.Name] = sp
	return sp, nil
}

func (mi *ModuleInstance) newThreadPool(call sobek.ConstructorCall) *sobek.Object {
	return mi.newPool(pool.Thread, call)
}

func (mi *ModuleInstance) newProcessPool(call sobek.ConstructorCall) *sobek.Object {
	return mi.newPool(pool.Process, call)
}

// newPool is `new ThreadPool(opts)` and `new ProcessPool(opts)`: it parses the
// options and returns this VU's handle on the shared pool. No worker starts
// here: k6 runs the init context more than once.
func (mi *ModuleInstance) newPool(kind pool.Kind, call sobek.ConstructorCall) *sobek.Object {
	rt := mi.vu.Runtime()
	var raw map[string]any
	if arg := call.Argument(0); !common.IsNullish(arg) {
		v, err := exportJSON(rt, arg, fmt.Sprintf("new %sPool(): options", poolCtor(kind)))
		if err != nil {
			throw(rt, err)
		}
		var ok bool
		if raw, ok = v.(map[string]any); !ok {
			throw(rt, taskerr.New(taskerr.InvalidArgument, "new %sPool(): options must be an object, got %s", poolCtor(kind),
				taskerr.Describe(v)))
		}
	}
	opts, err := parsePoolOptions(kind, raw)
	if err != nil {
		throw(rt, err)
	}
	if err := mi.loadModule(&opts); err != nil {
		throw(rt, err)
	}
	sp, err := mi.root.sharedPoolFor(opts, mi.logger())
	if err != nil {
		throw(rt, err)
	}
	h := &poolHandle{mi: mi, sp: sp, p: sp.pool}
	if err := h.define(call.This); err != nil {
		throw(rt, err)
	}
	return call.This
}

// logger is k6's logger for this VU: the init context's, or the VU's.
func (mi *ModuleInstance) logger() logrus.FieldLogger {
	if env := mi.vu.InitEnv(); env != nil {
		return env.Logger
	}
	if state := mi.vu.State(); state != nil {
		return state.Logger
	}
	return logrus.StandardLogger()
}

func poolCtor(kind pool.Kind) string {
	if kind == pool.Thread {
		return "Thread"
	}
	return "Process"
}

// workloads is `workloads()`: the catalogue of what pools can run.
func (mi *ModuleInstance) workloads() sobek.Value { return mi.catalogue(workload.Default) }

// catalogue is a registry's workloads as JavaScript objects.
func (mi *ModuleInstance) catalogue(r *workload.Registry) sobek.Value {
	specs := r.List()
	infos := make([]workload.Info, len(specs))
	for i, s := range specs {
		infos[i] = s.Info()
	}
	return mi.toJS(infos)
}

// toJS hands Go data to JavaScript as plain objects and arrays, through JSON
// and the runtime's JSON.parse: a struct's keys come in its fields' order and
// a map's sorted, the same on every call. (sobek's ToValue would wrap a Go
// map, whose keys come in a random order.)
func (mi *ModuleInstance) toJS(v any) sobek.Value {
	rt := mi.vu.Runtime()
	b, err := json.Marshal(v)
	if err != nil {
		throw(rt, err)
	}
	value, err := mi.parseJSON(b)
	if err != nil {
		throw(rt, err)
	}
	return value
}

// parseJSON is JSON.parse(text) in the VU's runtime.
func (mi *ModuleInstance) parseJSON(text []byte) (sobek.Value, error) {
	rt := mi.vu.Runtime()
	return mi.jsonParse(sobek.Undefined(), rt.ToValue(string(text)))
}

// resultToJS is a settled task's value in JavaScript: a worker process's as
// it sent it (workerValueToJS), a Go workload's through JSON (goValueToJS).
func (mi *ModuleInstance) resultToJS(t *pool.Task) sobek.Value {
	if t.JSON != nil {
		if v, err := mi.workerValueToJS(t.JSON, t.Value); err == nil {
			return v
		}
	}
	return mi.goValueToJS(t.Value)
}

// workerValueToJS turns a worker's JSON into JavaScript as JSON.parse does,
// so key order, -0 and large integers come out as JSON.parse makes them:
// through jsonDecoder when the text escapes a lone surrogate (sobek's
// JSON.parse would write U+FFFD), and without parsing for a scalar, whose Go
// value (decoded) is what JSON.parse would make of it.
func (mi *ModuleInstance) workerValueToJS(text []byte, decoded any) (sobek.Value, error) {
	rt := mi.vu.Runtime()
	lone := hasLoneSurrogateEscape(text)
	switch decoded.(type) {
	case float64, bool:
		return rt.ToValue(decoded), nil
	case string:
		if !lone {
			return rt.ToValue(decoded), nil
		}
	}
	if lone {
		d := jsonDecoder{rt: rt, text: text}
		return d.decode()
	}
	return mi.parseJSON(text)
}

// goValueToJS turns a Go workload's value into JavaScript: an object or
// array through JSON, so a map's keys come sorted and the same on every call
// (ToValue would wrap the Go map, whose keys come in a random order); a
// scalar, or a value JSON cannot carry (NaN, say), with ToValue.
func (mi *ModuleInstance) goValueToJS(v any) sobek.Value {
	rt := mi.vu.Runtime()
	switch v.(type) {
	case nil, bool, string, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return rt.ToValue(v)
	}
	if b, err := json.Marshal(v); err == nil {
		if value, err := mi.parseJSON(b); err == nil {
			return value
		}
	}
	return rt.ToValue(v)
}

// jsError makes a JavaScript Error whose name is the failure's class, so
// scripts can branch on err.name.
func jsError(rt *sobek.Runtime, err error) *sobek.Object {
	e := taskerr.From(err)
	obj, jsErr := rt.New(rt.Get("Error"), rt.ToValue(e.Message))
	if jsErr != nil {
		return rt.NewGoError(err)
	}
	_ = obj.Set("name", string(e.Code))
	return obj
}

// throw raises err in JavaScript as an Error named for its class.
func throw(rt *sobek.Runtime, err error) {
	if _, ok := errors.AsType[*taskerr.Error](err); ok {
		panic(jsError(rt, err))
	}
	common.Throw(rt, err)
}

// vuStopped is the failure of tasks whose VU k6 stopped before they settled.
func vuStopped(workloadName string) *taskerr.Error {
	return taskerr.New(taskerr.PoolClosed, "%s was abandoned: k6 stopped the VU that submitted it (the test is ending)",
		workloadName)
}

// watchVU settles t early if k6 stops the VU first, so the VU's event loop
// never waits on a task nobody will read; the returned func stops watching.
func watchVU(ctx context.Context, t *pool.Task) func() bool {
	return context.AfterFunc(ctx, func() { t.Cancel(vuStopped(t.Workload)) })
}
