package jsworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/grafana/sobek"
	sobekencoding "github.com/grafana/sobek-webapi-encoding"
	"github.com/sirupsen/logrus"
	"go.k6.io/k6/v2/js/common"
)

// What a worker runtime offers, beside the ECMAScript built-ins:
//   - ES modules, importing local files (./, ../, /) read with the module;
//   - console.log, info, warn, error and debug, to k6's log with the pool and
//     the worker;
//   - setTimeout, clearTimeout, setInterval and clearInterval, and promises:
//     an export may be async, or return a promise;
//   - TextEncoder and TextDecoder (the Web API, as k6 has them);
//   - the k6 module k6/encoding (b64encode, b64decode), see builtin.go.
//
// It has no VU, so no k6 module (k6/http, k6/execution, ...): importing one
// fails where the pool is made, naming it. open() throws, naming itself:
// read files in the script's init context and pass them in params.

// worker is one worker's runtime: the module evaluated once, its exports.
type worker struct {
	rt     *sobek.Runtime
	loop   *loop
	main   sobek.ModuleRecord
	fns    map[string]sobek.Callable
	parse  sobek.Callable // JSON.parse
	encode sobek.Callable // JSON.stringify
}

// newWorker makes a runtime and evaluates the module in it: its top level is
// the worker's initializer. ctx bounds the evaluation (top-level await too).
func newWorker(ctx context.Context, m *Module, id int, log logrus.FieldLogger) (*worker, error) {
	rt := sobek.New()
	rt.SetFieldNameMapper(common.FieldNameMapper{})
	w := &worker{rt: rt, loop: newLoop(rt), fns: make(map[string]sobek.Callable)}
	if err := w.globals(log.WithFields(logrus.Fields{"worker": id, "source": "console"})); err != nil {
		return nil, err
	}
	recs, err := m.parse()
	if err != nil {
		return nil, err
	}
	main := recs.byPath[m.Main]
	if err := main.Link(); err != nil {
		return nil, err
	}
	err = w.guard(ctx, func() error {
		_, err := w.loop.await(ctx, rt.CyclicModuleRecordEvaluate(main, recs.resolve))
		return err
	})
	w.loop.reset() // timers run only while the top level or an export is awaited
	if err != nil {
		return nil, err
	}
	w.main = main
	return w, nil
}

// globals defines what the runtime offers beyond ECMAScript (see above),
// and keeps JSON.parse and JSON.stringify, which carry params and values.
func (w *worker) globals(log logrus.FieldLogger) error {
	rt := w.rt
	codec := rt.Get("JSON").ToObject(rt)
	var ok bool
	if w.parse, ok = sobek.AssertFunction(codec.Get("parse")); !ok {
		return errors.New("JSON.parse is missing")
	}
	if w.encode, ok = sobek.AssertFunction(codec.Get("stringify")); !ok {
		return errors.New("JSON.stringify is missing")
	}
	if err := w.loop.install(); err != nil {
		return err
	}
	if err := sobekencoding.RegisterGlobally(rt); err != nil {
		return err
	}
	if err := defineBuiltins(rt); err != nil {
		return err
	}
	if err := rt.Set("console", newConsole(rt, log)); err != nil {
		return err
	}
	return rt.Set("open", func(sobek.FunctionCall) sobek.Value {
		e, err := rt.New(rt.Get("Error"), rt.ToValue("open() is not available in a pool worker: "+
			"read the file in the script's init context and pass its contents in the task's params"))
		if err != nil {
			panic(err)
		}
		panic(e)
	})
}

// errInterrupted is what a runtime is interrupted with when its task's
// context ends.
var errInterrupted = errors.New("interrupted")

