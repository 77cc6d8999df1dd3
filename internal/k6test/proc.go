package k6test

import (
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// UserHZ is the unit of the CPU times in /proc: USER_HZ clock ticks per
// second, 100 on Linux whatever the kernel's HZ (procfs assumes the same).
const UserHZ = 100

// TreeCPU is the CPU time (utime+stime, in clock ticks) of a k6 and of each
// of its worker processes at one moment.
type TreeCPU struct {
	At      time.Time
	K6      uint64
	Workers map[int]uint64 // by pid
}

// SampleTree reads the CPU time of k6 (pid) and of its running workers, the
// processes carrying its XK6_CONCURRENCY_WORKER marker (see WorkersOf).
func SampleTree(pid int) (TreeCPU, error) {
	k6, err := ProcessCPU(pid)
	if err != nil {
		return TreeCPU{}, err
	}
	t := TreeCPU{At: time.Now(), K6: k6, Workers: map[int]uint64{}}
	for _, w := range WorkersOf(pid) {
		if ticks, err := ProcessCPU(w); err == nil { // a worker may end meanwhile
			t.Workers[w] = ticks
		}
	}
	return t, nil
}

// Since returns the ticks k6 and its workers used since an earlier sample;
// a worker counts when it is in both samples.
func (t TreeCPU) Since(earlier TreeCPU) (k6, workers uint64) {
	for pid, ticks := range t.Workers {
		if before, ok := earlier.Workers[pid]; ok {
			workers += ticks - before
		}
	}
	return t.K6 - earlier.K6, workers
}

// ProcessCPU returns the CPU time (utime+stime) of a process in clock ticks.
func ProcessCPU(pid int) (uint64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	if st.State == "Z" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return uint64(st.UTime + st.STime), nil
}

// Memory is a process's resident memory, in bytes: VmRSS and RssAnon from
// /proc/<pid>/status, and PSS from smaps_rollup (which shares the pages of a
// binary mapped by several processes among them).
type Memory struct {
	RSS, Anon, PSS uint64
}

// MemoryOf reads the resident memory of a process.
func MemoryOf(pid int) (Memory, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Memory{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return Memory{}, err
	}
	roll, err := p.ProcSMapsRollup()
	if err != nil {
		return Memory{}, err
	}
	return Memory{RSS: st.VmRSS, Anon: st.RssAnon, PSS: roll.Pss}, nil
}
