package pool

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// prefetched is how many requests wait in the input of the pool's only
// worker (the pool's view).
func prefetched(p *Pool) int {
	p.mu.Lock()
	run := p.workers[0].(*procSeat).cur.Load()
	p.mu.Unlock()
	run.mu.Lock()
	defer run.mu.Unlock()
	return len(run.waitq)
}

func prepared(t *testing.T, p *Pool, name string, params map[string]any, timeout time.Duration) *Task {
	t.Helper()
	task, err := p.prepareTest(name, params)
	require.NoError(t, err)
	task.Timeout = timeout
	return task
}

// TestPrefetchedTaskCountsAsQueued: a worker with concurrency 1 gets its
// next request while it runs one; that request counts as queued, not busy,
// until it starts, and its wait shows it.
//
//nolint:paralleltest // timing-sensitive: it orders requests on one worker by their run times
func TestPrefetchedTaskCountsAsQueued(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	slow := submit(t, p, "io.sleep", map[string]any{"duration": "1s"})
	waitBusy(t, p, 1)
	next := submit(t, p, "noop", nil)
	require.Eventually(t, func() bool { return prefetched(p) == 1 }, 5*time.Second, time.Millisecond, "the noop waits in the worker's input")
	s := requireAccounted(t, p)
	assert.Equal(t, int64(1), s.Busy, "the worker runs one task at a time")
	assert.Equal(t, 1, s.Queued, "the prefetched task counts as queued")
	first, second := await(t, slow), await(t, next)
	require.Nil(t, first.Err)
	require.Nil(t, second.Err)
	assert.False(t, second.Started.Before(first.Started.Add(time.Second)),
		"the prefetched task started when the one ahead ended: %s after it", second.Started.Sub(first.Started))
	assert.Less(t, second.Overhead(), 500*time.Millisecond, "its wait is not overhead")
	requireCapacity(t, p)
}

// TestPrefetchedTaskTimeoutCountsFromItsStart: a prefetched task with a
// timeout shorter than the task ahead of it still completes: its timer
// starts when it does, on the pool's side as on the worker's.
//
//nolint:paralleltest // timing-sensitive: it orders requests on one worker by their run times
func TestPrefetchedTaskTimeoutCountsFromItsStart(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	slow := submit(t, p, "io.sleep", map[string]any{"duration": "1s"})
	waitBusy(t, p, 1)
	quick := submitTask(p, prepared(t, p, "io.sleep", map[string]any{"duration": "50ms"}, 600*time.Millisecond))
	require.Nil(t, await(t, slow).Err)
	got := await(t, quick)
	require.Nil(t, got.Err, "it waited 1s in the worker's input, and ran 50ms of its 600ms")
	late := submitTask(p, prepared(t, p, "io.sleep", map[string]any{"duration": "1h"}, 150*time.Millisecond))
	assert.Equal(t, taskerr.Timeout, code(await(t, late)), "a prefetched task still times out")
	requireCapacity(t, p)
	assert.Zero(t, p.Stats().Restarts)
}

// TestCancelledPrefetchedTaskNeverRuns: cancelling a task that waits in the
// worker's input sends the protocol cancel; the worker answers it without
// running it (t.block ignores cancels: had it run, the worker would be
// killed after the grace).
//
//nolint:paralleltest // timing-sensitive: it orders requests on one worker by their run times
func TestCancelledPrefetchedTaskNeverRuns(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	slow := submit(t, p, "io.sleep", map[string]any{"duration": "3s"})
	waitBusy(t, p, 1)
	stuck := prepared(t, p, "t.block", map[string]any{"for": "1h"}, 0)
	stuckDone := submitTask(p, stuck)
	require.Eventually(t, func() bool { return prefetched(p) == 1 }, 5*time.Second, time.Millisecond)
	require.True(t, stuck.Cancel(taskerr.New(taskerr.PoolClosed, "the VU stopped")))
	assert.Equal(t, taskerr.PoolClosed, code(await(t, stuckDone)))
	assert.False(t, stuck.Ran())
	require.Eventually(t, func() bool { return prefetched(p) == 0 }, 5*time.Second, time.Millisecond, "the worker answered the cancel")
	require.Nil(t, await(t, slow).Err)
	requireCapacity(t, p)
	assert.Zero(t, p.Stats().Restarts, "the worker did not run the cancelled task")
}

// TestPrefetchedTaskOfADeadWorkerRunsElsewhere: when a worker dies, the task
// it ran fails with WorkerCrashedError and the one waiting in its input,
// which never ran, goes to the replacement.
//
//nolint:paralleltest // timing-sensitive: it orders requests on one worker by their run times
func TestPrefetchedTaskOfADeadWorkerRunsElsewhere(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	running := submit(t, p, "io.sleep", map[string]any{"duration": "1h"})
	waitBusy(t, p, 1)
	waiting := submit(t, p, "t.pid", nil)
	require.Eventually(t, func() bool { return prefetched(p) == 1 }, 5*time.Second, time.Millisecond)
	dead := p.workers[0].(*procSeat).cur.Load().w
	dead.Kill("the test killed it")
	assert.Equal(t, taskerr.WorkerCrashed, code(await(t, running)))
	got := await(t, waiting)
	require.Nil(t, got.Err, "the prefetched task never ran: it is not lost")
	assert.NotEqual(t, float64(dead.PID()), got.Value, "it ran on the replacement")
	assert.Equal(t, int64(1), p.Stats().Restarts)
	requireCapacity(t, p)
}

// TestPrefetchNeverHoldsBackATaskFromAnIdleWorker: a task goes to an idle
// worker before it waits in a busy worker's input.
//
//nolint:paralleltest // timing-sensitive: it orders requests on one worker by their run times
func TestPrefetchNeverHoldsBackATaskFromAnIdleWorker(t *testing.T) {
	p := slotPool(t, 2, 1)
	p.Start()
	require.Eventually(t, func() bool { return p.Stats().Live == 2 }, 10*time.Second, time.Millisecond)
	for range 5 { // whichever worker the slow task lands on
		slow := submit(t, p, "io.sleep", map[string]any{"duration": "1500ms"})
		waitBusy(t, p, 1)
		quick := await(t, submit(t, p, "noop", nil))
		require.Nil(t, quick.Err)
		assert.Less(t, quick.Wait(), 750*time.Millisecond, "the noop waited for the busy worker")
		require.Nil(t, await(t, slow).Err)
	}
}
