package concurrency

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/pool"
)

// kinds are the two kinds of pool every control is tested on, as a script
// would make them.
//
//nolint:gochecknoglobals // a test table
var kinds = []poolKind{{"thread", "ThreadPool"}, {"process", "ProcessPool"}}

// poolKind is a kind of pool and its constructor's name.
type poolKind struct{ name, ctor string }

// poolVU is a root and a VU, out of its init context, whose init context made
// `pool`: a pool of kind k named prefix-<kind>, with the options opts (the
// entries of a JavaScript object). It returns the pool's name too.
func poolVU(t *testing.T, k poolKind, prefix, opts string) (*RootModule, *testVU, string) {
	t.Helper()
	root, vu := newRootVU(t)
	name := prefix + "-" + k.name
	vu.init(fmt.Sprintf(`const pool = new concurrency.%s({ %s, name: %q });`, k.ctor, opts, name))
	vu.toVU()
	return root, vu, name
}

// requireSettled checks the account of a pool once nothing is in flight.
func requireSettled(t *testing.T, root *RootModule, name string) pool.Stats {
	t.Helper()
	p := root.pools[name].pool
	// A cancelled task settles at once; its worker may need a moment more
	// to be free (an answered cancel, a context honoured).
	assert.Eventually(t, func() bool { s := p.Stats(); return s.Busy == 0 && s.Abandoned == 0 }, 5*time.Second, 5*time.Millisecond)
	s := p.Stats()
	assert.Equal(t, s.Submitted, s.Completed+s.Failed, "every task settled once: %+v", s)
	assert.Zero(t, s.Queued, "%+v", s)
	assert.Zero(t, s.Busy, "%+v", s)
	return s
}

func TestAbortController(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.toVU()
	got := vu.run(`
		const { AbortController, AbortSignal } = concurrency;
		const c = new AbortController();
		const seen = [];
		c.signal.addEventListener('abort', (e) => seen.push(['listener', e.type, e.target === c.signal]));
		c.signal.onabort = () => seen.push(['onabort']);
		const before = [c.signal.aborted, c.signal.reason === undefined];
		c.abort('why');
		c.abort('again'); // a second abort changes nothing
		let thrown;
		try { c.signal.throwIfAborted(); } catch (e) { thrown = e; }
		const d = new AbortController();
		d.abort();
		let illegal;
		try { new AbortSignal(); } catch (e) { illegal = e.name; }
		globalThis.result = {
			before, after: [c.signal.aborted, c.signal.reason], seen, thrown,
			defaultReason: [d.signal.reason.name, d.signal.reason.message],
			instance: c.signal instanceof AbortSignal,
			static: [AbortSignal.abort('x').aborted, AbortSignal.abort('x').reason],
			illegal,
		};
	`).Export().(map[string]any)
	assert.Equal(t, []any{false, true}, got["before"])
	assert.Equal(t, []any{true, "why"}, got["after"])
	assert.Equal(t, []any{[]any{"listener", "abort", true}, []any{"onabort"}}, got["seen"])
	assert.Equal(t, "why", got["thrown"])
	assert.Equal(t, []any{"AbortError", "signal is aborted without reason"}, got["defaultReason"])
	assert.Equal(t, true, got["instance"])
	assert.Equal(t, []any{true, "x"}, got["static"])
	assert.Equal(t, "TypeError", got["illegal"])
}

