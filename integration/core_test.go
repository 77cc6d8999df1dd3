// Package integration runs real scripts with the real k6 binary (built once
// per test run, see internal/k6test) and checks what k6 reports: values,
// metrics in --out json, crashes, and that no worker process outlives k6.
package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// readSummary reads the summary.json a script's handleSummary wrote.
func readSummary(t *testing.T, res k6test.Result) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(res.Dir, "summary.json"))
	require.NoError(t, err, "stderr:\n%s", res.Stderr)
	var data map[string]any
	require.NoError(t, json.Unmarshal(b, &data))
	return data
}

const writeSummary = `
export function handleSummary(data) { return { 'summary.json': JSON.stringify(data) }; }
`

// TestIssueSnippet runs the JS API exactly as the issue writes it.
func TestIssueSnippet(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool, ProcessPool, workloads } from 'k6/x/concurrency';
import { check } from 'k6';

const threads = new ThreadPool({ workers: 8 });                 // goroutines in the k6 process
const procs   = new ProcessPool({ workers: 8, taskTimeout: '5s' }); // worker subprocesses

export const options = { vus: 2, iterations: 4, thresholds: { checks: ['rate==1'] } };

export default async function () {
  const n = await threads.run('cpu.primes', { limit: 20000 });  // Promise, resolves with the workload's value
  const m = procs.runSync('cpu.primes', { limit: 20000 });      // blocks this VU only
  const all = await threads.map('io.sleep', [{ duration: '10ms' }, { duration: '20ms' }]); // values, in input order
  threads.resize(16);                                           // takes effect without dropping queued tasks
  check(null, {
    'thread primes': () => n === 2262,
    'process primes': () => m === 2262,
    'map values': () => all.length === 2 && all[0] === null && all[1] === null,
    'resized': () => threads.workers === 16,
    'catalogue': () => workloads().some((w) => w.name === 'cpu.primes' && w.kind === 'cpu'),
  });
}
`+writeSummary, 2*time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	data := readSummary(t, res)
	checks := data["metrics"].(map[string]any)["checks"].(map[string]any)["values"].(map[string]any)
	assert.EqualValues(t, 20, checks["passes"])
	assert.EqualValues(t, 0, checks["fails"])
}

// TestValuesAndErrorsThroughK6 checks workload values and error names as a
// script sees them, on both kinds of pool.
func TestValuesAndErrorsThroughK6(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
import { sleep } from 'k6';
const threads = new ThreadPool({ workers: 2, name: 't' });
const procs = new ProcessPool({ workers: 2, name: 'p', taskTimeout: '300ms' });
export const options = { iterations: 1 };
const name = (f) => { try { f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
export function setup() {
  const out = {};
  for (const [label, pool] of [['thread', threads], ['process', procs]]) {
    out[label] = {
      primes: pool.runSync('cpu.primes', { limit: 20000 }),
      primes100k: pool.runSync('cpu.primes', { limit: 100000 }),
      fib: pool.runSync('cpu.fib', { n: 20 }),
      sha: pool.runSync('cpu.sha256', { bytes: 0, rounds: 1 }),
      matmul: pool.runSync('cpu.matmul', { n: 2 }),
      file: pool.runSync('io.file', { op: 'write', bytes: 1000 }),
      read: pool.runSync('io.file', { op: 'read', bytes: 2048 }),
      noop: pool.runSync('noop'),
      unknown: name(() => pool.runSync('cpu.nope')),
      invalid: name(() => pool.runSync('cpu.primes', { limit: -1 })),
      path: name(() => pool.runSync('io.file', { op: 'read', bytes: 1, path: '/etc/passwd' })),
      fn: name(() => pool.runSync('noop', { f: () => 1 })),
    };
  }
  out.process.timeout = name(() => procs.runSync('cpu.spin', { duration: '10s' }));
  out.process.after = procs.runSync('cpu.primes', { limit: 10 });
  for (let i = 0; i < 200 && procs.stats().live < 2; i++) sleep(0.05); // both workers are up
  out.process.stats = procs.stats();
  return out;
}
export default function () {}
`+writeSummary, 2*time.Minute)
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
	got := readSummary(t, res)["setup_data"].(map[string]any)
	for _, kind := range []string{"thread", "process"} {
		v := got[kind].(map[string]any)
		assert.EqualValues(t, 2262, v["primes"], kind)
		assert.EqualValues(t, 9592, v["primes100k"], kind)
		assert.EqualValues(t, 6765, v["fib"], kind)
		assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", v["sha"], kind)
		assert.NotNil(t, v["matmul"], kind)
		assert.EqualValues(t, 1000, v["file"], kind)
		assert.EqualValues(t, 2048, v["read"], kind)
		assert.Nil(t, v["noop"], kind)
		assert.Contains(t, v["unknown"], "UnknownWorkloadError", kind)
		assert.Contains(t, v["invalid"], `InvalidArgumentError: cpu.primes: param "limit"`, kind)
		assert.Contains(t, v["path"], `InvalidArgumentError: io.file: unknown param "path"`, kind)
		assert.Contains(t, v["fn"], "InvalidArgumentError", kind)
		assert.Contains(t, v["fn"], "function", kind)
	}
	p := got["process"].(map[string]any)
	assert.Contains(t, p["timeout"], "TimeoutError: cpu.spin timed out after 300ms")
	// Who notices the deadline first is a race: the pool's timer (a cancel
	// is sent) or the worker's own deadline (it answers TimeoutError). Both
	// keep the worker.
	assert.Regexp(t, `the worker (was sent a cancel|stopped it)`, p["timeout"])
	assert.EqualValues(t, 4, p["after"], "the pool serves on after a timeout")
	stats := p["stats"].(map[string]any)
	assert.EqualValues(t, 0, stats["restarts"], "the worker answered the cancel: it is kept")
	assert.InDelta(t, stats["submitted"], stats["completed"].(float64)+stats["failed"].(float64), 0)
}

