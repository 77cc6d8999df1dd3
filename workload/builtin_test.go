package workload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// builtins are the workloads this package registers in Default.
//
//nolint:gochecknoglobals // a test table
var builtins = []string{
	"cpu.fib", "cpu.matmul", "cpu.primes", "cpu.sha256", "cpu.spin",
	"io.file", "io.http", "io.sleep", "noop",
}

// bind looks a workload up in Default and binds params, failing the test on error.
func bind(t testing.TB, name string, params map[string]any) (*Spec, Args) {
	t.Helper()
	spec, err := Default.Lookup(name)
	require.NoError(t, err, "Lookup(%q)", name)
	args, err := spec.Bind(params)
	require.NoError(t, err, "%s.Bind(%v)", name, params)
	return spec, args
}

// run binds params and runs the workload to completion.
func run(t testing.TB, name string, params map[string]any) (any, error) {
	t.Helper()
	spec, args := bind(t, name, params)
	return spec.Run(context.Background(), args)
}

// tryRun is run for a goroutine other than the test's: a Lookup or Bind
// error is returned, not reported to the test.
func tryRun(name string, params map[string]any) (any, error) {
	spec, err := Default.Lookup(name)
	if err != nil {
		return nil, err
	}
	args, err := spec.Bind(params)
	if err != nil {
		return nil, err
	}
	return spec.Run(context.Background(), args)
}

// mustRun is run that fails the test on a workload error.
func mustRun(t testing.TB, name string, params map[string]any) any {
	t.Helper()
	v, err := run(t, name, params)
	require.NoError(t, err, "%s(%v)", name, params)
	return v
}

func TestBuiltinsRegistered(t *testing.T) {
	t.Parallel()
	require.Equal(t, builtins, Default.Names(), "Default.Names()")
	for _, s := range Default.List() {
		want := IO
		if strings.HasPrefix(s.Name, "cpu.") {
			want = CPU
		}
		assert.Equal(t, want, s.Kind, "%s: kind", s.Name)
		assert.False(t, s.Raw, "%s: built-ins must declare their params", s.Name)
		d := s.Description
		assert.NotEmpty(t, d, "%s: description %q is not one short sentence", s.Name, d)
		assert.LessOrEqual(t, len(d), 100, "%s: description %q is not one short sentence", s.Name, d)
		assert.True(t, strings.HasSuffix(d, "."), "%s: description %q is not one short sentence", s.Name, d)
		assert.NotContains(t, d, ". ", "%s: description %q is not one short sentence", s.Name, d)
		for _, p := range s.Params {
			assert.NotEmpty(t, p.Doc, "%s: param %s: doc %q is empty or long", s.Name, p.Name, p.Doc)
			assert.LessOrEqual(t, len(p.Doc), 60, "%s: param %s: doc %q is empty or long", s.Name, p.Name, p.Doc)
			if p.Type == Int || p.Type == Duration {
				assert.Greater(t, p.Max, p.Min, "%s: param %s is not bounded: [%v, %v]", s.Name, p.Name, p.Min, p.Max)
				assert.GreaterOrEqual(t, p.Min, 0.0, "%s: param %s is not bounded: [%v, %v]", s.Name, p.Name, p.Min, p.Max)
			}
		}
	}
}

func TestPrimes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params map[string]any
		want   int64
	}{
		{nil, 2262}, // the default limit, 20000
		{map[string]any{"limit": 20000.0}, 2262},
		{map[string]any{"limit": 10.0}, 4},
		{map[string]any{"limit": 2.0}, 0},
		{map[string]any{"limit": 3.0}, 1},
		{map[string]any{"limit": 4.0}, 2},
		{map[string]any{"limit": 5.0}, 2},
		{map[string]any{"limit": 6.0}, 3},
		{map[string]any{"limit": 12.0}, 5},
		{map[string]any{"limit": 100000.0}, 9592},
		{map[string]any{"limit": json.Number("1000")}, 168},
		{map[string]any{"limit": int64(7920)}, 1000}, // 7919 is the 1000th prime
		{map[string]any{"limit": 7919.0}, 999},
	} {
		assert.Equal(t, tc.want, mustRun(t, "cpu.primes", tc.params), "cpu.primes(%v)", tc.params)
	}
}

