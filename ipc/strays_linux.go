//go:build linux

package ipc

import (
	"os"
	"slices"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
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
	entry := WorkerIDEnv + "=" + id
	var killed []int
	defer func() { awaitDeath(killed) }()
	for round := range strayRounds {
		pids := procs.WithEnv(entry)
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
			if procs.HasEnv(pid, entry) && p.Kill() == nil {
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
		if !slices.ContainsFunc(pids, procs.Running) {
			return
		}
		time.Sleep(strayPause)
	}
}
