package concurrency

import (
	"fmt"

	"github.com/grafana/sobek"
	"go.k6.io/k6/v2/js/common"

	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// poolHandle is one VU's JavaScript object for a shared pool. Its methods run
// on the VU's goroutine; tasks settle on pool goroutines and come back to the
// VU through its event loop (RegisterCallback) before touching JavaScript.
type poolHandle struct {
	mi *ModuleInstance
	p  *pool.Pool
}

// define puts the pool's methods and read-only properties on obj.
func (h *poolHandle) define(obj *sobek.Object) error {
	rt := h.mi.vu.Runtime()
	methods := map[string]func(sobek.FunctionCall) sobek.Value{
		"run":     h.run,
		"runSync": h.runSync,
		"map":     h.mapTasks,
		"resize":  h.resize,
		"stats":   h.stats,
		"close":   h.close,
		// workloads is the pool's catalogue: with a module, its exports too (jsmodule.go).
		"workloads": h.workloads,
	}
	for name, fn := range methods {
		if err := obj.DefineDataProperty(name, rt.ToValue(fn), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_TRUE); err != nil {
			return err
		}
	}
	getters := map[string]func() any{
		"workers": func() any { return h.p.Size() },
		"name":    func() any { return h.p.Config().Name },
		"kind":    func() any { return string(h.p.Config().Kind) },
	}
	for name, get := range getters {
		getter := rt.ToValue(func(sobek.FunctionCall) sobek.Value { return rt.ToValue(get()) })
		if err := obj.DefineAccessorProperty(name, getter, nil, sobek.FLAG_FALSE, sobek.FLAG_TRUE); err != nil {
			return err
		}
	}
	return nil
}

// prepare reads (workload, params, opts) and returns the task and the tags
// of its samples, which are the tags in force now.
func (h *poolHandle) prepare(method string, call sobek.FunctionCall) (*pool.Task, taskTags, error) {
	rt := h.mi.vu.Runtime()
	name, err := workloadArg(method, call.Argument(0))
	if err != nil {
		return nil, taskTags{}, err
	}
	params, err := paramsArg(rt, name, call.Argument(1), "params")
	if err != nil {
		return nil, taskTags{}, err
	}
	opts, err := h.callOptions(method, call.Argument(2))
	if err != nil {
		return nil, taskTags{}, err
	}
	t, err := h.p.Prepare(name, params)
	if err != nil {
		return nil, taskTags{}, err
	}
	t.Timeout = opts.Timeout
	return t, h.mi.tagsNow(opts.Tags), nil
}

func workloadArg(method string, v sobek.Value) (string, error) {
	if sobek.IsString(v) { // not v.Export(): a Symbol exports as its description
		if s := v.String(); s != "" {
			return s, nil
		}
	}
	return "", taskerr.New(taskerr.InvalidArgument,
		"%s(workload, params?, opts?): workload must be a workload's name such as 'cpu.primes' (see workloads()), got %s",
		method, describeJS(v))
}

func paramsArg(rt *sobek.Runtime, workloadName string, v sobek.Value, where string) (map[string]any, error) {
	if common.IsNullish(v) {
		return nil, nil
	}
	raw, err := exportJSON(rt, v, workloadName+": "+where)
	if err != nil {
		return nil, err
	}
	params, ok := raw.(map[string]any)
	if !ok {
		return nil, taskerr.New(taskerr.InvalidArgument, "%s: %s must be an object, got %s", workloadName, where, taskerr.Describe(raw))
	}
	return params, nil
}

func (h *poolHandle) callOptions(method string, v sobek.Value) (callOptions, error) {
	if common.IsNullish(v) {
		return callOptions{}, nil
	}
	raw, err := exportJSON(h.mi.vu.Runtime(), v, method+"(): opts")
	if err != nil {
		return callOptions{}, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return callOptions{}, taskerr.New(taskerr.InvalidArgument, "%s(): opts must be an object, got %s", method, taskerr.Describe(raw))
	}
	return parseCallOptions(method, m)
}

func describeJS(v sobek.Value) string {
	if v == nil || sobek.IsUndefined(v) {
		return "undefined"
	}
	if _, ok := sobek.AssertFunction(v); ok {
		return "a function"
	}
	if _, ok := v.(*sobek.Symbol); ok {
		return "a Symbol"
	}
	if sobek.IsBigInt(v) {
		return "a BigInt"
	}
	return taskerr.Describe(v.Export())
}

// inVU fails a method called from the init context, where k6 has no VU state
// to push metrics to, and where workers must not start.
func (h *poolHandle) inVU(method string) error {
	if h.mi.vu.State() == nil {
		return fmt.Errorf("%s() cannot be called in the init context; call it from the default function, setup() or teardown()", method)
	}
	return nil
}

// start starts the pool's workers with its first task and records its size.
func (h *poolHandle) start() {
	if h.p.Start() {
		h.mi.pushWorkers(h.p)
	}
}

// run is `pool.run(workload, params?, opts?)`: a Promise of the value.
func (h *poolHandle) run(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, reject := rt.NewPromise()
	if err := h.inVU("run"); err != nil {
		common.Throw(rt, err)
	}
	t, tt, err := h.prepare("run", call)
	if err != nil {
		_ = reject(jsError(rt, err))
		return rt.ToValue(promise)
	}
	h.submitAsync(t, tt, func(t *pool.Task) {
		if t.Err != nil {
			_ = reject(jsError(rt, t.Err))
			return
		}
		_ = resolve(rt.ToValue(t.Value))
	})
	return rt.ToValue(promise)
}

// submitAsync submits t and calls settled on the VU's event loop once it
// settles, after pushing its metrics with the tags tt.
func (h *poolHandle) submitAsync(t *pool.Task, tt taskTags, settled func(*pool.Task)) {
	enqueue := h.mi.vu.RegisterCallback()
	var stopWatching func() bool
	t.OnDone = func(t *pool.Task) {
		enqueue(func() error {
			stopWatching()
			h.mi.pushTask(h.p, t, tt)
			settled(t)
			return nil
		})
	}
	h.start()
	h.p.Submit(t)
	// Watch only once Submit is done with t: a cancel may come at once.
	stopWatching = watchVU(h.mi.vu.Context(), t)
}

// runSync is `pool.runSync(workload, params?, opts?)`: the value, blocking
// this VU (only) until the task settles.
func (h *poolHandle) runSync(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	if err := h.inVU("runSync"); err != nil {
		common.Throw(rt, err)
	}
	t, tt, err := h.prepare("runSync", call)
	if err != nil {
		throw(rt, err)
	}
	done := h.mi.syncDone
	t.OnDone = func(t *pool.Task) { done <- t }
	h.start()
	h.p.Submit(t)
	select {
	case <-done:
	case <-h.mi.vu.Context().Done():
		t.Cancel(vuStopped(t.Workload))
		<-done
	}
	h.mi.pushTask(h.p, t, tt)
	if t.Err != nil {
		throw(rt, t.Err)
	}
	return rt.ToValue(t.Value)
}

// mapTasks is `pool.map(workload, paramsArray, opts?)`: a Promise of the
// values in input order; it rejects with the first failure. Every element is
// validated before any task is submitted.
func (h *poolHandle) mapTasks(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, reject := rt.NewPromise()
	if err := h.inVU("map"); err != nil {
		common.Throw(rt, err)
	}
	tasks, tt, err := h.prepareMap(call)
	if err != nil {
		_ = reject(jsError(rt, err))
		return rt.ToValue(promise)
	}
	values := make([]any, len(tasks))
	remaining, failed := len(tasks), false
	if remaining == 0 {
		_ = resolve(rt.NewArray())
		return rt.ToValue(promise)
	}
	for i, t := range tasks {
		h.submitAsync(t, tt, func(t *pool.Task) {
			if failed {
				return
			}
			if t.Err != nil {
				failed = true
				_ = reject(jsError(rt, t.Err))
				return
			}
			values[i] = t.Value
			if remaining--; remaining == 0 {
				_ = resolve(rt.NewArray(toJSValues(rt, values)...))
			}
		})
	}
	return rt.ToValue(promise)
}

func (h *poolHandle) prepareMap(call sobek.FunctionCall) ([]*pool.Task, taskTags, error) {
	rt := h.mi.vu.Runtime()
	name, err := workloadArg("map", call.Argument(0))
	if err != nil {
		return nil, taskTags{}, err
	}
	list, ok := call.Argument(1).(*sobek.Object)
	if !ok || list.ClassName() != "Array" {
		return nil, taskTags{}, taskerr.New(taskerr.InvalidArgument,
			"map(workload, paramsArray, opts?): paramsArray must be an array of params objects, got %s", describeJS(call.Argument(1)))
	}
	opts, err := h.callOptions("map", call.Argument(2))
	if err != nil {
		return nil, taskTags{}, err
	}
	n := list.Get("length").ToInteger()
	if n > int64(pool.MaxQueueLimit) {
		return nil, taskTags{}, taskerr.New(taskerr.InvalidArgument, "map(): paramsArray has %d items; at most %d", n, pool.MaxQueueLimit)
	}
	tasks := make([]*pool.Task, n)
	for i := range n {
		params, err := paramsArg(rt, name, list.Get(fmt.Sprint(i)), fmt.Sprintf("paramsArray[%d]", i))
		if err != nil {
			return nil, taskTags{}, err
		}
		t, err := h.p.Prepare(name, params)
		if err != nil {
			// A new error, not a wrapped one: scripts see the class and the
			// message of the *taskerr.Error that jsError finds.
			e := taskerr.From(err)
			return nil, taskTags{}, &taskerr.Error{Code: e.Code, Message: fmt.Sprintf("map(): paramsArray[%d]: %s", i, e.Message)}
		}
		t.Timeout = opts.Timeout
		tasks[i] = t
	}
	return tasks, h.mi.tagsNow(opts.Tags), nil
}

func toJSValues(rt *sobek.Runtime, values []any) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = rt.ToValue(v)
	}
	return out
}

