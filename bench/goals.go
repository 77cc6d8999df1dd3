package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
)

// comparator is how a goal's figure is held against its target.
type comparator string

const (
	atLeast comparator = ">="
	atMost  comparator = "<="
	below   comparator = "<"
	above   comparator = ">"
)

// holds reports whether value meets target; a missing figure (NaN) never does.
func (c comparator) holds(value, target float64) bool {
	if math.IsNaN(value) || math.IsNaN(target) {
		return false
	}
	switch c {
	case atLeast:
		return value >= target
	case atMost:
		return value <= target
	case below:
		return value < target
	case above:
		return value > target
	}
	panic("unknown comparator " + string(c))
}

// per says what a goal's target is a multiple of.
type per int

const (
	perOne per = iota // the target as written
	perW              // target × W, the number of CPUs
	perTop            // target × the largest size of the sweep
)

// goal is one row of the goals table. Name and targetText are templates
// over goalData; figure measures the value compared with the target and
// says how (the table's "figure" column).
type goal struct {
	id         string
	name       string
	figure     func(v *view) (value float64, text string)
	cmp        comparator
	target     float64
	per        per
	targetText string
	// applies, when set, says whether the session can check the goal (a
	// plateau beyond W needs sizes above W).
	applies func(v *view) bool
}

// goalData is what a goal's templates see: the view and the goal's target.
type goalData struct {
	*view
	T float64
}

// The target texts that several goals share.
const (
	timesLower   = ">= {{fx .T 0}} lower"          // Python's overhead
	timesW       = ">= {{fx .T 2}} (0.9 x {{.W}})" // CPU-bound scaling
	atLeastRatio = ">= {{fx .T 1}}"                // a ratio: ">= 0.9x"
)

