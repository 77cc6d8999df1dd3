package concurrency

import (
	"context"
	"time"

	"go.k6.io/k6/v2/metrics"

	"github.com/k6-concurrency/xk6-concurrency/pool"
)

// A started pool's state over time: concurrency_pool_queued, _busy, _live
// and _utilization (busy ÷ task slots, 0 to 1), so that Grafana shows the
// queue fill and the workers saturate rather than only a step line of the
// size. A pool that never started has no sampler and costs nothing.
const (
	// gaugeEvery is how often the gauges are sampled when nothing changes.
	gaugeEvery = time.Second
	// gaugePoll is how often they are checked for a change: a change is
	// sampled within this long, without a hook on every task's path.
	gaugePoll = 100 * time.Millisecond
	// finalPush bounds the push of a closed pool's last sample, which k6
	// may no longer read once the test has ended.
	finalPush = 100 * time.Millisecond
)

// gaugeValues are the gauges of one sample.
type gaugeValues struct {
	queued, busy, live int64
	utilization        float64
}

func gaugesOf(p *pool.Pool) gaugeValues {
	s := p.Stats()
	slots := float64(s.Workers * p.Config().Process.Concurrency)
	return gaugeValues{queued: int64(s.Queued), busy: s.Busy, live: s.Live, utilization: float64(s.Busy) / slots}
}

// sampleGauges pushes p's gauges while it is open: at once, on every change
// and at least every gaugeEvery, then a last sample once it closes. It runs
// on a goroutine of its own, started by the VU that started the pool, with
// that VU's tags of the moment (as concurrency_pool_workers has).
func (mi *ModuleInstance) sampleGauges(p *pool.Pool) {
	state := mi.vu.State()
	if state == nil {
		return
	}
	current := state.Tags.GetCurrentValues()
	tags := mi.tags.get(current.Tags, p, "", 0)
	samples, ctx := state.Samples, mi.root.ctx
	push := func(ctx context.Context, v gaugeValues) {
		now := time.Now()
		sample := func(m *metrics.Metric, value float64) metrics.Sample {
			return metrics.Sample{
				TimeSeries: metrics.TimeSeries{Metric: m, Tags: tags}, Time: now, Metadata: current.Metadata,
				Value: value,
			}
		}
		m := mi.metrics
		metrics.PushIfNotDone(ctx, samples, metrics.ConnectedSamples{Tags: tags, Time: now, Samples: []metrics.Sample{
			sample(m.queued, float64(v.queued)), sample(m.busy, float64(v.busy)),
			sample(m.live, float64(v.live)), sample(m.utilization, v.utilization),
		}})
	}
	done := make(chan struct{})
	mi.root.mu.Lock()
	mi.root.samplers = append(mi.root.samplers, done)
	mi.root.mu.Unlock()
	go func() {
		defer close(done)
		pollGauges(ctx, p, push)
	}()
}

// pollGauges is sampleGauges' goroutine: it looks at p's gauges every
// gaugePoll and pushes them when they changed, or gaugeEvery after the last
// push, so that a busy pool is followed closely and an idle one costs few
// samples. It stops when p closes or ctx ends, with a last sample.
func pollGauges(ctx context.Context, p *pool.Pool, push func(context.Context, gaugeValues)) {
	tick := time.NewTicker(gaugePoll)
	defer tick.Stop()
	last, lastAt := gaugesOf(p), time.Now()
	push(ctx, last)
sampling:
	for !p.Closed() {
		select {
		case <-ctx.Done():
			break sampling
		case <-tick.C:
		}
		if v := gaugesOf(p); v != last || time.Since(lastAt) >= gaugeEvery {
			push(ctx, v)
			last, lastAt = v, time.Now()
		}
	}
	// The last sample, once the pool is closed (at the test's end,
	// closeAll waits for it while k6 still reads samples).
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalPush)
	defer cancel()
	push(final, gaugesOf(p))
}
