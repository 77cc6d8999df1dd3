package reliability

import (
	"encoding/json"
	"math/rand/v2"
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

const deathScript = `
import { ProcessPool } from 'k6/x/concurrency';
import { Counter } from 'k6/metrics';
import { sleep } from 'k6';
const unexpected = new Counter('unexpected_errors');
const procs = new ProcessPool({ workers: 8, name: 'victims' });
export const options = {
  setupTimeout: '60s',
  scenarios: { load: { executor: 'constant-vus', vus: 16, duration: __ENV.DURATION, gracefulStop: '30s' } },
  thresholds: { unexpected_errors: ['count==0'] },
};
export function setup() {
  procs.runSync('noop');
  while (procs.stats().live < 8) sleep(0.05);
  console.log('READY');
}
export default function () {
  try {
    procs.runSync('cpu.primes', { limit: 20000 });
  } catch (e) {
    // Every failure must be a crash that names the worker's pid and the signal.
    if (e.name !== 'WorkerCrashedError' || !/pid \d+/.test(e.message) || !/SIGKILL/.test(e.message)) {
      unexpected.add(1);
      console.log('UNEXPECTED ' + e.name + ': ' + e.message);
    }
  }
}
export function teardown() {
  for (let i = 0; i < 400 && procs.stats().live < 8; i++) sleep(0.05);
  console.log('STATS ' + JSON.stringify(procs.stats()));
}
`

// TestWorkerDeathUnderLoad kills random workers of an 8-worker process pool
// with SIGKILL every 200 ms while 16 VUs keep it busy, and accounts for
// every task.
func TestWorkerDeathUnderLoad(t *testing.T) {
	t.Parallel()
	duration := pick(30*time.Second, 8*time.Second)
	minKills := pick(100, 25)
	k6 := k6test.StartScript(t, deathScript, "--out", "json=out.json", "-e", "DURATION="+duration.String())
	pid := k6.Cmd.Process.Pid
	k6.WaitForOutput(t, "msg=READY", time.Minute)

	var kills []time.Time
	deadline := time.Now().Add(duration - time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		<-tick.C
		workers := k6test.WorkersOf(pid)
		if len(workers) == 0 {
			continue
		}
		if syscall.Kill(workers[rand.IntN(len(workers))], syscall.SIGKILL) == nil {
			kills = append(kills, time.Now())
		}
	}
	res := k6.Wait(2 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "no unexpected error (threshold); stderr:\n%s", tail(res.Stderr))
	assert.NotContains(t, res.Stderr, "UNEXPECTED")
	require.GreaterOrEqual(t, len(kills), minKills)

	var stats struct{ Submitted, Completed, Failed, Workers, Live, Restarts int64 }
	require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "STATS ")), &stats))
	assert.Equal(t, stats.Submitted, stats.Completed+stats.Failed, "every task is accounted for")
	assert.EqualValues(t, 8, stats.Live, "the pool ends at 8 live workers")
	assert.Positive(t, stats.Failed)
	assert.LessOrEqual(t, stats.Failed, int64(len(kills)), "a kill fails at most the one task on that worker")

	// The same account in k6's own output.
	var tasks, failed float64
	var failures []time.Time
	for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
		switch {
		case p.Metric == "concurrency_tasks":
			tasks += p.Value
		case p.Metric == "concurrency_task_failed" && p.Value == 1:
			failed++
			failures = append(failures, p.Time)
		}
	}
	assert.InDelta(t, float64(stats.Submitted), tasks, 0, "--out json counts every task")
	assert.InDelta(t, float64(stats.Failed), failed, 0, "--out json counts every failure")
	k6test.RequireNoWorkers(t, pid, 5*time.Second)

	// How long a task on a killed worker took to fail: from the kill to
	// the failure's sample.
	var detect []time.Duration
	for _, f := range failures {
		i, _ := slices.BinarySearchFunc(kills, f, func(k, f time.Time) int { return k.Compare(f) })
		if i > 0 {
			detect = append(detect, f.Sub(kills[i-1]))
		}
	}
	slices.Sort(detect)
	figuref(t, "worker death", "%d SIGKILLs in %s (one every 200 ms) to an 8-worker pool under 16 VUs: %d tasks submitted, %d completed + %d failed = %d accounted (stats() and --out json agree), every failure WorkerCrashedError with pid and signal, %d workers replaced, 8 live at the end, none left after k6 exited",
		len(kills), duration, stats.Submitted, stats.Completed, stats.Failed, stats.Completed+stats.Failed, stats.Restarts)
	if len(detect) > 0 {
		figuref(t, "time to detect a dead worker", "median %s, max %s (kill to failed task, over %d failures)",
			detect[len(detect)/2].Round(time.Microsecond), detect[len(detect)-1].Round(time.Microsecond), len(detect))
		assert.Less(t, detect[len(detect)/2], 100*time.Millisecond)
	}
}

// logged finds a console.log line of k6's stderr that starts with prefix and
// returns the rest of it.
func logged(t *testing.T, stderr, prefix string) string {
	t.Helper()
	for line := range strings.SplitSeq(stderr, "\n") {
		i := strings.Index(line, `msg="`+prefix)
		if i < 0 {
			continue
		}
		var s string
		end := strings.LastIndex(line, `" source=`)
		require.NoError(t, json.Unmarshal([]byte(line[i+4:end+1]), &s), line)
		return strings.TrimPrefix(s, prefix)
	}
	require.FailNow(t, "no such log line", "no log line %q in:\n%s", prefix, tail(stderr))
	return ""
}

// tail keeps the end of a long output for a failure message.
func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