// goals are the project's targets, in the order of the table.
//
//nolint:gochecknoglobals // a constant table, read by the tests too; its entries hold functions.
var goals = append([]goal{
	{
		id: "cpu_scale_thread", name: "CPU-bound scaling, thread pool: {{.W}} workers vs 1 (cpu.primes)",
		figure: scaling("thread", wlPrimes, 2), cmp: atLeast, target: 0.9, per: perW,
		targetText: timesW,
	},
	{
		id: "cpu_plateau_thread", name: "CPU-bound plateau, thread pool: {{join .Beyond}} workers vs {{.W}}",
		figure: plateau("thread"), cmp: atLeast, target: 0.95, targetText: "each >= {{fx .T 2}}", applies: beyondW,
	},
	{
		id: "cpu_scale_process", name: "CPU-bound scaling, process pool: {{.W}} workers vs 1 (cpu.primes)",
		figure: scaling("process", wlPrimes, 2), cmp: atLeast, target: 0.9, per: perW,
		targetText: timesW,
	},
	{
		id: "cpu_plateau_process", name: "CPU-bound plateau, process pool: {{join .Beyond}} workers vs {{.W}}",
		figure: plateau("process"), cmp: atLeast, target: 0.95, targetText: "each >= {{fx .T 2}}", applies: beyondW,
	},
	{
		id: "io_thread", name: "I/O-bound scaling, thread pool: {{.Top}} workers vs 1 (io.sleep 10ms)",
		figure: scaling("thread", "io.sleep", 1), cmp: atLeast, target: 15.0 / 16, per: perTop, targetText: ">= {{g .T}}x",
	},
	{
		id: "io_process", name: "I/O-bound scaling, process pool: {{.Top}} workers vs 1 (io.sleep 10ms)",
		figure: scaling("process", "io.sleep", 1), cmp: atLeast, target: 15.0 / 16, per: perTop, targetText: ">= {{g .T}}x",
	},
	{
		id:     "thread_eff",
		name:   "Thread pool efficiency: cpu.primes at {{.W}} workers vs {{.W}} raw goroutines (Go benchmarks)",
		figure: goVersus("BenchmarkThreadPrimes", "BenchmarkRawPrimes", "tasks/s", 3), cmp: atLeast, target: 0.95,
		targetText: ">= {{fx .T 2}}",
	},
	{
		id: "thread_noop", name: "Thread pool overhead: noop round trip, 1 worker, 1 submitter (Go benchmark)",
		figure: goMicros("BenchmarkThreadNoop/workers=1/submitters=1"), cmp: below, target: 2, targetText: "< {{.T}} µs",
	},
	{
		id: "thread_k6_1", name: "Thread pool through k6: noop tasks/s vs empty iterations/s, 1 VU",
		figure: throughK6(1), cmp: atLeast, target: 0.5, targetText: atLeastRatio,
	},
	{
		id: "thread_k6_2", name: "Thread pool through k6: noop tasks/s vs empty iterations/s, 2 VUs",
		figure: throughK6(2), cmp: atLeast, target: 0.5, targetText: atLeastRatio,
	},
	{
		id: "proc_pipe", name: "Process pool overhead: noop round trip vs raw pipe echo of the same payload (Go benchmarks)",
		figure: pipeVersus, cmp: atMost, target: 2, targetText: "<= {{fx .T 0}}",
	},
	{
		id: "proc_pipeline", name: "Process pool pipelining: noop tasks/s, 16 in flight per worker vs 1",
		figure: goVersus("BenchmarkProcessNoop/inflight=16", "BenchmarkProcessNoop/inflight=1", "tasks/s", 1), cmp: atLeast,
		target: 5, targetText: ">= {{g .T}}x",
	},
	{
		id:     "py_process_go",
		name:   "Per-task overhead vs Python: process pool (Go benchmark) vs ProcessPoolExecutor no-op round trip",
		figure: pythonOverGo(seriesPyProcess, "BenchmarkProcessNoop/inflight=1"), cmp: atLeast, target: 10,
		targetText: timesLower,
	},
	{
		id:     "py_process_k6",
		name:   "Per-task overhead vs Python: process pool through k6 (runSync, 1 VU) vs ProcessPoolExecutor",
		figure: pythonOverK6(seriesPyProcess, "process"), cmp: atLeast, target: 10, targetText: timesLower,
	},
	{
		id:     "py_thread_go",
		name:   "Per-task overhead vs Python: thread pool (Go benchmark) vs ThreadPoolExecutor no-op round trip",
		figure: pythonOverGo("py_thread", "BenchmarkThreadNoop/workers=1/submitters=1"), cmp: atLeast, target: 10,
		targetText: timesLower,
	},
	{
		id: "py_thread_k6", name: "Per-task overhead vs Python: thread pool through k6 (runSync, 1 VU) vs ThreadPoolExecutor",
		figure: pythonOverK6("py_thread", "thread"), cmp: atLeast, target: 10, targetText: timesLower,
	},
	{
		id: "sp_thread_pythreads", name: "CPU-bound speed-up at {{.W}} workers, thread pool vs Python threads",
		figure: speedupVersus("thread", "py_thread"), cmp: above, target: 1, targetText: "beats (>)",
	},
	{
		id: "sp_thread_pyprocs", name: "CPU-bound speed-up at {{.W}} workers, thread pool vs Python processes",
		figure: speedupVersus("thread", seriesPyProcess), cmp: atLeast, target: 0.95,
		targetText: "matches or beats (>= {{.T}}x of it)",
	},
	{
		id: "sp_process_pythreads", name: "CPU-bound speed-up at {{.W}} workers, process pool vs Python threads",
		figure: speedupVersus("process", "py_thread"), cmp: above, target: 1, targetText: "beats (>)",
	},
	{
		id: "sp_process_pyprocs", name: "CPU-bound speed-up at {{.W}} workers, process pool vs Python processes",
		figure: speedupVersus("process", seriesPyProcess), cmp: atLeast, target: 0.95,
		targetText: "matches or beats (>= {{.T}}x of it)",
	},
	{
		id:     "idle_workers",
		name:   "Idle pools cost no CPU: {{.Idle.Workers}} idle worker processes over {{printf \"%.0f\" .Idle.WindowS}} s",
		figure: idleWorkerTicks, cmp: atMost, target: 0, targetText: "{{.T}} ticks (0 %)",
	},
	{
		id: "idle_k6",
		name: "Idle pools cost no CPU: k6 with a 16-worker thread and process pool vs k6 without pools, " +
			`{{printf "%.0f" .Idle.WindowS}} s`,
		figure: idleK6Ticks, cmp: atMost, target: 1,
		targetText: "no more than without pools (+{{.T}} tick of {{tickMs .Idle}} ms tolerance)",
	},
	{
		id: "rss", name: "Memory: RSS of a 16-worker process pool, per worker (VmRSS; RssAnon)",
		figure: workerRSS, cmp: above, target: 0, targetText: "stated",
	},
	// The script's own JavaScript as tasks (issue 13; jscells.go).
	{
		id: "js_scale_thread", name: "JS export scaling, thread pool: {{.W}} workers vs 1 (a prime count in JS)",
		figure: scaling(seriesThreadJS, wlJSPrimes, 2), cmp: atLeast, target: 0.9, per: perW,
		targetText: timesW,
	},
	{
		id: "js_scale_process", name: "JS export scaling, process pool: {{.W}} workers vs 1 (a prime count in JS)",
		figure: scaling(seriesProcessJS, wlJSPrimes, 2), cmp: atLeast, target: 0.9, per: perW,
		targetText: timesW,
	},
	{
		id:     "js_vs_vus",
		name:   "JS export through the thread pool ({{.W}} workers) vs the same function called directly in {{.W}} k6 VUs",
		figure: jsVersusVUs, cmp: atLeast, target: 0.9, targetText: atLeastRatio,
	},
	{
		id: "js_overhead", name: "Per-task overhead of a JS export beside the Go noop (thread pool, 1 worker, runSync, 1 VU)",
		figure: jsOverhead, cmp: above, target: 0, targetText: "stated",
	},
	{
		id:     "js_memory",
		name:   "Memory per JS worker (runtime and module): its live heap (Go benchmark), k6's VmRSS growth per added worker",
		figure: jsMemory, cmp: above, target: 0, targetText: "stated",
	},
}, mapGoals()...)

