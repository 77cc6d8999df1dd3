package pool

import (
	"slices"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// Chunks, as Python's Pool.map(chunksize) sends them: the tasks of one map
// call may travel to a process worker several at a time, in one batch frame
// (ipc.FeatureBatch), so that a fine-grained task does not pay a frame, a
// write and two cross-process wake-ups of its own. A chunk is taken from the
// queue when a slot is free, never waited for: it holds the tasks of the call
// that are at the head of the queue, at most the call's chunk size and at
// most an equal share of the queue among the live workers, so that a chunk
// never holds back a task that another worker could start now. The first
// task of a chunk rides on a free slot, the others on slots made for them
// (extra slots); the free slot comes back when the whole chunk has settled,
// so a worker holds at most concurrency + PrefetchDepth chunks. Each task of
// a chunk is a request of its own: its own id, result, error, timeout and
// cancel; the worker runs them in order, as it runs prefetched requests, so
// the ones waiting count as queued until they start, and go back to the
// queue if the worker dies before they do.

// chunkGroup marks the tasks of one call that may share a chunk.
type chunkGroup struct{ size int }

// submitChunked submits tasks, as submit would one by one (but queues them
// all before any is dispatched), as the tasks of one call that a process
// pool may send to a worker in chunks of at most chunkSize: see SubmitAll.
func (p *Pool) submitChunked(tasks []*Task, chunkSize int) {
	if chunkSize > 1 && p.cfg.Kind == Process && p.cfg.Process.MaxTasksPerWorker == 0 {
		g := &chunkGroup{size: chunkSize}
		for _, t := range tasks {
			t.group = g
		}
	}
	queued := false
	for _, t := range tasks { // all of them queued before any is dispatched, so that they can share chunks
		queued = p.enqueue(t) || queued
	}
	if queued {
		p.dispatchQueued()
	}
}

// AutoChunkSize is the chunk size of a call of n tasks when the script names
// none: Python's multiprocessing.Pool.map's, ceil(n / (4 * workers)), so that
// each worker gets about four chunks.
func (p *Pool) AutoChunkSize(n int) int {
	if p.cfg.Kind != Process {
		return 1
	}
	w := max(p.Size(), 1)
	return max((n+4*w-1)/(4*w), 1)
}

// popChunk takes out of the queue the tasks of t's group that are at its
// head, at most n, in order.
func (l *ledger) popChunk(g *chunkGroup, n int) []*Task {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Task
	for len(out) < n && l.head != nil && l.head.group == g {
		t := l.head
		l.removeLocked(t)
		out = append(out, t)
	}
	return out
}

// chunkOf takes out of the queue the tasks that join t in its chunk on sl's
// worker, if any: the ones of its group at the head of the queue, at most
// its chunk size (t included), and at most an equal share of what is queued
// among the live workers.
func (sl *procSlot) chunkOf(t *Task) []*Task {
	g := t.group
	if g == nil || g.size <= 1 || !sl.run.w.Has(ipc.FeatureBatch) {
		return nil
	}
	p := sl.run.seat.p
	live := max(int(p.live.Load()), 1)
	share := (p.led.len() + 1 + live - 1) / live // t left the queue already
	n := min(g.size, share) - 1
	if n <= 0 {
		return nil
	}
	return p.led.popChunk(g, n)
}

// newExtra gives a slot for a task that joins a chunk whose first task is on
// lead: one that an earlier chunk's task left (recycleExtra), or a new one.
func newExtra(lead *procSlot) *procSlot {
	r := lead.run
	r.mu.Lock()
	if n := len(r.extras); n > 0 {
		x := r.extras[n-1]
		r.extras[n-1] = nil
		r.extras = r.extras[:n-1]
		r.mu.Unlock()
		x.lead = lead
		return x
	}
	r.mu.Unlock()
	x := &procSlot{run: r, lead: lead}
	x.call = ipc.NewCallFunc(x.done)
	x.onWrite = x.written
	return x
}

// recycleExtra keeps an extra slot whose request settled for the next
// chunk: a chunk of thousands of tasks would otherwise allocate a slot, a
// call and its callbacks for each.
func (r *workerRun) recycleExtra(x *procSlot) {
	r.mu.Lock()
	x.lead = nil
	r.extras = append(r.extras, x)
	r.mu.Unlock()
}

// owner is the free slot that a request rides on: the slot itself, or the
// lead of its chunk.
func (sl *procSlot) owner() *procSlot {
	if sl.lead != nil {
		return sl.lead
	}
	return sl
}

// dispatchChunk sends t and more (taken out of the queue after it) in one
// batch on sl's worker. Tasks that cannot go are dealt with one by one as
// dispatch deals with them; it returns false, as dispatch does, when none
// went and sl is still free.
func (sl *procSlot) dispatchChunk(t *Task, more []*Task) bool {
	p, run := sl.run.seat.p, sl.run
	all := append([]*Task{t}, more...)
	n := int64(len(all))
	run.inflight.Add(n)
	if run.isEnding() { // raced with the worker's end: they go back to the queue, in order
		run.inflight.Add(-n)
		run.maybeIdle()
		for _, x := range slices.Backward(all) {
			p.led.requeue(x)
		}
		return false
	}
	b := sl.prepareChunk(all)
	if len(b.tasks) == 0 {
		run.maybeIdle()
		return false
	}
	sl.members.Store(int32(len(b.tasks))) // #nosec G115 -- at most a queue's length, far below 2^31
	unsent := b.settleUnsent(run.w.SendBatch(b.calls, b.reqs))
	run.maybeIdle()
	if unsent == 0 || sl.members.Add(-unsent) > 0 {
		return true // the chunk holds sl: its last request to settle frees it
	}
	// Nothing of the chunk is in flight any more: sl is free again, given
	// back here if a request of it was written (its worker counted it).
	if run.isEnding() || !run.wasWritten(sl) {
		return false
	}
	run.freed(sl) <- sl
	return true
}

// chunkBatch is what of a chunk goes to its worker: for each task sent, its
// slot, request and call.
type chunkBatch struct {
	slots []*procSlot
	reqs  []ipc.Request
	calls []*ipc.Call
	tasks []*Task
}

// prepareChunk moves the tasks of a chunk to sl's worker (the first on sl,
// the others on extra slots of it), leaving out those that settled
// meanwhile and failing those that cannot be sent.
func (sl *procSlot) prepareChunk(all []*Task) chunkBatch {
	p, run := sl.run.seat.p, sl.run
	b := chunkBatch{
		slots: make([]*procSlot, 0, len(all)), reqs: make([]ipc.Request, 0, len(all)),
		calls: make([]*ipc.Call, 0, len(all)), tasks: make([]*Task, 0, len(all)),
	}
	for i, x := range all {
		xs := sl
		if i > 0 {
			xs = newExtra(sl)
		}
		x.slot = xs
		if !p.led.prefetch(x, p.Size()) { // settled while it was being taken out of the queue
			p.led.release()
			run.inflight.Add(-1)
			continue
		}
		req, err := xs.prepare(x)
		if err != nil {
			run.inflight.Add(-1)
			p.led.begin(x) // refused on its way to the worker: it counts as taken
			x.release(nil, err, 0, nil)
			continue
		}
		b.slots, b.reqs = append(b.slots, xs), append(b.reqs, req)
		b.calls, b.tasks = append(b.calls, xs.call), append(b.tasks, x)
	}
	return b
}

// settleUnsent settles each task whose request SendBatch refused (errs[i]
// for b.tasks[i]): one that never reached a gone worker goes back to the
// queue, the others fail; it returns how many were not sent.
func (b chunkBatch) settleUnsent(errs []error) (unsent int32) {
	for i, err := range errs {
		if err == nil {
			continue
		}
		unsent++
		xs, x := b.slots[i], b.tasks[i]
		p, run := xs.run.seat.p, xs.run
		xs.cur.Store(nil)
		run.inflight.Add(-1)
		e := taskerr.From(err)
		if e.Code == taskerr.WorkerCrashed {
			run.end()
			if p.led.unclaim(x) { // never reached a worker: another one takes it
				continue
			}
			e = xs.crashed(x, e)
		}
		p.led.begin(x) // refused on its way to the worker: it counts as taken
		x.release(nil, e, 0, nil)
	}
	return unsent
}

// prepare is t's request on sl, or the reason it cannot be sent.
func (sl *procSlot) prepare(t *Task) (ipc.Request, *taskerr.Error) {
	p, run := sl.run.seat.p, sl.run
	if t.spec == nil && !run.w.Offers(t.Workload) {
		return ipc.Request{}, taskerr.New(taskerr.UnknownWorkload,
			"process pool %q: worker %v pid %d does not offer %q (it offers: %s)",
			p.cfg.Name, p.cfg.Process.Command, run.w.PID(), t.Workload, offered(run.w))
	}
	if p.closed.Load() {
		return ipc.Request{}, p.closedWhileRunning(t)
	}
	sl.cur.Store(t)
	return ipc.Request{Workload: t.Workload, Params: t.params, Timeout: t.timeout(), OnWrite: sl.onWrite}, nil
}
