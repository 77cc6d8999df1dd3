package pool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// A process pool has no goroutine of its own on a task's path. A slot is one
// request in flight on one worker process; free slots wait in p.free. The
// goroutine that submits a task takes a free slot and writes the request
// itself; when the result comes, the worker's reader goroutine settles the
// task and, through pump, sends the next queued task. So a task crosses one
// goroutine hand-off (reader to whoever waits for it) rather than three:
// each hand-off that wakes an idle thread costs tens of microseconds.
//
// Prefetch: a worker has PrefetchDepth slots beyond its concurrency, so that
// its next request already waits in its input when a task ends, and it never
// idles for a round trip between tasks. The worker runs at most concurrency
// requests at once and starts the others in the order it reads them, so the
// pool knows which ones wait (workerRun.written, workerRun.settled): those
// count as queued, in state sent, with no timer, until the request ahead of
// them settles.
//
// A task goes to a prefetch slot (Pool.spare) only when no worker has a real
// slot for it: none in the free list, none in hand (Pool.inHand: taken by
// another dispatcher, or on its way back from a result) and no worker
// starting (Pool.serving). So a prefetched task waits only behind tasks
// that were running on every worker when it was sent. It is not taken back
// when another worker frees up later, as Python's executor does not take
// back its queued call: the wait is at most one task's run, and a take-back
// would cost a cancel round trip on every worker that empties first.

// PrefetchDepth is how many requests a process pool keeps waiting in each
// worker's input beyond the concurrency it runs, as Python's
// ProcessPoolExecutor keeps one extra call queued: to workers whose hello
// lists ipc.FeaturePrefetch, none to others.
const PrefetchDepth = 1

// procSeat is one unit of a process pool's size: it keeps one worker process
// running and replaces it when it dies, times out or is recycled.
type procSeat struct {
	p        *Pool
	stop     chan struct{}
	stopOnce sync.Once
	cur      atomic.Pointer[workerRun] // the latest run, for tests
}

func newProcSeat(p *Pool) *procSeat { return &procSeat{p: p, stop: make(chan struct{})} }

func (s *procSeat) retire() { s.stopOnce.Do(func() { close(s.stop) }) }

// abandon does nothing: the seat notices the pool closing and closes its worker process.
func (s *procSeat) abandon() {}

func (s *procSeat) leaving() bool {
	select {
	case <-s.stop:
		return true
	case <-s.p.closing:
		return true
	default:
		return false
	}
}

