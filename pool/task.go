package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// Task states: a task is settled exactly once, by whichever comes first of
// its worker, its timeout, a cancellation, a full queue or the pool closing.
// A worker claims a queued task before writing the fields that say where it
// runs, and only then marks it running, so a concurrent Cancel never reads
// them half-written.
const (
	queued uint32 = iota
	claiming
	running
	settled
	// sent: a process pool sent the task to a worker that is busy with as
	// many tasks as its concurrency (prefetch); it counts as queued, with no
	// timer, until the worker starts it.
	sent
)

// Task is one call of a workload, made and queued by Pool.Submit (or
// SubmitAll); the result fields are valid once OnDone is called.
type Task struct {
	// Workload is the workload's name.
	Workload string
	// Timeout overrides the pool's TaskTimeout when positive, and
	// NoTimeout removes it (WithTimeout).
	Timeout time.Duration
	// OnDone is called exactly once, from any goroutine, when the task
	// settles (the OnDone option).
	OnDone func(*Task)

	// Value is the workload's result: what the Go function returned, or what
	// a worker process sent, decoded from JSON.
	Value any
	// JSON is a worker process's result as it sent it (nil for thread pools
	// and failures), so a caller can decode it keeping its key order.
	JSON json.RawMessage
	// Err is the failure, or nil.
	Err *taskerr.Error
	// Submitted, Started and Finished are when the task was submitted, taken
	// by a worker (zero if it never was), and settled.
	Submitted, Started, Finished time.Time
	// RunTime is how long the workload ran, measured inside the worker.
	RunTime time.Duration
	// Workers is the pool's size when the task was dispatched or rejected.
	Workers int

	spec   *workload.Spec
	args   workload.Args
	params []byte // JSON, for process pools

	pool  *Pool
	state atomic.Uint32
	// inQueue is guarded by the pool's ledger, as the queue's links are. It
	// sits next to state, in what would be padding, so that a Task stays
	// within its 320-byte allocation size class (TestTaskSizeClass); so
	// does the timeout in force, which timeout() works out when needed.
	inQueue bool
	cancel  context.CancelFunc // thread pools: stops the workload
	ctx     context.Context    // thread pools: the workload's, made when a worker takes the task
	// The queue's links, guarded by the pool's ledger.
	qnext, qprev *Task
	// Process pools: the slot the request is in flight on.
	slot *procSlot
	// group marks the tasks of one call that may travel in one chunk
	// (SubmitAll); nil for a task on its own.
	group *chunkGroup
}

// Wait is the time the task spent queued before a worker took it.
func (t *Task) Wait() time.Duration {
	if t.Started.IsZero() {
		return 0
	}
	return t.Started.Sub(t.Submitted)
}

// Overhead is the time from submission to result that was neither waiting in
// the queue nor running the workload: dispatch, and for process pools the
// pipe round trip and the encoding. Wait + Overhead + RunTime is the whole.
func (t *Task) Overhead() time.Duration {
	if t.Started.IsZero() {
		return 0
	}
	return max(t.Finished.Sub(t.Started)-t.RunTime, 0)
}

// Ran reports whether a worker took the task.
func (t *Task) Ran() bool { return !t.Started.IsZero() }

// claim takes a queued task for a worker; false means it settled while queued
// (cancelled, or rejected by a closing pool) and must be skipped. After a
// successful claim the worker sets where the task runs and calls start.
func (t *Task) claim(workers int) bool {
	return t.pool.led.claim(t, workers)
}

// start ends the claim: from here on Cancel and timeouts can settle the task.
func (t *Task) start() { t.state.Store(running) }

// fail settles the task with err and calls OnDone, unless the task settled
// already. It returns whether it settled the task and the state it was in.
// run is how long the workload ran (or had run, for a timeout).
func (t *Task) fail(err *taskerr.Error, run time.Duration) (bool, uint32) {
	ok, s := t.mark(nil, err, run, false)
	if ok {
		t.OnDone(t)
	}
	return ok, s
}

// release settles t with value or err, for whoever is done with it, and
// gives back its place (a worker, or a task taken out of the queue that never
// reached one): the place goes back in the same step as the count, whether t
// settles now or settled before. then runs before OnDone: it frees the
// worker, so that whoever the result wakes finds it free.
func (t *Task) release(value any, err *taskerr.Error, run time.Duration, then func()) {
	ok, _ := t.mark(value, err, run, true)
	if then != nil {
		then()
	}
	if ok {
		t.OnDone(t)
	}
}

// mark settles the task in the ledger (giving back its place too, with
// release) and records the outcome, unless it settled already; it says
// whether it did and the state the task was in.
func (t *Task) mark(value any, err *taskerr.Error, run time.Duration, release bool) (bool, uint32) {
	for {
		s := t.state.Load()
		if s == claiming {
			runtime.Gosched() // a worker is between claim and start: nanoseconds
			continue
		}
		done, won := t.pool.led.settle(t, s, err != nil, release)
		if !done {
			continue // the state changed meanwhile
		}
		if won {
			t.Finished = time.Now()
			t.Value, t.Err, t.RunTime = value, err, run
			if w, ok := value.(workerValue); ok {
				t.Value, t.JSON = w.value, w.json
			}
		}
		return won, s
	}
}

// Cancel settles the task with err if it has not settled yet, and stops its
// work if it is running: a thread pool cancels the workload's context, a
// process pool sends the worker a cancel for the request and kills the
// worker if it does not answer within CancelGrace. A queued task leaves the
// queue at once. It is for callers that no longer need the result, such as a
// VU that k6 stopped.
func (t *Task) Cancel(err *taskerr.Error) bool {
	// The state first: a task reaches sent or running after its slot is set.
	if s := t.state.Load(); (s == sent || s == running) && t.slot != nil {
		t.slot.cancelSent(t) // before t fails: see procSlot.cancelSent
	}
	ok, was := t.fail(err, t.pool.led.runningFor(t))
	if !ok || (was != running && was != sent) {
		return ok
	}
	if t.cancel != nil {
		t.cancel()
	}
	if t.slot != nil {
		t.slot.abandon(t, fmt.Sprintf("task %s was cancelled (%s)", t.Workload, err.Message))
	}
	return true
}

// timeout is how long t may run once a worker took it: its own Timeout,
// none for NoTimeout, else the pool's TaskTimeout; 0 is none.
func (t *Task) timeout() time.Duration {
	switch {
	case t.Timeout == NoTimeout:
		return 0
	case t.Timeout > 0:
		return t.Timeout
	}
	return t.pool.cfg.TaskTimeout
}