// TestOutJSONTagsAndCounts runs a fixed number of iterations and counts the
// extension's samples in --out json by their tags.
func TestOutJSONTagsAndCounts(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const threads = new ThreadPool({ workers: 4 });
const procs = new ProcessPool({ workers: 2 });
const strict = new ThreadPool({ workers: 1, name: 'strict', taskTimeout: '20ms' });
export const options = {
  scenarios: { fixed: { executor: 'shared-iterations', vus: 4, iterations: 40 } },
  thresholds: {
    'concurrency_tasks{pool_kind:process,workers:2}': ['count==40'],
    'concurrency_tasks{pool_kind:thread,workers:4,workload:io.sleep}': ['count==40'],
    'concurrency_task_failed{pool:strict}': ['rate==1'],
    'concurrency_task_failed{pool:thread-4}': ['rate==0'],
  },
};
export default async function () {
  threads.runSync('io.sleep', { duration: '20ms' });
  await procs.run('cpu.primes', { limit: 1000 });
  try { procs.runSync('cpu.primes', { limit: -1 }); } catch (e) {} // invalid: never a task
  try { strict.runSync('io.sleep', { duration: '1s' }); } catch (e) {} // times out
}
`, 2*time.Minute, "--out", "json=out.json")
	require.Equal(t, 0, res.ExitCode, "thresholds hold; stderr:\n%s", res.Stderr)
	points := k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json"))

	type cell struct{ kind, workers, workload, pool string }
	tasks := map[cell]float64{}
	failed := map[cell]float64{}
	durations := map[cell][]float64{}
	var gauges []k6test.Point
	for _, p := range points {
		if !strings.HasPrefix(p.Metric, "concurrency_") {
			continue
		}
		if p.Metric == "concurrency_pool_workers" {
			gauges = append(gauges, p)
			continue
		}
		c := cell{p.Tags["pool_kind"], p.Tags["workers"], p.Tags["workload"], p.Tags["pool"]}
		assert.Equal(t, "fixed", p.Tags["scenario"], "the VU's tags are kept")
		switch p.Metric {
		case "concurrency_tasks":
			tasks[c] += p.Value
		case "concurrency_task_failed":
			failed[c] += p.Value
		case "concurrency_task_duration":
			durations[c] = append(durations[c], p.Value)
		}
	}
	sleep := cell{"thread", "4", "io.sleep", "thread-4"}
	primes := cell{"process", "2", "cpu.primes", "process-2"}
	timedOut := cell{"thread", "1", "io.sleep", "strict"}
	assert.Equal(t, map[cell]float64{sleep: 40, primes: 40, timedOut: 40}, tasks)
	assert.Equal(t, map[cell]float64{sleep: 0, primes: 0, timedOut: 40}, failed)
	require.Len(t, durations[sleep], 40)
	for _, d := range durations[sleep] {
		assert.GreaterOrEqual(t, d, 20.0)
		assert.Less(t, d, 500.0)
	}
	require.Len(t, durations[primes], 40)
	assert.Len(t, durations[timedOut], 40, "a timed-out task ran, so it has a duration")

	sizes := map[string]float64{}
	for _, g := range gauges {
		sizes[g.Tags["pool"]+"/"+g.Tags["pool_kind"]] = g.Value
	}
	assert.Equal(t, map[string]float64{"thread-4/thread": 4, "process-2/process": 2, "strict/thread": 1}, sizes)
}

var pidInMessage = regexp.MustCompile(`pid (\d+)`)

// TestKilledWorkerFailsOneTask: a SIGKILLed worker makes the task on it fail
// with WorkerCrashedError naming pid and signal; later tasks succeed.
func TestKilledWorkerFailsOneTask(t *testing.T) {
	t.Parallel()
	k6 := k6test.StartScript(t, `
import { ProcessPool } from 'k6/x/concurrency';
const procs = new ProcessPool({ workers: 1, name: 'crashy' });
export const options = { iterations: 1 };
export default function () {
  procs.runSync('noop');
  console.log('WARM');
  let first;
  try { procs.runSync('io.sleep', { duration: '30s' }); first = 'no error'; } catch (e) { first = e.name + ' ' + e.message; }
  console.log('FIRST ' + first);
  const later = [procs.runSync('cpu.primes', { limit: 20000 }), procs.runSync('cpu.primes', { limit: 10 })];
  console.log('LATER ' + JSON.stringify(later) + ' ' + JSON.stringify(procs.stats()));
}
`)
	workers := k6test.WaitForWorkers(t, k6.Cmd.Process.Pid, 1, 30*time.Second)
	k6.WaitForOutput(t, `msg=WARM`, 30*time.Second) // the worker is past its handshake
	time.Sleep(300 * time.Millisecond)              // the io.sleep task is on it
	require.NoError(t, syscall.Kill(workers[0], syscall.SIGKILL))
	res := k6.Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	first := logLine(t, res.Stderr, "FIRST ")
	assert.Contains(t, first, "WorkerCrashedError")
	assert.Contains(t, first, "io.sleep")
	assert.Contains(t, first, "SIGKILL")
	m := pidInMessage.FindStringSubmatch(first)
	require.NotNil(t, m, first)
	assert.Equal(t, strconv.Itoa(workers[0]), m[1])
	later := logLine(t, res.Stderr, "LATER ")
	assert.Contains(t, later, "[2262,4]")
	assert.Contains(t, later, `"restarts":1`)
	assert.Contains(t, later, `"failed":1`)
	k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
}

// logLine finds a console.log line of k6's stderr that starts with prefix.
func logLine(t *testing.T, stderr, prefix string) string {
	t.Helper()
	for line := range strings.SplitSeq(stderr, "\n") {
		if i := strings.Index(line, `msg="`+prefix); i >= 0 {
			s, err := strconv.Unquote(line[i+4 : strings.LastIndex(line, `" source=`)+1])
			require.NoError(t, err, line)
			return s
		}
	}
	require.FailNow(t, "no such log line", "no log line %q in:\n%s", prefix, stderr)
	return ""
}

