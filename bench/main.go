// Command bench is the end-to-end benchmark of xk6-concurrency:
//
//	make bench                        builds bin/k6, then go run ./bench -k6 bin/k6
//	go run ./bench                    -reps 3 -cell 5s: about 20 minutes on 2 CPUs
//	go run ./bench -quick             1 rep, 2 s cells, workers 1, 2, 16: a smoke run
//	go run ./bench -reps 5 -cell 10s  steadier figures
//	go run ./bench -seed 7            another shuffled order of the cells
//	go run ./bench -report-only       BENCHMARKS.md and bench/chart.svg again from bench/results.json
//	go run ./bench -only 'js' -results /tmp/r.json -markdown /tmp/B.md -svg /tmp/c.svg
//	                                  only the steps and cells whose names match
//
// The variables REPS, CELL (seconds), QUICK, SEED and ONLY set the flags'
// defaults, so that `QUICK=1 make bench` works.
//
// One session runs the Go benchmarks (one go test invocation), then every
// cell of the table in cells.go -reps times, each repetition in a shuffled
// (seeded) order so that drift of the machine hits every cell alike: k6 with
// a thread or a process pool (bench/k6/cell.js), k6 without a pool, and
// Python's executors (bench/python/pool_bench.py). Then it measures what
// idle pools cost (bench/k6/idle.js) and what a JavaScript worker's runtime
// takes (bench/k6/jsmem.js). It writes the raw results
// (bench/results.json), BENCHMARKS.md from BENCHMARKS.md.tmpl, and
// bench/chart.svg through internal/report. Progress goes to stderr. Every
// process it starts is stopped on Ctrl-C, and no k6 worker is left behind.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// config is the command line.
type config struct {
	reps       int
	cell       time.Duration
	quick      bool
	seed       int64
	k6         string
	build      string
	reportOnly bool
	only       *regexp.Regexp // nil: everything
	results    string
	markdown   string
	svg        string
}

func main() {
	root, err := k6test.ModuleRoot()
	if err != nil {
		fail(err)
	}
	cfg, err := parseFlags(root, os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err = run(ctx, root, cfg)
	interrupted := ctx.Err() != nil
	stop()
	if err != nil {
		if interrupted {
			logf("interrupted; every process of the session was stopped")
			os.Exit(130)
		}
		fail(err)
	}
}

func fail(err error) {
	logf("FAILED: %v", err)
	os.Exit(1)
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// parseFlags reads the command line; the environment gives the defaults.
func parseFlags(root string, args []string, getenv func(string) string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	reps, err := envInt(getenv, "REPS", 3)
	if err != nil {
		return cfg, err
	}
	cellS, err := envFloat(getenv, "CELL", 5)
	if err != nil {
		return cfg, err
	}
	seed, err := envInt(getenv, "SEED", 1)
	if err != nil {
		return cfg, err
	}
	quick := getenv("QUICK") != "" && getenv("QUICK") != "0"
	fs.IntVar(&cfg.reps, "reps", reps, "repetitions of every cell (REPS)")
	fs.DurationVar(&cfg.cell, "cell", time.Duration(cellS*float64(time.Second)), "length of a cell (CELL, in seconds)")
	fs.BoolVar(&cfg.quick, "quick", quick, "a smoke run: workers 1, 2, 16, and unless given, -reps 1 -cell 2s (QUICK=1)")
	fs.Int64Var(&cfg.seed, "seed", int64(seed), "seed of the cells' shuffled order (SEED)")
	fs.StringVar(&cfg.k6, "k6", filepath.Join(root, "bin", "k6"), "the k6 binary with the extension (make k6 builds it)")
	fs.StringVar(&cfg.build, "build", "make k6", "how the k6 binary was built, for BENCHMARKS.md")
	fs.BoolVar(&cfg.reportOnly, "report-only", false, "render BENCHMARKS.md and the chart from -results without measuring")
	only := fs.String("only", getenv("ONLY"), "a regular expression: run only the cells whose ID "+
		"(series/workload/workers) and the steps ("+strings.Join(steps(), ", ")+") whose name it matches (ONLY)")
	fs.StringVar(&cfg.results, "results", filepath.Join(root, "bench", "results.json"), "the raw results")
	fs.StringVar(&cfg.markdown, "markdown", filepath.Join(root, "BENCHMARKS.md"), "the report")
	fs.StringVar(&cfg.svg, "svg", filepath.Join(root, "bench", "chart.svg"), "the chart")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return cfg, fmt.Errorf("-only: %w", err)
		}
		cfg.only = re
	}
	if cfg.quick {
		quickDefaults(fs, &cfg)
	}
	if cfg.reps < 1 || cfg.cell <= 0 {
		return cfg, fmt.Errorf("-reps must be >= 1 and -cell > 0 (got %d and %s)", cfg.reps, cfg.cell)
	}
	return cfg, nil
}

