package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// poolStats is what a script's stats() says.
type poolStats struct {
	Submitted, Completed, Failed, Queued, Busy, Abandoned, Live, Restarts int64
}

func (s poolStats) accounted() bool {
	return s.Submitted == s.Completed+s.Failed+s.Queued+s.Busy
}

// pythonWorker writes a worker built on examples/python/xk6worker.py with
// the given workload definitions and returns its path.
func pythonWorker(t *testing.T, body string) string {
	t.Helper()
	k6test.Interpreter(t, "python3")
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "worker.py")
	src := fmt.Sprintf("import sys, time\nsys.path.insert(0, %q)\nfrom xk6worker import workload, serve, Cancelled\n%s\nserve()\n",
		filepath.Join(root, "examples", "python"), body)
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	return path
}

// TestRefusedRequestsKeepNoSlot is issue 16's first input: on a 1-worker
// process pool, a request over the frame limit is refused with
// InvalidArgumentError, and the noop after it must still run (it used to
// wait forever: the refused request kept the only slot).
func TestRefusedRequestsKeepNoSlot(t *testing.T) {
	t.Parallel()
	const n = 5
	res := k6test.Run(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const p = new ProcessPool({ name: 'refuse', workers: 1 });
export const options = { scenarios: { s: { executor: 'shared-iterations', iterations: 1, maxDuration: '30s' } } };
export default async function () {
  await p.run('noop');
  const out = { refused: [], noop: 0 };
  for (let i = 0; i < %d; i++) {
    await p.run('io.http', { url: 'http://127.0.0.1:9/', method: 'POST', body: 'x'.repeat(16 << 20) })
      .then(() => out.refused.push('resolved'), (e) => out.refused.push(e.name + ': ' + e.message.slice(0, 120)));
    await p.run('noop');
    out.noop++;
  }
  out.stats = p.stats();
  console.log('RESULTS ' + JSON.stringify(out));
}
`, n), 2*time.Minute)
	require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
	var out struct {
		Refused []string
		Noop    int
		Stats   poolStats
	}
	require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "RESULTS ")), &out))
	require.Len(t, out.Refused, n)
	for _, r := range out.Refused {
		assert.True(t, strings.HasPrefix(r, "InvalidArgumentError: "), r)
		assert.Contains(t, r, "frame limit")
	}
	assert.Equal(t, n, out.Noop, "every noop after a refused request ran")
	assert.True(t, out.Stats.accounted(), "%+v", out.Stats)
	assert.Equal(t, poolStats{Submitted: 2*n + 1, Completed: n + 1, Failed: n, Live: 1}, out.Stats)
	figuref(t, "refused requests", "%d requests refused over the frame limit (InvalidArgumentError), each followed by a noop on the same 1-worker pool: all %d noop ran; stats %+v",
		n, out.Noop, out.Stats)
}

// TestTimeoutSparesItsSiblings is issue 16's third input: on a worker
// running two tasks, one task's timeout fails that task only. With the
// built-in worker, which answers the cancel, the sibling completes and the
// worker is kept. With a Python worker whose task ignores the cancel, the
// worker is killed after CancelGrace and the sibling's error names the task
// that timed out and the unanswered cancel.
func TestTimeoutSparesItsSiblings(t *testing.T) {
	t.Parallel()
	worker := pythonWorker(t, `
@workload('stuck', kind='io')
def stuck(params):
    time.sleep(5)

@workload('wait', kind='io')
def wait(params, *, cancel):
    if cancel.wait(params['seconds']):
        raise Cancelled()
    return 'ok'
`)
	res := k6test.Run(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const builtin = new ProcessPool({ name: 'builtin', workers: 1, concurrency: 2 });
const python = new ProcessPool({ name: 'python', workers: 1, concurrency: 2, command: ['python3', %q] });
export const options = { iterations: 1 };
const outcome = (promise) => promise.then(() => 'ok', (e) => e.name + ': ' + e.message);
export default async function () {
  const out = {};
  await builtin.run('noop');
  const slow = outcome(builtin.run('io.sleep', { duration: '5s' }, { timeout: '200ms' }));
  const sibling = outcome(builtin.run('io.sleep', { duration: '500ms' }));
  out.builtin = { slow: await slow, sibling: await sibling, stats: builtin.stats() };

  await python.run('wait', { seconds: 0 });
  const began = Date.now();
  const stuck = outcome(python.run('stuck', {}, { timeout: '200ms' }));
  const sib = outcome(python.run('wait', { seconds: 30 }));
  out.python = { slow: await stuck, sibling: await sib, ms: Date.now() - began };
  out.python.after = await outcome(python.run('wait', { seconds: 0 }));
  out.python.stats = python.stats();
  console.log('RESULTS ' + JSON.stringify(out));
}
`, worker), 2*time.Minute)
	require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
	type cell struct {
		Slow, Sibling, After string
		MS                   int64
		Stats                poolStats
	}
	var out struct{ Builtin, Python cell }
	require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "RESULTS ")), &out))

	b := out.Builtin
	assert.True(t, strings.HasPrefix(b.Slow, "TimeoutError: "), b.Slow)
	assert.Equal(t, "ok", b.Sibling, "the sibling had no timeout")
	assert.Zero(t, b.Stats.Restarts, "the worker answered the cancel: it is kept")
	assert.True(t, b.Stats.accounted(), "%+v", b.Stats)

	p := out.Python
	assert.True(t, strings.HasPrefix(p.Slow, "TimeoutError: "), p.Slow)
	assert.True(t, strings.HasPrefix(p.Sibling, "WorkerCrashedError: "), p.Sibling)
	assert.Contains(t, p.Sibling, "wait was running when")
	assert.Contains(t, p.Sibling, "task stuck timed out after 200ms and the worker did not answer its cancel within 1s")
	assert.Equal(t, "ok", p.After, "a replacement serves the next task")
	assert.EqualValues(t, 1, p.Stats.Restarts)
	assert.True(t, p.Stats.accounted(), "%+v", p.Stats)
	figuref(t, "timeout siblings", "builtin worker, concurrency 2: %q | sibling %q, %d restarts; Python task ignoring the cancel: sibling %q after %d ms",
		short(b.Slow), b.Sibling, b.Stats.Restarts, p.Sibling, p.MS)
}

