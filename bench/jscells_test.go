package main

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
			require.NoError(t, err)
			assert.Positive(t, run.PerS, "%+v: no rate", run)
			assert.NotZero(t, run.Tasks, "%+v: no tasks", run)
			assert.InDelta(t, run.Iterations, run.Tasks, 0, "%+v: tasks and iterations differ", run)
			require.NotNil(t, run.CPU, "%+v: no CPU sample", run)
			assert.Equal(t, map[string]int{"process": c.Workers}[c.Kind], run.CPU.WorkersSeen, "the workers CPU sampled")
		})
	}
	assert.NoError(t, s.procs.leftovers())
}

// TestMeasureJSMemory runs bench/k6/jsmem.js through the real k6: each of
// the 1, then 65 workers loaded the module once (measureJSMemory checks the
// count of the module's top-level lines), and k6's memory was read twice.
func TestMeasureJSMemory(t *testing.T) { //nolint:paralleltest // 65 JS runtimes and a memory reading: alone
	s := realSession(t)
	m, err := s.measureJSMemory(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, jsMemBase, m.Base, "%+v", m)
	assert.Equal(t, jsMemGrown, m.Grown, "%+v", m)
	assert.NotZero(t, m.Before.RSS, "%+v", m)
	assert.NotZero(t, m.After.RSS, "%+v", m)
	assert.NotZero(t, m.After.Anon, "%+v", m)
	assert.NoError(t, s.procs.leftovers())
}

// TestOnly: -only (or ONLY) picks the steps and cells a session runs, and
// shows in the command line BENCHMARKS.md gives; a bad expression is an error.
func TestOnly(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags("/repo", []string{"-only", `_js/|js-memory`}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	var ran []string
	for _, c := range makeCells(families(), []int{1, 2, 4}, 2) {
		if cfg.runs(c.ID()) {
			ran = append(ran, c.ID())
		}
	}
	want := []string{"thread_js/primes/1", "thread_js/primes/2", "process_js/primes/1", "process_js/primes/2", "thread_js/nothing/1"}
	assert.Equal(t, want, ran, "cells")
	for step, runs := range map[string]bool{stepGo: false, stepIdle: false, stepJSMemory: true} {
		assert.Equal(t, runs, cfg.runs(step), "step %s runs", step)
	}
	assert.Equal(t, "go run ./bench -reps 3 -cell 5s -seed 1 -only '_js/|js-memory'", command(cfg), "command")
	all, err := parseFlags("/repo", nil, func(k string) string { return map[string]string{}[k] }, io.Discard)
	if assert.NoError(t, err, "without -only") {
		assert.True(t, all.runs(stepGo), "without -only everything runs: %s", stepGo)
		assert.True(t, all.runs("thread/noop/1"), "without -only everything runs: thread/noop/1")
		assert.Equal(t, "go run ./bench -reps 3 -cell 5s -seed 1", command(all), "without -only: command")
	}
	env, err := parseFlags("/repo", nil, func(k string) string { return map[string]string{"ONLY": "idle"}[k] }, io.Discard)
	if assert.NoError(t, err, "ONLY=idle") {
		assert.True(t, env.runs(stepIdle), "ONLY=idle: %s runs", stepIdle)
		assert.False(t, env.runs(stepGo), "ONLY=idle: %s runs", stepGo)
	}
	_, err = parseFlags("/repo", []string{"-only", "("}, func(string) string { return "" }, io.Discard)
	assert.ErrorContains(t, err, "-only: error parsing regexp", "a bad -only")
}