// resize is `pool.resize(n)`.
func (h *poolHandle) resize(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	arg := call.Argument(0)
	f, ok := arg.Export().(int64)
	if !ok {
		throw(rt, taskerr.New(taskerr.InvalidArgument, "resize(workers): workers must be an integer from 1 to %d, got %s",
			pool.MaxWorkers, describeJS(arg)))
	}
	if f < 1 || f > pool.MaxWorkers {
		throw(rt, taskerr.New(taskerr.InvalidArgument, "resize(workers): workers must be an integer from 1 to %d, got %d",
			pool.MaxWorkers, f))
	}
	if err := h.p.Resize(int(f)); err != nil {
		throw(rt, err)
	}
	if h.p.Started() {
		h.mi.pushWorkers(h.p)
	}
	return sobek.Undefined()
}

// stats is `pool.stats()`.
func (h *poolHandle) stats(sobek.FunctionCall) sobek.Value {
	return jsonToJS(h.mi.vu.Runtime(), h.p.Stats())
}

// close is `pool.close()`: a Promise that resolves once the pool's workers
// are gone. Closing twice is fine; tasks submitted later reject with
// PoolClosedError.
func (h *poolHandle) close(sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, _ := rt.NewPromise()
	enqueue := h.mi.vu.RegisterCallback()
	go func() {
		h.p.Close()
		enqueue(func() error { return resolve(sobek.Undefined()) })
	}()
	return rt.ToValue(promise)
}
