package reliability

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

const timeoutScript = `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
import { sleep } from 'k6';
const pools = {
  thread: new ThreadPool({ name: 'threads', workers: 2, taskTimeout: '200ms' }),
  process: new ProcessPool({ name: 'procs', workers: 2, taskTimeout: '200ms' }),
};
export const options = { iterations: 1 };
export default function () {
  const out = {};
  for (const [kind, pool] of Object.entries(pools)) {
    pool.runSync('noop');
    for (const [workload, params] of [['cpu.spin', { duration: '5s' }], ['io.sleep', { duration: '5s' }]]) {
      const restarts = pool.stats().restarts;
      const began = Date.now();
      let err;
      try { pool.runSync(workload, params); } catch (e) { err = e; }
      const r = { ms: Date.now() - began, name: err && err.name, message: err && err.message };
      // A timed-out thread task's goroutine returns (its context is
      // cancelled); a process worker answers the cancel and is kept.
      for (let i = 0; i < 500 && (pool.stats().busy > 0 || pool.stats().live < 2); i++) sleep(0.01);
      r.stats = pool.stats();
      out[kind + ' ' + workload] = r;
    }
  }
  console.log('RESULTS ' + JSON.stringify(out));
}
`

// TestTimeouts: a task past its taskTimeout fails with TimeoutError soon
// after it (within timeout + 300 ms here; the figure reports how soon), on
// both pools, for CPU-bound and I/O-bound work; on the thread pool its
// goroutine returns, on the process pool its worker answers the cancel and
// is kept (a worker that does not is killed after CancelGrace:
// TestTimeoutSparesItsSiblings).
//
//nolint:paralleltest // it times a timeout: it runs alone, not beside the suite's kill storms
func TestTimeouts(t *testing.T) {
	res := k6test.Run(t, timeoutScript, 2*time.Minute)
	require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
	var out map[string]struct {
		MS            int64
		Name, Message string
		Stats         struct{ Busy, Live, Restarts, Failed int64 }
	}
	require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "RESULTS ")), &out))
	require.Len(t, out, 4)
	var worst int64
	for cell, r := range out {
		assert.Equal(t, "TimeoutError", r.Name, cell)
		assert.Contains(t, r.Message, "timed out after 200ms", cell)
		assert.GreaterOrEqual(t, r.MS, int64(200), cell)
		assert.LessOrEqual(t, r.MS, int64(500), "%s: TimeoutError within timeout + 300 ms", cell)
		assert.Zero(t, r.Stats.Busy, "%s: nothing is left running", cell)
		worst = max(worst, r.MS)
	}
	assert.Zero(t, out["thread io.sleep"].Stats.Restarts)
	assert.Zero(t, out["process cpu.spin"].Stats.Restarts, "the worker answered the cancel: it is kept")
	assert.Zero(t, out["process io.sleep"].Stats.Restarts, "the worker answered the cancel: it is kept")
	assert.EqualValues(t, 2, out["process io.sleep"].Stats.Live)
	figuref(t, "timeouts", "taskTimeout 200ms: TimeoutError after %d ms at worst (thread and process pools, cpu.spin and io.sleep); thread workloads return, process workers answer the cancel and are kept (%d restarts)",
		worst, out["process io.sleep"].Stats.Restarts)
}
