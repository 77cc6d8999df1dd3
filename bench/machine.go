package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// cpuTimes is /proc/stat's line of all CPUs, in seconds.
type cpuTimes procfs.CPUStat

// machineCPU reads how long the machine's CPUs spent in each state.
func machineCPU() (cpuTimes, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return cpuTimes{}, err
	}
	st, err := fs.Stat()
	if err != nil {
		return cpuTimes{}, err
	}
	return cpuTimes(st.CPUTotal), nil
}

// since returns the busy and the total CPU seconds of every CPU since an
// earlier reading (idle and iowait are not busy; guest time is already in user).
func (c cpuTimes) since(e cpuTimes) (busy, total float64) {
	idle := (c.Idle - e.Idle) + (c.Iowait - e.Iowait)
	total = (c.User - e.User) + (c.Nice - e.Nice) + (c.System - e.System) + idle +
		(c.IRQ - e.IRQ) + (c.SoftIRQ - e.SoftIRQ) + (c.Steal - e.Steal)
	return total - idle, total
}

// loadAvg is /proc/loadavg's three figures.
func loadAvg() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "?"
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

// ownCPU is the CPU seconds used by the harness and every process it
// started and reaped (k6 reaps its workers, go test its test binaries,
// Python its pool processes).
func ownCPU() float64 {
	total := 0.0
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return total
}

// loadMark is the state of the machine when a session starts.
type loadMark struct {
	cpu  cpuTimes
	load string
	own  float64
}

func markLoad() loadMark {
	c, _ := machineCPU()
	return loadMark{cpu: c, load: loadAvg(), own: ownCPU()}
}

// loadSince says how busy the machine was since the mark, and how much of
// that was the session.
func loadSince(m loadMark) *Load {
	now, err := machineCPU()
	if err != nil {
		return nil
	}
	busy, total := now.since(m.cpu)
	if total <= 0 {
		return nil
	}
	own := math.Min(100*(ownCPU()-m.own)/total, 100)
	busyPct := 100 * busy / total
	return &Load{
		Start: m.load, End: loadAvg(), BusyPct: busyPct, StealPct: 100 * (now.Steal - m.cpu.Steal) / total,
		OwnPct: own, OthersPct: math.Max(busyPct-own, 0),
	}
}

// machineInfo describes the machine and the versions of what is measured.
func machineInfo(ctx context.Context, root, k6 string) Info {
	info := Info{
		CPUs: runtime.NumCPU(), OS: "Linux", CPUModel: "unknown",
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"),
	}
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if ci, err := fs.CPUInfo(); err == nil && len(ci) > 0 {
			info.CPUModel = ci[0].ModelName
		}
		if mi, err := fs.Meminfo(); err == nil && mi.MemTotal != nil {
			info.RAMGiB = math.Round(float64(*mi.MemTotal)/1024/1024*10) / 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info.Kernel = strings.TrimSpace(string(b))
	}
	raw := func(name string, args ...string) string {
		c := exec.CommandContext(ctx, name, args...) // #nosec G204 -- the harness's own fixed commands (k6, python3, git, go)
		c.Dir = root
		out, err := c.CombinedOutput()
		if err != nil {
			return "unknown"
		}
		return string(out)
	}
	cmd := func(name string, args ...string) string { return strings.TrimSpace(raw(name, args...)) }
	info.Go = cmd("go", "version")
	info.K6 = strings.SplitN(cmd(k6, "version"), "\n", 2)[0]
	info.Python = strings.TrimPrefix(cmd("python3", "-V"), "Python ")
	info.Commit = cmd("git", "rev-parse", "--short", "HEAD")
	for line := range strings.SplitSeq(raw("git", "status", "--porcelain"), "\n") {
		if len(line) > 3 && !strings.HasPrefix(line[3:], "bench/") && line[3:] != "BENCHMARKS.md" {
			info.Dirty = append(info.Dirty, line[3:])
		}
	}
	return info
}
