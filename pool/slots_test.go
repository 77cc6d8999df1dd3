package pool

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// settleWithin bounds every wait for a task in these tests: a task that
// never settles fails the test instead of hanging it.
const settleWithin = 15 * time.Second

// await receives a task from submit's channel, or fails the test.
func await(t *testing.T, c chan *Task) *Task {
	t.Helper()
	select {
	case task := <-c:
		return task
	case <-time.After(settleWithin):
		require.FailNow(t, "a task never settled", "within %s", settleWithin)
		return nil
	}
}

// submitTask submits a prepared task; the channel gets it once settled.
func submitTask(p *Pool, task *Task) chan *Task {
	done := make(chan *Task, 1)
	task.OnDone = func(t *Task) { done <- t }
	p.submit(task)
	return done
}

// requireAccounted checks that stats() accounts for every task at once.
func requireAccounted(t *testing.T, p *Pool) Stats {
	t.Helper()
	s := p.Stats()
	require.Equal(t, s.Submitted, s.Completed+s.Failed+int64(s.Queued)+s.Busy, "every task in exactly one place: %+v", s)
	return s
}

// requireCapacity checks that the pool has all its capacity back once the
// work of abandoned tasks is over (a worker that did not answer a cancel is
// killed after the grace): workers × concurrency tasks run at once, none of
// them waiting, and all of them complete. A slot lost on some path shows as
// a task that waits or is refused.
func requireCapacity(t *testing.T, p *Pool) {
	t.Helper()
	var last Stats
	idle := func() bool {
		last = p.Stats()
		return last.Busy == 0 && last.Queued == 0 && last.Abandoned == 0 && last.Live == int64(p.Size())
	}
	require.Eventually(t, idle, 10*time.Second, time.Millisecond, "abandoned work ends and every worker is up: %+v", &last)
	n := p.Size() * p.Config().Process.Concurrency
	chans := make([]chan *Task, 0, n)
	for range n {
		chans = append(chans, submit(t, p, "io.sleep", map[string]any{"duration": "400ms"}))
	}
	full := func() bool {
		last = p.Stats()
		return last.Busy == int64(n) && last.Queued == 0
	}
	assert.Eventually(t, full, 10*time.Second, time.Millisecond, "all %d slots take a task at once: %+v", n, &last)
	for _, c := range chans {
		task := await(t, c)
		require.Nil(t, task.Err, "capacity probe")
	}
	requireAccounted(t, p)
}

// slotPool is a process pool of one worker, which is this test binary serving
// testRegistry, known to the pool only by its hello (so that a workload it
// does not offer reaches a worker), with a short frame limit and a grace of
// 1s: short for the tests that wait for a kill, long enough for a worker on
// a loaded machine to answer a cancel within it.
func slotPool(t *testing.T, workers, concurrency int) *Pool {
	return newPool(t, Config{
		Kind: Process, Workers: workers, Process: ProcessConfig{Concurrency: concurrency, Command: []string{os.Args[0]}},
		cancelGrace: time.Second, maxFrame: 64 << 10,
	})
}

// waitBusy waits until n tasks run.
func waitBusy(t *testing.T, p *Pool, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return p.Stats().Busy == n }, 10*time.Second, time.Millisecond, "%+v", p.Stats())
}

