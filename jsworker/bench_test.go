package jsworker

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// The performance figures of module workers, each as ratios from one run
// (the machine's load moves absolute figures; a ratio of interleaved
// measurements much less). `make test` runs them once (-benchtime 1x);
// measure with e.g.
//
//	go test -run '^$' -bench . -benchtime 20x ./jsworker/

// benchModule loads examples/js/tasks.js plus a noop export.
func benchRegistry(b *testing.B) (*Module, *workload.Registry) {
	b.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "examples", "js"))
	if err != nil {
		b.Fatal(err)
	}
	main := filepath.ToSlash(filepath.Join(dir, "bench.js"))
	read := func(p string) ([]byte, error) {
		if p == main {
			return []byte("export * from './tasks.js';\nexport function nothing() { return null; }\n"), nil
		}
		return readOS(p)
	}
	m, err := Load(main, read)
	if err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	log.Out = discard{}
	reg, err := m.Registry(workload.Default, log)
	if err != nil {
		b.Fatal(err)
	}
	return m, reg
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// threadPool is a started thread pool of n workers over reg, each of
// which has loaded the module.
func threadPool(b *testing.B, reg *workload.Registry, n int) *pool.Pool {
	b.Helper()
	p, err := pool.New(pool.Config{Name: b.Name(), Kind: pool.Thread, Workers: n, Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	batch(b, p, "sleep", map[string]any{"ms": 20.0}, n) // every worker makes its runtime
	return p
}

// batch runs n tasks at once on p and returns how long they took.
func batch(b *testing.B, p *pool.Pool, name string, params map[string]any, n int) time.Duration {
	b.Helper()
	var wg sync.WaitGroup
	began := time.Now()
	for range n {
		wg.Add(1)
		_, err := p.Submit(name, params, pool.OnDone(func(t *pool.Task) {
			if t.Err != nil {
				b.Error(t.Err)
			}
			wg.Done()
		}))
		if err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	return time.Since(began)
}

func primesParams() map[string]any { return map[string]any{"limit": 5000.0} }

// BenchmarkJSScaling: the JS prime count on a thread pool of W = NumCPU
// workers against one worker (goal: at least 0.9·W), and against the same
// function called directly in W runtimes with no pool, as W k6 VUs would
// (goal: at least 0.9). The built-in Go cpu.primes on the same pools is the
// control: on a busy machine neither reaches W, and go-speedup shows what
// the machine allowed. Rounds of all five alternate.
func BenchmarkJSScaling(b *testing.B) {
	m, reg := benchRegistry(b)
	w := runtime.NumCPU()
	one, many := threadPool(b, reg, 1), threadPool(b, reg, w)
	direct := directRuntimes(b, m, w)
	goParams := map[string]any{"limit": 200000.0}
	const perWorker = 8
	var tOne, tMany, tDirect, tGoOne, tGoMany time.Duration
	for b.Loop() {
		tOne += batch(b, one, "primes", primesParams(), perWorker)
		tMany += batch(b, many, "primes", primesParams(), perWorker*w)
		tDirect += runDirect(b, direct, "primes", primesParams(), perWorker)
		tGoOne += batch(b, one, "cpu.primes", goParams, perWorker)
		tGoMany += batch(b, many, "cpu.primes", goParams, perWorker*w)
	}
	speedup := func(one, many time.Duration) float64 {
		return (float64(perWorker*w) / many.Seconds()) / (float64(perWorker) / one.Seconds())
	}
	js, goSpeedup := speedup(tOne, tMany), speedup(tGoOne, tGoMany)
	b.ReportMetric(float64(w), "workers")
	b.ReportMetric(js, "speedup")
	b.ReportMetric(js/float64(w), "speedup/workers")
	b.ReportMetric(goSpeedup, "go-speedup")
	b.ReportMetric(js/goSpeedup, "speedup/go-speedup")
	b.ReportMetric(tDirect.Seconds()/tMany.Seconds(), "pool/direct")
}

// directRuntimes are n worker runtimes used without a pool.
func directRuntimes(b *testing.B, m *Module, n int) []*worker {
	b.Helper()
	log := logrus.New()
	log.Out = discard{}
	ws := make([]*worker, n)
	for i := range ws {
		w, err := newWorker(context.Background(), m, i+1, log)
		if err != nil {
			b.Fatal(err)
		}
		ws[i] = w
	}
	return ws
}

// runDirect calls the export each times in every runtime, each on its own
// goroutine, and returns how long that took.
func runDirect(b *testing.B, ws []*worker, name string, params map[string]any, each int) time.Duration {
	b.Helper()
	var wg sync.WaitGroup
	began := time.Now()
	for _, w := range ws {
		wg.Go(func() {
			for range each {
				if _, err := w.call(context.Background(), name, params); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(began)
}

// BenchmarkJSTaskOverhead: the round trip of a JS export that does nothing
// against the built-in Go noop, one task at a time on a one-worker pool.
func BenchmarkJSTaskOverhead(b *testing.B) {
	_, reg := benchRegistry(b)
	p := threadPool(b, reg, 1)
	const rounds = 200
	var tGo, tJS time.Duration
	for b.Loop() {
		for i := range rounds { // alternating which goes first
			if i%2 == 0 {
				tGo += batch(b, p, "noop", nil, 1)
			}
			tJS += batch(b, p, "nothing", nil, 1)
			if i%2 == 1 {
				tGo += batch(b, p, "noop", nil, 1)
			}
		}
	}
	n := float64(b.N * rounds)
	b.ReportMetric(float64(tGo.Nanoseconds())/n, "go-ns/task")
	b.ReportMetric(float64(tJS.Nanoseconds())/n, "js-ns/task")
	b.ReportMetric(float64((tJS-tGo).Nanoseconds())/n, "js-extra-ns/task")
}

// BenchmarkJSWorkerMemory: the heap a worker runtime holds once it loaded
// the module (examples/js/tasks.js and its import) and ran a task.
func BenchmarkJSWorkerMemory(b *testing.B) {
	m, _ := benchRegistry(b)
	const n = 32
	var total float64
	for b.Loop() {
		before := heap()
		ws := directRuntimes(b, m, n)
		for _, w := range ws {
			if _, err := w.call(context.Background(), "primes", map[string]any{"limit": 100.0}); err != nil {
				b.Fatal(err)
			}
		}
		total += float64(heap()-before) / n
		runtime.KeepAlive(ws)
	}
	b.ReportMetric(total/float64(b.N), "bytes/worker")
}

func heap() uint64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapAlloc
}
