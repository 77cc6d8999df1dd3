package reliability

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// spawnWorker is issue 16's worker: its workloads start `sleep 40` and make
// a directory in their TMPDIR (as io.file does), record both, then block
// ignoring cancellation (spawn), return (spawn-return) or exit with status 3
// (spawn-crash). The child records whether it carries the worker marker,
// which is how the reliability suite finds a worker's descendants.
const spawnWorker = `
import os, subprocess, tempfile, time
from xk6worker import workload, serve

def start_helper():
    child = subprocess.Popen(['sleep', '40'])
    left = tempfile.mkdtemp(prefix='xk6-concurrency-')
    with open(os.path.join(left, 'left'), 'w') as f:
        f.write('x')
    # Popen returns once the child's exec has begun, and its environ reads
    # empty until the exec has set up the new stack: look again for a moment.
    entry = ('XK6_CONCURRENCY_WORKER=%s\0' % os.environ['XK6_CONCURRENCY_WORKER']).encode()
    marked = False
    for _ in range(200):
        with open('/proc/%d/environ' % child.pid, 'rb') as f:
            env = f.read()
        if env:
            marked = entry in env
            break
        time.sleep(0.005)
    with open(os.environ['PIDS'], 'a') as f:
        f.write('%d %s %s\n' % (child.pid, tempfile.gettempdir(), marked))

@workload('spawn', kind='io')
def spawn(params):
    start_helper()
    time.sleep(60)

@workload('spawn-return', kind='io')
def spawn_return(params):
    start_helper()
    time.sleep(params.get('hold', 0))
    return 'ok'

@workload('noop', kind='io')
def noop(params):
    return None

@workload('spawn-crash', kind='io')
def spawn_crash(params):
    start_helper()
    os._exit(3)

serve()
`

// descendantsScript ends a worker that has a child the way CASE says, then
// says "ACTION DONE" and keeps k6 running for HOLD seconds (except at the
// end of the test, which is the case's end).
const descendantsScript = `
import { ProcessPool } from 'k6/x/concurrency';
import { sleep } from 'k6';
const CASE = __ENV.CASE;
const opts = { name: 'spawn', command: [__ENV.PYTHON, __ENV.WORKER], env: { PYTHONPATH: __ENV.LIB, PIDS: __ENV.PIDS },
  workers: CASE === 'resize down' ? 2 : 1, startTimeout: '60s' };
if (CASE === 'timeout') opts.taskTimeout = '2s'; // issue 16's was 500ms: 2s leaves a loaded machine time to start the child first
if (CASE === 'recycle') opts.maxTasksPerWorker = 1;
const p = new ProcessPool(opts);
export const options = { scenarios: { one: { executor: 'shared-iterations', iterations: 1, maxDuration: '2m' } } };
const outcome = (promise) => promise.then(() => 'ok', (e) => e.name);
export default async function () {
  let got;
  switch (CASE) {
    case 'timeout': // issue 16's input: runSync on a pool with a taskTimeout
      try { p.runSync('spawn'); got = 'ok'; } catch (e) { got = e.name; }
      break;
    case 'crash': got = await outcome(p.run('spawn-crash')); break;
    case 'recycle': got = await outcome(p.run('spawn-return')); break;
    case 'resize down': // one child on each worker, then one worker retired
      await p.run('noop');
      for (let i = 0; i < 600 && p.stats().live < 2; i++) sleep(0.1);
      got = (await Promise.all([outcome(p.run('spawn-return', { hold: 1 })), outcome(p.run('spawn-return', { hold: 1 }))])).join();
      p.resize(1);
      break;
    case 'close': got = await outcome(p.run('spawn-return')); await p.close(); break;
    case 'end of test': got = await outcome(p.run('spawn-return')); break;
  }
  console.log('ACTION DONE ' + got);
  if (CASE !== 'end of test') sleep(Number(__ENV.HOLD));
}
`

