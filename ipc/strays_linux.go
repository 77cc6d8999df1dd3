//go:build linux

package ipc

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Strays are scanned for until none is left: a SIGKILLed process takes a
// moment to exit, and a stray may start another process between a scan and
// its SIGKILL, which the next scan finds. strayRounds bounds the scans.
const (
	strayRounds = 200
	strayPause  = 2 * time.Millisecond
)

// killStrays SIGKILLs every process that carries the worker id in its
// environment: descendants of an ended worker that left its process group
// (setsid, setpgid, start_new_session, detached) and so escaped the group's
// SIGKILL. Each is signalled through a pidfd (os.FindProcess), after its
// environment is read again through that pidfd's process, so that a pid
// reused in between is never signalled.
func killStrays(id string) {
	mark := []byte("\x00" + WorkerIDEnv + "=" + id + "\x00")
	var killed []int
	defer func() { awaitDeath(killed) }()
	for round := range strayRounds {
		pids := strays(mark)
		if len(pids) == 0 {
			return
		}
		if round > 0 {
			time.Sleep(strayPause)
		}
		for _, pid := range pids {
			p, err := os.FindProcess(pid)
			if err != nil {
				continue
			}
			if carries(pid, mark) && p.Kill() == nil {
				killed = append(killed, pid)
			}
			_ = p.Release()
		}
	}
}

// awaitDeath waits, at most strayRounds pauses in all, until none of pids
// runs: a stray stops carrying the mark (its environment reads empty) as it
// starts to exit, a moment before it is dead.
func awaitDeath(pids []int) {
	for range strayRounds {
		if !slices.ContainsFunc(pids, isRunning) {
			return
		}
		time.Sleep(strayPause)
	}
}

// isRunning reports whether process pid exists and is not a zombie.
func isRunning(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// strays lists the processes that carry mark.
func strays(mark []byte) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	self := os.Getpid()
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self || !carries(pid, mark) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// carries reports whether process pid's environment holds mark (which
// starts with a NUL: the environment gets one in front).
func carries(pid int, mark []byte) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(env) == 0 {
		return false
	}
	return bytes.Contains(append([]byte{0}, env...), mark)
}
