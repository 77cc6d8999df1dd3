package concurrency

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/sobek"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.k6.io/k6/v2/js/modulestest"
	"go.k6.io/k6/v2/lib"
	"go.k6.io/k6/v2/metrics"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// TestMain lets this test binary serve as the worker of process pools, as
// the k6 binary does: the default worker command is os.Executable().
func TestMain(m *testing.M) {
	if os.Getenv(ipc.WorkerEnv) != "" {
		code := ipc.ServeProcess(workload.Default)
		_ = workload.Cleanup()
		os.Exit(code)
	}
	code := m.Run()
	// The thread pools' io.file tasks ran in this process: remove their
	// directory, as k6 does when it exits.
	if err := workload.Cleanup(); err != nil {
		code = max(code, 1)
	}
	os.Exit(code)
}

// testVU is one VU of a test: a sobek runtime with the module imported as
// `concurrency`, and the channel its samples land in.
type testVU struct {
	t        *testing.T
	rt       *modulestest.Runtime
	samples  chan metrics.SampleContainer
	registry *metrics.Registry
}

func newTestVU(t *testing.T, root *RootModule) *testVU {
	t.Helper()
	rt := modulestest.NewRuntime(t)
	mi := root.NewModuleInstance(rt.VU)
	exports := mi.Exports().Named
	obj := rt.VU.Runtime().NewObject()
	for name, v := range exports {
		require.NoError(t, obj.Set(name, v))
	}
	require.NoError(t, rt.VU.Runtime().Set("concurrency", obj))
	return &testVU{t: t, rt: rt, samples: make(chan metrics.SampleContainer, 100_000), registry: rt.VU.InitEnvField.Registry}
}

// init runs code in the init context.
func (v *testVU) init(code string) {
	v.t.Helper()
	_, err := v.rt.VU.Runtime().RunString(code)
	require.NoError(v.t, err)
}

// toVU moves the VU out of the init context, as k6 does before iterations.
func (v *testVU) toVU() {
	tags := lib.NewVUStateTags(v.registry.RootTagSet().With("scenario", "default"))
	v.rt.MoveToVUContext(&lib.State{
		Samples:        v.samples,
		Tags:           tags,
		BuiltinMetrics: v.rt.BuiltinMetrics,
		Logger:         v.rt.VU.InitEnvField.Logger,
	})
}

// run runs code on the VU's event loop, as an iteration, and returns the
// value of the global `result` (set by the script).
func (v *testVU) run(code string) sobek.Value {
	v.t.Helper()
	_, err := v.rt.RunOnEventLoop(code)
	require.NoError(v.t, err)
	return v.rt.VU.Runtime().Get("result")
}

// runErr is like run but expects the iteration to fail and returns why.
func (v *testVU) runErr(code string) error {
	v.t.Helper()
	_, err := v.rt.RunOnEventLoop(code)
	require.Error(v.t, err)
	return err
}

// drain returns every sample pushed so far.
func (v *testVU) drain() []metrics.Sample {
	var out []metrics.Sample
	for {
		select {
		case c := <-v.samples:
			out = append(out, c.GetSamples()...)
		default:
			return out
		}
	}
}

func closeAllOnCleanup(t *testing.T, root *RootModule) {
	t.Cleanup(func() { root.closeAll(logrus.New()) })
}

// newRootVU is a module root, closed when the test ends, and one VU of it.
func newRootVU(t *testing.T) (*RootModule, *testVU) {
	t.Helper()
	root := New()
	closeAllOnCleanup(t, root)
	return root, newTestVU(t, root)
}

