package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Cell is one measured configuration, run once per repetition.
type Cell struct {
	// Tool is "k6" or "python".
	Tool string `json:"tool"`
	// Series names the line of the tables and the chart the cell belongs to.
	Series string `json:"series"`
	// Mode is cell.js's MODE (pool, js, empty) or pool_bench.py's (rate, roundtrip).
	Mode string `json:"mode"`
	// Kind is the pool kind of a pool cell: thread or process.
	Kind string `json:"kind,omitempty"`
	// Workload is cpu.primes, io.sleep, noop or empty.
	Workload    string `json:"workload"`
	Workers     int    `json:"workers"`
	VUs         int    `json:"vus,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	GOMAXPROCS  int    `json:"gomaxprocs,omitempty"`
	// Module is the pool's `module` (cell.js's MODULE), for the JS cells.
	Module string `json:"module,omitempty"`
	// Chunk is a map cell's chunk size (cells_map.go).
	Chunk int `json:"chunk,omitempty"`
	// GOGC, when set, is k6's own GOGC (the Go collector's heap growth in
	// percent; Go's default is 100), for the tuned JS series (jscells.go).
	GOGC int `json:"gogc,omitempty"`
}

// ID names a cell uniquely: series, workload and workers tell cells apart.
func (c Cell) ID() string { return fmt.Sprintf("%s/%s/%d", c.Series, c.Workload, c.Workers) }

// The tools.
const (
	toolK6     = "k6"
	toolPython = "python"
)

// sizes says which worker counts a family of cells runs at.
type sizes int

const (
	sweep sizes = iota // every size of the session (1, 2, 4, 8, 16 and W)
	pair               // 1 and 2
	cpus               // 1, 2 and W
	one                // 1
	two                // 2
)

// family is a row of the cell table: the same cell at several sizes and workloads.
type family struct {
	tool, series, mode, kind string
	workloads                []string
	sizes                    sizes
	vusPerWorker             int // k6 only
	concurrency, gomaxprocs  int
	module                   string // the pool's module (jscells.go)
	chunk                    int    // map cells
	gogc                     int    // k6's GOGC (jscells.go)
}

// The names that the families, tables and goals share.
const (
	wlPrimes        = "cpu.primes"
	seriesTuned     = "process_tuned"
	seriesPyProcess = "py_process"
)

// families are the session's cells. The tuned process pool holds two
// requests per worker (concurrency 2, GOMAXPROCS=1), so it gets twice the
// VUs: as many tasks wait in its queue as in the default pool's.
func families() []family {
	return append([]family{
		{
			tool: toolK6, series: "thread", mode: "pool", kind: "thread",
			workloads: []string{wlPrimes, "io.sleep"}, sizes: sweep, vusPerWorker: 2,
		},
		{
			tool: toolK6, series: "process", mode: "pool", kind: "process",
			workloads: []string{wlPrimes, "io.sleep"}, sizes: sweep, vusPerWorker: 2,
		},
		{
			tool: toolK6, series: seriesTuned, mode: "pool", kind: "process",
			workloads: []string{wlPrimes}, sizes: sweep, vusPerWorker: 4, concurrency: 2, gomaxprocs: 1,
		},
		{
			tool: toolK6, series: "thread", mode: "pool", kind: "thread",
			workloads: []string{"noop"}, sizes: pair, vusPerWorker: 1,
		},
		{
			tool: toolK6, series: "process", mode: "pool", kind: "process",
			workloads: []string{"noop"}, sizes: pair, vusPerWorker: 1,
		},
		{
			tool: toolK6, series: "js", mode: "js",
			workloads: []string{wlPrimes}, sizes: sweep, vusPerWorker: 1,
		},
		{
			tool: toolK6, series: "empty", mode: "empty",
			workloads: []string{"empty"}, sizes: cpus, vusPerWorker: 1,
		},
		{
			tool: toolPython, series: "py_thread", mode: "rate", kind: "thread",
			workloads: []string{wlPrimes, "io.sleep"}, sizes: sweep,
		},
		{
			tool: toolPython, series: seriesPyProcess, mode: "rate", kind: "process",
			workloads: []string{wlPrimes, "io.sleep"}, sizes: sweep,
		},
		{
			tool: toolPython, series: "py_thread", mode: "roundtrip", kind: "thread",
			workloads: []string{"noop"}, sizes: one,
		},
		{
			tool: toolPython, series: seriesPyProcess, mode: "roundtrip", kind: "process",
			workloads: []string{"noop"}, sizes: one,
		},
	}, slices.Concat(jsFamilies(), mapFamilies())...)
}

// workerSizes returns the sizes of the sweep: 1, 2, 4, 8, 16 (1, 2, 16 when
// quick), with the number of CPUs added when it is not among them.
func workerSizes(quick bool, ncpu int) []int {
	w := []int{1, 2, 4, 8, 16}
	if quick {
		w = []int{1, 2, 16}
	}
	if ncpu <= 16 && !slices.Contains(w, ncpu) {
		w = append(w, ncpu)
		slices.Sort(w)
	}
	return w
}

// makeCells expands the families at the session's sizes.
func makeCells(fams []family, sweepSizes []int, ncpu int) []Cell {
	var cells []Cell
	for _, f := range fams {
		for _, wl := range f.workloads {
			for _, n := range f.sizes.of(sweepSizes, ncpu) {
				c := Cell{
					Tool: f.tool, Series: f.series, Mode: f.mode, Kind: f.kind, Workload: wl, Workers: n,
					Concurrency: f.concurrency, GOMAXPROCS: f.gomaxprocs, Module: f.module, Chunk: f.chunk,
					GOGC: f.gogc,
				}
				if f.tool == toolK6 {
					c.VUs = max(n*f.vusPerWorker, 1)
				}
				cells = append(cells, c)
			}
		}
	}
	return cells
}

func (s sizes) of(sweepSizes []int, ncpu int) []int {
	switch s {
	case pair:
		return []int{1, 2}
	case cpus:
		v := []int{1, 2, ncpu}
		slices.Sort(v)
		return slices.Compact(v)
	case one:
		return []int{1}
	case two:
		return []int{2}
	default:
		return sweepSizes
	}
}

// order is the cells of one repetition in a shuffled order, seeded by the
// session's seed and the repetition, so that drift of the machine hits every
// cell alike and a session can be repeated.
func order(cells []Cell, seed int64, rep int) []Cell {
	out := slices.Clone(cells)
	r := rand.New(rand.NewPCG(uint64(seed), uint64(rep))) // #nosec G404 G115 -- a seeded shuffle, repeatable
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// describe is a cell as the progress lines name it.
func describe(c Cell) string {
	switch c.Mode {
	case modeMap:
		return describeMap(c)
	case "pool":
		extra := ""
		if c.Concurrency > 1 {
			extra = ", tuned"
		}
		if c.Module != "" {
			extra += ", module " + c.Module
		}
		if c.GOGC > 0 {
			extra += fmt.Sprintf(", k6 at GOGC=%d", c.GOGC)
		}
		return fmt.Sprintf("k6 %s pool %s workers=%d vus=%d%s", c.Kind, c.Workload, c.Workers, c.VUs, extra)
	case "js":
		return fmt.Sprintf("k6 JS primes (no pool) vus=%d", c.VUs)
	case "empty":
		return fmt.Sprintf("k6 empty iteration vus=%d", c.VUs)
	case "roundtrip":
		return fmt.Sprintf("python %s no-op round trip", c.Kind)
	}
	return fmt.Sprintf("python %s %s workers=%d", c.Kind, pythonWork(c.Workload), c.Workers)
}

// pythonWork names pool_bench.py's --work for a workload.
func pythonWork(workload string) string {
	return map[string]string{wlPrimes: "primes", "io.sleep": "sleep", "noop": "noop"}[workload]
}
