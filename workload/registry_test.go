package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

func nop(context.Context, Args) (any, error) { return "ok", nil }

func TestAddRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		what string
		name string
		kind Kind
		fn   Func
		opts []Option
		want string // in the error
	}{
		{"empty name", "", CPU, nop, nil, "workload name"},
		{"space", "has space", CPU, nop, nil, "workload name"},
		{"leading dot", ".x", CPU, nop, nil, "workload name"},
		{"leading dash", "-x", CPU, nop, nil, "workload name"},
		{"slash", "a/b", CPU, nop, nil, "workload name"},
		{"non-ASCII", "é", CPU, nop, nil, "workload name"},
		{"too long", strings.Repeat("a", 129), CPU, nop, nil, "workload name"},
		{"no kind", "k", "", nop, nil, "kind"},
		{"unknown kind", "k", "gpu", nop, nil, "kind"},
		{"kind in capitals", "k", "CPU", nop, nil, "kind"},
		{"nil fn", "f", IO, nil, nil, "nil function"},
		{"repeated param", "p", CPU, nop, []Option{WithParams(Param{Name: "n", Type: Int}, Param{Name: "n", Type: String})}, `"n"`},
		{"repeated across options", "p", CPU, nop, []Option{WithParams(Param{Name: "n", Type: Int}), WithParams(Param{Name: "n", Type: Int})}, `"n"`},
		{"unnamed param", "p", CPU, nop, []Option{WithParams(Param{Type: Int})}, `""`},
		{"unknown type", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: "float"})}, "float"},
		{"unknown type with default", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: "float", Default: 1.0})}, "float"},
		{"string default for int", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: Int, Default: "5"})}, "default"},
		{"fractional default for int", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: Int, Default: 1.5})}, "default"},
		{"default out of bounds", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: Int, Default: int64(20), Min: 1, Max: 10})}, "default"},
		{"int default for string", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: String, Default: 5})}, "default"},
		{"default not in enum", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: String, Default: "c", Enum: []string{"a", "b"}})}, "default"},
		{"string default for bool", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: Bool, Default: "true"})}, "default"},
		{"bad duration default", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: Duration, Default: "soon"})}, "default"},
		{"negative duration default", "p", CPU, nop, []Option{WithParams(Param{Name: "x", Type: Duration, Default: -time.Second})}, "default"},
		{"default failing its check", "p", CPU, nop, []Option{WithParams(Param{
			Name: "x", Type: String, Default: "a",
			Check: func(any) error { return errors.New("must be b") },
		})}, "must be b"},
	} {
		r := NewRegistry()
		err := r.Add(tc.name, tc.kind, tc.fn, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Add = %v, want an error containing %q", tc.what, err, tc.want)
		}
		if len(r.Names()) != 0 {
			t.Errorf("%s: registered %q anyway", tc.what, r.Names())
		}
	}

	r := NewRegistry()
	for _, name := range []string{"a", "Z", "0", "my.work:load-1_x", strings.Repeat("b", 128)} {
		if err := r.Add(name, IO, nop); err != nil {
			t.Errorf("Add(%q): %v", name, err)
		}
	}
	if err := r.Add("a", CPU, nop); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("a duplicate: %v", err)
	}
	if spec, _ := r.Lookup("a"); spec.Kind != IO {
		t.Errorf("a duplicate replaced the first registration")
	}
}

//nolint:paralleltest // registers in the process-wide Default registry
func TestRegisterPanics(t *testing.T) {
	before := Default.Names()
	for _, tc := range []struct {
		name string
		kind Kind
		fn   Func
	}{
		{"noop", IO, nop},        // a built-in's name
		{"cpu.primes", CPU, nop}, // another
		{"bad name", IO, nop},
		{"x.kind", "gpu", nop},
		{"x.fn", IO, nil},
	} {
		func() {
			defer func() {
				p := recover()
				err, ok := p.(error)
				if !ok || !strings.Contains(err.Error(), strings.Fields(tc.name)[0]) {
					t.Errorf("Register(%q) panicked with %#v, want an error naming it", tc.name, p)
				}
			}()
			Register(tc.name, tc.kind, tc.fn)
		}()
	}
	if after := Default.Names(); !slices.Equal(after, before) {
		t.Errorf("Default changed: %q -> %q", before, after)
	}
	if spec, _ := Default.Lookup("noop"); spec.Fn == nil || spec.Description == "" {
		t.Errorf("the built-in noop was replaced")
	}
}