func TestRunRunSyncMapValues(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 4 });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		(async () => {
			result.run = await pool.run('cpu.primes', { limit: 20000 });
			result.sync = pool.runSync('cpu.primes', { limit: 10 });
			result.map = await pool.map('cpu.primes', [{ limit: 100 }, { limit: 20000 }, { limit: 10 }, {}]);
			result.sleep = await pool.map('io.sleep', [{ duration: '20ms' }, { duration: 1 }]);
			result.fib = await pool.run('cpu.fib', { n: 20 });
			result.noop = pool.runSync('noop');
			result.hash = pool.runSync('cpu.sha256', { bytes: 0, rounds: 1 });
		})();
	`).Export().(map[string]any)
	assert.EqualValues(t, 2262, got["run"])
	assert.EqualValues(t, 4, got["sync"])
	assert.Equal(t, []any{int64(25), int64(2262), int64(4), int64(2262)}, got["map"])
	assert.Equal(t, []any{nil, nil}, got["sleep"])
	assert.EqualValues(t, 6765, got["fib"])
	assert.Nil(t, got["noop"])
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", got["hash"])
}

func TestPropertiesAndDefaults(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	vu.init(`
		const a = new concurrency.ThreadPool();
		const b = new concurrency.ThreadPool({ workers: 8 });
		const c = new concurrency.ProcessPool({ workers: 4, taskTimeout: '5s' });
		globalThis.result = { a: [a.name, a.kind, a.workers], b: [b.name, b.kind, b.workers], c: [c.name, c.kind, c.workers] };
		b.workers = 99; // read-only: ignored outside strict mode
		result.after = b.workers;
	`)
	got := vu.rt.VU.Runtime().Get("result").Export().(map[string]any)
	n := int64(root.numCPU)
	assert.Equal(t, []any{"thread-" + itoa(n), "thread", n}, got["a"])
	assert.Equal(t, []any{"thread-8", "thread", int64(8)}, got["b"])
	assert.Equal(t, []any{"process-4", "process", int64(4)}, got["c"])
	assert.EqualValues(t, 8, got["after"])
	// No worker starts in the init context.
	for _, sp := range root.pools {
		assert.False(t, sp.pool.Started(), sp.opts.Name)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSharedAcrossVUs(t *testing.T) {
	t.Parallel()
	root := New()
	closeAllOnCleanup(t, root)
	vu1, vu2 := newTestVU(t, root), newTestVU(t, root)
	vu1.init(`const pool = new concurrency.ThreadPool({ name: 'shared', workers: 2 });`)
	vu2.init(`const pool = new concurrency.ThreadPool({ name: 'shared', workers: 2 });`)
	require.Len(t, root.pools, 1)
	vu1.toVU()
	vu2.toVU()
	vu1.run(`pool.runSync('noop'); pool.resize(3);`)
	got := vu2.run(`globalThis.result = [pool.workers, pool.stats().submitted];`).Export()
	assert.Equal(t, []any{int64(3), int64(1)}, got)

	vu3 := newTestVU(t, root)
	_, err := vu3.rt.VU.Runtime().RunString(`new concurrency.ThreadPool({ name: 'shared', workers: 4 })`)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "InvalidArgumentError")
	assert.Contains(t, msg, `"workers":2`)
	assert.Contains(t, msg, `"workers":4`)
	assert.Contains(t, msg, `"shared"`)
}

func TestErrorsHaveNames(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`
		const pool = new concurrency.ThreadPool({ workers: 1, maxQueue: 0, name: 'errs' });
		const timed = new concurrency.ThreadPool({ workers: 2, taskTimeout: '50ms', name: 'timed' });
		const doomed = new concurrency.ThreadPool({ workers: 1, name: 'doomed' });
	`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		const catchName = async (p) => { try { await p; return 'resolved'; } catch (e) { return [e.name, e.message, e instanceof Error]; } };
		const syncName = (f) => { try { f(); return 'returned'; } catch (e) { return [e.name, e.message]; } };
		(async () => {
			result.unknown = await catchName(pool.run('cpu.prime', {}));
			result.param = await catchName(pool.run('cpu.primes', { limit: -5 }));
			result.extra = await catchName(pool.run('cpu.primes', { limit: 10, bogus: 1 }));
			result.nan = await catchName(pool.run('cpu.primes', { limit: NaN }));
			result.fn = await catchName(pool.run('cpu.primes', { limit: () => 1 }));
			const cyc = {}; cyc.self = cyc;
			result.cycle = await catchName(pool.run('noop', cyc));
			result.badName = await catchName(pool.run(42));
			result.badOpts = await catchName(pool.run('noop', {}, { timeot: 1 }));
			result.syncParam = syncName(() => pool.runSync('cpu.fib', { n: 'ten' }));
			result.timeout = await catchName(timed.run('cpu.spin', { duration: '5s' }));
			result.sleepTimeout = await catchName(timed.run('io.sleep', { duration: '5s' }));
			result.callTimeout = await catchName(pool.run('io.sleep', { duration: '5s' }, { timeout: '30ms' }));
			// maxQueue 0 and one busy worker: the next task cannot wait. (A
			// timed-out task keeps its worker until the workload returns:
			// stats().abandoned.)
			while (pool.stats().busy + pool.stats().abandoned > 0) await new Promise((r) => setTimeout(r, 5));
			const busy = pool.run('io.sleep', { duration: '200ms' });
			await new Promise((r) => setTimeout(r, 20));
			result.full = await catchName(pool.run('noop'));
			await busy;
			await doomed.close();
			await doomed.close(); // idempotent
			result.closed = await catchName(doomed.run('noop'));
			result.closedSync = syncName(() => doomed.runSync('noop'));
			result.stats = doomed.stats();
		})();
	`).Export().(map[string]any)
	check := func(key, name string, contains ...string) {
		t.Helper()
		v, ok := got[key].([]any)
		require.True(t, ok, "%s: %v", key, got[key])
		assert.Equal(t, name, v[0], key)
		for _, c := range contains {
			assert.Contains(t, v[1], c, key)
		}
	}
	check("unknown", "UnknownWorkloadError", `"cpu.prime"`, "cpu.primes")
	check("param", "InvalidArgumentError", "cpu.primes", `"limit"`, "-5")
	check("extra", "InvalidArgumentError", `"bogus"`)
	check("nan", "InvalidArgumentError", "limit", "NaN")
	check("fn", "InvalidArgumentError", "limit", "function")
	check("cycle", "InvalidArgumentError", "cycle")
	check("badName", "InvalidArgumentError", "workload", "42")
	check("badOpts", "InvalidArgumentError", `"timeot"`)
	check("syncParam", "InvalidArgumentError", "cpu.fib", `"n"`, `"ten"`)
	check("timeout", "TimeoutError", "cpu.spin", "50ms")
	check("sleepTimeout", "TimeoutError", "io.sleep", "50ms")
	check("callTimeout", "TimeoutError", "io.sleep", "30ms")
	check("full", "QueueFullError", "maxQueue 0")
	check("closed", "PoolClosedError", "doomed")
	check("closedSync", "PoolClosedError", "doomed")
	assert.Equal(t, true, got["unknown"].([]any)[2])
	stats := got["stats"].(map[string]any)
	assert.EqualValues(t, 2, stats["submitted"])
	assert.EqualValues(t, 2, stats["failed"])
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`new concurrency.ThreadPool({ workers: 0 })`:                            {"InvalidArgumentError", `"workers"`, "1 to 1024", "got 0"},
		`new concurrency.ThreadPool({ workers: -1 })`:                           {`"workers"`, "-1"},
		`new concurrency.ThreadPool({ workers: 1e9 })`:                          {`"workers"`, "1000000000"},
		`new concurrency.ThreadPool({ workers: 2.5 })`:                          {`"workers"`, "2.5"},
		`new concurrency.ThreadPool({ workers: '4' })`:                          {`"workers"`, `"4"`},
		`new concurrency.ThreadPool({ workers: NaN })`:                          {"workers", "NaN"},
		`new concurrency.ThreadPool({ workers: Infinity })`:                     {"workers", "Infinity"},
		`new concurrency.ThreadPool({ maxQueue: -1 })`:                          {`"maxQueue"`},
		`new concurrency.ThreadPool({ maxQueue: 1e7 })`:                         {`"maxQueue"`, "1000000"},
		`new concurrency.ThreadPool({ taskTimeout: 'soon' })`:                   {`"taskTimeout"`, `"soon"`},
		`new concurrency.ThreadPool({ taskTimeout: -5 })`:                       {`"taskTimeout"`},
		`new concurrency.ThreadPool({ wrokers: 4 })`:                            {`unknown option "wrokers"`, "workers"},
		`new concurrency.ThreadPool({ env: {} })`:                               {`"env" is for ProcessPool only`},
		`new concurrency.ThreadPool({ name: '' })`:                              {`"name"`},
		`new concurrency.ThreadPool({ name: 5 })`:                               {`"name"`},
		`new concurrency.ThreadPool(5)`:                                         {"options must be an object"},
		`new concurrency.ThreadPool({ workers: () => 4 })`:                      {"options.workers", "function"},
		`new concurrency.ProcessPool({ env: { XK6_CONCURRENCY_WORKER: 'x' } })`: {`"env"`, "XK6_CONCURRENCY_WORKER"},
		`new concurrency.ProcessPool({ env: { 'A=B': 'x' } })`:                  {`"env"`, "A=B"},
		`new concurrency.ProcessPool({ env: { A: {} } })`:                       {`"env"`, "A"},
		`new concurrency.ProcessPool({ env: 'A=1' })`:                           {`"env"`},
		`new concurrency.ProcessPool({ startTimeout: 0 })`:                      {`"startTimeout"`},
		`new concurrency.ProcessPool({ maxTasksPerWorker: -2 })`:                {`"maxTasksPerWorker"`},
		`new concurrency.ProcessPool({ concurrency: 0 })`:                       {`"concurrency"`},
		`new concurrency.ProcessPool({ command: 'python3 worker.py' })`:         {`"command"`, "array", "shell"},
		`new concurrency.ProcessPool({ command: [] })`:                          {`"command"`},
		`new concurrency.ProcessPool({ command: ['python3', 3] })`:              {`"command"`, "item 1"},
	}
	for code, want := range cases {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			root := New()
			vu := newTestVU(t, root)
			_, err := vu.rt.VU.Runtime().RunString(code)
			require.Error(t, err)
			for _, w := range want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), "InvalidArgumentError")
			assert.Empty(t, root.pools)
		})
	}
}

