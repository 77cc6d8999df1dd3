package main

import (
	"math"

	"golang.org/x/perf/benchmath"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// Results is everything a session measured: bench/results.json, from which
// BENCHMARKS.md and bench/chart.svg are rendered (-report-only renders them
// again without measuring).
type Results struct {
	Info         Info       `json:"info"`
	Go           GoBench    `json:"go"`
	Cells        []CellRuns `json:"cells"`
	Idle         Idle       `json:"idle"`
	IdleBaseline Idle       `json:"idle_baseline"`
	JSMemory     []JSMemory `json:"js_memory,omitempty"` // jscells.go
}

// Info describes the machine, the versions and the session.
type Info struct {
	CPUModel string   `json:"cpu_model"`
	CPUs     int      `json:"cpus"`
	RAMGiB   float64  `json:"ram_gib"`
	OS       string   `json:"os"`
	Kernel   string   `json:"kernel"`
	Go       string   `json:"go"`
	K6       string   `json:"k6"`
	Python   string   `json:"python"`
	Date     string   `json:"date"`
	Commit   string   `json:"commit"`
	Dirty    []string `json:"dirty,omitempty"` // files changed outside bench/ and BENCHMARKS.md
	Command  string   `json:"command"`
	Build    string   `json:"build"`
	Reps     int      `json:"reps"`
	CellS    float64  `json:"cell_s"`
	Quick    bool     `json:"quick"`
	Seed     int64    `json:"seed"`
	Workers  []int    `json:"workers"`
	// W is the number of CPUs: the size at which CPU-bound work should scale.
	W        int     `json:"w"`
	SessionS float64 `json:"session_s"`
	Load     *Load   `json:"load,omitempty"`
}

// Load is how busy the machine was over the session, and how much of that
// was the benchmark.
type Load struct {
	Start     string  `json:"start"` // /proc/loadavg
	End       string  `json:"end"`
	BusyPct   float64 `json:"busy_pct"`
	StealPct  float64 `json:"steal_pct"`
	OwnPct    float64 `json:"own_pct"`
	OthersPct float64 `json:"others_pct"`
}

// GoBench is the one `go test -bench` invocation of a session.
type GoBench struct {
	Command    string     `json:"command"`
	Output     string     `json:"output"`
	Benchmarks []GoResult `json:"benchmarks"`
}

// GoResult is one benchmark's measurements, one value per run by unit
// (ns/op, B/op, allocs/op, tasks/s).
type GoResult struct {
	Name   string               `json:"name"`
	Values map[string][]float64 `json:"values"`
}

// CellRuns is a cell and its repetitions.
type CellRuns struct {
	Cell Cell  `json:"cell"`
	Runs []Run `json:"runs"`
}

// Run is one repetition of a cell.
type Run struct {
	Rep   int     `json:"rep"`
	WallS float64 `json:"wall_s"`
	// PerS is tasks (k6 with a pool), iterations (k6 without) or completed
	// calls (Python) per second of the cell.
	PerS float64 `json:"per_s"`
	// USPerRoundTrip is set by Python's round-trip cells.
	USPerRoundTrip float64 `json:"us_per_round_trip,omitempty"`
	Tasks          float64 `json:"tasks,omitempty"`
	Iterations     float64 `json:"iterations,omitempty"`
	// CPU is k6's and its workers' CPU time over the steady part of a k6 cell.
	CPU *CPUWindow `json:"cpu,omitempty"`
}

// CPUWindow is what a k6 cell used over its sampling window.
type CPUWindow struct {
	WindowS       float64 `json:"window_s"`
	K6S           float64 `json:"k6_cpu_s"`
	WorkersS      float64 `json:"workers_cpu_s"`
	MachineBusyS  float64 `json:"machine_busy_cpu_s"`
	MachineS      float64 `json:"machine_cpu_s"`
	WorkersSeen   int     `json:"workers_seen"`
	CallsInWindow float64 `json:"calls_in_window"`
}

// Idle is the idle-cost measurement of k6 with pools (or without, the baseline).
type Idle struct {
	Pools       bool            `json:"pools"`
	Workers     int             `json:"workers"`
	WindowS     float64         `json:"window_s"`
	SettleS     float64         `json:"settle_s"`
	ClkTck      int             `json:"clk_tck"`
	K6Ticks     uint64          `json:"k6_ticks"`
	WorkerTicks []uint64        `json:"worker_ticks"`
	K6Mem       k6test.Memory   `json:"k6_mem"`
	WorkerMem   []k6test.Memory `json:"worker_mem"`
}

// Spread is a sample's median (benchmath's, which assumes no distribution)
// and its range.
type Spread struct {
	Med, Min, Max float64
	N             int
}

// spread summarizes values; an empty sample has NaN figures.
func spread(values []float64) Spread {
	if len(values) == 0 {
		return Spread{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := benchmath.NewSample(append([]float64(nil), values...), &benchmath.DefaultThresholds)
	return Spread{
		Med: benchmath.AssumeNothing.Summary(s, 0.95).Center,
		Min: s.Values[0], Max: s.Values[len(s.Values)-1], N: len(s.Values),
	}
}

// median is spread(values).Med.
func median(values []float64) float64 { return spread(values).Med }