func TestFib(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params map[string]any
		want   int64
	}{
		{nil, 75025}, // the default n, 25
		{map[string]any{"n": 0.0}, 0},
		{map[string]any{"n": 1.0}, 1},
		{map[string]any{"n": 2.0}, 1},
		{map[string]any{"n": 10.0}, 55},
		{map[string]any{"n": 20.0}, 6765},
		{map[string]any{"n": 30.0}, 832040},
	} {
		assert.Equal(t, tc.want, mustRun(t, "cpu.fib", tc.params), "cpu.fib(%v)", tc.params)
	}
	a, b := int64(0), int64(1)
	for n := range 24 {
		assert.Equal(t, a, mustRun(t, "cpu.fib", map[string]any{"n": float64(n)}), "cpu.fib(%d)", n)
		a, b = b, a+b
	}
}

func TestSHA256(t *testing.T) {
	t.Parallel()
	// Values from Python: buf = bytes(i % 256 for i in range(n));
	// d = sha256(buf); then rounds-1 times d = sha256(d + buf).
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{nil, "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9"},
		{map[string]any{"bytes": 1024.0, "rounds": 1.0}, "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9"},
		{map[string]any{"bytes": 1024.0, "rounds": 10.0}, "85c76a4e6894abc6767899bdd99349afce7610642c8abc4d526e6cc87cb9a56b"},
		{map[string]any{"bytes": 100000.0, "rounds": 3.0}, "25b0c903865a18919b18d6a4e39463e4257a40b225899cb21521e16265c86a2c"},
		{map[string]any{"bytes": 0.0}, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{map[string]any{"bytes": 0.0, "rounds": 2.0}, "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"},
		{map[string]any{"bytes": 1.0, "rounds": 1000.0}, "4bfb60830f8b03052e473c1ae9de650d6f87077cd02712fb44675d93e1baeb8f"},
		// Over several of the 1 MiB chunks between context checks.
		{map[string]any{"bytes": float64(3<<20 + 5), "rounds": 2.0}, "72a95701685bc596a9385dd43f13f6c2cdf659bf97b378ee14f3f5de0bb9924b"},
	} {
		assert.Equal(t, tc.want, mustRun(t, "cpu.sha256", tc.params), "cpu.sha256(%v)", tc.params)
	}
}

//nolint:paralleltest // timing-sensitive: asserts on how long the workload ran
func TestSpinRunsForItsDuration(t *testing.T) {
	for _, d := range []any{"30ms", 20.0, "0.015s"} {
		want, _ := ParseDuration(d)
		start := time.Now()
		v := mustRun(t, "cpu.spin", map[string]any{"duration": d})
		elapsed := time.Since(start)
		assert.GreaterOrEqual(t, elapsed, want, "cpu.spin(%v): how long it ran", d)
		if assert.IsType(t, int64(0), v, "cpu.spin(%v) = %v, want a positive int64", d, v) {
			assert.Positive(t, v, "cpu.spin(%v), want a positive int64", d)
		}
	}
	assert.Equal(t, int64(0), mustRun(t, "cpu.spin", map[string]any{"duration": 0.0}), "cpu.spin(0)")
}

// matmulSum is the sum of A·B's elements computed another way: the sum over k
// of A's column k total times B's row k total.
func matmulSum(n int) float64 {
	var sum float64
	for k := range n {
		var col, row int
		for i := range n {
			col += (i*n + k) % 7
			row += (k + i) % 5
		}
		sum += float64(col * row)
	}
	return sum
}

