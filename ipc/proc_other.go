//go:build !unix

package ipc

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func otherSysProcAttr() *syscall.SysProcAttr { return nil }

// canTerminate is false: there is no SIGTERM to send outside unix, so Close
// goes on to kill.
const canTerminate = false

// signalGroup fails: there are no process groups to signal outside unix.
func signalGroup(int, syscall.Signal) error { return errors.ErrUnsupported }

// waitExited cannot wait without reaping here.
func waitExited(int) bool { return false }

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

// canEnter has nothing to check here beyond the directory existing.
func canEnter(string) error { return nil }
