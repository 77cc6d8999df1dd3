package k6test

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSampleTree starts a busy process carrying this process's worker
// marker, as a k6 worker carries its k6's: SampleTree must find it and
// count its CPU time.
func TestSampleTree(t *testing.T) {
	t.Parallel()
	child := exec.CommandContext(t.Context(), "sh", "-c", "while :; do :; done")
	child.Env = append(os.Environ(), ipc.WorkerEnv+"="+strconv.Itoa(os.Getpid()))
	require.NoError(t, child.Start())
	defer func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	}()
	pid := child.Process.Pid

	// The child's /proc/<pid>/environ reads empty while it is between fork
	// and exec: sample until it shows.
	var first TreeCPU
	for wait := time.Now().Add(5 * time.Second); ; {
		var err error
		first, err = SampleTree(os.Getpid())
		require.NoError(t, err)
		if _, ok := first.Workers[pid]; ok {
			break
		}
		if time.Now().After(wait) {
			require.FailNow(t, "the marked child is not among the workers", "child %d, workers %v", pid, first.Workers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		time.Sleep(20 * time.Millisecond)
		now, err := SampleTree(os.Getpid())
		require.NoError(t, err)
		require.Greater(t, now.At, first.At, "sample times")
		if _, workers := now.Since(first); workers > 0 {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "the busy worker used no CPU time in 20 s", "worker %d: %v then %v", pid, first.Workers, now.Workers)
		}
	}
}

func TestSampleTreeOfNoProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), "true")
	require.NoError(t, cmd.Run())
	_, err := SampleTree(cmd.Process.Pid)
	require.Error(t, err, "a process that ended and was reaped has a CPU time")
}

func TestTreeCPUSince(t *testing.T) {
	t.Parallel()
	a := TreeCPU{K6: 10, Workers: map[int]uint64{1: 5, 2: 7}}
	b := TreeCPU{K6: 15, Workers: map[int]uint64{1: 9, 3: 100}} // 2 ended, 3 started: neither counts
	k6, workers := b.Since(a)
	assert.Equal(t, uint64(5), k6, "since: k6")
	assert.Equal(t, uint64(4), workers, "since: workers")
}

func TestMemoryOf(t *testing.T) {
	t.Parallel()
	m, err := MemoryOf(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, m.RSS, "memory of this process: %+v", m)
	assert.Positive(t, m.Anon, "memory of this process: %+v", m)
	assert.Positive(t, m.PSS, "memory of this process: %+v", m)
	assert.LessOrEqual(t, m.Anon, m.RSS, "memory of this process: %+v", m)
}
