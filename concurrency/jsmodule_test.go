package concurrency

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.k6.io/k6/v2/lib/fsext"
)

// moduleVU is a test VU whose k6 file system holds the jsworker test module
// under /scripts, with the script's directory /scripts/, as k6 sets it up
// for a script at /scripts/script.js; extra files are added.
func moduleVU(t *testing.T, root *RootModule, extra map[string]string) *testVU {
	t.Helper()
	vu := newTestVU(t, root)
	fs := fsext.NewMemMapFs()
	for _, name := range []string{"tasks.js", "lib/primes.js"} {
		b, err := os.ReadFile(filepath.Join("..", "jsworker", "testdata", name))
		require.NoError(t, err)
		require.NoError(t, fsext.WriteFile(fs, "/scripts/"+name, b, 0o644))
	}
	for name, text := range extra {
		require.NoError(t, fsext.WriteFile(fs, "/scripts/"+name, []byte(text), 0o644))
	}
	env := vu.rt.VU.InitEnvField
	env.FileSystems = map[string]fsext.Fs{"file": fs}
	env.CWD = &url.URL{Scheme: "file", Path: "/scripts/"}
	return vu
}

const moduleCalls = `
	globalThis.result = {};
	const fail = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
	(async () => {
		result.sync = await pool.run('primes', { limit: 20000 });
		result.order = JSON.stringify(await pool.run('ordered'));
		result.runSync = pool.runSync('primes', { limit: 100 });
		result.async = await pool.run('later', { value: 'v' });
		result.map = await pool.map('primes', [{ limit: 10 }, { limit: 1000 }]);
		result.builtin = await pool.run('cpu.primes', { limit: 100 });
		result.throws = await fail(() => pool.run('fails', { why: 'x' }));
		result.unknown = await fail(() => pool.run('nope'));
		result.timeout = await fail(() => pool.run('spin', {}, { timeout: '100ms' }));
		result.after = pool.runSync('primes', { limit: 10 });
		result.params = await fail(() => pool.run('primes', { f: () => 1 }));
		result.kinds = Object.fromEntries(pool.workloads().map((w) => [w.name, w.kind]));
		result.global = concurrency.workloads().some((w) => w.kind === 'js');
		result.stats = pool.stats();
	})();
`

func TestModuleThroughJS(t *testing.T) {
	t.Parallel()
	for _, ctor := range []string{"ThreadPool", "ProcessPool"} {
		t.Run(ctor, func(t *testing.T) {
			t.Parallel()
			root := New()
			closeAllOnCleanup(t, root)
			vu := moduleVU(t, root, nil)
			vu.init(`const pool = new concurrency.` + ctor + `({ workers: 2, module: './tasks.js' });`)
			vu.toVU()
			got := vu.run(moduleCalls).Export().(map[string]any)
			assert.EqualValues(t, 2262, got["sync"])
			//nolint:testifylint // encoded-compare: the key order is what is checked, which JSONEq ignores
			assert.Equal(t, `{"z":1,"a":2,"m":{"y":1,"b":2}}`, got["order"], "keys in the order JSON.stringify gives them")
			assert.EqualValues(t, 25, got["runSync"])
			async := got["async"].(map[string]any)
			assert.Equal(t, "v", async["echoed"])
			assert.EqualValues(t, 1, async["loads"])
			assert.Equal(t, []any{int64(4), int64(168)}, got["map"])
			assert.EqualValues(t, 25, got["builtin"])
			assert.Equal(t, "WorkloadError: fails: Error: bad input: x at /scripts/tasks.js:24:9", got["throws"])
			assert.Contains(t, got["unknown"], `UnknownWorkloadError: unknown workload "nope" (available: cpu.fib,`)
			assert.Contains(t, got["timeout"], "TimeoutError: spin timed out after 100ms")
			assert.EqualValues(t, 4, got["after"])
			assert.Contains(t, got["params"], "InvalidArgumentError: primes: params.f is a function")
			kinds := got["kinds"].(map[string]any)
			assert.Equal(t, "js", kinds["primes"])
			assert.Equal(t, "js", kinds["later"])
			assert.Equal(t, "cpu", kinds["cpu.primes"])
			assert.Equal(t, false, got["global"], "workloads() stays the built-in catalogue")
			stats := got["stats"].(map[string]any)
			assert.EqualValues(t, 10, stats["submitted"], "unknown names and bad params are not submitted")
			assert.EqualValues(t, 2, stats["failed"])
		})
	}
}

func TestModuleOptionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, module string
		extra        map[string]string
		want         string
	}{
		{"not a string", "5", nil, `new ThreadPool(): option "module" must be the path of a JavaScript module file, such as './tasks.js', got 5`},
		{"empty", "''", nil, `option "module" must be the path of a JavaScript module file`},
		{"missing", "'./none.js'", nil, `InvalidArgumentError: new ThreadPool(): option "module": module /scripts/none.js: open /scripts/none.js: file does not exist`},
		{"syntax", "'./bad.js'", map[string]string{"bad.js": "export const x = ;\n"}, `option "module": SyntaxError: /scripts/bad.js: Line 1:18 Unexpected token ;`},
		{
			"forbidden import", "'./bad.js'",
			map[string]string{"bad.js": "import { sleep } from 'k6';\nexport const f = sleep;\n"},
			`option "module": /scripts/bad.js imports "k6", which cannot work in a pool worker`,
		},
		{
			"a built-in's name", "'./bad.js'",
			map[string]string{"bad.js": "export function noop() {}\n"},
			`option "module": module /scripts/bad.js exports "noop", which is a built-in workload's name`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := New()
			vu := moduleVU(t, root, tc.extra)
			_, err := vu.rt.VU.Runtime().RunString(`new concurrency.ThreadPool({ module: ` + tc.module + ` })`)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestModuleOutsideInitContext: files are read in the init context only.
func TestModuleOutsideInitContext(t *testing.T) {
	t.Parallel()
	root := New()
	closeAllOnCleanup(t, root)
	vu := moduleVU(t, root, nil)
	vu.toVU()
	err := vu.runErr(`new concurrency.ThreadPool({ module: './tasks.js' })`)
	assert.Contains(t, err.Error(), `option "module": a pool with a module can only be made in the init context`)
}

// TestModuleSharedAcrossVUs: every VU reads the module in its init context
// and gets the one pool; the same name with another module is an error.
func TestModuleSharedAcrossVUs(t *testing.T) {
	t.Parallel()
	root := New()
	closeAllOnCleanup(t, root)
	a := moduleVU(t, root, map[string]string{"other.js": "export function f() { return 1; }\n"})
	b := moduleVU(t, root, map[string]string{"other.js": "export function f() { return 1; }\n"})
	a.init(`const pool = new concurrency.ThreadPool({ name: 'js', module: './tasks.js' });`)
	b.init(`const pool = new concurrency.ThreadPool({ name: 'js', module: '/scripts/lib/../tasks.js' });`)
	_, err := b.rt.VU.Runtime().RunString(`new concurrency.ThreadPool({ name: 'js', module: './other.js' })`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `pool "js" already exists with options`)
	assert.Contains(t, err.Error(), `"module":"/scripts/tasks.js"`)
}

// TestPoolWorkloads: pool.workloads() is the pool's own catalogue: the
// built-ins without a module; a command worker's is in its hello.
func TestPoolWorkloads(t *testing.T) {
	t.Parallel()
	root := New()
	closeAllOnCleanup(t, root)
	vu := moduleVU(t, root, nil)
	vu.init(`
		const plain = new concurrency.ThreadPool({ workers: 1 });
		const python = new concurrency.ProcessPool({ workers: 1, command: ['python3', 'worker.py'] });
	`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {
			plain: plain.workloads().map((w) => w.kind + ':' + w.name),
			python: (() => { try { python.workloads(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } })(),
		};
	`).Export().(map[string]any)
	assert.Contains(t, got["plain"], "cpu:cpu.primes")
	assert.NotContains(t, got["plain"], "js:primes")
	assert.Contains(t, got["python"], `InvalidArgumentError: workloads(): pool "process-1" runs [python3 worker.py], whose catalogue is in its workers' hello`)
}

// TestModuleInit: init may name one of the module's exports; an unknown one
// throws at construction, naming init.
func TestModuleInit(t *testing.T) {
	t.Parallel()
	for _, ctor := range []string{"ThreadPool", "ProcessPool"} {
		t.Run(ctor, func(t *testing.T) {
			t.Parallel()
			root := New()
			closeAllOnCleanup(t, root)
			vu := moduleVU(t, root, nil)
			vu.init(`const pool = new concurrency.` + ctor + `({ workers: 1, module: './tasks.js', init: { workload: 'primes', params: { limit: 10 } } });
				let bad;
				try { new concurrency.` + ctor + `({ workers: 1, name: 'bad', module: './tasks.js', init: { workload: 'nope' } }); } catch (e) { bad = [e.name, e.message]; }
				globalThis.bad = bad;`)
			bad := vu.rt.VU.Runtime().Get("bad").Export().([]any)
			assert.Equal(t, "InvalidArgumentError", bad[0])
			assert.Contains(t, bad[1], `init: unknown workload "nope"`)
			vu.toVU()
			got := vu.run(`globalThis.result = {}; (async () => { await pool.start(); result.state = await pool.run('state'); })();`).Export().(map[string]any)
			assert.EqualValues(t, 1, got["state"].(map[string]any)["calls"], "the init ran primes once on the worker before the task")
		})
	}
}
