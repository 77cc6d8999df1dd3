package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// The script's own JavaScript as tasks (the `module` option, issue 13): a
// CPU-bound JS export on both pools at 1, 2 and W workers, a JS export that
// does nothing beside the Go noop, and the memory one more JS worker takes.
// The same prime count called directly in k6 VUs is the "js" series of
// cells.go, which cell.js imports from the same file as the pool's module.

// The names the JS cells, tables and goals share.
const (
	seriesThreadJS = "thread_js"
	// seriesThreadJSGOGC is seriesThreadJS with k6 at GOGC=jsGOGC: the
	// same cells with the Go collector running a quarter as often.
	seriesThreadJSGOGC = "thread_js_gogc"
	jsGOGC             = 400
	seriesProcessJS    = "process_js"
	// jsModule is cell.js's MODULE: bench/k6/tasks.js.
	jsModule = "./tasks.js"
	// wlJSPrimes and wlJSNothing are exports of bench/k6/tasks.js.
	wlJSPrimes  = "primes"
	wlJSNothing = "nothing"
)

// jsFamilies are the JS cells: 2 VUs per worker calling runSync, as the Go
// workloads' pool cells.
func jsFamilies() []family {
	return []family{
		{
			tool: toolK6, series: seriesThreadJS, mode: "pool", kind: "thread", module: jsModule,
			workloads: []string{wlJSPrimes}, sizes: cpus, vusPerWorker: 2,
		},
		{
			tool: toolK6, series: seriesThreadJSGOGC, mode: "pool", kind: "thread", module: jsModule,
			workloads: []string{wlJSPrimes}, sizes: pair, vusPerWorker: 2, gogc: jsGOGC,
		},
		{
			tool: toolK6, series: seriesProcessJS, mode: "pool", kind: "process", module: jsModule,
			workloads: []string{wlJSPrimes}, sizes: cpus, vusPerWorker: 2,
		},
		{
			tool: toolK6, series: seriesThreadJS, mode: "pool", kind: "thread", module: jsModule,
			workloads: []string{wlJSNothing}, sizes: one, vusPerWorker: 1,
		},
	}
}

// jsGoBench is the Go benchmark of the live heap one JS worker's runtime
// holds once it loaded the module (examples/js/tasks.js) and ran a task.
const jsGoBench = "BenchmarkJSWorkerMemory"

// The JS memory measurement (bench/k6/jsmem.js): a thread pool of
// jsMemBase workers that each loaded the module, grown to jsMemGrown: 64
// more runtimes make a growth the Go heap's free room cannot hide.
const (
	jsMemBase   = 1
	jsMemGrown  = 65
	jsMemSettle = time.Second
	jsMemHold   = 3 * time.Second
)

// Markers of jsmem.js and of bench/k6/tasks.js on k6's stderr.
const (
	jsMemBaseMark  = "BENCH_JSMEM_BASE"
	jsMemGrownMark = "BENCH_JSMEM_GROWN"
	jsRuntimeMark  = "BENCH_JS_RUNTIME" // tasks.js's top level: once per worker runtime
)

// JSMemory is one repetition of the JS memory measurement: k6's memory with
// Base JS workers, each with its runtime and the module, and with Grown.
type JSMemory struct {
	Rep    int           `json:"rep"`
	Base   int           `json:"base"`
	Grown  int           `json:"grown"`
	Before k6test.Memory `json:"before"`
	After  k6test.Memory `json:"after"`
}

// perWorker is the growth of k6's VmRSS and RssAnon per added JS worker.
func (m JSMemory) perWorker() (rss, anon float64) {
	n := float64(m.Grown - m.Base)
	return (float64(m.After.RSS) - float64(m.Before.RSS)) / n, (float64(m.After.Anon) - float64(m.Before.Anon)) / n
}

