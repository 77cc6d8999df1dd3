package pool

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/k6-concurrency/xk6-concurrency/internal/testworkload"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// TestMain makes this test binary a worker for process pools (the pool's
// command is os.Args[0]) and checks that no test leaks a goroutine.
func TestMain(m *testing.M) {
	if os.Getenv(ipc.WorkerEnv) != "" {
		os.Exit(ipc.ServeProcess(testRegistry))
	}
	// ipc forks every worker from one goroutine locked to its OS thread for
	// the life of the process (Pdeathsig is tied to that thread): not a leak.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/k6-concurrency/xk6-concurrency/ipc.forkLoop"))
}

// testRegistry holds the built-ins, the test workloads of
// internal/testworkload (many misbehave on purpose), and t.init and
// t.inits, which count the inits run in this process.
//
//nolint:gochecknoglobals // the registry this test binary serves as a worker process (TestMain)
var testRegistry = func() *workload.Registry {
	r := workload.NewRegistry()
	for _, s := range workload.Default.List() {
		opts := []workload.Option{workload.WithDescription(s.Description), workload.WithParams(s.Params...)}
		if s.Raw {
			opts = append(opts, workload.RawParams())
		}
		if err := r.Add(s.Name, s.Kind, s.Fn, opts...); err != nil {
			panic(err)
		}
	}
	must(testworkload.Register(r)) // t.block, t.fail, t.crash, t.pid, t.env, ...
	// t.init counts the inits run in this process; t.inits reports the
	// count and the pid (init_test.go).
	must(r.Add("t.init", workload.IO, func(context.Context, workload.Args) (any, error) {
		initsRun.Add(1)
		return nil, nil
	}))
	must(r.Add("t.inits", workload.IO, func(context.Context, workload.Args) (any, error) {
		return map[string]any{"pid": os.Getpid(), "inits": initsRun.Load()}, nil
	}))
	return r
}()

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = testRegistry
	}
	if cfg.Kind == Process && cfg.Process.Command == nil {
		cfg.Process.Command = []string{os.Args[0]}
		cfg.Process.SameRegistry = true
	}
	if cfg.Name == "" {
		cfg.Name = t.Name()
	}
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

// run submits a task and waits for it to settle.
func run(t *testing.T, p *Pool, name string, params map[string]any) *Task {
	t.Helper()
	task := submit(t, p, name, params)
	return <-task
}

// submit prepares and submits a task; the channel gets it once settled.
func submit(t *testing.T, p *Pool, name string, params map[string]any) chan *Task {
	t.Helper()
	task, err := p.prepareTest(name, params)
	require.NoError(t, err)
	done := make(chan *Task, 1)
	task.OnDone = func(t *Task) { done <- t }
	p.submit(task)
	return done
}

func code(task *Task) taskerr.Code {
	if task.Err == nil {
		return ""
	}
	return task.Err.Code
}

func TestThreadPoolRunsWorkloads(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 2})
	assert.False(t, p.Started(), "workers start with the first task")
	task := run(t, p, "cpu.primes", map[string]any{"limit": 20000.0})
	require.Nil(t, task.Err)
	assert.EqualValues(t, 2262, task.Value)
	assert.True(t, p.Started())
	assert.True(t, task.Ran())
	assert.Positive(t, task.RunTime)
	assert.Equal(t, 2, task.Workers)
	assert.False(t, task.Finished.Before(task.Started))
	assert.InDelta(t, task.Finished.Sub(task.Submitted), task.Wait()+task.Overhead()+task.RunTime, float64(time.Microsecond))

	failed := run(t, p, "t.fail", nil)
	assert.Equal(t, taskerr.Workload, code(failed))
	assert.Equal(t, "t.fail: boom", failed.Err.Message)
	panicked := run(t, p, "t.panic", nil)
	assert.Equal(t, taskerr.Workload, code(panicked))
	assert.Contains(t, panicked.Err.Message, "boom")

	// Each worker counts itself live once its goroutine runs, which may be
	// after the tasks above: wait for that rather than read it at once.
	require.Eventually(t, func() bool { return p.Stats().Live == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, Stats{Submitted: 3, Completed: 1, Failed: 2, Workers: 2, Live: 2}, p.Stats())
}