func TestMatmul(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params map[string]any
		want   float64
	}{
		{nil, 1572670}, // the default n, 64
		{map[string]any{"n": 1.0}, 0},
		{map[string]any{"n": 2.0}, 14},
		{map[string]any{"n": 3.0}, 129},
		{map[string]any{"n": 64.0}, 1572670},
		{map[string]any{"n": 200.0}, 47998000},
	} {
		got := mustRun(t, "cpu.matmul", tc.params)
		assert.IsType(t, float64(0), got, "cpu.matmul(%v)", tc.params)
		assert.InDelta(t, tc.want, got, 0, "cpu.matmul(%v)", tc.params)
	}
	for _, n := range []int{5, 17, 64, 200, 1024} {
		if n < 1024 {
			got := mustRun(t, "cpu.matmul", map[string]any{"n": float64(n)})
			assert.IsType(t, float64(0), got, "cpu.matmul(%d)", n)
			assert.InDelta(t, matmulSum(n), got, 0, "cpu.matmul(%d)", n)
		}
	}
	assert.InDelta(t, 6442441728, matmulSum(1024), 0, "matmulSum(1024)") // Python's value for n = 1024
}

//nolint:paralleltest // timing-sensitive: asserts on how long the workload ran
func TestSleepSleepsForItsDuration(t *testing.T) {
	for _, d := range []any{"20ms", 15.0, "0.01s", "0"} {
		want, _ := ParseDuration(d)
		start := time.Now()
		v := mustRun(t, "io.sleep", map[string]any{"duration": d})
		elapsed := time.Since(start)
		assert.GreaterOrEqual(t, elapsed, want, "io.sleep(%v): how long it slept", d)
		assert.LessOrEqual(t, elapsed, want+time.Second, "io.sleep(%v): how long it slept", d)
		assert.Nil(t, v, "io.sleep(%v)", d)
	}
	start := time.Now()
	mustRun(t, "io.sleep", nil)
	assert.GreaterOrEqual(t, time.Since(start), 10*time.Millisecond, "io.sleep with the default duration: how long it slept")
}

//nolint:paralleltest // testing.AllocsPerRun cannot run in a parallel test
func TestNoop(t *testing.T) {
	spec, args := bind(t, "noop", nil)
	v, err := spec.Run(context.Background(), args)
	require.NoError(t, err, "noop")
	require.Nil(t, v, "noop")
	_, err = spec.Bind(map[string]any{"x": 1.0})
	require.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err), "noop.Bind({x: 1}) = %v", err)
	require.ErrorContains(t, err, "takes no params", "noop.Bind({x: 1})")
	allocs := testing.AllocsPerRun(100, func() { _, _ = spec.Run(context.Background(), args) })
	assert.Zero(t, allocs, "noop allocates per run")
}

// TestValuesAreJSON runs every built-in once and checks that its value
// survives a trip through JSON, as it does across a process pool's pipe.
//
//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestValuesAreJSON(t *testing.T) {
	useTempDir(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"cpu.primes", map[string]any{"limit": 100.0}, `25`},
		{"cpu.fib", map[string]any{"n": 12.0}, `144`},
		{"cpu.sha256", map[string]any{"bytes": 0.0}, `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`},
		{"cpu.spin", map[string]any{"duration": 0.0}, `0`},
		{"cpu.matmul", map[string]any{"n": 2.0}, `14`},
		{"io.sleep", map[string]any{"duration": "1ms"}, `null`},
		{"io.http", map[string]any{"url": srv.URL}, `{"bytes":5,"status":200}`},
		{"io.file", map[string]any{"op": "write", "bytes": 7.0}, `7`},
		{"io.file", map[string]any{"op": "read", "bytes": 7.0}, `7`},
		{"noop", nil, `null`},
	} {
		v := mustRun(t, tc.name, tc.params)
		b, err := json.Marshal(v)
		require.NoError(t, err, "%s(%v): JSON", tc.name, tc.params)
		assert.Equal(t, tc.want, string(b), "%s(%v): JSON", tc.name, tc.params)
	}
}