// guard runs fn, interrupting the JavaScript it runs when ctx ends, and
// leaves the runtime ready for the next call.
func (w *worker) guard(ctx context.Context, fn func() error) error {
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		w.rt.Interrupt(errInterrupted)
		close(interrupted)
	})
	err := fn()
	if !stop() {
		<-interrupted // the interrupt is set: clear it only once it is
	}
	w.rt.ClearInterrupt()
	var ie *sobek.InterruptedError
	if errors.As(err, &ie) || (err != nil && ctx.Err() != nil) {
		return ctx.Err()
	}
	return err
}

// call runs the export name with params and returns its value as plain
// JSON data, awaiting it if it is a promise.
func (w *worker) call(ctx context.Context, name string, params map[string]any) (any, error) {
	fn, err := w.export(name)
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = map[string]any{}
	}
	in, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	var out sobek.Value
	err = w.guard(ctx, func() error {
		arg, err := w.parse(sobek.Undefined(), w.rt.ToValue(string(in)))
		if err != nil {
			return err
		}
		v, err := fn(sobek.Undefined(), arg)
		if err != nil {
			return err
		}
		if p, ok := v.Export().(*sobek.Promise); ok {
			if v, err = w.loop.await(ctx, p); err != nil {
				return err
			}
		}
		out, err = w.encode(sobek.Undefined(), v)
		return err
	})
	w.loop.reset()
	if err != nil {
		return nil, err
	}
	if sobek.IsUndefined(out) {
		return nil, nil // undefined, a function or a symbol: JSON has no such value
	}
	// The text JSON.stringify made, as it is: its key order is the value's.
	return json.RawMessage(out.String()), nil
}

// export finds an exported function.
func (w *worker) export(name string) (sobek.Callable, error) {
	if fn, ok := w.fns[name]; ok {
		return fn, nil
	}
	// Through ResolveExport: a re-export (export * from, export { f } from)
	// is bound in the module that defines it.
	var value sobek.Value
	if b, ambiguous := w.main.ResolveExport(name); !ambiguous && b != nil && b.Module != nil {
		value = w.rt.GetModuleInstance(b.Module).GetBindingValue(b.BindingName)
	}
	fn, ok := sobek.AssertFunction(value)
	if !ok {
		return nil, fmt.Errorf("the export %q is not a function", name)
	}
	w.fns[name] = fn
	return fn, nil
}

// location finds "file:line:col" in a stack trace line.
var location = regexp.MustCompile(`\(?([^\s()]+:\d+:\d+)`)

// describe turns what JavaScript threw (or a promise rejected with) into a
// message with the thrown message and where it was thrown.
func describe(err error) string {
	var thrown sobek.Value
	var ex *sobek.Exception
	var rej *rejection
	switch {
	case errors.As(err, &ex):
		thrown = ex.Value()
	case errors.As(err, &rej):
		thrown = rej.value
		if e, ok := thrown.Export().(*sobek.Exception); ok { // a module's top level threw
			ex, thrown = e, e.Value()
		}
	default:
		return err.Error()
	}
	msg, where := jsMessage(thrown)
	if where == "" && ex != nil {
		for _, f := range ex.Stack() {
			if p := f.Position(); f.SrcName() != "" && p.Line > 0 {
				where = fmt.Sprintf("%s:%d:%d", f.SrcName(), p.Line, p.Column)
				break
			}
		}
	}
	if where == "" {
		return msg
	}
	return msg + " at " + where
}

// jsMessage is an Error's "Name: message" and the first place in its
// stack, or any other value's string.
func jsMessage(v sobek.Value) (msg, where string) {
	if v == nil {
		return "undefined", ""
	}
	o, ok := v.(*sobek.Object)
	if !ok || o.ClassName() != "Error" {
		return v.String(), ""
	}
	msg = o.String()
	if stack := o.Get("stack"); stack != nil && !sobek.IsUndefined(stack) {
		lines := strings.Split(stack.String(), "\n")
		for _, l := range lines[1:] {
			if m := location.FindStringSubmatch(l); m != nil {
				return msg, m[1]
			}
		}
	}
	return msg, ""
}
