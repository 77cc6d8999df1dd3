package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
		require.ErrorContains(t, err, tc.want, "%s: Add", tc.what)
		assert.Empty(t, r.Names(), "%s: registered anyway", tc.what)
	}

	r := NewRegistry()
	for _, name := range []string{"a", "Z", "0", "my.work:load-1_x", strings.Repeat("b", 128)} {
		require.NoError(t, r.Add(name, IO, nop), "Add(%q)", name)
	}
	require.ErrorContains(t, r.Add("a", CPU, nop), "already registered", "a duplicate")
	spec, _ := r.Lookup("a")
	assert.Equal(t, IO, spec.Kind, "a duplicate replaced the first registration")
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
				err, _ := p.(error)
				assert.ErrorContains(t, err, strings.Fields(tc.name)[0], "Register(%q) panicked with %#v, want an error naming it", tc.name, p)
			}()
			Register(tc.name, tc.kind, tc.fn)
		}()
	}
	assert.Equal(t, before, Default.Names(), "Default changed")
	spec, _ := Default.Lookup("noop")
	assert.NotNil(t, spec.Fn, "the built-in noop was replaced")
	assert.NotEmpty(t, spec.Description, "the built-in noop was replaced")
}

func TestLookupUnknown(t *testing.T) {
	t.Parallel()
	spec, err := Default.Lookup("cpu.nope")
	require.Nil(t, spec, "Lookup(cpu.nope)")
	var te *taskerr.Error
	require.ErrorAs(t, err, &te, "Lookup(cpu.nope), want an UnknownWorkloadError")
	require.Equal(t, taskerr.UnknownWorkload, te.Code, "Lookup(cpu.nope) = %v, want an UnknownWorkloadError", err)
	assert.Contains(t, te.Message, `"cpu.nope"`, "the message does not name the workload")
	assert.Contains(t, te.Message, strings.Join(builtins, ", "), "the message does not list the workloads")
	_, err = NewRegistry().Lookup("x")
	assert.Equal(t, taskerr.UnknownWorkload, taskerr.CodeOf(err), "empty registry: %v", err)
}

func TestListAndNamesSorted(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	for _, name := range []string{"io.b", "cpu.z", "A", "cpu.a", "a", "io.a"} {
		require.NoError(t, r.Add(name, CPU, nop))
	}
	want := []string{"A", "a", "cpu.a", "cpu.z", "io.a", "io.b"}
	assert.Equal(t, want, r.Names(), "Names()")
	listed := make([]string, 0, len(r.List()))
	for _, s := range r.List() {
		listed = append(listed, s.Name)
	}
	assert.Equal(t, want, listed, "List()")
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := fmt.Sprintf("w%02d", i)
			addErr := r.Add(name, CPU, nop)
			_, lookupErr := r.Lookup(name)
			assert.NoError(t, addErr, "Add(%q)", name)
			assert.NoError(t, lookupErr, "Lookup(%q)", name)
			r.List()
			r.Names()
		})
	}
	wg.Wait()
	assert.Len(t, r.Names(), 20, "registered")
}

