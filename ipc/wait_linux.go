//go:build linux

package ipc

import (
	"syscall"
	"unsafe"
)

// waitExited blocks until the process pid has exited, without reaping it
// (waitid with WNOWAIT): its pid stays held by the zombie until cmd.Wait. It
// reports whether it waited.
func waitExited(pid int) bool {
	const pPID = 1     // P_PID
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0) // #nosec G103 -- waitid's siginfo_t
		if errno != syscall.EINTR {
			return errno == 0
		}
	}
}