// TestNoDescendantOutlivesItsWorker is issue 16's fault 4 and issue 17's
// fault 2 (second bullet) through the real k6, on every path by which a
// pool ends a worker: the worker's child (sleep 40, carrying the worker
// marker) and the worker's TMPDIR are gone as soon as the worker is, while
// k6 still runs, and k6's TMPDIR is empty after it exits.
func TestNoDescendantOutlivesItsWorker(t *testing.T) {
	t.Parallel()
	python := k6test.Interpreter(t, "python3")
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	cases := []struct {
		name, result string
		ended        int // workers the case ends while k6 runs (one child each)
		children     int // children the case's workers start
	}{
		{"timeout", "TimeoutError", 1, 1},
		{"crash", "WorkerCrashedError", 1, 1},
		{"recycle", "ok", 1, 1},
		{"resize down", "ok,ok", 1, 2},
		{"close", "ok", 1, 1},
		{"end of test", "ok", 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, tmp := t.TempDir(), t.TempDir()
			worker := filepath.Join(dir, "spawn_worker.py")
			require.NoError(t, os.WriteFile(worker, []byte(spawnWorker), 0o644))
			pids := filepath.Join(dir, "pids")
			script := filepath.Join(dir, "script.js")
			require.NoError(t, os.WriteFile(script, []byte(descendantsScript), 0o644))
			k6 := k6test.StartEnv(t, k6test.Binary(t), []string{"TMPDIR=" + tmp}, "run", "--quiet",
				"-e", "CASE="+tc.name, "-e", "PYTHON="+python, "-e", "WORKER="+worker, "-e", "LIB="+filepath.Join(root, "examples", "python"),
				"-e", "PIDS="+pids, "-e", "HOLD=8", script)
			k6.WaitForOutput(t, "ACTION DONE", 90*time.Second)
			assert.Contains(t, k6.Stderr(), "ACTION DONE "+tc.result)
			helpers := readHelpers(t, pids, tc.children)
			for _, h := range helpers {
				assert.True(t, h.marked, "sleep pid %d carries the worker marker", h.pid)
			}
			if tc.ended > 0 {
				// While k6 runs: the ended worker's child and TMPDIR are gone,
				// a live worker's are not. Each look is one snapshot, since
				// reading a child twice could catch it between its own end
				// and its TMPDIR's.
				deadline := time.Now().Add(5 * time.Second)
				snap := look(helpers)
				for !snap.settled(tc.ended) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
					snap = look(helpers)
				}
				require.False(t, k6.Exited(), "k6 ended before the check:\n%s", tail(k6.Stderr()))
				assert.Equal(t, tc.ended, snap.gone(), "children gone while k6 runs: %+v", snap)
				for _, s := range snap {
					assert.Equal(t, s.running, s.tmpThere, "worker TMPDIR %s is there exactly while its child %d runs", s.tmp, s.pid)
				}
			}
			res := k6.Wait(2 * time.Minute)
			assert.Equal(t, 0, res.ExitCode, tail(res.Stderr))
			for _, h := range helpers {
				assert.False(t, k6test.Running(h.pid), "sleep pid %d outlived k6", h.pid)
			}
			k6test.RequireNoWorkers(t, k6.Cmd.Process.Pid, 5*time.Second)
			entries, err := os.ReadDir(tmp)
			require.NoError(t, err)
			assert.Empty(t, entries, "k6's TMPDIR after the run")
			figuref(t, "descendants "+tc.name, "%d worker children, %d gone with their worker while k6 ran, none after it exited; TMPDIR empty", len(helpers), tc.ended)
		})
	}
}

type helper struct {
	pid    int
	tmp    string // the worker's TMPDIR
	marked bool   // it carried the worker marker
}

