package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// TestControlThroughK6 drives cancel, drain, start and the map family with
// the real k6, on both pools, and reads the outcome from the summary and the
// pool gauges from --out json.
func TestControlThroughK6(t *testing.T) {
	t.Parallel()
	k6 := k6test.StartScript(t, `
import { ThreadPool, ProcessPool, AbortController } from 'k6/x/concurrency';
import { check } from 'k6';

const pools = [new ThreadPool({ workers: 1, name: 't' }), new ProcessPool({ workers: 1, name: 'p' })];
export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };
const outcome = (p) => p.then((v) => ['ok', v], (e) => [e.name, e.index]);

export default async function () {
  for (const pool of pools) {
    await pool.start();
    const c = new AbortController();
    const started = Date.now();
    const running = outcome(pool.run('io.sleep', { duration: '30s' }, { signal: c.signal }));
    const queued = outcome(pool.run('cpu.primes', { limit: 100 }, { signal: c.signal }));
    await new Promise((r) => setTimeout(r, 200));
    c.abort();
    const [r, q] = [await running, await queued];
    const after = await outcome(pool.run('cpu.primes', { limit: 10 }));
    const failed = await outcome(pool.map('cpu.primes', [{ limit: 10 }, { limit: 1 }]));
    const settled = await pool.mapSettled('cpu.primes', [{ limit: 10 }, { limit: 100 }]);
    const order = [];
    pool.resize(2);
    await pool.start(); // the new worker is up: the order below does not depend on how fast it starts
    await pool.asCompleted('io.sleep', [{ duration: '200ms' }, { duration: '1ms' }], (res, i) => order.push(i));
    const backlog = [1, 2, 3].map(() => outcome(pool.run('io.sleep', { duration: '100ms' })));
    await pool.close({ drain: true });
    const drained = await Promise.all(backlog);
    check(pool, {
      [pool.kind + ': abort running']: () => r[0] === 'AbortError' && Date.now() - started < 20000,
      [pool.kind + ': abort queued']: () => q[0] === 'AbortError',
      [pool.kind + ': serves after abort']: () => after[0] === 'ok' && after[1] === 4,
      [pool.kind + ': map index']: () => failed[0] === 'InvalidArgumentError' && failed[1] === 1,
      [pool.kind + ': mapSettled']: () => settled.map((s) => s.value).join() === '4,25',
      [pool.kind + ': asCompleted order']: () => order.join() === '1,0',
      [pool.kind + ': drain']: () => drained.every((d) => d[0] === 'ok'),
      [pool.kind + ': account']: (p) => { const s = p.stats(); return s.submitted === s.completed + s.failed && s.live === 0; },
    });
  }
}
`, "--out", "json=out.json")
	res := k6.Wait(2 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "every check passed; stderr:\n%s", res.Stderr)

	seen := map[string]map[string]int{}
	busy := map[string]float64{}
	for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
		switch p.Metric {
		case "concurrency_pool_queued", "concurrency_pool_busy", "concurrency_pool_live", "concurrency_pool_utilization":
			if seen[p.Tags["pool"]] == nil {
				seen[p.Tags["pool"]] = map[string]int{}
			}
			seen[p.Tags["pool"]][p.Metric]++
			if p.Metric == "concurrency_pool_busy" {
				busy[p.Tags["pool"]] = max(busy[p.Tags["pool"]], p.Value)
			}
		}
	}
	for _, pool := range []string{"t", "p"} {
		for _, m := range []string{"concurrency_pool_queued", "concurrency_pool_busy", "concurrency_pool_live", "concurrency_pool_utilization"} {
			assert.GreaterOrEqual(t, seen[pool][m], 2, "pool %s: %s in --out json", pool, m)
		}
		assert.GreaterOrEqual(t, busy[pool], 1.0, "pool %s: its workers were seen busy", pool)
	}
	k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
}

// TestGaugesEndAtZero: whether the script closes a pool or k6 closes it at
// the test's end, each gauge's last sample in --out json is that of the
// closed pool (nothing queued, busy or live), and each pool's account is
// logged once.
func TestGaugesEndAtZero(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';

const pools = [
  new ThreadPool({ workers: 2, name: 't-open' }), new ProcessPool({ workers: 2, name: 'p-open' }),
  new ThreadPool({ workers: 2, name: 't-closed' }), new ProcessPool({ workers: 2, name: 'p-closed' }),
];
export const options = { iterations: 1 };

export default async function () {
  await Promise.all(pools.map((p) => p.map('io.sleep', [1, 2, 3, 4].map(() => ({ duration: '50ms' })))));
  await pools[2].close();
  await pools[3].close();
}
`, 2*time.Minute, "--out", "json=out.json")
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)

	type key struct{ pool, metric string }
	last := map[key]k6test.Point{}
	for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
		switch p.Metric {
		case "concurrency_pool_queued", "concurrency_pool_busy", "concurrency_pool_live", "concurrency_pool_utilization":
			k := key{p.Tags["pool"], p.Metric}
			if prev, ok := last[k]; !ok || !p.Time.Before(prev.Time) {
				last[k] = p
			}
		}
	}
	for _, pool := range []string{"t-open", "p-open", "t-closed", "p-closed"} {
		for _, m := range []string{"concurrency_pool_queued", "concurrency_pool_busy", "concurrency_pool_live", "concurrency_pool_utilization"} {
			p, ok := last[key{pool, m}]
			if assert.True(t, ok, "pool %s: %s in --out json", pool, m) {
				assert.Zero(t, p.Value, "pool %s: the last sample of %s", pool, m)
			}
		}
		accounts := 0
		for line := range strings.Lines(res.Stderr) {
			if strings.Contains(line, "closed: 4 tasks submitted, 4 completed") && strings.HasSuffix(strings.TrimSpace(line), "pool="+pool) {
				accounts++
			}
		}
		assert.Equal(t, 1, accounts, "pool %s: its account logged once; stderr:\n%s", pool, res.Stderr)
	}
}