func TestResize(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 4, name: 'ramp' }); pool.resize(2);`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = { before: pool.workers };
		const syncName = (f) => { try { f(); return 'returned'; } catch (e) { return [e.name, e.message]; } };
		result.zero = syncName(() => pool.resize(0));
		result.neg = syncName(() => pool.resize(-1));
		result.huge = syncName(() => pool.resize(1e9));
		result.str = syncName(() => pool.resize('8'));
		result.frac = syncName(() => pool.resize(1.5));
		(async () => {
			// 40 sleeps queued on 2 workers; shrinking to 1 and growing to 16 keeps every one.
			const all = pool.map('io.sleep', Array.from({ length: 40 }, () => ({ duration: '5ms' })));
			pool.resize(1);
			await new Promise((r) => setTimeout(r, 20));
			pool.resize(16);
			result.values = (await all).length;
			result.after = pool.workers;
			result.stats = pool.stats();
		})();
	`).Export().(map[string]any)
	assert.EqualValues(t, 2, got["before"])
	for _, k := range []string{"zero", "neg", "huge", "str", "frac"} {
		v := got[k].([]any)
		assert.Equal(t, "InvalidArgumentError", v[0], k)
		assert.Contains(t, v[1], "resize(workers)", k)
	}
	assert.EqualValues(t, 40, got["values"])
	assert.EqualValues(t, 16, got["after"])
	stats := got["stats"].(map[string]any)
	assert.EqualValues(t, 40, stats["submitted"])
	assert.EqualValues(t, 40, stats["completed"])
	assert.EqualValues(t, 0, stats["failed"])
	assert.EqualValues(t, 0, stats["queued"])
	assert.EqualValues(t, 16, stats["workers"])

	// The gauge shows the ramp: 2 at start, then 1, then 16.
	var sizes []float64
	for _, s := range vu.drain() {
		if s.Metric.Name == names.MetricPoolWorkers {
			sizes = append(sizes, s.Value)
			pool, _ := s.Tags.Get(names.TagPool)
			kind, _ := s.Tags.Get(names.TagPoolKind)
			assert.Equal(t, "ramp", pool)
			assert.Equal(t, "thread", kind)
		}
	}
	assert.Equal(t, []float64{2, 1, 16}, sizes)
}

