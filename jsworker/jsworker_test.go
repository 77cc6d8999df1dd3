package jsworker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

func readOS(p string) ([]byte, error) { return os.ReadFile(filepath.FromSlash(p)) }

func testdata(t *testing.T, name string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	return filepath.ToSlash(abs)
}

// writeModule writes files (path relative to a temp dir: source) and
// returns the dir.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	return filepath.ToSlash(dir)
}

func newRegistry(t *testing.T, log logrus.FieldLogger) (*Module, *workload.Registry) {
	t.Helper()
	m, err := Load(testdata(t, "tasks.js"), readOS)
	require.NoError(t, err)
	if log == nil {
		l, _ := logtest.NewNullLogger()
		log = l
	}
	reg, err := m.Registry(workload.Default, log)
	require.NoError(t, err)
	return m, reg
}

// run runs a workload of reg as a pool worker does.
func run(ctx context.Context, t *testing.T, reg *workload.Registry, name string, params map[string]any) (any, error) {
	t.Helper()
	spec, err := reg.Lookup(name)
	if err != nil {
		return nil, err
	}
	args, err := spec.Bind(params)
	require.NoError(t, err)
	value, err := spec.Run(ctx, args)
	if raw, ok := value.(json.RawMessage); ok { // JSON.stringify's text, decoded for the assertions
		value = nil
		require.NoError(t, json.Unmarshal(raw, &value))
	}
	return value, err
}

// tryRun is run for a goroutine other than the test's: what run would fail
// the test with is returned as the error.
func tryRun(ctx context.Context, reg *workload.Registry, name string, params map[string]any) (any, error) {
	spec, err := reg.Lookup(name)
	if err != nil {
		return nil, err
	}
	args, err := spec.Bind(params)
	if err != nil {
		return nil, err
	}
	value, err := spec.Run(ctx, args)
	if raw, ok := value.(json.RawMessage); ok { // JSON.stringify's text, decoded for the assertions
		value = nil
		if uerr := json.Unmarshal(raw, &value); uerr != nil {
			return nil, uerr
		}
	}
	return value, err
}

