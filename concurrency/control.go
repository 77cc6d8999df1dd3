package concurrency

import (
	"context"
	"errors"
	"fmt"

	"github.com/grafana/sobek"
	"go.k6.io/k6/v2/js/common"

	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// The calls that run many tasks at once (map, mapSettled, asCompleted), and
// the pool's life: start() and close({ drain }). Python's executors, piscina
// and pond offer the same controls; the names are theirs and the web's.

// mapTasks is `pool.map(workload, paramsArray, opts?)`: a Promise of the
// values in input order. On the first failure it rejects with that error,
// with err.index set and the index in the message, and cancels the call's
// tasks that no worker has taken yet (AbortError); tasks already running
// finish, and their results are dropped.
func (h *poolHandle) mapTasks(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	return h.mapLike("map", call, 2, func(tasks []*pool.Task, resolve, reject func(any) error) func(int, *pool.Task) {
		values := make([]any, len(tasks))
		remaining, failed := len(tasks), false
		return func(i int, t *pool.Task) {
			if failed {
				return
			}
			if t.Err != nil {
				failed = true
				cancelTasks(tasks, true, func(t *pool.Task) *taskerr.Error {
					return taskerr.New(taskerr.Aborted, "%s was cancelled before it started: map() failed at paramsArray[%d]",
						t.Workload, i)
				})
				_ = reject(indexedError(rt, t.Err, "map", i))
				return
			}
			values[i] = h.mi.resultToJS(t)
			if remaining--; remaining == 0 {
				_ = resolve(rt.NewArray(values...))
			}
		}
	})
}

// mapSettled is `pool.mapSettled(workload, paramsArray, opts?)`: a Promise of
// every outcome in input order, in Promise.allSettled's shape. It rejects
// only for bad arguments, never because of a task.
func (h *poolHandle) mapSettled(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	return h.mapLike("mapSettled", call, 2, func(tasks []*pool.Task, resolve, _ func(any) error) func(int, *pool.Task) {
		results := make([]any, len(tasks))
		remaining := len(tasks)
		return func(i int, t *pool.Task) {
			results[i] = h.mi.settledResult(t)
			if remaining--; remaining == 0 {
				_ = resolve(rt.NewArray(results...))
			}
		}
	})
}

// asCompleted is `pool.asCompleted(workload, paramsArray, callback, opts?)`:
// it calls callback(result, index) on the VU's event loop as each task
// settles (result in mapSettled's shape), and returns a Promise that
// resolves once all have settled. A callback that throws rejects the Promise
// with what it threw and cancels the call's other tasks, running or not.
// Sobek has no async generators, hence a callback rather than `for await`.
func (h *poolHandle) asCompleted(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	callback, isFn := sobek.AssertFunction(call.Argument(2))
	return h.mapLike("asCompleted", call, 3, func(tasks []*pool.Task, resolve, reject func(any) error) func(int,
		*pool.Task) {
		remaining, stopped := len(tasks), false
		return func(i int, t *pool.Task) {
			remaining--
			if stopped {
				return
			}
			if _, err := callback(sobek.Undefined(), h.mi.settledResult(t), rt.ToValue(i)); err != nil {
				stopped = true
				cancelTasks(tasks, false, func(t *pool.Task) *taskerr.Error {
					return taskerr.New(taskerr.Aborted, "%s was cancelled: the asCompleted() callback threw", t.Workload)
				})
				_ = reject(thrownValue(rt, err))
				return
			}
			if remaining == 0 {
				_ = resolve(sobek.Undefined())
			}
		}
	}, func() error {
		if !isFn {
			return taskerr.New(taskerr.InvalidArgument,
				"asCompleted(workload, paramsArray, callback, opts?): callback must be a function, got %s",
				describeJS(call.Argument(2)))
		}
		return nil
	})
}

// mapLike runs the tasks of a call over paramsArray (opts at argument
// optsAt): it checks the arguments (and any extra checks) before any task
// starts, then hands each task to the function start returns, on the VU's
// event loop, as it settles.
func (h *poolHandle) mapLike(method string, call sobek.FunctionCall, optsAt int,
	start func(tasks []*pool.Task, resolve, reject func(any) error) func(int, *pool.Task), checks ...func() error,
) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, reject := rt.NewPromise()
	if err := h.inVU(method); err != nil {
		throw(rt, err)
	}
	for _, check := range checks {
		if err := check(); err != nil {
			_ = reject(jsError(rt, err))
			return rt.ToValue(promise)
		}
	}
	m, err := h.prepareMap(method, call, optsAt)
	if err != nil {
		_ = reject(rejection(rt, err))
		return rt.ToValue(promise)
	}
	if len(m.calls) == 0 {
		_ = resolve(rt.NewArray())
		return rt.ToValue(promise)
	}
	var each func(int, *pool.Task) // set once the tasks are submitted: it runs on this event loop, after
	tasks, err := h.submitAll(m, func(i int, t *pool.Task) { each(i, t) })
	if err != nil {
		_ = reject(rejection(rt, err))
		return rt.ToValue(promise)
	}
	each = start(tasks, resolve, reject)
	return rt.ToValue(promise)
}