func TestMetricsAndTags(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 3, name: 'm' });`)
	vu.toVU()
	vu.run(`(async () => {
		await pool.map('io.sleep', [{ duration: '1s' }, { duration: '1s' }]);
		try { await pool.run('cpu.primes', { limit: 1 }); } catch (e) {}
		pool.runSync('cpu.primes', { limit: 1000 });
	})();`)
	type key struct{ metric, workload string }
	count := map[key]int{}
	values := map[key][]float64{}
	for _, s := range vu.drain() {
		if strings.HasPrefix(s.Metric.Name, "concurrency_pool_") { // the pool's gauges: pool-level tags
			continue
		}
		tags := s.Tags.Map()
		assert.Equal(t, "m", tags[names.TagPool])
		assert.Equal(t, "thread", tags[names.TagPoolKind])
		assert.Equal(t, "3", tags[names.TagWorkers])
		assert.Equal(t, "default", tags["scenario"], "the VU's own tags are kept")
		k := key{s.Metric.Name, tags[names.TagWorkload]}
		count[k]++
		values[k] = append(values[k], s.Value)
	}
	// Two sleeps, and two primes calls of which one was invalid and never ran.
	// (An invalid call is rejected before it becomes a task: no samples.)
	assert.Equal(t, 2, count[key{names.MetricTasks, "io.sleep"}])
	assert.Equal(t, 1, count[key{names.MetricTasks, "cpu.primes"}])
	assert.Equal(t, []float64{0, 0}, values[key{names.MetricTaskFailed, "io.sleep"}])
	for _, d := range values[key{names.MetricTaskDuration, "io.sleep"}] {
		assert.GreaterOrEqual(t, d, 1000.0)
		assert.Less(t, d, 3000.0)
	}
	assert.Len(t, values[key{names.MetricTaskWait, "io.sleep"}], 2)
	assert.Len(t, values[key{names.MetricTaskOverhead, "io.sleep"}], 2)
	// The overhead excludes the run time (1 s): the bound is far above the
	// dispatch's own cost, even on a loaded machine, and far below 1 s.
	for _, o := range values[key{names.MetricTaskOverhead, "io.sleep"}] {
		assert.GreaterOrEqual(t, o, 0.0)
		assert.Less(t, o, 500.0)
	}
}

func TestFailedTaskMetrics(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, taskTimeout: '20ms', name: 'f' });`)
	vu.toVU()
	vu.run(`(async () => { try { await pool.run('io.sleep', { duration: '1s' }); } catch (e) {} })();`)
	var failed, tasks []float64
	for _, s := range vu.drain() {
		switch s.Metric.Name {
		case names.MetricTaskFailed:
			failed = append(failed, s.Value)
		case names.MetricTasks:
			tasks = append(tasks, s.Value)
		}
	}
	assert.Equal(t, []float64{1}, failed)
	assert.Equal(t, []float64{1}, tasks)
}

