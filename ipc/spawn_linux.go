//go:build linux

package ipc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr puts the worker in its own process group (a Ctrl-C in the
// terminal reaches k6, which closes its pools in order) and asks the kernel
// to SIGKILL it when its parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// The parent-death signal fires when the *thread* that forked the child
// exits, not the process. Go may retire an OS thread at any time, so every
// worker is forked from one goroutine locked to its thread for good.
type forkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

//nolint:gochecknoglobals // the process's one fork helper
var (
	forkOnce sync.Once
	forks    chan forkRequest
)

func forkLoop() {
	runtime.LockOSThread() // never unlocked: the thread lives as long as the process
	for r := range forks {
		r.done <- r.cmd.Start()
	}
}

// startCmd starts cmd from the forking thread.
func startCmd(cmd *exec.Cmd) error {
	forkOnce.Do(func() {
		forks = make(chan forkRequest)
		go forkLoop()
	})
	r := forkRequest{cmd: cmd, done: make(chan error, 1)}
	forks <- r
	return <-r.done
}

// dup2 makes newfd a copy of oldfd.
func dup2(oldfd, newfd int) error { return syscall.Dup3(oldfd, newfd, 0) }
