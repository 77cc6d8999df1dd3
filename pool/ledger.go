package pool

import (
	"sync"
	"sync/atomic"
	"time"
)

// ledger is a pool's queue and its counts, under one mutex: every change of
// a task's state and place (submitted, queued, taken by a worker, settled,
// given back) happens with its counts in one step, so that Stats sees each
// task in exactly one place and submitted == completed + failed + queued +
// busy at every moment. (Only claiming -> running, which changes no count,
// is outside.)
//
// Places: a task admitted holds a place (held) from Submit until a worker is
// done with it, or until it leaves the queue without reaching one. Whoever
// takes a task out of the queue releases its place, unless it hands the task
// to a worker; then the worker releases it when it is done. A task settled
// while queued (cancelled) is taken out of the queue at once.
type ledger struct {
	mu         sync.Mutex
	head, tail *Task        // the queue, oldest first; linked through Task.qnext/qprev
	length     atomic.Int64 // written under mu; read without it by pump

	submitted, completed, failed int64
	waiting                      int64 // unsettled and not taken by a worker: Stats.Queued
	busy                         int64 // unsettled and taken by a worker: Stats.Busy
	// held counts places: tasks in the queue (or on their way to a
	// worker), plus tasks a worker still holds, settled or not. It is
	// what admission compares with maxQueue plus what the workers hold;
	// held - waiting - busy is the settled tasks that still hold a worker.
	held int64
	peak int64

	// ready gets a token when a task is queued, for the goroutines that
	// wait for one (a process pool's seat whose worker cannot start).
	ready chan struct{}
}

func newLedger() *ledger { return &ledger{ready: make(chan struct{}, 1)} }

// enter counts a submitted task, not admitted (it settles at once).
func (l *ledger) enter() {
	l.mu.Lock()
	l.submitted++
	l.waiting++
	l.mu.Unlock()
}

// admit counts a submitted task and queues it, unless the pool already
// holds limit places; false means t was counted but not queued.
func (l *ledger) admit(t *Task, limit int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.submitted++
	l.waiting++
	if l.held >= limit {
		return false
	}
	l.held++
	l.pushLocked(t, false)
	return true
}

func (l *ledger) pushLocked(t *Task, front bool) {
	t.inQueue = true
	switch {
	case l.head == nil:
		l.head, l.tail = t, t
	case front:
		t.qnext, l.head.qprev, l.head = l.head, t, t
	default:
		t.qprev, l.tail.qnext, l.tail = l.tail, t, t
	}
	l.length.Add(1)
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// requeue puts a task taken out of the queue back at its head, place and
// all: the worker it was meant for is leaving.
func (l *ledger) requeue(t *Task) {
	l.mu.Lock()
	l.pushLocked(t, true)
	l.mu.Unlock()
}

func (l *ledger) removeLocked(t *Task) {
	if t.qprev != nil {
		t.qprev.qnext = t.qnext
	} else {
		l.head = t.qnext
	}
	if t.qnext != nil {
		t.qnext.qprev = t.qprev
	} else {
		l.tail = t.qprev
	}
	t.qnext, t.qprev, t.inQueue = nil, nil, false
	l.length.Add(-1)
}

// pop takes the oldest task out of the queue, or returns nil. Its place
// goes with it: the caller hands it to a worker or calls release.
func (l *ledger) pop() *Task {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.head
	if t != nil {
		l.removeLocked(t)
	}
	return t
}

// len is how many tasks are in the queue.
func (l *ledger) len() int { return int(l.length.Load()) }

// release gives back a place: a worker is done with its task, or a task
// taken out of the queue never reached one.
func (l *ledger) release() {
	l.mu.Lock()
	l.held--
	l.mu.Unlock()
}

// claim moves a queued task to a worker (state claiming) and counts it;
// false means it settled already.
func (l *ledger) claim(t *Task, workers int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.state.CompareAndSwap(queued, claiming) {
		return false
	}
	t.Started = time.Now()
	t.Workers = workers
	l.waiting--
	l.busy++
	return true
}

// runningFor is how long t has run, 0 unless it runs. It reads Started
// under the lock that claim and begin write it under: a worker may start t
// (state, then Started) while a caller cancels it.
func (l *ledger) runningFor(t *Task) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.state.Load() != running {
		return 0
	}
	return time.Since(t.Started)
}

// prefetch moves a queued task to a worker's input (state sent), where it
// still counts as waiting; false means it settled already.
func (l *ledger) prefetch(t *Task, workers int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.state.CompareAndSwap(queued, sent) {
		return false
	}
	t.Workers = workers
	return true
}

// begin counts a sent task as started, when its worker starts it; false
// means it settled already (cancelled while it waited in the worker).
func (l *ledger) begin(t *Task) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.state.CompareAndSwap(sent, running) {
		return false
	}
	t.Started = time.Now()
	l.waiting--
	l.busy++
	return true
}

// unclaim puts a task that a worker took but never ran (it could not be
// sent, or waited in a worker that died) back at the head of the queue,
// place and all; false means it settled meanwhile.
func (l *ledger) unclaim(t *Task) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case t.state.CompareAndSwap(running, queued):
		l.busy--
		l.waiting++
	case t.state.CompareAndSwap(sent, queued):
	default:
		return false
	}
	t.Started = time.Time{}
	l.pushLocked(t, true)
	return true
}

// settle moves t from state was to settled and counts it, in one step: a
// task still in the queue leaves it and gives back its place, and with
// release so does one whose holder is done with it (whether it settles
// now or settled before). done is false if t's state is no longer was;
// won says whether this call settled it.
func (l *ledger) settle(t *Task, was uint32, failed, release bool) (done, won bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch t.state.Load() {
	case settled:
		if release {
			l.held--
		}
		return true, false
	case was:
	default:
		return false, false
	}
	t.state.Store(settled)
	if release {
		l.held--
	}
	if failed {
		l.failed++
	} else {
		l.completed++
	}
	if was == running {
		l.busy--
		return true, true
	}
	l.waiting--
	if t.inQueue {
		l.removeLocked(t)
		l.held--
	}
	return true, true
}

// notePeak records how many tasks wait beyond what the workers can hold
// (capacity), after a submitter offered its task to the free workers.
func (l *ledger) notePeak(capacity int64) {
	l.mu.Lock()
	if n := min(l.waiting, l.held-capacity); n > l.peak {
		l.peak = n
	}
	l.mu.Unlock()
}

// counts is a consistent snapshot of the ledger.
type counts struct {
	submitted, completed, failed, waiting, busy, held, peak int64
}

func (l *ledger) snapshot() counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return counts{l.submitted, l.completed, l.failed, l.waiting, l.busy, l.held, l.peak}
}
