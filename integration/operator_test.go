package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// operatorScript is a fixed amount of work on both pools, so that the
// runners' tasks must add up to exactly 2 per iteration.
const operatorScript = `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const threads = new ThreadPool({ workers: 2 });
const procs = new ProcessPool({ workers: 2 });
export const options = {
  scenarios: { work: { executor: 'shared-iterations', vus: 2, iterations: 10 } },
  thresholds: { concurrency_task_failed: ['rate==0'] },
};
export default function () {
  threads.runSync('cpu.primes', { limit: 1000 });
  procs.runSync('cpu.primes', { limit: 1000 });
}
`

// TestK6OperatorCommands runs deploy/k6-operator/testrun.yaml's test the way
// the k6-operator drives a k6 v2 image (its initializer, runner and starter
// jobs), here on one machine: `k6 archive` and `k6 inspect
// --execution-requirements` as the initializer does; two runners, each
// `k6 run --quiet` with its execution segment, `--address`, `--paused` and
// the operator's tags; then the starter's PATCH /v1/status to unpause them.
// k6 v2 removed other flags and made the REST API opt-in, so this checks
// that the ones the operator uses are still there and that the runners'
// tasks add up to the whole test's.
func TestK6OperatorCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "test.js")
	require.NoError(t, os.WriteFile(script, []byte(operatorScript), 0o600))
	binary := k6test.Binary(t)

	archive := filepath.Join(dir, "test.js.archived.tar")
	res := k6test.StartWith(t, binary, "archive", script, "-O", archive).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	res = k6test.StartWith(t, binary, "inspect", "--execution-requirements", archive).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	assert.NotContains(t, res.Stderr, "level=error")
	var inspect struct {
		MaxVUs int `json:"maxVUs"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &inspect), res.Stdout)
	assert.Equal(t, 2, inspect.MaxVUs)

	const parallelism = 2
	runners := make([]*k6test.Process, parallelism)
	addrs := make([]string, parallelism)
	for i := range runners {
		addrs[i] = freeAddr(t)
		runners[i] = k6test.StartWith(t, binary, "run", "--quiet",
			"--execution-segment", fmt.Sprintf("%d/%d:%d/%d", i, parallelism, i+1, parallelism),
			"--execution-segment-sequence", "0,1/2,1",
			"--out", "json="+filepath.Join(dir, fmt.Sprintf("out-%d.json", i)),
			script, "--address="+addrs[i], "--paused",
			"--tag", fmt.Sprintf("instance_id=%d", i), "--tag", "testrun_name=threads-vs-processes")
	}
	for i := range runners {
		unpause(t, addrs[i])
	}
	total := 0
	for i, r := range runners {
		res := r.Wait(2 * time.Minute)
		require.Equal(t, 0, res.ExitCode, res.Stderr)
		for _, p := range k6test.ReadPoints(t, filepath.Join(dir, fmt.Sprintf("out-%d.json", i))) {
			if p.Metric == "concurrency_tasks" {
				assert.Equal(t, fmt.Sprint(i), p.Tags["instance_id"])
				total += int(p.Value)
			}
		}
	}
	assert.Equal(t, 2*10, total, "the runners' tasks add up to the test's")
}

// freeAddr returns a loopback address with a port free at the time of asking.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// unpause is the k6-operator's starter: it waits for the runner's REST API
// and sets paused to false.
func unpause(t *testing.T, addr string) {
	t.Helper()
	body := []byte(`{"data":{"type":"status","id":"default","attributes":{"paused":false}}}`)
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch, "http://"+addr+"/v1/status", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
			return
		}
		require.True(t, time.Now().Before(deadline), "runner at %s: %v", addr, err)
		time.Sleep(50 * time.Millisecond)
	}
}
