package main

import (
	"fmt"
	"math"

	"github.com/k6-concurrency/xk6-concurrency/internal/report"
)

// chartPanel is one panel of bench/chart.svg: some series on one workload.
// The series of a panel are compared on one scale, so each panel holds
// figures of one magnitude: the pools through k6 on the left, k6's own
// JavaScript and Python's executors on the right.
type chartPanel struct {
	workload string
	series   []string
}

var chartPanels = []chartPanel{
	{"cpu.primes", []string{"thread", "process", "process_tuned"}},
	{"cpu.primes", []string{"js", "py_thread", "py_process"}},
	{"io.sleep", []string{"thread", "process"}},
	{"io.sleep", []string{"py_thread", "py_process"}},
}

// chartSeries are the series as the chart's legends name them (the
// report's names for the pool kinds: threads, processes).
var chartSeries = map[string]string{
	"thread": "thread", "process": "process", "process_tuned": "tuned processes",
	"js": "k6 JS", "py_thread": "Python threads", "py_process": "Python processes",
}

var workloadKinds = map[string]string{"cpu.primes": "cpu", "io.sleep": "io"}

// chart draws bench/chart.svg through the extension's report: each panel is
// handed over as the summary data the report reads (one
// concurrency_tasks{pool_kind,workers,workload} rate per cell, the median of
// its runs).
func (v *view) chart() string {
	var charts []report.Data
	for _, p := range chartPanels {
		d := report.Data{Metrics: map[string]report.Metric{}, Kinds: workloadKinds}
		for _, s := range p.series {
			for _, n := range v.Info.Workers {
				rate := v.Rate(s, p.workload, n)
				if math.IsNaN(rate) {
					continue
				}
				key := fmt.Sprintf("%s{%s:%s,%s:%d,%s:%s}", report.TaskMetric, report.DefaultSeries, chartSeries[s],
					report.DefaultSize, n, report.WorkloadTag, p.workload)
				d.Metrics[key] = report.Metric{Type: "counter", Values: map[string]float64{"rate": rate}}
			}
		}
		charts = append(charts, d)
	}
	i := v.Info
	foot := fmt.Sprintf("Median of %d %s of %g s per bar; %s, %d CPUs; %s. Left: the pools through k6; right: k6 JS and Python on the same work. Figures in BENCHMARKS.md.",
		i.Reps, plural(i.Reps, "run", "runs"), i.CellS, i.CPUModel, i.CPUs, i.Date)
	return report.ChartSVG("xk6-concurrency: function calls per second against workers", foot, report.Options{}, charts...)
}
