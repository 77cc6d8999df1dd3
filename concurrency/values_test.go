package concurrency

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
	"github.com/k6-concurrency/xk6-concurrency/internal/names"
)

// echoWorkers are the workers with an echo here: the Python and Node
// examples. (The Go echo, zz.echo, is another extension's, linked into a k6
// build: integration/fidelity_test.go sends the same values through it, on
// the thread pool and the k6 binary's worker, with the real k6.)
//
//nolint:gochecknoglobals // a test table
var echoWorkers = []struct{ name, interpreter, worker string }{
	{"python", "python3", "../examples/python/worker.py"},
	{"node", "node", "../examples/node/worker.js"},
}

// fidelityJS defines the values of the round trip and how to compare them:
// same(a, b) tells -0 from 0 and compares key order, recursively.
const fidelityJS = `
function nest(n) { let v = 'bottom'; for (let i = 0; i < n; i++) v = i % 2 ? [v] : { d: v }; return v; }
function shuffled(n) {
	const keys = Array.from({ length: n }, (_, i) => 'k' + i);
	let seed = 7;
	for (let i = keys.length - 1; i > 0; i--) {
		seed = (seed * 1103515245 + 12345) % 2147483648;
		const j = seed % (i + 1);
		[keys[i], keys[j]] = [keys[j], keys[i]];
	}
	const o = {};
	keys.forEach((k, i) => { o[k] = i; });
	return o;
}
function same(a, b) {
	if (typeof a === 'number') return Object.is(a, b);
	if (a === null || typeof a !== 'object') return a === b;
	if (typeof b !== 'object' || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
	const ka = Object.keys(a), kb = Object.keys(b);
	return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
}
const fidelityCases = {
	'small object, keys not sorted': { zeta: 1, alpha: 2, mid: 3, b: 1, a: 2, c: 3 },
	'nested objects in arrays': { z: [{ y: 1, x: 2 }, { b: { d: 1, c: 2 } }], a: null },
	'3000 keys in shuffled order': shuffled(3000),
	'integer-like keys': { 10: 'a', 2: 'b', x: 'c', 1: 'd' },
	'integers around 2^53': { n: [2 ** 53, 2 ** 53 - 1, -(2 ** 53), 2 ** 53 + 2, -(2 ** 53 - 1), 2 ** 60, Number.MAX_SAFE_INTEGER] },
	'other numbers': { n: [0.1, 1e21, 1e-7, 1.7976931348623157e308, 5e-324, -1.5, 123456789.125] },
	'negative zero': { z: -0, in: [-0, 0], deep: { z: -0 } },
	'unicode': { s: 'héllo wörld ☃ 日本語', astral: '😀 𝄞 𠜎', mixed: 'a\u0000b\u2028c\u2029"\\</script>', '😀key': 'é' },
	'empty values': { o: {}, a: [], s: '', f: false, n: null },
	'nested 64 levels': { v: nest(63) },
};
`

// TestValueFidelity sends values through the Python and Node workers' echo
// and back, with run, runSync and map: each comes back as it went, keys in
// the same order, numbers to the bit (-0 too, but for Node's JSON.stringify)
// and strings to the code unit.
func TestValueFidelity(t *testing.T) {
	t.Parallel()
	for _, w := range echoWorkers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			interpreter := k6test.Interpreter(t, w.interpreter)
			_, vu := newRootVU(t)
			vu.init(fmt.Sprintf(`const pool = new concurrency.ProcessPool({ workers: 1, command: [%q, %q] });`, interpreter, w.worker) + fidelityJS)
			vu.toVU()
			got := vu.run(fmt.Sprintf(`
				globalThis.result = {};
				(async () => {
					for (const [name, value] of Object.entries(fidelityCases)) {
						let want = value;
						// Node's JSON.stringify writes -0 as 0 (it goes out as -0.0, which Python keeps).
						if (%[1]t && name === 'negative zero') want = JSON.parse(JSON.stringify(want));
						const got = [await pool.run('echo', value), pool.runSync('echo', value), ...(await pool.map('echo', [value, value]))];
						result[name] = got.every((g) => same(g, want)) ? 'same' : 'got ' + JSON.stringify(got[0]) + ', want ' + JSON.stringify(want);
					}
				})();
			`, w.name == "node")).Export().(map[string]any)
			for name, verdict := range got {
				assert.Equal(t, "same", verdict, name)
			}
			assert.Len(t, got, 10)
		})
	}
}

