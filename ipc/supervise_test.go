package ipc

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
	"github.com/k6-concurrency/xk6-concurrency/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withSupervisionWorkloads adds the workloads of the supervision tests to a
// test worker's registry: t.spawn starts `sleep 40` (a descendant that
// outlives its worker unless the pool kills it), writes the sleep's pid and
// a file in its TMPDIR, then ends as param "then" says:
//
//	return    return at once (the worker obeys Close)
//	block     sleep, ignoring cancellation (Close escalates to SIGTERM)
//	stubborn  ignore SIGTERM, then block (Close escalates to SIGKILL)
//	exit      exit with status 3 (the worker crashes on its own)
//
// With param escape, the sleep starts in a session of its own (setsid), out
// of the worker's process group.
func withSupervisionWorkloads(reg *workload.Registry) *workload.Registry {
	err := reg.Add("t.spawn", workload.IO, func(_ context.Context, args workload.Args) (any, error) {
		sleep := exec.Command("sleep", "40") //nolint:noctx // the supervisor must end it, not a context
		if args.Bool("escape") {             // leave the worker's process group and session
			sleep.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		}
		if err := sleep.Start(); err != nil {
			return nil, err
		}
		go func() { _ = sleep.Wait() }()
		dir, err := os.MkdirTemp("", "xk6-concurrency-*")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "left"), []byte("x"), 0o600); err != nil {
			return nil, err
		}
		// Whether the sleep carries the marker is read here: on some paths
		// it is killed before the test could look.
		pid := strconv.Itoa(sleep.Process.Pid)
		// /proc/<pid>/environ can read empty while the child is between
		// fork and exec: look again for a moment.
		marked := false
		for range 200 {
			if marked = procs.HasEnv(sleep.Process.Pid, WorkerEnv+"="+os.Getenv(WorkerEnv)); marked {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		line := fmt.Sprintf("%s %t %s", pid, marked, os.TempDir())
		if err := os.WriteFile(args.String("file"), []byte(line), 0o600); err != nil {
			return nil, err
		}
		switch args.String("then") {
		case "stubborn":
			signal.Ignore(syscall.SIGTERM)
			fallthrough
		case "block":
			time.Sleep(time.Minute)
		case "exit":
			os.Exit(3)
		}
		return pid, nil
	}, workload.WithParams(
		workload.Param{Name: "file", Type: workload.String, Required: true},
		workload.Param{Name: "then", Type: workload.String, Required: true, Enum: []string{"return", "block", "stubborn", "exit"}},
		workload.Param{Name: "escape", Type: workload.Bool}))
	if err != nil {
		panic(err)
	}
	return reg
}

// TestNoDescendantOutlivesItsWorker ends a worker every way the pool ends
// one, each time with a `sleep 40` it started, and a directory it made in
// its TMPDIR: the sleep is gone when the worker is Done (it carried the
// worker marker, so it is a worker's descendant as the reliability suite
// counts them), and so is everything the worker wrote in its TMPDIR.
func TestNoDescendantOutlivesItsWorker(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cases := []struct {
		path string // how the pool ends the worker
		then string
		end  func(*Worker)
		want string // in the worker's Err
	}{
		{"timeout (Kill)", "block", func(w *Worker) { w.Kill("task t.spawn timed out after 1s") }, "was killed: task t.spawn timed out"},
		{"crash (exits on its own)", "exit", nil, "exited with status 3"},
		{"killed from outside", "block", func(w *Worker) { _ = syscall.Kill(w.PID(), syscall.SIGKILL) }, "was killed by signal SIGKILL"},
		{"close, recycle, resize down, end of test (obeyed)", "return", func(w *Worker) { w.Close(time.Second) }, ""},
		// A grace of 1s after SIGTERM: a SIGTERMed worker on a loaded
		// machine may take longer than 200ms to be reaped, and then the
		// SIGKILL comes too.
		{"close escalated to SIGTERM", "block", func(w *Worker) { w.Close(time.Second) }, "it was sent SIGTERM"},
		{"close escalated to SIGKILL", "stubborn", func(w *Worker) { w.Close(200 * time.Millisecond) }, "it was sent SIGKILL"},
	}
	for _, escape := range []bool{false, true} {
		for _, tc := range cases {
			name := tc.path
			if escape {
				name += ", child in its own session"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testDescendant(t, tc.then, escape, tc.end, tc.want)
			})
		}
	}
}

