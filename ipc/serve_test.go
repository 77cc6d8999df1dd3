package ipc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/testworkload"
	"github.com/k6-concurrency/xk6-concurrency/ipc/conformance/hostile"
	"github.com/k6-concurrency/xk6-concurrency/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRegistry is what the tests serve, in process (Serve over pipes) and in
// the test binary re-executed as a worker (TestMain).
func testRegistry() *workload.Registry {
	reg := testworkload.New()
	if err := hostile.Register(reg, ""); err != nil {
		panic(err)
	}
	return reg
}

// served is Serve running over in-memory pipes.
type served struct {
	t      *testing.T
	in     *io.PipeWriter
	frames chan []byte
	done   chan error
}

func serve(t *testing.T) *served {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &served{t: t, in: inW, frames: make(chan []byte, 1024), done: make(chan error, 1)}
	go func() {
		err := Serve(inR, outW, testRegistry())
		_ = outW.Close()
		s.done <- err
	}()
	go func() {
		defer close(s.frames)
		br := bufio.NewReader(outR)
		for {
			f, err := ReadFrame(br, nil, DefaultMaxFrame)
			if err != nil {
				return
			}
			s.frames <- f
		}
	}()
	t.Cleanup(func() {
		_ = inW.Close()
		select {
		case <-s.done: //nolint:errcheck // the test checked Serve's error, if it wanted it
		case <-time.After(10 * time.Second):
			assert.Fail(t, "Serve did not return after its input closed")
		}
		_ = outR.Close()
	})
	return s
}

func (s *served) send(msg string) {
	s.t.Helper()
	require.NoError(s.t, WriteFrame(s.in, []byte(msg)), "send %s", msg)
}

func (s *served) next() Message {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		require.True(s.t, ok, "the worker's output ended")
		var m Message
		require.NoError(s.t, json.Unmarshal(f, &m), "frame %s", f)
		return m
	case <-time.After(10 * time.Second):
		require.FailNow(s.t, "no frame from the worker within 10s")
	}
	return Message{}
}

// started reads the hello.
func (s *served) started() *served {
	s.t.Helper()
	m := s.next()
	require.Equal(s.t, TypeHello, m.Type, "first frame %+v", m)
	return s
}

func TestServeHello(t *testing.T) {
	t.Parallel()
	s := serve(t)
	m := s.next()
	require.Equal(t, TypeHello, m.Type, "hello %+v", m)
	require.Equal(t, 1, m.Protocol, "hello %+v", m)
	require.Equal(t, os.Getpid(), m.PID, "hello %+v", m)
	reg := testRegistry()
	names := make([]string, 0, len(m.Workloads))
	for _, info := range m.Workloads {
		names = append(names, info.Name)
		spec, err := reg.Lookup(info.Name)
		require.NoError(t, err)
		assert.Equal(t, spec.Kind, info.Kind, "%s: kind", info.Name)
	}
	assert.Equal(t, reg.Names(), names, "workloads")
	for _, info := range m.Workloads {
		if info.Name == "t.sleep" {
			if assert.Contains(t, info.Params, "ms", "t.sleep params %+v", info.Params) {
				assert.Equal(t, workload.Int, info.Params["ms"].Type, "t.sleep params %+v", info.Params)
			}
		}
	}
}

//nolint:paralleltest // timing-sensitive: asserts on the order sleeps of different lengths finish in
func TestServePipelined(t *testing.T) {
	s := serve(t).started()
	s.send(`{"type":"hello","protocol":1,"concurrency":64,"max_frame":16777216}`)
	const n = 64
	for i := 1; i <= n; i++ {
		s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.sleep","params":{"ms":%d,"v":%d}}`, i, (n-i)*5, i*10))
	}
	seen := map[uint64]bool{}
	order := make([]uint64, 0, n)
	for range n {
		m := s.next()
		require.Equal(t, TypeResult, m.Type, "result %+v", m)
		require.Nil(t, m.Error, "result %+v", m)
		require.NotContains(t, seen, m.ID, "id %d answered twice", m.ID)
		seen[m.ID] = true
		order = append(order, m.ID)
		assert.Equal(t, fmt.Sprint(m.ID*10), string(m.Value), "id %d: value", m.ID)
		if m.ID < n-4 {
			assert.Positive(t, m.RunNS, "id %d: run_ns", m.ID)
		}
	}
	pos := map[uint64]int{}
	for i, id := range order {
		pos[id] = i
	}
	assert.GreaterOrEqual(t, pos[1], pos[n],
		"results came in request order %v; request 1 slept 315ms and request %d not at all", order, n)
}