// TestUncarriableValuesRefused: a value a pool cannot carry unchanged is an
// InvalidArgumentError naming where in the value, on every pool, before any
// worker sees it.
func TestUncarriableValuesRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src, path, msg string // path "-": not checked
	}{
		{`{ a: 'x\uD800y' }`, `.a`, `has a lone surrogate U+D800 at index 1`},
		{`{ a: [1, 2, 'ok', '\uDC00'] }`, `.a[3]`, `has a lone surrogate U+DC00 at index 0`},
		{`{ a: { b: '😀\uD83D' } }`, `.a.b`, `has a lone surrogate U+D83D at index 2`},
		{`{ ['k\uD800']: 1 }`, ``, `has a key with a lone surrogate U+D800 at index 1`},
		{`{ v: nest(64) }`, `-`, `is nested more than 64 levels deep`},
		{`{ a: '\uFFFD is a real character', b: '😀' }`, ``, ``}, // U+FFFD and pairs are fine
	}
	for _, ctor := range []string{`new concurrency.ThreadPool({ workers: 1 })`, `new concurrency.ProcessPool({ workers: 1 })`} {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(strings.Fields(ctor)[1], "concurrency."), "({"), func(t *testing.T) {
			t.Parallel()
			root, vu := newRootVU(t)
			vu.init(`const pool = ` + ctor + `;` + fidelityJS)
			vu.toVU()
			for _, c := range cases {
				got := vu.run(`
					globalThis.result = [];
					for (const call of [(p) => pool.runSync('noop', p), (p) => pool.run('noop', p), (p) => pool.map('noop', [{}, p])]) {
						try {
							Promise.resolve(call(` + c.src + `)).then(() => result.push('ok'), (e) => result.push(e.name + ': ' + e.message + ' index=' + e.index));
						} catch (e) { result.push(e.name + ': ' + e.message); }
					}
				`).Export().([]any)
				require.Len(t, got, 3, c.src)
				for i, g := range got {
					if c.msg == "" { // past the conversion: noop takes no params
						assert.Contains(t, g, "unknown param", c.src)
						assert.NotContains(t, g, "surrogate", c.src)
						continue
					}
					where := "noop: params"
					if i == 2 {
						where = "noop: paramsArray[1]"
						assert.Contains(t, g, "index=1", c.src)
					}
					assert.Contains(t, g, "InvalidArgumentError: "+where, c.src)
					if c.path != "-" {
						assert.Contains(t, g, where+c.path+" "+c.msg, c.src)
					}
					assert.Contains(t, g, c.msg, c.src)
				}
			}
			stats := root.pools[poolNameOf(root)].pool.Stats()
			assert.EqualValues(t, 0, stats.Failed, "refused before submission")
		})
	}
}

func poolNameOf(root *RootModule) string {
	for name := range root.pools {
		return name
	}
	return ""
}

// TestJSObjectsKeyOrder: what the module hands to JavaScript has the same
// keys in the same order on every call: stats() and workloads() in their
// documented order, report.thresholds() sorted, the pool's properties, and
// a Go workload's map (sorted).
func TestJSObjectsKeyOrder(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	t.Cleanup(srv.Close)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 2, name: 'order' });`)
	vu.toVU()
	got := vu.run(`const url = '` + srv.URL + `';

		globalThis.result = {};
		const keysOf = {
			stats: () => pool.stats(),
			workloads: () => concurrency.workloads(),
			thresholds: () => concurrency.report.thresholds({ workload: ['noop', 'cpu.fib'], workers: [4, 2], pool_kind: ['thread'] }),
			pool: () => Object.keys(pool),
			report: () => Object.keys(concurrency.report),
			goMap: () => pool.runSync('io.http', { url }), // a Go map[string]any
		};
		for (const [name, fn] of Object.entries(keysOf)) {
			const seen = new Set();
			for (let i = 0; i < 20; i++) seen.add(JSON.stringify(fn()));
			result[name] = [...seen];
		}
	`).Export().(map[string]any)
	for name, seen := range got {
		assert.Len(t, seen, 1, "%s: one key order over 20 calls, got %v", name, seen)
	}
	first := func(name string) string { return got[name].([]any)[0].(string) }
	assert.Regexp(t, `^\{"submitted":\d+,"completed":\d+,"failed":\d+,"queued":\d+,"peakQueued":\d+,"busy":\d+,"abandoned":\d+,"workers":2,"live":\d+,"restarts":\d+\}$`, first("stats"))
	assert.Equal(t, `["run","runSync","map","mapSettled","asCompleted","start","resize","stats","close","workloads","name","kind","workers"]`, first("pool"))
	assert.Equal(t, `["text","html","thresholds"]`, first("report"))
	assert.Equal(t, `{"bytes":5,"status":200}`, first("goMap"))
	var entries []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(first("workloads")), &entries))
	for _, e := range entries {
		assert.Regexp(t, `^\{"name":"[^"]+","kind":"(cpu|io)","params":\{.*\},"description":".*"\}$`, string(e))
	}
	var thresholds map[string]any
	require.NoError(t, json.Unmarshal([]byte(first("thresholds")), &thresholds))
	assert.Len(t, thresholds, 4)
}