func TestInitContextRestrictions(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	for _, code := range []string{
		`new concurrency.ThreadPool({ name: 'i' }).run('noop')`,
		`new concurrency.ThreadPool({ name: 'i' }).runSync('noop')`,
		`new concurrency.ThreadPool({ name: 'i' }).map('noop', [{}])`,
	} {
		_, err := vu.rt.VU.Runtime().RunString(code)
		require.Error(t, err, code)
		assert.Contains(t, err.Error(), "init context", code)
	}
	assert.False(t, root.pools["i"].pool.Started())
}

func TestWorkloadsCatalogue(t *testing.T) {
	t.Parallel()
	root := New()
	vu := newTestVU(t, root)
	vu.init(`globalThis.result = concurrency.workloads();`)
	list := vu.rt.VU.Runtime().Get("result").Export().([]any)
	byName := map[string]map[string]any{}
	for _, item := range list {
		m := item.(map[string]any)
		byName[m["name"].(string)] = m
	}
	for _, name := range []string{"cpu.primes", "cpu.fib", "cpu.sha256", "cpu.spin", "cpu.matmul", "io.sleep", "io.http", "io.file", "noop"} {
		require.Contains(t, byName, name)
		assert.NotEmpty(t, byName[name]["description"], name)
		assert.Contains(t, []any{"cpu", "io"}, byName[name]["kind"], name)
	}
	limit := byName["cpu.primes"]["params"].(map[string]any)["limit"].(map[string]any)
	assert.Equal(t, "int", limit["type"])
	assert.EqualValues(t, 20000, limit["default"])
}

