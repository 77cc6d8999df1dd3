package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	if err != nil {
		t.Fatalf("Lookup(%q): %v", name, err)
	}
	args, err := spec.Bind(params)
	if err != nil {
		t.Fatalf("%s.Bind(%v): %v", name, params, err)
	}
	return spec, args
}

// run binds params and runs the workload to completion.
func run(t testing.TB, name string, params map[string]any) (any, error) {
	t.Helper()
	spec, args := bind(t, name, params)
	return spec.Run(context.Background(), args)
}

// mustRun is run that fails the test on a workload error.
func mustRun(t testing.TB, name string, params map[string]any) any {
	t.Helper()
	v, err := run(t, name, params)
	if err != nil {
		t.Fatalf("%s(%v): %v", name, params, err)
	}
	return v
}

func TestBuiltinsRegistered(t *testing.T) {
	t.Parallel()
	if got := Default.Names(); !slices.Equal(got, builtins) {
		t.Fatalf("Default.Names() = %q, want %q", got, builtins)
	}
	for _, s := range Default.List() {
		want := IO
		if strings.HasPrefix(s.Name, "cpu.") {
			want = CPU
		}
		if s.Kind != want {
			t.Errorf("%s: kind %q, want %q", s.Name, s.Kind, want)
		}
		if s.Raw {
			t.Errorf("%s: built-ins must declare their params", s.Name)
		}
		if d := s.Description; d == "" || len(d) > 100 || !strings.HasSuffix(d, ".") || strings.Count(d, ". ") > 0 {
			t.Errorf("%s: description %q is not one short sentence", s.Name, d)
		}
		for _, p := range s.Params {
			if p.Doc == "" || len(p.Doc) > 60 {
				t.Errorf("%s: param %s: doc %q is empty or long", s.Name, p.Name, p.Doc)
			}
			if p.Type == Int || p.Type == Duration {
				if p.Max <= p.Min || p.Min < 0 {
					t.Errorf("%s: param %s is not bounded: [%v, %v]", s.Name, p.Name, p.Min, p.Max)
				}
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
		if got := mustRun(t, "cpu.primes", tc.params); got != tc.want {
			t.Errorf("cpu.primes(%v) = %v (%T), want %d", tc.params, got, got, tc.want)
		}
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
		if got := mustRun(t, "cpu.fib", tc.params); got != tc.want {
			t.Errorf("cpu.fib(%v) = %v (%T), want %d", tc.params, got, got, tc.want)
		}
	}
	a, b := int64(0), int64(1)
	for n := range 24 {
		if got := mustRun(t, "cpu.fib", map[string]any{"n": float64(n)}); got != a {
			t.Errorf("cpu.fib(%d) = %v, want %d", n, got, a)
		}
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
		if got := mustRun(t, "cpu.sha256", tc.params); got != tc.want {
			t.Errorf("cpu.sha256(%v) = %v, want %s", tc.params, got, tc.want)
		}
	}
}

//nolint:paralleltest // timing-sensitive: asserts on how long the workload ran
func TestSpinRunsForItsDuration(t *testing.T) {
	for _, d := range []any{"30ms", 20.0, "0.015s"} {
		want, _ := ParseDuration(d)
		start := time.Now()
		v := mustRun(t, "cpu.spin", map[string]any{"duration": d})
		elapsed := time.Since(start)
		if elapsed < want {
			t.Errorf("cpu.spin(%v) took %v, want at least %v", d, elapsed, want)
		}
		if n, ok := v.(int64); !ok || n <= 0 {
			t.Errorf("cpu.spin(%v) = %v (%T), want a positive int64", d, v, v)
		}
	}
	if v := mustRun(t, "cpu.spin", map[string]any{"duration": 0.0}); v != int64(0) {
		t.Errorf("cpu.spin(0) = %v (%T), want int64 0", v, v)
	}
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
		if got := mustRun(t, "cpu.matmul", tc.params); got != tc.want {
			t.Errorf("cpu.matmul(%v) = %v (%T), want %v", tc.params, got, got, tc.want)
		}
	}
	for _, n := range []int{5, 17, 64, 200, 1024} {
		if n < 1024 {
			if got := mustRun(t, "cpu.matmul", map[string]any{"n": float64(n)}); got != matmulSum(n) {
				t.Errorf("cpu.matmul(%d) = %v, want %v", n, got, matmulSum(n))
			}
		}
	}
	if got := matmulSum(1024); got != 6442441728 { // Python's value for n = 1024
		t.Errorf("matmulSum(1024) = %v", got)
	}
}

//nolint:paralleltest // timing-sensitive: asserts on how long the workload ran
func TestSleepSleepsForItsDuration(t *testing.T) {
	for _, d := range []any{"20ms", 15.0, "0.01s", "0"} {
		want, _ := ParseDuration(d)
		start := time.Now()
		v := mustRun(t, "io.sleep", map[string]any{"duration": d})
		if elapsed := time.Since(start); elapsed < want || elapsed > want+time.Second {
			t.Errorf("io.sleep(%v) took %v, want %v", d, elapsed, want)
		}
		if v != nil {
			t.Errorf("io.sleep(%v) = %v, want nil", d, v)
		}
	}
	start := time.Now()
	mustRun(t, "io.sleep", nil)
	if elapsed := time.Since(start); elapsed < 10*time.Millisecond {
		t.Errorf("io.sleep with the default duration took %v, want 10ms", elapsed)
	}
}

//nolint:paralleltest // testing.AllocsPerRun cannot run in a parallel test
func TestNoop(t *testing.T) {
	spec, args := bind(t, "noop", nil)
	if v, err := spec.Run(context.Background(), args); v != nil || err != nil {
		t.Fatalf("noop = %v, %v; want nil, nil", v, err)
	}
	if _, err := spec.Bind(map[string]any{"x": 1.0}); taskerr.CodeOf(err) != taskerr.InvalidArgument ||
		!strings.Contains(err.Error(), "takes no params") {
		t.Fatalf("noop.Bind({x: 1}) = %v, want InvalidArgument", err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = spec.Run(context.Background(), args) }); allocs != 0 {
		t.Errorf("noop allocates %v times a run, want 0", allocs)
	}
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
		if err != nil || string(b) != tc.want {
			t.Errorf("%s(%v): JSON %s, %v; want %s", tc.name, tc.params, b, err, tc.want)
		}
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
		if err != nil {
			t.Fatalf("%s.Bind(%v): %v", spec.Name, base, err)
		}
		for _, p := range spec.Params {
			if p.Required {
				if !args.Has(p.Name) {
					t.Errorf("%s: Has(%q) = false for a given param", spec.Name, p.Name)
				}
				continue
			}
			if p.Default == nil {
				t.Errorf("%s: optional param %s has no default", spec.Name, p.Name)
				continue
			}
			if args.Has(p.Name) {
				t.Errorf("%s: Has(%q) = true for a defaulted param", spec.Name, p.Name)
			}
			var got any
			switch p.Type {
			case Int:
				got = args.Int(p.Name)
			case String:
				got = args.String(p.Name)
			case Duration:
				got = args.Duration(p.Name)
			default:
				t.Fatalf("%s: param %s of type %s: extend this test", spec.Name, p.Name, p.Type)
			}
			if got != p.Default {
				t.Errorf("%s: defaulted %s = %v (%T), want %v (%T)", spec.Name, p.Name, got, got, p.Default, p.Default)
			}
		}
		if args.Has("no-such-param") {
			t.Errorf("%s: Has of an undeclared param", spec.Name)
		}
	}

	_, args := bind(t, "cpu.sha256", map[string]any{"rounds": 3.0})
	if !args.Has("rounds") || args.Has("bytes") || args.Int("rounds") != 3 || args.Int("bytes") != 1024 {
		t.Errorf("cpu.sha256 {rounds: 3}: Has(rounds)=%v Has(bytes)=%v rounds=%d bytes=%d",
			args.Has("rounds"), args.Has("bytes"), args.Int("rounds"), args.Int("bytes"))
	}
	for _, d := range []any{"250ms", 250.0, "0.25s", json.Number("250")} {
		_, args := bind(t, "io.sleep", map[string]any{"duration": d})
		if !args.Has("duration") || args.Duration("duration") != 250*time.Millisecond {
			t.Errorf("io.sleep {duration: %v}: %v", d, args.Duration("duration"))
		}
	}
	_, args = bind(t, "io.http", map[string]any{"url": "https://example.com/", "timeout": 1.0, "method": "DELETE"})
	if args.Duration("timeout") != time.Millisecond || args.String("method") != "DELETE" || args.String("body") != "" {
		t.Errorf("io.http: timeout %v, method %q, body %q", args.Duration("timeout"), args.String("method"), args.String("body"))
	}
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
				t.Error(strings.Join(late, "; "))
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
	if !errors.Is(err, context.Canceled) || v != nil {
		t.Errorf("%s cancelled: %v, %v; want nil, context.Canceled", label, v, err)
	}
	if elapsed < after {
		t.Errorf("%s returned after %v, before it was cancelled at %v", label, elapsed, after)
	} else if elapsed > after+waitsFor {
		late = append(late, fmt.Sprintf("%s returned %v after it was cancelled", label, elapsed-after))
	}
	t.Logf("%s: returned %v after cancellation", label, elapsed-after)

	// Past a deadline: through Run, a TimeoutError.
	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), after)
	v, err = spec.Run(ctx, args)
	elapsed = time.Since(start)
	cancel()
	if code := taskerr.CodeOf(err); code != taskerr.Timeout || v != nil {
		t.Errorf("%s past its deadline: %v, %v (%s); want a TimeoutError", label, v, err, code)
	} else if !strings.HasPrefix(err.Error(), spec.Name+": ") {
		t.Errorf("%s: error %q does not start with the workload's name", label, err)
	}
	if elapsed < after {
		t.Errorf("%s returned after %v, before its deadline at %v", label, elapsed, after)
	} else if elapsed > after+waitsFor {
		late = append(late, fmt.Sprintf("%s returned %v after its deadline", label, elapsed-after))
	}

	// Already cancelled: returns at once.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if _, err := spec.Fn(ctx, args); !errors.Is(err, context.Canceled) {
		t.Errorf("%s with a cancelled context: %v", label, err)
	}
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
		if m, ok := v.(map[string]any); !ok || m["status"] != tc.want["status"] || m["bytes"] != tc.want["bytes"] || len(m) != 2 {
			t.Errorf("io.http(%v) = %#v, want %#v", tc.params["url"], v, tc.want)
		}
		mu.Lock()
		if len(got) != 1 || got[0] != tc.seen {
			t.Errorf("io.http(%v %v): the server saw %.60q, want one %.60q", tc.params["method"], tc.params["url"], got, tc.seen)
		}
		mu.Unlock()
	}

	// Many at once, over the shared client.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			v, err := run(t, "io.http", map[string]any{"url": srv.URL + "/missing"})
			if err == nil && v.(map[string]any)["status"] != int64(404) {
				err = fmt.Errorf("value %v", v)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent io.http: %v", err)
		}
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
		if taskerr.CodeOf(err) != taskerr.Timeout || v != nil {
			t.Fatalf("io.http with a 50ms timeout on a stalled server: %v, %v; want a TimeoutError", v, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "io.http: ") || !strings.Contains(msg, "timeout of 50ms") || !strings.Contains(msg, u) {
			t.Errorf("timeout message %q should name the workload, the URL and the timeout", msg)
		}
		if elapsed < 50*time.Millisecond || elapsed > 50*time.Millisecond+waitsFor {
			t.Errorf("io.http with a 50ms timeout returned after %v", elapsed)
		}
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := "http://" + ln.Addr().String() + "/refused"
	_ = ln.Close()
	v, err := run(t, "io.http", map[string]any{"url": target, "timeout": "2s"})
	if taskerr.CodeOf(err) != taskerr.Workload || v != nil {
		t.Fatalf("io.http to a closed port: %v, %v; want a WorkloadError", v, err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "io.http: ") || !strings.Contains(msg, target) {
		t.Errorf("message %q should start with the workload's name and name the URL", msg)
	}
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
		if !errors.As(err, &te) || te.Code != taskerr.InvalidArgument {
			t.Errorf("io.http url %.40q: Bind = %v, want an InvalidArgumentError", u, err)
			continue
		}
		if !strings.HasPrefix(te.Message, "io.http: ") || !strings.Contains(te.Message, `"url"`) {
			t.Errorf("io.http url %.40q: message %q should name the workload and url", u, te.Message)
		}
	}
	for _, u := range []string{
		"http://example.com", "https://example.com/a?b=c#d", "HTTPS://EXAMPLE.COM/", "http://127.0.0.1:8080/",
		"http://[::1]:80/", "http://user:pass@host/", "http://" + strings.Repeat("a", 8185),
	} {
		if _, err := spec.Bind(map[string]any{"url": u}); err != nil {
			t.Errorf("io.http url %.40q: %v", u, err)
		}
	}
}