func TestPrepareValidates(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 1})
	_, err := p.prepareTest("cpu.nope", nil)
	assert.Equal(t, taskerr.UnknownWorkload, taskerr.CodeOf(err))
	_, err = p.prepareTest("cpu.primes", map[string]any{"limit": "many"})
	assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err))
	assert.Contains(t, err.Error(), `"limit"`)
	assert.Zero(t, p.Stats().Submitted, "a call rejected for bad arguments is not a task")
	assert.False(t, p.Started())
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Kind: "fiber"},
		{Kind: Thread, Workers: -1},
		{Kind: Thread, Workers: 1025},
		{Kind: Thread, MaxQueue: new(-1)},
		{Kind: Thread, MaxQueue: new(MaxQueueLimit + 1)},
		{Kind: Thread, TaskTimeout: -time.Second},
		{Kind: Process},
		{Kind: Process, Process: ProcessConfig{Command: []string{"x"}, Concurrency: 2000}},
		{Kind: Process, Process: ProcessConfig{Command: []string{"x"}, MaxTasksPerWorker: -1}},
		{Kind: Process, Process: ProcessConfig{Command: []string{"x"}}, StartTimeout: -1},
	} {
		_, err := New(cfg)
		require.Error(t, err, "%+v", cfg)
		assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err))
	}
}

// TestQueueLimit: maxQueue tasks wait beyond what the workers hold; the next
// is rejected at once, and every task is accounted for.
func TestQueueLimit(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 2, MaxQueue: new(3)})
	results := make([]chan *Task, 0, 5)
	for range 5 { // 2 running + 3 waiting
		results = append(results, submit(t, p, "t.block", map[string]any{"for": "100ms"}))
	}
	rejected := run(t, p, "noop", nil)
	assert.Equal(t, taskerr.QueueFull, code(rejected))
	assert.Contains(t, rejected.Err.Message, "maxQueue 3")
	assert.False(t, rejected.Ran())
	s := p.Stats()
	assert.LessOrEqual(t, s.Queued, 3)
	assert.Equal(t, 3, s.PeakQueued, "the queue filled exactly to maxQueue")
	for _, r := range results {
		assert.Nil(t, (<-r).Err)
	}
	s = p.Stats()
	assert.Equal(t, int64(6), s.Submitted)
	assert.Equal(t, int64(5), s.Completed)
	assert.Equal(t, int64(1), s.Failed)
	assert.Zero(t, s.Queued)
	// Room again once the queue drained.
	assert.Nil(t, run(t, p, "noop", nil).Err)
}

func TestZeroQueueAcceptsOnlyWhatWorkersHold(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 2, MaxQueue: new(0)})
	a := submit(t, p, "io.sleep", map[string]any{"duration": "100ms"})
	b := submit(t, p, "io.sleep", map[string]any{"duration": "100ms"})
	c := run(t, p, "noop", nil)
	assert.Equal(t, taskerr.QueueFull, code(c))
	assert.Nil(t, (<-a).Err)
	assert.Nil(t, (<-b).Err)
}

//nolint:paralleltest // timing-sensitive: asserts on how soon the TimeoutError comes
func TestThreadTimeout(t *testing.T) {
	p := newPool(t, Config{Kind: Thread, Workers: 2, TaskTimeout: 50 * time.Millisecond})
	began := time.Now()
	task := run(t, p, "cpu.spin", map[string]any{"duration": "10s"})
	assert.Equal(t, taskerr.Timeout, code(task))
	assert.Contains(t, task.Err.Message, "50ms")
	// The bounds are loose for loaded machines, but far below t.block's
	// 2s: the reliability suite reports how soon a TimeoutError comes.
	assert.Less(t, time.Since(began), 500*time.Millisecond)
	assert.Eventually(t, func() bool { return p.Stats().Abandoned == 0 }, 5*time.Second, time.Millisecond,
		"the workload's context is cancelled, so its goroutine returns")

	// A workload that ignores its context still times out on time. The
	// settled task is no longer busy, but its goroutine is held until the
	// workload returns: the other worker serves meanwhile.
	began = time.Now()
	task = run(t, p, "t.block", map[string]any{"for": "2s"})
	assert.Equal(t, taskerr.Timeout, code(task))
	assert.Less(t, time.Since(began), 500*time.Millisecond)
	s := p.Stats()
	assert.Zero(t, s.Busy)
	assert.EqualValues(t, 1, s.Abandoned, "its goroutine is still held")
	assert.Equal(t, s.Submitted, s.Completed+s.Failed)
	assert.Nil(t, run(t, p, "noop", nil).Err)

	// A per-call timeout overrides the pool's.
	call, err := p.prepareTest("io.sleep", map[string]any{"duration": "80ms"})
	require.NoError(t, err)
	call.Timeout = time.Second
	done := make(chan *Task, 1)
	call.OnDone = func(t *Task) { done <- t }
	p.submit(call)
	assert.Nil(t, (<-done).Err)
}