// busyScript keeps four worker processes busy (two sleeping, two burning
// CPU) for far longer than any test waits, from two VUs per pool.
func busyScript(extra string) string {
	return `
import { ProcessPool } from 'k6/x/concurrency';
import exec from 'k6/execution';
import { sleep } from 'k6';
const sleepers = new ProcessPool({ workers: 2, name: 'sleepers' });
const spinners = new ProcessPool({ workers: 2, name: 'spinners' });
export const options = {
  scenarios: { busy: { executor: 'constant-vus', vus: 4, duration: __ENV.DURATION || '10m', gracefulStop: '0s' } },
};
export function setup() { console.log('K6PID ready'); }
export default function () {
  ` + extra + `
  if (exec.vu.idInTest % 2) sleepers.runSync('io.sleep', { duration: '1h' });
  else spinners.runSync('cpu.spin', { duration: '1h' });
}
`
}

// TestNoWorkerOutlivesK6 ends k6 every way it can end while its workers are
// busy, and checks that no worker process survives it.
func TestNoWorkerOutlivesK6(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		script string
		args   []string
		stop   func(*k6test.Process)
		code   int // the exit code k6 should end with; -1: killed
	}{
		{name: "SIGINT", script: busyScript(""), stop: func(p *k6test.Process) { p.Signal(syscall.SIGINT) }, code: 105},
		{name: "SIGTERM", script: busyScript(""), stop: func(p *k6test.Process) { p.Signal(syscall.SIGTERM) }, code: 105},
		{name: "SIGKILL", script: busyScript(""), stop: func(p *k6test.Process) { p.Signal(syscall.SIGKILL) }, code: -1},
		{name: "duration ends mid-task", script: busyScript(""), args: []string{"-e", "DURATION=3s"}, code: 0},
		{name: "test.abort", script: busyScript(`if (exec.vu.idInTest === 4) { sleep(2); exec.test.abort('enough'); }`), code: 108},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			k6 := k6test.StartScript(t, c.script, c.args...)
			pid := k6.Cmd.Process.Pid
			workers := k6test.WaitForWorkers(t, pid, 4, time.Minute)
			if c.stop != nil {
				time.Sleep(500 * time.Millisecond) // tasks are running on every worker
				c.stop(k6)
			}
			res := k6.Wait(time.Minute)
			assert.Equal(t, c.code, res.ExitCode, "stderr:\n%s", res.Stderr)
			k6test.RequireNoWorkers(t, pid, 5*time.Second)
			for _, w := range workers {
				assert.Eventually(t, func() bool { return !k6test.Running(w) }, 5*time.Second, 10*time.Millisecond, "worker %d", w)
			}
		})
	}
}