// TestDefaults binds every built-in without its optional params and checks
// that each reads as its declared default and that Has tells given from defaulted.
func TestDefaults(t *testing.T) {
	t.Parallel()
	for _, spec := range Default.List() {
		base := map[string]any{}
		if spec.Name == "io.http" {
			base["url"] = "http://example.com/"
		}
		args, err := spec.Bind(base)
		require.NoError(t, err, "%s.Bind(%v)", spec.Name, base)
		for _, p := range spec.Params {
			if p.Required {
				assert.True(t, args.Has(p.Name), "%s: Has(%q) = false for a given param", spec.Name, p.Name)
				continue
			}
			if !assert.NotNil(t, p.Default, "%s: optional param %s has no default", spec.Name, p.Name) {
				continue
			}
			assert.False(t, args.Has(p.Name), "%s: Has(%q) = true for a defaulted param", spec.Name, p.Name)
			var got any
			switch p.Type {
			case Int:
				got = args.Int(p.Name)
			case String:
				got = args.String(p.Name)
			case Duration:
				got = args.Duration(p.Name)
			default:
				require.FailNow(t, "an untested param type", "%s: param %s of type %s: extend this test", spec.Name, p.Name, p.Type)
			}
			assert.Equal(t, p.Default, got, "%s: defaulted %s", spec.Name, p.Name)
		}
		assert.False(t, args.Has("no-such-param"), "%s: Has of an undeclared param", spec.Name)
	}

	_, args := bind(t, "cpu.sha256", map[string]any{"rounds": 3.0})
	assert.True(t, args.Has("rounds"), "cpu.sha256 {rounds: 3}: Has(rounds)")
	assert.False(t, args.Has("bytes"), "cpu.sha256 {rounds: 3}: Has(bytes)")
	assert.Equal(t, int64(3), args.Int("rounds"), "cpu.sha256 {rounds: 3}: rounds")
	assert.Equal(t, int64(1024), args.Int("bytes"), "cpu.sha256 {rounds: 3}: bytes")
	for _, d := range []any{"250ms", 250.0, "0.25s", json.Number("250")} {
		_, args := bind(t, "io.sleep", map[string]any{"duration": d})
		assert.True(t, args.Has("duration"), "io.sleep {duration: %v}: Has(duration)", d)
		assert.Equal(t, 250*time.Millisecond, args.Duration("duration"), "io.sleep {duration: %v}", d)
	}
	_, args = bind(t, "io.http", map[string]any{"url": "https://example.com/", "timeout": 1.0, "method": "DELETE"})
	assert.Equal(t, time.Millisecond, args.Duration("timeout"), "io.http: timeout")
	assert.Equal(t, "DELETE", args.String("method"), "io.http: method")
	assert.Empty(t, args.String("body"), "io.http: body")
}

// waitsFor is how long a workload may take to notice that its context is done.
const waitsFor = 100 * time.Millisecond

// longRunning are calls that would run for a long time (some for hours) if
// not stopped; io.http gets its url from the test.
//
//nolint:gochecknoglobals // a test table
var longRunning = []struct {
	name   string
	params map[string]any
}{
	{"cpu.primes", map[string]any{"limit": 2147483647.0}},
	{"cpu.fib", map[string]any{"n": 60.0}},
	{"cpu.fib", map[string]any{"n": 78.0}},
	{"cpu.sha256", map[string]any{"bytes": float64(64 << 20), "rounds": 1000000.0}},
	{"cpu.sha256", map[string]any{"bytes": 1024.0, "rounds": 1000000.0}},
	{"cpu.spin", map[string]any{"duration": "1m"}},
	{"cpu.spin", map[string]any{"duration": "24h"}},
	{"cpu.matmul", map[string]any{"n": 1024.0}},
	{"io.sleep", map[string]any{"duration": "1h"}},
	{"io.http", map[string]any{"timeout": "10m"}},
	{"io.file", map[string]any{"op": "read", "bytes": float64(256 << 20)}},
	{"io.file", map[string]any{"op": "write", "bytes": float64(256 << 20)}},
}

