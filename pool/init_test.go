package pool

import (
	"context"
	"encoding/json"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// initsRun counts t.init's runs in this process: the thread pools' inits in
// the test binary, or one worker process's own.
var initsRun atomic.Int64 //nolint:gochecknoglobals // counted by t.init in whichever process runs it

// TestInitRunsOncePerWorker: every worker runs the init once before its
// first task, growth by Resize included (thread pool), and every new worker
// process does too, recycled ones included.
//
//nolint:paralleltest // counts t.init's runs in this process
func TestInitRunsOncePerWorker(t *testing.T) {
	t.Run("thread", func(t *testing.T) {
		before := initsRun.Load()
		p := newPool(t, Config{Kind: Thread, Workers: 3, Init: &Init{Workload: "t.init"}})
		require.NoError(t, p.WaitLive(context.Background()))
		for range 6 {
			require.Nil(t, run(t, p, "noop", nil).Err)
		}
		assert.EqualValues(t, 3, initsRun.Load()-before)
		require.NoError(t, p.Resize(5))
		require.NoError(t, p.WaitLive(context.Background()))
		assert.EqualValues(t, 5, initsRun.Load()-before, "workers added by resize run it too")
	})
	t.Run("process", func(t *testing.T) {
		p := newPool(t, Config{Kind: Process, Workers: 2, Process: ProcessConfig{MaxTasksPerWorker: 2}, Init: &Init{Workload: "t.init"}})
		pids := map[float64]bool{}
		for range 8 {
			task := run(t, p, "t.inits", nil)
			require.Nil(t, task.Err)
			var got struct{ PID, Inits float64 }
			b, err := json.Marshal(task.Value)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &got))
			assert.InDelta(t, 1.0, got.Inits, 0, "each worker process ran its init once")
			pids[got.PID] = true
		}
		assert.GreaterOrEqual(t, len(pids), 4, "recycled workers (maxTasksPerWorker: 2) run it too")
	})
}

// TestInitFails: a worker whose init fails takes no task; the tasks fail
// with WorkerStartError saying the init failed, and WaitLive (start()) too.
func TestInitFails(t *testing.T) {
	t.Parallel()
	for _, kind := range []Kind{Thread, Process} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{Kind: kind, Workers: 2, Init: &Init{Workload: "t.fail"}})
			err := p.WaitLive(context.Background())
			require.Error(t, err)
			assert.Equal(t, taskerr.WorkerStart, taskerr.CodeOf(err))
			assert.Contains(t, err.Error(), "init (t.fail) failed")
			task := run(t, p, "noop", nil)
			require.NotNil(t, task.Err)
			assert.Equal(t, taskerr.WorkerStart, task.Err.Code)
			assert.Contains(t, task.Err.Message, "init (t.fail) failed: t.fail: boom")
			assert.False(t, task.Ran(), "a task no worker took has no duration, wait or overhead sample")
			s := p.Stats()
			assert.Equal(t, s.Submitted, s.Completed+s.Failed+int64(s.Queued)+s.Busy, "%+v", s)
			assert.Zero(t, s.Live)
		})
	}
}

// TestInitIsCheckedAtNew: the init's workload and params are checked when
// the pool is made, as a task's are.
func TestInitIsCheckedAtNew(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		init *Init
		want string
	}{
		{&Init{Workload: "no.such"}, `init: unknown workload "no.such"`},
		{&Init{Workload: "cpu.primes", Params: map[string]any{"limit": -1.0}}, `init: cpu.primes: param "limit"`},
		{&Init{Workload: ""}, "init: workload must name a workload"},
	} {
		t.Run(c.want, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []Kind{Thread, Process} {
				cfg := Config{
					Kind: kind, Name: "bad-init", Workers: 1, Registry: testRegistry, Init: c.init,
					Process: ProcessConfig{Command: []string{os.Args[0]}, SameRegistry: true},
				}
				_, err := New(cfg)
				require.Error(t, err, kind)
				assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err))
				assert.Contains(t, err.Error(), c.want)
			}
		})
	}
}

// TestWaitLiveAfterAFailedStart: a failure that happened before WaitLive
// was called, with no worker up since, is still its answer (it once waited
// for a retry that nothing would trigger).
func TestWaitLiveAfterAFailedStart(t *testing.T) {
	t.Parallel()
	for _, kind := range []Kind{Thread, Process} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{Kind: kind, Workers: 1, Init: &Init{Workload: "t.fail"}})
			p.Start()
			require.Eventually(t, func() bool { return p.startFailure.Load() != nil }, 10*time.Second, time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := p.WaitLive(ctx)
			require.Error(t, err)
			assert.Equal(t, taskerr.WorkerStart, taskerr.CodeOf(err), "%v", err)
			assert.Contains(t, err.Error(), "init (t.fail) failed")
		})
	}
}
