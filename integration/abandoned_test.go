package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// A task abandoned because k6 stopped its VU (the scenario's maxDuration and
// gracefulStop ran out) is settled: it counts in concurrency_tasks, and as a
// failure in concurrency_task_failed, exactly as in stats(), on both pools
// and for run() and runSync() alike.
func TestAbandonedTasksInOutJSON(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
// Four process workers: the two VUs' 1 h tasks hold at most four, so each
// VU's noop finds a worker whichever VU runs ahead.
const pools = { thread: new ThreadPool({ workers: 4, name: 't' }), process: new ProcessPool({ workers: 4, name: 'p' }) };
export const options = {
  scenarios: { a: { executor: 'per-vu-iterations', vus: 2, iterations: 1, maxDuration: '2s', gracefulStop: '0s' } },
};
export async function setup() { await pools.process.start(); } // its workers live before the scenario's clock runs
export default async function () {
  for (const p of Object.values(pools)) {
    await p.run('noop');
    p.run('io.sleep', { duration: '1h' }).catch(() => {});
  }
  pools.process.runSync('io.sleep', { duration: '1h' });
}
export function teardown() {
  for (const [kind, p] of Object.entries(pools)) console.log('STATS ' + kind + ' ' + JSON.stringify(p.stats()));
}
`, 2*time.Minute, "--out", "json=out.json")
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)

	type counts struct{ Submitted, Completed, Failed float64 }
	stats := map[string]counts{}
	for line := range strings.SplitSeq(res.Stderr, "\n") {
		_, rest, ok := strings.Cut(line, "STATS ")
		if !ok {
			continue
		}
		kind, text, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(rest), `" source=console`), " ")
		var c counts
		require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(text, `\"`, `"`)), &c), line)
		stats[kind] = c
	}
	require.Equal(t, map[string]counts{
		"thread":  {Submitted: 4, Completed: 2, Failed: 2},
		"process": {Submitted: 6, Completed: 2, Failed: 4},
	}, stats, "stderr:\n%s", res.Stderr)

	metrics := map[string]counts{}
	for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
		c := metrics[p.Tags["pool_kind"]]
		switch p.Metric {
		case "concurrency_tasks":
			c.Submitted += p.Value
		case "concurrency_task_failed":
			c.Failed += p.Value
			c.Completed += 1 - p.Value
		default:
			continue
		}
		metrics[p.Tags["pool_kind"]] = c
	}
	assert.Equal(t, stats, metrics, "concurrency_tasks and concurrency_task_failed count what stats() counts")
}
