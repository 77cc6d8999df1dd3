package integration

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// jsTasksDir writes script.js and copies jsworker/testdata (tasks.js, which
// imports ./lib/primes.js) beside it; extra files are written too.
func jsTasksDir(t *testing.T, script string, extra map[string]string) string {
	t.Helper()
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	files := map[string]string{"script.js": script}
	for _, name := range []string{"tasks.js", "lib/primes.js"} {
		b, err := os.ReadFile(filepath.Join(root, "jsworker", "testdata", name))
		require.NoError(t, err)
		files[name] = string(b)
	}
	maps.Copy(files, extra)
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	return dir
}

// jsTasksScript exercises a module's exports on the pool made by newPool,
// and hands what it saw to handleSummary.
const jsTasksScript = `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const pool = NEWPOOL;
export const options = { iterations: 1 };
const fail = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
export async function setup() {
  const out = {
    sync: await pool.run('primes', { limit: 20000 }),
    runSync: pool.runSync('primes', { limit: 100 }),
    async: await pool.run('later', { value: [1, 'two'], ms: 5 }),
    map: await pool.map('primes', [{ limit: 10 }, { limit: 100 }, { limit: 1000 }]),
    builtin: pool.runSync('cpu.primes', { limit: 100 }),
    throws: await fail(() => pool.run('fails', { why: 'a test' })),
    rejects: await fail(() => pool.run('rejects')),
    unknown: await fail(() => pool.run('nope')),
    forbidden: await fail(() => pool.run('opens')),
    spin: await fail(() => pool.run('spin', {}, { timeout: '300ms' })),
    spinLater: await fail(() => pool.run('spinLater', {}, { timeout: '300ms' })),
    afterSpin: await pool.run('primes', { limit: 1000 }),
    logged: await pool.run('log', { who: 'POOLKIND' }),
    catalogue: pool.workloads().filter((w) => w.kind === 'js').map((w) => w.name),
  };
  out.states = await pool.map('state', Array.from({ length: 40 }, () => ({})));
  return out;
}
export default function () {}
export function handleSummary(data) { return { 'summary.json': JSON.stringify(data) }; }
`

// TestJSModuleOnBothPools runs a module's exports on a thread pool and a
// process pool of two workers, through the real k6.
func TestJSModuleOnBothPools(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"thread", "process"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctor := map[string]string{"thread": "ThreadPool", "process": "ProcessPool"}[kind]
			script := strings.ReplaceAll(jsTasksScript, "NEWPOOL", "new "+ctor+"({ name: 'js', workers: 2, module: './tasks.js' })")
			script = strings.ReplaceAll(script, "POOLKIND", kind)
			dir := jsTasksDir(t, script, nil)
			res := k6test.Start(t, "run", "--quiet", filepath.Join(dir, "script.js")).Wait(2 * time.Minute)
			require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
			got := readSummary(t, res)["setup_data"].(map[string]any)
			assert.EqualValues(t, 2262, got["sync"])
			assert.EqualValues(t, 25, got["runSync"])
			assert.Equal(t, map[string]any{"echoed": []any{1.0, "two"}, "loads": 1.0}, got["async"])
			assert.Equal(t, []any{4.0, 25.0, 168.0}, got["map"])
			assert.EqualValues(t, 25, got["builtin"])
			tasks := filepath.Join(dir, "tasks.js")
			assert.Equal(t, "WorkloadError: fails: Error: bad input: a test at "+tasks+":24:9", got["throws"])
			assert.Equal(t, "WorkloadError: rejects: RangeError: async failure at "+tasks+":29:9", got["rejects"])
			assert.Contains(t, got["unknown"], `UnknownWorkloadError: unknown workload "nope" (available: cpu.fib,`)
			assert.Contains(t, got["unknown"], "later, log, noop, notAFunction, opens, ordered, primes,")
			assert.Contains(t, got["forbidden"], "WorkloadError: opens: Error: open() is not available in a pool worker")
			for _, spin := range []string{"spin", "spinLater"} {
				assert.Contains(t, got[spin], "TimeoutError: "+spin+" timed out after 300ms", spin)
			}
			assert.EqualValues(t, 168, got["afterSpin"], "the pool serves on after a timeout")
			assert.Equal(t, true, got["logged"])
			assert.Equal(t, []any{"encode", "fails", "later", "log", "notAFunction", "opens", "ordered", "primes", "rejects", "spin", "spinLater", "state", "stuck"}, got["catalogue"])

			// The top level ran once in every runtime: loads is 1 in each,
			// and there are at most as many runtimes as workers (plus the
			// replacements of timed-out ones).
			runtimes := map[float64]bool{}
			for _, s := range got["states"].([]any) {
				st := s.(map[string]any)
				assert.EqualValues(t, 1, st["loads"])
				runtimes[st["id"].(float64)] = true
			}
			assert.LessOrEqual(t, len(runtimes), 2)
			assert.Regexp(t, `level=info msg="hello from `+kind+`" pool=js source=console worker=\d+\n`, res.Stderr)
		})
	}
}

