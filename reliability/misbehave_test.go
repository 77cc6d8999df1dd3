package reliability

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// TestMisbehavingWorkers runs internal/testworker in each of its ways of
// breaking the protocol as a pool's worker command: every task fails with a
// WorkerCrashedError that names the problem, each broken worker is replaced
// by a new process (which breaks again), and k6's memory stays bounded even
// when a worker's frame claims 4 GiB.
func TestMisbehavingWorkers(t *testing.T) {
	t.Parallel()
	worker := k6test.BinaryOf(t, "./internal/testworker")
	modes := map[string]string{ // mode: what the error must say
		"garbage":           "frame",
		"huge-frame":        "4294967295",
		"truncated":         "",
		"unknown-id":        "not in flight",
		"wrong-protocol":    "protocol 2",
		"silent":            "did not say hello within 500ms",
		"bad-json":          "not valid JSON",
		"exit-before-hello": "exited with status 7",
	}
	var pools, calls strings.Builder
	for mode := range modes {
		// Only the silent worker needs a short startTimeout; the others
		// get one a loaded machine's start cannot run past.
		start := "10s"
		if mode == "silent" {
			start = "500ms"
		}
		fmt.Fprintf(&pools, "pools[%q] = new ProcessPool({ name: %q, workers: 1, startTimeout: %q, command: [%q, %q] });\n",
			mode, mode, start, worker, mode)
	}
	calls.WriteString(`
export default function () {
  const out = {};
  for (const [mode, pool] of Object.entries(pools)) {
    out[mode] = [];
    for (let i = 0; i < 3; i++) {
      try { out[mode].push('resolved ' + JSON.stringify(pool.runSync('t.echo', { i }))); }
      catch (e) { out[mode].push(e.name + ': ' + e.message); }
    }
  }
  // And a good worker of the same program serves on.
  out.good = good.runSync('t.echo', { hello: 'world' });
  console.log('RESULTS ' + JSON.stringify(out));
}
`)
	script := fmt.Sprintf(`
import { ProcessPool } from 'k6/x/concurrency';
export const options = { iterations: 1 };
const pools = {};
%s
const good = new ProcessPool({ name: 'good', workers: 1, command: [%q, 'good'] });
%s`, pools.String(), worker, calls.String())
	k6 := k6test.StartScript(t, script)
	peak := k6.WatchPeakRSS()
	res := k6.Wait(3 * time.Minute)
	require.Equal(t, 0, res.ExitCode, tail(res.Stderr))

	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "RESULTS ")), &out))
	assert.JSONEq(t, `{"hello":"world"}`, string(out["good"]))
	pid := regexp.MustCompile(`pid (\d+)`)
	for mode, want := range modes {
		var results []string
		require.NoError(t, json.Unmarshal(out[mode], &results), mode)
		pids := map[string]bool{}
		for _, r := range results {
			assert.True(t, strings.HasPrefix(r, "WorkerCrashedError: "), "%s: %s", mode, r)
			assert.Contains(t, r, want, mode)
			assert.Contains(t, r, mode, "%s: the message names the command", mode)
			if m := pid.FindStringSubmatch(r); m != nil {
				pids[m[1]] = true
			}
		}
		assert.GreaterOrEqual(t, len(pids), 2, "%s: each broken worker was replaced by a new process: %v", mode, results)
		figuref(t, "misbehaving worker "+mode, "%s", results[0])
	}
	rss := peak()
	figuref(t, "k6 peak RSS with misbehaving workers", "%d MiB (workers claiming 4 GiB frames among them)", rss>>20)
	assert.Less(t, rss, int64(400<<20), "k6's memory stays bounded")
	k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
}
