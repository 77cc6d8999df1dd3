package ipc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/testworkload"
	"github.com/k6-concurrency/xk6-concurrency/ipc/conformance/hostile"
	"github.com/k6-concurrency/xk6-concurrency/workload"
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
			t.Error("Serve did not return after its input closed")
		}
		_ = outR.Close()
	})
	return s
}

func (s *served) send(msg string) {
	s.t.Helper()
	if err := WriteFrame(s.in, []byte(msg)); err != nil {
		s.t.Fatalf("send %s: %v", msg, err)
	}
}

func (s *served) next() Message {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatal("the worker's output ended")
		}
		var m Message
		if err := json.Unmarshal(f, &m); err != nil {
			s.t.Fatalf("frame %s: %v", f, err)
		}
		return m
	case <-time.After(10 * time.Second):
		s.t.Fatal("no frame from the worker within 10s")
	}
	return Message{}
}

// started reads the hello.
func (s *served) started() *served {
	s.t.Helper()
	if m := s.next(); m.Type != TypeHello {
		s.t.Fatalf("first frame %+v", m)
	}
	return s
}

func TestServeHello(t *testing.T) {
	t.Parallel()
	s := serve(t)
	m := s.next()
	if m.Type != TypeHello || m.Protocol != 1 || m.PID != os.Getpid() {
		t.Fatalf("hello %+v", m)
	}
	reg := testRegistry()
	names := make([]string, 0, len(m.Workloads))
	for _, info := range m.Workloads {
		names = append(names, info.Name)
		spec, err := reg.Lookup(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Kind != spec.Kind {
			t.Errorf("%s: kind %s, want %s", info.Name, info.Kind, spec.Kind)
		}
	}
	if !reflect.DeepEqual(names, reg.Names()) {
		t.Errorf("workloads %v, want %v", names, reg.Names())
	}
	for _, info := range m.Workloads {
		if info.Name == "t.sleep" {
			if p, ok := info.Params["ms"]; !ok || p.Type != workload.Int {
				t.Errorf("t.sleep params %+v", info.Params)
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
		if m.Type != TypeResult || m.Error != nil {
			t.Fatalf("result %+v", m)
		}
		if seen[m.ID] {
			t.Fatalf("id %d answered twice", m.ID)
		}
		seen[m.ID] = true
		order = append(order, m.ID)
		if want := fmt.Sprint(m.ID * 10); string(m.Value) != want {
			t.Errorf("id %d: value %s, want %s", m.ID, m.Value, want)
		}
		if m.RunNS <= 0 && m.ID < n-4 {
			t.Errorf("id %d: run_ns %d", m.ID, m.RunNS)
		}
	}
	pos := map[uint64]int{}
	for i, id := range order {
		pos[id] = i
	}
	if pos[1] < pos[n] {
		t.Errorf("results came in request order %v; request 1 slept 315ms and request %d not at all", order, n)
	}
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
		if m.Type != TypeResult || m.ID != uint64(i+1) {
			t.Fatalf("%s: got %+v", c.run, m)
		}
		switch {
		case c.errName != "":
			if m.Error == nil || m.Error.Name != c.errName || !strings.Contains(m.Error.Message, c.errSubstr) {
				t.Errorf("%s: got error %+v value %s, want %s containing %q", c.run, m.Error, m.Value, c.errName, c.errSubstr)
			}
			if m.Value != nil {
				t.Errorf("%s: a failed result has a value %s", c.run, m.Value)
			}
		case m.Error != nil:
			t.Errorf("%s: error %+v", c.run, m.Error)
		case c.value == "" && m.Value != nil:
			t.Errorf("%s: value %s, want none", c.run, m.Value)
		case c.value != "" && string(m.Value) != c.value:
			t.Errorf("%s: value %s, want %s", c.run, m.Value, c.value)
		}
	}
}

//nolint:paralleltest // timing-sensitive: a task outlives its timeout by design
func TestServeTimeout(t *testing.T) {
	s := serve(t).started()
	start := time.Now()
	s.send(`{"type":"run","id":1,"workload":"t.sleep","params":{"ms":10000},"timeout_ms":50}`)
	m := s.next()
	if m.Error == nil || m.Error.Name != "TimeoutError" || m.Error.Message != "t.sleep: timed out after 50ms" {
		t.Fatalf("got %+v", m.Error)
	}
	if d := time.Duration(m.RunNS); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("run_ns %s", d)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %s", d)
	}
}

//nolint:paralleltest // timing-sensitive: cancels a task while it runs
func TestServeCancel(t *testing.T) {
	s := serve(t).started()
	s.send(`{"type":"cancel","id":99}`) // not in flight: ignored
	s.send(`{"type":"run","id":7,"workload":"t.sleep","params":{"ms":10000}}`)
	s.send(`{"type":"run","id":8,"workload":"t.sleep","params":{"ms":1,"v":8}}`)
	if m := s.next(); m.ID != 8 || string(m.Value) != "8" {
		t.Fatalf("got %+v", m)
	}
	start := time.Now()
	s.send(`{"type":"cancel","id":7}`)
	m := s.next()
	if m.ID != 7 || m.Error == nil || m.Error.Name != "WorkloadError" ||
		m.Error.Message != "t.sleep: cancelled by the pool (t.sleep: context canceled)" {
		t.Fatalf("got %+v %+v", m, m.Error)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelling took %s", d)
	}
}

//nolint:paralleltest // timing-sensitive: closes the input while tasks run
func TestServeEOFWaitsForTasks(t *testing.T) {
	s := serve(t).started()
	s.send(`{"type":"run","id":1,"workload":"t.block","params":{"for":"200ms"}}`)
	s.send(`{"type":"run","id":2,"workload":"t.sleep","params":{"ms":10000}}`)
	time.Sleep(20 * time.Millisecond) // both are running
	start := time.Now()
	_ = s.in.Close()
	results := map[uint64]Message{}
	for range 2 {
		m := s.next()
		results[m.ID] = m
	}
	if m := results[1]; m.Error != nil || string(m.Value) != `"done"` {
		t.Errorf("stubborn task: %+v", m)
	}
	if m := results[2]; m.Error == nil || !strings.Contains(m.Error.Message, "t.sleep: cancelled because the worker is stopping: its input closed") {
		t.Errorf("sleeping task: %+v", m)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("Serve returned %v after a clean EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Serve returned after %s, before the stubborn task ended", d)
	}
	if _, ok := <-s.frames; ok {
		t.Error("a frame after the last result")
	}
	s.done <- nil // for the cleanup
}

func TestServeHelloMaxFrameAndUnknownTypes(t *testing.T) {
	t.Parallel()
	s := serve(t).started()
	s.send(`{"type":"hello","protocol":1,"concurrency":2,"max_frame":1024}`)
	s.send(`{"type":"from-the-future","id":3,"x":[1,2]}`)
	s.send(`{"type":"run","id":1,"workload":"t.big","params":{"n":2000}}`)
	m := s.next()
	if m.ID != 1 || m.Error == nil || m.Error.Name != "WorkloadError" || !strings.Contains(m.Error.Message, "over the 1024-byte frame limit") {
		t.Fatalf("got %+v %+v", m, m.Error)
	}
	s.send(`{"type":"run","id":2,"workload":"t.big","params":{"n":10}}`)
	if m := s.next(); m.ID != 2 || string(m.Value) != `"xxxxxxxxxx"` {
		t.Fatalf("got %+v", m)
	}
	// A request over the limit the pool set is a protocol error.
	s.send(`{"type":"run","id":3,"workload":"t.echo","params":{"s":"` + strings.Repeat("z", 2000) + `"}}`)
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(err.Error(), "over the 1024-byte limit") {
			t.Fatalf("Serve returned %v", err)
		}
		s.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
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
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: Serve returned %v, want %q", frame, err, want)
			}
			s.done <- err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Serve did not stop", frame)
		}
	}
	s := serve(t).started()
	s.send(`{"type":"run","id":5,"workload":"t.sleep","params":{"ms":10000}}`)
	s.send(`{"type":"run","id":5,"workload":"t.sleep","params":{"ms":10000}}`)
	m := s.next() // the first run, cancelled as Serve stops
	if m.ID != 5 || m.Error == nil {
		t.Errorf("got %+v", m)
	}
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(err.Error(), "run 5 while a run with that id is in flight") {
			t.Errorf("duplicate id: Serve returned %v", err)
		}
		s.done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("duplicate id: Serve did not stop")
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
			if m.ID != uint64(i+1) || m.Error == nil || m.Error.Name != "WorkloadError" || !strings.Contains(m.Error.Message, c.want) {
				t.Errorf("got %+v, want a WorkloadError containing %q", m.Error, c.want)
			}
		})
	}
	s.send(`{"type":"run","id":100,"workload":"t.noop"}`)
	if m := s.next(); m.ID != 100 || m.Error != nil {
		t.Fatalf("after the hostile workloads: %+v", m)
	}
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
			if why != c.want {
				t.Fatalf("got %q, want %q", why, c.want)
			}
			if c.want == "" {
				want, _ := json.Marshal(c.value)
				if string(js) != string(want) {
					t.Errorf("encoded %s, want %s", js, want)
				}
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
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(stdout)
		if _, err := ReadFrame(br, nil, DefaultMaxFrame); err != nil {
			t.Fatalf("no hello: %v", err)
		}
		if err := WriteFrame(stdin, []byte(`{"type":"run","id":1,"workload":"t.noop"}`)); err != nil {
			t.Fatal(err)
		}
		f, err := ReadFrame(br, nil, DefaultMaxFrame)
		if err != nil || !strings.Contains(string(f), `"id":1`) || strings.Contains(string(f), "error") {
			t.Fatalf("result %s, %v", f, err)
		}
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v", err)
		}
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
			if err != nil {
				t.Fatal(err)
			}
			c := NewCall()
			if err := w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":10,"v":7}`)}); err != nil {
				t.Fatal(err)
			}
			<-c.Done()
			if c.Err != nil || string(c.Value) != "7" {
				t.Errorf("through %v: %+v", wrap, c.Response)
			}
			w.Close(10 * time.Second)
			if err := w.Err(); err != nil {
				t.Errorf("through %v: %v", wrap, err)
			}
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
		if m.ID != uint64(i+1) || m.Error == nil || m.Error.Name != "InvalidArgumentError" || m.Error.Message != want {
			t.Errorf("params %d levels deep: got %+v, want InvalidArgumentError %q", levels, m.Error, want)
		}
	}
	s.send(`{"type":"run","id":9,"workload":"t.echo","params":{"a":[[1]]}}`)
	if m := s.next(); m.ID != 9 || m.Error != nil || string(m.Value) != `{"a":[[1]]}` {
		t.Fatalf("after that: %+v %s", m.Error, m.Value)
	}
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
