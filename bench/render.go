package main

import (
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"

	"github.com/k6-concurrency/xk6-concurrency/internal/report"
)

//go:embed BENCHMARKS.md.tmpl
var pageTemplate string

// seriesName is a series as the tables name it.
func seriesName(s string) string {
	return map[string]string{
		"thread":           "thread pool",
		"process":          "process pool",
		seriesTuned:        "process pool, tuned (concurrency 2, GOMAXPROCS=1)",
		"js":               "k6 JS, no pool (1 VU per worker)",
		seriesThreadJS:     "thread pool, JS export",
		seriesThreadJSGOGC: "thread pool, JS export, k6 at GOGC=400",
		seriesProcessJS:    "process pool, JS export",
		"py_thread":        "Python ThreadPoolExecutor",
		seriesPyProcess:    "Python ProcessPoolExecutor (fork)",
	}[s]
}

// cpuSeries are the series of the cpu.primes calls/s tables, in order.
func cpuSeries() []string {
	return []string{"thread", "process", seriesTuned, "js", "py_thread", seriesPyProcess}
}

// ioSeries are the series of the io.sleep calls/s tables, in order.
func ioSeries() []string { return []string{"thread", "process", "py_thread", seriesPyProcess} }

// table is a markdown table.
type table struct {
	Head, Align []string
	Rows        [][]string
}

func newTable(head ...string) *table {
	t := &table{Head: head}
	for i := range head {
		t.Align = append(t.Align, map[bool]string{true: "---", false: "---:"}[i == 0])
	}
	return t
}

func (t *table) add(cells ...string) { t.Rows = append(t.Rows, cells) }

// page is what BENCHMARKS.md.tmpl renders.
type page struct {
	*view
	ChartHref                                     string
	Goals                                         []outcome
	Misses                                        string
	CPURates, CPUSpeedups, IORates, IOSpeedups    *table
	Overhead, CPUTime, GoBench, Python, IdleTable *table
	JSRates, JSOverhead, JSMemory                 *table
	Primes20000, ThreadNoopUS, ProcessNoopUS      float64
	// The JS memory measurement's sizes and settling time (s), as run.
	JSMemBase, JSMemGrown int
	JSMemSettle           float64
	JSHeap                string // BenchmarkJSWorkerMemory's bytes/worker, in KiB; "" when it did not run
}

