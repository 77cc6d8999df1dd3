package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
//
//nolint:paralleltest // timing-sensitive: compares threads' and processes' throughput
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
	assert.Fail(t, "figures never met", "after %d runs, figures never met in a steady run:\n  %s", attempts, strings.Join(sortedValues(unmet), "\n  "))
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
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

// workerCommands are the three kinds of worker: the k6 binary itself (in
// worker mode whatever its arguments, as its environment says), and the
// Python and Node.js examples.
func workerCommands(t *testing.T) map[string][]string {
	t.Helper()
	root := moduleRoot(t)
	return map[string][]string{
		"k6":     {k6test.Binary(t)},
		"python": {k6test.Interpreter(t, "python3"), filepath.Join(root, "examples/python/worker.py")},
		"node":   {k6test.Interpreter(t, "node"), filepath.Join(root, "examples/node/worker.js")},
	}
}

// TestWrappedWorkers: a worker started through a wrapper that forks it
// (timeout, bash -c with two commands, a shell script) serves a real
// ProcessPool and leaves nothing behind. Issue 17 found every such command
// refused with "the pool (pid …) is not this process's parent…: it died
// before the worker started", while k6 was alive: the worker libraries
// required the pool to be their parent.
func TestWrappedWorkers(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "wrap.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"wrap.sh pid $$ starts $1\" >&2\n\"$@\"\nstatus=$?\nexit $status\n"), 0o755))
	wrappers := map[string][]string{
		"timeout":               {"timeout", "600"},
		"bash -c, two commands": {"bash", "-c", `echo "bash pid $$ wraps" >&2; "$@"; exit $?`, "bash"},
		"a script that forks":   {script},
	}
	for lang, argv := range workerCommands(t) {
		for name, wrapper := range wrappers {
			t.Run(lang+"/"+name, func(t *testing.T) {
				t.Parallel()
				command, _ := json.Marshal(append(slices.Clone(wrapper), argv...))
				k6 := k6test.StartScript(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const pool = new ProcessPool({ workers: 1, concurrency: 2, command: %s, taskTimeout: '20s' });
export const options = { iterations: 1 };
export default async function () {
  const out = {
    noop: pool.runSync('noop'),
    sleeps: await pool.map('io.sleep', [{ duration: '20ms' }, { duration: '10ms' }]),
    primes: pool.runSync('cpu.primes', { limit: 100 }),
  };
  console.log('RESULT ' + JSON.stringify(out));
}
`, command))
				res := k6.Wait(2 * time.Minute)
				require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
				assert.NotContains(t, res.Stderr, "parent")
				line := strings.TrimPrefix(logLine(t, res.Stderr, "RESULT "), "RESULT ")
				assert.JSONEq(t, `{"noop":null,"sleeps":[null,null],"primes":25}`, line)
				k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
			})
		}
	}
}

// TestWrappedWorkersEndWithK6: without the parent check, a worker behind a
// wrapper still ends when its pool does. SIGKILL to k6 reaches the wrapper
// through the parent-death signal, and the worker itself through the end of
// its standard input, whose only writer k6 was.
func TestWrappedWorkersEndWithK6(t *testing.T) {
	t.Parallel()
	for lang, argv := range workerCommands(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			command, _ := json.Marshal(append([]string{"timeout", "600"}, argv...))
			k6 := k6test.StartScript(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const pool = new ProcessPool({ workers: 2, command: %s });
export const options = { iterations: 1 };
export default async function () {
  await pool.map('noop', [{}, {}]);
  console.log('READY');
  await pool.run('io.sleep', { duration: '60s' });
}
`, command))
			k6.WaitForOutput(t, "READY", time.Minute)
			// The wrappers and the workers: both carry the pool's marker.
			require.GreaterOrEqual(t, len(k6test.WorkersOf(k6.Cmd.Process.Pid)), 4)
			k6.Signal(syscall.SIGKILL)
			k6.Wait(time.Minute)
			k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 15*time.Second)
		})
	}
}

