package main

import (
	"math"
	"strconv"

	"github.com/k6-concurrency/xk6-concurrency/internal/report"
)

// view reads the results as the goals and the page need them.
type view struct {
	*Results
	cells map[string]*CellRuns // by Cell.ID
}

func newView(r *Results) *view {
	v := &view{Results: r, cells: map[string]*CellRuns{}}
	for i := range r.Cells {
		v.cells[r.Cells[i].Cell.ID()] = &r.Cells[i]
	}
	return v
}

// W is the number of CPUs of the session.
func (v *view) W() int { return v.Info.W }

// Top is the largest size of the sweep.
func (v *view) Top() int { return v.Info.Workers[len(v.Info.Workers)-1] }

// Beyond is the sizes of the sweep above W.
func (v *view) Beyond() []int {
	var out []int
	for _, w := range v.Info.Workers {
		if w > v.W() {
			out = append(out, w)
		}
	}
	return out
}

// runs returns the runs of a cell, none when it did not run.
func (v *view) runs(series, workload string, workers int) []Run {
	if c := v.cells[Cell{Series: series, Workload: workload, Workers: workers}.ID()]; c != nil {
		return c.Runs
	}
	return nil
}

// values returns one figure of every run of a cell.
func (v *view) values(series, workload string, workers int, of func(Run) float64) []float64 {
	runs := v.runs(series, workload, workers)
	out := make([]float64, 0, len(runs))
	for _, r := range runs {
		out = append(out, of(r))
	}
	return out
}

func perS(r Run) float64           { return r.PerS }
func usPerRoundTrip(r Run) float64 { return r.USPerRoundTrip }

// Rate is the median calls/s of a cell; NaN when it did not run.
func (v *view) Rate(series, workload string, workers int) float64 {
	return median(v.values(series, workload, workers, perS))
}

// speedup is a series' median calls/s at n workers over its own at 1.
func (v *view) speedup(series, workload string, n int) float64 {
	return ratio(v.Rate(series, workload, n), v.Rate(series, workload, 1))
}

// CPUCost is the median CPU time per call of a k6 cell, in µs: in k6, in
// its workers and in all, and the share of the machine's CPU time other
// processes used meanwhile (percent).
type CPUCost struct{ K6, Workers, Total, Others float64 }

// CPU returns the CPU cost of a k6 cell, nil when it has no CPU samples.
func (v *view) CPU(series, workload string, workers int) *CPUCost {
	var k6, wk, total, others []float64
	for _, r := range v.runs(series, workload, workers) {
		c := r.CPU
		if c == nil || c.CallsInWindow <= 0 || c.MachineS <= 0 {
			continue
		}
		k, w := 1e6*c.K6S/c.CallsInWindow, 1e6*c.WorkersS/c.CallsInWindow
		k6, wk, total = append(k6, k), append(wk, w), append(total, k+w)
		others = append(others, 100*math.Max(c.MachineBusyS-c.K6S-c.WorkersS, 0)/c.MachineS)
	}
	if len(k6) == 0 {
		return nil
	}
	return &CPUCost{median(k6), median(wk), median(total), median(others)}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b // NaN when either is
}

// fmtRate writes calls/s as the extension's report does, with thousands separators.
func fmtRate(r float64) string { return report.FormatRate(r) }

// fmtSpread writes a median with its range: "5,534 (5,468–5,556)".
func fmtSpread(values []float64, f func(float64) string) string {
	s := spread(values)
	switch s.N {
	case 0:
		return "-"
	case 1:
		return f(s.Med)
	}
	return f(s.Med) + " (" + f(s.Min) + "–" + f(s.Max) + ")"
}

// fmtUS writes a time in µs with three significant figures.
func fmtUS(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "-"
	case x >= 10000:
		return strconv.FormatFloat(x/1000, 'f', 1, 64) + " ms"
	case x >= 1000:
		return strconv.FormatFloat(x/1000, 'f', 2, 64) + " ms"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64) + " µs"
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64) + " µs"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + " µs"
}

// fx writes a ratio: "2.12x".
func fx(x float64, decimals int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', decimals, 64) + "x"
}

// mib writes bytes in MiB.
func mib(b float64) string {
	if !(b > 0) {
		return "-"
	}
	return strconv.FormatFloat(b/(1<<20), 'f', 1, 64) + " MiB"
}
