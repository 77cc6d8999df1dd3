package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestRunJSCells runs the JS cells through the real k6: a module's export on
// both pools and the JS task that does nothing; every task is counted once
// and the process pool's worker CPU is sampled.
func TestRunJSCells(t *testing.T) { //nolint:paralleltest // runs k6 and measures CPU time: alone
	s := realSession(t)
	for _, f := range jsFamilies() { //nolint:paralleltest // one cell at a time: each measures CPU time
		c := makeCells([]family{f}, nil, 2)[0]
		t.Run(c.ID(), func(t *testing.T) {
			run, err := s.runCell(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if !(run.PerS > 0) || run.Tasks == 0 || run.Tasks != run.Iterations {
				t.Errorf("%+v: no rate, or tasks and iterations differ", run)
			}
			if run.CPU == nil {
				t.Fatalf("%+v: no CPU sample", run)
			}
			if want := map[string]int{"process": c.Workers}[c.Kind]; run.CPU.WorkersSeen != want {
				t.Errorf("CPU sampled %d workers, want %d", run.CPU.WorkersSeen, want)
			}
		})
	}
	if err := s.procs.leftovers(); err != nil {
		t.Error(err)
	}
}

// TestMeasureJSMemory runs bench/k6/jsmem.js through the real k6: each of
// the 1, then 65 workers loaded the module once (measureJSMemory checks the
// count of the module's top-level lines), and k6's memory was read twice.
func TestMeasureJSMemory(t *testing.T) { //nolint:paralleltest // 65 JS runtimes and a memory reading: alone
	s := realSession(t)
	m, err := s.measureJSMemory(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Base != jsMemBase || m.Grown != jsMemGrown || m.Before.RSS == 0 || m.After.RSS == 0 || m.After.Anon == 0 {
		t.Errorf("%+v", m)
	}
	if err := s.procs.leftovers(); err != nil {
		t.Error(err)
	}
}

// TestOnly: -only (or ONLY) picks the steps and cells a session runs, and
// shows in the command line BENCHMARKS.md gives; a bad expression is an error.
func TestOnly(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags("/repo", []string{"-only", `_js/|js-memory`}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, c := range makeCells(families(), []int{1, 2, 4}, 2) {
		if cfg.runs(c.ID()) {
			ran = append(ran, c.ID())
		}
	}
	want := []string{"thread_js/primes/1", "thread_js/primes/2", "process_js/primes/1", "process_js/primes/2", "thread_js/nothing/1"}
	if !slices.Equal(ran, want) {
		t.Errorf("cells %v, want %v", ran, want)
	}
	for step, runs := range map[string]bool{stepGo: false, stepIdle: false, stepJSMemory: true} {
		if cfg.runs(step) != runs {
			t.Errorf("step %s runs: %v, want %v", step, cfg.runs(step), runs)
		}
	}
	if got := command(cfg); got != "go run ./bench -reps 3 -cell 5s -seed 1 -only '_js/|js-memory'" {
		t.Errorf("command %q", got)
	}
	all, err := parseFlags("/repo", nil, func(k string) string { return map[string]string{}[k] }, io.Discard)
	if err != nil || !all.runs(stepGo) || !all.runs("thread/noop/1") || command(all) != "go run ./bench -reps 3 -cell 5s -seed 1" {
		t.Errorf("without -only everything runs: %v, %q", err, command(all))
	}
	env, err := parseFlags("/repo", nil, func(k string) string { return map[string]string{"ONLY": "idle"}[k] }, io.Discard)
	if err != nil || !env.runs(stepIdle) || env.runs(stepGo) {
		t.Errorf("ONLY=idle: %v", err)
	}
	if _, err := parseFlags("/repo", []string{"-only", "("}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "-only: error parsing regexp") {
		t.Errorf("a bad -only: %v", err)
	}
}