// testDescendant starts a worker whose t.spawn starts a sleep and then does
// what then says, ends the worker with end (nil: it ends by itself), and
// checks that the sleep and the worker's TMPDIR went with it.
func testDescendant(t *testing.T, then string, escape bool, end func(*Worker), want string) {
	tmp := t.TempDir()
	cfg := selfConfig()
	cfg.Env = append(cfg.Env, "TMPDIR="+tmp)
	w := start(t, cfg)
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := NewCall()
	params := fmt.Sprintf(`{"file":%q,"then":%q,"escape":%t}`, pidFile, then, escape)
	require.NoError(t, w.Send(c, Request{Workload: "t.spawn", Params: []byte(params)}))
	sleepPID, marked, workerTmp := waitForPID(t, pidFile)
	require.True(t, marked, "sleep pid %d does not carry %s", sleepPID, WorkerEnv)
	require.Equal(t, tmp, filepath.Dir(workerTmp), "the worker's TMPDIR is %s, want a directory of its own in %s", workerTmp, tmp)
	if then == "return" {
		<-c.Done()
		require.Nil(t, c.Err, "t.spawn")
	}
	if end != nil {
		end(w)
	}
	select {
	case <-w.Done():
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the worker did not end")
	}
	if want != "" {
		wantCrash(t, w.Err(), want)
	} else {
		assert.Nil(t, w.Err(), "Err after a Close the worker obeyed")
	}
	if !assert.False(t, procs.Running(sleepPID), "its child sleep pid %d outlived the worker", sleepPID) {
		_ = syscall.Kill(sleepPID, syscall.SIGKILL)
	}
	entries, _ := os.ReadDir(tmp)
	assert.Empty(t, names(entries), "TMPDIR still holds files after the worker ended")
}

// TestPrivateTemp: the worker's TMPDIR is a directory of its own under the
// one its environment names, and a TMPDIR the pool cannot make a directory
// in is passed on unchanged.
func TestPrivateTemp(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir, env := privateTemp([]string{"A=1", "TMPDIR=/elsewhere", "TMPDIR=" + base})
	defer removeTemp(dir)
	assert.Equal(t, base, filepath.Dir(dir), "dir %s, want xk6-concurrency-worker-* in %s", dir, base)
	assert.True(t, strings.HasPrefix(filepath.Base(dir), "xk6-concurrency-worker-"), "dir %s, want xk6-concurrency-worker-* in %s", dir, base)
	assert.Equal(t, []string{"A=1", "TMPDIR=" + dir}, env, "env")
	env = []string{"TMPDIR=/no/such/dir"}
	missingDir, missingEnv := privateTemp(env)
	assert.Empty(t, missingDir, "with TMPDIR missing: dir")
	assert.Equal(t, []string{"TMPDIR=/no/such/dir"}, missingEnv, "with TMPDIR missing: env")
	w := start(t, func() Config { c := selfConfig(); c.Env = append(c.Env, "TMPDIR="+base); return c }())
	r := do(t, w, NewCall(), "t.env", `{"name":"TMPDIR"}`)
	got, _ := strconv.Unquote(string(r.Value))
	require.Nil(t, r.Err, "the worker's TMPDIR")
	require.Equal(t, base, filepath.Dir(got), "the worker's TMPDIR is %s, want a directory in %s", r.Value, base)
	fi, err := os.Stat(got)
	require.NoError(t, err, "the worker's TMPDIR")
	require.True(t, fi.IsDir(), "the worker's TMPDIR %s is not a directory", got)
	w.Close(time.Second)
	_, err = os.Stat(got)
	assert.ErrorIs(t, err, fs.ErrNotExist, "the worker's TMPDIR %s is still there after Close", got)
}

// waitForPID reads the pid t.spawn wrote, whether it carried the marker,
// and the worker's TMPDIR.
func waitForPID(t *testing.T, file string) (pid int, marked bool, tmp string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil {
			if _, err := fmt.Sscanf(string(b), "%d %t %s", &pid, &marked, &tmp); err == nil {
				return pid, marked, tmp
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.FailNow(t, "t.spawn wrote no pid within 20s", "no pid in %s", file)
	return 0, false, ""
}

func names(entries []os.DirEntry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// BenchmarkStrayScan is what every worker's end pays on Linux to look for
// descendants that left its process group: one scan of /proc that finds
// none.
func BenchmarkStrayScan(b *testing.B) {
	for b.Loop() {
		killStrays("0.0")
	}
}