// TestWorkerLibrariesAnswer: the Python and Node.js libraries answer every
// request through k6, whatever the workload throws or returns, and keep
// serving a sibling task in flight: an error that cannot be rendered, a
// nested NaN (refused by both, naming where), an async workload (awaited by
// both) and a stray failure nobody handled (reported in k6's log).
func TestWorkerLibrariesAnswer(t *testing.T) {
	t.Parallel()
	commands := workerCommands(t)
	for _, lang := range []string{"python", "node"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			command, _ := json.Marshal(commands[lang])
			k6 := k6test.StartScript(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const pool = new ProcessPool({ workers: 1, concurrency: 2, command: %s, env: { XK6WORKER_HOSTILE: '1' }, taskTimeout: '20s' });
export const options = { iterations: 1 };
const outcome = async (p) => { try { return JSON.stringify(await p); } catch (e) { return e.name + ': ' + e.message; } };
export default async function () {
  pool.runSync('noop');
  const sibling = outcome(pool.run('io.sleep', { duration: '300ms' }));
  const out = {
    unprintable: await outcome(pool.run('hostile.throw', { case: 'unprintable' })),
    nestedNaN: await outcome(pool.run('hostile.return', { case: 'nested_nan' })),
    async: await outcome(pool.run('hostile.async', { case: 'value' })),
    stray: await outcome(pool.run('hostile.stray')),
    sibling: await sibling,
  };
  out.after = await outcome(pool.run('noop'));
  console.log('RESULT ' + JSON.stringify(out));
}
`, command))
			res := k6.Wait(2 * time.Minute)
			require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
			var got map[string]string
			line := strings.TrimPrefix(logLine(t, res.Stderr, "RESULT "), "RESULT ")
			require.NoError(t, json.Unmarshal([]byte(line), &got), line)
			assert.Regexp(t, `^WorkloadError: hostile.throw: .*, whose text cannot be rendered \(`, got["unprintable"])
			assert.Equal(t, "WorkloadError: hostile.return: cannot send its value as JSON: NaN at value.a[1].b", got["nestedNaN"])
			assert.Equal(t, `{"awaited":true}`, got["async"])
			assert.Equal(t, `"ok"`, got["stray"])
			assert.Equal(t, "null", got["sibling"], "the sibling in flight is undisturbed")
			assert.Equal(t, "null", got["after"])
			assert.Contains(t, res.Stderr, "conformance: a stray failure nobody handled", "the stray failure is in k6's log")
			assert.NotContains(t, res.Stderr, "WorkerCrashedError")
			k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
		})
	}
}

// TestPythonUnprintableException is issue 16's worker: an exception whose
// __str__ raises made the worker write no result at all, so runSync never
// settled, and the next task on the 1-worker pool waited too.
func TestPythonUnprintableException(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	worker := filepath.Join(t.TempDir(), "unprintable_worker.py")
	require.NoError(t, os.WriteFile(worker, []byte(`from xk6worker import workload, serve
class Unprintable(Exception):
    def __str__(self): raise RuntimeError('no text')
@workload('unprintable')
def unprintable(params): raise Unprintable()
@workload('noop', kind='io')
def noop(params): return 'ok'
serve()
`), 0o644))
	command, err := json.Marshal([]string{k6test.Interpreter(t, "python3"), worker})
	require.NoError(t, err)
	pythonPath, err := json.Marshal(filepath.Join(root, "examples", "python"))
	require.NoError(t, err)
	k6 := k6test.StartScript(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const p = new ProcessPool({ workers: 1, command: %s, env: { PYTHONPATH: %s }, taskTimeout: '30s' });
export const options = { iterations: 1 };
export default function () {
  let unprintable;
  try { p.runSync('unprintable'); } catch (e) { unprintable = e.name + ': ' + e.message; }
  console.log('RESULT ' + JSON.stringify({ unprintable, next: p.runSync('noop') }));
}
`, command, pythonPath))
	res := k6.Wait(2 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	line := strings.TrimPrefix(logLine(t, res.Stderr, "RESULT "), "RESULT ")
	assert.JSONEq(t, `{"unprintable":"WorkloadError: unprintable: Unprintable, whose text cannot be rendered (str() raised RuntimeError)","next":"ok"}`, line)
	k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
}
