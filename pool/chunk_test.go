package pool

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// submitChunked submits the tasks as one call in chunks of size; the
// channels get each task once settled, in input order.
func submitChunked(p *Pool, tasks []*Task, size int) []chan *Task {
	done := make([]chan *Task, len(tasks))
	for i, task := range tasks {
		done[i] = make(chan *Task, 1)
		task.OnDone = func(t *Task) { done[i] <- t }
	}
	p.submitChunked(tasks, size)
	return done
}

// TestChunkedTasksEachSettleOnce: a call of many tasks in chunks, over two
// workers, settles every task once with its own value, and the pool has all
// its capacity back.
//
//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestChunkedTasksEachSettleOnce(t *testing.T) {
	p := slotPool(t, 2, 1)
	require.NoError(t, p.WaitLive(context.Background())) // both workers up: neither can miss all the chunks
	tasks := make([]*Task, 300)
	for i := range tasks {
		tasks[i] = prepared(t, p, "t.pid", nil, 0)
	}
	done := submitChunked(p, tasks, 16)
	pids := map[any]int{}
	for i := range done {
		got := await(t, done[i])
		require.Nil(t, got.Err, "task %d", i)
		pids[got.Value]++
	}
	s := requireAccounted(t, p)
	assert.Equal(t, int64(300), s.Completed)
	assert.Len(t, pids, 2, "both workers ran tasks: %v", pids)
	requireCapacity(t, p)
}

// TestChunkHoldingABadRequest: the one bad request of a chunk fails with the
// error a lone bad run gets; the others of the chunk succeed.
//
//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestChunkHoldingABadRequest(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	lone := run(t, p, "io.sleep", map[string]any{"duration": "soon"})
	require.Equal(t, taskerr.InvalidArgument, code(lone))
	tasks := make([]*Task, 8)
	for i := range tasks {
		params := map[string]any{"duration": "1ms"}
		if i == 3 {
			params["duration"] = "soon"
		}
		tasks[i] = prepared(t, p, "io.sleep", params, 0)
	}
	done := submitChunked(p, tasks, len(tasks))
	for i := range done {
		got := await(t, done[i])
		if i == 3 {
			require.NotNil(t, got.Err)
			assert.Equal(t, lone.Err.Code, got.Err.Code)
			assert.Equal(t, lone.Err.Message, got.Err.Message)
			continue
		}
		assert.Nil(t, got.Err, "task %d", i)
	}
	requireAccounted(t, p)
	requireCapacity(t, p)
}

// TestChunkOfADeadWorker: a worker that dies mid-chunk fails the task it ran
// with WorkerCrashedError; the tasks of the chunk that had not started,
// which never ran, run on the replacement; every task settles once.
//
//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestChunkOfADeadWorker(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	tasks := make([]*Task, 0, 7)
	tasks = append(tasks, prepared(t, p, "t.pid", nil, 0), prepared(t, p, "io.sleep", map[string]any{"duration": "1h"}, 0))
	for range 5 {
		tasks = append(tasks, prepared(t, p, "t.pid", nil, 0))
	}
	done := submitChunked(p, tasks, len(tasks))
	first := await(t, done[0])
	require.Nil(t, first.Err)
	require.Eventually(t, func() bool { return prefetched(p) == 5 }, 5*time.Second, time.Millisecond,
		"the rest of the chunk waits in the worker's input")
	s := requireAccounted(t, p)
	assert.Equal(t, int64(1), s.Busy)
	assert.Equal(t, 5, s.Queued, "the chunk's tasks that wait count as queued")
	dead := p.workers[0].(*procSeat).cur.Load().w
	dead.Kill("the test killed it")
	assert.Equal(t, taskerr.WorkerCrashed, code(await(t, done[1])))
	for i := 2; i < len(done); i++ {
		got := await(t, done[i])
		require.Nil(t, got.Err, "task %d never ran: it is not lost", i)
		assert.NotEqual(t, float64(dead.PID()), got.Value, "it ran on the replacement")
	}
	s = requireAccounted(t, p)
	assert.Equal(t, int64(len(tasks)+1), s.Completed+s.Failed, "the chunk's tasks and the first noop")
	assert.Equal(t, int64(1), s.Failed)
	requireCapacity(t, p)
}

// TestChunkedTasksKeepTheirTimeoutAndCancel: a task's timeout counts from
// its own start, not from its chunk's; a task of a chunk that is cancelled
// while it waits never runs; the worker is not killed for either.
//
//nolint:paralleltest // timing-sensitive: it orders requests on one worker by their run times
func TestChunkedTasksKeepTheirTimeoutAndCancel(t *testing.T) {
	p := slotPool(t, 1, 1)
	require.Nil(t, run(t, p, "noop", nil).Err)
	tasks := []*Task{
		prepared(t, p, "io.sleep", map[string]any{"duration": "2s"}, 0),
		prepared(t, p, "io.sleep", map[string]any{"duration": "20ms"}, time.Second),
		prepared(t, p, "t.block", map[string]any{"for": "1h"}, 0),
		prepared(t, p, "io.sleep", map[string]any{"duration": "1h"}, 100*time.Millisecond),
	}
	done := submitChunked(p, tasks, len(tasks))
	require.Eventually(t, func() bool { return prefetched(p) == 3 }, 5*time.Second, time.Millisecond)
	require.True(t, tasks[2].Cancel(taskerr.New(taskerr.Aborted, "the test cancelled it")))
	assert.Nil(t, await(t, done[0]).Err)
	assert.Nil(t, await(t, done[1]).Err, "it waited 2s behind the first, and ran 20ms of its 1s")
	blocked := await(t, done[2])
	assert.Equal(t, taskerr.Aborted, code(blocked))
	assert.False(t, blocked.Ran())
	assert.Equal(t, taskerr.Timeout, code(await(t, done[3])), "a chunk's task still times out")
	requireCapacity(t, p)
	assert.Zero(t, p.Stats().Restarts, "the worker answered the cancel and the timeout")
}

// TestAutoChunkSize: Python's ceil(n / (4 * workers)) on a process pool,
// 1 on a thread pool.
func TestAutoChunkSize(t *testing.T) {
	t.Parallel()
	p := slotPool(t, 2, 1)
	assert.Equal(t, 1, p.AutoChunkSize(1))
	assert.Equal(t, 1, p.AutoChunkSize(8))
	assert.Equal(t, 2, p.AutoChunkSize(9))
	assert.Equal(t, 12500, p.AutoChunkSize(100_000))
	tp := newPool(t, Config{Kind: Thread, Workers: 2})
	assert.Equal(t, 1, tp.AutoChunkSize(100_000))
}