// TestMapRejectionNamesIndex: when map() rejects, the error names the
// element that failed, in its message and as err.index.
func TestMapRejectionNamesIndex(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 4 });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		const settle = (key, p) => p.then((v) => { result[key] = 'resolved'; }, (e) => { result[key] = { name: e.name, message: e.message, index: e.index }; });
		settle('timeout', pool.map('io.sleep', [{ duration: '1ms' }, { duration: '1ms' }, { duration: '10s' }], { timeout: '200ms' }));
		settle('invalid', pool.map('cpu.primes', [{ limit: 10 }, { limit: 'x' }]));
		settle('value', pool.map('cpu.primes', [{ limit: 10 }, { limit: 10 }, () => 1]));
		settle('notArray', pool.map('cpu.primes', 'x'));
	`).Export().(map[string]any)
	timeout := got["timeout"].(map[string]any)
	assert.Equal(t, "TimeoutError", timeout["name"])
	assert.EqualValues(t, 2, timeout["index"])
	assert.Contains(t, timeout["message"], "map(): paramsArray[2]: io.sleep timed out after 200ms")
	invalid := got["invalid"].(map[string]any)
	assert.Equal(t, "InvalidArgumentError", invalid["name"])
	assert.EqualValues(t, 1, invalid["index"])
	assert.Contains(t, invalid["message"], "paramsArray[1]")
	value := got["value"].(map[string]any)
	assert.EqualValues(t, 2, value["index"])
	assert.Contains(t, value["message"], "paramsArray[2]")
	notArray := got["notArray"].(map[string]any)
	assert.Nil(t, notArray["index"], "not one element's failure")
}

// TestAbandonedTasksCounted: a task abandoned because k6 stopped its VU is
// settled: it counts in stats() and in concurrency_tasks (as failed) alike.
func TestAbandonedTasksCounted(t *testing.T) {
	t.Parallel()
	root := New()
	t.Cleanup(func() { root.closeAll(logrus.New()) })
	vu := newTestVU(t, root)
	vu.init(`const pool = new concurrency.ThreadPool({ workers: 1, name: 'abandoned' });`)
	vu.toVU()
	go func() {
		for root.pools["abandoned"].pool.Stats().Submitted < 3 {
			time.Sleep(time.Millisecond)
		}
		vu.rt.CancelContext()
	}()
	_, _ = vu.rt.RunOnEventLoop(`
		pool.run('noop').then(() => {
			pool.run('io.sleep', { duration: '1h' }).catch(() => {});
			try { pool.runSync('io.sleep', { duration: '1h' }); } catch (e) {}
		});
	`)
	stats := root.pools["abandoned"].pool.Stats()
	require.EqualValues(t, 3, stats.Submitted)
	require.EqualValues(t, 2, stats.Failed)
	var tasks, failed float64
	for _, s := range vu.drain() {
		switch s.Metric.Name {
		case names.MetricTasks:
			tasks += s.Value
		case names.MetricTaskFailed:
			failed += s.Value
		}
	}
	assert.InDelta(t, float64(stats.Submitted), tasks, 0)
	assert.InDelta(t, float64(stats.Failed), failed, 0)
}

// TestNumbersAsEncodingJSON: encodeJSON writes a number as encoding/json
// does (the shortest text that parses back to it), -0 as -0.0.
func TestNumbersAsEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, 1, -1, 0.1, 1e20, 1e21, 1e-6, 1e-7, 123e-9, 5e-324, math.MaxFloat64, 1 << 53, 1<<53 + 2, -(1 << 60)}
	for range 100_000 {
		f := math.Float64frombits(r.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			floats = append(floats, f)
		}
	}
	for _, f := range floats {
		c := converter{encode: true}
		c.number(f)
		want, err := json.Marshal(f)
		require.NoError(t, err)
		require.Equal(t, string(want), string(c.out), "%v", f)
	}
	c := converter{encode: true}
	c.number(math.Copysign(0, -1))
	assert.Equal(t, "-0.0", string(c.out))
}