// blockingServer answers only when the client goes away.
func blockingServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestWorkloadsStopWhenCancelled(t *testing.T) {
	useTempDir(t)
	url := blockingServer(t)
	for _, tc := range longRunning {
		params := tc.params
		if tc.name == "io.http" {
			params = map[string]any{"url": url, "timeout": tc.params["timeout"]}
		}
		spec, args := bind(t, tc.name, params)
		label := fmt.Sprintf("%s(%v)", tc.name, tc.params)
		// A workload looks at its context every few milliseconds, but a
		// loaded machine (or -race with GOMAXPROCS=1) can hold a goroutine
		// up for longer: a late return gets two more tries, a wrong one none.
		for try := 1; ; try++ {
			late := stopsWhenCancelled(t, label, spec, args)
			if len(late) == 0 {
				break
			}
			if try == 3 {
				assert.Fail(t, "a workload was late to stop", strings.Join(late, "; "))
				break
			}
			t.Logf("try %d: %s", try, strings.Join(late, "; "))
		}
	}
}

// stopsWhenCancelled runs a long workload three ways: cancelled after 30ms,
// past a 30ms deadline, and with a context cancelled already. It reports wrong
// results as test errors and returns what came back late.
func stopsWhenCancelled(t *testing.T, label string, spec *Spec, args Args) (late []string) {
	const after = 30 * time.Millisecond

	// Cancelled: the function returns context.Canceled itself.
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	timer := time.AfterFunc(after, cancel)
	v, err := spec.Fn(ctx, args)
	elapsed := time.Since(start)
	timer.Stop()
	cancel()
	require.ErrorIs(t, err, context.Canceled, "%s cancelled", label)
	assert.Nil(t, v, "%s cancelled", label)
	if assert.GreaterOrEqual(t, elapsed, after, "%s returned before it was cancelled", label) && elapsed > after+waitsFor {
		late = append(late, fmt.Sprintf("%s returned %v after it was cancelled", label, elapsed-after))
	}
	t.Logf("%s: returned %v after cancellation", label, elapsed-after)

	// Past a deadline: through Run, a TimeoutError.
	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), after)
	v, err = spec.Run(ctx, args)
	elapsed = time.Since(start)
	cancel()
	if assert.Equal(t, taskerr.Timeout, taskerr.CodeOf(err), "%s past its deadline: %v; want a TimeoutError", label, err) &&
		assert.Nil(t, v, "%s past its deadline", label) {
		assert.True(t, strings.HasPrefix(err.Error(), spec.Name+": "), "%s: error %q does not start with the workload's name", label, err)
	}
	if assert.GreaterOrEqual(t, elapsed, after, "%s returned before its deadline", label) && elapsed > after+waitsFor {
		late = append(late, fmt.Sprintf("%s returned %v after its deadline", label, elapsed-after))
	}

	// Already cancelled: returns at once.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	_, err = spec.Fn(ctx, args)
	require.ErrorIs(t, err, context.Canceled, "%s with a cancelled context", label)
	if elapsed := time.Since(start); elapsed > waitsFor {
		late = append(late, fmt.Sprintf("%s with a cancelled context took %v", label, elapsed))
	}
	return late
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	type seen struct{ method, body string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, string(body)})
		mu.Unlock()
		switch r.URL.Path {
		case "/data":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(strings.Repeat("x", 12345)))
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "not here")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/big":
			_, _ = w.Write(make([]byte, 3<<20))
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		params map[string]any
		want   map[string]any
		seen   seen
	}{
		{
			map[string]any{"url": srv.URL + "/data"},
			map[string]any{"status": int64(201), "bytes": int64(12345)},
			seen{"GET", ""},
		},
		{
			map[string]any{"url": srv.URL + "/data", "method": "POST", "body": "hello, server"},
			map[string]any{"status": int64(201), "bytes": int64(12345)},
			seen{"POST", "hello, server"},
		},
		{
			map[string]any{"url": srv.URL + "/data", "method": "PUT", "body": strings.Repeat("b", 100000), "timeout": "5s"},
			map[string]any{"status": int64(201), "bytes": int64(12345)},
			seen{"PUT", strings.Repeat("b", 100000)},
		},
		{
			map[string]any{"url": srv.URL + "/data", "method": "HEAD"},
			map[string]any{"status": int64(201), "bytes": int64(0)},
			seen{"HEAD", ""},
		},
		{
			map[string]any{"url": srv.URL + "/missing", "method": "DELETE"},
			map[string]any{"status": int64(404), "bytes": int64(8)},
			seen{"DELETE", ""},
		},
		{
			map[string]any{"url": srv.URL + "/empty", "method": "PATCH", "body": "p"},
			map[string]any{"status": int64(204), "bytes": int64(0)},
			seen{"PATCH", "p"},
		},
		{
			map[string]any{"url": srv.URL + "/big", "method": "OPTIONS", "timeout": 5000.0},
			map[string]any{"status": int64(200), "bytes": int64(3 << 20)},
			seen{"OPTIONS", ""},
		},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		v := mustRun(t, "io.http", tc.params)
		assert.Equal(t, tc.want, v, "io.http(%v)", tc.params["url"])
		mu.Lock()
		assert.Equal(t, []seen{tc.seen}, got, "io.http(%v %v): what the server saw", tc.params["method"], tc.params["url"])
		mu.Unlock()
	}

	// Many at once, over the shared client.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			v, err := tryRun("io.http", map[string]any{"url": srv.URL + "/missing"})
			if err == nil && v.(map[string]any)["status"] != int64(404) {
				err = fmt.Errorf("value %v", v)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "concurrent io.http")
	}
}