func TestServeResults(t *testing.T) {
	t.Parallel()
	s := serve(t).started()
	cases := []struct {
		run       string
		value     string // the JSON value, "" for none
		errName   string
		errSubstr string
	}{
		{run: `"workload":"t.echo","params":{"a":[1,"x",{"b":null}],"c":"\u00e9"}`, value: `{"a":[1,"x",{"b":null}],"c":"é"}`},
		{run: `"workload":"t.echo"`, value: `{}`},
		{run: `"workload":"t.echo","params":null`, value: `{}`},
		{run: `"workload":"t.noop","params":{}`},
		{run: `"workload":"nope","params":{}`, errName: "UnknownWorkloadError", errSubstr: `unknown workload "nope" (available: hostile.return, hostile.throw, t.badvalue`},
		{run: `"workload":"t.sleep","params":{"ms":"x"}`, errName: "InvalidArgumentError", errSubstr: `t.sleep: param "ms" must be an integer`},
		{run: `"workload":"t.sleep","params":{"bogus":1}`, errName: "InvalidArgumentError", errSubstr: `t.sleep: unknown param "bogus"`},
		{run: `"workload":"t.echo","params":[1,2]`, errName: "InvalidArgumentError", errSubstr: `t.echo: params must be a JSON object`},
		{run: `"workload":"t.big","params":{}`, errName: "InvalidArgumentError", errSubstr: `t.big: param "n" is required`},
		{run: `"workload":"t.fail"`, errName: "WorkloadError", errSubstr: "t.fail: boom"},
		{run: `"workload":"t.panic"`, errName: "WorkloadError", errSubstr: "t.panic panicked: kaboom"},
		{run: `"workload":"t.badvalue"`, errName: "WorkloadError", errSubstr: "t.badvalue: cannot send its value as JSON: a func(), which is not a JSON type, at value"},
	}
	for i, c := range cases {
		s.send(fmt.Sprintf(`{"type":"run","id":%d,%s}`, i+1, c.run))
		m := s.next()
		require.Equal(t, TypeResult, m.Type, "%s: got %+v", c.run, m)
		require.Equal(t, uint64(i+1), m.ID, "%s: got %+v", c.run, m)
		if c.errName != "" {
			if assert.NotNil(t, m.Error, "%s: value %s, want %s containing %q", c.run, m.Value, c.errName, c.errSubstr) {
				assert.Equal(t, c.errName, m.Error.Name, "%s: got error %+v", c.run, m.Error)
				assert.Contains(t, m.Error.Message, c.errSubstr, "%s", c.run)
			}
			assert.Nil(t, m.Value, "%s: a failed result has a value", c.run)
		} else {
			assert.Nil(t, m.Error, "%s", c.run)
			if c.value == "" {
				assert.Nil(t, m.Value, "%s: want no value", c.run)
			} else {
				assert.Equal(t, c.value, string(m.Value), "%s: value", c.run)
			}
		}
	}
}

//nolint:paralleltest // timing-sensitive: a task outlives its timeout by design
func TestServeTimeout(t *testing.T) {
	s := serve(t).started()
	start := time.Now()
	s.send(`{"type":"run","id":1,"workload":"t.sleep","params":{"ms":10000},"timeout_ms":50}`)
	m := s.next()
	require.Equal(t, &WireError{Name: "TimeoutError", Message: "t.sleep: timed out after 50ms"}, m.Error)
	d := time.Duration(m.RunNS)
	assert.GreaterOrEqual(t, d, 50*time.Millisecond, "run_ns %s", d)
	assert.LessOrEqual(t, d, 5*time.Second, "run_ns %s", d)
	assert.LessOrEqual(t, time.Since(start), 5*time.Second, "the timeout took too long")
}