func TestLookupUnknown(t *testing.T) {
	t.Parallel()
	spec, err := Default.Lookup("cpu.nope")
	var te *taskerr.Error
	if spec != nil || !errors.As(err, &te) || te.Code != taskerr.UnknownWorkload {
		t.Fatalf("Lookup(cpu.nope) = %v, %v; want an UnknownWorkloadError", spec, err)
	}
	if !strings.Contains(te.Message, `"cpu.nope"`) {
		t.Errorf("message %q does not name the workload", te.Message)
	}
	if !strings.Contains(te.Message, strings.Join(builtins, ", ")) {
		t.Errorf("message %q does not list the workloads", te.Message)
	}
	if _, err := NewRegistry().Lookup("x"); taskerr.CodeOf(err) != taskerr.UnknownWorkload {
		t.Errorf("empty registry: %v", err)
	}
}

func TestListAndNamesSorted(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	for _, name := range []string{"io.b", "cpu.z", "A", "cpu.a", "a", "io.a"} {
		if err := r.Add(name, CPU, nop); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"A", "a", "cpu.a", "cpu.z", "io.a", "io.b"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	listed := make([]string, 0, len(r.List()))
	for _, s := range r.List() {
		listed = append(listed, s.Name)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("List() = %q, want %q", listed, want)
	}
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprintf("w%02d", i)
			if err := r.Add(name, CPU, nop); err != nil {
				t.Error(err)
			}
			if _, err := r.Lookup(name); err != nil {
				t.Error(err)
			}
			r.List()
			r.Names()
		})
	}
	wg.Wait()
	if n := len(r.Names()); n != 20 {
		t.Errorf("%d registered, want 20", n)
	}
}

// infoJSON is a workload's catalogue entry as a script sees it.
func infoJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	spec, err := Default.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(spec.Info())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInfoJSON(t *testing.T) {
	t.Parallel()
	for _, name := range builtins {
		m := infoJSON(t, name)
		spec, _ := Default.Lookup(name)
		if m["name"] != name || m["kind"] != string(spec.Kind) || m["description"] != spec.Description {
			t.Errorf("%s: info %v", name, m)
		}
		params, ok := m["params"].(map[string]any)
		if !ok || len(params) != len(spec.Params) {
			t.Errorf("%s: params %#v, want an object of %d", name, m["params"], len(spec.Params))
		}
		if len(m) != 4 {
			t.Errorf("%s: info has keys %v", name, m)
		}
	}

	limit := infoJSON(t, "cpu.primes")["params"].(map[string]any)["limit"]
	want := map[string]any{
		"type": "int", "description": "Count the primes strictly below this.",
		"required": false, "default": 20000.0, "min": 2.0, "max": 2147483647.0,
	}
	if fmt.Sprint(limit) != fmt.Sprint(want) {
		t.Errorf("cpu.primes limit: %v, want %v", limit, want)
	}

	httpParams := infoJSON(t, "io.http")["params"].(map[string]any)
	url := httpParams["url"].(map[string]any)
	if url["type"] != "string" || url["required"] != true || url["description"] == "" {
		t.Errorf("io.http url: %v", url)
	}
	if _, has := url["default"]; has {
		t.Errorf("io.http url has a default: %v", url)
	}
	method := httpParams["method"].(map[string]any)
	if method["default"] != "GET" || fmt.Sprint(method["values"]) != "[GET HEAD POST PUT PATCH DELETE OPTIONS]" {
		t.Errorf("io.http method: %v", method)
	}
	timeout := httpParams["timeout"].(map[string]any)
	if timeout["type"] != "duration" || timeout["default"] != "10s" || timeout["min"] != "1ms" || timeout["max"] != "10m0s" {
		t.Errorf("io.http timeout: %v", timeout)
	}
	duration := infoJSON(t, "io.sleep")["params"].(map[string]any)["duration"].(map[string]any)
	if duration["default"] != "10ms" || duration["min"] != "0s" || duration["max"] != "24h0m0s" {
		t.Errorf("io.sleep duration: %v", duration)
	}
	fib := infoJSON(t, "cpu.fib")["params"].(map[string]any)["n"].(map[string]any)
	if fib["min"] != 0.0 || fib["max"] != 78.0 || fib["default"] != 25.0 {
		t.Errorf("cpu.fib n: %v", fib)
	}
	if p := infoJSON(t, "noop")["params"]; fmt.Sprint(p) != "map[]" {
		t.Errorf("noop params: %#v, want {}", p)
	}
}