// measureJSMemory runs bench/k6/jsmem.js and reads k6's memory from /proc
// once the first jsMemBase workers loaded the module, and again once
// jsMemGrown have; each loads it once (tasks.js's marker says so).
func (s *session) measureJSMemory(ctx context.Context, rep int) (JSMemory, error) {
	hold := strconv.FormatFloat(jsMemHold.Seconds(), 'f', 0, 64)
	p, err := s.procs.start(ctx, true, []string{jsMemBaseMark, jsMemGrownMark}, s.k6,
		"run", "--quiet", "--no-usage-report",
		"-e", "BASE="+strconv.Itoa(jsMemBase), "-e", "GROWN="+strconv.Itoa(jsMemGrown), "-e", "HOLD="+hold,
		filepath.Join(s.procs.root, "bench", "k6", "jsmem.js"))
	if err != nil {
		return JSMemory{}, err
	}
	defer p.kill()
	m := JSMemory{Rep: rep, Base: jsMemBase, Grown: jsMemGrown}
	for _, step := range []struct {
		mark    string
		workers int
		into    *k6test.Memory
	}{{jsMemBaseMark, jsMemBase, &m.Before}, {jsMemGrownMark, jsMemGrown, &m.After}} {
		select {
		case <-p.mark(step.mark):
		case <-p.done:
			return JSMemory{}, fmt.Errorf("js memory: k6 ended before %s:\n%s", step.mark, p.tail())
		case <-time.After(2 * time.Minute):
			return JSMemory{}, fmt.Errorf("js memory: no %s from k6:\n%s", step.mark, p.tail())
		}
		if n := p.count(jsRuntimeMark); n != step.workers {
			return JSMemory{}, fmt.Errorf("js memory: %d runtimes loaded the module for %d workers:\n%s",
				n, step.workers, p.tail())
		}
		time.Sleep(jsMemSettle)
		if *step.into, err = k6test.MemoryOf(p.pid()); err != nil {
			return JSMemory{}, fmt.Errorf("js memory: %w", err)
		}
	}
	if err := p.wait(time.Minute); err != nil {
		return JSMemory{}, fmt.Errorf("js memory: %w", err)
	}
	return m, nil
}