// TestJSModuleConsoleOnBothPools: console lines of a thread-pool worker and
// of a process-pool worker reach k6's log alike: at their level, with the
// fields pool, worker (the worker's number, or the worker process's pid)
// and source=console, an object as JSON and a newline inside the message.
func TestJSModuleConsoleOnBothPools(t *testing.T) {
	t.Parallel()
	script := `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const pools = { thread: new ThreadPool({ name: 'jsthread', workers: 1, module: './speak.js' }),
  process: new ProcessPool({ name: 'jsprocess', workers: 1, module: './speak.js' }) };
export const options = { iterations: 1 };
export function setup() {
  for (const kind of Object.keys(pools)) pools[kind].runSync('speak', { kind });
}
export default function () {}
`
	speak := "export function speak({ kind }) {\n" +
		"  console.log('said on', kind, { n: 1 });\n  console.info('informed on', kind);\n" +
		"  console.warn('warned on', kind);\n  console.error('two\\nlines on', kind);\n  console.debug('debugged on', kind);\n" +
		"  return true;\n}\n"
	dir := jsTasksDir(t, script, map[string]string{"speak.js": speak})
	res := k6test.Start(t, "run", "--quiet", "--verbose", "--log-format", "logfmt", filepath.Join(dir, "script.js")).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	workers := map[string]string{}
	for _, kind := range []string{"thread", "process"} {
		for _, want := range []struct{ level, msg string }{
			{"info", `said on ` + kind + ` {\"n\":1}`},
			{"info", `informed on ` + kind},
			{"warning", `warned on ` + kind},
			{"error", `two\nlines on ` + kind},
			{"debug", `debugged on ` + kind},
		} {
			re := regexp.MustCompile(`level=` + want.level + ` msg="` + regexp.QuoteMeta(want.msg) + `" pool=js` + kind +
				` source=console worker=(\d+)\n`)
			m := re.FindStringSubmatch(res.Stderr)
			if !assert.NotNil(t, m, "no line %s in k6's log:\n%s", re, res.Stderr) {
				continue
			}
			if w, seen := workers[kind]; seen {
				assert.Equal(t, w, m[1], "one worker said all of %s's lines", kind)
			}
			workers[kind] = m[1]
		}
	}
	assert.Equal(t, "1", workers["thread"], "the thread pool's first worker")
	if pid, err := strconv.Atoi(workers["process"]); assert.NoError(t, err) {
		assert.Greater(t, pid, 1, "the worker process's pid")
	}
	assert.NotContains(t, res.Stderr, jsworkerConsolePrefix, "a console line went to the log undecoded")
}

// TestJSModuleWebAPIsOnBothPools: k6/encoding, k6/crypto, TextEncoder and
// the crypto global work in the workers of both pools of the real k6, and
// crypto.subtle says it is not there.
func TestJSModuleWebAPIsOnBothPools(t *testing.T) {
	t.Parallel()
	script := `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const pools = [new ThreadPool({ workers: 1, module: './apis.js' }), new ProcessPool({ workers: 1, module: './apis.js' })];
export const options = { iterations: 1 };
export function setup() {
  return pools.map((p) => {
    let subtle = 'no error';
    try { p.runSync('subtle'); } catch (e) { subtle = e.name + ': ' + e.message; }
    return { apis: p.runSync('apis'), subtle };
  });
}
export default function () {}
export function handleSummary(data) { return { 'summary.json': JSON.stringify(data) }; }
`
	apis := "import { sha256, hmac } from 'k6/crypto';\nimport { b64encode } from 'k6/encoding';\n" +
		"export function apis() {\n  return { sha: sha256('abc', 'hex'), mac: hmac('sha1', 'k', 'd', 'base64'),\n" +
		"    b64: b64encode(new TextEncoder().encode('hé').buffer), uuid: crypto.randomUUID().length,\n" +
		"    random: crypto.getRandomValues(new Uint8Array(4)).length };\n}\n" +
		"export function subtle() { return crypto.subtle; }\n"
	dir := jsTasksDir(t, script, map[string]string{"apis.js": apis})
	res := k6test.Start(t, "run", "--quiet", filepath.Join(dir, "script.js")).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	got := readSummary(t, res)["setup_data"].([]any)
	require.Len(t, got, 2)
	for i, kind := range []string{"thread", "process"} {
		g := got[i].(map[string]any)
		assert.Equal(t, map[string]any{
			"sha": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "mac": "K5DkHnwMyOL3XAKRDDiZzEaLoxY=",
			"b64": "aMOp", "uuid": 36.0, "random": 4.0,
		}, g["apis"], kind)
		assert.Contains(t, g["subtle"], "WorkloadError: subtle: Error: crypto.subtle is not available in a pool worker", kind)
	}
}

