package integration

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// startWithTmpdir starts `k6 run script` with an empty TMPDIR of its own,
// which it returns.
func startWithTmpdir(t *testing.T, script string) (*k6test.Process, string) {
	t.Helper()
	dir, tmp := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "script.js")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o644))
	return k6test.StartEnv(t, k6test.Binary(t), []string{"TMPDIR=" + tmp}, "run", "--quiet", path), tmp
}

// requireEmpty fails if anything is left in dir, naming what and its size.
func requireEmpty(t *testing.T, dir string, res k6test.Result) {
	t.Helper()
	var left []string
	var bytes int64
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && path != dir {
			left = append(left, path)
			if info, err := d.Info(); err == nil && !d.IsDir() {
				bytes += info.Size()
			}
		}
		return nil
	})
	if len(left) > 0 {
		require.FailNow(t, "k6 left files in its TMPDIR", "k6 (exit %d) left %d paths (%d bytes) in its TMPDIR, the first: %s\nstderr:\n%s",
			res.ExitCode, len(left), bytes, left[0], res.Stderr)
	}
}

// The thread pool's io.file writes its files in one directory under TMPDIR;
// nothing of it outlives k6, on every way a test ends that lets k6 run its
// end of test: the issue's input (400 reads, 41 MB: k6 used to exit while
// the delete was still running), test.abort(), SIGINT, SIGTERM, and a task
// that timed out mid-write.
func TestThreadPoolLeavesNoFiles(t *testing.T) {
	t.Parallel()
	const issue = `
import { ThreadPool } from 'k6/x/concurrency';
const tp = new ThreadPool({ workers: 2 });
export default async function () {
  await tp.map('io.file', Array.from({ length: 400 }, (_, i) => ({ op: 'read', bytes: (i + 1) * 512 })));
}
`
	const long = `
import { ThreadPool } from 'k6/x/concurrency';
const tp = new ThreadPool({ workers: 2 });
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '60s' } } };
export default async function () {
  await tp.map('io.file', Array.from({ length: 50 }, (_, i) => ({ op: i % 2 ? 'read' : 'write', bytes: (i + 1) * 4096 })));
  console.log('iteration done');
}
`
	cases := []struct {
		name, script string
		signal       syscall.Signal
		exitCode     int
	}{
		{name: "the issue's 400 reads", script: issue},
		{name: "test.abort()", script: `
import { ThreadPool } from 'k6/x/concurrency';
import exec from 'k6/execution';
const tp = new ThreadPool({ workers: 2 });
export default function () {
  for (let i = 0; i < 100; i++) tp.runSync('io.file', { op: 'read', bytes: (i + 1) * 1024 });
  exec.test.abort('enough');
}
`, exitCode: 108},
		{name: "SIGINT", script: long, signal: syscall.SIGINT, exitCode: 105},
		{name: "SIGTERM", script: long, signal: syscall.SIGTERM, exitCode: 105},
		{name: "a task timed out mid-write", script: `
import { ThreadPool } from 'k6/x/concurrency';
const tp = new ThreadPool({ workers: 2 });
export default async function () {
  await tp.run('io.file', { op: 'read', bytes: 1 << 20 });
  const e = await tp.run('io.file', { op: 'write', bytes: 256 << 20 }, { timeout: '5ms' }).catch((e) => e.name);
  if (e !== 'TimeoutError') throw new Error('want a TimeoutError, got ' + e);
}
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			k6, tmp := startWithTmpdir(t, c.script)
			if c.signal != 0 {
				k6.WaitForOutput(t, "iteration done", 60*time.Second)
				k6.Signal(c.signal)
			}
			res := k6.Wait(2 * time.Minute)
			assert.Equal(t, c.exitCode, res.ExitCode, "stderr:\n%s", res.Stderr)
			requireEmpty(t, tmp, res)
		})
	}
}
