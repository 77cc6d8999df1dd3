package pool

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkNoopMap: tasks submitted ahead of the workers, as map does (up to
// 10,000 outstanding), on 2 workers: where prefetch keeps a worker process
// from idling a round trip between tasks.
func BenchmarkNoopMap(b *testing.B) {
	for _, kind := range []Kind{Thread, Process} {
		for _, conc := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/workers=2/concurrency=%d", kind, conc), func(b *testing.B) {
				queue := 10_000
				p := benchPool(b, Config{Kind: kind, Workers: 2, Process: ProcessConfig{Concurrency: conc}, MaxQueue: &queue})
				outstanding := make(chan struct{}, queue)
				onDone := func(t *Task) {
					if t.Err != nil {
						panic(t.Err)
					}
					<-outstanding
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					outstanding <- struct{}{}
					t, err := p.prepareTest("noop", nil)
					if err != nil {
						panic(err)
					}
					t.OnDone = onDone
					p.submit(t)
				}
				for range queue {
					outstanding <- struct{}{}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
			})
		}
	}
}

// BenchmarkMapNoopChunks: map calls of 10,000 noop tasks on 2 workers, as
// SubmitAll gets them from map(): the thread pool, and a process pool
// without chunks (chunkSize 1), with chunks of 16, and with the automatic
// chunk size (ceil(n / (4 * workers)), 1,250 here), side by side.
func BenchmarkMapNoopChunks(b *testing.B) {
	const call = 10_000
	queue := call
	for _, c := range []struct {
		name  string
		kind  Kind
		chunk int // 0: AutoChunkSize
	}{{"thread", Thread, 1}, {"process/chunkSize=1", Process, 1}, {"process/chunkSize=16", Process, 16}, {"process/chunkSize=auto", Process, 0}} {
		b.Run(c.name, func(b *testing.B) {
			p := benchPool(b, Config{Kind: c.kind, Workers: 2, MaxQueue: &queue})
			size := c.chunk
			if size == 0 {
				size = p.AutoChunkSize(call)
			}
			var wg sync.WaitGroup
			onDone := func(t *Task) {
				if t.Err != nil {
					panic(t.Err)
				}
				wg.Done()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for left := b.N; left > 0; left -= call {
				tasks := make([]*Task, min(left, call))
				for i := range tasks {
					t, err := p.prepareTest("noop", nil)
					if err != nil {
						panic(err)
					}
					t.OnDone = onDone
					tasks[i] = t
				}
				wg.Add(len(tasks))
				p.submitChunked(tasks, size)
				wg.Wait()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
