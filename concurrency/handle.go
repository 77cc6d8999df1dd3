package concurrency

import (
	"time"

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
	sp *sharedPool
	p  *pool.Pool
}

// define puts the pool's methods and read-only properties on obj.
func (h *poolHandle) define(obj *sobek.Object) error {
	rt := h.mi.vu.Runtime()
	// Slices, not maps: the properties' order is what Object.keys shows.
	methods := []struct {
		name string
		fn   func(sobek.FunctionCall) sobek.Value
	}{
		{"run", h.run},
		{"runSync", h.runSync},
		{"map", h.mapTasks},
		{"mapSettled", h.mapSettled},
		{"asCompleted", h.asCompleted},
		{"start", h.startAll},
		{"resize", h.resize},
		{"stats", h.stats},
		{"close", h.close},
		// workloads is the pool's catalogue: with a module, its exports too (jsmodule.go).
		{"workloads", h.workloads},
	}
	for _, m := range methods {
		if err := obj.DefineDataProperty(m.name, rt.ToValue(m.fn), sobek.FLAG_FALSE, sobek.FLAG_FALSE,
			sobek.FLAG_TRUE); err != nil {
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

// submission is what one call gives all of its tasks: the tags of their
// samples, taken when the call is made, and the signal that cancels them.
type submission struct {
	tags   taskTags
	signal *signalRef
}

// taskCall is one task of a script's call, read and not yet submitted.
type taskCall struct {
	name    string
	params  map[string]any
	text    []byte // params as JSON, in the script's key order
	timeout time.Duration
}

// options are the pool options that submit a taskCall.
func (c taskCall) options(onDone pool.Option) []pool.Option {
	return []pool.Option{pool.WithParamsJSON(c.text), pool.WithTimeout(c.timeout), onDone}
}

// prepare reads (workload, params, opts) and returns the call and its
// submission. A signal aborted already is an AbortError, once the call has
// passed the pool's checks, which are the first to speak, as a fetch()'s are.
func (h *poolHandle) prepare(method string, call sobek.FunctionCall) (taskCall, submission, error) {
	rt := h.mi.vu.Runtime()
	name, err := workloadArg(method, call.Argument(0))
	if err != nil {
		return taskCall{}, submission{}, err
	}
	params, text, err := paramsArg(rt, name, call.Argument(1), "params")
	if err != nil {
		return taskCall{}, submission{}, err
	}
	opts, err := h.callOptions(method, call.Argument(2))
	if err != nil {
		return taskCall{}, submission{}, err
	}
	c, sub := taskCall{name: name, params: params, text: text, timeout: opts.Timeout}, h.submission(opts)
	if aborted := sub.abortedAlready(name); aborted != nil {
		if err := h.p.Validate(name, params); err != nil {
			return taskCall{}, submission{}, err
		}
		return taskCall{}, submission{}, aborted
	}
	return c, sub, nil
}

// submission takes the tags in force now, with the call's own.
func (h *poolHandle) submission(opts callOptions) submission {
	return submission{tags: h.mi.tagsNow(opts.Tags), signal: opts.Signal}
}

// abortedAlready is the error of a call whose signal is aborted before it
// submits anything: like fetch(), it rejects at once and starts no task.
func (sub submission) abortedAlready(workloadName string) error {
	if sub.signal == nil || !sub.signal.aborted() {
		return nil
	}
	return abortError(workloadName, sub.signal.reason())
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
		return nil, nil, taskerr.New(taskerr.InvalidArgument, "%s: %s must be an object, got %s", workloadName, where,
			taskerr.Describe(raw))
	}
	return params, text, nil
}

// callOptions reads a call's opts. The signal is a live object, not JSON
// data, so it is taken out before the rest is converted.
func (h *poolHandle) callOptions(method string, v sobek.Value) (callOptions, error) {
	if common.IsNullish(v) {
		return callOptions{}, nil
	}
	rt := h.mi.vu.Runtime()
	var signal *signalRef
	if obj, ok := v.(*sobek.Object); ok && obj.ClassName() == "Object" && !common.IsNullish(obj.Get("signal")) {
		var err error
		if signal, err = h.mi.parseSignal(method, obj.Get("signal")); err != nil {
			return callOptions{}, err
		}
		rest := rt.NewObject()
		_ = rest.SetPrototype(obj.Prototype())
		for _, k := range obj.Keys() {
			if k != "signal" {
				_ = rest.Set(k, obj.Get(k))
			}
		}
		v = rest
	}
	raw, err := exportJSON(rt, v, method+"(): opts")
	if err != nil {
		return callOptions{}, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return callOptions{}, taskerr.New(taskerr.InvalidArgument, "%s(): opts must be an object, got %s", method,
			taskerr.Describe(raw))
	}
	opts, err := parseCallOptions(method, m)
	opts.Signal = signal
	return opts, err
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
		return taskerr.New(taskerr.InvalidState, "%s() cannot be called in the init context; call it "+
			"from the default function, setup() or teardown()",
			method)
	}
	return nil
}

// start starts the pool's workers (pool.start()) and records its size.
func (h *poolHandle) start() {
	h.p.Start()
	h.announce()
}

// announce pushes the pool's first samples once its workers have started,
// whoever started them: pool.start(), or the first task (Submit starts the
// pool). Once per pool.
func (h *poolHandle) announce() {
	if h.p.Started() && h.sp.announced.CompareAndSwap(false, true) {
		h.mi.pushWorkers(h.p)
		h.mi.sampleGauges(h.p)
	}
}

// run is `pool.run(workload, params?, opts?)`: a Promise of the value.
func (h *poolHandle) run(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, reject := rt.NewPromise()
	if err := h.inVU("run"); err != nil {
		throw(rt, err)
	}
	c, sub, err := h.prepare("run", call)
	if err == nil {
		err = h.submitAsync(c, sub, func(t *pool.Task) {
			if t.Err != nil {
				_ = reject(jsError(rt, t.Err))
				return
			}
			_ = resolve(h.mi.resultToJS(t))
		})
	}
	if err != nil {
		_ = reject(jsError(rt, err))
	}
	return rt.ToValue(promise)
}

// submitAsync submits c and calls settled on the VU's event loop once its
// task settles, after pushing its metrics. Until then, the submission's
// signal and the VU's end cancel it. The error is the pool's refusal of c.
func (h *poolHandle) submitAsync(c taskCall, sub submission, settled func(*pool.Task)) error {
	enqueue := h.mi.vu.RegisterCallback()
	// Set once Submit returns: the callback runs on this event loop, after.
	var stopWatching func() bool
	var stopAbort func()
	t, err := h.p.Submit(c.name, c.params, c.options(pool.OnDone(func(t *pool.Task) {
		enqueue(func() error {
			stopWatching()
			stopAbort()
			h.mi.pushTask(h.p, t, sub.tags)
			settled(t)
			return nil
		})
	}))...)
	if err != nil {
		enqueue(func() error { return nil }) // the event loop waits for no callback
		return err
	}
	h.announce()
	stopAbort = h.mi.onAbort(sub.signal, t)
	stopWatching = watchVU(h.mi.vu.Context(), t)
	return nil
}

// runSync is `pool.runSync(workload, params?, opts?)`: the value, blocking
// this VU (only) until the task settles. Nothing else runs on the VU
// meanwhile, so only a signal aborted before the call can cancel it.
func (h *poolHandle) runSync(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	if err := h.inVU("runSync"); err != nil {
		throw(rt, err)
	}
	c, sub, err := h.prepare("runSync", call)
	if err != nil {
		throw(rt, err)
	}
	done := h.mi.syncDone
	t, err := h.p.Submit(c.name, c.params, c.options(pool.OnDone(func(t *pool.Task) { done <- t }))...)
	if err != nil {
		throw(rt, err)
	}
	h.announce()
	select {
	case <-done:
	case <-h.mi.vu.Context().Done():
		t.Cancel(vuStopped(t.Workload))
		<-done
	}
	h.mi.pushTask(h.p, t, sub.tags)
	if t.Err != nil {
		throw(rt, t.Err)
	}
	return h.mi.resultToJS(t)
}

// resize is `pool.resize(n)`.
func (h *poolHandle) resize(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	arg := call.Argument(0)
	var n any
	if sobek.IsNumber(arg) { // not a string, a Date or an object, which Export turns into one
		n = arg.Export()
	}
	f, err := pool.WorkersParam.Value(n)
	if err != nil {
		throw(rt, taskerr.New(taskerr.InvalidArgument, "resize(workers): workers %s, got %s", err, describeJS(arg)))
	}
	workers, _ := f.(int64) // an Int param's value
	if err := h.p.Resize(int(workers)); err != nil {
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