// mapCall is a map-like call, read and not yet submitted.
type mapCall struct {
	method string
	name   string
	calls  []pool.Call
	sub    submission
	opts   callOptions
}

// submitAll submits a map-like call's tasks as submitAsync does each one,
// all together, so that a process pool may send them to its workers in
// chunks of opts.chunkSize (0: automatic); settled gets each task with its
// index. One watch of the VU's context serves the whole call: one per task
// costs a child of that context each, a map entry that a call of 100,000
// tasks makes expensive to add and to remove.
func (h *poolHandle) submitAll(m mapCall, settled func(int, *pool.Task)) ([]*pool.Task, error) {
	enqueues := make([]func(func() error), len(m.calls))
	for i := range enqueues {
		enqueues[i] = h.mi.vu.RegisterCallback()
	}
	// Set once SubmitAll returns: the callbacks run on this event loop, after.
	var stopWatching func() bool
	stopAborts := make([]func(), len(m.calls))
	remaining := len(m.calls) // on the event loop
	tasks, err := h.p.SubmitAll(m.name, m.calls, pool.WithTimeout(m.opts.Timeout), pool.WithChunkSize(m.opts.ChunkSize),
		pool.OnEachDone(func(i int, t *pool.Task) {
			enqueues[i](func() error {
				if remaining--; remaining == 0 {
					stopWatching()
				}
				stopAborts[i]()
				h.mi.pushTask(h.p, t, m.sub.tags)
				settled(i, t)
				return nil
			})
		}))
	if err != nil {
		for _, enqueue := range enqueues {
			enqueue(func() error { return nil }) // the event loop waits for no callback
		}
		if ce, ok := errors.AsType[*pool.CallError](err); ok {
			// A new error, not a wrapped one: scripts see the class and the
			// message of the *taskerr.Error that jsError finds.
			return nil, &elementError{err: taskerr.From(ce.Err), method: m.method, index: ce.Index}
		}
		return nil, err
	}
	h.announce()
	for i, t := range tasks {
		stopAborts[i] = h.mi.onAbort(m.sub.signal, t)
	}
	// Watch only once SubmitAll is done with them: a cancel may come at once.
	stopWatching = context.AfterFunc(h.mi.vu.Context(), func() {
		for _, t := range tasks {
			t.Cancel(vuStopped(t.Workload)) // a settled one stays as it is
		}
	})
	return tasks, nil
}

// prepareMap reads (workload, paramsArray, ..., opts): every element is
// converted, and checked by the pool if the call's signal is aborted already
// (the pool's checks speak first, as in prepare), before any task is
// submitted; SubmitAll checks them otherwise.
func (h *poolHandle) prepareMap(method string, call sobek.FunctionCall, optsAt int) (mapCall, error) {
	rt := h.mi.vu.Runtime()
	name, err := workloadArg(method, call.Argument(0))
	if err != nil {
		return mapCall{}, err
	}
	list, ok := call.Argument(1).(*sobek.Object)
	if !ok || list.ClassName() != "Array" {
		return mapCall{}, taskerr.New(taskerr.InvalidArgument,
			"%s(workload, paramsArray, ...): paramsArray must be an array of params objects, got %s",
			method, describeJS(call.Argument(1)))
	}
	opts, err := h.callOptions(method, call.Argument(optsAt))
	if err != nil {
		return mapCall{}, err
	}
	n := list.Get("length").ToInteger()
	if n > int64(pool.MaxQueueLimit) {
		return mapCall{}, taskerr.New(taskerr.InvalidArgument, "%s(): paramsArray has %d items; at most %d",
			method, n, pool.MaxQueueLimit)
	}
	calls := make([]pool.Call, n)
	for i := range n {
		params, text, err := paramsArg(rt, name, list.Get(fmt.Sprint(i)), fmt.Sprintf("paramsArray[%d]", i))
		if err != nil {
			return mapCall{}, &elementError{err: taskerr.From(err), index: int(i)}
		}
		calls[i] = pool.Call{Params: params, JSON: text}
	}
	m := mapCall{method: method, name: name, calls: calls, sub: h.submission(opts), opts: opts}
	if n == 0 {
		return m, nil
	}
	if aborted := m.sub.abortedAlready(name); aborted != nil {
		for i, c := range calls {
			if err := h.p.Validate(name, c.Params); err != nil {
				return mapCall{}, &elementError{err: taskerr.From(err), method: method, index: i}
			}
		}
		return mapCall{}, aborted
	}
	return m, nil
}

