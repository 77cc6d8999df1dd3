package pool

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// workerPIDs lists the live processes that carry the worker marker with
// this process's pid: the workers of this test binary's pools.
func workerPIDs(t *testing.T) []int {
	t.Helper()
	return procs.WithEnv(ipc.WorkerEnv + "=" + strconv.Itoa(os.Getpid()))
}

func requireNoWorkers(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return len(workerPIDs(t)) == 0 }, 5*time.Second, 10*time.Millisecond,
		"worker processes left behind: %v", workerPIDs(t))
}

func pidOf(t *testing.T, p *Pool) int {
	t.Helper()
	task := run(t, p, "t.pid", nil)
	require.Nil(t, task.Err)
	return int(task.Value.(float64))
}

//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestProcessPoolRunsWorkloads(t *testing.T) {
	p := newPool(t, Config{Kind: Process, Workers: 2})
	task := run(t, p, "cpu.primes", map[string]any{"limit": 20000.0})
	require.Nil(t, task.Err)
	assert.EqualValues(t, 2262, task.Value)
	assert.Positive(t, task.RunTime)
	assert.NotEqual(t, os.Getpid(), pidOf(t, p), "the task ran in another process")

	digest := run(t, p, "cpu.sha256", map[string]any{"bytes": 0.0})
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", digest.Value)
	failed := run(t, p, "t.fail", nil)
	assert.Equal(t, taskerr.Workload, code(failed))
	assert.Equal(t, "t.fail: boom", failed.Err.Message)
	assert.Equal(t, taskerr.Workload, code(run(t, p, "t.panic", nil)))

	require.Eventually(t, func() bool { return p.Stats().Live == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, workerPIDs(t), 2)
	p.Close()
	requireNoWorkers(t)
}

//nolint:paralleltest // timing-sensitive: asserts that 8 sleeps overlap on one worker
func TestProcessConcurrencyPipelines(t *testing.T) {
	p := newPool(t, Config{Kind: Process, Workers: 1, Process: ProcessConfig{Concurrency: 8}})
	run(t, p, "noop", nil) // the worker is up
	chans := make([]chan *Task, 0, 8)
	for range 8 {
		chans = append(chans, submit(t, p, "io.sleep", map[string]any{"duration": "200ms"}))
	}
	// In flight at once on one worker: every sleep started before the
	// first one ended (a worker running them one by one would end the first
	// before starting the second). No wall-clock bound: it holds under load.
	var lastStart, firstEnd time.Time
	for _, c := range chans {
		task := <-c
		require.Nil(t, task.Err)
		if task.Started.After(lastStart) {
			lastStart = task.Started
		}
		if end := task.Started.Add(task.RunTime); firstEnd.IsZero() || end.Before(firstEnd) {
			firstEnd = end
		}
	}
	assert.True(t, lastStart.Before(firstEnd), "8 sleeps in flight at once: the last started at %s, the first ended at %s",
		lastStart.Format(time.StampMicro), firstEnd.Format(time.StampMicro))
}

//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestWorkerKilledIsReplaced(t *testing.T) {
	p := newPool(t, Config{Kind: Process, Workers: 2})
	run(t, p, "noop", nil)
	require.Eventually(t, func() bool { return p.Stats().Live == 2 }, 5*time.Second, 5*time.Millisecond)
	sleeping := submit(t, p, "io.sleep", map[string]any{"duration": "10s"})
	require.Eventually(t, func() bool { return p.Stats().Busy == 1 }, 5*time.Second, time.Millisecond)

	// Find the busy worker: the other one answers t.pid.
	idle := pidOf(t, p)
	var victim int
	for _, pid := range workerPIDs(t) {
		if pid != idle {
			victim = pid
		}
	}
	require.NotZero(t, victim)
	require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))

	task := <-sleeping
	assert.Equal(t, taskerr.WorkerCrashed, code(task))
	assert.Contains(t, task.Err.Message, strconv.Itoa(victim))
	assert.Contains(t, task.Err.Message, "SIGKILL")
	assert.Contains(t, task.Err.Message, "io.sleep")

	// The pool keeps serving and gets back to two workers.
	for range 10 {
		assert.Nil(t, run(t, p, "noop", nil).Err)
	}
	// Live counts the killed worker until it is reaped (and its group and
	// strays are killed), so wait for the restart too.
	require.Eventually(t, func() bool { s := p.Stats(); return s.Live == 2 && s.Restarts == 1 }, 5*time.Second, 5*time.Millisecond)
	s := p.Stats()
	assert.EqualValues(t, 1, s.Restarts)
	assert.Equal(t, s.Submitted, s.Completed+s.Failed)
	assert.EqualValues(t, 1, s.Failed)
}

func TestWorkerExitIsReported(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Process, Workers: 1})
	task := run(t, p, "t.crash", nil)
	assert.Equal(t, taskerr.WorkerCrashed, code(task))
	assert.Contains(t, task.Err.Message, "exited with status 3")
	assert.Contains(t, task.Err.Message, "t.crash")
	assert.Nil(t, run(t, p, "noop", nil).Err, "a replacement serves the next task")
}