//nolint:paralleltest // timing-sensitive: asserts on when the request gave up
func TestHTTPTimeout(t *testing.T) {
	url := blockingServer(t)
	// A server that sends the headers and some of the body, then stalls.
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer stall.Close()
	for _, u := range []string{url, stall.URL} {
		start := time.Now()
		v, err := run(t, "io.http", map[string]any{"url": u, "timeout": "50ms"})
		elapsed := time.Since(start)
		require.Equal(t, taskerr.Timeout, taskerr.CodeOf(err),
			"io.http with a 50ms timeout on a stalled server: %v; want a TimeoutError", err)
		require.Nil(t, v, "io.http with a 50ms timeout on a stalled server")
		msg := err.Error()
		assert.True(t, strings.HasPrefix(msg, "io.http: "), "timeout message %q should name the workload", msg)
		assert.Contains(t, msg, "timeout of 50ms", "the timeout message should name the timeout")
		assert.Contains(t, msg, u, "the timeout message should name the URL")
		assert.GreaterOrEqual(t, elapsed, 50*time.Millisecond, "io.http with a 50ms timeout: when it returned")
		// Bounded loosely (no retry here, unlike stopsWhenCancelled): the
		// stalled servers would hold it for good.
		assert.LessOrEqual(t, elapsed, 50*time.Millisecond+10*waitsFor, "io.http with a 50ms timeout: when it returned")
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	target := "http://" + ln.Addr().String() + "/refused"
	_ = ln.Close()
	v, err := run(t, "io.http", map[string]any{"url": target, "timeout": "2s"})
	require.Equal(t, taskerr.Workload, taskerr.CodeOf(err), "io.http to a closed port: %v; want a WorkloadError", err)
	require.Nil(t, v, "io.http to a closed port")
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "io.http: "), "message %q should start with the workload's name", msg)
	assert.Contains(t, msg, target, "the message should name the URL")
}

