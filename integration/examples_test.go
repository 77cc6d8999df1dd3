package integration

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

func example(t *testing.T, name string) string {
	t.Helper()
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	return filepath.Join(root, "examples", name)
}

// tableRow matches a row of the calls-per-second table.
var tableRow = regexp.MustCompile(`(?m)^(cpu\.primes|io\.sleep)\s+(threads|processes)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s*$`)

// TestThreadsVsProcessesExample runs the main example, shortened, and reads
// its table: every cell has calls, and I/O-bound work scales with workers.
func TestThreadsVsProcessesExample(t *testing.T) {
	t.Parallel()
	k6 := k6test.Start(t, "run", "--quiet", "-e", "CELL=2", "-e", "WORKERS=2,8", example(t, "threads-vs-processes.js"))
	res := k6.Wait(3 * time.Minute)
	require.Equal(t, 0, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	assert.Contains(t, res.Stdout, "function calls per second")
	rows := tableRow.FindAllStringSubmatch(res.Stdout, -1)
	require.Len(t, rows, 4, res.Stdout)
	for _, r := range rows {
		at2, _ := strconv.ParseFloat(r[3], 64)
		at8, _ := strconv.ParseFloat(r[4], 64)
		speedup, _ := strconv.ParseFloat(r[5], 64)
		assert.Positive(t, at2, r[0])
		assert.InDelta(t, at8/at2, speedup, 0.02, r[0])
		if r[1] == "io.sleep" {
			// 10 ms sleeps: 2 workers make at most 200 calls/s, 8 make 800.
			assert.Greater(t, at2, 150.0, r[0])
			assert.Greater(t, speedup, 3.0, "I/O-bound work scales with workers: %s", r[0])
		}
	}
	assert.Contains(t, res.Stdout, "concurrency_task_failed     rate=0.00%")
}

func TestCPUBoundExample(t *testing.T) {
	t.Parallel()
	res := k6test.Start(t, "run", "--quiet", "-e", "WORKERS=2", "-e", "DURATION=2s", example(t, "cpu-bound.js")).Wait(2 * time.Minute)
	assert.Equal(t, 0, res.ExitCode, "its thresholds hold; stderr:\n%s", res.Stderr)
	assert.Contains(t, res.Stdout, "2262 primes below 20000")
}

func TestIOBoundExample(t *testing.T) {
	t.Parallel()
	res := k6test.Start(t, "run", "--quiet", "-e", "DURATION=2s", example(t, "io-bound.js")).Wait(2 * time.Minute)
	assert.Equal(t, 0, res.ExitCode, "its thresholds hold; stderr:\n%s", res.Stderr)
}

var rampLine = regexp.MustCompile(`(?m)^\s*(\d+) workers: (\d+) calls/s$`)

// TestRampingExample: the pool grows 4 -> 8 -> 16 while the scenario runs,
// and the calls per second grow with it.
func TestRampingExample(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"thread", "process"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			res := k6test.Start(t, "run", "--quiet", "-e", "STEP=2", "-e", "KIND="+kind, example(t, "ramping.js")).Wait(2 * time.Minute)
			require.Equal(t, 0, res.ExitCode, "stderr:\n%s", res.Stderr)
			rates := map[int]float64{}
			for _, m := range rampLine.FindAllStringSubmatch(res.Stdout, -1) {
				w, _ := strconv.Atoi(m[1])
				r, _ := strconv.ParseFloat(m[2], 64)
				rates[w] = r
			}
			require.Len(t, rates, 3, res.Stdout)
			assert.Greater(t, rates[8], 1.4*rates[4], res.Stdout)
			assert.Greater(t, rates[16], 1.4*rates[8], res.Stdout)
			assert.NotContains(t, res.Stderr, "level=error")
		})
	}
}
