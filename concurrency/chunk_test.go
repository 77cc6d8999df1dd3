package concurrency

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
)

// TestChunkedMap: map with chunkSize (and the automatic one) gives the same
// values in input order as without chunks, fails with the index of the task
// that failed, stops on an abort, and every task has samples of its own, on
// both kinds of pool (chunkSize changes nothing there but speed).
func TestChunkedMap(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			root, vu, name := poolVU(t, k, "chunks", "workers: 2")
			got := vu.run(`
				globalThis.result = {};
				(async () => {
					const params = Array.from({ length: 200 }, (_, i) => ({ limit: 2 + i }));
					result.one = await pool.map('cpu.primes', params, { chunkSize: 1 });
					result.chunked = await pool.map('cpu.primes', params, { chunkSize: 16 });
					result.auto = await pool.map('cpu.primes', params);
					result.huge = await pool.map('cpu.primes', params, { chunkSize: 1000000 });
					const settled = await pool.mapSettled('cpu.primes', params.slice(0, 40), { chunkSize: 7 });
					result.settled = settled.map((r) => r.value);

					const sleeps = Array.from({ length: 40 }, () => ({ duration: '1ms' }));
					sleeps[27] = { duration: '10s' };
					try { await pool.map('io.sleep', sleeps, { chunkSize: 8, timeout: '300ms' }); result.err = 'resolved'; }
					catch (e) { result.err = [e.name, e.index, e.message]; }

					const c = new concurrency.AbortController();
					const slow = Array.from({ length: 30 }, () => ({ duration: '20s' }));
					const aborted = pool.map('io.sleep', slow, { chunkSize: 10, signal: c.signal }).then(() => 'resolved', (e) => [e.name]);
					await new Promise((r) => setTimeout(r, 100));
					c.abort();
					result.aborted = await aborted;
				})();
			`).Export().(map[string]any)
			require.Len(t, got["one"], 200)
			for i, v := range got["one"].([]any) {
				require.NotNil(t, v, "value %d", i)
			}
			assert.Equal(t, got["one"], got["chunked"], "chunks keep input order")
			assert.Equal(t, got["one"], got["auto"])
			assert.Equal(t, got["one"], got["huge"])
			assert.Equal(t, got["one"].([]any)[:40], got["settled"])
			require.IsType(t, []any{}, got["err"], "map rejected")
			e := got["err"].([]any)
			assert.Equal(t, "TimeoutError", e[0])
			assert.EqualValues(t, 27, e[1], "the index of the task that timed out, not of its chunk")
			assert.Contains(t, e[2], "map(): paramsArray[27]: io.sleep timed out")
			assert.Equal(t, []any{"AbortError"}, got["aborted"])

			s := requireSettled(t, root, name)
			assert.EqualValues(t, 4*200+40+40+30, s.Submitted)
			perTask, ran := 0, 0
			for _, smp := range vu.drain() {
				switch smp.Metric.Name {
				case names.MetricTasks:
					perTask++
				case names.MetricTaskDuration:
					ran++
				}
			}
			assert.EqualValues(t, s.Submitted, perTask, "one concurrency_tasks sample per task")
			assert.GreaterOrEqual(t, ran, 4*200+40+27, "a duration sample for each task that ran")
		})
	}
}