// readHelpers reads the n lines the workers write to path, waiting for them:
// a task that times out may end before its worker has written its line.
func readHelpers(t *testing.T, path string, n int) []helper {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		if len(lines) >= n || time.Now().After(deadline) {
			break
		}
	}
	require.Len(t, lines, n, "lines in %s", path)
	out := make([]helper, 0, len(lines))
	for _, line := range lines {
		f := strings.Fields(line)
		require.Len(t, f, 3, "line %q", line)
		pid, err := strconv.Atoi(f[0])
		require.NoError(t, err)
		out = append(out, helper{pid: pid, tmp: f[1], marked: f[2] == "True"})
	}
	return out
}

// helperState is one look at a helper: whether its child runs, then
// whether its worker's TMPDIR is there. The pool removes the TMPDIR after
// the child is gone, so in this order a look can see a dead child with its
// TMPDIR (not yet settled) but not the reverse.
type helperState struct {
	helper
	running, tmpThere bool
}

type snapshot []helperState

func look(hs []helper) snapshot {
	out := make(snapshot, len(hs))
	for i, h := range hs {
		out[i] = helperState{helper: h, running: k6test.Running(h.pid)}
		_, err := os.Stat(h.tmp)
		out[i].tmpThere = err == nil
	}
	return out
}

// settled reports whether ended children are gone, and each worker's
// TMPDIR is there exactly while its child runs.
func (s snapshot) settled(ended int) bool {
	for _, h := range s {
		if h.running != h.tmpThere {
			return false
		}
	}
	return s.gone() == ended
}

func (s snapshot) gone() int {
	n := 0
	for _, h := range s {
		if !h.running {
			n++
		}
	}
	return n
}

// killedFileScript is issue 17's second bullet: the built-in worker writes
// files with io.file, then is killed (the test SIGKILLs it: since a timeout
// kills only a worker that does not answer its cancel, and every built-in
// workload answers, a kill from outside is the way to kill this worker
// mid-life; ipc's TestPrivateTemp covers the pool's own Kill); k6 then keeps
// running.
const killedFileScript = `
import { ProcessPool } from 'k6/x/concurrency';
import { sleep } from 'k6';
const p = new ProcessPool({ name: 'files', workers: 1 });
export const options = { iterations: 1 };
export default function () {
  for (let i = 0; i < 20; i++) p.runSync('io.file', { op: i % 2 ? 'read' : 'write', bytes: 64 << 10 });
  console.log('FILES WRITTEN');
  sleep(6);
}
`

// TestKilledWorkerLeavesNoFiles: the files io.file made in a worker that was
// killed are gone once the worker is, while k6 runs (only the replacement's
// own, empty, TMPDIR is there), and k6's TMPDIR is empty after the run.
func TestKilledWorkerLeavesNoFiles(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dir := t.TempDir()
	script := filepath.Join(dir, "script.js")
	require.NoError(t, os.WriteFile(script, []byte(killedFileScript), 0o644))
	k6 := k6test.StartEnv(t, k6test.Binary(t), []string{"TMPDIR=" + tmp}, "run", "--quiet", script)
	k6.WaitForOutput(t, "FILES WRITTEN", time.Minute)
	require.NotEmpty(t, leftIn(t, tmp), "io.file wrote its files in the worker's TMPDIR")
	workers := k6test.WorkersOf(k6.Cmd.Process.Pid)
	require.Len(t, workers, 1)
	require.NoError(t, syscall.Kill(workers[0], syscall.SIGKILL))
	var left []string
	deadline := time.Now().Add(3 * time.Second)
	for {
		left = leftIn(t, tmp)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.False(t, k6.Exited(), "k6 ended before the check")
	assert.Empty(t, left, "files of the killed worker, while k6 runs")
	res := k6.Wait(time.Minute)
	assert.Equal(t, 0, res.ExitCode, tail(res.Stderr))
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "k6's TMPDIR after the run")
	figuref(t, "killed worker's files", "io.file's files of a SIGKILLed worker: gone with the worker; TMPDIR empty after the run")
}

// leftIn lists the files under tmp (directories aside: a live worker's
// TMPDIR is one).
func leftIn(t *testing.T, tmp string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	return files
}