// TestAbortQueuedAndRunning aborts a running task and a queued one on a
// one-worker pool of each kind: both reject with AbortError, the queued one
// at once and never run, and the pool serves again.
func TestAbortQueuedAndRunning(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			root, vu, name := poolVU(t, k, "abort", "workers: 1")
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					await pool.start();
					const c = new concurrency.AbortController();
					const outcome = (p) => p.then((v) => ['ok', v], (e) => [e.name, e.message]);
					const started = Date.now();
					const running = outcome(pool.run('io.sleep', { duration: '20s' }, { signal: c.signal }));
					const queued = outcome(pool.run('cpu.primes', { limit: 100 }, { signal: c.signal }));
					const other = outcome(pool.run('cpu.primes', { limit: 10 }));
					await new Promise((r) => setTimeout(r, 100));
					result.stats = pool.stats();
					c.abort(new Error('user gave up'));
					result.running = await running;
					result.queued = await queued;
					result.other = await other;
					result.ms = Date.now() - started;
					result.early = await outcome(pool.run('noop', {}, { signal: c.signal }));
					result.after = await outcome(pool.run('cpu.primes', { limit: 10 }));
				})();
			`).Export().(map[string]any)
			assert.EqualValues(t, 1, got["stats"].(map[string]any)["busy"])
			assert.EqualValues(t, 2, got["stats"].(map[string]any)["queued"])
			assert.Equal(t, []any{"AbortError", "io.sleep was aborted: user gave up"}, got["running"])
			assert.Equal(t, []any{"AbortError", "cpu.primes was aborted: user gave up"}, got["queued"])
			assert.Equal(t, []any{"ok", int64(4)}, got["other"], "a task without the signal runs")
			assert.Less(t, got["ms"], int64(10_000), "the running task was stopped, not waited for")
			assert.Equal(t, []any{"AbortError", "noop was aborted: user gave up"}, got["early"], "an aborted signal rejects at once")
			assert.Equal(t, []any{"ok", int64(4)}, got["after"], "the pool serves again")
			s := requireSettled(t, root, name)
			assert.EqualValues(t, 4, s.Submitted, "the call with an aborted signal started no task")
			assert.EqualValues(t, 2, s.Failed)
		})
	}
}

// TestMapFailsWell checks that map rejects with the first failure's index and
// cancels the call's tasks that have not started.
func TestMapFailsWell(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			_, vu, _ := poolVU(t, k, "mapfail", "workers: 1")
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					const params = [{ duration: '1ms' }, { duration: '1ms' }, { duration: 'bad' }, { duration: '1ms' }, { duration: '1ms' }];
					try { await pool.map('io.sleep', params); result.err = 'resolved'; }
					catch (e) { result.err = [e.name, e.index, e.message]; }
					await new Promise((r) => setTimeout(r, 50));
				})();
			`).Export().(map[string]any)
			require.IsType(t, []any{}, got["err"], "map rejected")
			e := got["err"].([]any)
			assert.Equal(t, "InvalidArgumentError", e[0])
			assert.EqualValues(t, 2, e[1])
			assert.Contains(t, e[2], "paramsArray[2]")
		})
	}
	// A failure at run time: tasks queued behind it are cancelled.
	root, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, name: 'mapfail-run', taskTimeout: '300ms' });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		(async () => {
			const params = [{ duration: '1ms' }, { duration: '10s' }, ...Array.from({ length: 8 }, () => ({ duration: '200ms' }))];
			try { await pool.map('io.sleep', params); result.err = 'resolved'; }
			catch (e) { result.err = [e.name, e.index, e.message]; }
			await new Promise((r) => setTimeout(r, 400));
			result.stats = pool.stats();
		})();
	`).Export().(map[string]any)
	e := got["err"].([]any)
	assert.Equal(t, "TimeoutError", e[0])
	assert.EqualValues(t, 1, e[1])
	assert.Contains(t, e[2], "map(): paramsArray[1]: io.sleep timed out")
	s := requireSettled(t, root, "mapfail-run")
	assert.EqualValues(t, 10, s.Submitted)
	// The worker may take the next task between the timeout and the moment
	// the VU's event loop learns of it; that one runs to its end (200 ms:
	// time enough for the event loop to cancel the rest, even when loaded).
	assert.LessOrEqual(t, s.Completed, int64(2), "the tasks queued behind the failure were cancelled: %+v", s)
	assert.GreaterOrEqual(t, s.Failed, int64(8), "%+v", s)
}

func TestMapSettledAndAsCompleted(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			root, vu := newRootVU(t)
			name := "settled-" + k.name
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(srv.Close)
			vu.init(fmt.Sprintf(`const pool = new concurrency.%s({ workers: 4, name: %q }); const URL = %q;`, k.ctor, name, srv.URL))
			vu.toVU()
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					const params = [{ url: URL }, { url: 'http://127.0.0.1:9/' }, { url: URL }];
					const settled = await pool.mapSettled('io.http', params);
					result.settled = settled.map((r) => [r.status, r.status === 'fulfilled' ? r.value.status : r.reason.name]);
					let bad;
					try { await pool.mapSettled('cpu.primes', [{ limit: 10 }, { limit: -1 }]); } catch (e) { bad = [e.name, e.index]; }
					result.bad = bad;
					result.empty = await pool.mapSettled('noop', []);

					// Slowest first: completion order is the reverse of input order.
					const order = [];
					const sleeps = [{ duration: '1s' }, { duration: '500ms' }, { duration: '1ms' }];
					const done = await pool.asCompleted('io.sleep', sleeps, (r, i) => order.push([i, r.status]));
					result.order = order;
					result.done = done === undefined;

					// A callback that throws rejects with what it threw and cancels the rest.
					const calls = [];
					try {
						await pool.asCompleted('io.sleep', [{ duration: '1ms' }, { duration: '10s' }, { duration: '10s' }], (r, i) => {
							calls.push(i);
							throw new RangeError('stop at ' + i);
						});
						result.thrown = 'resolved';
					} catch (e) { result.thrown = [e.name, e.message]; }
					await new Promise((r) => setTimeout(r, 200));
					result.calls = calls;
					result.stats = pool.stats();
				})();
			`).Export().(map[string]any)
			assert.Equal(t, []any{[]any{"fulfilled", int64(200)}, []any{"rejected", "WorkloadError"}, []any{"fulfilled", int64(200)}}, got["settled"])
			assert.Equal(t, []any{"InvalidArgumentError", int64(1)}, got["bad"], "bad arguments reject the call, naming the element")
			assert.Equal(t, []any{}, got["empty"])
			assert.Equal(t, []any{[]any{int64(2), "fulfilled"}, []any{int64(1), "fulfilled"}, []any{int64(0), "fulfilled"}}, got["order"])
			assert.Equal(t, true, got["done"])
			assert.Equal(t, []any{"RangeError", "stop at 0"}, got["thrown"])
			assert.Equal(t, []any{int64(0)}, got["calls"], "no callback after the one that threw")
			requireSettled(t, root, name)
		})
	}
}

