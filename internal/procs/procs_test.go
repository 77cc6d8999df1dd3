package procs

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFindsAChild: a child started with a marker in its environment is found
// by it, by its command line, and read; once reaped it is found no more.
func TestFindsAChild(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux's /proc")
	}
	entry := "PROCS_TEST_MARK=" + strconv.Itoa(os.Getpid()) + "-" + t.Name()
	cmd := exec.CommandContext(t.Context(), "sleep", "31.5")
	cmd.Env = append(os.Environ(), entry)
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The environment reads empty until the child has exec'd.
	require.Eventually(t, func() bool { return HasEnv(pid, entry) }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, []int{pid}, WithEnv(entry))
	assert.Contains(t, WithEnvKey("PROCS_TEST_MARK"), pid)
	assert.Contains(t, Mentioning("31.5"), pid)
	assert.False(t, HasEnv(pid, entry+"x"), "a longer value is another entry")
	assert.NotContains(t, WithEnv(entry), os.Getpid(), "the scan leaves this process out")

	assert.True(t, Running(pid))
	parent, err := Parent(pid)
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), parent)
	_, err = CPU(pid)
	require.NoError(t, err)
	mem, err := MemoryOf(pid)
	require.NoError(t, err)
	assert.Positive(t, mem.RSS)
	assert.GreaterOrEqual(t, mem.Peak, mem.RSS)

	require.NoError(t, cmd.Process.Kill())
	require.Eventually(t, func() bool { s, _ := State(pid); return s == "Z" }, 5*time.Second, 5*time.Millisecond,
		"a killed child not yet reaped is a zombie")
	assert.False(t, Running(pid), "a zombie is not running")
	assert.Empty(t, WithEnv(entry), "a zombie is not listed")
	_, err = CPU(pid)
	require.Error(t, err)
	_ = cmd.Wait()
	assert.False(t, Running(pid))
}
