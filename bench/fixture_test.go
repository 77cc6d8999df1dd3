package main

import (
	"strings"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// around makes three runs of a figure: 0.9x, x and 1.1x, so that the median
// is x and the range is 0.9x–1.1x.
func around(x float64) []float64 { return []float64{0.9 * x, x, 1.1 * x} }

// fixtureRates are the calls/s of the fixture's cells, by series, workload
// and worker count.
func fixtureRates() map[string]map[string]map[int]float64 {
	return map[string]map[string]map[int]float64{
		"thread":         {"cpu.primes": {1: 1000, 2: 2000, 4: 1960}, "io.sleep": {1: 100, 2: 200, 4: 400}, "noop": {1: 100000, 2: 150000}},
		"process":        {"cpu.primes": {1: 1000, 2: 1500, 4: 1500}, "io.sleep": {1: 100, 2: 190, 4: 350}, "noop": {1: 10000, 2: 16000}},
		"process_tuned":  {"cpu.primes": {1: 1200, 2: 1800, 4: 1700}},
		"js":             {"cpu.primes": {1: 40, 2: 80, 4: 80}},
		"empty":          {"empty": {1: 250000, 2: 280000}},
		"py_thread":      {"cpu.primes": {1: 100, 2: 90, 4: 95}, "io.sleep": {1: 100, 2: 200, 4: 400}, "noop": {1: 25000}},
		"py_process":     {"cpu.primes": {1: 100, 2: 190, 4: 180}, "io.sleep": {1: 100, 2: 200, 4: 400}, "noop": {1: 5000}},
		"thread_js":      {"primes": {1: 50, 2: 98}, "nothing": {1: 80000}},
		"thread_js_gogc": {"primes": {1: 52, 2: 101}},
		"process_js":     {"primes": {1: 50, 2: 80}},
		// issue 14's map cells (cells_map.go)
		seriesMapThread:   {"noop": {2: 400000}},
		seriesMapProcess:  {"noop": {2: 380000}},
		seriesMapProcess1: {"noop": {2: 90000}},
		seriesPyMapPPE:    {"noop": {2: 2000000}},
		seriesPyMapPPE1:   {"noop": {2: 9000}},
		seriesPyMapMP:     {"noop": {2: 6000000}},
	}
}

// fixture is a small session with fixed figures: W = 2, workers 1, 2, 4,
// three runs per cell. 8 of its 29 goals are missed: cpu_scale_process,
// io_process, thread_k6_1, py_process_go, py_process_k6, py_thread_k6,
// sp_process_pyprocs and js_scale_process.
func fixture() *Results {
	workers := []int{1, 2, 4}
	r := &Results{Info: Info{
		CPUModel: "Test CPU", CPUs: 2, RAMGiB: 4, OS: "Linux", Kernel: "6.0", Go: "go version go1.26 linux/amd64",
		K6: "k6 v2.2.0", Python: "3.11.7", Date: "2026-01-02 03:04 UTC", Commit: "abc1234", Command: "go run ./bench -reps 3 -cell 5s -seed 1",
		Build: "make k6", Reps: 3, CellS: 5, Seed: 1, Workers: workers, W: 2, SessionS: 600,
		Load: &Load{Start: "0.10 0.20 0.30", End: "1.00 1.10 1.20", BusyPct: 60, OwnPct: 50, OthersPct: 10},
	}}
	rates := fixtureRates()
	for _, c := range makeCells(families(), workers, 2) {
		cr := CellRuns{Cell: c}
		for i, x := range around(rates[c.Series][c.Workload][c.Workers]) {
			run := Run{Rep: i + 1, PerS: x}
			if c.Mode == "roundtrip" {
				run.USPerRoundTrip = 1e6 / x
			}
			if c.Tool == toolK6 && c.Workload == "cpu.primes" && c.Workers == 2 && (c.Series == "thread" || c.Series == "process") {
				// 400 µs of k6 per call (thread) or 100 µs of k6 and 600 µs of workers (process)
				calls := x * 4
				run.CPU = &CPUWindow{WindowS: 4, K6S: 400e-6 * calls, MachineBusyS: 400e-6*calls + 0.4, MachineS: 8, CallsInWindow: calls}
				if c.Series == "process" {
					run.CPU.K6S, run.CPU.WorkersS = 100e-6*calls, 600e-6*calls
					run.CPU.MachineBusyS = 700e-6*calls + 0.4
				}
			}
			cr.Runs = append(cr.Runs, run)
		}
		r.Cells = append(r.Cells, cr)
	}
	var err error
	r.Go.Command = "go " + shellJoin(goBenchArgs(3))
	if r.Go.Benchmarks, err = parseGoBench(strings.NewReader(fixtureGoOutput)); err != nil {
		panic(err)
	}
	mem := k6test.Memory{RSS: 32 << 20, Anon: 6 << 20, PSS: 8 << 20}
	r.Idle = Idle{
		Pools: true, Workers: 16, WindowS: 5, SettleS: 1, ClkTck: 100, K6Ticks: 4, WorkerTicks: make([]uint64, 16),
		K6Mem: k6test.Memory{RSS: 40 << 20, Anon: 11 << 20, PSS: 16 << 20},
	}
	for range 16 {
		r.Idle.WorkerMem = append(r.Idle.WorkerMem, mem)
	}
	// JS workers: 60 MiB with 1, plus 512 KiB (400 KiB anonymous) per added
	// worker, 0.9x, 1x and 1.1x of it
	for i, x := range around(1) {
		r.JSMemory = append(r.JSMemory, JSMemory{
			Rep: i + 1, Base: 1, Grown: 65,
			Before: k6test.Memory{RSS: 60 << 20, Anon: 30 << 20},
			After:  k6test.Memory{RSS: 60<<20 + uint64(x*64*512*1024), Anon: 30<<20 + uint64(x*64*400*1024)},
		})
	}
	r.IdleBaseline = Idle{Workers: 0, WindowS: 5, SettleS: 1, ClkTck: 100, K6Ticks: 4, K6Mem: k6test.Memory{RSS: 39 << 20, Anon: 10 << 20, PSS: 39 << 20}}
	return r
}

// fixtureGoOutput is go test -bench output of three runs (-count=3), as
// go test writes it: package headers, GOMAXPROCS suffixes, custom units.
const fixtureGoOutput = `goos: linux
goarch: amd64
pkg: github.com/k6-concurrency/xk6-concurrency/pool
cpu: Test CPU
BenchmarkThreadNoop/workers=1/submitters=1-2         	  700000	      1500 ns/op	    666667 tasks/s	     416 B/op	       4 allocs/op
BenchmarkThreadNoop/workers=1/submitters=1-2         	  700000	      1600 ns/op	    625000 tasks/s	     416 B/op	       4 allocs/op
BenchmarkThreadNoop/workers=1/submitters=1-2         	  700000	      1700 ns/op	    588235 tasks/s	     416 B/op	       4 allocs/op
BenchmarkProcessNoop/inflight=1-2                    	   15000	     80000 ns/op	     12500 tasks/s	     304 B/op	       2 allocs/op
BenchmarkProcessNoop/inflight=1-2                    	   15000	     72000 ns/op	     13889 tasks/s	     304 B/op	       2 allocs/op
BenchmarkProcessNoop/inflight=1-2                    	   15000	     88000 ns/op	     11364 tasks/s	     304 B/op	       2 allocs/op
BenchmarkProcessNoop/inflight=16-2                   	   70000	     14286 ns/op	     70000 tasks/s	     304 B/op	       2 allocs/op
BenchmarkProcessNoop/inflight=16-2                   	   70000	     14000 ns/op	     71429 tasks/s	     304 B/op	       2 allocs/op
BenchmarkProcessNoop/inflight=16-2                   	   70000	     15000 ns/op	     66667 tasks/s	     304 B/op	       2 allocs/op
BenchmarkThreadPrimes-2                              	    6000	    200000 ns/op	      5000 tasks/s	     456 B/op	       6 allocs/op
BenchmarkThreadPrimes-2                              	    6000	    190000 ns/op	      5263 tasks/s	     456 B/op	       6 allocs/op
BenchmarkThreadPrimes-2                              	    6000	    210000 ns/op	      4762 tasks/s	     456 B/op	       6 allocs/op
BenchmarkRawPrimes-2                                 	    6000	    196078 ns/op	      5100 tasks/s	       8 B/op	       1 allocs/op
BenchmarkRawPrimes-2                                 	    6000	    190000 ns/op	      5263 tasks/s	       8 B/op	       1 allocs/op
BenchmarkRawPrimes-2                                 	    6000	    200000 ns/op	      5000 tasks/s	       8 B/op	       1 allocs/op
PASS
ok  	github.com/k6-concurrency/xk6-concurrency/pool	30.1s
pkg: github.com/k6-concurrency/xk6-concurrency/ipc
BenchmarkFrameRoundTrip-2                            	 2000000	       500 ns/op	       0 B/op	       0 allocs/op
BenchmarkFrameRoundTrip-2                            	 2000000	       510 ns/op	       0 B/op	       0 allocs/op
BenchmarkFrameRoundTrip-2                            	 2000000	       490 ns/op	       0 B/op	       0 allocs/op
BenchmarkRawPipeEcho-2                               	   30000	     50000 ns/op	       0 B/op	       0 allocs/op
BenchmarkRawPipeEcho-2                               	   30000	     45000 ns/op	       0 B/op	       0 allocs/op
BenchmarkRawPipeEcho-2                               	   30000	     55000 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/k6-concurrency/xk6-concurrency/ipc	12.0s
pkg: github.com/k6-concurrency/xk6-concurrency/workload
BenchmarkPrimes20000-2                               	    3000	    350000 ns/op	       8 B/op	       1 allocs/op
BenchmarkPrimes20000-2                               	    3000	    340000 ns/op	       8 B/op	       1 allocs/op
BenchmarkPrimes20000-2                               	    3000	    360000 ns/op	       8 B/op	       1 allocs/op
PASS
ok  	github.com/k6-concurrency/xk6-concurrency/workload	3.2s
pkg: github.com/k6-concurrency/xk6-concurrency/jsworker
BenchmarkJSWorkerMemory-2                            	      30	  30000000 ns/op	     73728 bytes/worker	 4000000 B/op	   50000 allocs/op
BenchmarkJSWorkerMemory-2                            	      30	  31000000 ns/op	     75776 bytes/worker	 4000000 B/op	   50000 allocs/op
BenchmarkJSWorkerMemory-2                            	      30	  29000000 ns/op	     71680 bytes/worker	 4000000 B/op	   50000 allocs/op
PASS
ok  	github.com/k6-concurrency/xk6-concurrency/jsworker	4.1s
`
