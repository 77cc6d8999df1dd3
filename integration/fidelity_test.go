package integration

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// fidelityScript sends values through an echo on the pool `pool` and back,
// and logs a verdict per value: "same" when the value came back with the
// same keys in the same order (sorted, from a Go workload, which gets a Go
// map), numbers to the bit and strings to the code unit, on every call.
const fidelityScript = `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const pool = %s;
const ECHO = %q, GO_MAPS = %t, NODE = %t;
export const options = { iterations: 1 };
function nest(n) { let v = 'bottom'; for (let i = 0; i < n; i++) v = i %% 2 ? [v] : { d: v }; return v; }
function shuffled(n) {
  const keys = Array.from({ length: n }, (_, i) => 'k' + i);
  let seed = 11;
  for (let i = keys.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) %% 2147483648;
    const j = seed %% (i + 1);
    [keys[i], keys[j]] = [keys[j], keys[i]];
  }
  const o = {};
  keys.forEach((k, i) => { o[k] = i; });
  return o;
}
function sortedKeys(v) {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v === null || typeof v !== 'object') return v;
  const o = {};
  for (const k of Object.keys(v).sort()) o[k] = sortedKeys(v[k]);
  return o;
}
function same(a, b) {
  if (typeof a === 'number') return Object.is(a, b);
  if (a === null || typeof a !== 'object') return a === b;
  if (typeof b !== 'object' || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
}
const cases = {
  'the issue: { b, a, c }': { b: 1, a: 2, c: 3 },
  'the issue: { zeta, alpha, mid }': { zeta: 1, alpha: 2, mid: 3 },
  'nested objects in arrays': { z: [{ y: 1, x: 2 }, { b: { d: 1, c: 2 } }], a: null },
  '5000 keys in shuffled order': shuffled(5000),
  'integer-like keys': { 10: 'a', 2: 'b', x: 'c', 1: 'd' },
  'integers around 2^53': { n: [2 ** 53, 2 ** 53 - 1, -(2 ** 53), 2 ** 53 + 2, 2 ** 60, Number.MAX_SAFE_INTEGER] },
  'other numbers': { n: [0.1, 1e21, 1e-7, 1.7976931348623157e308, 5e-324, -1.5] },
  'negative zero': { z: -0, in: [-0, 0] },
  'unicode': { s: 'héllo ☃ 日本語', astral: '😀 𝄞 𠜎', mixed: 'a\u0000b\u2028"\\</script>', '😀key': 'é' },
  'nested 64 levels': { v: nest(63) },
};
export default async function () {
  const out = { verdicts: {} };
  for (const [name, value] of Object.entries(cases)) {
    let want = GO_MAPS ? sortedKeys(value) : value;
    if (NODE && name === 'negative zero') want = JSON.parse(JSON.stringify(want)); // JSON.stringify writes -0 as 0
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await pool.run(ECHO, value), pool.runSync(ECHO, value));
    got.push(...(await pool.map(ECHO, [value, value])));
    out.verdicts[name] = got.every((g) => same(g, want)) ? 'same' : 'got ' + JSON.stringify(got.find((g) => !same(g, want))).slice(0, 300);
  }
  const issue = new Set();
  for (let i = 0; i < 10; i++) issue.add(JSON.stringify(await pool.run(ECHO, { b: 1, a: 2, c: 3 })));
  out.issue = [...issue];
  const stats = new Set();
  for (let i = 0; i < 10; i++) stats.add(Object.keys(pool.stats()).join());
  out.stats = [...stats];
  try { pool.runSync(ECHO, { a: 'x\uD800y' }); out.surrogate = 'accepted'; } catch (e) { out.surrogate = e.name + ': ' + e.message; }
  try { pool.runSync(ECHO, { v: nest(64) }); out.deep = 'accepted'; } catch (e) { out.deep = e.name + ': ' + e.message; }
  console.log('RESULT ' + JSON.stringify(out));
}
`

// TestValueFidelityThroughK6 runs the issue's fidelity inputs with the real
// k6 on every pool and worker: the thread pool and the k6 binary's worker
// (a build with another extension's zz.echo), and the Python and Node
// workers' echo.
func TestValueFidelityThroughK6(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	k6plus := k6test.BinaryOf(t, "./integration/testdata/k6plus")
	for _, w := range []struct {
		name, interpreter, worker string
	}{
		{name: "thread"},
		{name: "k6 worker"},
		{"python", "python3", "examples/python/worker.py"},
		{"node", "node", "examples/node/worker.js"},
	} {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			ctor, echo, goMaps := `new ProcessPool({ workers: 1 })`, "zz.echo", true
			switch {
			case w.name == "thread":
				ctor = `new ThreadPool({ workers: 2 })`
			case w.interpreter != "":
				command, _ := json.Marshal([]string{k6test.Interpreter(t, w.interpreter), filepath.Join(root, w.worker)})
				ctor, echo, goMaps = fmt.Sprintf(`new ProcessPool({ workers: 1, command: %s })`, command), "echo", false
			}
			k6 := k6test.StartScriptWith(t, k6plus, fmt.Sprintf(fidelityScript, ctor, echo, goMaps, w.name == "node"))
			res := k6.Wait(2 * time.Minute)
			require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
			var got struct {
				Verdicts        map[string]string
				Issue, Stats    []string
				Surrogate, Deep string
			}
			line := strings.TrimPrefix(logLine(t, res.Stderr, "RESULT "), "RESULT ")
			require.NoError(t, json.Unmarshal([]byte(line), &got), line)
			require.Len(t, got.Verdicts, 10)
			for name, verdict := range got.Verdicts {
				assert.Equal(t, "same", verdict, name)
			}
			want := `{"b":1,"a":2,"c":3}`
			if goMaps {
				want = `{"a":2,"b":1,"c":3}`
			}
			assert.Equal(t, []string{want}, got.Issue, "ten calls, one key order")
			assert.Equal(t, []string{"submitted,completed,failed,queued,peakQueued,busy,abandoned,workers,live,restarts"}, got.Stats)
			assert.Equal(t, "InvalidArgumentError: "+echo+": params.a has a lone surrogate U+D800 at index 1; only well-formed Unicode can be passed (String.prototype.toWellFormed() replaces lone surrogates with U+FFFD)", got.Surrogate)
			assert.Contains(t, got.Deep, "InvalidArgumentError: "+echo+": params.v")
			assert.Contains(t, got.Deep, "is nested more than 64 levels deep")
			k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
		})
	}
}
