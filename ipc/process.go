package ipc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a worker process under supervision: the half of a Worker that
// knows about pids, pipes and signals, and nothing of the protocol. Its
// verbs: startProcess, its input and output (stdin, stdout), stop (close
// with grace), kill (for a reason), exited and done, exitStatus and
// stderrTail.
type process struct {
	who      string // "worker [argv] pid N"
	cmd      *exec.Cmd
	pid      int
	tmp      string // its own TMPDIR, removed once it is reaped
	id       string // WorkerIDEnv's value: marks its descendants
	onStderr func(pid int, line string)

	stdin, stdout, stderr *os.File
	stdinOnce             sync.Once

	sigMu  sync.Mutex
	reaped bool // its pid may be another process's: signal nothing
	// sent is the last signal stop sent ("SIGTERM", "SIGKILL"), or "".
	sent string
	// killedFor is the reason of the first kill that had one.
	killedFor string

	exited     chan struct{} // closed once it is reaped and its group swept
	stderrDone chan struct{}
	done       chan struct{} // closed once its strays are dead, its TMPDIR gone, its stderr read
	drainBy    time.Time     // set before done closes: until when its output may be drained

	tailMu sync.Mutex
	tail   []string
}

// startProcess starts cfg's command (cfg has its defaults) in its own
// process group, with a private TMPDIR and a pipe for each of its standard
// streams, and supervises it until it is reaped.
func startProcess(cfg Config) (*process, error) {
	// #nosec G204 -- running the worker command the script configured is the pool's purpose
	cmd := exec.Command(cfg.Argv[0], cfg.Argv[1:]...) //nolint:noctx // stop ends it, gracefully first
	cmd.Dir = cfg.Dir
	id := newWorkerID()
	tmp, env := privateTemp(append(workerEnv(cfg.Env), WorkerIDEnv+"="+id))
	cmd.Env = env
	cmd.SysProcAttr = sysProcAttr()
	inW, outR, errR, err := startPiped(cmd)
	if err != nil {
		removeTemp(tmp)
		return nil, err
	}
	p := &process{
		cmd: cmd, pid: cmd.Process.Pid, tmp: tmp, id: id, onStderr: cfg.Stderr,
		stdin: inW, stdout: outR, stderr: errR,
		exited: make(chan struct{}), stderrDone: make(chan struct{}), done: make(chan struct{}),
	}
	p.who = fmt.Sprintf("worker %v pid %d", cfg.Argv, p.pid)
	go p.readStderr()
	go p.supervise()
	return p, nil
}