// outcome is a goal checked against a session's results.
type outcome struct {
	ID, Goal, Figure, Target string
	Met                      bool
}

// check checks every goal that applies to the session.
func check(v *view, gs []goal) ([]outcome, error) {
	var out []outcome
	for _, g := range gs {
		if g.applies != nil && !g.applies(v) {
			continue
		}
		o, err := g.check(v)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (g goal) check(v *view) (outcome, error) {
	t := g.target
	switch g.per {
	case perW:
		t *= float64(v.W())
	case perTop:
		t *= float64(v.Top())
	case perOne:
		// The target as the table states it.
	}
	data := goalData{view: v, T: t}
	name, err := execute(g.id+" name", g.name, data)
	if err != nil {
		return outcome{}, err
	}
	target, err := execute(g.id+" target", g.targetText, data)
	if err != nil {
		return outcome{}, err
	}
	value, figure := g.figure(v)
	return outcome{ID: g.id, Goal: name, Figure: figure, Target: target, Met: g.cmp.holds(value, t)}, nil
}

// funcs are the functions the templates (goals, BENCHMARKS.md) call.
func funcs() template.FuncMap {
	return template.FuncMap{
		"fx":    fx,
		"g":     func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) },
		"rate":  fmtRate,
		"us":    fmtUS,
		"mib":   mib,
		"join":  joinInts,
		"ratio": ratio,
		// perCPU is the calls/s n CPUs make at a cost of µs CPU time per call.
		"perCPU": func(n int, us float64) float64 { return float64(n) * 1e6 / us },
		"tickMs": func(i Idle) string { return strconv.Itoa(1000 / max(i.ClkTck, 1)) },
	}
}

func execute(name, text string, data any) (string, error) {
	t, err := template.New(name).Funcs(funcs()).Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func beyondW(v *view) bool { return len(v.Beyond()) > 0 }

// The figures of the goals.

// scaling is a series' calls/s at n workers over 1: n is W for cpu.primes,
// the largest size for io.sleep.
func scaling(series, workload string, decimals int) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		n := v.W()
		if workload == "io.sleep" {
			n = v.Top()
		}
		a, b := v.Rate(series, workload, n), v.Rate(series, workload, 1)
		x := ratio(a, b)
		return x, fmt.Sprintf("%s vs %s calls/s = %s", fmtRate(a), fmtRate(b), fx(x, decimals))
	}
}

// plateau is the smallest of a series' cpu.primes calls/s above W over its own at W.
func plateau(series string) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		low := math.Inf(1)
		beyond := v.Beyond()
		parts := make([]string, 0, len(beyond))
		for _, n := range beyond {
			x := ratio(v.Rate(series, wlPrimes, n), v.Rate(series, wlPrimes, v.W()))
			low = math.Min(low, x) // a missing figure (NaN) makes the goal missed
			parts = append(parts, fmt.Sprintf("%d: %s", n, fx(x, 2)))
		}
		return low, strings.Join(parts, ", ")
	}
}

