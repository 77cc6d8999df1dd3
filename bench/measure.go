package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// Markers the scripts write to stderr.
const (
	setupDone = "BENCH_SETUP_DONE" // cell.js: setup() is over, the scenario starts
	idleReady = "BENCH_IDLE_READY" // idle.js: every pool's workers are live
)

// slack is how long a cell may take beyond its duration (setup, warm-up, exit).
const slack = 180 * time.Second

// session is what a measurement needs: the processes, the k6 binary and
// the length of a cell.
type session struct {
	procs *procs
	k6    string
	tmp   string
	cell  time.Duration
}

// runCell runs one repetition of a cell.
func (s *session) runCell(ctx context.Context, c Cell) (Run, error) {
	if c.Tool == toolPython {
		return s.runPython(ctx, c)
	}
	return s.runK6(ctx, c)
}

// k6Summary is what cell.js's handleSummary writes: k6's summary values of
// the scenario's sub-metrics.
type k6Summary struct {
	Tasks      map[string]float64 `json:"tasks"`
	Failed     map[string]float64 `json:"failed"`
	Iterations map[string]float64 `json:"iterations"`
	// map cells: the time spent in map calls and their tasks.
	MapMS    map[string]float64 `json:"map_ms"`
	MapTasks map[string]float64 `json:"map_tasks"`
}

// cellEnv is what cell.js reads of c (its -e variables), for a cell of secs
// seconds that writes its summary to summary.
func cellEnv(c Cell, secs float64, summary string) []string {
	env := []string{
		"MODE=" + c.Mode, "WORKERS=" + strconv.Itoa(c.Workers), "VUS=" + strconv.Itoa(c.VUs),
		"DURATION=" + strconv.FormatFloat(secs, 'f', -1, 64), "SUMMARY=" + summary,
	}
	if c.Mode == "pool" {
		env = append(env, "KIND="+c.Kind, "WORKLOAD="+c.Workload)
	}
	if c.Mode == modeMap {
		env = append(env, mapK6Env(c)...)
	}
	if c.Concurrency > 0 {
		env = append(env, "CONCURRENCY="+strconv.Itoa(c.Concurrency))
	}
	if c.Module != "" {
		env = append(env, "MODULE="+c.Module)
	}
	if c.GOMAXPROCS > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(c.GOMAXPROCS))
	}
	return env
}

func (s *session) runK6(ctx context.Context, c Cell) (Run, error) {
	summary := filepath.Join(s.tmp, "summary.json")
	_ = os.Remove(summary)
	secs := s.cell.Seconds()
	env := cellEnv(c, secs, summary)
	args := make([]string, 0, 3+2*len(env)+1)
	args = append(args, "run", "--quiet", "--no-usage-report")
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, filepath.Join(s.procs.root, "bench", "k6", "cell.js"))
	var procEnv []string // k6's own environment, beyond the script's -e
	if c.GOGC > 0 {
		procEnv = append(procEnv, "GOGC="+strconv.Itoa(c.GOGC))
	}
	p, err := s.procs.startEnv(ctx, true, []string{setupDone}, procEnv, s.k6, args...)
	if err != nil {
		return Run{}, err
	}
	defer p.kill()
	cpu := make(chan *CPUWindow, 1)
	go func() { cpu <- sampleCell(p, s.cell) }()
	if err := p.wait(s.cell + slack); err != nil {
		return Run{}, fmt.Errorf("cell %s: %w", c.ID(), err)
	}
	run, err := readSummary(summary, c, secs)
	if err != nil {
		return Run{}, fmt.Errorf("cell %s: %w\n%s", c.ID(), err, p.tail())
	}
	if w := <-cpu; w != nil {
		w.CallsInWindow = run.PerS * w.WindowS
		run.CPU = w
	}
	return run, nil
}

