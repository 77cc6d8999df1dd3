package k6test

import (
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
)

// UserHZ is the unit of the CPU times: clock ticks per second.
const UserHZ = procs.UserHZ

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

// ProcessCPU returns the CPU time (utime+stime) of a running process in
// clock ticks (procs.CPU).
func ProcessCPU(pid int) (uint64, error) { return procs.CPU(pid) }

// Memory is a process's memory, in bytes (procs.Memory).
type Memory = procs.Memory

// MemoryOf reads the memory of a process (procs.MemoryOf).
func MemoryOf(pid int) (Memory, error) { return procs.MemoryOf(pid) }
