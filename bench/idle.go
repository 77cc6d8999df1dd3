package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// The idle measurement: pools of idleWorkers, sampled over idleWindow after
// idleSettle.
const (
	idleWorkers = 16
	idleSettle  = time.Second
	idleWindow  = 5 * time.Second
)

// measureIdle runs bench/k6/idle.js with a 16-worker thread and process
// pool (or, without pools, k6's own idle cost) and reads the CPU time and
// memory of k6 and of every worker once the pools are live and quiet.
func (s *session) measureIdle(ctx context.Context, pools bool) (Idle, error) {
	hold := (idleSettle + idleWindow + 3*time.Second).Seconds()
	poolsEnv := "POOLS=0"
	if pools {
		poolsEnv = "POOLS=1"
	}
	p, err := s.procs.start(ctx, true, []string{idleReady}, s.k6, "run", "--quiet", "--no-usage-report",
		"-e", "WORKERS="+strconv.Itoa(idleWorkers), "-e", poolsEnv, "-e", "HOLD="+strconv.FormatFloat(hold, 'f', 0, 64),
		filepath.Join(s.procs.root, "bench", "k6", "idle.js"))
	if err != nil {
		return Idle{}, err
	}
	defer p.kill()
	select {
	case <-p.mark(idleReady):
	case <-p.done:
		return Idle{}, fmt.Errorf("idle: k6 ended before its pools were ready:\n%s", p.tail())
	case <-time.After(2 * time.Minute):
		return Idle{}, fmt.Errorf("idle: k6 never reported its pools ready:\n%s", p.tail())
	}
	time.Sleep(idleSettle)
	before, err := k6test.SampleTree(p.pid())
	if err != nil {
		return Idle{}, fmt.Errorf("idle: %w", err)
	}
	if want := map[bool]int{true: idleWorkers}[pools]; len(before.Workers) != want {
		return Idle{}, fmt.Errorf("idle: found %d worker processes of k6 %d, want %d", len(before.Workers), p.pid(), want)
	}
	time.Sleep(idleWindow)
	after, err := k6test.SampleTree(p.pid())
	if err == nil && (p.exited() || !sameKeys(before.Workers, after.Workers)) {
		err = errors.New("k6 or a worker is gone")
	}
	if err != nil {
		return Idle{}, fmt.Errorf("idle: a process ended during the measurement (%w):\n%s", err, p.tail())
	}
	idle, err := idleOf(p.pid(), before, after)
	if err != nil {
		return Idle{}, err
	}
	idle.Pools = pools
	if err := p.wait(time.Minute); err != nil {
		return Idle{}, fmt.Errorf("idle: %w", err)
	}
	return idle, nil
}

// idleOf is what k6 and its workers used between two samples, and the
// memory they hold.
func idleOf(pid int, before, after k6test.TreeCPU) (Idle, error) {
	idle := Idle{
		Workers: len(before.Workers), WindowS: idleWindow.Seconds(), SettleS: idleSettle.Seconds(),
		ClkTck: k6test.UserHZ, K6Ticks: after.K6 - before.K6,
	}
	var err error
	if idle.K6Mem, err = k6test.MemoryOf(pid); err != nil {
		return Idle{}, fmt.Errorf("idle: memory of k6: %w", err)
	}
	for _, w := range slices.Sorted(maps.Keys(before.Workers)) {
		mem, err := k6test.MemoryOf(w)
		if err != nil {
			return Idle{}, fmt.Errorf("idle: memory of worker %d: %w", w, err)
		}
		idle.WorkerTicks = append(idle.WorkerTicks, after.Workers[w]-before.Workers[w])
		idle.WorkerMem = append(idle.WorkerMem, mem)
	}
	return idle, nil
}
