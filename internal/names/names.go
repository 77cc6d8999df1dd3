// Package names holds the names the extension gives k6: its metrics and the
// tag keys its samples carry. The JS module (package concurrency) emits them
// and internal/report reads them back from k6's summary, so they are written
// once, here. README's Metrics section and index.d.ts document them
// (concurrency/docs_test.go keeps those in step).
package names

// The metrics the extension adds to k6's pipeline.
const (
	// MetricTasks is a Counter of settled tasks.
	MetricTasks = "concurrency_tasks"
	// MetricTaskDuration is a Trend (time): how long a task ran.
	MetricTaskDuration = "concurrency_task_duration"
	// MetricTaskWait is a Trend (time): how long a task waited for a worker.
	MetricTaskWait = "concurrency_task_wait"
	// MetricTaskOverhead is a Trend (time): the time beyond running and waiting.
	MetricTaskOverhead = "concurrency_task_overhead"
	// MetricTaskFailed is a Rate of failed tasks.
	MetricTaskFailed = "concurrency_task_failed"
	// MetricPoolWorkers is a Gauge of a pool's size.
	MetricPoolWorkers = "concurrency_pool_workers"
	// MetricPoolQueued is a Gauge of a started pool's queued tasks.
	MetricPoolQueued = "concurrency_pool_queued"
	// MetricPoolBusy is a Gauge of a started pool's running tasks.
	MetricPoolBusy = "concurrency_pool_busy"
	// MetricPoolLive is a Gauge of a started pool's live workers.
	MetricPoolLive = "concurrency_pool_live"
	// MetricPoolUtilization is a Gauge (0 to 1) of busy over capacity.
	MetricPoolUtilization = "concurrency_pool_utilization"
)

// The tags every sample of the extension carries, besides the VU's own.
const (
	// TagPool is the pool's name.
	TagPool = "pool"
	// TagPoolKind is "thread" or "process".
	TagPoolKind = "pool_kind"
	// TagWorkload is the task's workload name.
	TagWorkload = "workload"
	// TagWorkers is the pool's size when the task was submitted.
	TagWorkers = "workers"
)

// Metrics lists every metric the extension adds, in the order above.
func Metrics() []string {
	return []string{
		MetricTasks, MetricTaskDuration, MetricTaskWait, MetricTaskOverhead, MetricTaskFailed,
		MetricPoolWorkers, MetricPoolQueued, MetricPoolBusy, MetricPoolLive, MetricPoolUtilization,
	}
}
