//go:build unix

package ipc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

//nolint:gochecknoglobals // a constant table
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGSYS: "SIGSYS",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// describeExit words how a process ended: "exited with status 3", "was
// killed by signal SIGKILL".
func describeExit(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		s := "was killed by signal " + signalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}

// protocolOutput keeps the protocol stream safe from stray prints: the
// protocol gets a new descriptor for the original stdout, and fd 1 becomes a
// copy of stderr, so anything that prints to stdout (fmt.Println, C code,
// child processes) lands on stderr.
func protocolOutput() (*os.File, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(1)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %w", err)
	}
	if err := dup2(2, 1); err != nil {
		_ = syscall.Close(fd)
		if errors.Is(err, errors.ErrUnsupported) {
			out := os.Stdout
			os.Stdout = os.Stderr
			return out, nil
		}
		return nil, fmt.Errorf("redirect stdout to stderr: %w", err)
	}
	_ = syscall.SetNonblock(fd, true) // os.NewFile then uses the poller
	return os.NewFile(uintptr(fd), "protocol"), nil
}

// protocolInput is stdin for the protocol. The pipe is the worker's alone,
// so it is made non-blocking: a goroutine waiting for a request then parks
// in the poller instead of holding a thread (and its P) in a read syscall,
// which lets the task it just started run at once.
func protocolInput() *os.File {
	if syscall.SetNonblock(0, true) != nil {
		return os.Stdin
	}
	return os.NewFile(0, "protocol input")
}

// canTerminate says that Close can ask a worker to stop with SIGTERM.
const canTerminate = true

// signalGroup sends sig to every process of the group pgid.
func signalGroup(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }

// canEnter reports why this process could not make dir its working
// directory, if it could not: the search (x) permission.
func canEnter(dir string) error { return syscall.Access(dir, 1) }