//nolint:paralleltest // timing-sensitive: cancels a task while it runs
func TestServeCancel(t *testing.T) {
	s := serve(t).started()
	s.send(`{"type":"cancel","id":99}`) // not in flight: ignored
	s.send(`{"type":"run","id":7,"workload":"t.sleep","params":{"ms":10000}}`)
	s.send(`{"type":"run","id":8,"workload":"t.sleep","params":{"ms":1,"v":8}}`)
	m := s.next()
	require.Equal(t, uint64(8), m.ID, "got %+v", m)
	require.Equal(t, "8", string(m.Value), "got %+v", m)
	start := time.Now()
	s.send(`{"type":"cancel","id":7}`)
	m = s.next()
	require.Equal(t, uint64(7), m.ID, "got %+v %+v", m, m.Error)
	require.Equal(t, &WireError{Name: "WorkloadError", Message: "t.sleep: cancelled by the pool (t.sleep: context canceled)"}, m.Error,
		"got %+v", m)
	assert.LessOrEqual(t, time.Since(start), 5*time.Second, "cancelling took too long")
}

//nolint:paralleltest // timing-sensitive: closes the input while tasks run
func TestServeEOFWaitsForTasks(t *testing.T) {
	s := serve(t).started()
	start := time.Now() // before the stubborn task starts: its 200ms are a lower bound from here
	s.send(`{"type":"run","id":1,"workload":"t.block","params":{"for":"200ms"}}`)
	s.send(`{"type":"run","id":2,"workload":"t.sleep","params":{"ms":10000}}`)
	time.Sleep(20 * time.Millisecond) // both are running
	_ = s.in.Close()
	results := map[uint64]Message{}
	for range 2 {
		m := s.next()
		results[m.ID] = m
	}
	stubborn := results[1]
	assert.Nil(t, stubborn.Error, "stubborn task: %+v", stubborn)
	assert.Equal(t, `"done"`, string(stubborn.Value), "stubborn task: %+v", stubborn)
	sleeping := results[2]
	if assert.NotNil(t, sleeping.Error, "sleeping task: %+v", sleeping) {
		assert.Contains(t, sleeping.Error.Message, "t.sleep: cancelled because the worker is stopping: its input closed", "sleeping task")
	}
	select {
	case err := <-s.done:
		require.NoError(t, err, "Serve returned an error after a clean EOF")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Serve did not return")
	}
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "Serve returned before the stubborn task ended")
	_, ok := <-s.frames
	assert.False(t, ok, "a frame after the last result")
	s.done <- nil // for the cleanup
}

func TestServeHelloMaxFrameAndUnknownTypes(t *testing.T) {
	t.Parallel()
	s := serve(t).started()
	s.send(`{"type":"hello","protocol":1,"concurrency":2,"max_frame":1024}`)
	s.send(`{"type":"from-the-future","id":3,"x":[1,2]}`)
	s.send(`{"type":"run","id":1,"workload":"t.big","params":{"n":2000}}`)
	m := s.next()
	require.Equal(t, uint64(1), m.ID, "got %+v %+v", m, m.Error)
	require.NotNil(t, m.Error, "got %+v", m)
	require.Equal(t, "WorkloadError", m.Error.Name, "got %+v", m.Error)
	require.Contains(t, m.Error.Message, "over the 1024-byte frame limit")
	s.send(`{"type":"run","id":2,"workload":"t.big","params":{"n":10}}`)
	m = s.next()
	require.Equal(t, uint64(2), m.ID, "got %+v", m)
	require.Equal(t, `"xxxxxxxxxx"`, string(m.Value), "got %+v", m)
	// A request over the limit the pool set is a protocol error.
	s.send(`{"type":"run","id":3,"workload":"t.echo","params":{"s":"` + strings.Repeat("z", 2000) + `"}}`)
	select {
	case err := <-s.done:
		s.done <- err
		require.ErrorContains(t, err, "over the 1024-byte limit", "Serve returned")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Serve did not stop")
	}
}

