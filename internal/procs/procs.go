// Package procs is the one reader of Linux's /proc for the extension: the
// supervision of worker processes (finding a worker's descendants that left
// its process group), the tests that check no worker is left behind, and the
// benchmark's CPU and memory samples all go through it. It reads /proc with
// github.com/prometheus/procfs. Elsewhere than Linux every lookup finds
// nothing and every read fails.
package procs

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
)

// UserHZ is the unit of the CPU times in /proc: USER_HZ clock ticks per
// second, 100 on Linux whatever the kernel's HZ (procfs assumes the same).
const UserHZ = 100

// errZombie is the error of a read from a process that has exited and
// waits to be reaped.
var errZombie = errors.New("the process is a zombie")

// Running reports whether process pid exists and is not a zombie (a
// container whose init does not reap orphans keeps dead workers as zombies).
func Running(pid int) bool {
	_, err := stat(pid)
	return err == nil
}

// Parent returns the parent pid of process pid, a zombie's too (a zombie
// is a child its parent has not reaped yet).
func Parent(pid int) (int, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	return st.PPID, err
}

// State returns the state letter of process pid (R, S, D, T, Z, ...), as
// /proc/<pid>/stat has it; a zombie is "Z", not an error.
func State(pid int) (string, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return "", err
	}
	st, err := p.Stat()
	return st.State, err
}

// HasEnv reports whether the environment of process pid holds entry, a
// whole "KEY=value" string.
func HasEnv(pid int, entry string) bool {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return false
	}
	env, err := p.Environ()
	return err == nil && slices.Contains(env, entry)
}

// WithEnv lists the running processes, other than this one, whose
// environment holds entry ("KEY=value").
func WithEnv(entry string) []int {
	return Find(func(p procfs.Proc) bool {
		env, err := p.Environ()
		return err == nil && slices.Contains(env, entry)
	})
}

// WithEnvKey lists the running processes, other than this one, whose
// environment sets key, to any value.
func WithEnvKey(key string) []int {
	return Find(func(p procfs.Proc) bool {
		env, err := p.Environ()
		return err == nil && slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
	})
}

// Mentioning lists the running processes, other than this one, whose
// command line or environment contains s.
func Mentioning(s string) []int {
	return Find(func(p procfs.Proc) bool {
		args, _ := p.CmdLine()
		env, _ := p.Environ()
		has := func(x string) bool { return strings.Contains(x, s) }
		return slices.ContainsFunc(args, has) || slices.ContainsFunc(env, has)
	})
}

// Find lists the running processes, other than this one, for which match
// holds. A process that ends during the scan is left out.
func Find(match func(procfs.Proc) bool) []int {
	all, err := procfs.AllProcs()
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, p := range all {
		if p.PID != self && match(p) && Running(p.PID) {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// CPU returns the CPU time (utime+stime) of a running process, in clock
// ticks (UserHZ a second).
func CPU(pid int) (uint64, error) {
	st, err := stat(pid)
	if err != nil {
		return 0, err
	}
	return uint64(st.UTime + st.STime), nil
}

// Memory is a process's memory, in bytes: VmRSS, RssAnon and VmHWM (the
// peak resident set) from /proc/<pid>/status, and PSS from smaps_rollup
// (which shares the pages of a binary that several processes map among
// them).
type Memory struct {
	RSS, Anon, Peak, PSS uint64
}

// MemoryOf reads the memory of a process. PSS is 0 where the kernel has no
// smaps_rollup.
func MemoryOf(pid int) (Memory, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Memory{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return Memory{}, err
	}
	m := Memory{RSS: st.VmRSS, Anon: st.RssAnon, Peak: st.VmHWM}
	if roll, err := p.ProcSMapsRollup(); err == nil {
		m.PSS = roll.Pss
	}
	return m, nil
}

// stat reads /proc/<pid>/stat of a running process; a zombie (or a dead
// process not yet gone) is errZombie.
func stat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	st, err := p.Stat()
	if err == nil && (st.State == "Z" || st.State == "X") { // X: dead, about to go
		err = errZombie
	}
	return st, err
}