// count is how many lines of stderr so far contain sub.
func (p *proc) count(sub string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.stderr {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// runJSMemory runs the JS memory measurement reps times.
func (s *session) runJSMemory(ctx context.Context, reps int) ([]JSMemory, error) {
	out := make([]JSMemory, 0, reps)
	for rep := 1; rep <= reps; rep++ {
		m, err := s.measureJSMemory(ctx, rep)
		if err != nil {
			return nil, err
		}
		rss, anon := m.perWorker()
		logf("[js memory rep %d/%d] %d -> %d JS workers: VmRSS %s -> %s, %s per worker (RssAnon %s)", rep, reps,
			m.Base, m.Grown, mib(float64(m.Before.RSS)), mib(float64(m.After.RSS)), kib(rss), kib(anon))
		out = append(out, m)
	}
	return out, nil
}

// kib writes bytes in KiB; a negative growth stays negative.
func kib(b float64) string {
	if math.IsNaN(b) {
		return "-"
	}
	return strconv.FormatFloat(b/1024, 'f', 0, 64) + " KiB"
}

// The figures of the JS goals.

// jsVersusVUs is the JS prime count through a thread pool of W workers
// against the same function called directly in W k6 VUs.
func jsVersusVUs(v *view) (float64, string) {
	pool, direct := v.Rate(seriesThreadJS, wlJSPrimes, v.W()), v.Rate("js", wlPrimes, v.W())
	x := ratio(pool, direct)
	return x, fmt.Sprintf("%s vs %s calls/s = %s", fmtRate(pool), fmtRate(direct), fx(x, 2))
}

// jsOverheadUS is a JS task's µs per call through the thread pool (1 worker,
// 1 VU, runSync) and the Go noop's, and the difference.
func (v *view) jsOverheadUS() (js, goNoop, extra float64) {
	js, goNoop = 1e6/v.Rate(seriesThreadJS, wlJSNothing, 1), 1e6/v.Rate("thread", "noop", 1)
	return js, goNoop, js - goNoop
}

func jsOverhead(v *view) (float64, string) {
	js, goNoop, extra := v.jsOverheadUS()
	return js, fmt.Sprintf("%s vs %s per task: %s more", fmtUS(js), fmtUS(goNoop), fmtUS(extra))
}

// jsMemoryPerWorker is the median growth of k6's VmRSS and RssAnon per
// added JS worker; NaN without measurements.
func (v *view) jsMemoryPerWorker() (rss, anon Spread) {
	rs, as := make([]float64, 0, len(v.JSMemory)), make([]float64, 0, len(v.JSMemory))
	for _, m := range v.JSMemory {
		r, a := m.perWorker()
		rs, as = append(rs, r), append(as, a)
	}
	return spread(rs), spread(as)
}

// jsMemory is the live heap of one JS worker (the Go benchmark), and the
// growth of k6's VmRSS per added worker (jsmem.js).
func jsMemory(v *view) (float64, string) {
	heap := v.Go.median(jsGoBench, "bytes/worker")
	rss, anon := v.jsMemoryPerWorker()
	if rss.N == 0 && math.IsNaN(heap) {
		return math.NaN(), "-"
	}
	grown, value := "-", heap
	if rss.N > 0 {
		grown = fmt.Sprintf("%s per added worker (%s of it RssAnon), %d to %d workers", kib(rss.Med), kib(anon.Med),
			v.JSMemory[0].Base, v.JSMemory[0].Grown)
		if math.IsNaN(value) {
			value = rss.Med
		}
	}
	return value, fmt.Sprintf("live heap %s per worker (%s); k6's VmRSS grew %s", kib(heap), jsGoBench, grown)
}

// The tables of BENCHMARKS.md's JavaScript section.

// jsSizes are the sizes of the JS pool cells.
func (v *view) jsSizes() []int { return cpus.of(v.Info.Workers, v.W()) }

// jsRateTable is the JS prime count's calls/s on both pools and directly in
// k6 VUs, and the speed-ups over 1 worker (1 VU).
func (v *view) jsRateTable() *table {
	sizes := v.jsSizes()
	head := make([]string, 0, 2+len(sizes))
	head = append(head, "series")
	for _, n := range sizes {
		head = append(head, fmt.Sprintf("%d %s", n, plural(n, "worker", "workers")))
	}
	t := newTable(append(head, fmt.Sprintf("%d vs 1", v.W()))...)
	for _, r := range []struct{ label, series, workload string }{
		{"thread pool, export primes", seriesThreadJS, wlJSPrimes},
		{fmt.Sprintf("thread pool, export primes, k6 at GOGC=%d", jsGOGC), seriesThreadJSGOGC, wlJSPrimes},
		{"process pool, export primes", seriesProcessJS, wlJSPrimes},
		{seriesName("js") + ", countPrimes", "js", wlPrimes},
	} {
		row := make([]string, 0, len(head)+1)
		row = append(row, r.label)
		measured := false
		for _, n := range sizes {
			vals := v.values(r.series, r.workload, n, perS)
			measured = measured || len(vals) > 0
			row = append(row, fmtSpread(vals, fmtRate))
		}
		if measured { // a session run with -only may leave a series out
			t.add(append(row, fx(v.speedup(r.series, r.workload, v.W()), 2))...)
		}
	}
	return t
}

// jsOverheadTable is a JS task that does nothing beside the Go noop.
func (v *view) jsOverheadTable() *table {
	t := newTable("cell (thread pool, 1 worker, 1 VU, runSync)", "calls/s", "µs per call (median)")
	for _, r := range []struct{ label, series, workload string }{
		{"Go workload noop", "thread", "noop"},
		{"JS export nothing (bench/k6/tasks.js)", seriesThreadJS, wlJSNothing},
	} {
		vals := v.values(r.series, r.workload, 1, perS)
		t.add(r.label, fmtSpread(vals, fmtRate), fmtUS(1e6/median(vals)))
	}
	return t
}

// jsMemoryTable is every repetition of the JS memory measurement.
func (v *view) jsMemoryTable() *table {
	t := newTable("rep", "VmRSS", "RssAnon", "VmRSS per added worker", "RssAnon per added worker")
	for _, m := range v.JSMemory {
		rss, anon := m.perWorker()
		t.add(strconv.Itoa(m.Rep),
			fmt.Sprintf("%s → %s", mib(float64(m.Before.RSS)), mib(float64(m.After.RSS))),
			fmt.Sprintf("%s → %s", mib(float64(m.Before.Anon)), mib(float64(m.After.Anon))), kib(rss), kib(anon))
	}
	return t
}
