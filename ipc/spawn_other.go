//go:build !linux

package ipc

import (
	"os/exec"
	"syscall"
)

// sysProcAttr is the platform's process attributes: its own process group
// on unix; there is no parent-death signal outside Linux.
func sysProcAttr() *syscall.SysProcAttr { return otherSysProcAttr() }

// startCmd starts cmd; without a parent-death signal any thread will do.
func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