func TestAbandonedWhenVUStops(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, name: 'a' });`)
	vu.toVU()
	// k6 cancels the VU's context when a scenario's graceful stop runs out;
	// the iteration must not wait for tasks that will never be read.
	go func() {
		time.Sleep(100 * time.Millisecond)
		vu.rt.CancelContext()
	}()
	began := time.Now()
	_, _ = vu.rt.RunOnEventLoop(`
		globalThis.result = [];
		pool.run('io.sleep', { duration: '1h' }).catch((e) => result.push(e.name));
		pool.run('io.sleep', { duration: '1h' }).catch((e) => result.push(e.name));
	`)
	assert.Less(t, time.Since(began), 5*time.Second)
	assert.Equal(t, []any{"PoolClosedError", "PoolClosedError"}, vu.rt.VU.Runtime().Get("result").Export())
	stats := root.pools["a"].pool.Stats()
	assert.EqualValues(t, 2, stats.Failed)
	assert.Eventually(t, func() bool { return root.pools["a"].pool.Stats().Busy == 0 },
		2*time.Second, 10*time.Millisecond, "the cancelled workload's goroutine returns")
}

func TestCloseAllAtTestEnd(t *testing.T) {
	t.Parallel()
	root := New()
	vu := newTestVU(t, root)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, name: 'end' });`)
	vu.toVU()
	vu.run(`globalThis.result = [];`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := root.pools["end"].pool
	done := make(chan struct{})
	go func() {
		_, _ = vu.rt.RunOnEventLoop(`
			pool.run('io.sleep', { duration: '1h' }).catch((e) => result.push(e.name + ': ' + e.message));
			pool.run('noop').catch((e) => result.push(e.name + ': ' + e.message));
		`)
		close(done)
	}()
	require.Eventually(t, func() bool { s := p.Stats(); return s.Busy == 1 && s.Submitted == 2 }, 5*time.Second, 5*time.Millisecond)
	root.closeAll(logrus.New()) // what the TestEnd event does
	select {
	case <-done:
	case <-ctx.Done():
		require.FailNow(t, "the iteration did not end after the pools closed")
	}
	got := vu.rt.VU.Runtime().Get("result").Export().([]any)
	require.Len(t, got, 2)
	for _, g := range got {
		assert.Contains(t, g, "PoolClosedError")
	}
	assert.Contains(t, got, "PoolClosedError: thread pool \"end\" closed before noop reached a worker")
}

// TestProcessPoolThroughJS drives a process pool from JavaScript; this test
// binary is the worker (see TestMain), as the k6 binary is in production.
func TestProcessPoolThroughJS(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const procs = new concurrency.ProcessPool({ workers: 2, name: 'js-procs', taskTimeout: '2s' });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		(async () => {
			result.run = await procs.run('cpu.primes', { limit: 20000 });
			result.sync = procs.runSync('cpu.fib', { n: 20 });
			result.map = await procs.map('cpu.primes', [{ limit: 100 }, { limit: 10 }]);
			result.http = await procs.run('io.file', { op: 'write', bytes: 10 });
			try { procs.runSync('cpu.primes', { limit: 'x' }); } catch (e) { result.invalid = e.name; }
			try { await procs.run('cpu.spin', { duration: '1m' }, { timeout: '100ms' }); } catch (e) { result.timeout = e.name + ': ' + e.message; }
			result.stats = procs.stats();
		})();
	`).Export().(map[string]any)
	assert.EqualValues(t, 2262, got["run"])
	assert.EqualValues(t, 6765, got["sync"])
	assert.Equal(t, []any{int64(25), int64(4)}, got["map"])
	assert.EqualValues(t, 10, got["http"])
	assert.Equal(t, "InvalidArgumentError", got["invalid"])
	assert.Contains(t, got["timeout"], "TimeoutError: cpu.spin timed out after 100ms")
	stats := got["stats"].(map[string]any)
	assert.EqualValues(t, 6, stats["submitted"])
	assert.EqualValues(t, 5, stats["completed"])
	assert.EqualValues(t, 1, stats["failed"])

	kinds := map[string]bool{}
	for _, s := range vu.drain() {
		if kind, ok := s.Tags.Get(names.TagPoolKind); ok {
			kinds[kind] = true
		}
	}
	assert.Equal(t, map[string]bool{"process": true}, kinds)
}