// TestDrainAndStart checks close({ drain: true }) with tasks queued and
// running, and start().
func TestDrainAndStart(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			root, vu, name := poolVU(t, k, "drain", "workers: 2")
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					await pool.start();
					result.live = pool.stats().live;
					const outcome = (p) => p.then(() => 'ok', (e) => e.name);
					const backlog = Array.from({ length: 6 }, () => outcome(pool.run('io.sleep', { duration: '50ms' })));
					const closing = pool.close({ drain: true });
					result.late = await outcome(pool.run('noop'));
					await closing;
					result.backlog = await Promise.all(backlog);
					result.after = await outcome(pool.run('noop'));
					result.stats = pool.stats();
				})();
			`).Export().(map[string]any)
			assert.EqualValues(t, 2, got["live"], "start() resolves once every worker is live")
			assert.Equal(t, "PoolClosedError", got["late"], "a drained pool takes no new task")
			assert.Equal(t, []any{"ok", "ok", "ok", "ok", "ok", "ok"}, got["backlog"], "queued and running tasks finish")
			assert.Equal(t, "PoolClosedError", got["after"])
			s := requireSettled(t, root, name)
			assert.EqualValues(t, 6, s.Completed)
			assert.EqualValues(t, 0, s.Live)
		})
	}
}

// TestDrainTimeout bounds a drain: what is still running then is stopped.
func TestDrainTimeout(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, name: 'drain-timeout' });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		(async () => {
			const started = Date.now();
			const slow = pool.run('io.sleep', { duration: '20s' }).then(() => 'ok', (e) => e.name);
			await pool.close({ drain: true, timeout: '100ms' });
			result.slow = await slow;
			result.ms = Date.now() - started;
		})();
	`).Export().(map[string]any)
	assert.Equal(t, "PoolClosedError", got["slow"])
	assert.Less(t, got["ms"], int64(10_000))
	requireSettled(t, root, "drain-timeout")
}

