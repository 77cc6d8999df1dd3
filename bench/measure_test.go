package main

import (
	"context"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// realSession is a session on the real k6 of the tests (k6test.Binary),
// with 2 s cells.
func realSession(t *testing.T) *session {
	t.Helper()
	root, err := k6test.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return &session{procs: &procs{root: root}, k6: k6test.Binary(t), tmp: t.TempDir(), cell: 2 * time.Second}
}

// TestRunCells runs a cell of each mode through the real k6 and Python: the
// figures come back, every task is counted once, the CPU of the process
// pool's worker is sampled, and no worker is left behind.
func TestRunCells(t *testing.T) { //nolint:paralleltest // runs k6 and measures CPU time: alone
	s := realSession(t)
	for _, c := range []Cell{ //nolint:paralleltest // one cell at a time: each measures CPU time
		{Tool: toolK6, Series: "thread", Mode: "pool", Kind: "thread", Workload: "noop", Workers: 1, VUs: 1},
		{Tool: toolK6, Series: "process", Mode: "pool", Kind: "process", Workload: "cpu.primes", Workers: 1, VUs: 2},
		{Tool: toolK6, Series: "process_tuned", Mode: "pool", Kind: "process", Workload: "io.sleep", Workers: 2, VUs: 8, Concurrency: 2, GOMAXPROCS: 1},
		{Tool: toolK6, Series: "js", Mode: "js", Workload: "cpu.primes", Workers: 1, VUs: 1},
		{Tool: toolK6, Series: "empty", Mode: "empty", Workload: "empty", Workers: 1, VUs: 1},
		{Tool: toolPython, Series: "py_thread", Mode: "rate", Kind: "thread", Workload: "io.sleep", Workers: 2},
		{Tool: toolPython, Series: "py_process", Mode: "roundtrip", Kind: "process", Workload: "noop", Workers: 1},
	} {
		t.Run(c.ID(), func(t *testing.T) {
			run, err := s.runCell(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if !(run.PerS > 0) {
				t.Errorf("%+v: no rate", run)
			}
			if c.Mode == "roundtrip" && !(run.USPerRoundTrip > 0) {
				t.Errorf("%+v: no round-trip time", run)
			}
			if c.Mode == "pool" && (run.Tasks == 0 || run.Tasks != run.Iterations) {
				t.Errorf("%+v: tasks and iterations differ", run)
			}
			if c.Tool == toolK6 {
				if run.CPU == nil {
					t.Fatalf("%+v: no CPU sample", run)
				}
				if run.CPU.WindowS <= 0 || run.CPU.MachineS <= 0 || run.CPU.CallsInWindow <= 0 {
					t.Errorf("CPU sample %+v", run.CPU)
				}
				if want := map[string]int{"process": c.Workers}[c.Kind]; run.CPU.WorkersSeen != want {
					t.Errorf("CPU sampled %d workers, want %d", run.CPU.WorkersSeen, want)
				}
				if c.Kind == "process" && c.Workload == "cpu.primes" && !(run.CPU.WorkersS > 0) {
					t.Errorf("the worker counting primes used no CPU time: %+v", run.CPU)
				}
			}
		})
	}
	if err := s.procs.leftovers(); err != nil {
		t.Error(err)
	}
}

// TestMeasureIdle runs bench/k6/idle.js with its two pools of 16 through
// the real k6: all 16 worker processes are found and read.
func TestMeasureIdle(t *testing.T) { //nolint:paralleltest // 32 workers and a CPU-time window: alone
	s := realSession(t)
	idle, err := s.measureIdle(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if idle.Workers != idleWorkers || len(idle.WorkerTicks) != idleWorkers || len(idle.WorkerMem) != idleWorkers {
		t.Errorf("%d workers, %d tick counts, %d memory readings; want %d each", idle.Workers, len(idle.WorkerTicks), len(idle.WorkerMem), idleWorkers)
	}
	for i, m := range append(idle.WorkerMem, idle.K6Mem) {
		if m.RSS == 0 || m.PSS == 0 {
			t.Errorf("memory reading %d: %+v", i, m)
		}
	}
	if err := s.procs.leftovers(); err != nil {
		t.Error(err)
	}
}
