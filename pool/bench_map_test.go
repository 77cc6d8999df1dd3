package pool

import (
	"fmt"
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
				p := benchPool(b, Config{Kind: kind, Workers: 2, Concurrency: conc, MaxQueue: &queue})
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
					t, err := p.Prepare("noop", nil)
					if err != nil {
						panic(err)
					}
					t.OnDone = onDone
					p.Submit(t)
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