// TestEveryExitFromASlotGivesItBack: whichever way a task leaves a worker's
// slot (or never reaches one), the slot is given back and stats() accounts
// for the task at once; afterwards the pool runs workers × concurrency tasks
// at once again. The first case is the input: a request refused
// over the frame limit kept its slot, and the next task never ran.
//
//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestEveryExitFromASlotGivesItBack(t *testing.T) {
	prepare := func(t *testing.T, p *Pool, name string, params map[string]any, timeout time.Duration) *Task {
		task, err := p.prepareTest(name, params)
		require.NoError(t, err)
		task.Timeout = timeout
		return task
	}
	gone := taskerr.New(taskerr.PoolClosed, "gone: the VU stopped")
	cases := []struct {
		name string
		want taskerr.Code
		// restart says the worker is replaced on this path.
		restart bool
		do      func(t *testing.T, p *Pool) *Task
	}{
		{"refused over the frame limit", taskerr.InvalidArgument, false, func(t *testing.T, p *Pool) *Task {
			return await(t, submit(t, p, "t.env", map[string]any{"name": strings.Repeat("x", 128<<10)}))
		}},
		{"params that cannot be sent", taskerr.InvalidArgument, false, func(t *testing.T, p *Pool) *Task {
			task := prepare(t, p, "noop", nil, 0)
			task.params = []byte(`["not", "an", "object"]`)
			return await(t, submitTask(p, task))
		}},
		{"unknown workload after the hello", taskerr.UnknownWorkload, false, func(t *testing.T, p *Pool) *Task {
			return await(t, submit(t, p, "not.offered", nil))
		}},
		{"timeout, the worker answers the cancel", taskerr.Timeout, false, func(t *testing.T, p *Pool) *Task {
			return await(t, submitTask(p, prepare(t, p, "io.sleep", map[string]any{"duration": "1h"}, 100*time.Millisecond)))
		}},
		{"timeout, the worker ignores the cancel", taskerr.Timeout, true, func(t *testing.T, p *Pool) *Task {
			return await(t, submitTask(p, prepare(t, p, "t.block", map[string]any{"for": "1h"}, 100*time.Millisecond)))
		}},
		{"crash", taskerr.WorkerCrashed, true, func(t *testing.T, p *Pool) *Task {
			return await(t, submit(t, p, "t.crash", nil))
		}},
		{"cancel while running, the worker answers", taskerr.PoolClosed, false, func(t *testing.T, p *Pool) *Task {
			task := prepare(t, p, "io.sleep", map[string]any{"duration": "1h"}, 0)
			c := submitTask(p, task)
			waitBusy(t, p, 1)
			require.True(t, task.Cancel(gone))
			return await(t, c)
		}},
		{"VU stopped while running, the worker ignores the cancel", taskerr.PoolClosed, true, func(t *testing.T, p *Pool) *Task {
			task := prepare(t, p, "t.block", map[string]any{"for": "1h"}, 0)
			c := submitTask(p, task)
			waitBusy(t, p, 1)
			require.True(t, task.Cancel(gone))
			return await(t, c)
		}},
		{"VU stopped while queued", taskerr.PoolClosed, false, func(t *testing.T, p *Pool) *Task {
			n := p.Size() * p.Config().Process.Concurrency
			running := make([]chan *Task, 0, n)
			for range n {
				running = append(running, submit(t, p, "io.sleep", map[string]any{"duration": "1s"}))
			}
			waitBusy(t, p, int64(n))
			task := prepare(t, p, "noop", nil, 0)
			c := submitTask(p, task)
			require.Equal(t, 1, p.Stats().Queued)
			require.True(t, task.Cancel(gone))
			s := requireAccounted(t, p)
			assert.Zero(t, s.Queued, "a cancelled task leaves the queue at once")
			for _, r := range running {
				require.Nil(t, await(t, r).Err)
			}
			return await(t, c)
		}},
	}
	for _, conc := range []int{1, 2} {
		for _, tc := range cases {
			t.Run(tc.name+"/concurrency "+strconv.Itoa(conc), func(t *testing.T) {
				p := slotPool(t, 1, conc)
				require.Nil(t, run(t, p, "noop", nil).Err)
				task := tc.do(t, p)
				assert.Equal(t, tc.want, code(task), "%v", task.Err)
				s := requireAccounted(t, p)
				assert.Zero(t, s.Busy+int64(s.Queued), "a settled task holds nothing")
				if tc.restart {
					require.Eventually(t, func() bool { return p.Stats().Restarts == 1 }, 10*time.Second, time.Millisecond)
				}
				requireCapacity(t, p)
				assert.Equal(t, map[bool]int64{true: 1}[tc.restart], p.Stats().Restarts, "a worker that answered is kept")
				p.Close()
				requireAccounted(t, p)
				requireNoWorkers(t)
			})
		}
	}
}

// TestCloseGivesEverythingBack: close settles the running and the queued
// tasks and stats() accounts for all of them at every step.
//
//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestCloseGivesEverythingBack(t *testing.T) {
	p := slotPool(t, 1, 2)
	running := []chan *Task{
		submit(t, p, "io.sleep", map[string]any{"duration": "1h"}),
		submit(t, p, "t.block", map[string]any{"for": "1h"}),
	}
	waitBusy(t, p, 2)
	queued := submit(t, p, "noop", nil)
	requireAccounted(t, p)
	p.Close()
	for _, c := range append(running, queued) {
		assert.Equal(t, taskerr.PoolClosed, code(await(t, c)))
	}
	s := requireAccounted(t, p)
	assert.Equal(t, Stats{Submitted: 3, Failed: 3, Workers: 1, PeakQueued: 1, Restarts: s.Restarts}, s)
	requireNoWorkers(t)
}

// TestTimeoutSparesItsSiblings is the input: on a worker running
// two tasks, one task's timeout fails that task only. The worker answers
// the cancel, so it is kept, and the sibling completes.
func TestTimeoutSparesItsSiblings(t *testing.T) {
	t.Parallel()
	p := slotPool(t, 1, 2)
	before := pidOf(t, p)
	slow, err := p.prepareTest("io.sleep", map[string]any{"duration": "5s"})
	require.NoError(t, err)
	slow.Timeout = 200 * time.Millisecond
	slowDone := submitTask(p, slow)
	sibling := submit(t, p, "io.sleep", map[string]any{"duration": "500ms"})
	got := await(t, slowDone)
	assert.Equal(t, taskerr.Timeout, code(got))
	assert.Contains(t, got.Err.Message, "timed out after 200ms")
	assert.Nil(t, await(t, sibling).Err, "the sibling had no timeout")
	assert.Equal(t, before, pidOf(t, p), "the worker answered the cancel: it is kept")
	assert.Zero(t, p.Stats().Restarts)
	requireAccounted(t, p)
}

