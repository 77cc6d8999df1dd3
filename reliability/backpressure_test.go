package reliability

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// backpressureScript submits N noop tasks as fast as a script can (in
// batches, yielding to the event loop between them so results can settle),
// with maxQueue 10000, and counts how each one ended. A batch of 30,000 is
// three times what the queue holds, so it fills on a loaded machine too
// (a batch of 20,000 did not, once).
const backpressureScript = `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const N = Number(__ENV.N);
const [workload, params] = __ENV.KIND === 'process' ? ['noop', {}] : ['io.sleep', { duration: '1ms' }];
const pool = __ENV.KIND === 'process'
  ? new ProcessPool({ name: 'bp', workers: 4, maxQueue: 10000 })
  : new ThreadPool({ name: 'bp', workers: 4, maxQueue: 10000 });
export const options = { iterations: 1, setupTimeout: '5m' };
export default async function () {
  const counts = { ok: 0, full: 0, other: 0 };
  const began = Date.now();
  let pending = [];
  for (let i = 0; i < N; i++) {
    pending.push(pool.run(workload, params).then(() => { counts.ok++; }, (e) => {
      if (e.name === 'QueueFullError') counts.full++; else { counts.other++; console.log('OTHER ' + e.name + ': ' + e.message); }
    }));
    if (pending.length === 30000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  counts.seconds = (Date.now() - began) / 1000;
  counts.stats = pool.stats();
  console.log('RESULTS ' + JSON.stringify(counts));
}
`

// TestBackpressure: the queue never holds more than maxQueue tasks, every
// task beyond it is rejected at once with QueueFullError and counted as
// failed, nothing is lost, and k6's memory stays bounded. The process pool
// gets the 1,000,000 noop tasks; a thread pool drains noop faster
// than a script can submit (its queue never fills), so its case uses
// io.sleep 1ms to back it up.
//
//nolint:tparallel // the cases take turns, so that the figure of each (seconds, peak RSS) is its own
func TestBackpressure(t *testing.T) {
	t.Parallel()
	//nolint:paralleltest // the cases take turns (see above)
	for _, kind := range []string{"thread", "process"} {
		t.Run(kind, func(t *testing.T) {
			n := pick(1_000_000, 100_000)
			what := "noop"
			if kind == "thread" {
				n, what = pick(200_000, 50_000), "io.sleep 1ms"
			}
			k6 := k6test.StartScript(t, backpressureScript, "-e", "N="+strconv.Itoa(n), "-e", "KIND="+kind)
			peak := k6.WatchPeakRSS()
			res := k6.Wait(10 * time.Minute)
			require.Equal(t, 0, res.ExitCode, tail(res.Stderr))
			var got struct {
				OK, Full, Other int
				Seconds         float64
				Stats           struct{ Submitted, Completed, Failed, Queued, PeakQueued int }
			}
			require.NoError(t, json.Unmarshal([]byte(logged(t, res.Stderr, "RESULTS ")), &got))
			assert.Zero(t, got.Other, "only QueueFullError")
			assert.Equal(t, n, got.OK+got.Full, "every task settled once")
			assert.Equal(t, n, got.Stats.Submitted)
			assert.Equal(t, got.OK, got.Stats.Completed)
			assert.Equal(t, got.Full, got.Stats.Failed, "rejected tasks count as failed")
			assert.Positive(t, got.Full, "the queue did fill")
			assert.LessOrEqual(t, got.Stats.PeakQueued, 10000, "the queue never exceeded maxQueue")
			rss := peak()
			bound := int64(pick(2048, 1024)) << 20
			assert.Less(t, rss, bound)
			figuref(t, "backpressure "+kind, "%d %s tasks submitted in %.1f s with maxQueue 10000 on 4 workers: %d completed, %d rejected with QueueFullError (counted failed), 0 lost; peak queue %d; k6 peak RSS %d MiB (bound asserted: %d MiB)",
				n, what, got.Seconds, got.OK, got.Full, got.Stats.PeakQueued, rss>>20, bound>>20)
		})
	}
}