func TestServeProtocolErrors(t *testing.T) {
	t.Parallel()
	for frame, want := range map[string]string{
		`{"type":"run", oops`:                       "not valid JSON",
		`[1,2,3]`:                                   "not a JSON object",
		`{"type":"run","workload":"t.echo"}`:        "without a valid id",
		`{"type":"run","id":0,"workload":"t.echo"}`: "without a valid id",
		`{"type":"run","id":1,"workload":"t.echo","timeout_ms":"x"}`: "timeout_ms that is not a number",
	} {
		s := serve(t).started()
		s.send(frame)
		select {
		case err := <-s.done:
			s.done <- err
			require.ErrorContains(t, err, want, "%s: Serve returned", frame)
		case <-time.After(5 * time.Second):
			require.FailNow(t, "Serve did not stop", "%s", frame)
		}
	}
	s := serve(t).started()
	s.send(`{"type":"run","id":5,"workload":"t.sleep","params":{"ms":10000}}`)
	s.send(`{"type":"run","id":5,"workload":"t.sleep","params":{"ms":10000}}`)
	m := s.next() // the first run, cancelled as Serve stops
	assert.Equal(t, uint64(5), m.ID, "got %+v", m)
	assert.NotNil(t, m.Error, "got %+v", m)
	select {
	case err := <-s.done:
		s.done <- err
		require.ErrorContains(t, err, "run 5 while a run with that id is in flight", "duplicate id: Serve returned")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "duplicate id: Serve did not stop")
	}
}

// TestServeHostile: whatever a workload panics with, returns or does to its
// goroutine, its request is answered with a WorkloadError that says what
// (and, for a value, where), and the worker serves on.
//
//nolint:tparallel // the cases share one server and read its answers in turn
func TestServeHostile(t *testing.T) {
	t.Parallel()
	s := serve(t).started()
	//nolint:paralleltest // the cases share one server and read its answers in turn
	for i, c := range []struct{ workload, kase, want string }{
		{"hostile.throw", "unprintable", "hostile.throw panicked: a hostile.unprintable whose text cannot be rendered"},
		{"hostile.throw", "unprintable_message", "hostile.throw panicked: a hostile.unprintable whose text cannot be rendered"},
		{"hostile.throw", "not_an_error", "hostile.throw panicked: runtime error: invalid memory address"},
		{"hostile.throw", "huge_message", "bytes is over the 16777216-byte frame limit"},
		{"hostile.throw", "exit", "hostile.throw: ended its goroutine without returning (runtime.Goexit)"},
		{"hostile.return", "nan", "cannot send its value as JSON: NaN at value"},
		{"hostile.return", "nested_nan", "cannot send its value as JSON: NaN at value.a[1].b"},
		{"hostile.return", "nested_infinity", "cannot send its value as JSON: -Infinity at value[0][0]"},
		{"hostile.return", "cycle", "cannot send its value as JSON: a cycle (the value contains itself) at value.self"},
		{"hostile.return", "function", "cannot send its value as JSON: a func(), which is not a JSON type, at value.f"},
		{"hostile.return", "native", "cannot send its value as JSON: a chan int, which is not a JSON type, at value.c"},
		{"hostile.return", "non_string_key", "cannot send its value as JSON: a map with interface {} keys, which JSON cannot carry, at value"},
		{"hostile.return", "lone_surrogate", "cannot send its value as JSON: a string that is not valid Unicode (bytes that are not UTF-8) at value.s"},
		{"hostile.return", "deep", "cannot send its value as JSON: nesting deeper than 512 levels"},
		{"hostile.return", "huge", "bytes is over the 16777216-byte frame limit"},
		{"hostile.return", "raising_encoder", "cannot send its value as JSON: encoding it panicked: a hostile.unprintable whose text cannot be rendered"},
	} {
		t.Run(c.workload+"/"+c.kase, func(t *testing.T) {
			s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":%q,"params":{"case":%q}}`, i+1, c.workload, c.kase))
			m := s.next()
			assert.Equal(t, uint64(i+1), m.ID, "got %+v", m)
			if assert.NotNil(t, m.Error, "want a WorkloadError containing %q", c.want) {
				assert.Equal(t, "WorkloadError", m.Error.Name, "got %+v", m.Error)
				assert.Contains(t, m.Error.Message, c.want)
			}
		})
	}
	s.send(`{"type":"run","id":100,"workload":"t.noop"}`)
	m := s.next()
	require.Equal(t, uint64(100), m.ID, "after the hostile workloads: %+v", m)
	require.Nil(t, m.Error, "after the hostile workloads: %+v", m)
}

