package main

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseGoBench(t *testing.T) {
	t.Parallel()
	got, err := parseGoBench(strings.NewReader(fixtureGoOutput))
	require.NoError(t, err)
	names := make([]string, 0, len(got))
	for _, b := range got {
		names = append(names, b.Name)
	}
	want := []string{
		"BenchmarkThreadNoop/workers=1/submitters=1", "BenchmarkProcessNoop/inflight=1", "BenchmarkProcessNoop/inflight=16",
		"BenchmarkThreadPrimes", "BenchmarkRawPrimes", "BenchmarkFrameRoundTrip", "BenchmarkRawPipeEcho", "BenchmarkPrimes20000",
		"BenchmarkJSWorkerMemory",
	}
	require.Equal(t, want, names, "benchmarks (in order, without the GOMAXPROCS suffix)")
	for _, tc := range []struct {
		name, unit string
		want       []float64
	}{
		{"BenchmarkProcessNoop/inflight=1", "ns/op", []float64{80000, 72000, 88000}},
		{"BenchmarkProcessNoop/inflight=1", "tasks/s", []float64{12500, 13889, 11364}},
		{"BenchmarkRawPipeEcho", "B/op", []float64{0, 0, 0}},
		{"BenchmarkPrimes20000", "allocs/op", []float64{1, 1, 1}},
	} {
		t.Run(tc.name+" "+tc.unit, func(t *testing.T) {
			t.Parallel()
			g := GoBench{Benchmarks: got}
			assert.Equal(t, tc.want, g.find(tc.name).Values[tc.unit])
		})
	}
}

func TestParseGoBenchSyntaxError(t *testing.T) {
	t.Parallel()
	_, err := parseGoBench(strings.NewReader("BenchmarkX-2 \t 10 \t 5 ns/op 7\n"))
	assert.Error(t, err, "a malformed benchmark line was read without an error")
}

func TestSpread(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		values        []float64
		med, min, max float64
	}{
		{"one", []float64{5}, 5, 5, 5},
		{"odd", []float64{3, 1, 2}, 2, 1, 3},
		{"even", []float64{4, 1, 3, 2}, 2.5, 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := spread(tc.values)
			assert.InDelta(t, tc.med, s.Med, 0, "%+v: median", s)
			assert.InDelta(t, tc.min, s.Min, 0, "%+v: minimum", s)
			assert.InDelta(t, tc.max, s.Max, 0, "%+v: maximum", s)
			assert.Equal(t, len(tc.values), s.N, "%+v: N", s)
		})
	}
	s := spread(nil)
	assert.Zero(t, s.N, "empty sample: %+v", s)
	assert.True(t, math.IsNaN(s.Med), "empty sample: %+v, want NaN", s)
}

func TestMakeCells(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		quick bool
		ncpu  int
		sizes []int
		cells int
	}{
		// thread and process: 2 workloads x sizes; tuned, js: sizes; noop 2 x 2; empty {1, 2, W};
		// Python rate 2 x 2 x sizes, round trip 2; JS exports on both pools {1, 2, W}, the thread pool's at
		// GOGC=400 {1, 2}, JS nothing 1; map 3 k6 and 3 Python at 2 workers
		{"2 CPUs", false, 2, []int{1, 2, 4, 8, 16}, 4*5 + 2*5 + 4 + 2 + 4*5 + 2 + 2*2 + 2 + 1 + 6},
		{"quick", true, 2, []int{1, 2, 16}, 4*3 + 2*3 + 4 + 2 + 4*3 + 2 + 2*2 + 2 + 1 + 6},
		{"6 CPUs", false, 6, []int{1, 2, 4, 6, 8, 16}, 4*6 + 2*6 + 4 + 3 + 4*6 + 2 + 2*3 + 2 + 1 + 6},
		{"64 CPUs", false, 64, []int{1, 2, 4, 8, 16}, 4*5 + 2*5 + 4 + 3 + 4*5 + 2 + 2*3 + 2 + 1 + 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sizes := workerSizes(tc.quick, tc.ncpu)
			assert.Equal(t, tc.sizes, sizes, "sizes")
			cells := makeCells(families(), sizes, tc.ncpu)
			assert.Len(t, cells, tc.cells, "cells")
			ids := map[string]bool{}
			for _, c := range cells {
				assert.False(t, ids[c.ID()], "two cells are %s", c.ID())
				ids[c.ID()] = true
				if c.Tool == toolK6 && c.Mode != modeMap { // a map cell's 1 VU submits ahead
					assert.GreaterOrEqual(t, c.VUs, c.Workers, "%s: VUs for %d workers", c.ID(), c.Workers)
				}
			}
		})
	}
}