// render returns BENCHMARKS.md, the chart and the goals' outcomes.
func render(r *Results, chartHref string) (markdown, svg string, outcomes []outcome, err error) {
	v := newView(r)
	if outcomes, err = check(v, goals); err != nil {
		return "", "", nil, err
	}
	misses, err := missesParagraph(v, outcomes)
	if err != nil {
		return "", "", nil, err
	}
	p := page{
		view: v, ChartHref: chartHref, Goals: outcomes, Misses: misses,
		Primes20000:   r.Go.median("BenchmarkPrimes20000", "ns/op") / 1000,
		ThreadNoopUS:  r.Go.median("BenchmarkThreadNoop/workers=1/submitters=1", "ns/op") / 1000,
		ProcessNoopUS: r.Go.median("BenchmarkProcessNoop/inflight=1", "ns/op") / 1000,
	}
	p.CPURates, p.CPUSpeedups = v.rateTables(wlPrimes, cpuSeries())
	p.IORates, p.IOSpeedups = v.rateTables("io.sleep", ioSeries())
	p.Overhead, p.CPUTime, p.GoBench = v.overheadTable(), v.cpuTable(), v.goTable()
	p.Python, p.IdleTable = v.pythonTable(), v.idleTable()
	p.JSRates, p.JSOverhead, p.JSMemory = v.jsRateTable(), v.jsOverheadTable(), v.jsMemoryTable()
	p.JSMemBase, p.JSMemGrown, p.JSMemSettle = jsMemBase, jsMemGrown, jsMemSettle.Seconds()
	if heap := r.Go.find(jsGoBench); heap != nil {
		p.JSHeap = fmtSpread(heap.Values["bytes/worker"], kib)
	}

	fm := template.FuncMap{
		"div": func(a, b float64) float64 { return a / b }, "mul": func(a, b int) int { return a * b },
		"sub": func(a, b int) int { return a - b },
	}
	t, err := template.New("BENCHMARKS.md").Funcs(funcs()).Funcs(fm).Parse(pageTemplate)
	if err != nil {
		return "", "", nil, err
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		return "", "", nil, err
	}
	return b.String(), v.chart(), outcomes, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// rateTables are the calls/s and the speed-up tables of a workload.
func (v *view) rateTables(workload string, series []string) (rates, speedups *table) {
	head := make([]string, 0, 1+len(v.Info.Workers))
	short := make([]string, 0, 1+len(v.Info.Workers))
	head, short = append(head, "series"), append(short, "series")
	for _, n := range v.Info.Workers {
		head = append(head, fmt.Sprintf("%d %s", n, plural(n, "worker", "workers")))
		short = append(short, strconv.Itoa(n))
	}
	rates, speedups = newTable(head...), newTable(short...)
	for _, s := range series {
		row := make([]string, 0, 1+len(v.Info.Workers))
		sp := make([]string, 0, 1+len(v.Info.Workers))
		row, sp, ran := append(row, seriesName(s)), append(sp, seriesName(s)), false
		for _, n := range v.Info.Workers {
			vals := v.values(s, workload, n, perS)
			ran = ran || len(vals) > 0
			row = append(row, fmtSpread(vals, fmtRate))
			sp = append(sp, fx(v.speedup(s, workload, n), 2))
		}
		if ran {
			rates.add(row...)
			speedups.add(sp...)
		}
	}
	return rates, speedups
}

func (v *view) overheadTable() *table {
	t := newTable("cell", "VUs", "calls/s", "µs per call (median)")
	for _, c := range []struct{ label, series, workload string }{
		{"thread pool, noop", "thread", "noop"},
		{"process pool, noop", "process", "noop"},
		{"k6 empty iteration, no pool", "empty", "empty"},
	} {
		for _, cr := range v.Cells {
			if cr.Cell.Series != c.series || cr.Cell.Workload != c.workload {
				continue
			}
			vals := v.values(c.series, c.workload, cr.Cell.Workers, perS)
			t.add(c.label, strconv.Itoa(cr.Cell.VUs), fmtSpread(vals, fmtRate), fmtUS(1e6/median(vals)))
		}
	}
	return t
}

func (v *view) cpuTable() *table {
	t := newTable("cell", "workers / VUs", "calls/s", "k6 µs/call", "workers µs/call", "total µs/call", "others")
	t.Align[1] = "---"
	type row struct{ label, series, workload string }
	rows := []row{
		{seriesName("thread") + ", cpu.primes", "thread", wlPrimes},
		{seriesName("process") + ", cpu.primes", "process", wlPrimes},
		{seriesName(seriesTuned) + ", cpu.primes", seriesTuned, wlPrimes},
		{seriesName("js") + ", primes in JS", "js", wlPrimes},
		{"thread pool, noop", "thread", "noop"},
		{"process pool, noop", "process", "noop"},
		{"k6 empty iteration", "empty", "empty"},
	}
	for _, r := range rows {
		for _, cr := range v.Cells {
			c := cr.Cell
			cost := v.CPU(r.series, r.workload, c.Workers)
			if c.Series != r.series || c.Workload != r.workload || cost == nil {
				continue
			}
			sizes, workers := fmt.Sprintf("%d / %d", c.Workers, c.VUs), "-"
			if c.Mode != "pool" {
				sizes = fmt.Sprintf("- / %d", c.VUs)
			}
			if c.Kind == "process" {
				workers = fmtUS(cost.Workers)
			}
			t.add(r.label, sizes, fmtRate(v.Rate(c.Series, c.Workload, c.Workers)), fmtUS(cost.K6), workers, fmtUS(cost.Total),
				fmt.Sprintf("%.0f %%", cost.Others))
		}
	}
	return t
}

func (v *view) goTable() *table {
	t := newTable("benchmark", "ns/op", "tasks/s", "B/op", "allocs/op")
	ns := func(x float64) string {
		if x >= 100 {
			return report.FormatRate(x)
		}
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	whole := func(x float64) string {
		if math.IsNaN(x) {
			return "-"
		}
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	for _, b := range v.Go.Benchmarks {
		t.add(b.Name, fmtSpread(b.Values["ns/op"], ns), fmtSpread(b.Values["tasks/s"], fmtRate),
			whole(median(b.Values["B/op"])), whole(median(b.Values["allocs/op"])))
	}
	return t
}

func (v *view) pythonTable() *table {
	t := newTable("executor", "no-op round trip", "per second")
	for _, s := range []string{"py_thread", seriesPyProcess} {
		label := strings.TrimPrefix(seriesName(s), "Python ")
		t.add(label, fmtSpread(v.values(s, "noop", 1, usPerRoundTrip), fmtUS),
			fmtSpread(v.values(s, "noop", 1, perS), fmtRate))
	}
	return t
}

func (v *view) idleTable() *table {
	t := newTable("process", "CPU ticks", "CPU", "VmRSS", "RssAnon", "PSS")
	idle, base := v.Idle, v.IdleBaseline
	pct := func(ticks uint64, i Idle) string { return fmt.Sprintf("%.2f %%", cpuPct(ticks, i)) }
	t.add("k6 with the two pools", strconv.FormatUint(idle.K6Ticks, 10), pct(idle.K6Ticks, idle),
		mib(float64(idle.K6Mem.RSS)), mib(float64(idle.K6Mem.Anon)), mib(float64(idle.K6Mem.PSS)))
	if n := len(idle.WorkerMem); n > 0 {
		rss, anon, pss := make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
		for _, m := range idle.WorkerMem {
			rss, anon, pss = append(rss, float64(m.RSS)), append(anon, float64(m.Anon)), append(pss, float64(m.PSS))
		}
		ticks := sum(idle.WorkerTicks)
		total := floatSum
		mean := func(x []float64) float64 { return floatSum(x) / float64(n) }
		r := spread(rss)
		t.add(fmt.Sprintf("%d worker processes, total", idle.Workers), strconv.FormatUint(ticks, 10), pct(ticks, idle),
			mib(total(rss)), mib(total(anon)), mib(total(pss)))
		t.add("per worker (mean; VmRSS min–max)", fmt.Sprintf("%.2f", float64(ticks)/float64(n)), "",
			fmt.Sprintf("%s (%s–%s)", mib(mean(rss)), mib(r.Min), mib(r.Max)), mib(mean(anon)), mib(mean(pss)))
	}
	t.add("k6 without pools (baseline)", strconv.FormatUint(base.K6Ticks, 10), pct(base.K6Ticks, base),
		mib(float64(base.K6Mem.RSS)), mib(float64(base.K6Mem.Anon)), mib(float64(base.K6Mem.PSS)))
	return t
}

func floatSum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}
