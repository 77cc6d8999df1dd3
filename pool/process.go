package pool

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// procSeat is one unit of a process pool's size: it keeps one worker process
// running, replacing it when it dies, times out or is recycled, and runs
// Concurrency slots on it, each a goroutine with one request in flight.
type procSeat struct {
	p        *Pool
	stop     chan struct{}
	stopOnce sync.Once
}

func newProcSeat(p *Pool) *procSeat { return &procSeat{p: p, stop: make(chan struct{})} }

func (s *procSeat) retire() { s.stopOnce.Do(func() { close(s.stop) }) }

// abandon does nothing: the seat notices the pool closing and closes its worker.
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
		w, err := ipc.Start(p.workerConfig())
		if err != nil {
			failures++
			p.cfg.Logger.WithField("pool", p.cfg.Name).Warnf("worker did not start: %s", err.Error())
			if !s.failQueued(taskerr.New(taskerr.WorkerCrashed, "process pool %q: %s", p.cfg.Name, err.Error())) {
				return
			}
			if !s.sleep(backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		p.live.Add(1)
		ended := s.serve(w)
		p.live.Add(-1)
		if ended != "" {
			p.restarts.Add(1)
			p.cfg.Logger.WithField("pool", p.cfg.Name).Warnf("worker pid %d %s; starting a replacement", w.PID(), ended)
		}
	}
}

// serve runs the slots on w until w dies, is recycled, the seat retires or
// the pool closes; it returns why w ended when that was not asked for ("" when
// it was), and only once w is reaped.
func (s *procSeat) serve(w *ipc.Worker) (ended string) {
	p := s.p
	seat := &seatRun{w: w, recycle: make(chan struct{}), doomed: make(chan struct{})}
	var slots sync.WaitGroup
	for range p.cfg.Concurrency {
		sl := newProcSlot(s, seat)
		slots.Go(sl.loop)
	}
	select {
	case <-w.Done():
	case <-s.stop:
	case <-seat.recycle:
	case <-p.closing:
		w.Close(StopGrace) // settles the requests in flight, so the slots can leave
	}
	slots.Wait()
	switch {
	case seat.killedFor != "": // by a slot, for a timeout
		<-w.Done()
		return "was killed: " + seat.killedFor
	case seat.isDoomed() || isDone(w): // it died on its own, or p closed it
		<-w.Done()
		if p.closed.Load() {
			return ""
		}
		if e := w.Err(); e != nil {
			return "failed: " + e.Message
		}
		return "exited"
	default: // retired, recycled, or the pool is closing
		w.Close(StopGrace)
		if seat.recycled.Load() {
			return fmt.Sprintf("was recycled after %d tasks (maxTasksPerWorker)", p.cfg.MaxTasksPerWorker)
		}
		return ""
	}
}

func isDone(w *ipc.Worker) bool {
	select {
	case <-w.Done():
		return true
	default:
		return false
	}
}

// failQueued settles queued tasks with a worker's start error, so that tasks
// never wait on a worker that cannot start: all of them when no worker of the
// pool is up, else the next one. It waits for a task if none is queued, and
// returns false if the seat should leave instead.
func (s *procSeat) failQueued(err *taskerr.Error) bool {
	p := s.p
	for {
		select {
		case t := <-p.queue:
			p.outstanding.Add(-1)
			if t.claim(p.Size()) {
				t.start()
				t.settle(nil, err, 0)
			}
			if p.live.Load() > 0 || len(p.queue) == 0 {
				return true
			}
		case <-s.stop:
			return false
		case <-p.closing:
			return false
		}
	}
}

// sleep waits d unless the seat is leaving first.
func (s *procSeat) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	case <-s.p.closing:
		return false
	}
}

func backoff(failures int) time.Duration {
	return min(25*time.Millisecond<<min(failures-1, 8), 2*time.Second)
}

// seatRun is what the slots of one worker process share.
type seatRun struct {
	w           *ipc.Worker
	served      atomic.Int64 // tickets for maxTasksPerWorker
	recycle     chan struct{}
	recycleOnce sync.Once
	recycled    atomic.Bool
	killedFor   string // set before the kill, read after the slots are done
	killOnce    sync.Once
	// doomed closes as soon as the worker is known to be going (killed, or a
	// request came back crashed), before its exit is even seen, so no slot
	// sends it another task.
	doomed     chan struct{}
	doomedOnce sync.Once
}

func (r *seatRun) doom() { r.doomedOnce.Do(func() { close(r.doomed) }) }

func (r *seatRun) isDoomed() bool {
	select {
	case <-r.doomed:
		return true
	default:
		return false
	}
}

func (r *seatRun) kill(reason string) {
	r.killOnce.Do(func() {
		r.killedFor = reason
		r.doom()
		r.w.Kill(reason)
	})
}

// procSlot is one request in flight on a worker process.
type procSlot struct {
	s      *procSeat
	run    *seatRun
	call   *ipc.Call
	timer  *time.Timer
	aborts chan *Task
}

func newProcSlot(s *procSeat, run *seatRun) *procSlot {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	return &procSlot{s: s, run: run, call: ipc.NewCall(), timer: timer, aborts: make(chan *Task, 4)}
}

// abort asks the slot to cancel t's request, if t is still the one in flight.
func (sl *procSlot) abort(t *Task) {
	select {
	case sl.aborts <- t:
	default:
	}
}

