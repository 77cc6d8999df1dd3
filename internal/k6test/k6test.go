// Package k6test drives the real k6 binary with this extension for tests:
// it provides the binary (built once per test run), runs scripts with it,
// reads what they wrote to --out json, and finds worker processes by their
// marker so tests can prove none is left behind.
package k6test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
)

// EnvBinary names a k6 binary built beforehand; `make test` sets it to the
// k6 it built with xk6, so every test package uses that one binary.
const EnvBinary = "XK6_CONCURRENCY_K6"

// Binary returns the path of a k6 with this extension. Without EnvBinary it
// builds ./cmd/k6 (see BinaryOf).
func Binary(tb testing.TB) string {
	tb.Helper()
	if path := os.Getenv(EnvBinary); path != "" {
		if _, err := os.Stat(path); err != nil { // #nosec G703 -- the k6 binary the test run was given
			tb.Fatalf("%s=%s: %v", EnvBinary, path, err)
		}
		return path
	}
	return BinaryOf(tb, "./cmd/k6")
}

// BinaryOf builds the main package pkg (a path from the module root) once per
// state of the module's sources: the binary is kept in the temporary
// directory under a hash of the sources, and a file lock makes test packages
// running in parallel build it only once.
func BinaryOf(tb testing.TB, pkg string) string {
	tb.Helper()
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	key, err := sourceHash(root)
	if err != nil {
		tb.Fatal(err)
	}
	// Not named xk6-concurrency-*: that is what a run must never leave behind.
	dir := filepath.Join(os.TempDir(), "k6test-builds")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, filepath.Base(pkg)+"-"+key[:16])
	unlock, err := lock(filepath.Join(dir, ".lock"))
	if err != nil {
		tb.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tb.Logf("building k6 with the extension into %s", path)
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	// #nosec G204 -- builds this repository's own cmd/k6
	cmd := exec.CommandContext(tb.Context(), "go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	removeOlder(dir, filepath.Base(pkg), path)
	return path
}

// ModuleRoot finds the directory of this module's go.mod from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		// #nosec G304 -- go.mod of a parent of the working directory
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module github.com/k6-concurrency/xk6-concurrency\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of xk6-concurrency above the working directory")
		}
		dir = parent
	}
}

// sourceHash hashes what goes into the binary: non-test Go files, go.mod, go.sum.
func sourceHash(root string) (string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "tools" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f) // #nosec G304 -- this repository's own sources, hashed
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, f)
		_, _ = fmt.Fprintf(h, "%s %d\n", rel, len(b)) // a hash.Hash never fails
		_, _ = h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- the lock file beside the cached k6
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// removeOlder keeps only the newest binary of a name: each is about 70 MB.
func removeOlder(dir, name, keep string) {
	matches, _ := filepath.Glob(filepath.Join(dir, name+"-*"))
	for _, m := range matches {
		if m != keep && !strings.HasSuffix(m, ".tmp") {
			_ = os.Remove(m)
		}
	}
}

// Process is a running k6.
type Process struct {
	tb     testing.TB
	Cmd    *exec.Cmd
	Dir    string // a temporary working directory for the run's files
	stdout bytes.Buffer
	stderr lockedBuffer
	done   chan struct{}
	err    error
}

// Start starts `k6 <args...>` (the k6 of Binary) in a fresh temporary
// directory. The process is killed at the end of the test if it is still
// running.
func Start(tb testing.TB, args ...string) *Process {
	tb.Helper()
	return StartWith(tb, Binary(tb), args...)
}

// started lists the pid of every k6 this process started, for Leftovers.
//
//nolint:gochecknoglobals // the k6 processes this test binary started, for Leftovers
var started struct {
	sync.Mutex
	pids []int
}

// Leftovers lists the running workers of every k6 started so far: a test
// package calls it after all its tests, and it must be empty.
func Leftovers() []int {
	started.Lock()
	defer started.Unlock()
	var left []int //nolint:prealloc // each pid has any number of workers
	for _, pid := range started.pids {
		left = append(left, WorkersOf(pid)...)
	}
	return left
}

// StartWith is Start with another k6 binary.
func StartWith(tb testing.TB, binary string, args ...string) *Process {
	tb.Helper()
	return StartEnv(tb, binary, nil, args...)
}

// StartEnv is StartWith with variables ("KEY=value") added to k6's environment.
func StartEnv(tb testing.TB, binary string, env []string, args ...string) *Process {
	tb.Helper()
	p := &Process{tb: tb, Dir: tb.TempDir(), done: make(chan struct{})}
	// #nosec G204 -- the k6 binary under test, run by the test
	p.Cmd = exec.Command(binary, args...) //nolint:noctx // the test ends it, with the signal it chooses
	p.Cmd.Dir = p.Dir
	// A TMPDIR of the test's own (unless the test sets one), so that what a
	// killed k6 cannot remove (its workers' directories, after SIGKILL: see
	// the README's Reliability section) goes with the test's directory.
	tmp := filepath.Join(p.Dir, ".tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		tb.Fatal(err)
	}
	p.Cmd.Env = append(append(os.Environ(), "K6_NO_USAGE_REPORT=true", "K6_NO_COLOR=true", "TMPDIR="+tmp), env...)
	p.Cmd.Stdout = &p.stdout
	p.Cmd.Stderr = &p.stderr
	if err := p.Cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	started.Lock()
	started.pids = append(started.pids, p.Cmd.Process.Pid)
	started.Unlock()
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Result is how a k6 run ended.
type Result struct {
	ExitCode       int
	Stdout, Stderr string
	Dir            string
}

// Wait waits for k6 to exit, at most timeout, and returns its result.
func (p *Process) Wait(timeout time.Duration) Result {
	p.tb.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		p.tb.Fatalf("k6 %v did not exit within %s\nstderr:\n%s", p.Cmd.Args[1:], timeout, p.stderr.String())
	}
	code := 0
	if p.err != nil {
		code = -1
		if ee, ok := errors.AsType[*exec.ExitError](p.err); ok {
			code = ee.ExitCode()
		}
	}
	return Result{ExitCode: code, Stdout: p.stdout.String(), Stderr: p.stderr.String(), Dir: p.Dir}
}