// TestEncodeValuePaths: values json.Marshal would refuse or change are
// refused, naming the place; others encode as json.Marshal does.
func TestEncodeValuePaths(t *testing.T) {
	t.Parallel()
	type inner struct {
		F    float64 `json:"f"`
		Skip func()  `json:"-"`
	}
	for _, c := range []struct {
		name  string
		value any
		want  string // the reason; "" for a value that encodes
	}{
		{"plain", map[string]any{"a": []any{1, "é", nil}}, ""},
		{"valid U+FFFD", "\ufffd and a backslash \\ufffd", ""},
		{"odd key", map[string]any{"a b": []any{math.Inf(1)}}, `Infinity at value["a b"][0]`},
		{"struct field", []inner{{F: 1}, {F: math.NaN()}}, "NaN at value[1].f"},
		{"pointer cycle", func() any { type node struct{ Next *node }; n := &node{}; n.Next = n; return n }(), "a cycle (the value contains itself) at value.Next"},
		{"bad key bytes", map[string]any{"k": map[string]int{"\xff": 1}}, "a key that is not valid Unicode (bytes that are not UTF-8) at value.k"},
		{"bytes in a list", []any{"ok", "\xc3"}, "a string that is not valid Unicode (bytes that are not UTF-8) at value[1]"},
		{"complex", map[string]any{"c": complex(1, 2)}, "a complex128, which is not a JSON type, at value.c"},
		{"just deep enough", nested(MaxDepth), ""},
		{"one level deeper", nested(MaxDepth + 1), "nesting deeper than 512 levels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			js, why := encodeValue(c.value)
			require.Equal(t, c.want, why)
			if c.want == "" {
				want, _ := json.Marshal(c.value)
				assert.Equal(t, string(want), string(js), "encoded")
			}
		})
	}
}

func nested(levels int) any {
	var v any = []any{}
	for range levels - 1 {
		v = []any{v}
	}
	return v
}

// TestServeProcessNotAChild: a worker whose pool is not its parent (a
// wrapper that forks stands between) serves; issue 17 found the pool's
// wrappers refused with "not this process's parent".
func TestServeProcessNotAChild(t *testing.T) {
	t.Parallel()
	t.Run("foreign pool pid", func(t *testing.T) {
		cmd := exec.CommandContext(t.Context(), os.Args[0])
		cmd.Env = slices.Concat(selfConfig().Env, []string{WorkerEnv + "=1"}) // pid 1 is not its parent
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		br := bufio.NewReader(stdout)
		_, err = ReadFrame(br, nil, DefaultMaxFrame)
		require.NoError(t, err, "no hello")
		require.NoError(t, WriteFrame(stdin, []byte(`{"type":"run","id":1,"workload":"t.noop"}`)))
		f, err := ReadFrame(br, nil, DefaultMaxFrame)
		require.NoError(t, err, "result")
		require.Contains(t, string(f), `"id":1`, "result")
		require.NotContains(t, string(f), "error", "result")
		_ = stdin.Close()
		assert.NoError(t, cmd.Wait(), "exit")
	})
	for _, wrap := range [][]string{
		{"sh", "-c", `"$@"; exit $?`, "sh"},
		{"timeout", "600"},
	} {
		t.Run(wrap[0], func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(wrap[0]); err != nil {
				t.Skipf("no %s here", wrap[0])
			}
			cfg := selfConfig()
			cfg.Argv = append(slices.Clone(wrap), os.Args[0])
			w, err := Start(cfg)
			require.NoError(t, err)
			c := NewCall()
			require.NoError(t, w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":10,"v":7}`)}))
			<-c.Done()
			assert.Nil(t, c.Err, "through %v: %+v", wrap, c.Response)
			assert.Equal(t, "7", string(c.Value), "through %v: %+v", wrap, c.Response)
			w.Close(10 * time.Second)
			assert.Nil(t, w.Err(), "through %v", wrap)
		})
	}
}