func TestResizeUnderLoadKeepsEveryTask(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 4})
	const n = 400
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		task, err := p.prepareTest("io.sleep", map[string]any{"duration": "2ms"})
		require.NoError(t, err)
		wg.Add(1)
		task.OnDone = func(t *Task) {
			if t.Err != nil {
				failed.Add(1)
			}
			wg.Done()
		}
		p.submit(task)
	}
	for _, size := range []int{1, 16, 2, 8, 1, 4} {
		require.NoError(t, p.Resize(size))
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	s := p.Stats()
	assert.EqualValues(t, n, s.Completed)
	assert.Equal(t, 4, s.Workers)
	assert.Eventually(t, func() bool { return p.Stats().Live == 4 }, time.Second, time.Millisecond)

	err := p.Resize(0)
	assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err))
	assert.Contains(t, err.Error(), "resize(workers)")
	assert.Error(t, p.Resize(MaxWorkers+1))
}

// TestResizeScalesConcurrency: how many io.sleep tasks run at once follows
// the pool's size. It reads the overlap from the tasks' own Started and
// Finished, not from the wall clock, so that it holds on a loaded machine.
func TestResizeScalesConcurrency(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 1})
	inFlight := func(sleep string) int {
		chans := make([]chan *Task, 0, 16)
		for range 16 {
			chans = append(chans, submit(t, p, "io.sleep", map[string]any{"duration": sleep}))
		}
		tasks := make([]*Task, 0, len(chans))
		for _, c := range chans {
			task := <-c
			require.Nil(t, task.Err)
			tasks = append(tasks, task)
		}
		return peakOverlap(tasks)
	}
	assert.Equal(t, 1, inFlight("20ms"), "1 worker: one sleep at a time")
	require.NoError(t, p.Resize(16))
	// Long sleeps: the last one starts before the first ends even when
	// the machine is slow to schedule the new workers.
	assert.Equal(t, 16, inFlight("1s"), "16 workers: every sleep at once")
}

// peakOverlap is the most tasks that ran at the same moment, from their
// Started and Finished.
func peakOverlap(tasks []*Task) int {
	peak := 0
	for _, a := range tasks {
		n := 0
		for _, b := range tasks {
			if !b.Started.After(a.Started) && b.Finished.After(a.Started) {
				n++ // b was running when a started
			}
		}
		peak = max(peak, n)
	}
	return peak
}

func TestCloseRejectsQueuedAndRunning(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 1})
	running := submit(t, p, "io.sleep", map[string]any{"duration": "1h"})
	queued := submit(t, p, "noop", nil)
	require.Eventually(t, func() bool { return p.Stats().Busy == 1 }, time.Second, time.Millisecond)
	began := time.Now()
	p.Close()
	p.Close() // idempotent
	assert.Less(t, time.Since(began), time.Second)
	r, q := <-running, <-queued
	assert.Equal(t, taskerr.PoolClosed, code(r))
	assert.Equal(t, taskerr.PoolClosed, code(q))
	assert.Contains(t, q.Err.Message, "before noop reached a worker")
	after := run(t, p, "noop", nil)
	assert.Equal(t, taskerr.PoolClosed, code(after))
	assert.Equal(t, taskerr.PoolClosed, taskerr.CodeOf(p.Resize(2)))
	assert.Equal(t, Stats{Submitted: 3, Failed: 3, Workers: 1, PeakQueued: 1}, p.Stats())
}

