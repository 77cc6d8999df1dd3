package integration

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// TestChunkedMapThroughK6: map with chunkSize over a process pool of k6
// workers keeps input order, fails with the index of the task that failed,
// and gives every task samples of its own in --out json.
func TestChunkedMapThroughK6(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ProcessPool } from 'k6/x/concurrency';
import { check } from 'k6';

const pool = new ProcessPool({ workers: 2, name: 'chunks' });
export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };

function primes(limit) {
  let n = 0;
  for (let i = 2; i < limit; i++) { // primes below limit, as cpu.primes counts
    let prime = true;
    for (let d = 2; d * d <= i; d++) if (i % d === 0) { prime = false; break; }
    if (prime) n++;
  }
  return n;
}

export default async function () {
  const params = Array.from({ length: 300 }, (_, i) => ({ limit: 2 + (i * 7) % 500 }));
  const values = await pool.map('cpu.primes', params, { chunkSize: 16, tags: { name: 'chunked' } });
  const sleeps = Array.from({ length: 60 }, () => ({ duration: '1ms' }));
  sleeps[41] = { duration: '10s' };
  let failed;
  try {
    await pool.map('io.sleep', sleeps, { chunkSize: 8, timeout: '500ms', tags: { name: 'failing' } });
    failed = 'resolved';
  } catch (e) { failed = [e.name, e.index]; }
  check(null, {
    'input order': () => values.length === 300 && values.every((v, i) => v === primes(params[i].limit)),
    'failing index': () => failed[0] === 'TimeoutError' && failed[1] === 41,
    'account': () => { const s = pool.stats(); return s.submitted === 360 && s.queued === 0; },
  });
}
`, 2*time.Minute, "--out", "json=out.json")
	require.Equal(t, 0, res.ExitCode, "every check passed; stderr:\n%s", res.Stderr)
	count := map[string]map[string]int{}
	for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
		if p.Tags["pool"] != "chunks" || p.Tags["name"] == "" {
			continue
		}
		if count[p.Tags["name"]] == nil {
			count[p.Tags["name"]] = map[string]int{}
		}
		count[p.Tags["name"]][p.Metric]++
	}
	for _, m := range []string{
		"concurrency_tasks", "concurrency_task_failed", "concurrency_task_duration",
		"concurrency_task_wait", "concurrency_task_overhead",
	} {
		assert.Equal(t, 300, count["chunked"][m], "%s: one sample per task of the chunked map", m)
	}
	assert.Equal(t, 60, count["failing"]["concurrency_tasks"], "one sample per task of the failing map")
	assert.GreaterOrEqual(t, count["failing"]["concurrency_task_duration"], 42,
		"the tasks up to the one that timed out ran, each with its own duration")
}