func (sl *procSlot) loop() {
	p, run := sl.s.p, sl.run
	for {
		if limit := int64(p.cfg.MaxTasksPerWorker); limit > 0 && run.served.Add(1) > limit {
			run.recycleOnce.Do(func() {
				run.recycled.Store(true)
				close(run.recycle)
			})
			return
		}
		select {
		case <-run.doomed:
			return
		case <-run.w.Done():
			return
		case <-run.recycle:
			return
		case <-sl.s.stop:
			return
		case <-p.closing:
			return
		case t := <-p.queue:
			if run.isDoomed() {
				// Taken in the instant the worker was lost: give it back
				// (the queue has room, admission counted it) for a live worker.
				p.queue <- t
				return
			}
			sl.runTask(t)
		}
	}
}

func (sl *procSlot) runTask(t *Task) {
	p, w := sl.s.p, sl.run.w
	if !t.claim(p.Size()) {
		p.outstanding.Add(-1)
		return
	}
	t.slot = sl
	t.start()
	if t.spec == nil && !w.Offers(t.Workload) {
		p.outstanding.Add(-1)
		t.settle(nil, taskerr.New(taskerr.UnknownWorkload, "process pool %q: worker %v pid %d does not offer %q (it offers: %s)",
			p.cfg.Name, p.cfg.Command, w.PID(), t.Workload, offered(w)), 0)
		return
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = p.cfg.TaskTimeout
	}
	p.busy.Add(1)
	value, err, ran := sl.execute(t, timeout)
	// Free the slot before settling, as thread workers do.
	p.busy.Add(-1)
	p.outstanding.Add(-1)
	t.settle(value, err, ran)
}

// execute sends t to the worker and waits for its response, a cancel from
// the task's owner, or the timeout, which kills the worker.
func (sl *procSlot) execute(t *Task, timeout time.Duration) (any, *taskerr.Error, time.Duration) {
	w := sl.run.w
	if err := w.Send(sl.call, ipc.Request{Workload: t.Workload, Params: t.params, Timeout: timeout}); err != nil {
		sl.run.doom()
		return nil, sl.crashed(t, err), 0
	}
	if timeout > 0 {
		sl.timer.Reset(timeout)
		defer sl.timer.Stop()
	}
	for {
		select {
		case <-sl.call.Done():
			value, err, ran := sl.result(t)
			if err != nil && err.Code == taskerr.Timeout && timeout > 0 {
				err = sl.timedOut(t, timeout)
			}
			return value, err, ran
		case a := <-sl.aborts:
			if a == t {
				w.Cancel(sl.call.ID())
			}
		case <-sl.timer.C:
			t.settle(nil, sl.timedOut(t, timeout), timeout)
		}
	}
}

// timedOut kills the worker of a task that ran past its timeout (whether the
// pool's timer or the worker itself noticed first: a worker is replaced
// either way, so the outcome never depends on who was faster) and words the
// task's error.
func (sl *procSlot) timedOut(t *Task, timeout time.Duration) *taskerr.Error {
	pid := sl.run.w.PID()
	sl.run.kill(fmt.Sprintf("task %s timed out after %s", t.Workload, timeout))
	return taskerr.New(taskerr.Timeout, "%s timed out after %s (process pool %q); worker pid %d was killed and is being replaced",
		t.Workload, timeout, sl.s.p.cfg.Name, pid)
}

// result reads the worker's response to t.
func (sl *procSlot) result(t *Task) (any, *taskerr.Error, time.Duration) {
	resp := sl.call.Response
	if resp.Err != nil {
		err := resp.Err
		if err.Code == taskerr.WorkerCrashed {
			sl.run.doom()
		}
		if err.Code == taskerr.WorkerCrashed || sl.s.p.closed.Load() {
			err = sl.crashed(t, err)
		}
		return nil, err, resp.RunTime
	}
	var value any
	if len(resp.Value) > 0 {
		if err := json.Unmarshal(resp.Value, &value); err != nil {
			return nil, taskerr.New(taskerr.Workload, "%s: worker pid %d sent a value that is not JSON: %s",
				t.Workload, sl.run.w.PID(), err), resp.RunTime
		}
	}
	return value, nil, resp.RunTime
}

// crashed words a lost request: PoolClosed when the pool is closing (it
// stopped the worker), else WorkerCrashed saying which task was on it.
func (sl *procSlot) crashed(t *Task, err error) *taskerr.Error {
	p := sl.s.p
	if p.closed.Load() {
		return taskerr.New(taskerr.PoolClosed, "process pool %q closed while %s was running", p.cfg.Name, t.Workload)
	}
	return taskerr.New(taskerr.WorkerCrashed, "process pool %q: %s was running when %s", p.cfg.Name, t.Workload, err.Error())
}

func offered(w *ipc.Worker) string {
	names := make([]string, 0, len(w.Workloads()))
	for _, info := range w.Workloads() {
		names = append(names, info.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// workerConfig is how every worker process of the pool is started.
func (p *Pool) workerConfig() ipc.Config {
	env := os.Environ()
	keys := make([]string, 0, len(p.cfg.Env))
	for k := range p.cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+p.cfg.Env[k])
	}
	// A Go worker runs at most Concurrency tasks at once; more Ps than that
	// only make its scheduler wake idle threads (tens of microseconds each
	// on a busy machine) around every task. Unless someone chose already.
	if _, chosen := p.cfg.Env["GOMAXPROCS"]; p.cfg.SameRegistry && !chosen && os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(min(p.cfg.Concurrency, runtime.NumCPU())))
	}
	log := p.cfg.Logger.WithField("pool", p.cfg.Name)
	return ipc.Config{
		Argv:         p.cfg.Command,
		Dir:          p.cfg.Dir,
		Env:          env,
		Concurrency:  p.cfg.Concurrency,
		StartTimeout: p.cfg.StartTimeout,
		Stderr:       func(line string) { log.Info(line) },
	}
}