// cancelTasks cancels the tasks not settled yet with the error made for
// each: only those no worker has taken, or all of them.
func cancelTasks(tasks []*pool.Task, queuedOnly bool, errFor func(*pool.Task) *taskerr.Error) {
	for _, t := range tasks {
		if !queuedOnly || t.Queued() {
			t.Cancel(errFor(t))
		}
	}
}

// indexedError is the error of element i of a map-like call: the task's
// error with the index in its message and as err.index.
func indexedError(rt *sobek.Runtime, err *taskerr.Error, method string, i int) *sobek.Object {
	obj := jsError(rt, &taskerr.Error{Code: err.Code, Message: fmt.Sprintf("%s(): paramsArray[%d]: %s", method, i,
		err.Message)})
	_ = obj.Set("index", i)
	return obj
}

// elementError is a bad element of paramsArray, found before any task
// starts. method is set when err's message does not name the element yet.
type elementError struct {
	err    *taskerr.Error
	method string
	index  int
}

func (e *elementError) Error() string { return e.err.Message }

// rejection is the error a script sees for err: an element's, with its
// index, or else err's class.
func rejection(rt *sobek.Runtime, err error) *sobek.Object {
	if ee, ok := errors.AsType[*elementError](err); ok {
		return ee.js(rt)
	}
	return jsError(rt, err)
}

// js is the error a script sees: named for its class, with err.index.
func (e *elementError) js(rt *sobek.Runtime) *sobek.Object {
	if e.method != "" {
		return indexedError(rt, e.err, e.method, e.index)
	}
	obj := jsError(rt, e.err)
	_ = obj.Set("index", e.index)
	return obj
}

// settledResult is a task's outcome in Promise.allSettled's shape.
func (mi *ModuleInstance) settledResult(t *pool.Task) *sobek.Object {
	rt := mi.vu.Runtime()
	obj := rt.NewObject()
	if t.Err != nil {
		_ = obj.Set("status", "rejected")
		_ = obj.Set("reason", jsError(rt, t.Err))
		return obj
	}
	_ = obj.Set("status", "fulfilled")
	_ = obj.Set("value", mi.resultToJS(t))
	return obj
}

// thrownValue is what a JavaScript callback threw, for rejecting with it.
func thrownValue(rt *sobek.Runtime, err error) sobek.Value {
	if ex, ok := errors.AsType[*sobek.Exception](err); ok {
		return ex.Value()
	}
	return rt.NewGoError(err)
}

// startAll is `pool.start()`: a Promise that resolves once every worker is
// live, so a warm-up needs no polling. It rejects with WorkerStartError if a
// worker cannot start.
func (h *poolHandle) startAll(sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, reject := rt.NewPromise()
	if err := h.inVU("start"); err != nil {
		throw(rt, err)
	}
	h.start()
	enqueue := h.mi.vu.RegisterCallback()
	ctx := h.mi.vu.Context()
	go func() {
		err := h.p.WaitLive(ctx)
		enqueue(func() error {
			if err != nil {
				return reject(jsError(rt, err))
			}
			return resolve(sobek.Undefined())
		})
	}()
	return rt.ToValue(promise)
}

// close is `pool.close(opts?)`: a Promise that resolves once the pool's
// workers are gone. Without opts, queued and running tasks reject with
// PoolClosedError. With `{ drain: true }`, new tasks reject with
// PoolClosedError while the queued and running ones finish, then the
// workers stop; `timeout` bounds that wait. Closing twice is fine.
func (h *poolHandle) close(call sobek.FunctionCall) sobek.Value {
	rt := h.mi.vu.Runtime()
	promise, resolve, reject := rt.NewPromise()
	opts, err := h.closeOptions(call.Argument(0))
	if err != nil {
		_ = reject(jsError(rt, err))
		return rt.ToValue(promise)
	}
	if opts.Drain {
		h.p.Refuse() // now, so that the VU's next call is refused
	}
	enqueue := h.mi.vu.RegisterCallback()
	go func() {
		if opts.Drain {
			h.p.Drain(opts.Timeout)
		} else {
			h.p.Close()
		}
		enqueue(func() error { return resolve(sobek.Undefined()) })
	}()
	return rt.ToValue(promise)
}

func (h *poolHandle) closeOptions(v sobek.Value) (closeOptions, error) {
	if common.IsNullish(v) {
		return closeOptions{}, nil
	}
	raw, err := exportJSON(h.mi.vu.Runtime(), v, "close(): opts")
	if err != nil {
		return closeOptions{}, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return closeOptions{}, taskerr.New(taskerr.InvalidArgument, "close(opts?): opts must be an object, got %s",
			taskerr.Describe(raw))
	}
	return parseCloseOptions(m)
}