// TestUnansweredCancelNamesTheCause: a worker that does not answer the
// cancel within the grace is killed; the siblings' errors say which task
// timed out and that the worker did not answer its cancel.
func TestUnansweredCancelNamesTheCause(t *testing.T) {
	t.Parallel()
	p := slotPool(t, 1, 2)
	require.Nil(t, run(t, p, "noop", nil).Err)
	stuck, err := p.prepareTest("t.block", map[string]any{"for": "1h"})
	require.NoError(t, err)
	stuck.Timeout = 200 * time.Millisecond
	stuckDone := submitTask(p, stuck)
	sibling := submit(t, p, "io.sleep", map[string]any{"duration": "1h"})
	got := await(t, stuckDone)
	assert.Equal(t, taskerr.Timeout, code(got))
	assert.Contains(t, got.Err.Message, "is killed unless it answers within 1s")
	sib := await(t, sibling)
	assert.Equal(t, taskerr.WorkerCrashed, code(sib))
	assert.Contains(t, sib.Err.Message, "io.sleep was running when")
	assert.Contains(t, sib.Err.Message, "task t.block timed out after 200ms and the worker did not answer its cancel within 1s")
	require.Eventually(t, func() bool { return p.Stats().Restarts == 1 }, 10*time.Second, time.Millisecond)
	requireCapacity(t, p)
}

// TestCancelledQueuedTaskFreesItsPlace is the input at the pool's
// level: a 1-worker pool with maxQueue 1 runs a task that ignores
// cancellation with a noop queued behind it; both are abandoned (their VU
// stopped). Neither counts any more, the queue has room, and the next noop
// runs once the worker, which did not answer the cancel, is replaced.
func TestCancelledQueuedTaskFreesItsPlace(t *testing.T) {
	t.Parallel()
	for _, kind := range []Kind{Thread, Process} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			// The state checked below lasts from the queued noop's cancel
			// until the stuck task's worker is killed (process, after
			// cancelGrace) or its workload returns (thread): seconds, so a
			// loaded machine still sees it.
			cfg := Config{Kind: kind, Workers: 1, MaxQueue: new(1), cancelGrace: 2 * time.Second}
			p := newPool(t, cfg)
			stuck, err := p.prepareTest("t.block", map[string]any{"for": "3s"})
			require.NoError(t, err)
			stuckDone := submitTask(p, stuck)
			waitBusy(t, p, 1)
			require.Eventually(t, func() bool { return p.Stats().Live == 1 }, 10*time.Second, time.Millisecond)
			queued, err := p.prepareTest("noop", nil)
			require.NoError(t, err)
			queuedDone := submitTask(p, queued)
			assert.Equal(t, Stats{Submitted: 2, Queued: 1, PeakQueued: 1, Busy: 1, Workers: 1, Live: 1}, p.Stats())

			stopped := taskerr.New(taskerr.PoolClosed, "the VU stopped")
			require.True(t, queued.Cancel(stopped))
			require.True(t, stuck.Cancel(stopped))
			// On a process pool the queued noop waited in the worker's
			// input (prefetch): it holds its slot until the worker answers
			// its cancel, which it does at once, without running it.
			want := Stats{Submitted: 2, Failed: 2, PeakQueued: 1, Abandoned: 1, Workers: 1, Live: 1}
			require.Eventually(t, func() bool { return p.Stats() == want }, 5*time.Second, time.Millisecond,
				"settled tasks hold no place in the queue; the one that ignores its cancel holds its worker, and shows: %+v", p.Stats())
			assert.Equal(t, taskerr.PoolClosed, code(await(t, queuedDone)))
			assert.Equal(t, taskerr.PoolClosed, code(await(t, stuckDone)))
			next := await(t, submit(t, p, "noop", nil))
			assert.Nil(t, next.Err, "the queue had room")
			requireAccounted(t, p)
		})
	}
}

// TestNoTaskForAWorkerAboutToBeKilled: while a worker has not answered a
// cancel, which gets it killed at the end of the grace, it takes no new
// task: the tasks submitted meanwhile run on the other worker or on its
// replacement, and none fails with the kill.
func TestNoTaskForAWorkerAboutToBeKilled(t *testing.T) {
	t.Parallel()
	for _, workers := range []int{1, 2} {
		t.Run(strconv.Itoa(workers)+" workers", func(t *testing.T) {
			t.Parallel()
			p := slotPool(t, workers, 2)
			require.NoError(t, p.WaitLive(context.Background()))
			stuck := submitTask(p, prepared(t, p, "t.block", map[string]any{"for": "1h"}, 200*time.Millisecond))
			require.Equal(t, taskerr.Timeout, code(await(t, stuck)))
			// The worker has a cancel unanswered for cancelGrace (1s). Tasks
			// that outlast it: on that worker, the kill would fail them.
			next := make([]chan *Task, 0, workers*2)
			for range workers * 2 {
				next = append(next, submit(t, p, "io.sleep", map[string]any{"duration": "1500ms"}))
			}
			for i, c := range next {
				got := await(t, c)
				assert.Nil(t, got.Err, "task %d, submitted while a worker had a cancel unanswered", i)
			}
			assert.EqualValues(t, 1, p.Stats().Restarts, "the worker that did not answer was killed")
			requireAccounted(t, p)
			requireCapacity(t, p)
		})
	}
}