// TestStartFails checks that start() rejects with WorkerStartError when the
// worker program cannot start.
func TestStartFails(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ProcessPool({ workers: 1, name: 'nostart', command: ['/bin/false'], startTimeout: '2s' });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		(async () => {
			try { await pool.start(); result.err = 'resolved'; } catch (e) { result.err = [e.name, e.message]; }
		})();
	`).Export().(map[string]any)
	e := got["err"].([]any)
	assert.Equal(t, "WorkerStartError", e[0])
	assert.Contains(t, e[1], "nostart")
}

// TestPoolGauges checks that a started pool samples its queue, busy and live
// workers over time, with the pool's tags, and a last sample after close.
func TestPoolGauges(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 2, name: 'gauged' });
		const idle = new concurrency.ThreadPool({ workers: 2, name: 'idle' });`)
	vu.toVU()
	vu.run(`(async () => {
		await Promise.all(Array.from({ length: 6 }, () => pool.run('io.sleep', { duration: '300ms' })));
		await pool.close();
		await new Promise((r) => setTimeout(r, 3 * 100)); // gaugePoll, thrice
	})();`)
	series := map[string][]float64{}
	for _, s := range vu.drain() {
		name := s.Metric.Name
		if name != names.MetricPoolQueued && name != names.MetricPoolBusy && name != names.MetricPoolLive && name != names.MetricPoolUtilization {
			continue
		}
		p, _ := s.Tags.Get(names.TagPool)
		kind, _ := s.Tags.Get(names.TagPoolKind)
		require.Equal(t, "gauged", p, "an idle pool that never started has no samples")
		require.Equal(t, "thread", kind)
		series[name] = append(series[name], s.Value)
	}
	for _, name := range []string{names.MetricPoolQueued, names.MetricPoolBusy, names.MetricPoolLive, names.MetricPoolUtilization} {
		require.GreaterOrEqual(t, len(series[name]), 3, "%s sampled on change: %v", name, series[name])
	}
	assert.Contains(t, series[names.MetricPoolQueued], 4.0, "6 tasks on 2 workers: 4 queued at first")
	assert.Contains(t, series[names.MetricPoolBusy], 2.0)
	assert.Contains(t, series[names.MetricPoolUtilization], 1.0)
	last := func(name string) float64 { return series[name][len(series[name])-1] }
	assert.Zero(t, last(names.MetricPoolBusy), "the last sample is after close")
	assert.Zero(t, last(names.MetricPoolLive))
	assert.Zero(t, last(names.MetricPoolQueued))
}

// TestForeignSignal accepts any object in AbortSignal's shape, as a global
// AbortController of a later k6 would make.
func TestForeignSignal(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, name: 'foreign' });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		(async () => {
			const listeners = new Set();
			const signal = {
				aborted: false, reason: undefined,
				addEventListener(type, fn) { if (type === 'abort') listeners.add(fn); },
				removeEventListener(type, fn) { listeners.delete(fn); },
			};
			const running = pool.run('io.sleep', { duration: '20s' }, { signal }).then(() => 'ok', (e) => [e.name, e.message]);
			await new Promise((r) => setTimeout(r, 50));
			result.listening = listeners.size;
			signal.aborted = true; signal.reason = 'stop';
			for (const fn of [...listeners]) fn({ type: 'abort' });
			result.running = await running;
			result.after = listeners.size;
		})();
	`).Export().(map[string]any)
	assert.EqualValues(t, 1, got["listening"])
	assert.Equal(t, []any{"AbortError", "io.sleep was aborted: stop"}, got["running"])
	assert.EqualValues(t, 0, got["after"], "the listener is removed once the task settles")
	requireSettled(t, root, "foreign")
}

// TestInitOption: init through the JS API on both pools: a workload that
// fails at run time makes start() and the tasks fail with WorkerStartError,
// and the account still balances.
func TestInitOption(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			root, vu := newRootVU(t)
			vu.init(fmt.Sprintf(`
				const good = new concurrency.%[1]s({ workers: 2, name: 'init-good-%[2]s', init: { workload: 'io.sleep', params: { duration: '150ms' } } });
				const bad = new concurrency.%[1]s({ workers: 1, name: 'init-bad-%[2]s', init: { workload: 'io.http', params: { url: 'http://127.0.0.1:9/' } } });`,
				k.ctor, k.name))
			vu.toVU()
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					const started = Date.now();
					await good.start();
					result.startMs = Date.now() - started;
					result.value = await good.run('cpu.primes', { limit: 100 });
					try { await bad.start(); result.start = 'resolved'; } catch (e) { result.start = [e.name, /init \(io.http\) failed/.test(e.message)]; }
					try { await bad.run('noop'); result.task = 'resolved'; } catch (e) { result.task = [e.name, /init \(io.http\) failed/.test(e.message)]; }
					result.stats = bad.stats();
				})();
			`).Export().(map[string]any)
			assert.GreaterOrEqual(t, got["startMs"], int64(150), "start() waits for the workers' init")
			assert.EqualValues(t, 25, got["value"])
			assert.Equal(t, []any{"WorkerStartError", true}, got["start"])
			assert.Equal(t, []any{"WorkerStartError", true}, got["task"])
			requireSettled(t, root, "init-bad-"+k.name)
			assert.EqualValues(t, 0, got["stats"].(map[string]any)["live"])
		})
	}
}

