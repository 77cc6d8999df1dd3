//go:build !unix

package ipc

import (
	"fmt"
	"os"
	"syscall"
)

func otherSysProcAttr() *syscall.SysProcAttr { return nil }

// terminate has no SIGTERM to send outside unix: Close goes on to Kill.
func terminate(*os.Process) bool { return false }

func describeExit(ps *os.ProcessState) string {
	if ps.ExitCode() < 0 {
		return "was killed"
	}
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}

// protocolOutput gives the protocol the real stdout and points os.Stdout at
// stderr, so Go code that prints lands on stderr.
func protocolOutput() (*os.File, error) {
	out := os.Stdout
	os.Stdout = os.Stderr
	return out, nil
}

func protocolInput() *os.File { return os.Stdin }
