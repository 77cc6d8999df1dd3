package ipc

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// A worker is the leader of its own process group (Setpgid), so whatever it
// starts stays in that group unless it leaves on purpose (setsid, setpgid).
// Every signal the pool sends goes to the whole group, and once the worker
// has exited, whatever is left of the group is SIGKILLed: no descendant that
// stayed in the group outlives its worker. On Linux, those that left the
// group but kept the environment (WorkerIDEnv) are found in /proc and
// killed too (killStrays).

// workerSeq numbers the workers this process starts, for WorkerIDEnv.
//
//nolint:gochecknoglobals // ids unique in the process
var workerSeq atomic.Uint64

func newWorkerID() string {
	return strconv.Itoa(os.Getpid()) + "." + strconv.FormatUint(workerSeq.Add(1), 10)
}

// signal sends sig to the worker's process group, or to the worker alone
// where there are no groups. Nothing is sent once the worker is reaped: its
// pid, and so its group's id, may then belong to another process.
func (p *process) signal(sig syscall.Signal) bool {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if p.reaped {
		return false
	}
	if signalGroup(p.pid, sig) == nil {
		return true
	}
	if sig == syscall.SIGKILL {
		return p.cmd.Process.Kill() == nil
	}
	return p.cmd.Process.Signal(sig) == nil
}

// sweepGroup SIGKILLs what is left of the worker's process group after the
// worker exited, and marks the group as no longer ours to signal.
func (p *process) sweepGroup() {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if !p.reaped {
		_ = signalGroup(p.pid, syscall.SIGKILL)
	}
	p.reaped = true
}

// reap waits for the worker to exit, kills what is left of its group, and
// reaps it. Where the exit can be awaited without reaping (Linux), the group
// is killed while the worker's pid is still held by its zombie, so the
// group's id cannot have been reused; elsewhere it is killed just after.
func (p *process) reap() {
	zombie := waitExited(p.pid)
	if zombie {
		p.sweepGroup()
	}
	_ = p.cmd.Wait()
	if !zombie {
		p.sweepGroup()
	}
}

// tempVars are the variables that name the temporary directory.
//
//nolint:gochecknoglobals // a constant table
var tempVars = func() []string {
	if runtime.GOOS == "windows" {
		return []string{"TMP", "TEMP"}
	}
	return []string{"TMPDIR"}
}()

// privateTemp gives the worker a temporary directory of its own, under the
// one its environment names (or this process's), so that what a worker
// killed mid-task leaves there is removed with the directory once it is
// reaped. If the directory cannot be made, the environment is left as it
// is: the worker could not have written there either.
func privateTemp(env []string) (dir string, out []string) {
	base := tempBase(env)
	dir, err := os.MkdirTemp(base, "xk6-concurrency-worker-*")
	if err != nil {
		return "", env
	}
	out = make([]string, 0, len(env)+len(tempVars))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !isTempVar(k) {
			out = append(out, kv)
		}
	}
	for _, k := range tempVars {
		out = append(out, k+"="+dir)
	}
	return dir, out
}

// tempBase is the temporary directory env names, as the worker would read it
// (the last value of a variable counts), or else this process's.
func tempBase(env []string) string {
	for _, name := range tempVars {
		v := ""
		for _, kv := range env {
			if k, val, _ := strings.Cut(kv, "="); sameVar(k, name) {
				v = val
			}
		}
		if v != "" {
			return v
		}
	}
	return os.TempDir()
}

func isTempVar(k string) bool {
	for _, v := range tempVars {
		if sameVar(k, v) {
			return true
		}
	}
	return false
}

// removeTemp removes a worker's temporary directory, making what the worker
// left unwritable writable first if that is what stops the removal.
func removeTemp(dir string) {
	if dir == "" || os.RemoveAll(dir) == nil {
		return
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			// #nosec G302 G122 -- a directory needs x for its entries to be removed; a link swapped in
			// leads only where the worker, the same user, could chmod itself
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// sameVar compares variable names as the platform does.
func sameVar(a, b string) bool {
	return a == b || (runtime.GOOS == "windows" && strings.EqualFold(a, b))
}
