package jsworker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/sobek"
)

// loop is a worker runtime's event loop, as small as async exports need:
// timers queue their callbacks here, and await runs them on the worker's
// goroutine until a promise settles. Promise jobs (microtasks) are sobek's:
// they run after every call into JavaScript.
type loop struct {
	rt *sobek.Runtime

	mu     sync.Mutex
	queue  []func() error
	timers map[int64]*time.Timer
	nextID int64
	gen    int64 // bumped by reset: callbacks of older timers are dropped
	wake   chan struct{}
}

func newLoop(rt *sobek.Runtime) *loop {
	return &loop{rt: rt, timers: make(map[int64]*time.Timer), wake: make(chan struct{}, 1)}
}

// errNeverSettles is a promise with nothing left that could settle it.
var errNeverSettles = errors.New("returned a promise that can never settle: no timer is pending")

// install defines setTimeout, clearTimeout, setInterval and clearInterval.
func (l *loop) install() error {
	set := func(repeat bool) func(sobek.FunctionCall) sobek.Value {
		return func(call sobek.FunctionCall) sobek.Value {
			fn, ok := sobek.AssertFunction(call.Argument(0))
			if !ok {
				panic(l.rt.NewTypeError("the first argument must be a function"))
			}
			delay := time.Duration(max(call.Argument(1).ToFloat(), 0) * float64(time.Millisecond))
			var args []sobek.Value
			if len(call.Arguments) > 2 {
				args = call.Arguments[2:]
			}
			return l.rt.ToValue(l.schedule(fn, delay, repeat, args))
		}
	}
	clearTimer := func(call sobek.FunctionCall) sobek.Value {
		l.clear(call.Argument(0).ToInteger())
		return sobek.Undefined()
	}
	for name, fn := range map[string]any{
		"setTimeout": set(false), "setInterval": set(true), "clearTimeout": clearTimer, "clearInterval": clearTimer,
	} {
		if err := l.rt.Set(name, fn); err != nil {
			return err
		}
	}
	return nil
}

// schedule starts a timer whose callback runs on the loop.
func (l *loop) schedule(fn sobek.Callable, delay time.Duration, repeat bool, args []sobek.Value) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextID++
	id, gen := l.nextID, l.gen
	fire := func() {
		l.post(gen, func() error {
			l.mu.Lock()
			t, live := l.timers[id]
			if live && repeat {
				t.Reset(delay)
			} else {
				delete(l.timers, id)
			}
			l.mu.Unlock()
			if !live {
				return nil // cleared after it fired
			}
			_, err := fn(sobek.Undefined(), args...)
			return err
		})
	}
	l.timers[id] = time.AfterFunc(delay, fire)
	return id
}

func (l *loop) clear(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.timers[id]; ok {
		t.Stop()
		delete(l.timers, id)
	}
}

// post queues a callback of timer generation gen.
func (l *loop) post(gen int64, cb func() error) {
	l.mu.Lock()
	if gen == l.gen {
		l.queue = append(l.queue, cb)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// reset stops every timer and drops queued callbacks: what a task left
// behind does not run in the next one.
func (l *loop) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, t := range l.timers {
		t.Stop()
		delete(l.timers, id)
	}
	l.queue = nil
	l.gen++
}

// await runs queued callbacks until p settles, and returns its value, or
// its rejection as an error. It gives up when ctx is done.
func (l *loop) await(ctx context.Context, p *sobek.Promise) (sobek.Value, error) {
	for p.State() == sobek.PromiseStatePending {
		l.mu.Lock()
		queue, pending := l.queue, len(l.timers)
		l.queue = nil
		l.mu.Unlock()
		for _, cb := range queue {
			if err := cb(); err != nil {
				return nil, err
			}
		}
		if len(queue) > 0 {
			continue
		}
		if pending == 0 {
			return nil, errNeverSettles
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if p.State() == sobek.PromiseStateRejected {
		return nil, &rejection{value: p.Result()}
	}
	return p.Result(), nil
}

// rejection is a promise's rejection value.
type rejection struct{ value sobek.Value }

func (r *rejection) Error() string { return fmt.Sprint(r.value) }
