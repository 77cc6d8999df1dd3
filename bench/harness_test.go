package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseGoBench(t *testing.T) {
	t.Parallel()
	got, err := parseGoBench(strings.NewReader(fixtureGoOutput))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(got))
	for _, b := range got {
		names = append(names, b.Name)
	}
	want := []string{
		"BenchmarkThreadNoop/workers=1/submitters=1", "BenchmarkProcessNoop/inflight=1", "BenchmarkProcessNoop/inflight=16",
		"BenchmarkThreadPrimes", "BenchmarkRawPrimes", "BenchmarkFrameRoundTrip", "BenchmarkRawPipeEcho", "BenchmarkPrimes20000",
		"BenchmarkJSWorkerMemory",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("benchmarks %q, want %q (in order, without the GOMAXPROCS suffix)", names, want)
	}
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
			if v := g.find(tc.name).Values[tc.unit]; !slices.Equal(v, tc.want) {
				t.Errorf("%v, want %v", v, tc.want)
			}
		})
	}
}

func TestParseGoBenchSyntaxError(t *testing.T) {
	t.Parallel()
	if _, err := parseGoBench(strings.NewReader("BenchmarkX-2 \t 10 \t 5 ns/op 7\n")); err == nil {
		t.Error("a malformed benchmark line was read without an error")
	}
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
			if s.Med != tc.med || s.Min != tc.min || s.Max != tc.max || s.N != len(tc.values) {
				t.Errorf("%+v, want median %v, range %v–%v", s, tc.med, tc.min, tc.max)
			}
		})
	}
	if s := spread(nil); s.N != 0 || s.Med == s.Med {
		t.Errorf("empty sample: %+v, want NaN", s)
	}
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
		// Python rate 2 x 2 x sizes, round trip 2; JS exports on both pools {1, 2, W}, JS nothing 1; map 3 k6 and 3 Python at 2 workers
		{"2 CPUs", false, 2, []int{1, 2, 4, 8, 16}, 4*5 + 2*5 + 4 + 2 + 4*5 + 2 + 2*2 + 1 + 6},
		{"quick", true, 2, []int{1, 2, 16}, 4*3 + 2*3 + 4 + 2 + 4*3 + 2 + 2*2 + 1 + 6},
		{"6 CPUs", false, 6, []int{1, 2, 4, 6, 8, 16}, 4*6 + 2*6 + 4 + 3 + 4*6 + 2 + 2*3 + 1 + 6},
		{"64 CPUs", false, 64, []int{1, 2, 4, 8, 16}, 4*5 + 2*5 + 4 + 3 + 4*5 + 2 + 2*3 + 1 + 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sizes := workerSizes(tc.quick, tc.ncpu)
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("sizes %v, want %v", sizes, tc.sizes)
			}
			cells := makeCells(families(), sizes, tc.ncpu)
			if len(cells) != tc.cells {
				t.Errorf("%d cells, want %d", len(cells), tc.cells)
			}
			ids := map[string]bool{}
			for _, c := range cells {
				if ids[c.ID()] {
					t.Errorf("two cells are %s", c.ID())
				}
				ids[c.ID()] = true
				if c.Tool == toolK6 && c.Mode != modeMap && c.VUs < c.Workers { // a map cell's 1 VU submits ahead
					t.Errorf("%s: %d VUs for %d workers", c.ID(), c.VUs, c.Workers)
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
	if !slices.Equal(a, again) {
		t.Error("the same seed and repetition gave two orders")
	}
	if slices.Equal(a, rep2) || slices.Equal(a, seed2) || slices.Equal(a, ids(cells)) {
		t.Error("another repetition or seed kept the order")
	}
	sorted := slices.Sorted(slices.Values(a))
	if !slices.Equal(sorted, slices.Sorted(slices.Values(ids(cells)))) {
		t.Error("the shuffled order is not a permutation of the cells")
	}
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
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.reps != tc.reps || cfg.cell != tc.cell || cfg.seed != tc.seed || cfg.results != "/repo/bench/results.json" {
				t.Errorf("%+v, want reps %d, cell %s, seed %d", cfg, tc.reps, tc.cell, tc.seed)
			}
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
			if tc.got != tc.want {
				t.Errorf("%q, want %q", tc.got, tc.want)
			}
		})
	}
}
