package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/ipc/conformance"
	"github.com/k6-concurrency/xk6-concurrency/ipc/conformance/hostile"
	"github.com/k6-concurrency/xk6-concurrency/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// brokenEnv makes this test binary, as a worker, break one rule on purpose
// (see brokenRegistry), so that the suite is seen to catch it.
const brokenEnv = "XK6_CONFORMANCE_BROKEN"

// TestMain makes this test binary a Go worker (the pool's side starts
// os.Args[0] with ipc.WorkerEnv set), as the pool's own tests do.
func TestMain(m *testing.M) {
	if os.Getenv(ipc.WorkerEnv) != "" {
		mode := os.Getenv(brokenEnv)
		if mode == "stdout" {
			//nolint:forbidigo // what ServeProcess guards against only after it starts
			fmt.Print("a stray print before the hello\n")
		}
		if mode == "parent-check" && os.Getenv(ipc.WorkerEnv) != strconv.Itoa(os.Getppid()) {
			os.Exit(1) // what the worker libraries did before issue 17: no wrapper could start them
		}
		code := ipc.ServeProcess(brokenRegistry(mode))
		if mode == "exit-status" {
			code = 3
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// strict: every worker here offers echo, noop and io.sleep (and
// cpu.primes) and the hostile workloads, and honours timeouts and cancels.
//
//nolint:gochecknoglobals // a test table
var strict = conformance.Options{
	Require:       []string{"cpu.primes", "echo", "hostile.throw", "hostile.return"},
	StrictTimeout: true,
	StrictCancel:  true,
}

func TestGoWorker(t *testing.T) {
	t.Parallel()
	conformance.Run(t, []string{os.Args[0]}, strict)
}

// TestOtherLanguageWorkers runs the example workers in Python and Node.js,
// with their hostile workloads, async ones and one with a stray failure.
func TestOtherLanguageWorkers(t *testing.T) {
	t.Parallel()
	for _, w := range []struct{ interpreter, script string }{
		{"python3", "examples/python/worker.py"},
		{"node", "examples/node/worker.js"},
	} {
		t.Run(w.interpreter, func(t *testing.T) {
			t.Parallel()
			opts := strict
			opts.Dir = moduleRoot(t)
			opts.Env = []string{"XK6WORKER_HOSTILE=1"}
			opts.Require = append(slices.Clone(opts.Require), "hostile.async", "hostile.stray")
			conformance.Run(t, []string{k6test.Interpreter(t, w.interpreter), w.script}, opts)
		})
	}
}

// TestSuiteCatchesBrokenWorkers runs the suite, in a child test process,
// against Go workers that each break one rule, and checks that the suite
// fails, in the check for that rule.
func TestSuiteCatchesBrokenWorkers(t *testing.T) {
	t.Parallel()
	for mode, check := range map[string]string{
		"stdout":       "TestBrokenWorker", // no worker starts: the pool's side refuses the stray bytes
		"serial":       "TestBrokenWorker/pipelining",
		"exit-status":  "TestBrokenWorker/eof",
		"no-cancel":    "TestBrokenWorker/cancel",
		"echo":         "TestBrokenWorker/large_payloads",
		"parent-check": "TestBrokenWorker/not_a_child",
		"nan-as-null":  "TestBrokenWorker/hostile",
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenWorker$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the suite passed a worker that breaks %q:\n%s", mode, out)
			assert.Contains(t, string(out), "--- FAIL: "+check+" ", "the suite did not fail in %s for %q", check, mode)
		})
	}
}

// TestBrokenWorker is TestSuiteCatchesBrokenWorkers's child: it runs only
// with brokenEnv set, and must fail.
func TestBrokenWorker(t *testing.T) {
	t.Parallel()
	if os.Getenv(brokenEnv) == "" {
		t.Skip("run by TestSuiteCatchesBrokenWorkers")
	}
	conformance.Run(t, []string{os.Args[0]}, strict)
}

// brokenRegistry is the Go worker's registry: the built-in noop, io.sleep
// and cpu.primes, and an echo; mode breaks one of them on purpose.
func brokenRegistry(mode string) *workload.Registry {
	r := workload.NewRegistry()
	for _, name := range []string{"noop", "io.sleep", "cpu.primes"} {
		s, err := workload.Default.Lookup(name)
		if err != nil {
			panic(err)
		}
		fn := s.Fn
		switch {
		case name == "io.sleep" && mode == "serial":
			var one sync.Mutex // one sleep at a time
			fn = func(ctx context.Context, a workload.Args) (any, error) {
				one.Lock()
				defer one.Unlock()
				return s.Fn(ctx, a)
			}
		case name == "io.sleep" && mode == "no-cancel":
			fn = func(ctx context.Context, a workload.Args) (any, error) { // honours only its deadline
				if deadline, ok := ctx.Deadline(); ok {
					var stop context.CancelFunc
					ctx, stop = context.WithDeadline(context.Background(), deadline)
					defer stop()
				} else {
					ctx = context.Background()
				}
				return s.Fn(ctx, a) //nolint:contextcheck // this mode drops the pool's cancel on purpose
			}
		}
		must(r.Add(s.Name, s.Kind, fn, workload.WithDescription(s.Description), workload.WithParams(s.Params...)))
	}
	if mode == "nan-as-null" { // what the Node.js library did before issue 17
		must(r.Add("hostile.return", workload.CPU, func(context.Context, workload.Args) (any, error) {
			return map[string]any{"a": []any{1, map[string]any{"b": nil}}}, nil
		}, workload.RawParams()))
		must(r.Add("hostile.throw", workload.CPU, func(context.Context, workload.Args) (any, error) {
			return nil, errors.New("hostile.throw: failed")
		}, workload.RawParams()))
	} else {
		must(hostile.Register(r, ""))
	}
	must(r.Add("echo", workload.IO, func(_ context.Context, a workload.Args) (any, error) {
		v := a.Raw()
		if mode == "echo" {
			delete(v, "nested")
		}
		return v, nil
	}, workload.RawParams(), workload.WithDescription("Returns its params unchanged.")))
	return r
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "examples", "python", "worker.py"))
	require.NoError(t, err)
	return root
}