// readSummary turns cell.js's summary into a run; every task must have
// succeeded, one per iteration.
func readSummary(path string, c Cell, secs float64) (Run, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the summary k6 wrote into the session's temporary directory
	if err != nil {
		return Run{}, fmt.Errorf("no summary data from k6: %w", err)
	}
	var sum k6Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return Run{}, fmt.Errorf("summary data: %w", err)
	}
	run := Run{Iterations: sum.Iterations["count"]}
	if c.Mode == modeMap {
		return mapRun(sum, run)
	}
	if c.Mode != "pool" {
		if run.Iterations == 0 {
			return Run{}, errors.New("no iterations")
		}
		run.PerS = run.Iterations / secs
		return run, nil
	}
	run.Tasks = sum.Tasks["count"]
	if failed := sum.Failed["passes"]; failed > 0 {
		return Run{}, fmt.Errorf("%.0f of %.0f tasks failed (concurrency_task_failed)", failed, run.Tasks)
	}
	if run.Tasks == 0 || run.Tasks != run.Iterations {
		return Run{}, fmt.Errorf("%.0f tasks for %.0f iterations", run.Tasks, run.Iterations)
	}
	run.PerS = run.Tasks / secs
	return run, nil
}

// sampleCell measures the CPU time of k6 and of its workers over the steady
// part of a cell (from 0.5 s after setup until 0.5 s before the end; a
// quarter of the cell at each end for cells under 2 s), and the machine's
// meanwhile. It returns nil when the cell ended first, or when a worker
// ended or started inside the window: such a window is not steady.
func sampleCell(p *proc, cell time.Duration) *CPUWindow {
	select {
	case <-p.mark(setupDone):
	case <-p.done:
		return nil
	}
	margin := min(500*time.Millisecond, cell/4)
	if sleepOrDone(p, margin) {
		return nil
	}
	a, errA := k6test.SampleTree(p.pid())
	ma, errMA := machineCPU()
	if sleepOrDone(p, cell-2*margin) || errA != nil || errMA != nil {
		return nil
	}
	b, errB := k6test.SampleTree(p.pid())
	mb, errMB := machineCPU()
	if errB != nil || errMB != nil || !sameKeys(a.Workers, b.Workers) {
		return nil
	}
	k6, workers := b.Since(a)
	busy, total := mb.since(ma)
	return &CPUWindow{
		WindowS: b.At.Sub(a.At).Seconds(), K6S: float64(k6) / k6test.UserHZ, WorkersS: float64(workers) / k6test.UserHZ,
		MachineBusyS: busy, MachineS: total, WorkersSeen: len(b.Workers),
	}
}

func sameKeys(a, b map[int]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// sleepOrDone sleeps d and reports whether the process ended meanwhile.
func sleepOrDone(p *proc, d time.Duration) bool {
	select {
	case <-time.After(d):
		return p.exited()
	case <-p.done:
		return true
	}
}

func (s *session) runPython(ctx context.Context, c Cell) (Run, error) {
	secs := strconv.FormatFloat(s.cell.Seconds(), 'f', -1, 64)
	script := filepath.Join(s.procs.root, "bench", "python", "pool_bench.py")
	args := []string{script, c.Mode, "--executor", c.Kind, "--seconds", secs}
	if c.Mode == "rate" {
		args = append(args, "--work", pythonWork(c.Workload), "--workers", strconv.Itoa(c.Workers))
	}
	if c.Mode == modeMap {
		args = append([]string{script, c.Mode, "--seconds", secs}, mapPythonArgs(c)...)
	}
	out, err := s.procs.run(ctx, s.cell+slack, "python3", args...)
	if err != nil {
		return Run{}, fmt.Errorf("cell %s: %w", c.ID(), err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		PerS           float64 `json:"per_s"`
		USPerRoundTrip float64 `json:"us_per_round_trip"`
	}
	err = json.Unmarshal([]byte(lines[len(lines)-1]), &res)
	if err == nil && res.PerS == 0 {
		err = errors.New("a rate of 0")
	}
	if err != nil {
		return Run{}, fmt.Errorf("cell %s: no result from python (%w):\n%s", c.ID(), err, out)
	}
	return Run{PerS: res.PerS, USPerRoundTrip: res.USPerRoundTrip}, nil
}