// infoJSON is a workload's catalogue entry as a script sees it.
func infoJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	spec, err := Default.Lookup(name)
	require.NoError(t, err)
	b, err := json.Marshal(spec.Info())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestInfoJSON(t *testing.T) {
	t.Parallel()
	for _, name := range builtins {
		m := infoJSON(t, name)
		spec, _ := Default.Lookup(name)
		assert.Equal(t, name, m["name"], "%s: info %v", name, m)
		assert.Equal(t, string(spec.Kind), m["kind"], "%s: info %v", name, m)
		assert.Equal(t, spec.Description, m["description"], "%s: info %v", name, m)
		assert.IsType(t, map[string]any{}, m["params"], "%s: params, want an object", name)
		params, _ := m["params"].(map[string]any)
		assert.Len(t, params, len(spec.Params), "%s: params", name)
		assert.Len(t, m, 4, "%s: info has keys %v", name, m)
	}

	limit := infoJSON(t, "cpu.primes")["params"].(map[string]any)["limit"]
	want := map[string]any{
		"type": "int", "description": "Count the primes strictly below this.",
		"required": false, "default": 20000.0, "min": 2.0, "max": 2147483647.0,
	}
	assert.Equal(t, want, limit, "cpu.primes limit")

	httpParams := infoJSON(t, "io.http")["params"].(map[string]any)
	url := httpParams["url"].(map[string]any)
	assert.Equal(t, "string", url["type"], "io.http url: %v", url)
	assert.Equal(t, true, url["required"], "io.http url: %v", url)
	assert.NotEmpty(t, url["description"], "io.http url: %v", url)
	assert.NotContains(t, url, "default", "io.http url has a default")
	method := httpParams["method"].(map[string]any)
	assert.Equal(t, "GET", method["default"], "io.http method: %v", method)
	assert.Equal(t, []any{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, method["values"], "io.http method: %v", method)
	timeout := httpParams["timeout"].(map[string]any)
	assert.Equal(t, "duration", timeout["type"], "io.http timeout: %v", timeout)
	assert.Equal(t, "10s", timeout["default"], "io.http timeout: %v", timeout)
	assert.Equal(t, "1ms", timeout["min"], "io.http timeout: %v", timeout)
	assert.Equal(t, "10m0s", timeout["max"], "io.http timeout: %v", timeout)
	duration := infoJSON(t, "io.sleep")["params"].(map[string]any)["duration"].(map[string]any)
	assert.Equal(t, "10ms", duration["default"], "io.sleep duration: %v", duration)
	assert.Equal(t, "0s", duration["min"], "io.sleep duration: %v", duration)
	assert.Equal(t, "24h0m0s", duration["max"], "io.sleep duration: %v", duration)
	fib := infoJSON(t, "cpu.fib")["params"].(map[string]any)["n"].(map[string]any)
	assert.InDelta(t, 0.0, fib["min"], 0, "cpu.fib n: %v", fib)
	assert.InDelta(t, 78.0, fib["max"], 0, "cpu.fib n: %v", fib)
	assert.InDelta(t, 25.0, fib["default"], 0, "cpu.fib n: %v", fib)
	assert.Equal(t, map[string]any{}, infoJSON(t, "noop")["params"], "noop params")
}

func TestRawParams(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	require.NoError(t, r.Add("raw", IO, func(_ context.Context, args Args) (any, error) { return args.Raw(), nil },
		RawParams(), WithDescription("Free-form.")))
	require.NoError(t, r.Add("raw.reads", IO, func(_ context.Context, args Args) (any, error) { return args.Int("n"), nil },
		RawParams()))
	spec, _ := r.Lookup("raw")
	params := map[string]any{"anything": []any{1.0, "two"}, "path": "/x", "n": 1e300}
	args, err := spec.Bind(params)
	require.NoError(t, err)
	v, err := spec.Run(context.Background(), args)
	require.NoError(t, err, "raw")
	assert.Equal(t, params, v, "raw: want the params as given")
	assert.False(t, args.Has("n"), "raw: Has(n) for a param it does not declare")
	info := spec.Info()
	assert.True(t, spec.Raw, "raw: info %+v", info)
	assert.Equal(t, "Free-form.", info.Description, "raw: info %+v", info)
	assert.Empty(t, info.Params, "raw: info %+v", info)
	spec, _ = r.Lookup("raw.reads")
	args, _ = spec.Bind(map[string]any{"n": 1.0})
	_, err = spec.Run(context.Background(), args)
	if assert.Equal(t, taskerr.Workload, taskerr.CodeOf(err), "a raw workload using a typed accessor: %v, want a WorkloadError", err) {
		assert.ErrorContains(t, err, `"n"`, "a raw workload using a typed accessor")
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	add := func(name string, fn Func, opts ...Option) *Spec {
		t.Helper()
		require.NoError(t, r.Add(name, CPU, fn, opts...))
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
		require.NoError(t, err)
		v, err := tc.spec.Run(context.Background(), args)
		var te *taskerr.Error
		if assert.Nil(t, v, "%s: Run, want nil and a *taskerr.Error", tc.spec.Name) &&
			assert.ErrorAs(t, err, &te, "%s: Run, want nil and a *taskerr.Error", tc.spec.Name) &&
			// unwrapped, as JavaScript needs it
			assert.Same(t, te, err, "%s: Run = %v, want a *taskerr.Error itself, not wrapped", tc.spec.Name, err) {
			assert.Equal(t, tc.code, te.Code, "%s: code", tc.spec.Name)
			if start, ok := strings.CutSuffix(tc.msg, "..."); ok {
				assert.True(t, strings.HasPrefix(te.Message, start), "%s: message %q, want it to start with %q", tc.spec.Name, te.Message, start)
			} else {
				assert.Equal(t, tc.msg, te.Message, "%s: message", tc.spec.Name)
			}
		}
	}

	// The accessors panic outside Run.
	spec, _ := r.Lookup("undeclared")
	args, _ := spec.Bind(map[string]any{"n": 3.0})
	for _, read := range []func(){
		func() { args.Int("nope") }, func() { args.String("n") }, func() { args.Duration("n") },
		func() { args.Bool("n") }, func() { Args{}.Int("n") },
	} {
		assert.Panics(t, read, "an accessor did not panic")
	}
	assert.Equal(t, int64(3), args.Int("n"), "n")
	assert.InDelta(t, 3.0, args.Float("n"), 0, "n")
}
