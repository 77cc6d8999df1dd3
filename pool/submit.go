package pool

import (
	"fmt"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// Option sets something of the tasks of one Submit or SubmitAll call, as
// alitto/pond's options do.
type Option func(*submitOptions)

// submitOptions is what the Options of one call set.
type submitOptions struct {
	timeout    time.Duration
	paramsJSON []byte
	onDone     func(*Task)
	onEachDone func(i int, t *Task)
	chunkSize  int
}

// NoTimeout is the WithTimeout of a task that runs without a timeout.
const NoTimeout time.Duration = -1

// WithTimeout bounds how long each task may run once a worker took it, in
// place of the pool's TaskTimeout; 0 keeps the pool's.
//
// NoTimeout runs the task with none, whatever the pool's TaskTimeout; 0 (or
// no WithTimeout) leaves the pool's.
func WithTimeout(d time.Duration) Option {
	return func(o *submitOptions) { o.timeout = d }
}

// WithParamsJSON gives Submit the caller's JSON encoding of params, which a
// process pool sends as it is (a map has no key order; the caller's text
// keeps the script's). A thread pool, or empty params, ignore it. SubmitAll
// takes each task's text in its Call instead.
func WithParamsJSON(b []byte) Option {
	return func(o *submitOptions) { o.paramsJSON = b }
}

// OnDone sets the function called exactly once for each task, from any
// goroutine, when it settles: the task's result fields are valid then. It
// is required.
func OnDone(fn func(*Task)) Option {
	return func(o *submitOptions) { o.onDone = fn }
}

// OnEachDone is OnDone for SubmitAll, with the task's index in its calls;
// given with OnDone, it takes its place.
func OnEachDone(fn func(i int, t *Task)) Option {
	return func(o *submitOptions) { o.onEachDone = fn }
}

// WithChunkSize lets SubmitAll send its tasks to a process pool's workers
// in chunks of at most n (see SubmitAll); 0 is AutoChunkSize, 1 is one by
// one. Submit ignores it.
func WithChunkSize(n int) Option {
	return func(o *submitOptions) { o.chunkSize = n }
}

// Call is one task of a SubmitAll call: its params, and optionally their
// JSON text as WithParamsJSON takes it.
type Call struct {
	Params map[string]any
	JSON   []byte
}

// CallError is the error of SubmitAll when one of its calls is invalid: no
// task was submitted. Err is the call's InvalidArgument or UnknownWorkload.
type CallError struct {
	Index int
	Err   error
}

// Error implements error.
func (e *CallError) Error() string { return fmt.Sprintf("calls[%d]: %s", e.Index, e.Err) }

// Unwrap returns the call's own error, for errors.As and errors.Is.
func (e *CallError) Unwrap() error { return e.Err }

// Submit validates a call of the workload name and queues it as a task. A
// thread pool, and a process pool whose workers serve its Registry
// (SameRegistry), check name and params now: the error is InvalidArgument
// or UnknownWorkload and names the workload and the param. A process pool
// whose workers are another program checks them against the worker's hello
// when the task reaches a worker. Once queued, Submit never blocks: a full
// queue or a closed pool settles the task at once, with QueueFull or
// PoolClosed, through OnDone, which is required.
func (p *Pool) Submit(name string, params map[string]any, opts ...Option) (*Task, error) {
	o, err := bindOptions(opts)
	if err != nil {
		return nil, err
	}
	t, err := p.prepare(name, params, &o, 0)
	if err != nil {
		return nil, err
	}
	p.submit(t)
	return t, nil
}

// Validate checks a call as Submit would, without submitting it.
func (p *Pool) Validate(name string, params map[string]any) error {
	_, err := p.prepare(name, params, &submitOptions{}, 0)
	return err
}

// SubmitAll is Submit for the tasks of one call over many params, as
// Python's Pool.map: every call is validated before any task is queued (an
// invalid one is a *CallError), then all are queued before any is
// dispatched, so that a process pool may send them to a worker in chunks
// (WithChunkSize). A thread pool, a chunk size of 1, workers whose hello
// does not list ipc.FeatureBatch and pools with MaxTasksPerWorker send them
// one by one: then the chunk size changes nothing but speed.
func (p *Pool) SubmitAll(name string, calls []Call, opts ...Option) ([]*Task, error) {
	o, err := bindOptions(opts)
	if err != nil {
		return nil, err
	}
	tasks := make([]*Task, len(calls))
	for i, c := range calls {
		oi := o
		oi.paramsJSON = c.JSON
		if tasks[i], err = p.prepare(name, c.Params, &oi, i); err != nil {
			return nil, &CallError{Index: i, Err: err}
		}
	}
	chunkSize := o.chunkSize
	if chunkSize == 0 {
		chunkSize = p.AutoChunkSize(len(tasks))
	}
	p.submitChunked(tasks, chunkSize)
	return tasks, nil
}

// bindOptions applies opts and checks that OnDone is among them.
func bindOptions(opts []Option) (submitOptions, error) {
	var o submitOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.onDone == nil && o.onEachDone == nil {
		return o, taskerr.New(taskerr.InvalidArgument, "pool.Submit: the OnDone (or OnEachDone) option is required")
	}
	return o, nil
}
