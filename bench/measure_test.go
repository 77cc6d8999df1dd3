package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// realSession is a session on the real k6 of the tests (k6test.Binary),
// with 2 s cells.
func realSession(t *testing.T) *session {
	t.Helper()
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	return &session{procs: &procs{root: root}, k6: k6test.Binary(t), tmp: t.TempDir(), cell: 3 * time.Second}
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
			require.NoError(t, err)
			assert.Positive(t, run.PerS, "%+v: no rate", run)
			if c.Mode == "roundtrip" {
				assert.Positive(t, run.USPerRoundTrip, "%+v: no round-trip time", run)
			}
			if c.Mode == "pool" {
				assert.NotZero(t, run.Tasks, "%+v: no tasks", run)
				assert.InDelta(t, run.Iterations, run.Tasks, 0, "%+v: tasks and iterations differ", run)
			}
			if c.Tool == toolK6 {
				require.NotNil(t, run.CPU, "%+v: no CPU sample", run)
				assert.Positive(t, run.CPU.WindowS, "CPU sample %+v", run.CPU)
				assert.Positive(t, run.CPU.MachineS, "CPU sample %+v", run.CPU)
				assert.Positive(t, run.CPU.CallsInWindow, "CPU sample %+v", run.CPU)
				assert.Equal(t, map[string]int{"process": c.Workers}[c.Kind], run.CPU.WorkersSeen, "the workers CPU sampled")
				if c.Kind == "process" && c.Workload == "cpu.primes" {
					assert.Positive(t, run.CPU.WorkersS, "the worker counting primes used no CPU time: %+v", run.CPU)
				}
			}
		})
	}
	assert.NoError(t, s.procs.leftovers())
}

// TestMeasureIdle runs bench/k6/idle.js with its two pools of 16 through
// the real k6: all 16 worker processes are found and read.
func TestMeasureIdle(t *testing.T) { //nolint:paralleltest // 32 workers and a CPU-time window: alone
	s := realSession(t)
	idle, err := s.measureIdle(context.Background(), true)
	require.NoError(t, err)
	assert.Equal(t, idleWorkers, idle.Workers, "workers")
	assert.Len(t, idle.WorkerTicks, idleWorkers, "tick counts")
	assert.Len(t, idle.WorkerMem, idleWorkers, "memory readings")
	for i, m := range append(idle.WorkerMem, idle.K6Mem) {
		assert.NotZero(t, m.RSS, "memory reading %d: %+v", i, m)
		assert.NotZero(t, m.PSS, "memory reading %d: %+v", i, m)
	}
	assert.NoError(t, s.procs.leftovers())
}
