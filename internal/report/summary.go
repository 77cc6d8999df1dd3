package report

import (
	"regexp"
	"time"
)

// MachineReadableEnv is k6's option that changes handleSummary's data to
// its machine-readable summary (also the --new-machine-readable-summary flag).
const MachineReadableEnv = "K6_NEW_MACHINE_READABLE_SUMMARY"

// machinePercentile matches a trend's percentile as the machine-readable
// summary names it (p90, p99.9); the default summary says p(90).
var machinePercentile = regexp.MustCompile(`^p(\d+(?:\.\d+)?)$`)

// FromMachineReadable turns a metric of k6's machine-readable summary
// (schema 1.x: data.results.metrics is an array of { name, type, contains,
// values }, data.config.duration is the run in seconds) into the default
// summary's shape, which the report reads: a trend's p90 and p95 become
// p(90) and p(95), and a counter, which has only its count there, gets
// k6's rate, the count over the run. (A rate keeps its rate; time values are
// milliseconds in both.)
func FromMachineReadable(m Metric, run time.Duration) Metric {
	out := Metric{Type: m.Type, Contains: m.Contains, Values: make(map[string]float64, len(m.Values)+1)}
	for k, v := range m.Values {
		if p := machinePercentile.FindStringSubmatch(k); p != nil && m.Type == "trend" {
			k = "p(" + p[1] + ")"
		}
		out.Values[k] = v
	}
	if count, ok := m.value("count"); ok && m.Type == "counter" && run > 0 {
		if _, has := m.Values["rate"]; !has {
			out.Values["rate"] = count / run.Seconds()
		}
	}
	return out
}