func TestLoadFindsExportsAndImports(t *testing.T) {
	t.Parallel()
	m, err := Load(testdata(t, "tasks.js"), readOS)
	require.NoError(t, err)
	assert.Equal(t, []string{"encode", "fails", "later", "log", "notAFunction", "opens", "ordered", "primes", "rejects", "spin", "spinLater", "state", "stuck"}, m.Exports())
	assert.Len(t, m.Sources, 2, "the module and lib/primes.js")
	assert.Contains(t, m.Sources, testdata(t, "lib/primes.js"))

	decoded, err := Decode(m.Wire())
	require.NoError(t, err)
	assert.Equal(t, m.Exports(), decoded.Exports())
	assert.Equal(t, m.Sources, decoded.Sources)
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"missing main", map[string]string{}, []string{"main.js", "no such file"}},
		{
			"syntax error",
			map[string]string{"main.js": "export function f() {\n  return 1 +;\n}\n"},
			[]string{"SyntaxError", "main.js: Line 2:"},
		},
		{"syntax error in an import", map[string]string{
			"main.js":  "import { g } from './lib/g.js';\nexport function f() { return g(); }\n",
			"lib/g.js": "export function g() {\n\n  let = = 2;\n}\n",
		}, []string{"SyntaxError", "lib/g.js: Line 3:"}},
		{
			"missing import",
			map[string]string{"main.js": "import { g } from './nope.js';\nexport function f() { return g(); }\n"},
			[]string{"nope.js, imported by", "main.js"},
		},
		{
			"k6/http",
			map[string]string{"main.js": "import http from 'k6/http';\nexport function f() {}\n"},
			[]string{"main.js imports \"k6/http\", which cannot work in a pool worker"},
		},
		{"k6/execution in an import", map[string]string{
			"main.js": "export * from './x.js';\n",
			"x.js":    "import exec from 'k6/execution';\nexport function f() {}\n",
		}, []string{"x.js imports \"k6/execution\""}},
		{
			"bare specifier",
			map[string]string{"main.js": "import _ from 'lodash';\nexport function f() {}\n"},
			[]string{"imports \"lodash\": a pool worker module can import only local files"},
		},
		{
			"no exports",
			map[string]string{"main.js": "module.exports = { f() {} };\n"},
			[]string{"main.js has no exports a pool could run"},
		},
		{
			"export with a dot",
			map[string]string{"main.js": "function f() {}\nexport { f as 'cpu.f' };\n"},
			[]string{"exports \"cpu.f\": names with a dot"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeModule(t, tc.files)
			_, err := Load(dir+"/main.js", readOS)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestExportShadowingABuiltinIsAnError(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": "export function noop() {}\n"})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	_, err = m.Registry(workload.Default, logrus.New())
	require.ErrorContains(t, err, `exports "noop", which is a built-in workload's name`)
}

func TestRegistryHasBuiltinsAndExports(t *testing.T) {
	t.Parallel()
	_, reg := newRegistry(t, nil)
	for _, name := range workload.Default.Names() {
		_, err := reg.Lookup(name)
		require.NoError(t, err, name)
	}
	spec, err := reg.Lookup("primes")
	require.NoError(t, err)
	assert.Equal(t, workload.JS, spec.Kind)
	_, err = reg.Lookup("nope")
	assert.Equal(t, taskerr.UnknownWorkload, taskerr.CodeOf(err))
	assert.ErrorContains(t, err, "primes")
}

func TestExports(t *testing.T) {
	t.Parallel()
	_, reg := newRegistry(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		params  map[string]any
		want    any
		code    taskerr.Code
		message []string
	}{
		{name: "primes", params: map[string]any{"limit": 20000.0}, want: 2262.0},
		{name: "later", params: map[string]any{"value": []any{"x", 1.0}, "ms": 5.0}, want: map[string]any{"echoed": []any{"x", 1.0}, "loads": 1.0}},
		{name: "encode", params: map[string]any{"text": "hé"}, want: []any{104.0, 195.0, 169.0}},
		{
			name: "fails", params: map[string]any{"why": "x"}, code: taskerr.Workload,
			message: []string{"fails: Error: bad input: x at ", "testdata/tasks.js:24:"},
		},
		{name: "rejects", code: taskerr.Workload, message: []string{"rejects: RangeError: async failure at ", "testdata/tasks.js:29:"}},
		{name: "stuck", code: taskerr.Workload, message: []string{"stuck: returned a promise that can never settle"}},
		{name: "opens", code: taskerr.Workload, message: []string{"open() is not available in a pool worker", "tasks.js:55:"}},
		{name: "notAFunction", code: taskerr.Workload, message: []string{`the export "notAFunction" is not a function`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := run(ctx, t, reg, tc.name, tc.params)
			if tc.code == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, v)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.code, taskerr.CodeOf(err), err.Error())
			for _, m := range tc.message {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

// TestTimeoutInterruptsAndTheWorkerServesAgain: an endless loop (sync, or
// after an await) stops when its context ends, and the same runtime serves
// the next task: the module is not evaluated again.
//
//nolint:tparallel // the cases take turns on one runtime, which serves on after each
func TestTimeoutInterruptsAndTheWorkerServesAgain(t *testing.T) {
	t.Parallel()
	_, reg := newRegistry(t, nil)
	first, err := run(context.Background(), t, reg, "state", nil)
	require.NoError(t, err)
	//nolint:paralleltest // the cases take turns on one runtime
	for _, name := range []string{"spin", "spinLater"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			began := time.Now()
			_, err := run(ctx, t, reg, name, nil)
			require.Error(t, err)
			require.ErrorContains(t, err, context.DeadlineExceeded.Error())
			assert.Less(t, time.Since(began), 5*time.Second)
			v, err := run(context.Background(), t, reg, "primes", map[string]any{"limit": 100.0})
			require.NoError(t, err)
			assert.IsType(t, 0.0, v)
			assert.InDelta(t, 25.0, v, 0)
			st, err := run(context.Background(), t, reg, "state", nil)
			require.NoError(t, err)
			assert.Equal(t, first.(map[string]any)["id"], st.(map[string]any)["id"], "the same runtime serves on")
			assert.IsType(t, 0.0, st.(map[string]any)["loads"])
			assert.InDelta(t, 1.0, st.(map[string]any)["loads"], 0)
		})
	}
}

// TestTopLevelRunsOncePerWorker: tasks on at most n goroutines at once make
// at most n runtimes, and each runs the module's top level once.
func TestTopLevelRunsOncePerWorker(t *testing.T) {
	t.Parallel()
	_, reg := newRegistry(t, nil)
	const workers, tasks = 3, 60
	var mu sync.Mutex
	ids := map[float64]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range tasks / workers {
				v, err := tryRun(context.Background(), reg, "state", nil)
				if ok := assert.NoError(t, err); !ok {
					return
				}
				st := v.(map[string]any)
				assert.IsType(t, 0.0, st["loads"])
				assert.InDelta(t, 1.0, st["loads"], 0, "the top level ran again in a runtime")
				mu.Lock()
				ids[st["id"].(float64)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	n := 0
	for _, c := range ids {
		n += c
	}
	assert.Equal(t, tasks, n)
	assert.LessOrEqual(t, len(ids), workers)
}

func TestTopLevelThrowFailsEveryTask(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": "export function f() { return 1; }\n\nthrow new Error('no table');\n"})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err, "a top-level throw is not a load error: nothing runs at load")
	reg, err := m.Registry(workload.Default, logrus.New())
	require.NoError(t, err)
	for range 3 {
		_, err := run(context.Background(), t, reg, "f", nil)
		require.Error(t, err)
		assert.Equal(t, taskerr.Workload, taskerr.CodeOf(err))
		// outside a thread pool, as in a worker process: the worker is the process
		assert.Contains(t, err.Error(), fmt.Sprintf("failed in worker pid %d at its top level: Error: no table at %s/main.js:3:", os.Getpid(), dir))
	}
}

func TestTopLevelAwait(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": "const table = await new Promise((r) => setTimeout(() => r([1, 2, 3]), 5));\n" +
		"export function sum() { return table.reduce((a, b) => a + b, 0); }\n"})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	reg, err := m.Registry(workload.Default, logrus.New())
	require.NoError(t, err)
	v, err := run(context.Background(), t, reg, "sum", nil)
	require.NoError(t, err)
	assert.IsType(t, 0.0, v)
	assert.InDelta(t, 6.0, v, 0)
}

func TestConsoleGoesToTheLogWithTheWorker(t *testing.T) {
	t.Parallel()
	log, hook := logtest.NewNullLogger()
	_, reg := newRegistry(t, log.WithField("pool", "p"))
	_, err := run(context.Background(), t, reg, "log", map[string]any{"who": "a test"})
	require.NoError(t, err)
	e := hook.LastEntry()
	require.NotNil(t, e)
	assert.Equal(t, "hello from a test", e.Message)
	assert.Equal(t, "p", e.Data["pool"])
	assert.Equal(t, os.Getpid(), e.Data["worker"], "outside a thread pool, as in a worker process: the pid")
	assert.Equal(t, "console", e.Data["source"])
	assert.True(t, strings.HasPrefix(e.Level.String(), "info"))
}

// TestReExports: exports re-exported from other files (export * from,
// export { g as h } from) are workloads too.
func TestReExports(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{
		"main.js":  "export * from './a.js';\nexport { g as h } from './lib/b.js';\nexport function own() { return 'own'; }\n",
		"a.js":     "export function f() { return 'f'; }\n",
		"lib/b.js": "export function g() { return 'g'; }\n",
	})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	assert.Equal(t, []string{"f", "h", "own"}, m.Exports())
	reg, err := m.Registry(workload.Default, logrus.New())
	require.NoError(t, err)
	for name, want := range map[string]string{"f": "f", "h": "g", "own": "own"} {
		v, err := run(context.Background(), t, reg, name, nil)
		require.NoError(t, err, name)
		assert.Equal(t, want, v, name)
	}
}

// TestTimersAndTextCodecs: setInterval and clearInterval, clearTimeout,
// timer arguments, and TextDecoder, inside an async export.
func TestTimersAndTextCodecs(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": `
export async function ticks({ n }) {
  let count = 0;
  const never = setTimeout(() => { count = -1000; }, 1);
  clearTimeout(never);
  await new Promise((resolve) => {
    const id = setInterval((step) => { count += step; if (count >= n) { clearInterval(id); resolve(); } }, 1, 1);
  });
  await new Promise((resolve) => setTimeout(resolve, 5));
  return count;
}
export function decode({ bytes }) { return new TextDecoder().decode(new Uint8Array(bytes)); }
`})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	reg, err := m.Registry(workload.Default, logrus.New())
	require.NoError(t, err)
	v, err := run(context.Background(), t, reg, "ticks", map[string]any{"n": 3.0})
	require.NoError(t, err)
	assert.IsType(t, 0.0, v)
	assert.InDelta(t, 3.0, v, 0)
	v, err = run(context.Background(), t, reg, "decode", map[string]any{"bytes": []any{104.0, 195.0, 169.0}})
	require.NoError(t, err)
	assert.Equal(t, "hé", v)
}

// TestK6Encoding: k6/encoding works in a worker as in a VU.
func TestK6Encoding(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": `
import encoding, { b64encode, b64decode } from 'k6/encoding';
export function codec({ text }) {
  const std = b64encode(text);
  return {
    std, rawurl: encoding.b64encode('\xff\xfe?', 'rawurl'), url: b64encode('\xff\xfe?', 'url'),
    back: b64decode(std, 'std', 's'),
    buffer: new Uint8Array(b64decode('AQID')).join(','),
    fromBuffer: b64encode(new Uint8Array([1, 2, 3]).buffer),
  };
}
export function bad() { return b64decode('!!!'); }
`})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	assert.Len(t, m.Sources, 1, "built-in modules do not travel with the sources")
	reg, err := m.Registry(workload.Default, logrus.New())
	require.NoError(t, err)
	v, err := run(context.Background(), t, reg, "codec", map[string]any{"text": "hé!"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"std": "aMOpIQ==", "rawurl": "w7_Dvj8", "url": "w7_Dvj8=", "back": "hé!", "buffer": "1,2,3", "fromBuffer": "AQID",
	}, v)
	_, err = run(context.Background(), t, reg, "bad", nil)
	assert.ErrorContains(t, err, "illegal base64 data")
}

// TestLoadBoundsTheSources: a module and its imports over MaxSources are an
// error, since they travel in one frame to every worker process.
func TestLoadBoundsTheSources(t *testing.T) {
	t.Parallel()
	big := "export function f() {}\n// " + strings.Repeat("x", MaxSources) + "\n"
	_, err := Load("/m.js", func(string) ([]byte, error) { return []byte(big), nil })
	require.ErrorContains(t, err, "module /m.js: it and its imports are over 4194304 bytes together")
}

// TestK6Crypto: k6/crypto and the crypto global work in a worker as in a
// VU (the digests are the usual test vectors); crypto.subtle and
// k6/crypto/x509 are not there, and say so.
func TestK6Crypto(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": `
import crypto, { sha256, md5, hmac, createHash, createHMAC, randomBytes, hexEncode } from 'k6/crypto';
export function hashes() {
  const h = createHash('sha1');
  h.update('ab');
  h.update(new Uint8Array([99]).buffer);
  const m = createHMAC('sha256', 'key');
  m.update('The quick brown fox jumps over the lazy dog');
  return {
    sha256: sha256('abc', 'hex'), md5: md5('', 'base64'), md4: crypto.md4('abc', 'hex'),
    ripemd160: crypto.ripemd160('abc', 'hex'), sha512_256: crypto.sha512_256('abc', 'base64rawurl'),
    sha1: h.digest('hex'), hmac: m.digest('hex'),
    hmacShort: hmac('md5', 'key', 'The quick brown fox jumps over the lazy dog', 'hex'),
    binary: hexEncode(sha256('abc', 'binary')),
    random: randomBytes(16).byteLength,
  };
}
export function globals() {
  const a = new Uint32Array(8);
  globalThis.crypto.getRandomValues(a);
  const uuid = globalThis.crypto.randomUUID();
  return { nonZero: a.some((x) => x !== 0), uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid) };
}
export function badAlgorithm() { return createHash('sha3'); }
export function badEncoding() { return sha256('abc', 'latin1'); }
export function floats() { return globalThis.crypto.getRandomValues(new Float64Array(2)); }
export function tooMany() { return globalThis.crypto.getRandomValues(new Uint8Array(65537)); }
export function subtle() { return globalThis.crypto.subtle; }
`})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	reg, err := m.Registry(workload.Default, logrus.New())
	require.NoError(t, err)
	v, err := run(context.Background(), t, reg, "hashes", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"sha256":     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"md5":        "1B2M2Y8AsgTpgAmY7PhCfg==",
		"md4":        "a448017aaf21d8525fc10ae87aa6729d",
		"ripemd160":  "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc",
		"sha512_256": "UwSOJoGUHvmbLim3a0x9q-TC0MY0_G1G4OLxMQfnryM",
		"sha1":       "a9993e364706816aba3e25717850c26c9cd0d89d",
		"hmac":       "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		"hmacShort":  "80070713463e7749b90c2dc24911e275",
		"binary":     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"random":     16.0,
	}, v)
	v, err = run(context.Background(), t, reg, "globals", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"nonZero": true, "uuid": true}, v)
	for name, want := range map[string]string{
		"badAlgorithm": `TypeError: invalid algorithm: "sha3" (md4, md5, sha1, sha256,`,
		"badEncoding":  `TypeError: invalid output encoding: "latin1"`,
		"floats":       "TypeError: crypto.getRandomValues: the argument must be an integer typed array",
		"tooMany":      "65537 bytes asked for, over the limit of 65536 (QuotaExceededError)",
		"subtle":       "Error: crypto.subtle is not available in a pool worker: k6's Web Crypto API is internal to k6",
	} {
		_, err := run(context.Background(), t, reg, name, nil)
		require.ErrorContains(t, err, want, name)
	}
	_, err = Load(writeModule(t, map[string]string{"x.js": "import x509 from 'k6/crypto/x509';\nexport function f() {}\n"})+"/x.js", readOS)
	assert.ErrorContains(t, err, `imports "k6/crypto/x509", which cannot work in a pool worker`)
}