func TestHTTPURLs(t *testing.T) {
	t.Parallel()
	spec, _ := bind(t, "io.http", map[string]any{"url": "http://example.com/"})
	for _, u := range []string{
		"ftp://example.com/file", "file:///etc/passwd", "FILE:///etc/passwd", "gopher://example.com/",
		"javascript:alert(1)", "/relative/path", "example.com", "http://", "https:///path", "",
		"http://exa mple.com/", "ws://example.com/", "http://" + strings.Repeat("a", 8192),
	} {
		_, err := spec.Bind(map[string]any{"url": u})
		var te *taskerr.Error
		if assert.ErrorAs(t, err, &te, "io.http url %.40q: Bind, want an InvalidArgumentError", u) &&
			assert.Equal(t, taskerr.InvalidArgument, te.Code, "io.http url %.40q: Bind = %v, want an InvalidArgumentError", u, err) {
			assert.True(t, strings.HasPrefix(te.Message, "io.http: "), "io.http url %.40q: message %q should name the workload", u, te.Message)
			assert.Contains(t, te.Message, `"url"`, "io.http url %.40q: the message should name url", u)
		}
	}
	for _, u := range []string{
		"http://example.com", "https://example.com/a?b=c#d", "HTTPS://EXAMPLE.COM/", "http://127.0.0.1:8080/",
		"http://[::1]:80/", "http://user:pass@host/", "http://" + strings.Repeat("a", 8185),
	} {
		_, err := spec.Bind(map[string]any{"url": u})
		assert.NoError(t, err, "io.http url %.40q", u)
	}
}

// useTempDir points os.TempDir at a fresh directory for the test and resets
// io.file's private directory before and after it.
func useTempDir(t *testing.T) string {
	t.Helper()
	require.NoError(t, Cleanup())
	dir := t.TempDir()
	for _, env := range []string{"TMPDIR", "TMP", "TEMP"} {
		t.Setenv(env, dir)
	}
	require.Equal(t, dir, os.TempDir(), "os.TempDir()")
	t.Cleanup(func() {
		assert.NoError(t, Cleanup())
	})
	return dir
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFile(t *testing.T) {
	tmp := useTempDir(t)
	require.Empty(t, listDir(t, tmp), "io.file created files before it was used")
	for _, tc := range []struct {
		params map[string]any
		want   int64
	}{
		{nil, 4096}, // write, 4096 bytes
		{map[string]any{"op": "write", "bytes": 10000.0}, 10000},
		{map[string]any{"op": "write", "bytes": 0.0}, 0},
		{map[string]any{"op": "write", "bytes": float64(3<<20 + 1)}, 3<<20 + 1},
		{map[string]any{"op": "read"}, 4096},
		{map[string]any{"op": "read", "bytes": 10000.0}, 10000},
		{map[string]any{"op": "read", "bytes": 10000.0}, 10000}, // the cached file
		{map[string]any{"op": "read", "bytes": 0.0}, 0},
		{map[string]any{"op": "read", "bytes": float64(3<<20 + 1)}, 3<<20 + 1},
	} {
		assert.Equal(t, tc.want, mustRun(t, "io.file", tc.params), "io.file(%v)", tc.params)
	}

	// Everything is in one private directory in os.TempDir, and only the
	// cached read files are left in it.
	names := listDir(t, tmp)
	require.Len(t, names, 1, "os.TempDir holds %q, want only io.file's private directory", names)
	require.True(t, strings.HasPrefix(names[0], "xk6-concurrency-"), "os.TempDir holds %q, want only io.file's private directory", names)
	private := filepath.Join(tmp, names[0])
	require.NotNil(t, files.dir, "private directory")
	require.Equal(t, private, files.dir.path, "private directory")
	info, err := os.Stat(private)
	require.NoError(t, err, "private directory")
	require.True(t, info.IsDir(), "private directory: %v", info)
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "private directory's mode")
	}
	want := []string{"r-0", "r-10000", "r-3145729", "r-4096"}
	assert.Equal(t, want, listDir(t, private), "what the private directory holds")
	info, err = os.Stat(filepath.Join(private, "r-10000"))
	if assert.NoError(t, err, "r-10000") {
		assert.Equal(t, int64(10000), info.Size(), "r-10000's size")
		if runtime.GOOS != "windows" {
			assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "r-10000's mode")
		}
	}

	// Callers cannot name a file.
	spec, _ := bind(t, "io.file", nil)
	for _, key := range []string{"path", "dir", "file", "name", "filename"} {
		_, err := spec.Bind(map[string]any{key: "/etc/passwd", "op": "read"})
		if assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err), "io.file {%s: ...}: Bind = %v, want an InvalidArgumentError", key, err) {
			assert.Contains(t, err.Error(), `"`+key+`"`, "io.file {%s: ...}: the error should name it", key)
			assert.True(t, strings.HasPrefix(err.Error(), "io.file: "), "io.file {%s: ...}: error %q should start with the workload's name", key, err)
		}
	}

	// Cleanup removes the directory; the next use makes a new one.
	require.NoError(t, Cleanup())
	_, err = os.Stat(private)
	require.ErrorIs(t, err, os.ErrNotExist, "after Cleanup, the private directory")
	assert.Empty(t, listDir(t, tmp), "after Cleanup, what os.TempDir holds")
	require.NoError(t, Cleanup(), "second Cleanup")
	assert.Equal(t, int64(5), mustRun(t, "io.file", map[string]any{"op": "read", "bytes": 5.0}), "io.file read after Cleanup")
	names = listDir(t, tmp)
	if assert.Len(t, names, 1, "after Cleanup and another use, os.TempDir holds %q", names) {
		assert.NotEqual(t, private, filepath.Join(tmp, names[0]), "after Cleanup and another use: the private directory")
	}
}