// jsworkerConsolePrefix is jsworker.ConsolePrefix: a console line of a
// worker process on its stderr.
const jsworkerConsolePrefix = "xk6-concurrency console "

// TestJSModuleConstructionErrors: what is wrong with the module's files
// throws in the init context, naming the file and the line.
func TestJSModuleConstructionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"missing file", map[string]string{}, []string{`option "module": module `, "nope.js"}},
		{
			"syntax error",
			map[string]string{"nope.js": "export function f() {\n  return 1 +;\n}\n"},
			[]string{"SyntaxError: ", "nope.js: Line 2:13 Unexpected token ;"},
		},
		{"syntax error in an import", map[string]string{
			"nope.js":    "export { countPrimes } from './lib/bad.js';\n",
			"lib/bad.js": "\nexport function countPrimes( {\n",
		}, []string{"SyntaxError: ", "lib/bad.js: Line 3:1 Unexpected end of input"}},
		{
			"forbidden import",
			map[string]string{"nope.js": "import http from 'k6/http';\nexport function f() { return http; }\n"},
			[]string{`nope.js imports "k6/http", which cannot work in a pool worker`},
		},
	} {
		for _, ctor := range []string{"ThreadPool", "ProcessPool"} {
			t.Run(tc.name+"/"+ctor, func(t *testing.T) {
				t.Parallel()
				script := "import { " + ctor + " } from 'k6/x/concurrency';\n" +
					"const pool = new " + ctor + "({ workers: 1, module: './nope.js' });\nexport default function () {}\n"
				dir := jsTasksDir(t, script, tc.files)
				res := k6test.Start(t, "run", "--quiet", filepath.Join(dir, "script.js")).Wait(time.Minute)
				require.NotEqual(t, 0, res.ExitCode)
				stderr := strings.ReplaceAll(res.Stderr, `\"`, `"`) // logfmt quoting
				assert.Contains(t, stderr, "InvalidArgumentError: new "+ctor+`(): option "module"`)
				for _, w := range tc.want {
					assert.Contains(t, stderr, w)
				}
				assert.Contains(t, stderr, "script.js:2:14", "the error points at the constructor")
			})
		}
	}
}

// TestJSModuleTopLevelThrow: a module whose top level throws fails every
// task with a WorkloadError that says so, on both pools, and no pool hangs.
func TestJSModuleTopLevelThrow(t *testing.T) {
	t.Parallel()
	script := `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const pools = [new ThreadPool({ workers: 2, module: './broken.js' }), new ProcessPool({ workers: 2, module: './broken.js' })];
export const options = { iterations: 1 };
export async function setup() {
  const out = [];
  for (const pool of pools) {
    for (let i = 0; i < 3; i++) {
      try { await pool.run('f'); out.push('no error'); } catch (e) { out.push(e.name + ': ' + e.message); }
    }
    out.push(pool.runSync('cpu.primes', { limit: 10 }));
  }
  return out;
}
export default function () {}
export function handleSummary(data) { return { 'summary.json': JSON.stringify(data) }; }
`
	dir := jsTasksDir(t, script, map[string]string{"broken.js": "export function f() { return 1; }\n\nthrow new Error('no table');\n"})
	res := k6test.Start(t, "run", "--quiet", filepath.Join(dir, "script.js")).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	got := readSummary(t, res)["setup_data"].([]any)
	require.Len(t, got, 8)
	for i, v := range got {
		if i%4 == 3 {
			assert.EqualValues(t, 4, v, "built-in workloads still run")
			continue
		}
		assert.Regexp(t, `^WorkloadError: f: module .*/broken.js failed in worker (pid )?\d+ at its top level: Error: no table at .*/broken.js:3:7$`, v)
	}
}