func TestCancel(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 1})
	task, err := p.prepareTest("io.sleep", map[string]any{"duration": "1h"})
	require.NoError(t, err)
	done := make(chan *Task, 2)
	task.OnDone = func(t *Task) { done <- t }
	p.submit(task)
	require.Eventually(t, func() bool { return p.Stats().Busy == 1 }, time.Second, time.Millisecond)
	assert.True(t, task.Cancel(taskerr.New(taskerr.PoolClosed, "gone")))
	assert.False(t, task.Cancel(taskerr.New(taskerr.PoolClosed, "again")), "settles once")
	got := <-done
	assert.Equal(t, "gone", got.Err.Message)
	assert.Eventually(t, func() bool { return p.Stats().Busy == 0 }, time.Second, time.Millisecond)
	assert.Empty(t, done)
}

// TestManySubmitters: every task settles exactly once under contention.
func TestManySubmitters(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Kind: Thread, Workers: 8, MaxQueue: new(100)})
	const submitters, each = 16, 2000
	var settled, full atomic.Int64
	var wg sync.WaitGroup
	for range submitters {
		wg.Go(func() {
			done := make(chan struct{}, 1)
			for range each {
				task, _ := p.prepareTest("noop", nil)
				task.OnDone = func(t *Task) {
					settled.Add(1)
					if code(t) == taskerr.QueueFull {
						full.Add(1)
					}
					done <- struct{}{}
				}
				p.submit(task)
				<-done
			}
		})
	}
	wg.Wait()
	s := p.Stats()
	assert.EqualValues(t, submitters*each, settled.Load())
	assert.EqualValues(t, submitters*each, s.Submitted)
	assert.Equal(t, s.Submitted, s.Completed+s.Failed)
	assert.Equal(t, full.Load(), s.Failed)
}

// TestWorkerIDAndAtWorkerExit: a thread workload learns which worker runs
// it; what it registers with AtWorkerExit runs once that worker has left
// (Resize down, Close), and a worker made by growing has a new number.
func TestWorkerIDAndAtWorkerExit(t *testing.T) {
	t.Parallel()
	reg := workload.NewRegistry()
	var mu sync.Mutex
	exited, registered := map[int]int{}, map[int]bool{}
	must(reg.Add("t.who", workload.IO, func(ctx context.Context, a workload.Args) (any, error) {
		id, ok := WorkerID(ctx)
		if !ok {
			return nil, errors.New("no worker in the context")
		}
		mu.Lock()
		first := !registered[id]
		registered[id] = true
		mu.Unlock()
		if first && !AtWorkerExit(ctx, func() { mu.Lock(); exited[id]++; mu.Unlock() }) {
			return nil, errors.New("AtWorkerExit refused")
		}
		time.Sleep(a.Duration("hold")) // the tasks of one batch take a worker each
		return id, nil
	}, workload.WithParams(workload.Param{Name: "hold", Type: workload.Duration, Default: time.Duration(0)})))
	p := newPool(t, Config{Kind: Thread, Workers: 3, Registry: reg})
	ids := func(n int) []int {
		chans := make([]chan *Task, n)
		for i := range chans {
			chans[i] = submit(t, p, "t.who", map[string]any{"hold": "50ms"})
		}
		out := make([]int, 0, n)
		for _, c := range chans {
			task := <-c
			require.Nil(t, task.Err)
			out = append(out, task.Value.(int))
		}
		slices.Sort(out)
		return out
	}
	assert.Equal(t, []int{1, 2, 3}, ids(3))
	require.NoError(t, p.Resize(1))
	for p.Stats().Live != 1 { // the retired workers leave after AtWorkerExit's functions ran
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	assert.Equal(t, map[int]int{2: 1, 3: 1}, exited, "the newest workers were retired")
	mu.Unlock()
	require.NoError(t, p.Resize(2))
	assert.Equal(t, []int{1, 4}, ids(2), "a new worker has a new number")
	p.Close()
	mu.Lock()
	assert.Equal(t, map[int]int{1: 1, 2: 1, 3: 1, 4: 1}, exited, "closing runs them for every worker, once")
	mu.Unlock()
	_, ok := WorkerID(context.Background())
	assert.False(t, ok)
	assert.False(t, AtWorkerExit(context.Background(), func() { assert.Fail(t, "ran outside a worker") }))
}
