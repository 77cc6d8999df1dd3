//go:build solaris

package ipc

import (
	"errors"
	"syscall"
)

func otherSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// dup2 is not in package syscall on Solaris; protocolOutput falls back to
// pointing os.Stdout at stderr.
func dup2(int, int) error { return errors.ErrUnsupported }