func goVersus(a, b, unit string, decimals int) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		x, y := v.Go.median(a, unit), v.Go.median(b, unit)
		return ratio(x, y), fmt.Sprintf("%s vs %s %s = %s", fmtRate(x), fmtRate(y), unit, fx(ratio(x, y), decimals))
	}
}

func goMicros(name string) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		us := v.Go.median(name, "ns/op") / 1000
		return us, fmtUS(us)
	}
}

func throughK6(vus int) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		noop, empty := v.Rate("thread", "noop", vus), v.Rate("empty", "empty", vus)
		x := ratio(noop, empty)
		return x, fmt.Sprintf("%s vs %s /s = %s", fmtRate(noop), fmtRate(empty), fx(x, 2))
	}
}

func pipeVersus(v *view) (float64, string) {
	pool := v.Go.median("BenchmarkProcessNoop/inflight=1", "ns/op") / 1000
	pipe := v.Go.median("BenchmarkRawPipeEcho", "ns/op") / 1000
	x := ratio(pool, pipe)
	return x, fmt.Sprintf("%s vs %s = %s", fmtUS(pool), fmtUS(pipe), fx(x, 2))
}

// pythonRoundTrip is the median µs of a Python executor's no-op round trip.
func (v *view) pythonRoundTrip(series string) float64 {
	return median(v.values(series, "noop", 1, usPerRoundTrip))
}

func pythonOverGo(series, bench string) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		py, ours := v.pythonRoundTrip(series), v.Go.median(bench, "ns/op")/1000
		x := ratio(py, ours)
		return x, fmt.Sprintf("%s / %s = %s", fmtUS(py), fmtUS(ours), fx(x, 1))
	}
}

func pythonOverK6(series, kind string) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		py, ours := v.pythonRoundTrip(series), 1e6/v.Rate(kind, "noop", 1)
		x := ratio(py, ours)
		return x, fmt.Sprintf("%s / %s = %s", fmtUS(py), fmtUS(ours), fx(x, 1))
	}
}

func speedupVersus(series, python string) func(v *view) (float64, string) {
	return func(v *view) (float64, string) {
		ours, theirs := v.speedup(series, wlPrimes, v.W()), v.speedup(python, wlPrimes, v.W())
		return ratio(ours, theirs), fmt.Sprintf("%s vs %s", fx(ours, 2), fx(theirs, 2))
	}
}

func idleWorkerTicks(v *view) (float64, string) {
	ticks := sum(v.Idle.WorkerTicks)
	if v.Idle.ClkTck == 0 || v.Idle.WindowS == 0 {
		return math.NaN(), "-"
	}
	return float64(ticks), fmt.Sprintf("%d ticks (%.2f %% of a CPU)", ticks, cpuPct(ticks, v.Idle))
}

func idleK6Ticks(v *view) (float64, string) {
	with, without := v.Idle, v.IdleBaseline
	if with.ClkTck == 0 || without.ClkTck == 0 {
		return math.NaN(), "-"
	}
	return float64(with.K6Ticks) - float64(without.K6Ticks), fmt.Sprintf("%d vs %d ticks (%.2f %% vs %.2f %%)",
		with.K6Ticks, without.K6Ticks, cpuPct(with.K6Ticks, with), cpuPct(without.K6Ticks, without))
}

func workerRSS(v *view) (float64, string) {
	var rss, anon float64
	n := 0
	for _, m := range v.Idle.WorkerMem {
		if m.RSS > 0 {
			rss, anon, n = rss+float64(m.RSS), anon+float64(m.Anon), n+1
		}
	}
	if n == 0 {
		return 0, "-"
	}
	return float64(n), fmt.Sprintf("%s total, %s per worker (%s of it anonymous); k6 %s",
		mib(rss), mib(rss/float64(n)), mib(anon/float64(n)), mib(float64(v.Idle.K6Mem.RSS)))
}

func sum(v []uint64) uint64 {
	var s uint64
	for _, x := range v {
		s += x
	}
	return s
}

// cpuPct is ticks over an idle window as a percentage of one CPU.
func cpuPct(ticks uint64, i Idle) float64 {
	return 100 * float64(ticks) / float64(i.ClkTck) / i.WindowS
}
