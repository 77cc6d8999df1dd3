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
	// Slices, not maps: the properties' order is what Object.keys shows.
	methods := []struct {
		name string
		fn   func(sobek.FunctionCall) sobek.Value
	}{{"run", h.run}, {"runSync", h.runSync}, {"map", h.mapTasks}, {"resize", h.resize}, {"stats", h.stats}, {"close", h.close}}
	for _, m := range methods {
		if err := obj.DefineDataProperty(m.name, rt.ToValue(m.fn), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_TRUE); err != nil {
			return err
		}
	}
	getters := []struct {
		name string
		get  func() any
	}{
		{"name", func() any { return h.p.Config().Name }},
		{"kind", func() any { return string(h.p.Config().Kind) }},
		{"workers", func() any { return h.p.Size() }},
	}
	for _, g := range getters {
		getter := rt.ToValue(func(sobek.FunctionCall) sobek.Value { return rt.ToValue(g.get()) })
		if err := obj.DefineAccessorProperty(g.name, getter, nil, sobek.FLAG_FALSE, sobek.FLAG_TRUE); err != nil {
			return err
		}
	}
	return nil
}

// prepare reads (workload, params, opts) and returns the task.
func (h *poolHandle) prepare(method string, call sobek.FunctionCall) (*pool.Task, error) {
	rt := h.mi.vu.Runtime()
	name, err := workloadArg(method, call.Argument(0))
	if err != nil {
		return nil, err
	}
	params, text, err := paramsArg(rt, name, call.Argument(1), "params")
	if err != nil {
		return nil, err
	}
	opts, err := h.callOptions(method, call.Argument(2))
	if err != nil {
		return nil, err
	}
	t, err := h.p.Prepare(name, params)
	if err != nil {
		return nil, err
	}
	t.SetParams(text)
	t.Timeout = opts.Timeout
	return t, nil
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

// paramsArg reads a task's params: as a map for Go workloads, and as JSON
// text in the script's key order for worker processes.
func paramsArg(rt *sobek.Runtime, workloadName string, v sobek.Value, where string) (map[string]any, []byte, error) {
	if common.IsNullish(v) {
		return nil, nil, nil
	}
	raw, text, err := encodeJSON(rt, v, workloadName+": "+where)
	if err != nil {
		return nil, nil, err
	}
	params, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, taskerr.New(taskerr.InvalidArgument, "%s: %s must be an object, got %s", workloadName, where, taskerr.Describe(raw))
	}
	return params, text, nil
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
	t, err := h.prepare("run", call)
	if err != nil {
		_ = reject(jsError(rt, err))
		return rt.ToValue(promise)
	}
	h.submitAsync(t, func(t *pool.Task) {
		if t.Err != nil {
			_ = reject(jsError(rt, t.Err))
			return
		}
		_ = resolve(h.mi.resultToJS(t))
	})
	return rt.ToValue(promise)
}

// submitAsync submits t and calls settled on the VU's event loop once it
// settles, after pushing its metrics.
func (h *poolHandle) submitAsync(t *pool.Task, settled func(*pool.Task)) {
	enqueue := h.mi.vu.RegisterCallback()
	var stopWatching func() bool
	t.OnDone = func(t *pool.Task) {
		enqueue(func() error {
			stopWatching()
			h.mi.pushTask(h.p, t)
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
	t, err := h.prepare("runSync", call)
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
	h.mi.pushTask(h.p, t)
	if t.Err != nil {
		throw(rt, t.Err)
	}
	return h.mi.resultToJS(t)
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
	tasks, index, err := h.prepareMap(call)
	if err != nil {
		obj := jsError(rt, err)
		if index >= 0 {
			_ = obj.Set("index", index)
		}
		_ = reject(obj)
		return rt.ToValue(promise)
	}
	values := make([]sobek.Value, len(tasks))
	remaining, failed := len(tasks), false
	if remaining == 0 {
		_ = resolve(rt.NewArray())
		return rt.ToValue(promise)
	}
	for i, t := range tasks {
		h.submitAsync(t, func(t *pool.Task) {
			if failed {
				return
			}
			if t.Err != nil {
				failed = true
				_ = reject(mapError(rt, i, t.Err))
				return
			}
			values[i] = h.mi.resultToJS(t)
			if remaining--; remaining == 0 {
				_ = resolve(rt.NewArray(toAny(values)...))
			}
		})
	}
	return rt.ToValue(promise)
}

// prepareMap validates map's arguments; index is the element that failed, or
// -1 when the failure is not one element's.
func (h *poolHandle) prepareMap(call sobek.FunctionCall) ([]*pool.Task, int, error) {
	rt := h.mi.vu.Runtime()
	name, err := workloadArg("map", call.Argument(0))
	if err != nil {
		return nil, -1, err
	}
	list, ok := call.Argument(1).(*sobek.Object)
	if !ok || list.ClassName() != "Array" {
		return nil, -1, taskerr.New(taskerr.InvalidArgument,
			"map(workload, paramsArray, opts?): paramsArray must be an array of params objects, got %s", describeJS(call.Argument(1)))
	}
	opts, err := h.callOptions("map", call.Argument(2))
	if err != nil {
		return nil, -1, err
	}
	n := list.Get("length").ToInteger()
	if n > int64(pool.MaxQueueLimit) {
		return nil, -1, taskerr.New(taskerr.InvalidArgument, "map(): paramsArray has %d items; at most %d", n, pool.MaxQueueLimit)
	}
	tasks := make([]*pool.Task, n)
	for i := range n {
		params, text, err := paramsArg(rt, name, list.Get(fmt.Sprint(i)), fmt.Sprintf("paramsArray[%d]", i))
		if err != nil {
			return nil, int(i), err
		}
		t, err := h.p.Prepare(name, params)
		if err != nil {
			// A new error, not a wrapped one: scripts see the class and the
			// message of the *taskerr.Error that jsError finds.
			e := taskerr.From(err)
			if e.Code == taskerr.UnknownWorkload { // the name's fault, not an element's
				return nil, -1, e
			}
			return nil, int(i), &taskerr.Error{Code: e.Code, Message: fmt.Sprintf("map(): paramsArray[%d]: %s", i, e.Message)}
		}
		t.SetParams(text)
		t.Timeout = opts.Timeout
		tasks[i] = t
	}
	return tasks, -1, nil
}

func toAny(values []sobek.Value) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// mapError is the rejection of map() when the task of paramsArray[index]
// failed: the task's error, with the index in its message and as err.index.
func mapError(rt *sobek.Runtime, index int, err *taskerr.Error) *sobek.Object {
	obj := jsError(rt, &taskerr.Error{Code: err.Code, Message: fmt.Sprintf("map(): paramsArray[%d]: %s", index, err.Message)})
	_ = obj.Set("index", index)
	return obj
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
	return h.mi.toJS(h.p.Stats())
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
