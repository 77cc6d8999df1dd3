package main

import (
	"fmt"
	"strconv"
)

// Issue 14's cells: map() of mapTasks noop tasks on 2 workers, through k6
// (a thread pool, and a process pool with the automatic chunkSize and with
// chunkSize 1), next to Python's ProcessPoolExecutor.map (chunksize 1 and
// Python's usual ceil(n / (4 * workers))) and multiprocessing.Pool.map (its
// default chunksize) on the same count of tasks. Each cell repeats whole map
// calls for its length and reports tasks/s over the time spent in them.

// modeMap is cell.js's and pool_bench.py's mode for these cells.
const modeMap = "map"

// mapTasks is the length of each map call.
const mapTasks = 100_000

// The series of the map cells.
const (
	seriesMapThread   = "map_thread"
	seriesMapProcess  = "map_process"        // chunkSize automatic
	seriesMapProcess1 = "map_process_chunk1" // chunkSize 1: one frame per task
	seriesPyMapPPE    = "py_map_ppe"         // ProcessPoolExecutor.map(chunksize=ceil(n / (4 * workers)))
	seriesPyMapPPE1   = "py_map_ppe_chunk1"  // ProcessPoolExecutor.map(chunksize=1), its default
	seriesPyMapMP     = "py_map_mp"          // multiprocessing.Pool.map, its default chunksize
)

// autoChunk is Python's (and the pool's automatic) chunk size for n tasks on
// w workers.
func autoChunk(n, w int) int { return (n + 4*w - 1) / (4 * w) }

// mapFamilies are the map cells, at 2 workers.
func mapFamilies() []family {
	noop := []string{"noop"}
	return []family{
		{tool: toolK6, series: seriesMapThread, mode: modeMap, kind: "thread", workloads: noop, sizes: two, vusPerWorker: 0},
		{tool: toolK6, series: seriesMapProcess, mode: modeMap, kind: "process", workloads: noop, sizes: two},
		{tool: toolK6, series: seriesMapProcess1, mode: modeMap, kind: "process", workloads: noop, sizes: two, chunk: 1},
		{tool: toolPython, series: seriesPyMapPPE, mode: modeMap, kind: "process", workloads: noop, sizes: two, chunk: -1},
		{tool: toolPython, series: seriesPyMapPPE1, mode: modeMap, kind: "process", workloads: noop, sizes: two, chunk: 1},
		{tool: toolPython, series: seriesPyMapMP, mode: modeMap, kind: "mp", workloads: noop, sizes: two},
	}
}

// mapChunk is the chunk size a map cell asks for: 0 leaves it to the tool
// (the pool's automatic one, multiprocessing's default), -1 is Python's
// ceil(n / (4 * workers)) asked for explicitly.
func mapChunk(c Cell) int {
	if c.Chunk < 0 {
		return autoChunk(mapTasks, c.Workers)
	}
	return c.Chunk
}

// mapK6Env is the cell.js environment of a map cell.
func mapK6Env(c Cell) []string {
	return []string{
		"KIND=" + c.Kind, "WORKLOAD=" + c.Workload, "MAP_N=" + strconv.Itoa(mapTasks),
		"CHUNK=" + strconv.Itoa(mapChunk(c)),
	}
}

// mapPythonArgs are pool_bench.py's arguments of a map cell, after the mode.
func mapPythonArgs(c Cell) []string {
	return []string{
		"--executor", c.Kind, "--work", pythonWork(c.Workload), "--workers", strconv.Itoa(c.Workers),
		"--n", strconv.Itoa(mapTasks), "--chunksize", strconv.Itoa(mapChunk(c)),
	}
}

// describeMap is a map cell as the progress lines name it.
func describeMap(c Cell) string {
	chunk := "automatic"
	if n := mapChunk(c); n > 0 {
		chunk = strconv.Itoa(n)
	}
	if c.Tool == toolPython {
		what := "ProcessPoolExecutor.map"
		if c.Kind == "mp" {
			what = "multiprocessing.Pool.map"
		}
		return fmt.Sprintf("python %s of %d noop, workers=%d, chunksize %s", what, mapTasks, c.Workers, chunk)
	}
	return fmt.Sprintf("k6 %s pool map of %d noop, workers=%d, chunkSize %s", c.Kind, mapTasks, c.Workers, chunk)
}

// mapVersusThread is the process pool's map tasks/s over the thread pool's,
// with Python's figures beside them.
func mapVersusThread(v *view) (float64, string) {
	p, t := v.Rate(seriesMapProcess, "noop", 2), v.Rate(seriesMapThread, "noop", 2)
	x := ratio(p, t)
	return x, fmt.Sprintf("%s vs %s tasks/s = %s (chunkSize 1: %s; Python: ProcessPoolExecutor.map %s with chunksize %d, "+
		"%s with 1; multiprocessing.Pool.map %s)", fmtRate(p), fmtRate(t), fx(x, 2),
		fmtRate(v.Rate(seriesMapProcess1, "noop", 2)), fmtRate(v.Rate(seriesPyMapPPE, "noop", 2)), autoChunk(mapTasks, 2),
		fmtRate(v.Rate(seriesPyMapPPE1, "noop", 2)), fmtRate(v.Rate(seriesPyMapMP, "noop", 2)))
}

// mapGoals are issue 14's rows of the goals table.
func mapGoals() []goal {
	return []goal{{
		id:     "map_process",
		name:   "Fine-grained tasks: map of 100,000 noop, 2 workers, process pool (automatic chunkSize) vs thread pool",
		figure: mapVersusThread, cmp: atLeast, target: 0.9, targetText: atLeastRatio,
	}}
}

// mapRun is a map cell's run from cell.js's summary: tasks/s over the time
// spent in map calls; every task must have succeeded.
func mapRun(sum k6Summary, run Run) (Run, error) {
	run.Tasks = sum.MapTasks["count"]
	ms := sum.MapMS["count"]
	if failed := sum.Failed["passes"]; failed > 0 {
		return Run{}, fmt.Errorf("%.0f of %.0f tasks failed (concurrency_task_failed)", failed, run.Tasks)
	}
	if run.Tasks == 0 || ms <= 0 || sum.Tasks["count"] < run.Tasks {
		return Run{}, fmt.Errorf("%.0f map tasks in %.0f ms (%.0f tasks counted)", run.Tasks, ms, sum.Tasks["count"])
	}
	run.PerS = run.Tasks / (ms / 1000)
	return run, nil
}