func TestRawParams(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	if err := r.Add("raw", IO, func(_ context.Context, args Args) (any, error) { return args.Raw(), nil },
		RawParams(), WithDescription("Free-form.")); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("raw.reads", IO, func(_ context.Context, args Args) (any, error) { return args.Int("n"), nil },
		RawParams()); err != nil {
		t.Fatal(err)
	}
	spec, _ := r.Lookup("raw")
	params := map[string]any{"anything": []any{1.0, "two"}, "path": "/x", "n": 1e300}
	args, err := spec.Bind(params)
	if err != nil {
		t.Fatal(err)
	}
	v, err := spec.Run(context.Background(), args)
	if err != nil || fmt.Sprint(v) != fmt.Sprint(params) {
		t.Errorf("raw: %v, %v; want the params as given", v, err)
	}
	if args.Has("n") {
		t.Errorf("raw: Has(n) for a param it does not declare")
	}
	if info := spec.Info(); !spec.Raw || info.Description != "Free-form." || len(info.Params) != 0 {
		t.Errorf("raw: info %+v", info)
	}
	spec, _ = r.Lookup("raw.reads")
	args, _ = spec.Bind(map[string]any{"n": 1.0})
	if _, err := spec.Run(context.Background(), args); taskerr.CodeOf(err) != taskerr.Workload ||
		!strings.Contains(err.Error(), `"n"`) {
		t.Errorf("a raw workload using a typed accessor: %v, want a WorkloadError", err)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	add := func(name string, fn Func, opts ...Option) *Spec {
		t.Helper()
		if err := r.Add(name, CPU, fn, opts...); err != nil {
			t.Fatal(err)
		}
		spec, _ := r.Lookup(name)
		return spec
	}
	for _, tc := range []struct {
		spec *Spec
		code taskerr.Code
		msg  string // the whole message, or its start when ending in "..."
	}{
		{
			add("panics", func(context.Context, Args) (any, error) { panic("oh no") }),
			taskerr.Workload, "panics panicked: oh no\n...",
		},
		{add("nil.map", func(context.Context, Args) (any, error) {
			var m map[string]int
			m["x"] = 1 //nolint:staticcheck // the panic under test
			return nil, nil
		}), taskerr.Workload, "nil.map panicked: assignment to entry in nil map..."},
		{
			add("plain", func(context.Context, Args) (any, error) { return "ignored", errors.New("boom") }),
			taskerr.Workload, "plain: boom",
		},
		{
			add("prefixed", func(context.Context, Args) (any, error) { return nil, errors.New("prefixed: boom") }),
			taskerr.Workload, "prefixed: boom",
		},
		{add("wrapped", func(context.Context, Args) (any, error) {
			return nil, fmt.Errorf("reading: %w", taskerr.New(taskerr.InvalidArgument, "bad input"))
		}), taskerr.InvalidArgument, "wrapped: bad input"},
		{add("classified", func(context.Context, Args) (any, error) {
			return nil, taskerr.New(taskerr.Timeout, "took too long")
		}), taskerr.Timeout, "classified: took too long"},
		{
			add("deadline", func(context.Context, Args) (any, error) { return nil, context.DeadlineExceeded }),
			taskerr.Timeout, "deadline: context deadline exceeded",
		},
		{add("wrapped.deadline", func(context.Context, Args) (any, error) {
			return nil, fmt.Errorf("waiting: %w", context.DeadlineExceeded)
		}), taskerr.Timeout, "wrapped.deadline: waiting: context deadline exceeded"},
		{
			add("canceled", func(context.Context, Args) (any, error) { return nil, context.Canceled }),
			taskerr.Workload, "canceled: context canceled",
		},
		{
			add("undeclared", func(_ context.Context, args Args) (any, error) { return args.Int("nope"), nil },
				WithParams(Param{Name: "n", Type: Int})),
			taskerr.Workload, `undeclared panicked: undeclared reads param "nope" that it does not declare...`,
		},
		{
			add("wrong.type", func(_ context.Context, args Args) (any, error) { return args.String("n"), nil },
				WithParams(Param{Name: "n", Type: Int})),
			taskerr.Workload, `wrong.type panicked: wrong.type reads param "n" as [string], but it is declared int...`,
		},
	} {
		args, err := tc.spec.Bind(nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tc.spec.Run(context.Background(), args)
		var te *taskerr.Error
		if v != nil || !errors.As(err, &te) || error(te) != err { //nolint:errorlint // unwrapped, as JavaScript needs it
			t.Errorf("%s: Run = %v, %v; want nil and a *taskerr.Error", tc.spec.Name, v, err)
			continue
		}
		if te.Code != tc.code {
			t.Errorf("%s: code %s, want %s", tc.spec.Name, te.Code, tc.code)
		}
		if start, ok := strings.CutSuffix(tc.msg, "..."); ok {
			if !strings.HasPrefix(te.Message, start) {
				t.Errorf("%s: message %q, want it to start with %q", tc.spec.Name, te.Message, start)
			}
		} else if te.Message != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.spec.Name, te.Message, tc.msg)
		}
	}

	// The accessors panic outside Run.
	spec, _ := r.Lookup("undeclared")
	args, _ := spec.Bind(map[string]any{"n": 3.0})
	for _, read := range []func(){
		func() { args.Int("nope") }, func() { args.String("n") }, func() { args.Duration("n") },
		func() { args.Bool("n") }, func() { Args{}.Int("n") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("an accessor did not panic")
				}
			}()
			read()
		}()
	}
	if args.Int("n") != 3 || args.Float("n") != 3 {
		t.Errorf("n = %d", args.Int("n"))
	}
}