// TestInitContextCallsHaveAName: a call that cannot run in the init context
// throws an error named InvalidStateError, not a GoError.
func TestInitContextCallsHaveAName(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`
		const pool = new concurrency.ThreadPool({ workers: 1, name: 'initctx' });
		globalThis.result = ['run', 'runSync', 'map', 'mapSettled', 'start'].map((m) => {
			try { pool[m]('noop', [{}]); return m + ': no error'; } catch (e) { return m + ': ' + e.name; }
		});`)
	got := vu.rt.VU.Runtime().Get("result").Export()
	assert.Equal(t, []any{
		"run: InvalidStateError", "runSync: InvalidStateError", "map: InvalidStateError",
		"mapSettled: InvalidStateError", "start: InvalidStateError",
	}, got)
}

// TestCallTimeoutZeroAndWorkersTag: a call's timeout: 0 runs its tasks with
// no timeout, in place of the pool's taskTimeout; and a task settled while
// queued (aborted, or rejected by close) carries the workers tag as every
// other sample does.
func TestCallTimeoutZeroAndWorkersTag(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			_, vu, _ := poolVU(t, k, "timeout0", "workers: 1, taskTimeout: '50ms'")
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					const outcome = (p) => p.then(() => 'ok', (e) => e.name);
					result.pools = await outcome(pool.run('io.sleep', { duration: '200ms' }));
					result.none = await outcome(pool.run('io.sleep', { duration: '200ms' }, { timeout: 0 }));
					result.noneMap = await outcome(pool.map('io.sleep', [{ duration: '200ms' }], { timeout: '0s' }));
					const c = new concurrency.AbortController();
					const running = outcome(pool.run('io.sleep', { duration: '10s' }, { timeout: 0, signal: c.signal }));
					const queued = [1, 2].map(() => outcome(pool.run('noop', {}, { signal: c.signal })));
					await new Promise((r) => setTimeout(r, 100));
					c.abort();
					result.aborted = [await running, ...(await Promise.all(queued))];
				})();
			`).Export().(map[string]any)
			assert.Equal(t, "TimeoutError", got["pools"], "the pool's taskTimeout")
			assert.Equal(t, "ok", got["none"], "timeout: 0 is none")
			assert.Equal(t, "ok", got["noneMap"], "timeout: '0s' on map is none")
			assert.Equal(t, []any{"AbortError", "AbortError", "AbortError"}, got["aborted"])
			tasks := 0
			for _, smp := range vu.drain() {
				if smp.Metric.Name != names.MetricTasks {
					continue
				}
				tasks++
				w, ok := smp.Tags.Get(names.TagWorkers)
				assert.True(t, ok && w == "1", "a %s sample without workers=1: %v", smp.Metric.Name, smp.Tags.Map())
			}
			assert.Equal(t, 6, tasks)
		})
	}
}
