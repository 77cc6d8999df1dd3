package jsworker

import (
	"bytes"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// holdModule logs once at its top level and exports hold, which keeps its
// worker busy on a timer, so that tasks submitted together take one worker
// each.
const holdModule = "console.log('loaded');\n" +
	"export async function hold({ ms }) { await new Promise((r) => setTimeout(r, ms)); return true; }\n"

// loads is the worker field of every "loaded" line the hook caught: one per
// runtime that evaluated the module.
func loads(hook *logtest.Hook) []int {
	var ids []int
	for _, e := range hook.AllEntries() {
		if e.Message == "loaded" {
			ids = append(ids, e.Data["worker"].(int))
		}
	}
	slices.Sort(ids)
	return ids
}

// holdAll runs n hold tasks at once on p and waits for them.
func holdAll(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		_, err := p.Submit("hold", map[string]any{"ms": 100}, pool.OnDone(func(task *pool.Task) {
			assert.Nil(t, task.Err)
			wg.Done()
		}))
		require.NoError(t, err)
	}
	wg.Wait()
}

// TestResizeReleasesRuntimes: each thread-pool worker has its own runtime;
// shrinking the pool releases the runtimes of the workers it retired (the
// garbage collector frees them), and growing it again loads the module in
// fresh runtimes, once per new worker.
func TestResizeReleasesRuntimes(t *testing.T) { //nolint:paralleltest // reads the garbage collector
	dir := writeModule(t, map[string]string{"main.js": holdModule})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	log, hook := logtest.NewNullLogger()
	reg, h, err := m.registry(workload.Default, log.WithField("pool", "p"))
	require.NoError(t, err)
	p, err := pool.New(pool.Config{Name: "p", Kind: pool.Thread, Workers: 4, Registry: reg})
	require.NoError(t, err)
	defer p.Close()

	holdAll(t, p, 4)
	assert.Equal(t, []int{1, 2, 3, 4}, loads(hook), "one load per worker, with the worker's number")
	require.Equal(t, 4, h.runtimes())
	h.mu.Lock()
	gone := []weak.Pointer[worker]{weak.Make(h.byWorker[3]), weak.Make(h.byWorker[4])}
	h.mu.Unlock()

	require.NoError(t, p.Resize(2))
	waitLive(t, p, 2) // the retired workers left, and released their runtimes first
	assert.Equal(t, 2, h.runtimes(), "the runtimes of the 2 retired workers are released")
	runtimeGC()
	for i, w := range gone {
		assert.Nil(t, w.Value(), "the runtime of retired worker %d was not garbage-collected", 3+i)
	}

	holdAll(t, p, 2)
	assert.Equal(t, []int{1, 2, 3, 4}, loads(hook), "the 2 workers left kept their runtimes")

	require.NoError(t, p.Resize(4))
	holdAll(t, p, 4)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, loads(hook), "the 2 new workers loaded the module once each")
	assert.Equal(t, 4, h.runtimes())

	p.Close()
	waitLive(t, p, 0)
	assert.Equal(t, 0, h.runtimes(), "a closed pool holds no runtime")
}

// TestWorkerProcessRuntimesAreReused: outside a thread pool (in a worker
// process) tasks share the idle runtimes, named by the process's pid.
func TestWorkerProcessRuntimesAreReused(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": holdModule})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	log, hook := logtest.NewNullLogger()
	reg, h, err := m.registry(workload.Default, log)
	require.NoError(t, err)
	for range 3 {
		_, err := run(t.Context(), t, reg, "hold", map[string]any{"ms": 1})
		require.NoError(t, err)
	}
	assert.Equal(t, []int{os.Getpid()}, loads(hook))
	assert.Equal(t, 1, h.runtimes())
}

// TestConsoleLinesOfAWorkerProcess: a worker process's console line, as
// ConsoleFormatter writes it to stderr, reaches the pool's log as a thread
// pool worker's does: at its level, with the fields worker and
// source=console; other stderr lines stay info lines as they are.
func TestConsoleLinesOfAWorkerProcess(t *testing.T) {
	t.Parallel()
	for _, level := range []logrus.Level{logrus.DebugLevel, logrus.InfoLevel, logrus.WarnLevel, logrus.ErrorLevel} {
		t.Run(level.String(), func(t *testing.T) {
			t.Parallel()
			line, err := ConsoleFormatter{}.Format(&logrus.Entry{
				Level: level, Message: "two\nlines", Data: logrus.Fields{"worker": 4242, "source": "console"},
			})
			require.NoError(t, err)
			require.Equal(t, 1, bytes.Count(line, []byte("\n")), "one line, its newline last: %q", line)
			require.True(t, bytes.HasSuffix(line, []byte("\n")))
			log, hook := logtest.NewNullLogger()
			log.SetLevel(logrus.DebugLevel)
			LogStderrLine(log.WithField("pool", "p"), 4242, string(line[:len(line)-1]))
			e := hook.LastEntry()
			require.NotNil(t, e)
			assert.Equal(t, level, e.Level)
			assert.Equal(t, "two\nlines", e.Message)
			assert.Equal(t, logrus.Fields{"pool": "p", "worker": 4242, "source": "console"}, e.Data)
		})
	}
	t.Run("another line", func(t *testing.T) {
		t.Parallel()
		log, hook := logtest.NewNullLogger()
		for _, line := range []string{"plain text", ConsolePrefix + "{not json", ConsolePrefix + `{"level":"loud","msg":"x"}`} {
			LogStderrLine(log.WithField("pool", "p"), 4242, line)
			e := hook.LastEntry()
			assert.Equal(t, logrus.InfoLevel, e.Level)
			assert.Equal(t, line, e.Message)
			assert.Equal(t, logrus.Fields{"pool": "p", "pid": 4242}, e.Data)
		}
	})
}

// waitLive waits until the pool has n live workers: a retired worker counts
// as live until it has left, its runtime released.
func waitLive(t *testing.T, p *pool.Pool, n int64) {
	t.Helper()
	for p.Stats().Live != n {
		if t.Context().Err() != nil {
			require.FailNow(t, "the pool's live workers", "the pool has %d live workers, want %d", p.Stats().Live, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// runtimeGC runs the garbage collector until weak pointers to what is
// unreachable are cleared (a cycle can take two collections).
func runtimeGC() {
	runtime.GC()
	runtime.GC()
}

// TestInitRunsInTheWorkersRuntime: a thread pool's init that is an export
// runs in the runtime the worker's tasks then use: one load per worker.
func TestInitRunsInTheWorkersRuntime(t *testing.T) {
	t.Parallel()
	dir := writeModule(t, map[string]string{"main.js": holdModule})
	m, err := Load(dir+"/main.js", readOS)
	require.NoError(t, err)
	log, hook := logtest.NewNullLogger()
	reg, h, err := m.registry(workload.Default, log)
	require.NoError(t, err)
	p, err := pool.New(pool.Config{
		Name: "p", Kind: pool.Thread, Workers: 2, Registry: reg,
		Init: &pool.Init{Workload: "hold", Params: map[string]any{"ms": 1}},
	})
	require.NoError(t, err)
	defer p.Close()
	holdAll(t, p, 2)
	holdAll(t, p, 2)
	assert.Equal(t, []int{1, 2}, loads(hook), "the init and the tasks of a worker share its runtime")
	assert.Equal(t, 2, h.runtimes())
}