//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFileConcurrent(t *testing.T) {
	tmp := useTempDir(t)
	sizes := []int64{1, 4096, 100000, 2<<20 + 3}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			op, size := "write", sizes[i%len(sizes)]
			if i%3 != 0 {
				op = "read"
			}
			v, err := tryRun("io.file", map[string]any{"op": op, "bytes": float64(size)})
			if err == nil && v != size {
				err = fmt.Errorf("io.file %s %d = %v", op, size, v)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	names := listDir(t, tmp)
	require.Len(t, names, 1, "os.TempDir holds %q", names)
	want := []string{"r-1", "r-100000", "r-2097155", "r-4096"}
	assert.Equal(t, want, listDir(t, filepath.Join(tmp, names[0])), "what the private directory holds")
}

// TestFileReadCacheIsBounded reads more distinct sizes than the cache keeps:
// the extra ones use a file of their own that they remove.
//
//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFileReadCacheIsBounded(t *testing.T) {
	tmp := useTempDir(t)
	for size := range readCacheFiles + 3 {
		require.Equal(t, int64(size), mustRun(t, "io.file", map[string]any{"op": "read", "bytes": float64(size)}), "io.file read %d", size)
	}
	names := listDir(t, tmp)
	require.Len(t, names, 1, "os.TempDir holds %q", names)
	assert.Len(t, listDir(t, filepath.Join(tmp, names[0])), readCacheFiles, "the private directory's files")
}

// BenchmarkPrimes20000 is one cpu.primes call with the default limit, called
// directly: the floor that a thread pool's per-task time is compared to.
func BenchmarkPrimes20000(b *testing.B) {
	spec, args := bind(b, "cpu.primes", map[string]any{"limit": 20000.0})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := spec.Run(ctx, args); err != nil || v != int64(2262) {
			b.Fatal(v, err)
		}
	}
}

func BenchmarkBindPrimes(b *testing.B) {
	spec, _ := bind(b, "cpu.primes", nil)
	params := map[string]any{"limit": 20000.0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Bind(params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNoop(b *testing.B) {
	spec, args := bind(b, "noop", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = spec.Run(ctx, args)
	}
}
