package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestComparatorHolds(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	for _, tc := range []struct {
		name          string
		cmp           comparator
		value, target float64
		want          bool
	}{
		{"at least, above", atLeast, 2, 1.8, true},
		{"at least, equal", atLeast, 1.8, 1.8, true},
		{"at least, below", atLeast, 1.7, 1.8, false},
		{"at most, equal", atMost, 2, 2, true},
		{"at most, above", atMost, 2.1, 2, false},
		{"below, equal", below, 2, 2, false},
		{"below, below", below, 1.9, 2, true},
		{"above, equal", above, 1, 1, false},
		{"above, above", above, 1.01, 1, true},
		{"missing figure", atLeast, nan, 1, false},
		{"missing target", atMost, 1, nan, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.cmp.holds(tc.value, tc.target), "%v %s %v", tc.value, tc.cmp, tc.target)
		})
	}
}

// TestGoals checks every goal on the fixture: which are met, the figure it
// shows and the target as scaled by W or the largest size.
func TestGoals(t *testing.T) {
	t.Parallel()
	outcomes, err := check(newView(fixture()), goals)
	require.NoError(t, err)
	want := map[string]outcome{
		"cpu_scale_thread":     {Goal: "CPU-bound scaling, thread pool: 2 workers vs 1 (cpu.primes)", Figure: "2,000 vs 1,000 calls/s = 2.00x", Target: ">= 1.80x (0.9 x 2)", Met: true},
		"cpu_plateau_thread":   {Goal: "CPU-bound plateau, thread pool: 4 workers vs 2", Figure: "4: 0.98x", Target: "each >= 0.95x", Met: true},
		"cpu_scale_process":    {Goal: "CPU-bound scaling, process pool: 2 workers vs 1 (cpu.primes)", Figure: "1,500 vs 1,000 calls/s = 1.50x", Target: ">= 1.80x (0.9 x 2)"},
		"cpu_plateau_process":  {Goal: "CPU-bound plateau, process pool: 4 workers vs 2", Figure: "4: 1.00x", Target: "each >= 0.95x", Met: true},
		"io_thread":            {Goal: "I/O-bound scaling, thread pool: 4 workers vs 1 (io.sleep 10ms)", Figure: "400 vs 100 calls/s = 4.0x", Target: ">= 3.75x", Met: true},
		"io_process":           {Goal: "I/O-bound scaling, process pool: 4 workers vs 1 (io.sleep 10ms)", Figure: "350 vs 100 calls/s = 3.5x", Target: ">= 3.75x"},
		"thread_eff":           {Goal: "Thread pool efficiency: cpu.primes at 2 workers vs 2 raw goroutines (Go benchmarks)", Figure: "5,000 vs 5,100 tasks/s = 0.980x", Target: ">= 0.95x", Met: true},
		"thread_noop":          {Goal: "Thread pool overhead: noop round trip, 1 worker, 1 submitter (Go benchmark)", Figure: "1.60 µs", Target: "< 2 µs", Met: true},
		"thread_k6_1":          {Goal: "Thread pool through k6: noop tasks/s vs empty iterations/s, 1 VU", Figure: "100,000 vs 250,000 /s = 0.40x", Target: ">= 0.5x"},
		"thread_k6_2":          {Goal: "Thread pool through k6: noop tasks/s vs empty iterations/s, 2 VUs", Figure: "150,000 vs 280,000 /s = 0.54x", Target: ">= 0.5x", Met: true},
		"proc_pipe":            {Goal: "Process pool overhead: noop round trip vs raw pipe echo of the same payload (Go benchmarks)", Figure: "80.0 µs vs 50.0 µs = 1.60x", Target: "<= 2x", Met: true},
		"proc_pipeline":        {Goal: "Process pool pipelining: noop tasks/s, 16 in flight per worker vs 1", Figure: "70,000 vs 12,500 tasks/s = 5.6x", Target: ">= 5x", Met: true},
		"py_process_go":        {Goal: "Per-task overhead vs Python: process pool (Go benchmark) vs ProcessPoolExecutor no-op round trip", Figure: "200 µs / 80.0 µs = 2.5x", Target: ">= 10x lower"},
		"py_process_k6":        {Goal: "Per-task overhead vs Python: process pool through k6 (runSync, 1 VU) vs ProcessPoolExecutor", Figure: "200 µs / 100 µs = 2.0x", Target: ">= 10x lower"},
		"py_thread_go":         {Goal: "Per-task overhead vs Python: thread pool (Go benchmark) vs ThreadPoolExecutor no-op round trip", Figure: "40.0 µs / 1.60 µs = 25.0x", Target: ">= 10x lower", Met: true},
		"py_thread_k6":         {Goal: "Per-task overhead vs Python: thread pool through k6 (runSync, 1 VU) vs ThreadPoolExecutor", Figure: "40.0 µs / 10.0 µs = 4.0x", Target: ">= 10x lower"},
		"sp_thread_pythreads":  {Goal: "CPU-bound speed-up at 2 workers, thread pool vs Python threads", Figure: "2.00x vs 0.90x", Target: "beats (>)", Met: true},
		"sp_thread_pyprocs":    {Goal: "CPU-bound speed-up at 2 workers, thread pool vs Python processes", Figure: "2.00x vs 1.90x", Target: "matches or beats (>= 0.95x of it)", Met: true},
		"sp_process_pythreads": {Goal: "CPU-bound speed-up at 2 workers, process pool vs Python threads", Figure: "1.50x vs 0.90x", Target: "beats (>)", Met: true},
		"sp_process_pyprocs":   {Goal: "CPU-bound speed-up at 2 workers, process pool vs Python processes", Figure: "1.50x vs 1.90x", Target: "matches or beats (>= 0.95x of it)"},
		"idle_workers":         {Goal: "Idle pools cost no CPU: 16 idle worker processes over 5 s", Figure: "0 ticks (0.00 % of a CPU)", Target: "0 ticks (0 %)", Met: true},
		"idle_k6":              {Goal: "Idle pools cost no CPU: k6 with a 16-worker thread and process pool vs k6 without pools, 5 s", Figure: "4 vs 4 ticks (0.80 % vs 0.80 %)", Target: "no more than without pools (+1 tick of 10 ms tolerance)", Met: true},
		"map_process": {
			Goal:   "Fine-grained tasks: map of 100,000 noop, 2 workers, process pool (automatic chunkSize) vs thread pool",
			Figure: "380,000 vs 400,000 tasks/s = 0.95x (chunkSize 1: 90,000; Python: ProcessPoolExecutor.map 2,000,000 with chunksize 12500, 9,000 with 1; multiprocessing.Pool.map 6,000,000)",
			Target: ">= 0.9x", Met: true,
		},
		"rss":              {Goal: "Memory: RSS of a 16-worker process pool, per worker (VmRSS; RssAnon)", Figure: "512.0 MiB total, 32.0 MiB per worker (6.0 MiB of it anonymous); k6 40.0 MiB", Target: "stated", Met: true},
		"js_scale_thread":  {Goal: "JS export scaling, thread pool: 2 workers vs 1 (a prime count in JS)", Figure: "98.0 vs 50.0 calls/s = 1.96x", Target: ">= 1.80x (0.9 x 2)", Met: true},
		"js_scale_process": {Goal: "JS export scaling, process pool: 2 workers vs 1 (a prime count in JS)", Figure: "80.0 vs 50.0 calls/s = 1.60x", Target: ">= 1.80x (0.9 x 2)"},
		"js_vs_vus":        {Goal: "JS export through the thread pool (2 workers) vs the same function called directly in 2 k6 VUs", Figure: "98.0 vs 80.0 calls/s = 1.23x", Target: ">= 0.9x", Met: true},
		"js_overhead":      {Goal: "Per-task overhead of a JS export beside the Go noop (thread pool, 1 worker, runSync, 1 VU)", Figure: "12.5 µs vs 10.0 µs per task: 2.50 µs more", Target: "stated", Met: true},
		"js_memory":        {Goal: "Memory per JS worker (runtime and module): its live heap (Go benchmark), k6's VmRSS growth per added worker", Figure: "live heap 72 KiB per worker (BenchmarkJSWorkerMemory); k6's VmRSS grew 512 KiB per added worker (400 KiB of it RssAnon), 1 to 65 workers", Target: "stated", Met: true},
	}
	require.Len(t, outcomes, len(goals), "outcomes, one for each goal")
	require.Len(t, outcomes, len(want), "outcomes, one for each wanted")
	for i, o := range outcomes {
		t.Run(o.ID, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, goals[i].id, o.ID, "outcome %d, want the table's order", i)
			w := want[o.ID]
			w.ID = o.ID
			assert.Equal(t, w, o)
		})
	}
}