// startPiped starts cmd with a new pipe for each of its stdin, stdout and
// stderr, and returns the parent's ends. On failure it closes every end.
func startPiped(cmd *exec.Cmd) (stdin, stdout, stderr *os.File, err error) {
	var child, parent [3]*os.File // stdin, stdout, stderr
	for i := range child {
		r, w, err := os.Pipe()
		if err != nil {
			closeFiles(child[:i])
			closeFiles(parent[:i])
			return nil, nil, nil, err
		}
		child[i], parent[i] = w, r
		if i == 0 { // stdin: the child reads
			child[i], parent[i] = r, w
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = child[0], child[1], child[2]
	err = startCmd(cmd)
	// The child has its ends (or failed to start); the parent keeps only its own.
	closeFiles(child[:])
	if err != nil {
		closeFiles(parent[:])
		return nil, nil, nil, errors.New(whyNotStarted(cmd, err))
	}
	return parent[0], parent[1], parent[2], nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// workerEnv is env without WorkerEnv and WorkerIDEnv, plus WorkerEnv=<our pid>.
func workerEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if sameVar(k, WorkerEnv) || sameVar(k, WorkerIDEnv) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, WorkerEnv+"="+strconv.Itoa(os.Getpid()))
}

// closeInput closes the process's stdin: a worker takes that as "stop".
func (p *process) closeInput() { p.stdinOnce.Do(func() { _ = p.stdin.Close() }) }

// stop closes the process's stdin and waits up to grace for it to exit,
// then sends SIGTERM (not on Windows) and waits up to grace again, then
// sends SIGKILL; both signals go to its process group. It returns once the
// process has exited.
func (p *process) stop(grace time.Duration) {
	p.closeInput()
	t := time.NewTimer(max(grace, 0))
	defer t.Stop()
	select {
	case <-p.exited:
		return
	case <-t.C:
	}
	if canTerminate && p.signalNoting(syscall.SIGTERM) {
		t.Reset(max(grace, 0))
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
	}
	p.signalNoting(syscall.SIGKILL)
	<-p.exited
}

// signalNoting is signal, remembering sig as the one stop escalated to.
func (p *process) signalNoting(sig syscall.Signal) bool {
	if !p.signal(sig) {
		return false
	}
	p.sigMu.Lock()
	p.sent = signalName(sig)
	p.sigMu.Unlock()
	return true
}

// kill SIGKILLs the process and its group now. The first reason given is
// kept for exitStatus, which gives it when a SIGKILL ended the process.
func (p *process) kill(reason string) {
	p.sigMu.Lock()
	if p.killedFor == "" && !p.reaped {
		p.killedFor = reason
	}
	p.sigMu.Unlock()
	p.signal(syscall.SIGKILL)
}

// supervise reaps the process, kills its descendants, removes its TMPDIR,
// and lets its stderr drain.
func (p *process) supervise() {
	p.reap()
	close(p.exited)
	killStrays(p.id)
	removeTemp(p.tmp) // after its strays: none of them writes there any more
	p.drainBy = time.Now().Add(drainWait)
	awaitOrClose(p.stderrDone, p.stderr, p.drainBy)
	close(p.done)
}

// exit is how a process ended.
type exit struct {
	status  string // "exited with status 3", "was killed by signal SIGKILL"
	success bool   // exited with status 0
	sent    string // the signal stop escalated to, or ""
	// killedFor is the reason of the kill that ended it, when a kill did.
	killedFor string
}

// exitStatus says how the process ended, once it has exited.
func (p *process) exitStatus() exit {
	<-p.exited
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	state := p.cmd.ProcessState
	if state == nil {
		return exit{status: "ended", sent: p.sent}
	}
	e := exit{status: describeExit(state), success: state.Success(), sent: p.sent}
	if strings.HasSuffix(e.status, "SIGKILL") {
		e.killedFor = p.killedFor
	}
	return e
}

// release closes the parent's ends of the pipes, once the process is done.
func (p *process) release() {
	p.closeInput()
	_ = p.stdout.Close()
	_ = p.stderr.Close()
}

// readStderr passes the process's stderr to onStderr line by line and keeps
// the last lines for crash messages.
func (p *process) readStderr() {
	defer close(p.stderrDone)
	br := bufio.NewReaderSize(p.stderr, MaxStderrLine)
	skipping := false // inside a line that was cut
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				p.stderrLine(line)
				skipping = true
			}
			continue
		}
		if len(line) > 0 {
			if skipping {
				skipping = false
			} else {
				p.stderrLine(line)
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *process) stderrLine(b []byte) {
	line := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(line) != "" {
		kept := line
		if len(kept) > stderrTail {
			kept = kept[:stderrTail] + "..."
		}
		p.tailMu.Lock()
		if len(p.tail) == 8 {
			copy(p.tail, p.tail[1:])
			p.tail = p.tail[:7]
		}
		p.tail = append(p.tail, kept)
		p.tailMu.Unlock()
	}
	if p.onStderr != nil {
		p.onStderr(p.pid, line)
	}
}

// stderrTail is the last stderr lines, at most about 300 bytes, or "".
func (p *process) stderrTail() string {
	p.tailMu.Lock()
	defer p.tailMu.Unlock()
	var parts []string
	n := 0
	for _, v := range slices.Backward(p.tail) {
		if n > 0 && n+len(v) > stderrTail {
			break
		}
		parts = append(parts, v)
		n += len(v) + 3
	}
	slices.Reverse(parts)
	return strings.Join(parts, " | ")
}

// awaitOrClose waits for done until deadline, then closes f so that the
// goroutine reading it returns, and waits for it.
func awaitOrClose(done <-chan struct{}, f *os.File, deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = f.Close()
		<-done
	}
}