// TestServeDeepParams: params nested deeper than MaxDepth are refused with
// InvalidArgumentError, even past the 10000 levels where encoding/json stops
// (the frame is then no protocol error), and the worker serves on.
func TestServeDeepParams(t *testing.T) {
	t.Parallel()
	s := serve(t).started()
	for i, levels := range []int{MaxDepth + 1, 20000} {
		s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.echo","params":{"a":%s%s}}`,
			i+1, strings.Repeat("[", levels-1), strings.Repeat("]", levels-1)))
		m := s.next()
		want := "t.echo: params nest deeper than 512 levels"
		assert.Equal(t, uint64(i+1), m.ID, "params %d levels deep", levels)
		assert.Equal(t, &WireError{Name: "InvalidArgumentError", Message: want}, m.Error, "params %d levels deep", levels)
	}
	s.send(`{"type":"run","id":9,"workload":"t.echo","params":{"a":[[1]]}}`)
	m := s.next()
	require.Equal(t, uint64(9), m.ID, "after that")
	require.Nil(t, m.Error, "after that")
	require.Equal(t, `{"a":[[1]]}`, string(m.Value), "after that") //nolint:testifylint // byte-exact on purpose: JSONEq would accept another encoding
}

// BenchmarkEncodeValue: what the checks of encodeValue (depth, bytes that
// are not UTF-8) add to json.Marshal of a result.
func BenchmarkEncodeValue(b *testing.B) {
	for _, c := range []struct {
		name  string
		value any
	}{
		{"int", 2262},
		{"object", map[string]any{"a": []any{1, "é", nil, map[string]any{"b": 2.5}}, "c": "text"}},
		{"1MiB string", strings.Repeat("abc é \" \\ ", 1<<20/12)},
	} {
		b.Run(c.name+"/json.Marshal", func(b *testing.B) {
			for b.Loop() {
				_, _ = json.Marshal(c.value)
			}
		})
		b.Run(c.name+"/encodeValue", func(b *testing.B) {
			for b.Loop() {
				_, _ = encodeValue(c.value)
			}
		})
	}
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), fn)
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestServeParksItsGoroutines: a goroutine whose task is done parks, to be
// handed the reading or a task again (it keeps its grown stack), and no more
// than maxParked stay parked after a burst.
//
//nolint:paralleltest // counts the goroutines parked by every server of the test binary
func TestServeParksItsGoroutines(t *testing.T) {
	s := serve(t).started()
	s.send(`{"type":"hello","protocol":1,"max_frame":16777216}`) // no concurrency limit
	const idle = "ipc.(*server).idle("
	for i := 1; i <= 20; i++ {
		s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.noop"}`, i))
		require.Equal(t, uint64(i), s.next().ID)
	}
	// Tasks one after another take turns on two goroutines, or more when
	// a result reached the pool, and the next request the worker, before
	// the goroutine that wrote it parked (on a loaded machine, now and
	// then); never one per task.
	var n int
	if !assert.Eventually(t, func() bool { n = goroutinesIn(idle); return n >= 1 && n <= 20/4 }, 5*time.Second, time.Millisecond) {
		require.FailNow(t, "20 tasks one after another", "%d goroutines parked, want 1 to %d", n, 20/4)
	}
	t.Logf("20 tasks one after another: %d goroutines parked", n)

	const burst = 3 * maxParked
	for i := 1; i <= burst; i++ {
		s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.sleep","params":{"ms":100}}`, 100+i))
	}
	for range burst {
		require.Nil(t, s.next().Error)
	}
	require.Eventually(t, func() bool { return goroutinesIn(idle) == maxParked }, 5*time.Second, time.Millisecond,
		"after %d tasks at once, %d goroutines stay parked: %d", burst, maxParked, goroutinesIn(idle))

	require.NoError(t, s.in.Close())
	require.Eventually(t, func() bool { return goroutinesIn("ipc.(*server).loop(") == 0 }, 5*time.Second,
		time.Millisecond, "every goroutine leaves once the input ends")
}