//nolint:paralleltest // timing-sensitive: asserts on how soon the TimeoutError comes
func TestProcessTimeoutKillsAndReplaces(t *testing.T) {
	p := newPool(t, Config{Kind: Process, Workers: 1, TaskTimeout: 100 * time.Millisecond})
	before := pidOf(t, p)
	began := time.Now()
	task := run(t, p, "t.block", map[string]any{"for": "1h"})
	took := time.Since(began)
	assert.Equal(t, taskerr.Timeout, code(task))
	assert.Contains(t, task.Err.Message, "100ms")
	assert.Contains(t, task.Err.Message, strconv.Itoa(before))
	// The bound is loose for loaded machines; the reliability suite reports
	// how soon it comes.
	assert.Less(t, took, time.Second, "TimeoutError long before the workload would end")
	after := pidOf(t, p)
	assert.NotEqual(t, before, after, "the timed-out worker was replaced")
	assert.NoDirExists(t, fmt.Sprintf("/proc/%d", before))
	assert.EqualValues(t, 1, p.Stats().Restarts)
}

func TestMaxTasksPerWorkerRecycles(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Process, Workers: 1, Process: ProcessConfig{MaxTasksPerWorker: 3}})
	pids := make([]int, 0, 7)
	for range 7 {
		pids = append(pids, pidOf(t, p))
	}
	assert.Equal(t, pids[0], pids[1])
	assert.Equal(t, pids[0], pids[2])
	assert.NotEqual(t, pids[2], pids[3])
	assert.Equal(t, pids[3], pids[5])
	assert.NotEqual(t, pids[5], pids[6])
	assert.EqualValues(t, 2, p.Stats().Restarts)
	assert.Zero(t, p.Stats().Failed, "recycling loses no task")
}

//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestProcessResize(t *testing.T) {
	p := newPool(t, Config{Kind: Process, Workers: 1})
	run(t, p, "noop", nil)
	require.NoError(t, p.Resize(4))
	require.Eventually(t, func() bool { return p.Stats().Live == 4 && len(workerPIDs(t)) == 4 }, 10*time.Second, 10*time.Millisecond)
	chans := make([]chan *Task, 0, 8)
	for range 8 {
		chans = append(chans, submit(t, p, "io.sleep", map[string]any{"duration": "50ms"}))
	}
	require.NoError(t, p.Resize(2))
	for _, c := range chans {
		assert.Nil(t, (<-c).Err, "shrinking drops no task")
	}
	require.Eventually(t, func() bool { return p.Stats().Live == 2 && len(workerPIDs(t)) == 2 }, 10*time.Second, 10*time.Millisecond)
}

//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestProcessCloseStopsEverything(t *testing.T) {
	p := newPool(t, Config{Kind: Process, Workers: 2})
	running := []chan *Task{
		submit(t, p, "io.sleep", map[string]any{"duration": "1h"}),
		submit(t, p, "t.block", map[string]any{"for": "1h"}), // ignores cancellation: needs SIGTERM/SIGKILL
	}
	queued := submit(t, p, "noop", nil)
	require.Eventually(t, func() bool { return p.Stats().Busy == 2 }, 10*time.Second, time.Millisecond)
	began := time.Now()
	p.Close()
	assert.Less(t, time.Since(began), 3*StopGrace)
	for _, c := range running {
		task := <-c
		assert.Equal(t, taskerr.PoolClosed, code(task), task.Err)
	}
	assert.Equal(t, taskerr.PoolClosed, code(<-queued))
	requireNoWorkers(t)
	assert.Equal(t, taskerr.PoolClosed, code(run(t, p, "noop", nil)))
}

func TestCommandThatCannotStart(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Process, Workers: 2, Process: ProcessConfig{Command: []string{"/nonexistent/worker"}}, StartTimeout: time.Second})
	began := time.Now()
	chans := make([]chan *Task, 0, 5)
	for range 5 {
		task, err := p.prepareTest("noop", nil)
		require.NoError(t, err)
		done := make(chan *Task, 1)
		task.OnDone = func(t *Task) { done <- t }
		p.submit(task)
		chans = append(chans, done)
	}
	for _, c := range chans {
		task := <-c
		assert.Equal(t, taskerr.WorkerCrashed, code(task))
		assert.Contains(t, task.Err.Message, "/nonexistent/worker")
		assert.False(t, task.Ran(), "a task no worker took has no duration, wait or overhead sample")
	}
	assert.Less(t, time.Since(began), 5*time.Second, "tasks fail, they do not hang")
}

func TestCustomCommandOffersOnlyItsWorkloads(t *testing.T) {
	t.Parallel()
	// The same test binary, but not declared SameRegistry: the pool learns
	// what it offers from its hello.
	p := newPool(t, Config{Kind: Process, Workers: 1, Process: ProcessConfig{Command: []string{os.Args[0]}}})
	task := run(t, p, "cpu.primes", map[string]any{"limit": 10.0})
	require.Nil(t, task.Err)
	assert.EqualValues(t, 4, task.Value)
	missing := run(t, p, "not.offered", nil)
	assert.Equal(t, taskerr.UnknownWorkload, code(missing))
	assert.Contains(t, missing.Err.Message, "does not offer")
	// The worker validates params it gets.
	bad := run(t, p, "cpu.primes", map[string]any{"limit": -1.0})
	assert.Equal(t, taskerr.InvalidArgument, code(bad))
	assert.Contains(t, bad.Err.Message, `"limit"`)
}

func TestWorkerEnvironment(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Process, Workers: 1, Process: ProcessConfig{Env: map[string]string{"XK6_TEST_GREETING": "hello"}}})
	assert.Equal(t, "hello", run(t, p, "t.env", map[string]any{"name": "XK6_TEST_GREETING"}).Value)
	assert.Equal(t, strconv.Itoa(os.Getpid()), run(t, p, "t.env", map[string]any{"name": ipc.WorkerEnv}).Value)
}