// TestAbandonedTasksLeaveTheQueue is issue 16's fifth input: a 1-worker
// pool with maxQueue 1 runs a Python task that ignores cancellation, with a
// noop queued behind it; k6 stops the VU (maxDuration 1s, gracefulStop 0s).
// Half a second later another scenario finds both settled and holding
// nothing, and its noop is admitted and runs once the worker, which did not
// answer the cancel, is replaced.
func TestAbandonedTasksLeaveTheQueue(t *testing.T) {
	t.Parallel()
	worker := pythonWorker(t, `
@workload('stuck', kind='io')
def stuck(params):
    time.sleep(4)

@workload('noop', kind='io')
def noop(params):
    return 'ok'
`)
	res := k6test.Run(t, fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
const p = new ProcessPool({ name: 'abandon', workers: 1, maxQueue: 1, command: ['python3', %q] });
export const options = {
  scenarios: {
    a: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '1s', gracefulStop: '0s', exec: 'a' },
    b: { executor: 'per-vu-iterations', vus: 1, iterations: 1, startTime: '1500ms', exec: 'b' },
  },
};
// The worker starts in setup, outside scenario a's maxDuration, however
// long a loaded machine takes to start Python.
export function setup() { p.runSync('noop'); }
export async function a() {
  await Promise.all([p.run('stuck'), p.run('noop')]);
}
export function b() {
  const out = { seen: p.stats() };
  const began = Date.now();
  try { out.noop = p.runSync('noop'); } catch (e) { out.noop = e.name + ': ' + e.message; }
  out.ms = Date.now() - began;
  out.after = p.stats();
  console.log('RESULTS ' + JSON.stringify(out));
}
`, worker), 2*time.Minute)
	require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
	var out struct {
		Seen, After poolStats
		Noop        string
		MS          int64
	}
	require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "RESULTS ")), &out))
	assert.Equal(t, poolStats{Submitted: 3, Completed: 1, Failed: 2, Abandoned: out.Seen.Abandoned, Live: out.Seen.Live, Restarts: out.Seen.Restarts}, out.Seen,
		"the abandoned tasks count neither queued nor busy")
	assert.LessOrEqual(t, out.Seen.Abandoned, int64(1), "only the task that ignores its cancel holds its worker, until CancelGrace")
	assert.Equal(t, "ok", out.Noop)
	assert.True(t, out.After.accounted(), "%+v", out.After)
	assert.EqualValues(t, 1, out.After.Restarts, "the worker that ignored the cancel was replaced")
	figuref(t, "abandoned tasks", "maxQueue 1, a task ignoring cancellation and a queued noop abandoned when k6 stopped the VU: 0.5 s later stats %+v; the next noop %s after %d ms",
		out.Seen, out.Noop, out.MS)
}

// short is the start of an error message, for a figure.
func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