// TestJSModuleArchive: k6 archive carries the module and its imports, and
// the archive runs with the files gone.
func TestJSModuleArchive(t *testing.T) {
	t.Parallel()
	script := strings.ReplaceAll(jsTasksScript, "NEWPOOL", "new ThreadPool({ name: 'js', workers: 2, module: './tasks.js' })")
	script = strings.ReplaceAll(script, "POOLKIND", "archive")
	script += "\nconst procs = new ProcessPool({ workers: 1, module: './tasks.js' });\n" +
		"export function teardown() { if (procs.runSync('primes', { limit: 100 }) !== 25) throw new Error('process pool'); }\n"
	dir := jsTasksDir(t, script, nil)
	archive := filepath.Join(t.TempDir(), "archive.tar")
	res := k6test.Start(t, "archive", "--quiet", "-O", archive, filepath.Join(dir, "script.js")).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	require.NoError(t, os.RemoveAll(dir))
	res = k6test.Start(t, "run", "--quiet", archive).Wait(2 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	got := readSummary(t, res)["setup_data"].(map[string]any)
	assert.EqualValues(t, 2262, got["sync"])
	assert.Equal(t, []any{4.0, 25.0, 168.0}, got["map"], "lib/primes.js came from the archive")
}

// TestJSModuleWithAWorkerThatCannotLoadIt: a command worker that does not
// list the module feature fails the pool's tasks with a clear error.
func TestJSModuleWithAWorkerThatCannotLoadIt(t *testing.T) {
	t.Parallel()
	k6test.Interpreter(t, "python3")
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	script := `
import { ProcessPool } from 'k6/x/concurrency';
const pool = new ProcessPool({ workers: 1, module: './tasks.js', command: ['python3', '` + filepath.Join(root, "examples", "python", "worker.py") + `'] });
export const options = { iterations: 1 };
export async function setup() {
  try { await pool.run('primes', { limit: 10 }); return 'no error'; } catch (e) { return e.name + ': ' + e.message; }
}
export default function () {}
export function handleSummary(data) { return { 'summary.json': JSON.stringify(data) }; }
`
	dir := jsTasksDir(t, script, nil)
	res := k6test.Start(t, "run", "--quiet", filepath.Join(dir, "script.js")).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	got := readSummary(t, res)["setup_data"]
	assert.Contains(t, got, "WorkerCrashedError")
	assert.Contains(t, got, `does not load JavaScript modules: its hello does not list the "module" feature`)
}

// jsTableRow matches a row of js-tasks.js's calls-per-second table.
var jsTableRow = regexp.MustCompile(`(?m)^(primes|sleep)\s+(threads|processes)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s*$`)

// directRow matches a line of its comparison with k6 VUs.
var directRow = regexp.MustCompile(`(?m)^\s+(\d+) VUs:\s+([\d.]+)\s+thread pool of\s+\d+:\s+([\d.]+)\s+pool/VUs ([\d.]+)x$`)

// TestJSTasksExample runs examples/js-tasks.js shortened: every cell has
// calls, and the async export scales with workers.
func TestJSTasksExample(t *testing.T) {
	t.Parallel()
	report := filepath.Join(t.TempDir(), "js.html")
	res := k6test.Start(t, "run", "--quiet", "-e", "CELL=2", "-e", "WORKERS=1,4", "-e", "LIMIT=5000", "-e", "REPORT="+report,
		example(t, "js-tasks.js")).Wait(3 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	rows := jsTableRow.FindAllStringSubmatch(res.Stdout, -1)
	require.Len(t, rows, 4, res.Stdout)
	for _, r := range rows {
		at1, _ := strconv.ParseFloat(r[3], 64)
		at4, _ := strconv.ParseFloat(r[4], 64)
		speedup, _ := strconv.ParseFloat(r[5], 64)
		assert.Positive(t, at1, r[0])
		assert.InDelta(t, at4/at1, speedup, 0.02, r[0])
		if r[1] == "sleep" {
			// 10 ms timers: 1 worker makes at most 100 calls/s, 4 make 400.
			assert.Greater(t, speedup, 2.5, "an async export that waits scales with workers: %s", r[0])
		}
	}
	direct := directRow.FindAllStringSubmatch(res.Stdout, -1)
	require.Len(t, direct, 2, res.Stdout)
	for _, d := range direct {
		vus, _ := strconv.ParseFloat(d[2], 64)
		assert.Positive(t, vus, d[0])
	}
	assert.Contains(t, res.Stdout, "concurrency_task_failed     rate=0.00%")
	html, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(html), "primes")
}
