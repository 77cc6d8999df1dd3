package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// Workers in other languages: the Python module's own tests, Python and
// Node.js workers behind k6's process pools, and the Python experiment of
// threads vs processes (examples/python-gil.js) with its acceptance figures.
// The protocol itself is checked for every worker by ipc/conformance.

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	return root
}

// TestPythonUnittest runs examples/python/test_xk6worker.py, the tests of
// the Python worker module, so that `make test` runs them.
func TestPythonUnittest(t *testing.T) {
	t.Parallel()
	python := k6test.Interpreter(t, "python3")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "unittest", "discover", "-s", "examples/python", "-p", "test_*.py", "-v")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "python3 -m unittest:\n%s", out)
	assert.Contains(t, string(out), "\nOK")
	t.Logf("%s", lastLines(string(out), 4))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestOtherLanguageWorkersThroughK6: k6 scripts run tasks on Python and
// Node.js workers; a workload a worker does not offer rejects with
// UnknownWorkloadError before anything is sent; errors keep their names.
func TestOtherLanguageWorkersThroughK6(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, lang := range []struct{ name, interpreter, worker string }{
		{"python", "python3", "examples/python/worker.py"},
		{"node", "node", "examples/node/worker.js"},
	} {
		t.Run(lang.name, func(t *testing.T) {
			t.Parallel()
			interp := k6test.Interpreter(t, lang.interpreter)
			command, _ := json.Marshal([]string{interp, filepath.Join(root, lang.worker)})
			k6 := k6test.StartScript(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const pool = new ProcessPool({ workers: 2, concurrency: 4, command: %s, taskTimeout: '5s' });
export const options = { iterations: 1 };
const outcome = (f) => { try { return JSON.stringify(f()); } catch (e) { return e.name + ': ' + e.message; } };
export default async function () {
  const out = {
    primes: pool.runSync('cpu.primes', { limit: 20000 }),
    sleeps: await pool.map('io.sleep', [{ duration: '20ms' }, { duration: 5 }, { duration: '0.01s' }]),
    noop: pool.runSync('noop'),
    echo: pool.runSync('echo', { a: [1, 'é'] }),
    unknown: outcome(() => pool.runSync('cpu.fib', { n: 10 })),
    invalid: outcome(() => pool.runSync('cpu.primes', { limit: -1 })),
    timeout: outcome(() => pool.runSync('io.sleep', { duration: '10s' }, { timeout: '200ms' })),
    after: pool.runSync('cpu.primes', { limit: 100 }),
  };
  console.log('RESULT ' + JSON.stringify(out));
}
`, command))
			res := k6.Wait(2 * time.Minute)
			require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
			var got map[string]any
			line := strings.TrimPrefix(logLine(t, res.Stderr, "RESULT "), "RESULT ")
			require.NoError(t, json.Unmarshal([]byte(line), &got), line)
			assert.EqualValues(t, 2262, got["primes"])
			assert.Equal(t, []any{nil, nil, nil}, got["sleeps"])
			assert.Nil(t, got["noop"])
			assert.Equal(t, map[string]any{"a": []any{1.0, "é"}}, got["echo"])
			assert.Contains(t, got["unknown"], "UnknownWorkloadError")
			assert.Contains(t, got["unknown"], `does not offer "cpu.fib" (it offers: cpu.primes, echo, io.sleep, noop)`)
			assert.Contains(t, got["invalid"], `InvalidArgumentError: cpu.primes: param "limit" must be an integer from 2 to 2147483647, got -1`)
			assert.Contains(t, got["timeout"], "TimeoutError")
			assert.EqualValues(t, 25, got["after"], "the pool serves on after a timeout")
			k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
		})
	}
}

// TestPythonGILExample runs examples/python-gil.js shortened and checks the
// issue's acceptance figures, from k6's own concurrency_tasks counts (the
// summary data the script's handleSummary writes): on a 2-core machine,
//
//   - Python threads on CPU-bound work stay within 1.2x of one thread,
//   - Python processes reach 1.7x one process at 2 processes and more,
//   - both scale near-linearly on I/O-bound work: 16 give 12x one or more.
//
// On this 2-vCPU VM the CPU the host gives varies from one 5 s cell to the
// next, and lost CPU can only make a CPU-bound figure look worse, never
// better. So each figure must be met in one of up to three runs, each run
// measuring all of them; a run counts only if it is steady (one Python
// thread and one Python process, the same set-up, measure within 20 % of
// each other), and each check takes the one-process base that is hardest
// on it (the higher of the two for "reach", the lower for "stay within").
func TestPythonGILExample(t *testing.T) {
	k6test.Interpreter(t, "python3")
	const attempts = 3
	var unmet map[string]string // figure -> how its last steady run missed it
	for attempt := 1; attempt <= attempts; attempt++ {
		figures, steady := pythonGILRun(t, attempt)
		if unmet == nil {
			unmet = map[string]string{}
			for name := range figures {
				unmet[name] = name + ": no steady run"
			}
		}
		if steady {
			for name, missed := range figures {
				if _, open := unmet[name]; !open {
					continue
				}
				if missed == "" {
					delete(unmet, name)
				} else {
					unmet[name] = missed
				}
			}
		}
		if len(unmet) == 0 {
			return
		}
		t.Logf("after run %d, not yet met:\n  %s", attempt, strings.Join(sortedValues(unmet), "\n  "))
	}
	t.Errorf("after %d runs, figures never met in a steady run:\n  %s", attempts, strings.Join(sortedValues(unmet), "\n  "))
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// pythonGILRun runs the example once and returns each acceptance figure
// with "" if the run met it or how it missed, and whether the run was steady.
func pythonGILRun(t *testing.T, attempt int) (figures map[string]string, steady bool) {
	t.Helper()
	const cell = 5 // seconds
	sizes := []int{1, 2, 16}
	k6 := k6test.Start(t, "run", "--quiet", "-e", fmt.Sprintf("CELL=%d", cell), "-e", "SIZES=1,2,16",
		"-e", "SUMMARY_JSON=summary.json", example(t, "python-gil.js"))
	res := k6.Wait(6 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
	t.Logf("run %d:\n%s", attempt, res.Stdout)
	assert.Contains(t, res.Stdout, "function calls per second")
	assert.Contains(t, res.Stdout, "concurrency_task_failed     rate=0.00%")
	data := readSummary(t, res)
	metrics := data["metrics"].(map[string]any)

	rate := map[string]map[string]map[int]float64{} // workload -> series -> size -> calls/s
	for _, w := range []string{"cpu.primes", "io.sleep"} {
		rate[w] = map[string]map[int]float64{}
		for _, series := range []string{"python threads", "python processes", "go threads"} {
			rate[w][series] = map[int]float64{}
			for _, size := range sizes {
				name := fmt.Sprintf("concurrency_tasks{series:%s,size:%d,workload:%s}", series, size, w)
				m, ok := metrics[name].(map[string]any)
				require.True(t, ok, "the summary has no %s", name)
				count := m["values"].(map[string]any)["count"].(float64)
				require.Positive(t, count, name)
				rate[w][series][size] = count / cell
			}
		}
	}
	steady = true
	for _, w := range []string{"cpu.primes", "io.sleep"} {
		t1, p1 := rate[w]["python threads"][1], rate[w]["python processes"][1]
		if min(t1, p1) < 0.8*max(t1, p1) {
			t.Logf("run %d is not steady: on %s one Python thread made %.1f calls/s and one Python process %.1f, "+
				"the same set-up, over 20%% apart", attempt, w, t1, p1)
			steady = false
		}
	}
	figures = map[string]string{}
	check := func(name string, ok bool, format string, a ...any) {
		figures[name] = ""
		if !ok {
			figures[name] = fmt.Sprintf(format, a...)
		}
	}
	cpu, io := rate["cpu.primes"], rate["io.sleep"]
	oneLow := min(cpu["python threads"][1], cpu["python processes"][1])
	oneHigh := max(cpu["python threads"][1], cpu["python processes"][1])
	for _, size := range sizes[1:] {
		threads, processes := cpu["python threads"][size], cpu["python processes"][size]
		check(fmt.Sprintf("threads %d", size), threads <= 1.2*oneLow,
			"CPU-bound, %d Python threads: %.1f calls/s, over 1.2 x one thread's %.1f (%.2fx)", size, threads, oneLow, threads/oneLow)
		check(fmt.Sprintf("processes %d", size), processes >= 1.7*oneHigh,
			"CPU-bound, %d Python processes: %.1f calls/s, under 1.7 x one process's %.1f (%.2fx)", size, processes, oneHigh, processes/oneHigh)
	}
	for _, series := range []string{"python threads", "python processes"} {
		r := io[series]
		check("io "+series, r[16] >= 12*r[1],
			"I/O-bound, 16 %s: %.1f calls/s, under 12 x size 1's %.1f (%.2fx)", series, r[16], r[1], r[16]/r[1])
	}
	return figures, steady
}