// Exited reports whether k6 has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to k6.
func (p *Process) Signal(sig syscall.Signal) {
	p.tb.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.tb.Fatal(err)
	}
}

// WaitForOutput waits until k6's stderr contains s.
func (p *Process) WaitForOutput(tb testing.TB, s string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), s) {
		if p.Exited() || time.Now().After(deadline) {
			tb.Fatalf("k6 did not write %q within %s:\n%s", s, timeout, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Running reports whether the process pid exists and is not a zombie (a
// container whose init does not reap orphans keeps dead workers as zombies).
func Running(pid int) bool { return procs.Running(pid) }

// Stderr returns what k6 wrote to stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Run runs `k6 run <args...>` with the script's text written to script.js in
// the run's directory, and waits at most timeout.
func Run(tb testing.TB, script string, timeout time.Duration, args ...string) Result {
	tb.Helper()
	p := StartScript(tb, script, args...)
	return p.Wait(timeout)
}

// StartScript starts `k6 run <args...> script.js` with the script's text.
func StartScript(tb testing.TB, script string, args ...string) *Process {
	tb.Helper()
	return StartScriptWith(tb, Binary(tb), script, args...)
}

// StartScriptWith is StartScript with another k6 binary.
func StartScriptWith(tb testing.TB, binary, script string, args ...string) *Process {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "script.js")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		tb.Fatal(err)
	}
	all := append([]string{"run", "--quiet"}, args...)
	return StartWith(tb, binary, append(all, path)...)
}

// Point is one sample from --out json.
type Point struct {
	Metric string            `json:"metric"`
	Time   time.Time         `json:"time"`
	Value  float64           `json:"value"`
	Tags   map[string]string `json:"tags"`
}

// ReadPoints reads the samples of a --out json file.
func ReadPoints(tb testing.TB, path string) []Point {
	tb.Helper()
	f, err := os.Open(path) // #nosec G304 -- the --out json file the test asked k6 for
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var points []Point
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			Type   string `json:"type"`
			Metric string `json:"metric"`
			Data   Point  `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		if line.Type == "Point" {
			line.Data.Metric = line.Metric
			points = append(points, line.Data)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return points
}

// WorkersOf lists the running processes that carry the worker marker of the
// process pid: the workers of that k6, even after they were reparented.
// Zombies are not running and are left out.
func WorkersOf(pid int) []int { return procs.WithEnv(ipc.WorkerEnv + "=" + strconv.Itoa(pid)) }

// AllWorkers lists every running process that carries the worker marker.
func AllWorkers() []int { return procs.WithEnvKey(ipc.WorkerEnv) }

// WaitForWorkers waits until pid has n workers running and returns them.
func WaitForWorkers(tb testing.TB, pid, n int, timeout time.Duration) []int {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w := WorkersOf(pid)
		if len(w) >= n {
			return w
		}
		if time.Now().After(deadline) {
			tb.Fatalf("k6 pid %d has %d workers after %s, want %d", pid, len(w), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RequireNoWorkers fails unless no worker of pid is running within timeout.
func RequireNoWorkers(tb testing.TB, pid int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w := WorkersOf(pid)
		if len(w) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("workers of k6 pid %d still running %s after it exited: %v", pid, timeout, w)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer safe to read while k6 writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WatchPeakRSS polls the peak resident set (VmHWM) of k6 until it exits;
// the returned func gives the last value read, in bytes.
func (p *Process) WatchPeakRSS() func() int64 {
	var peak atomic.Int64
	go func() {
		for !p.Exited() {
			if m, err := procs.MemoryOf(p.Cmd.Process.Pid); err == nil && m.Peak > 0 {
				peak.Store(int64(m.Peak)) // #nosec G115 -- bytes of memory fit in int64
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return peak.Load
}

// RSS returns the resident set (VmRSS) of a process in bytes, 0 if it is gone.
func RSS(pid int) int64 {
	m, err := procs.MemoryOf(pid)
	if err != nil {
		return 0
	}
	return int64(m.RSS) // #nosec G115 -- bytes of memory fit in int64
}

// Interpreter finds a language's interpreter (python3, node) on PATH. A
// missing one skips the test, except in CI (CI=true), where it fails.
func Interpreter(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not installed (CI=true: a missing interpreter fails): %v", name, err)
		}
		tb.Skipf("%s is not installed: %v", name, err)
	}
	return path
}