func (s *procSeat) run() {
	p := s.p
	failures := 0
	for !s.leaving() {
		w, failed := s.start()
		if failed != nil {
			failures++
			p.noteStartFailure(failed)
			p.cfg.Logger.Warn("worker did not start: "+failed.Message, "pool", p.cfg.Name)
			if !p.waitUntilUp(s.stop, failed) || !p.sleepUnless(s.stop, backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		if ended := s.serve(w); ended != "" {
			p.restarts.Add(1)
			p.cfg.Logger.Warn(fmt.Sprintf("worker pid %d %s; starting a replacement", w.PID(), ended),
				"pool", p.cfg.Name, "pid", w.PID())
		}
	}
}

// start starts a worker process and runs the pool's init on it, if it has
// one. It returns why the worker is not there to serve, when it is not: it
// did not start, or its init failed (then it is killed and reaped), and the
// seat backs off before the next try either way.
func (s *procSeat) start() (*ipc.Worker, *taskerr.Error) {
	p := s.p
	w, err := ipc.Start(p.workerConfig())
	if err != nil {
		return nil, taskerr.New(taskerr.WorkerCrashed, "process pool %q: %v", p.cfg.Name, err)
	}
	if p.init != nil {
		if err := p.initProcess(w); err != nil {
			w.Kill("its init failed")
			<-w.Done()
			return nil, p.initFailed(err)
		}
	}
	return w, nil
}

// serve puts the started worker w to work in the seat: it offers its slots
// to the pool and lasts as long as the worker serves. It returns why the
// worker ended when nobody asked it to (workerRun.wait), for the seat to
// say so and start a replacement.
func (s *procSeat) serve(w *ipc.Worker) string {
	p := s.p
	prefetch := 0 // only to a worker that says it runs at most concurrency at once, in order
	if w.Has(ipc.FeaturePrefetch) {
		prefetch = PrefetchDepth
	}
	run := &workerRun{
		seat: s, w: w, ending: make(chan struct{}), idle: make(chan struct{}),
		limit: p.cfg.Process.Concurrency, idleSlots: p.cfg.Process.Concurrency + prefetch, prefetch: prefetch,
	}
	s.cur.Store(run)
	// Its slots are free before it counts as serving: once every
	// worker serves, pump takes spare slots, and none may be taken
	// while this worker's real ones are not in free yet.
	for i := range run.idleSlots {
		sl := &procSlot{run: run}
		sl.call = ipc.NewCallFunc(sl.done)
		sl.onWrite = sl.written
		if i < run.limit {
			p.free <- sl
		} else {
			p.spare <- sl
		}
	}
	p.live.Add(1)
	p.serving.Add(1) // until end
	p.announceUp()
	p.pump()
	ended := run.wait()
	p.live.Add(-1)
	p.purgeFree()
	return ended
}

func backoff(failures int) time.Duration {
	return min(25*time.Millisecond<<min(failures-1, 8), 2*time.Second)
}

// workerRun is one worker process in a seat, from its start to its end.
type workerRun struct {
	seat     *procSeat
	w        *ipc.Worker
	inflight atomic.Int64 // requests in flight, or about to be sent
	served   atomic.Int64 // tasks sent, for maxTasksPerWorker

	// ending closes when the worker takes no more tasks: it is recycled,
	// retired, killed for a timeout, dead, or its pool is closing. idle
	// closes once, after that, no request is in flight.
	ending, idle      chan struct{}
	endOnce, idleOnce sync.Once
	recycled          atomic.Bool
	killedFor         atomic.Pointer[string]

	// mu guards what the pool knows of the worker's own queue: running
	// is how many of its requests it runs (at most limit), waitq the ones
	// waiting in its input, in order, idleSlots its slots with no request.
	mu        sync.Mutex
	limit     int
	running   int
	waitq     []*procSlot
	idleSlots int
	prefetch  int // slots beyond concurrency: PrefetchDepth if the worker has FeaturePrefetch, else 0
	// extras are chunks' extra slots whose requests settled, for the next
	// chunks (newExtra).
	extras []*procSlot
	// unanswered counts the requests abandoned with a cancel the worker
	// has not answered yet: it is killed if it does not answer in time, so
	// meanwhile its free slots are parked rather than given a new task,
	// which the kill would fail while another worker could run it. It
	// changes under mu; park reads it without mu first, for every task.
	unanswered atomic.Int32
	parked     []parkedSlot
}

// parkedSlot is a free slot set aside while its worker has a cancel
// unanswered, and the channel it goes back to.
type parkedSlot struct {
	sl   *procSlot
	from chan slot
}

// park sets sl aside while its worker has a cancel unanswered: see slot.
func (sl *procSlot) park(from chan slot) bool {
	r := sl.run
	if r.unanswered.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unanswered.Load() == 0 {
		return false
	}
	r.parked = append(r.parked, parkedSlot{sl, from})
	return true
}

// cancelSent counts t's request, abandoned with a cancel, as unanswered
// until it settles; false if it settled already. Those who abandon a
// request call it before they fail its task, as well as abandon does: the
// count never outlives the request, since done clears it.
func (sl *procSlot) cancelSent(t *Task) bool {
	r := sl.run
	r.mu.Lock()
	defer r.mu.Unlock()
	if sl.cur.Load() != t { // done took it off the slot: it settled
		return false
	}
	if !sl.cancelled {
		sl.cancelled = true
		r.unanswered.Add(1)
	}
	return true
}

// unpark gives the parked slots back to the pool, unless the worker is
// leaving, and lets the pool look at its queue again.
func (r *workerRun) unpark(slots []parkedSlot) {
	if len(slots) == 0 || r.isEnding() {
		return
	}
	for _, ps := range slots {
		ps.from <- ps.sl
	}
	r.seat.p.pump()
}

// written runs when sl's request is in line for the worker, in the order
// the worker reads requests: the worker starts it at once if it runs fewer
// than its concurrency, else it waits behind the others.
func (sl *procSlot) written() {
	r := sl.run
	r.mu.Lock()
	if o := sl.owner(); !o.counted { // the first request of o's chunk (or o's only one) takes o
		o.counted = true
		r.idleSlots--
	}
	if r.running < r.limit {
		r.running++
		sl.running = true
		sl.begin()
	} else {
		r.waitq = append(r.waitq, sl)
	}
	r.mu.Unlock()
}

// settled runs when sl's request settles: when it was running, the worker
// starts the oldest waiting request. It returns the slots parked until the
// worker answered its last cancel, when this request was it.
func (r *workerRun) settled(sl *procSlot) (unparked []parkedSlot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sl.timer != nil {
		sl.timer.Stop()
		sl.timer = nil
	}
	if sl.cancelled {
		sl.cancelled = false
		if r.unanswered.Add(-1) == 0 {
			unparked, r.parked = r.parked, nil
		}
	}
	// A worker that died starts nothing more: what waited in its input
	// never ran (its results come in order, so a request it started was
	// promoted by the result before it).
	dead := sl.call.Err != nil && sl.call.Err.Code == taskerr.WorkerCrashed
	if sl.running {
		sl.running = false
		r.running--
		for r.running < r.limit && len(r.waitq) > 0 && !dead {
			next := r.waitq[0]
			// Off the front without moving the rest: a chunk's waiting
			// requests can be thousands, and this runs for each of them.
			r.waitq[0] = nil
			r.waitq = r.waitq[1:]
			next.running = true
			r.running++
			next.begin()
		}
	} else if i := slices.Index(r.waitq, sl); i >= 0 { // answered without running: cancelled, or refused
		r.waitq = slices.Delete(r.waitq, i, i+1)
	}
	return unparked
}

// freed counts the free slot o as idle again, once every request it carried
// (its chunk's) has settled, and returns where it goes back: the last free
// slot of a worker is its spare, used only when no worker has a free slot
// that runs at once.
func (r *workerRun) freed(o *procSlot) chan slot {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.counted {
		o.counted = false
		r.idleSlots++
	}
	if r.idleSlots <= r.prefetch {
		return r.seat.p.spare
	}
	return r.seat.p.free
}

// wasWritten says whether a request on the free slot o reached the worker's
// input.
func (r *workerRun) wasWritten(o *procSlot) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return o.counted
}

// end stops the run taking tasks, once: from then on it does not count as
// serving, even while it finishes what it holds.
func (r *workerRun) end() {
	r.endOnce.Do(func() {
		close(r.ending)
		r.seat.p.serving.Add(-1)
	})
}

func (r *workerRun) isEnding() bool {
	select {
	case <-r.ending:
		return true
	default:
		return false
	}
}

// maybeIdle closes idle once the run is ending and nothing is in flight.
// Both end and every completion call it after their own update, so one of
// them sees the other's.
func (r *workerRun) maybeIdle() {
	if r.isEnding() && r.inflight.Load() == 0 {
		r.idleOnce.Do(func() { close(r.idle) })
	}
}

// kill ends the run and kills its worker, for the reason given.
func (r *workerRun) kill(reason string) {
	if r.killedFor.CompareAndSwap(nil, &reason) {
		r.end()
		r.w.Kill(reason)
	}
}

// wait lasts as long as the worker serves; it returns why the worker ended
// when nobody asked it to ("" when someone did), once it is reaped and every
// request on it has settled.
func (r *workerRun) wait() string {
	p, s := r.seat.p, r.seat
	stop, closing, ending, idle := s.stop, p.closing, r.ending, (<-chan struct{})(nil)
	asked := false // retired, or the pool is closing
	for {
		select {
		case <-r.w.Done(): // ipc settles every call before Done
			r.end()
			return r.why(asked)
		case <-closing:
			closing, asked = nil, true
			r.end()
			r.w.Close(StopGrace) // settles the requests in flight with PoolClosed
		case <-stop: // retired: finish what is in flight, then go
			stop, asked = nil, true
			r.end()
		case <-ending: // recycled, retired, or a slot found the worker gone
			ending, idle = nil, r.idle
			r.maybeIdle()
		case <-idle:
			if r.killedFor.Load() == nil {
				r.w.Close(StopGrace)
			}
			<-r.w.Done()
			return r.why(asked)
		}
	}
}

// why says how a worker ended, unless it was asked to.
func (r *workerRun) why(asked bool) string {
	switch killed := r.killedFor.Load(); {
	case killed != nil:
		return "was killed: " + *killed
	case asked:
		return ""
	case r.recycled.Load():
		return fmt.Sprintf("was recycled after %d tasks (maxTasksPerWorker)", r.seat.p.cfg.Process.MaxTasksPerWorker)
	case r.w.Err() != nil:
		return "failed: " + r.w.Err().Message
	default:
		return "exited"
	}
}

// procSlot is one request in flight on a worker process.
type procSlot struct {
	run     *workerRun
	call    *ipc.Call
	onWrite func()                     // written, made once
	cur     atomic.Pointer[Task]       // the task in flight; written by dispatch, cleared by done
	grace   atomic.Pointer[time.Timer] // runs out CancelGrace after an abandoned request's cancel
	// Guarded by run.mu: whether the worker runs the request (else it
	// waits in its input), and the timer of its task's timeout.
	running bool
	timer   *time.Timer
	// counted says the slot is taken in the worker's idleSlots (guarded by
	// run.mu): from its first request's write to its last one's end.
	counted bool
	// cancelled says its request was abandoned with a cancel and counts in
	// run.unanswered until it settles (guarded by run.mu).
	cancelled bool

	// Chunks: an extra slot carries a task of the chunk whose first task
	// rides on lead; a free slot counts the requests of its chunk (1 for
	// a lone task) in members, and comes back when the last one settles.
	lead    *procSlot
	members atomic.Int32
}

// begin counts the slot's task as started, now that the worker runs it, and
// starts its timeout; run.mu is held. A task that settled meanwhile (it was
// cancelled while it waited) has nothing to start.
func (sl *procSlot) begin() {
	t := sl.cur.Load()
	if t == nil || !t.pool.led.begin(t) {
		return
	}
	if timeout := t.timeout(); timeout > 0 {
		sl.timer = time.AfterFunc(timeout, func() { sl.timedOut(t) })
	}
}

func (sl *procSlot) gone() bool { return sl.run.isEnding() }

// dispatch sends t on the slot. Every way out that sends nothing gives the
// slot and t's place back (or puts t back in the queue, place and all) and
// returns false, so pump frees the slot again (unless its worker is gone):
// a refused task never costs capacity.
func (sl *procSlot) dispatch(t *Task) bool {
	p, run := sl.run.seat.p, sl.run
	run.inflight.Add(1)
	if run.isEnding() { // raced with the worker's end: t goes back to the queue
		run.inflight.Add(-1)
		run.maybeIdle()
		p.led.requeue(t)
		return false
	}
	if more := sl.chunkOf(t); len(more) > 0 {
		run.inflight.Add(-1)
		return sl.dispatchChunk(t, more)
	}
	sl.members.Store(1)
	t.slot = sl                       // before the task is sent: Cancel reads it from then on
	if !p.led.prefetch(t, p.Size()) { // settled while it was being taken out of the queue
		sl.release()
		return false
	}
	if err := sl.send(t); err != nil {
		run.inflight.Add(-1)
		run.maybeIdle()
		// A task that never reached a worker because the worker is gone
		// is not lost: it goes back to the queue for another one.
		if err.Code == taskerr.WorkerCrashed && p.led.unclaim(t) {
			return false
		}
		p.led.begin(t) // refused on its way to the worker: it counts as taken
		t.release(nil, err, 0, nil)
		return false
	}
	return true
}

// send writes t's request, or says why it was not sent.
func (sl *procSlot) send(t *Task) *taskerr.Error {
	p, run := sl.run.seat.p, sl.run
	req, e := sl.prepare(t)
	if e != nil {
		return e
	}
	if limit := int64(p.cfg.Process.MaxTasksPerWorker); limit > 0 && run.served.Add(1) >= limit {
		run.recycled.Store(true)
		run.end() // this is its last task
	}
	if err := run.w.Send(sl.call, req); err != nil {
		sl.cur.Store(nil)
		e := taskerr.From(err)
		if e.Code == taskerr.WorkerCrashed {
			run.end()
			e = sl.crashed(t, e)
		}
		return e
	}
	return nil
}

// release gives back the slot and the place of a task that settled before
// it could be sent.
func (sl *procSlot) release() {
	p, run := sl.run.seat.p, sl.run
	p.led.release()
	run.inflight.Add(-1)
	run.maybeIdle()
}

// done runs when the slot's request settles, on the worker's reader
// goroutine (or the goroutine that found the worker gone). It frees the slot
// for the next task first, then settles this one (unless it settled
// already: timed out or cancelled, and this is the worker's answer).
func (sl *procSlot) done(*ipc.Call) {
	p, run := sl.run.seat.p, sl.run
	// A request whose end frees its slot (the last of its chunk: one
	// reader settles a worker's requests, one at a time) holds the slot in
	// hand from before its task settles (Stats shows the worker free) until
	// it is back in free: no task takes a spare slot meanwhile. Letting go,
	// this goroutine looks at the queue again.
	frees := sl.owner().members.Load() == 1
	if frees {
		p.inHand.Add(1)
	}
	t := sl.cur.Swap(nil)
	if g := sl.grace.Swap(nil); g != nil {
		g.Stop()
	}
	defer run.unpark(run.settled(sl)) // after this request's own slot is back, if it frees it
	value, err, ran := sl.result(t)
	run.inflight.Add(-1)
	if err != nil && err.Code == taskerr.WorkerCrashed && t.state.Load() == sent && p.led.unclaim(t) {
		sl.requeued(frees)
		return
	}
	t.release(value, err, ran, func() {
		o := sl.owner()
		if run.isEnding() {
			run.maybeIdle()
			return
		}
		last := o.members.Add(-1) == 0
		if sl != o {
			run.recycleExtra(sl)
		}
		if last { // the last request of o's chunk: o is free
			run.freed(o) <- o
			if !frees {
				p.pump()
			}
		}
	})
	if frees {
		p.inHand.Add(-1)
		p.pump()
	}
}

// requeued ends a request whose task waited in the input of a worker that
// died, and never ran: done has put the task back in the queue (unclaim)
// rather than settle it, and another worker takes it. The slot is not freed
// (its worker is gone); frees says done held it in hand, to let go of.
func (sl *procSlot) requeued(frees bool) {
	p, run := sl.run.seat.p, sl.run
	run.maybeIdle()
	if frees {
		p.inHand.Add(-1)
	}
	p.pump()
	if p.closed.Load() {
		p.rejectQueued()
	}
}

// result reads the worker's response to t.
func (sl *procSlot) result(t *Task) (any, *taskerr.Error, time.Duration) {
	resp := sl.call.Response
	if err := resp.Err; err != nil {
		switch {
		case err.Code == taskerr.WorkerCrashed:
			sl.run.end()
			err = sl.crashed(t, err)
		case sl.run.seat.p.closed.Load():
			err = sl.crashed(t, err)
		case err.Code == taskerr.Timeout && t.timeout() > 0:
			// The worker noticed the timeout first and answered: it is
			// healthy and keeps serving, as when it answers the pool's
			// cancel, so the outcome never depends on who was faster.
			err = sl.timeoutError(t, "the worker stopped it")
		}
		return nil, err, resp.RunTime
	}
	var value any
	if len(resp.Value) > 0 {
		if err := json.Unmarshal(resp.Value, &value); err != nil {
			return nil, taskerr.New(taskerr.Workload, "%s: worker pid %d sent a value that is not JSON: %s",
				t.Workload, sl.run.w.PID(), err), resp.RunTime
		}
		// A copy: resp.Value is the slot's buffer, reused by its next task.
		return workerValue{value, bytes.Clone(resp.Value)}, nil, resp.RunTime
	}
	return value, nil, resp.RunTime
}

// workerValue is a worker's result on its way to Task.settle: decoded, and
// as sent (Task.JSON).
type workerValue struct {
	value any
	json  json.RawMessage
}

// timedOut runs when t's timer fires: t fails with TimeoutError at once, and
// its request is abandoned (unless t settled first).
func (sl *procSlot) timedOut(t *Task) {
	after := fmt.Sprintf("the worker was sent a cancel and is killed unless it answers within %s",
		sl.run.seat.p.cfg.cancelGrace)
	sl.cancelSent(t) // before t fails: a task submitted once it has finds the worker's slots parked
	if ok, _ := t.fail(sl.timeoutError(t, after), t.timeout()); ok {
		sl.abandon(t, fmt.Sprintf("task %s timed out after %s", t.Workload, t.timeout()))
	}
}

// timeoutError words the failure of a task that ran past its timeout, and
// what became of it.
func (sl *procSlot) timeoutError(t *Task, after string) *taskerr.Error {
	return taskerr.New(taskerr.Timeout, "%s timed out after %s (process pool %q, worker pid %d): %s",
		t.Workload, t.timeout(), sl.run.seat.p.cfg.Name, sl.run.w.PID(), after)
}

// abandon gives up on t's request, if it is still in flight on this slot:
// the worker gets a cancel and CancelGrace to answer it; a worker that does
// not is killed, for the reason given, so that the slot is never held for
// good. The id read in between belongs to t, or to a request that is over,
// which the worker ignores.
func (sl *procSlot) abandon(t *Task, why string) {
	if sl.cur.Load() != t {
		return
	}
	id := sl.call.ID()
	if sl.cur.Load() != t {
		return
	}
	if !sl.cancelSent(t) {
		return
	}
	sl.run.w.Cancel(id)
	grace := sl.run.seat.p.cfg.cancelGrace
	g := time.AfterFunc(grace, func() {
		if sl.cur.Load() == t {
			sl.run.kill(fmt.Sprintf("%s and the worker did not answer its cancel within %s", why, grace))
		}
	})
	if old := sl.grace.Swap(g); old != nil {
		old.Stop()
	}
}

// crashed words a lost request: PoolClosed when the pool is closing (it
// stopped the worker), else WorkerCrashed saying which task was on it.
func (sl *procSlot) crashed(t *Task, err *taskerr.Error) *taskerr.Error {
	p := sl.run.seat.p
	if p.closed.Load() {
		return p.closedWhileRunning(t)
	}
	return taskerr.New(taskerr.WorkerCrashed, "process pool %q: %s was running when %s",
		p.cfg.Name, t.Workload, err.Message)
}

func offered(w *ipc.Worker) string {
	names := make([]string, 0, len(w.Workloads()))
	for _, info := range w.Workloads() {
		names = append(names, info.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// workerConfig is how every worker process of the pool is started.
func (p *Pool) workerConfig() ipc.Config {
	env := os.Environ()
	keys := make([]string, 0, len(p.cfg.Process.Env))
	for k := range p.cfg.Process.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+p.cfg.Process.Env[k])
	}
	// A Go worker runs at most Concurrency tasks at once; more Ps than that
	// only make its scheduler wake idle threads (tens of microseconds each
	// on a busy machine) around every task. Unless someone chose already.
	_, chosen := p.cfg.Process.Env["GOMAXPROCS"]
	if p.cfg.Process.SameRegistry && !chosen && os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(min(p.cfg.Process.Concurrency, runtime.NumCPU())))
	}
	log := p.cfg.Logger.With("pool", p.cfg.Name)
	return ipc.Config{
		Argv:         p.cfg.Process.Command,
		Dir:          p.cfg.Process.Dir,
		Env:          env,
		Concurrency:  p.cfg.Process.Concurrency,
		StartTimeout: p.cfg.StartTimeout,
		MaxFrame:     p.cfg.maxFrame,
		Module:       p.cfg.Process.Module,
		Stderr: func(pid int, line string) {
			if p.cfg.Process.Stderr != nil {
				p.cfg.Process.Stderr(pid, line)
			} else {
				log.Info(line, "pid", pid)
			}
		},
	}
}
