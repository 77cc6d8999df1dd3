package pool

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// TestPropertyEveryTaskInOnePlace plays random interleavings of submit,
// settle, cancel (a VU stop is a cancel), resize, crash and close on thread
// and process pools, and checks after every step that stats() accounts for
// each task exactly once (submitted == completed + failed + queued + busy),
// that no task settles twice, and that the queue and the workers never hold
// more than admission allows; at the end of each round, that every task
// settled and the pool still runs workers × concurrency tasks at once.
// The seed is logged; XK6_POOL_SEED=<seed> replays a run.
//
//nolint:paralleltest // counts this binary's worker processes in /proc, where other tests' workers would show
func TestPropertyEveryTaskInOnePlace(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("XK6_POOL_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "XK6_POOL_SEED")
	}
	t.Logf("seed %d (replay with XK6_POOL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	began := time.Now()
	const steps = 40
	var rounds, tasks int
	for ; rounds < 4 || time.Since(began) < 12*time.Second; rounds++ {
		kind := []Kind{Process, Thread}[rounds%2]
		t.Run(fmt.Sprintf("round %d, %s", rounds, kind), func(t *testing.T) {
			m := newModel(t, rng, kind)
			m.play(steps)
			tasks += len(m.tasks)
		})
		if t.Failed() {
			return
		}
	}
	t.Logf("FIGURE %d rounds of %d random steps (thread and process pools alternately): %d tasks, every one in exactly one place after every step, capacity whole at the end of every round",
		rounds, steps, tasks)
}

// model drives one pool and remembers every task it submitted.
type model struct {
	t      *testing.T
	rng    *rand.Rand
	p      *Pool
	tasks  []*tracked
	maxCap int // slots ever added: the current ones plus those of retired workers still finishing
	maxRun int // of those, the ones that run a task (the others prefetch)
	closed bool
	killed []*ipc.Worker // crashed by the test; finish waits until they are reaped
}

type tracked struct {
	task    *Task
	settles atomic.Int32
	done    chan struct{}
}

func newModel(t *testing.T, rng *rand.Rand, kind Kind) *model {
	cfg := Config{Kind: kind, Workers: 1 + rng.IntN(2), MaxQueue: new(rng.IntN(4)), cancelGrace: 100 * time.Millisecond}
	if kind == Process {
		cfg.Process.Concurrency = 1 + rng.IntN(2)
		cfg.Process.Command = []string{os.Args[0]} // not SameRegistry: names are checked against the hello
		cfg.maxFrame = 64 << 10
	}
	t.Logf("%s pool: workers %d, concurrency %d, maxQueue %d", kind, cfg.Workers, max(cfg.Process.Concurrency, 1), *cfg.MaxQueue)
	m := &model{t: t, rng: rng, p: newPool(t, cfg)}
	m.maxCap = m.p.Size() * slotsPerWorker(m.p.Config())
	m.maxRun = m.p.Size() * m.p.Config().Process.Concurrency
	return m
}

func (m *model) play(steps int) {
	ops := []struct {
		weight int
		name   string
		do     func() string
	}{
		{8, "submit", m.submit},
		{3, "cancel", m.cancel},
		{2, "settle", m.settle},
		{1, "resize", m.resize},
		{1, "crash", m.crash},
		{2, "pause", m.pause},
		{1, "close", m.close},
	}
	total := 0
	for _, op := range ops {
		total += op.weight
	}
	for step := range steps {
		n := m.rng.IntN(total)
		for _, op := range ops {
			if n -= op.weight; n < 0 {
				what := fmt.Sprintf("step %d, %s %s", step, op.name, op.do())
				m.t.Log(what)
				m.check(what)
				break
			}
		}
	}
	m.finish()
}

func (m *model) submit() string {
	type call struct {
		name    string
		params  map[string]any
		timeout time.Duration
		raw     []byte // params as sent, when not what Prepare makes
	}
	dur := func(lo, hi int) string { return fmt.Sprintf("%dms", lo+m.rng.IntN(hi-lo)) }
	calls := []call{
		{name: "noop"},
		{name: "io.sleep", params: map[string]any{"duration": dur(10, 150)}},
		{name: "io.sleep", params: map[string]any{"duration": "1h"}, timeout: 50 * time.Millisecond},
		{name: "t.block", params: map[string]any{"for": dur(20, 200)}},
		{name: "t.block", params: map[string]any{"for": dur(100, 250)}, timeout: 30 * time.Millisecond},
		{name: "t.fail"},
	}
	if m.p.Config().Kind == Process {
		calls = append(calls,
			call{name: "t.crash"}, // the worker crashes
			call{name: "t.env", params: map[string]any{"name": strings.Repeat("x", 100<<10)}}, // over the frame limit
			call{name: "not.offered"},                 // unknown after the hello
			call{name: "noop", raw: []byte(`[1, 2]`)}, // params that cannot be sent
		)
	}
	c := calls[m.rng.IntN(len(calls))]
	task, err := m.p.prepareTest(c.name, c.params)
	require.NoError(m.t, err)
	task.Timeout = c.timeout
	if c.raw != nil {
		task.params = c.raw
	}
	tr := &tracked{task: task, done: make(chan struct{})}
	task.OnDone = func(*Task) {
		if tr.settles.Add(1) == 1 {
			close(tr.done)
		}
	}
	m.tasks = append(m.tasks, tr)
	m.p.submit(task)
	return fmt.Sprintf("%s %v timeout %s", c.name, c.params["duration"], c.timeout)
}

// unsettled picks a task that has not settled yet, or nil.
func (m *model) unsettled() *tracked {
	var open []*tracked
	for _, tr := range m.tasks {
		if tr.settles.Load() == 0 {
			open = append(open, tr)
		}
	}
	if len(open) == 0 {
		return nil
	}
	return open[m.rng.IntN(len(open))]
}

func (m *model) cancel() string {
	tr := m.unsettled()
	if tr == nil {
		return "(none)"
	}
	ok := tr.task.Cancel(taskerr.New(taskerr.PoolClosed, "%s was abandoned: the VU stopped", tr.task.Workload))
	return fmt.Sprintf("%s: %v", tr.task.Workload, ok)
}

func (m *model) settle() string {
	tr := m.unsettled()
	if tr == nil {
		return "(none)"
	}
	m.await(tr)
	return tr.task.Workload
}

func (m *model) await(tr *tracked) {
	select {
	case <-tr.done:
	case <-time.After(settleWithin):
		require.FailNow(m.t, "a task never settled", "%s; stats %+v", tr.task.Workload, m.p.Stats())
	}
}

func (m *model) resize() string {
	n := 1 + m.rng.IntN(3)
	before := m.p.Size()
	err := m.p.Resize(n)
	if m.closed {
		require.Equal(m.t, taskerr.PoolClosed, taskerr.CodeOf(err))
		return "(closed)"
	}
	require.NoError(m.t, err)
	m.maxCap += max(n-before, 0) * slotsPerWorker(m.p.Config())
	m.maxRun += max(n-before, 0) * m.p.Config().Process.Concurrency
	return strconv.Itoa(n)
}

// crash kills a worker process that is up with SIGKILL.
func (m *model) crash() string {
	var running []*ipc.Worker
	m.p.mu.Lock()
	for _, w := range m.p.workers {
		if seat, ok := w.(*procSeat); ok {
			if r := seat.cur.Load(); r != nil && !r.isEnding() {
				running = append(running, r.w)
			}
		}
	}
	m.p.mu.Unlock()
	if len(running) == 0 {
		return "(no worker process)"
	}
	w := running[m.rng.IntN(len(running))]
	_ = syscall.Kill(w.PID(), syscall.SIGKILL)
	m.killed = append(m.killed, w)
	return strconv.Itoa(w.PID())
}

func (m *model) pause() string {
	d := time.Duration(m.rng.IntN(30)) * time.Millisecond
	time.Sleep(d)
	return d.String()
}

func (m *model) close() string {
	m.p.Close()
	m.closed = true
	return ""
}

// check holds after every step.
func (m *model) check(step string) {
	t := m.t
	// OnDone runs after the count, and the settled tasks are seen before
	// stats() is read: never more seen than counted.
	var seen int64
	for _, tr := range m.tasks {
		n := tr.settles.Load()
		require.LessOrEqual(t, n, int32(1), "%s: %s settled twice", step, tr.task.Workload)
		seen += int64(n)
	}
	s := m.p.Stats()
	require.Equal(t, s.Submitted, s.Completed+s.Failed+int64(s.Queued)+s.Busy, "%s: every task in exactly one place: %+v", step, s)
	require.EqualValues(t, len(m.tasks), s.Submitted, "%s: %+v", step, s)
	require.LessOrEqual(t, seen, s.Completed+s.Failed, "%s: %+v", step, s)
	require.GreaterOrEqual(t, s.Abandoned, int64(0), "%s: %+v", step, s)
	require.LessOrEqual(t, s.Busy+s.Abandoned, int64(m.maxCap), "%s: the workers hold no more than their slots: %+v", step, s)
	require.LessOrEqual(t, s.Busy, int64(m.maxRun), "%s: the workers run no more than their concurrency: %+v", step, s)
	require.LessOrEqual(t, s.Queued, *m.p.Config().MaxQueue+m.maxCap, "%s: %+v", step, s)
	if m.closed {
		require.Zero(t, s.Queued+int(s.Busy), "%s: a closed pool holds nothing: %+v", step, s)
	}
}

// finish waits for every task, checks that the pool still has all its
// capacity, closes it and checks that nothing is left.
func (m *model) finish() {
	t := m.t
	for _, tr := range m.tasks {
		m.await(tr)
	}
	m.check("all settled")
	// A worker the test killed counts as live until the pool has reaped it;
	// a probe task sent to it before that would fail with it.
	for _, w := range m.killed {
		select {
		case <-w.Done():
		case <-time.After(10 * time.Second):
			require.FailNow(t, "a killed worker was not reaped", "worker pid %d, killed by the test, was not reaped", w.PID())
		}
	}
	if !m.closed {
		requireCapacity(t, m.p)
		m.p.Close()
	}
	s := m.p.Stats()
	require.Equal(t, s.Submitted, s.Completed+s.Failed, "%+v", s)
	require.Zero(t, s.Queued+int(s.Busy+s.Abandoned), "%+v", s)
	requireNoWorkers(t)
}

// slotsPerWorker is how many requests a worker holds at most: its
// concurrency, plus the prefetched ones on a process pool.
func slotsPerWorker(cfg Config) int {
	if cfg.Kind == Process {
		return cfg.Process.Concurrency + PrefetchDepth
	}
	return cfg.Process.Concurrency
}