// TestOrder: a repetition's order is a permutation of the cells, the same
// for the same seed and repetition, another for another seed.
func TestOrder(t *testing.T) {
	t.Parallel()
	cells := makeCells(families(), []int{1, 2, 4, 8, 16}, 2)
	ids := func(cs []Cell) []string {
		out := make([]string, 0, len(cs))
		for _, c := range cs {
			out = append(out, c.ID())
		}
		return out
	}
	a, again, rep2, seed2 := ids(order(cells, 1, 1)), ids(order(cells, 1, 1)), ids(order(cells, 1, 2)), ids(order(cells, 2, 1))
	assert.Equal(t, a, again, "the same seed and repetition gave two orders")
	assert.NotEqual(t, a, rep2, "another repetition kept the order")
	assert.NotEqual(t, a, seed2, "another seed kept the order")
	assert.NotEqual(t, ids(cells), a, "the shuffle kept the cells' order")
	assert.ElementsMatch(t, ids(cells), a, "the shuffled order is not a permutation of the cells")
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		reps    int
		cell    time.Duration
		seed    int64
		wantErr string
	}{
		{name: "defaults", reps: 3, cell: 5 * time.Second, seed: 1},
		{name: "environment", env: map[string]string{"REPS": "5", "CELL": "10", "SEED": "7"}, reps: 5, cell: 10 * time.Second, seed: 7},
		{name: "flags over environment", args: []string{"-reps", "2", "-cell", "1.5s"}, env: map[string]string{"REPS": "5"}, reps: 2, cell: 1500 * time.Millisecond, seed: 1},
		{name: "quick", env: map[string]string{"QUICK": "1", "REPS": "5"}, reps: 1, cell: 2 * time.Second, seed: 1},
		{name: "quick with a cell length", args: []string{"-quick", "-cell", "1s"}, reps: 1, cell: time.Second, seed: 1},
		{name: "bad REPS", env: map[string]string{"REPS": "x"}, wantErr: "REPS must be a whole number"},
		{name: "bad CELL", env: map[string]string{"CELL": "-1"}, wantErr: "CELL must be a number of seconds > 0"},
		{name: "no repetition", args: []string{"-reps", "0"}, wantErr: "-reps must be >= 1"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected arguments: now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseFlags("/repo", tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.reps, cfg.reps, "%+v: reps", cfg)
			assert.Equal(t, tc.cell, cfg.cell, "%+v: cell", cfg)
			assert.Equal(t, tc.seed, cfg.seed, "%+v: seed", cfg)
			assert.Equal(t, "/repo/bench/results.json", cfg.results, "%+v: results", cfg)
		})
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	nan := spread(nil).Med
	for _, tc := range []struct{ name, got, want string }{
		{"µs, small", fmtUS(1.789), "1.79 µs"},
		{"µs, tens", fmtUS(36.24), "36.2 µs"},
		{"µs, hundreds", fmtUS(349.4), "349 µs"},
		{"µs, thousands", fmtUS(4984), "4.98 ms"},
		{"µs, tens of thousands", fmtUS(24512), "24.5 ms"},
		{"µs, missing", fmtUS(nan), "-"},
		{"ratio", fx(2.1234, 2), "2.12x"},
		{"ratio, missing", fx(nan, 2), "-"},
		{"spread of one", fmtSpread([]float64{5534}, fmtRate), "5,534"},
		{"spread", fmtSpread([]float64{5556, 5468, 5534}, fmtRate), "5,534 (5,468–5,556)"},
		{"spread of none", fmtSpread(nil, fmtRate), "-"},
		{"MiB", mib(31.7 * (1 << 20)), "31.7 MiB"},
		{"MiB, none", mib(0), "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.got)
		})
	}
}
