package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
)

// procs starts the session's processes, each in its own process group so
// that it can be killed with everything it started (Python's pool
// processes); k6's workers have their own group but die with k6 (the
// parent-death signal), and are looked for by their marker at the end.
type procs struct {
	root string // the module root, every process's working directory

	mu     sync.Mutex
	k6PIDs []int
}

// proc is a running process whose stderr is read line by line.
type proc struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	mu     sync.Mutex
	stderr []string
	marks  map[string]chan struct{} // closed when stderr had the marker
	seen   map[string]bool
	done   chan struct{}
	err    error
}

// start starts a command. Each marker in marks is closed when a line of
// stderr contains it (cell.js and idle.js announce their phases there).
func (ps *procs) start(ctx context.Context, isK6 bool, marks []string, name string, args ...string) (*proc, error) {
	return ps.startEnv(ctx, isK6, marks, nil, name, args...)
}

// startEnv is start with env ("KEY=value") added to the command's
// environment.
func (ps *procs) startEnv(ctx context.Context, isK6 bool, marks, env []string, name string,
	args ...string,
) (*proc, error) {
	p := &proc{marks: map[string]chan struct{}{}, seen: map[string]bool{}, done: make(chan struct{})}
	for _, m := range marks {
		p.marks[m] = make(chan struct{})
	}
	p.cmd = exec.CommandContext(ctx, name, args...) // #nosec G204 -- the harness's k6, or python3 on its script
	p.cmd.Dir = ps.root
	p.cmd.Env = append(withoutWorkerMarker(os.Environ()), "K6_NO_USAGE_REPORT=true", "K6_NO_COLOR=true")
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Cancel = func() error { return syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	if isK6 {
		ps.mu.Lock()
		ps.k6PIDs = append(ps.k6PIDs, p.cmd.Process.Pid)
		ps.mu.Unlock()
	}
	go func() {
		p.readStderr(stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// withoutWorkerMarker drops the worker marker: k6 would start as a worker.
func withoutWorkerMarker(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, ipc.WorkerEnv+"=") })
}

func (p *proc) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stderr = append(p.stderr, line)
		for m, ch := range p.marks {
			if !p.seen[m] && strings.Contains(line, m) {
				close(ch)
				p.seen[m] = true
			}
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// pid is the process's id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// mark is closed when stderr had the marker, one of start's marks.
func (p *proc) mark(m string) <-chan struct{} { return p.marks[m] }

// exited reports whether the process ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail is the last lines of stderr, for error messages.
func (p *proc) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr[max(0, len(p.stderr)-15):], "\n")
}

// wait waits for the process to end, killing its group after timeout.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s: timed out after %s\n%s", strings.Join(p.cmd.Args, " "), timeout, p.tail())
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(p.cmd.Args, " "), p.err, p.tail())
	}
	return nil
}

// kill ends the process's group.
func (p *proc) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// run runs a command to its end and returns its stdout.
func (ps *procs) run(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	p, err := ps.start(ctx, false, nil, name, args...)
	if err != nil {
		return "", err
	}
	if err := p.wait(timeout); err != nil {
		return p.stdout.String(), err
	}
	return p.stdout.String(), nil
}

// leftovers kills the workers of every k6 the session started that are
// still running, and says which there were: there must be none.
func (ps *procs) leftovers() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	left := make([]int, 0, len(ps.k6PIDs))
	for _, pid := range ps.k6PIDs {
		left = append(left, k6test.WorkersOf(pid)...)
	}
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(left) > 0 {
		return fmt.Errorf("k6 worker processes were left running: %v", left)
	}
	return nil
}