// useTempDir points os.TempDir at a fresh directory for the test and resets
// io.file's private directory before and after it.
func useTempDir(t *testing.T) string {
	t.Helper()
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, env := range []string{"TMPDIR", "TMP", "TEMP"} {
		t.Setenv(env, dir)
	}
	if os.TempDir() != dir {
		t.Fatalf("os.TempDir() = %q, want %q", os.TempDir(), dir)
	}
	t.Cleanup(func() {
		if err := Cleanup(); err != nil {
			t.Error(err)
		}
	})
	return dir
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFile(t *testing.T) {
	tmp := useTempDir(t)
	if names := listDir(t, tmp); len(names) != 0 {
		t.Fatalf("io.file created %q before it was used", names)
	}
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
		if got := mustRun(t, "io.file", tc.params); got != tc.want {
			t.Errorf("io.file(%v) = %v (%T), want %d", tc.params, got, got, tc.want)
		}
	}

	// Everything is in one private directory in os.TempDir, and only the
	// cached read files are left in it.
	names := listDir(t, tmp)
	if len(names) != 1 || !strings.HasPrefix(names[0], "xk6-concurrency-") {
		t.Fatalf("os.TempDir holds %q, want only io.file's private directory", names)
	}
	private := filepath.Join(tmp, names[0])
	if files.dir == nil || files.dir.path != private {
		t.Fatalf("private directory %v, want %s", files.dir, private)
	}
	info, err := os.Stat(private)
	if err != nil || !info.IsDir() {
		t.Fatalf("private directory: %v, %v", info, err)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm != 0o700 {
		t.Errorf("private directory has mode %v, want 0700", perm)
	}
	want := []string{"r-0", "r-10000", "r-3145729", "r-4096"}
	if got := listDir(t, private); !slices.Equal(got, want) {
		t.Errorf("private directory holds %q, want %q", got, want)
	}
	info, err = os.Stat(filepath.Join(private, "r-10000"))
	if err != nil || info.Size() != 10000 || (runtime.GOOS != "windows" && info.Mode().Perm() != 0o600) {
		t.Errorf("r-10000: %v, %v; want 10000 bytes, mode 0600", info, err)
	}

	// Callers cannot name a file.
	spec, _ := bind(t, "io.file", nil)
	for _, key := range []string{"path", "dir", "file", "name", "filename"} {
		_, err := spec.Bind(map[string]any{key: "/etc/passwd", "op": "read"})
		if taskerr.CodeOf(err) != taskerr.InvalidArgument || !strings.Contains(err.Error(), `"`+key+`"`) ||
			!strings.HasPrefix(err.Error(), "io.file: ") {
			t.Errorf("io.file {%s: ...}: Bind = %v, want an InvalidArgumentError naming it", key, err)
		}
	}

	// Cleanup removes the directory; the next use makes a new one.
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(private); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Cleanup, the private directory: %v", err)
	}
	if names := listDir(t, tmp); len(names) != 0 {
		t.Errorf("after Cleanup, os.TempDir holds %q", names)
	}
	if err := Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if got := mustRun(t, "io.file", map[string]any{"op": "read", "bytes": 5.0}); got != int64(5) {
		t.Errorf("io.file read after Cleanup = %v", got)
	}
	if names := listDir(t, tmp); len(names) != 1 || filepath.Join(tmp, names[0]) == private {
		t.Errorf("after Cleanup and another use, os.TempDir holds %q (old: %s)", names, private)
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
			v, err := run(t, "io.file", map[string]any{"op": op, "bytes": float64(size)})
			if err == nil && v != size {
				err = fmt.Errorf("io.file %s %d = %v", op, size, v)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	names := listDir(t, tmp)
	if len(names) != 1 {
		t.Fatalf("os.TempDir holds %q", names)
	}
	want := []string{"r-1", "r-100000", "r-2097155", "r-4096"}
	if got := listDir(t, filepath.Join(tmp, names[0])); !slices.Equal(got, want) {
		t.Errorf("private directory holds %q, want %q", got, want)
	}
}

// TestFileReadCacheIsBounded reads more distinct sizes than the cache keeps:
// the extra ones use a file of their own that they remove.
//
//nolint:paralleltest // useTempDir sets TMPDIR with t.Setenv
func TestFileReadCacheIsBounded(t *testing.T) {
	tmp := useTempDir(t)
	for size := range readCacheFiles + 3 {
		if got := mustRun(t, "io.file", map[string]any{"op": "read", "bytes": float64(size)}); got != int64(size) {
			t.Fatalf("io.file read %d = %v", size, got)
		}
	}
	names := listDir(t, tmp)
	if len(names) != 1 {
		t.Fatalf("os.TempDir holds %q", names)
	}
	if got := listDir(t, filepath.Join(tmp, names[0])); len(got) != readCacheFiles {
		t.Errorf("private directory holds %d files, want %d", len(got), readCacheFiles)
	}
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
