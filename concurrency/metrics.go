package concurrency

import (
	"strconv"
	"time"

	"go.k6.io/k6/v2/js/modules"
	"go.k6.io/k6/v2/metrics"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/pool"
)

// taskMetrics are the extension's metrics in one test's registry.
type taskMetrics struct {
	tasks, duration, wait, overhead, failed, workers *metrics.Metric
	queued, busy, live, utilization                  *metrics.Metric
}

// registerMetrics registers (or finds, for every VU after the first) the
// metrics in the init context's registry.
func registerMetrics(registry *metrics.Registry) (*taskMetrics, error) {
	m := &taskMetrics{}
	for _, def := range []struct {
		dst  **metrics.Metric
		name string
		typ  metrics.MetricType
		vt   []metrics.ValueType
	}{
		{&m.tasks, names.MetricTasks, metrics.Counter, nil},
		{&m.duration, names.MetricTaskDuration, metrics.Trend, []metrics.ValueType{metrics.Time}},
		{&m.wait, names.MetricTaskWait, metrics.Trend, []metrics.ValueType{metrics.Time}},
		{&m.overhead, names.MetricTaskOverhead, metrics.Trend, []metrics.ValueType{metrics.Time}},
		{&m.failed, names.MetricTaskFailed, metrics.Rate, nil},
		{&m.workers, names.MetricPoolWorkers, metrics.Gauge, nil},
		{&m.queued, names.MetricPoolQueued, metrics.Gauge, nil},
		{&m.busy, names.MetricPoolBusy, metrics.Gauge, nil},
		{&m.live, names.MetricPoolLive, metrics.Gauge, nil},
		{&m.utilization, names.MetricPoolUtilization, metrics.Gauge, nil},
	} {
		metric, err := registry.NewMetric(def.name, def.typ, def.vt...)
		if err != nil {
			return nil, err
		}
		*def.dst = metric
	}
	return m, nil
}

// tagKey identifies a cached tag set: the VU's tags (k6 makes a new TagSet
// whenever they change) plus what the extension adds.
type tagKey struct {
	base     *metrics.TagSet
	pool     string
	workload string
	workers  int
}

// maxCachedTagSets bounds a VU's cache; VU tags that change every iteration
// (say, a tag with the iteration number) would otherwise grow it forever.
const maxCachedTagSets = 1024

// tagCache builds the tag sets of one VU's samples once and reuses them: a
// task's samples differ from the last task's only in rare cases.
type tagCache map[tagKey]*metrics.TagSet

func (c tagCache) get(base *metrics.TagSet, p *pool.Pool, workloadName string, workers int) *metrics.TagSet {
	key := tagKey{base: base, pool: p.Config().Name, workload: workloadName, workers: workers}
	if tags, ok := c[key]; ok {
		return tags
	}
	if len(c) >= maxCachedTagSets {
		clear(c)
	}
	tags := base.With(names.TagPool, key.pool).With(names.TagPoolKind, string(p.Config().Kind))
	if workloadName != "" {
		tags = tags.With(names.TagWorkload, workloadName)
	}
	if workers > 0 {
		tags = tags.With(names.TagWorkers, strconv.Itoa(workers))
	}
	c[key] = tags
	return tags
}

// taskTags are the tags of a task's samples, taken on the VU's goroutine
// when the task is submitted, as k6's own async APIs do: the group, the
// scenario and the VU's tags of that moment, plus the call's opts.tags.
type taskTags struct {
	base     *metrics.TagSet
	metadata map[string]string
}

// tagsNow returns the tags of a task submitted now with the call's tags.
func (mi *ModuleInstance) tagsNow(call map[string]string) taskTags {
	current := mi.vu.State().Tags.GetCurrentValues()
	base := current.Tags
	for k, v := range call {
		base = base.With(k, v)
	}
	return taskTags{base: base, metadata: current.Metadata}
}

// pushTask sends a settled task's samples into k6's pipeline, tagged with the
// tags of its submission and the pool, kind, workload and pool size. It runs
// on the VU's goroutine.
func (mi *ModuleInstance) pushTask(p *pool.Pool, t *pool.Task, tt taskTags) {
	state := mi.vu.State()
	if state == nil {
		return
	}
	tags := mi.tags.get(tt.base, p, t.Workload, t.Workers)
	m := mi.metrics
	sample := func(metric *metrics.Metric, value float64) metrics.Sample {
		return metrics.Sample{
			TimeSeries: metrics.TimeSeries{Metric: metric, Tags: tags},
			Time:       t.Finished,
			Metadata:   tt.metadata,
			Value:      value,
		}
	}
	failed := 0.0
	if t.Err != nil {
		failed = 1
	}
	samples := make([]metrics.Sample, 0, 5)
	samples = append(samples, sample(m.tasks, 1), sample(m.failed, failed))
	if t.Ran() {
		samples = append(samples,
			sample(m.duration, metrics.D(t.RunTime)),
			sample(m.wait, metrics.D(t.Wait())),
			sample(m.overhead, metrics.D(t.Overhead())))
	}
	// Pushed even when k6 has stopped the VU (not PushIfNotDone): a task
	// abandoned then is settled and counted in stats(), so it counts here
	// too. This runs on the VU's goroutine while k6 still reads the channel,
	// as k6's own data_sent samples of an interrupted iteration do.
	state.Samples <- metrics.ConnectedSamples{Samples: samples, Tags: tags, Time: t.Finished}
}

// pushWorkers sends the pool's size, when it starts and at every resize, so a
// ramp shows as a step line next to the throughput.
func (mi *ModuleInstance) pushWorkers(p *pool.Pool) {
	state := mi.vu.State()
	if state == nil {
		return
	}
	current := state.Tags.GetCurrentValues()
	tags := mi.tags.get(current.Tags, p, "", 0)
	now := time.Now()
	metrics.PushIfNotDone(mi.vu.Context(), state.Samples, metrics.Sample{
		TimeSeries: metrics.TimeSeries{Metric: mi.metrics.workers, Tags: tags},
		Time:       now,
		Metadata:   current.Metadata,
		Value:      float64(p.Size()),
	})
}

// ensure the module satisfies the k6 interfaces at compile time.
var (
	_ modules.Module   = (*RootModule)(nil)
	_ modules.Instance = (*ModuleInstance)(nil)
)
