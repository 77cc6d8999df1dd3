// Package testworkload is the one registry of the workloads that tests serve:
// the ipc and pool test binaries (re-executed as worker processes),
// FuzzServe and internal/testworker. Each t.* workload has one behaviour,
// often a way to misbehave on purpose, under one name:
//
//	t.echo      returns its params (raw)
//	t.noop      returns nothing
//	t.sleep     sleeps ms milliseconds (0 to 3,600,000), honouring
//	            cancellation, and returns v
//	t.block     sleeps for (a duration), ignoring cancellation: a third-party
//	            workload that does not honour its context
//	t.fail      fails with "t.fail: boom"
//	t.panic     panics with "kaboom"
//	t.badvalue  returns a func, which no JSON can carry
//	t.nan       returns NaN, which no JSON can carry
//	t.big       returns a string of n x's
//	t.env       returns the environment variable name
//	t.pid       returns the process id
//	t.print     prints a line to stdout (the protocol's channel) and returns true
//	t.longline  writes a 100 KiB line, then another, to stderr
//	t.crash     writes "t.crash: exiting with status 3" to stderr and exits 3
//
// It is for tests only: nothing that ships imports it.
package testworkload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// spec is one test workload.
type spec struct {
	name string
	kind workload.Kind
	fn   workload.Func
	opts []workload.Option
	// harmless: it ends promptly (or at its cancel), leaves the process
	// alone and writes nothing: fit for a fuzz target's worker.
	harmless bool
}

func specs() []spec {
	ms := workload.Param{Name: "ms", Type: workload.Int, Min: 0, Max: 3600000}
	return []spec{
		{
			"t.echo", workload.CPU, func(_ context.Context, a workload.Args) (any, error) { return a.Raw(), nil },
			[]workload.Option{workload.RawParams(), workload.WithDescription("returns its params")},
			true,
		},
		{"t.noop", workload.CPU, func(context.Context, workload.Args) (any, error) { return nil, nil }, nil, true},
		{"t.sleep", workload.IO, sleep, []workload.Option{
			workload.WithParams(ms, workload.Param{Name: "v", Type: workload.Int}),
			workload.WithDescription("sleeps ms milliseconds and returns v"),
		}, true},
		{"t.block", workload.CPU, func(_ context.Context, a workload.Args) (any, error) {
			time.Sleep(a.Duration("for")) // ignores ctx on purpose
			return "done", nil
		}, []workload.Option{workload.WithParams(
			workload.Param{Name: "for", Type: workload.Duration, Default: time.Duration(0)})}, false},
		{
			"t.fail", workload.CPU, func(context.Context, workload.Args) (any, error) { return nil, errors.New("boom") },
			[]workload.Option{workload.WithDescription("fails")},
			true,
		},
		{"t.panic", workload.CPU, func(context.Context, workload.Args) (any, error) { panic("kaboom") }, nil, true},
		{"t.badvalue", workload.CPU, func(context.Context, workload.Args) (any, error) { return func() {}, nil }, nil, true},
		{"t.nan", workload.CPU, func(context.Context, workload.Args) (any, error) { return math.NaN(), nil }, nil, true},
		{"t.big", workload.CPU, func(_ context.Context, a workload.Args) (any, error) {
			return strings.Repeat("x", int(a.Int("n"))), nil
		}, []workload.Option{workload.WithParams(
			workload.Param{Name: "n", Type: workload.Int, Min: 0, Max: 1 << 26, Required: true})}, false},
		{"t.env", workload.IO, func(_ context.Context, a workload.Args) (any, error) {
			return os.Getenv(a.String("name")), nil
		}, []workload.Option{workload.WithParams(workload.Param{Name: "name", Type: workload.String, Required: true})}, true},
		{"t.pid", workload.IO, func(context.Context, workload.Args) (any, error) { return os.Getpid(), nil }, nil, true},
		{"t.print", workload.CPU, func(context.Context, workload.Args) (any, error) {
			fmt.Println("t.print: this went to stdout") //nolint:forbidigo // the stray print under test
			return true, nil
		}, []workload.Option{workload.WithDescription("prints to stdout")}, false},
		{"t.longline", workload.CPU, func(context.Context, workload.Args) (any, error) {
			fmt.Fprintln(os.Stderr, strings.Repeat("y", 100<<10))
			fmt.Fprintln(os.Stderr, "after the long line")
			return true, nil
		}, nil, false},
		{"t.crash", workload.CPU, func(context.Context, workload.Args) (any, error) {
			fmt.Fprintln(os.Stderr, "t.crash: exiting with status 3")
			os.Exit(3)
			return nil, nil
		}, []workload.Option{workload.WithDescription("exits the worker with status 3")}, false},
	}
}

func sleep(ctx context.Context, a workload.Args) (any, error) {
	t := time.NewTimer(time.Duration(a.Int("ms")) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return a.Int("v"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Register adds every test workload to reg.
func Register(reg *workload.Registry) error { return register(reg, nil) }

// New returns a registry of every test workload.
func New() *workload.Registry { return must(workload.NewRegistry(), nil) }

// Harmless returns a registry of the test workloads that end promptly (or
// when cancelled), leave the process alone and write nothing: what a fuzz
// target may run any number of, with any params.
func Harmless() *workload.Registry {
	return must(workload.NewRegistry(), func(s spec) bool { return s.harmless })
}

func register(reg *workload.Registry, keep func(spec) bool) error {
	for _, s := range specs() {
		if keep != nil && !keep(s) {
			continue
		}
		if err := reg.Add(s.name, s.kind, s.fn, s.opts...); err != nil {
			return err
		}
	}
	return nil
}

func must(reg *workload.Registry, keep func(spec) bool) *workload.Registry {
	if err := register(reg, keep); err != nil {
		panic(err) // the table above is wrong
	}
	return reg
}
