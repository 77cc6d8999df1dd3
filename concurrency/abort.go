package concurrency

import (
	"github.com/grafana/sobek"
	"go.k6.io/k6/v2/js/common"

	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// k6 has no global AbortController, so the module exports one in the web
// platform's shape (https://dom.spec.whatwg.org/#interface-abortcontroller):
// `new AbortController()`, `controller.signal`, `controller.abort(reason?)`,
// `signal.aborted`, `signal.reason`, `signal.throwIfAborted()`,
// `signal.addEventListener('abort', fn)`, `signal.onabort`, and
// `AbortSignal.abort(reason?)`. A signal lives on the VU that made it; every
// method runs on that VU's goroutine, so it needs no lock.

// abortSignal is the Go side of one AbortSignal.
type abortSignal struct {
	obj     *sobek.Object
	aborted bool
	reason  sobek.Value
	// tasks are the tasks waiting on the signal, by id, so that a task
	// that settles first can leave without a scan.
	tasks  map[uint64]*pool.Task
	nextID uint64
	// listeners are the script's addEventListener('abort', fn) functions,
	// in order; onabort takes its place among them when first set, as the
	// DOM's event handler attributes do.
	listeners []sobek.Value
	onabort   sobek.Value
	handlerAt int // index of onabort's place in listeners, or -1
}

// abortClasses are the AbortController and AbortSignal constructors of one
// VU, and the hidden key that ties a JS signal to its Go side.
type abortClasses struct {
	controller, signal *sobek.Object
	signalProto        *sobek.Object
	key                *sobek.Symbol
}

// defineAbort makes the constructors on rt.
func (mi *ModuleInstance) defineAbort() *abortClasses {
	rt := mi.vu.Runtime()
	c := &abortClasses{key: sobek.NewSymbol("xk6-concurrency signal")}
	c.signal = rt.ToValue(func(sobek.ConstructorCall) *sobek.Object {
		panic(rt.NewTypeError("Illegal constructor: AbortSignal comes from new AbortController() or AbortSignal.abort()"))
	}).ToObject(rt)
	c.signalProto = c.signal.Get("prototype").ToObject(rt)
	mustSet(rt, c.signal, "abort", func(call sobek.FunctionCall) sobek.Value {
		s := mi.newSignal(c)
		mi.abortSignal(s, call.Argument(0))
		return s.obj
	})
	c.controller = rt.ToValue(func(call sobek.ConstructorCall) *sobek.Object {
		s := mi.newSignal(c)
		mustDefine(rt, call.This, "signal", func() sobek.Value { return s.obj })
		mustSet(rt, call.This, "abort", func(call sobek.FunctionCall) sobek.Value {
			mi.abortSignal(s, call.Argument(0))
			return sobek.Undefined()
		})
		return call.This
	}).ToObject(rt)
	return c
}

// newSignal makes a signal object whose prototype is AbortSignal.prototype,
// so that `instanceof AbortSignal` holds.
func (mi *ModuleInstance) newSignal(c *abortClasses) *abortSignal {
	rt := mi.vu.Runtime()
	s := &abortSignal{
		obj: rt.NewObject(), reason: sobek.Undefined(), tasks: map[uint64]*pool.Task{},
		onabort: sobek.Null(), handlerAt: -1,
	}
	_ = s.obj.SetPrototype(c.signalProto)
	_ = s.obj.DefineDataPropertySymbol(c.key, rt.ToValue(s), sobek.FLAG_FALSE, sobek.FLAG_FALSE, sobek.FLAG_FALSE)
	mustDefine(rt, s.obj, "aborted", func() sobek.Value { return rt.ToValue(s.aborted) })
	mustDefine(rt, s.obj, "reason", func() sobek.Value { return s.reason })
	mustSet(rt, s.obj, "throwIfAborted", func(sobek.FunctionCall) sobek.Value {
		if s.aborted {
			panic(s.reason)
		}
		return sobek.Undefined()
	})
	mustSet(rt, s.obj, "addEventListener", func(call sobek.FunctionCall) sobek.Value {
		if call.Argument(0).String() == "abort" {
			if _, ok := sobek.AssertFunction(call.Argument(1)); ok {
				s.listeners = append(s.listeners, call.Argument(1))
			}
		}
		return sobek.Undefined()
	})
	mustSet(rt, s.obj, "removeEventListener", func(call sobek.FunctionCall) sobek.Value {
		for i, l := range s.listeners {
			if call.Argument(0).String() == "abort" && l != nil && l.SameAs(call.Argument(1)) {
				s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
				break
			}
		}
		return sobek.Undefined()
	})
	getter := rt.ToValue(func(sobek.FunctionCall) sobek.Value { return s.onabort })
	setter := rt.ToValue(func(call sobek.FunctionCall) sobek.Value {
		s.onabort = call.Argument(0)
		if _, ok := sobek.AssertFunction(s.onabort); ok && s.handlerAt < 0 {
			s.handlerAt = len(s.listeners)
			s.listeners = append(s.listeners, nil) // nil: call onabort here
		}
		return sobek.Undefined()
	})
	if err := s.obj.DefineAccessorProperty("onabort", getter, setter, sobek.FLAG_FALSE, sobek.FLAG_TRUE); err != nil {
		panic(err)
	}
	return s
}

// abortSignal aborts s with reason (the web's default reason when
// undefined): first the tasks waiting on it are cancelled, then the script's
// listeners run, as the DOM standard orders them. A listener that throws is
// logged, not rethrown into abort()'s caller, as in a browser.
func (mi *ModuleInstance) abortSignal(s *abortSignal, reason sobek.Value) {
	if s.aborted {
		return
	}
	rt := mi.vu.Runtime()
	if reason == nil || sobek.IsUndefined(reason) {
		reason = jsError(rt, taskerr.New(taskerr.Aborted, "signal is aborted without reason"))
	}
	s.aborted, s.reason = true, reason
	tasks := s.tasks
	s.tasks = nil
	// Queued tasks first: cancelling a running one frees its worker, which
	// must not take a queued task that is about to be cancelled.
	for _, queuedOnly := range []bool{true, false} {
		for _, t := range tasks {
			if !queuedOnly || t.Queued() {
				t.Cancel(abortError(t.Workload, reason))
			}
		}
	}
	event := rt.NewObject()
	_ = event.Set("type", "abort")
	_ = event.Set("target", s.obj)
	for _, h := range s.listeners {
		if h == nil {
			h = s.onabort
		}
		fn, ok := sobek.AssertFunction(h)
		if !ok {
			continue
		}
		if _, err := fn(s.obj, event); err != nil {
			mi.logger().WithError(err).Warn("an AbortSignal 'abort' listener threw")
		}
	}
}

// signalRef is the `signal` of a call's opts: one of this module's signals,
// or any object in the AbortSignal shape (a global AbortController's, in a
// k6 that has one).
type signalRef struct {
	ours    *abortSignal
	foreign *sobek.Object
}

// parseSignal reads opts.signal: undefined or an AbortSignal.
func (mi *ModuleInstance) parseSignal(method string, v sobek.Value) (*signalRef, error) {
	if common.IsNullish(v) {
		return nil, nil //nolint:nilnil // no signal: the call cannot be aborted
	}
	bad := taskerr.New(taskerr.InvalidArgument,
		"%s(): option \"signal\" must be an AbortSignal (new AbortController().signal), got %s", method, describeJS(v))
	obj, ok := v.(*sobek.Object)
	if !ok {
		return nil, bad
	}
	if v := obj.GetSymbol(mi.abort.key); v != nil {
		if s, ok := v.Export().(*abortSignal); ok {
			return &signalRef{ours: s}, nil
		}
	}
	_, isBool := exported(obj.Get("aborted")).(bool)
	_, canListen := sobek.AssertFunction(obj.Get("addEventListener"))
	_, canRemove := sobek.AssertFunction(obj.Get("removeEventListener"))
	if !isBool || !canListen || !canRemove {
		return nil, bad
	}
	return &signalRef{foreign: obj}, nil
}

// aborted reports whether the signal is aborted already.
func (r *signalRef) aborted() bool {
	if r.ours != nil {
		return r.ours.aborted
	}
	b, _ := exported(r.foreign.Get("aborted")).(bool)
	return b
}

// exported is v.Export(), or nil for a property that is not there.
func exported(v sobek.Value) any {
	if v == nil {
		return nil
	}
	return v.Export()
}

// reason is the signal's abort reason.
func (r *signalRef) reason() sobek.Value {
	if r.ours != nil {
		return r.ours.reason
	}
	return r.foreign.Get("reason")
}

// onAbort cancels t with AbortError (on the VU's goroutine) when the signal
// aborts, until the returned stop is called.
func (mi *ModuleInstance) onAbort(r *signalRef, t *pool.Task) (stop func()) {
	if r == nil {
		return func() {}
	}
	if s := r.ours; s != nil {
		id := s.nextID
		s.nextID++
		s.tasks[id] = t
		return func() {
			if s.tasks != nil {
				delete(s.tasks, id)
			}
		}
	}
	rt := mi.vu.Runtime()
	listener := rt.ToValue(func(sobek.FunctionCall) sobek.Value {
		t.Cancel(abortError(t.Workload, r.reason()))
		return sobek.Undefined()
	})
	add, _ := sobek.AssertFunction(r.foreign.Get("addEventListener"))
	remove, _ := sobek.AssertFunction(r.foreign.Get("removeEventListener"))
	if _, err := add(r.foreign, rt.ToValue("abort"), listener); err != nil {
		mi.logger().WithError(err).Warn("signal.addEventListener threw; the task cannot be aborted")
	}
	return func() { _, _ = remove(r.foreign, rt.ToValue("abort"), listener) }
}

// abortError is the failure of a task cancelled by a signal with reason.
func abortError(workloadName string, reason sobek.Value) *taskerr.Error {
	return taskerr.New(taskerr.Aborted, "%s was aborted: %s", workloadName, reasonText(reason))
}

// reasonText words an abort reason: an Error's message, or the value as text.
func reasonText(reason sobek.Value) string {
	if obj, ok := reason.(*sobek.Object); ok {
		if msg := obj.Get("message"); msg != nil && !sobek.IsUndefined(msg) {
			return msg.String()
		}
	}
	if reason == nil || sobek.IsUndefined(reason) {
		return "signal is aborted without reason"
	}
	return reason.String()
}

func mustSet(rt *sobek.Runtime, obj *sobek.Object, name string, fn func(sobek.FunctionCall) sobek.Value) {
	if err := obj.DefineDataProperty(name, rt.ToValue(fn), sobek.FLAG_TRUE, sobek.FLAG_FALSE,
		sobek.FLAG_TRUE); err != nil {
		panic(err)
	}
}

func mustDefine(rt *sobek.Runtime, obj *sobek.Object, name string, get func() sobek.Value) {
	getter := rt.ToValue(func(sobek.FunctionCall) sobek.Value { return get() })
	if err := obj.DefineAccessorProperty(name, getter, nil, sobek.FLAG_FALSE, sobek.FLAG_TRUE); err != nil {
		panic(err)
	}
}
