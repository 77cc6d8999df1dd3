package pool

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// benchPool returns a started pool with its workers up.
func benchPool(b *testing.B, cfg Config) *Pool {
	b.Helper()
	cfg.Registry = testRegistry
	if cfg.Name == "" {
		cfg.Name = b.Name()
	}
	if cfg.Kind == Process {
		cfg.Process.Command = []string{os.Args[0]}
		cfg.Process.SameRegistry = true
	}
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	p.Start()
	for p.Stats().Live < int64(cfg.Workers) {
		runtime.Gosched()
	}
	return p
}

// roundTrips submits b.N tasks from `submitters` goroutines, each waiting for
// its task before the next (like VUs calling runSync), and reports tasks/s.
func roundTrips(b *testing.B, p *Pool, submitters int, name string, params map[string]any) {
	b.Helper()
	b.ReportAllocs()
	var wg sync.WaitGroup
	per := b.N / submitters
	b.ResetTimer()
	for i := range submitters {
		n := per
		if i == 0 {
			n += b.N % submitters
		}
		wg.Go(func() {
			done := make(chan *Task, 1)
			onDone := func(t *Task) { done <- t }
			for range n {
				t, err := p.prepareTest(name, params)
				if err != nil {
					panic(err)
				}
				t.OnDone = onDone
				p.submit(t)
				if t := <-done; t.Err != nil {
					panic(t.Err)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkThreadNoop: the thread pool's own cost, submit to result.
func BenchmarkThreadNoop(b *testing.B) {
	for _, workers := range []int{1, 2, 4, 8, 16} {
		for _, submitters := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("workers=%d/submitters=%d", workers, submitters), func(b *testing.B) {
				p := benchPool(b, Config{Kind: Thread, Workers: workers})
				roundTrips(b, p, submitters, "noop", nil)
			})
		}
	}
}

// BenchmarkProcessNoop: a process pool's round trip of noop with 1 and with
// 16 requests in flight per worker.
func BenchmarkProcessNoop(b *testing.B) {
	for _, inFlight := range []int{1, 16} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			p := benchPool(b, Config{Kind: Process, Workers: 1, Process: ProcessConfig{Concurrency: inFlight}})
			roundTrips(b, p, inFlight, "noop", nil)
		})
	}
}

// BenchmarkThreadPrimes: cpu.primes {limit: 20000} through a thread pool of
// W workers, next to BenchmarkRawPrimes, W goroutines calling it directly.
func BenchmarkThreadPrimes(b *testing.B) {
	w := runtime.NumCPU()
	p := benchPool(b, Config{Kind: Thread, Workers: w})
	roundTrips(b, p, 2*w, "cpu.primes", map[string]any{"limit": 20000.0})
}

// BenchmarkRawPrimes is the floor for BenchmarkThreadPrimes: W goroutines
// calling the workload function with no pool at all.
func BenchmarkRawPrimes(b *testing.B) {
	spec, err := workload.Default.Lookup("cpu.primes")
	if err != nil {
		b.Fatal(err)
	}
	args, err := spec.Bind(map[string]any{"limit": 20000.0})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	w := runtime.NumCPU()
	var wg sync.WaitGroup
	per := b.N / w
	b.ResetTimer()
	for i := range w {
		n := per
		if i == 0 {
			n += b.N % w
		}
		wg.Go(func() {
			for range n {
				if _, err := spec.Run(b.Context(), args); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