// TestGoalsNotApplying: with no size above W there is no plateau to check,
// and a goal whose figures are missing is not met.
func TestGoalsNotApplying(t *testing.T) {
	t.Parallel()
	r := fixture()
	r.Info.Workers = []int{1, 2}
	r.Go.Benchmarks = nil
	outcomes, err := check(newView(r), goals)
	require.NoError(t, err)
	got := map[string]outcome{}
	for _, o := range outcomes {
		got[o.ID] = o
	}
	for _, id := range []string{"cpu_plateau_thread", "cpu_plateau_process"} {
		assert.NotContains(t, got, id, "%s was checked without a size above W", id)
	}
	for _, id := range []string{"thread_eff", "thread_noop", "proc_pipe", "proc_pipeline", "py_thread_go", "py_process_go"} {
		o := got[id]
		assert.NotEmpty(t, o.ID, "%s without Go benchmarks: %+v, want checked", id, o)
		assert.False(t, o.Met, "%s without Go benchmarks: %+v, want not met", id, o)
	}
}

func TestMissesParagraph(t *testing.T) {
	t.Parallel()
	v := newView(fixture())
	outcomes, err := check(v, goals)
	require.NoError(t, err)
	text, err := missesParagraph(v, outcomes)
	require.NoError(t, err)
	for _, want := range []string{
		"8 of 29 goals were not met in this run.",
		"Other processes kept the machine's CPUs 10 % busy during this session (this benchmark: 50 %",
		// the process pool's explanation with its figures: tuned 1,800 at W, 1.50x its own 1 worker, 1.80x the default's
		"made 1,800 calls/s at 2 workers (1.50x its own 1 worker, 1.80x the default pool's 1 worker) against 1,500 calls/s (1.50x)",
		"CPU time per call at 2 workers (see CPU time per call): 700 µs through the process pool (100 µs in k6, 600 µs in the worker) against 400 µs through the thread pool",
		"make at most 2,857 and 5,000 calls/s.",
		"Process pool against ProcessPoolExecutor:",
		"Through k6, each task also pays",
		"No cause specific to the extension is known for: I/O-bound scaling, process pool: 4 workers vs 1 (io.sleep 10ms) (350 vs 100 calls/s = 3.5x); " +
			"JS export scaling, process pool: 2 workers vs 1 (a prime count in JS) (80.0 vs 50.0 calls/s = 1.60x).",
	} {
		assert.Contains(t, text, want, "what the paragraph lacks")
	}
	for _, absent := range []string{"raw pipe echo", "Thread pool round trip", "Idle cost"} {
		assert.NotContains(t, text, absent, "the paragraph explains a goal that was met")
	}
}

// TestMissesJSThread: a JS thread pool that scales less than 0.9 x W is
// explained with k6's own VUs and with the GOGC=400 series' figures.
func TestMissesJSThread(t *testing.T) {
	t.Parallel()
	r := fixture()
	for i, cr := range r.Cells {
		if cr.Cell.Series == seriesThreadJS && cr.Cell.Workload == wlJSPrimes && cr.Cell.Workers == 2 {
			for j := range cr.Runs {
				r.Cells[i].Runs[j].PerS = 85 // 1.70x the fixture's 50 at 1 worker
			}
		}
	}
	v := newView(r)
	outcomes, err := check(v, goals)
	require.NoError(t, err)
	text, err := missesParagraph(v, outcomes)
	require.NoError(t, err)
	assert.Contains(t, text, "JavaScript on the thread pool: k6's own VUs, counting the same primes with the same "+
		"function directly, scale 2.00x from 1 to 2")
	assert.Contains(t, text, "With k6 at GOGC=400 (the collector running a quarter as often; the GOGC row), the "+
		"thread pool scales 1.94x from 1 to 2 workers.")
	assert.Contains(t, text, "The process pool, one runtime and one collector per process, scales 1.60x.")
}