// quickDefaults makes a smoke run (-quick) short: one repetition of 2s
// cells, unless the command line gave -reps or -cell. Only flags given on
// the command line count: REPS and CELL from the environment give way.
func quickDefaults(fs *flag.FlagSet, cfg *config) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["reps"] {
		cfg.reps = 1
	}
	if !set["cell"] {
		cfg.cell = 2 * time.Second
	}
}

func envInt(getenv func(string) string, name string, def int) (int, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s must be a whole number (got %q)", name, s)
	}
	return n, nil
}

func envFloat(getenv func(string) string, name string, def float64) (float64, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) {
		return 0, fmt.Errorf("%s must be a number of seconds > 0 (got %q)", name, s)
	}
	return f, nil
}

// run measures (unless -report-only) and writes the files.
func run(ctx context.Context, root string, cfg config) error {
	var (
		r   *Results
		err error
	)
	if cfg.reportOnly {
		r, err = readResults(cfg.results)
	} else {
		r, err = measureAndSave(ctx, root, cfg)
	}
	if err != nil {
		return err
	}
	return write(r, cfg)
}

// readResults reads the raw results of an earlier session.
func readResults(path string) (*Results, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the file the user named with -results
	if err != nil {
		return nil, err
	}
	r := new(Results)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// measureAndSave runs a session and writes its raw results.
func measureAndSave(ctx context.Context, root string, cfg config) (*Results, error) {
	r, err := measure(ctx, root, cfg)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return nil, err
	}
	// #nosec G306 G703 -- results.json, a file of the repository, read by all, where -results says.
	if err := os.WriteFile(cfg.results, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	logf("raw results: %s", cfg.results)
	return r, nil
}

// write renders BENCHMARKS.md and the chart, and lists the goals.
func write(r *Results, cfg config) error {
	href, err := filepath.Rel(filepath.Dir(cfg.markdown), cfg.svg)
	if err != nil {
		return err
	}
	md, svg, outcomes, err := render(r, filepath.ToSlash(href))
	if err != nil {
		return err
	}
	// #nosec G306 G703 -- BENCHMARKS.md and the chart: files of the repository, read by all.
	if err := os.WriteFile(cfg.markdown, []byte(md), 0o644); err != nil {
		return err
	}
	// #nosec G306 G703 -- as above.
	if err := os.WriteFile(cfg.svg, []byte(svg), 0o644); err != nil {
		return err
	}
	logf("wrote %s and %s", cfg.markdown, cfg.svg)
	for _, o := range outcomes {
		met := "MET    "
		if !o.Met {
			met = "NOT MET"
		}
		fmt.Fprintf(os.Stderr, "  %s  %s: %s (target %s)\n", met, o.Goal, o.Figure, o.Target)
	}
	return nil
}

// measure runs a whole session.
func measure(ctx context.Context, root string, cfg config) (*Results, error) {
	if st, err := os.Stat(cfg.k6); err != nil || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no k6 binary at %s (make k6 builds it)", cfg.k6)
	}
	tmp, err := os.MkdirTemp("", "xk6-concurrency-bench-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	// A private copy of k6, so that a rebuild of bin/k6 during the session
	// cannot mix two binaries into one set of figures.
	k6 := filepath.Join(tmp, "k6")
	if err := copyFile(cfg.k6, k6); err != nil {
		return nil, err
	}
	ncpu := runtime.NumCPU()
	info := machineInfo(ctx, root, k6)
	info.Command, info.Build = command(cfg), cfg.build
	info.Reps, info.CellS, info.Quick, info.Seed = cfg.reps, cfg.cell.Seconds(), cfg.quick, cfg.seed
	info.Workers, info.W = workerSizes(cfg.quick, ncpu), ncpu
	logf("%s, %d CPUs, %.1f GiB; %s; %s; Python %s", info.CPUModel, info.CPUs, info.RAMGiB, info.Go, info.K6, info.Python)
	logf("%s: workers %v; %d rep(s) of %s cells", info.Command, info.Workers, cfg.reps, cfg.cell)

	ps := &procs{root: root}
	s := &session{procs: ps, k6: k6, tmp: tmp, cell: cfg.cell}
	mark, started := markLoad(), time.Now()
	r, err := s.all(ctx, cfg, info.Workers, ncpu)
	if left := ps.leftovers(); err == nil {
		err = left
	}
	if err != nil {
		return nil, err
	}
	info.SessionS, info.Load = time.Since(started).Seconds(), loadSince(mark)
	r.Info = info
	logf("session took %.1f min", info.SessionS/60)
	return r, nil
}

// The steps of a session beside the cells, as -only names them.
const (
	stepGo       = "go-bench"
	stepIdle     = "idle"
	stepJSMemory = "js-memory"
)

func steps() []string { return []string{stepGo, stepIdle, stepJSMemory} }

// runs reports whether -only lets the step or cell named name run.
func (cfg config) runs(name string) bool { return cfg.only == nil || cfg.only.MatchString(name) }

// all runs the Go benchmarks, the cells, the idle measurements and the JS
// memory measurement (those -only lets run).
func (s *session) all(ctx context.Context, cfg config, workers []int, ncpu int) (*Results, error) {
	r := &Results{}
	var err error
	if cfg.runs(stepGo) {
		logf("go benchmarks: go %s", shellJoin(goBenchArgs(cfg.reps)))
		t0 := time.Now()
		if r.Go, err = s.runGoBench(ctx, cfg.reps); err != nil {
			return nil, err
		}
		logf("go benchmarks done in %.0f s (%d benchmarks)", time.Since(t0).Seconds(), len(r.Go.Benchmarks))
	}
	cells := slices.DeleteFunc(makeCells(families(), workers, ncpu), func(c Cell) bool { return !cfg.runs(c.ID()) })
	if r.Cells, err = s.runCells(ctx, cfg, cells); err != nil {
		return nil, err
	}
	if cfg.runs(stepIdle) {
		logf("idle cost: 16-worker thread and process pools, then k6 without pools")
		if r.Idle, err = s.measureIdle(ctx, true); err != nil {
			return nil, err
		}
		if r.IdleBaseline, err = s.measureIdle(ctx, false); err != nil {
			return nil, err
		}
		logf("idle: k6 %d ticks with pools, %d without; workers %d ticks",
			r.Idle.K6Ticks, r.IdleBaseline.K6Ticks, sum(r.Idle.WorkerTicks))
	}
	if cfg.runs(stepJSMemory) {
		logf("js memory: a thread pool with a module, %d then %d JS workers", jsMemBase, jsMemGrown)
		if r.JSMemory, err = s.runJSMemory(ctx, cfg.reps); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// runCells runs every cell -reps times, each repetition in its own order.
func (s *session) runCells(ctx context.Context, cfg config, cells []Cell) ([]CellRuns, error) {
	out := make([]CellRuns, len(cells))
	index := map[string]int{}
	for i, c := range cells {
		out[i].Cell, index[c.ID()] = c, i
	}
	total, n, started := cfg.reps*len(cells), 0, time.Now()
	for rep := 1; rep <= cfg.reps; rep++ {
		for _, c := range order(cells, cfg.seed, rep) {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("interrupted: %w", err)
			}
			n++
			t := time.Now()
			run, err := s.runCell(ctx, c)
			if err != nil {
				return nil, err
			}
			run.Rep, run.WallS = rep, time.Since(t).Seconds()
			out[index[c.ID()]].Runs = append(out[index[c.ID()]].Runs, run)
			fig := fmtRate(run.PerS) + "/s"
			if run.USPerRoundTrip > 0 {
				fig = fmtUS(run.USPerRoundTrip) + "/round trip"
			}
			left := time.Since(started) / time.Duration(n) * time.Duration(total-n)
			logf("[%d/%d rep %d/%d] %s: %s (%.1f s; ~%.0f min left)",
				n, total, rep, cfg.reps, describe(c), fig, run.WallS, left.Minutes())
		}
	}
	return out, nil
}

// command is the session's command line as BENCHMARKS.md shows it.
func command(cfg config) string {
	only := ""
	if cfg.only != nil {
		only = " -only " + shellJoin([]string{cfg.only.String()})
	}
	if cfg.quick {
		return fmt.Sprintf("go run ./bench -quick -reps %d -cell %s -seed %d%s", cfg.reps, cfg.cell, cfg.seed, only)
	}
	return fmt.Sprintf("go run ./bench -reps %d -cell %s -seed %d%s", cfg.reps, cfg.cell, cfg.seed, only)
}

// copyFile copies the k6 binary (-k6) into the session's directory.
func copyFile(from, to string) error {
	b, err := os.ReadFile(from) // #nosec G304 -- the k6 binary the user named
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755) // #nosec G306 G703 -- an executable, into the session directory
}
