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

// TestTagsOfSubmission checks, through --out json, that a task's samples
// carry the tags in force when it was submitted (group, scenario, VU tags),
// not when it settled, and that opts.tags adds to them, on both pools and for
// run, runSync and map.
func TestTagsOfSubmission(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
import { group } from 'k6';
import exec from 'k6/execution';

const pools = [new ThreadPool({ workers: 2, name: 't' }), new ProcessPool({ workers: 2, name: 'p' })];

export const options = {
  scenarios: { tagged: { executor: 'shared-iterations', iterations: 1, vus: 1 } },
};

export default async function () {
  for (const p of pools) {
    const id = p.kind;
    // Submitted in a group, awaited outside it.
    let pending;
    group('submit-here', () => { pending = p.run('io.sleep', { duration: '50ms' }, { tags: { call: 'grouped-' + id } }); });
    await pending;

    // A VU tag changed after submission does not reach the task.
    exec.vu.metrics.tags.phase = 'before';
    const later = p.run('io.sleep', { duration: '50ms' }, { tags: { call: 'vutag-' + id } });
    exec.vu.metrics.tags.phase = 'after';
    await later;
    delete exec.vu.metrics.tags.phase;

    // Per-call tags on the three call forms.
    await p.run('noop', {}, { tags: { name: 'login', call: 'run-' + id } });
    p.runSync('noop', {}, { tags: { name: 'login', call: 'runSync-' + id } });
    await p.map('noop', [{}, {}, {}], { tags: { name: 'login', call: 'map-' + id } });
  }
}
`, 2*time.Minute, "--out", "json=out.json")
	require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)

	byCall := map[string][]k6test.Point{}
	for _, p := range k6test.ReadPoints(t, filepath.Join(res.Dir, "out.json")) {
		if p.Metric == "concurrency_tasks" {
			byCall[p.Tags["call"]] = append(byCall[p.Tags["call"]], p)
		}
	}
	for _, kind := range []string{"thread", "process"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			grouped := byCall["grouped-"+kind]
			require.Len(t, grouped, 1)
			assert.Equal(t, "::submit-here", grouped[0].Tags["group"], "group of the submission")
			assert.Equal(t, "tagged", grouped[0].Tags["scenario"])

			vutag := byCall["vutag-"+kind]
			require.Len(t, vutag, 1)
			assert.Equal(t, "before", vutag[0].Tags["phase"], "VU tag of the submission, not of the settling")
			assert.Empty(t, vutag[0].Tags["group"])

			for form, n := range map[string]int{"run": 1, "runSync": 1, "map": 3} {
				points := byCall[form+"-"+kind]
				require.Len(t, points, n, form)
				for _, p := range points {
					assert.Equal(t, "login", p.Tags["name"], form)
					assert.Equal(t, kind, p.Tags["pool_kind"], form)
					assert.Equal(t, "noop", p.Tags["workload"], form)
					assert.NotContains(t, p.Tags, "phase", form)
				}
			}
		})
	}
	assert.NotContains(t, res.Stderr, "level=error")
}

// TestTagThresholds checks that a threshold on a per-call tag selects the
// tagged tasks, as thresholds on k6's params.tags do.
func TestTagThresholds(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ThreadPool } from 'k6/x/concurrency';
const p = new ThreadPool({ workers: 1 });
export const options = {
  iterations: 1,
  thresholds: {
    'concurrency_tasks{name:login}': ['count==2'],
    'concurrency_tasks{name:logout}': ['count==1'],
  },
};
export default async function () {
  await p.run('noop', {}, { tags: { name: 'login' } });
  await p.run('noop', {}, { tags: { name: 'login' } });
  p.runSync('noop', {}, { tags: { name: 'logout' } });
}
`, time.Minute)
	require.Equal(t, 0, res.ExitCode, "thresholds on per-call tags hold; stderr:\n%s", res.Stderr)
}

// TestWorkersStartQuietly: a k6 v2 worker does not look up k6's extension
// catalog (a network request and a line on stderr for every `k6 x` command),
// so nothing but the pool's own account reaches k6's log.
func TestWorkersStartQuietly(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, `
import { ProcessPool } from 'k6/x/concurrency';
const p = new ProcessPool({ workers: 2 });
export const options = { iterations: 1 };
export default async function () { await p.start(); await p.map('noop', [{}, {}, {}, {}]); }
`, time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	assert.NotContains(t, res.Stderr, "Loading the subcommand list")
	for line := range strings.SplitSeq(strings.TrimSpace(res.Stderr), "\n") {
		assert.Contains(t, line, "closed: 4 tasks submitted", "no other line in k6's log")
	}
}
