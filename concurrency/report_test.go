package concurrency

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reportSummaryJS is hand-made handleSummary data, as a script would see it: two
// pool kinds, two workloads, 1 and 2 workers, 2 s per cell, plus what k6
// puts around the cells (other metrics, a NaN, setup_data).
const reportSummaryJS = `
globalThis.data = {
  root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: [], checks: [] },
  options: { summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)'], summaryTimeUnit: '', noColor: false },
  state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: 10512.5 },
  setup_data: { anything: [1, 2, 3] },
  metrics: {
    'concurrency_tasks{pool_kind:thread,workers:1,workload:cpu.primes}': { type: 'counter', contains: 'default', values: { count: 5000, rate: 475.6 }, thresholds: { 'count>=0': { ok: true } } },
    'concurrency_tasks{pool_kind:thread,workers:2,workload:cpu.primes}': { type: 'counter', contains: 'default', values: { count: 9000, rate: 856.1 } },
    'concurrency_tasks{workload:cpu.primes,workers:1,pool_kind:process}': { type: 'counter', contains: 'default', values: { count: 3000, rate: 285.4 } },
    'concurrency_tasks{pool_kind:process,workers:2,workload:cpu.primes}': { type: 'counter', contains: 'default', values: { count: 5400, rate: 513.7 } },
    'concurrency_tasks{pool_kind:thread,workers:1,workload:io.sleep}': { type: 'counter', contains: 'default', values: { count: 190, rate: 18.1 } },
    'concurrency_tasks{pool_kind:thread,workers:2,workload:io.sleep}': { type: 'counter', contains: 'default', values: { count: 380, rate: 36.1 } },
    'concurrency_tasks{pool_kind:process,workers:1,workload:io.sleep}': { type: 'counter', contains: 'default', values: { count: 188, rate: 17.9 } },
    'concurrency_tasks{pool_kind:process,workers:2,workload:io.sleep}': { type: 'counter', contains: 'default', values: { count: 376, rate: 35.8 } },
    concurrency_tasks: { type: 'counter', contains: 'default', values: { count: 23524, rate: 2237.7 } },
    concurrency_task_duration: { type: 'trend', contains: 'time', values: { avg: 2.5, min: 0.1, med: 0.3, max: 40, 'p(90)': 10.1, 'p(95)': 10.2 } },
    concurrency_task_failed: { type: 'rate', contains: 'default', values: { rate: 0, passes: 0, fails: 23524 } },
    vus: { type: 'gauge', contains: 'default', values: { value: NaN, min: 0, max: 4 } },
  },
};
`

func TestReportThresholds(t *testing.T) {
	t.Parallel()
	vu := newTestVU(t, New())
	vu.init(`
		const { report } = concurrency;
		globalThis.th = report.thresholds({ pool_kind: ['thread', 'process'], workers: [4, 8, 16], workload: ['cpu.primes', 'io.sleep'] });
		globalThis.opts = { thresholds: { ...report.thresholds({ workload: ['noop'], workers: [1] }), concurrency_task_failed: ['rate==0'] } };
	`)
	rt := vu.rt.VU.Runtime()
	th := rt.Get("th").Export().(map[string]any)
	assert.Len(t, th, 12)
	for _, kind := range []string{"thread", "process"} {
		for _, w := range []string{"4", "8", "16"} {
			for _, wl := range []string{"cpu.primes", "io.sleep"} {
				key := "concurrency_tasks{pool_kind:" + kind + ",workers:" + w + ",workload:" + wl + "}"
				assert.Equal(t, []any{"count>=0"}, th[key], key)
			}
		}
	}
	opts := rt.Get("opts").Export().(map[string]any)["thresholds"].(map[string]any)
	assert.Equal(t, map[string]any{
		"concurrency_tasks{workers:1,workload:noop}": []any{"count>=0"},
		"concurrency_task_failed":                    []any{"rate==0"},
	}, opts)
}

var reportTextRow = regexp.MustCompile(`(?m)^(cpu\.primes|io\.sleep)\s+(threads|processes)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x$`)

func TestReportTextAndHTML(t *testing.T) {
	t.Parallel()
	vu := newTestVU(t, New())
	vu.init(reportSummaryJS + `
		const { report } = concurrency;
		globalThis.text = report.text(data, { seconds: 2, title: 'Sizes 1 and 2' });
		globalThis.rateText = report.text(data);
		globalThis.page = report.html(data, { seconds: 2 });
		globalThis.nullOpts = report.text(data, null) === report.text(data, undefined);
		globalThis.empty = report.text({ metrics: { concurrency_tasks: data.metrics.concurrency_tasks } });
		globalThis.emptyPage = report.html({ metrics: {} });
	`)
	rt := vu.rt.VU.Runtime()
	text := rt.Get("text").String()
	assert.True(t, strings.HasPrefix(text, "Sizes 1 and 2\nfunction calls per second (higher is better), from concurrency_tasks\n"), text)
	rows := reportTextRow.FindAllStringSubmatch(text, -1)
	require.Len(t, rows, 4, text)
	want := map[string][3]string{
		"cpu.primes threads":   {"2500", "4500", "1.80"},
		"cpu.primes processes": {"1500", "2700", "1.80"},
		"io.sleep threads":     {"95.0", "190", "2.00"},
		"io.sleep processes":   {"94.0", "188", "2.00"},
	}
	for _, r := range rows {
		got := [3]string{r[3], r[4], r[5]}
		assert.Equal(t, want[r[1]+" "+r[2]], got, r[0])
	}
	assert.Contains(t, text, "calls/s = count / 2 s per cell")
	assert.Contains(t, text, "concurrency_task_duration   avg=2.50ms med=300µs p(95)=10.2ms max=40.0ms")
	assert.Contains(t, text, "concurrency_task_failed     rate=0.00%")

	rateText := rt.Get("rateText").String()
	assertReportRow(t, rateText, "cpu.primes", "threads", "476", "856", "1.80x") // without seconds, k6's rates
	assert.Contains(t, rateText, "the whole test run (10.5 s)")
	assert.True(t, rt.Get("nullOpts").ToBoolean())

	page := rt.Get("page").String()
	assert.True(t, strings.HasPrefix(page, "<!doctype html>"))
	bars := regexp.MustCompile(`<rect class="bar" data-series="(\w+)" data-size="(\d+)" data-workload="([\w.]+)" data-value="([\d.]+)"`).FindAllStringSubmatch(page, -1)
	require.Len(t, bars, 8)
	for _, b := range bars {
		if b[1] == "thread" && b[2] == "2" && b[3] == "cpu.primes" {
			assert.Equal(t, "4500", b[4])
		}
	}
	assert.Contains(t, page, "CPU-bound", "workload kinds come from the catalogue")
	assert.Contains(t, page, "10.5 s")

	assert.Contains(t, rt.Get("empty").String(), "no cells found")
	assert.Contains(t, rt.Get("empty").String(), "report.thresholds(")
	assert.Contains(t, rt.Get("emptyPage").String(), "No cells found")
}

// TestReportReadsK6Data passes the summary data the way k6 builds it: Go
// maps handed to the runtime, with NaN among the values.
func TestReportReadsK6Data(t *testing.T) {
	t.Parallel()
	vu := newTestVU(t, New())
	rt := vu.rt.VU.Runtime()
	require.NoError(t, rt.Set("data", map[string]any{
		"state": map[string]any{"isStdOutTTY": false, "testRunDurationMs": float64(4000)},
		"metrics": map[string]any{
			"concurrency_tasks{pool_kind:thread,workers:1,workload:noop}": map[string]any{
				"type": "counter", "contains": "default", "values": map[string]float64{"count": 40, "rate": 10},
			},
			"concurrency_tasks{pool_kind:thread,workers:3,workload:noop}": map[string]any{
				"type": "counter", "contains": "default", "values": map[string]float64{"count": 100, "rate": 25},
			},
			"concurrency_task_wait": map[string]any{
				"type": "trend", "contains": "time", "values": map[string]float64{"avg": math.NaN(), "med": 1, "p(95)": 2, "max": 3},
			},
		},
		"setup_data": nil,
	}))
	vu.init(`globalThis.text = concurrency.report.text(data); globalThis.page = concurrency.report.html(data);`)
	text := rt.Get("text").String()
	assertReportRow(t, text, "noop", "threads", "10.0", "25.0", "2.50x")
	assert.Contains(t, text, "concurrency_task_wait       avg=- med=1.00ms p(95)=2.00ms max=3.00ms")
	assert.Equal(t, 2, strings.Count(rt.Get("page").String(), `class="bar"`))
}

// assertReportRow checks that text has a line made of these fields.
func assertReportRow(t *testing.T, text string, fields ...string) {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(fields, " ") {
			return
		}
	}
	assert.Fail(t, "no such line", "no line %q in:\n%s", strings.Join(fields, " "), text)
}

func TestReportBadArguments(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`report.text()`:                                             {"report.text()", "data must be the summary data", "undefined"},
		`report.text(5)`:                                            {"report.text()", "data must be", "got 5"},
		`report.html('data')`:                                       {"report.html()", "data must be", `"data"`},
		`report.html([])`:                                           {"report.html()", "data must be", "an array"},
		`report.text(() => 1)`:                                      {"report.text()", "data must be", "a function"},
		`report.text({})`:                                           {"report.text()", "data.metrics is undefined"},
		`report.text({ metrics: 5 })`:                               {"report.text()", "data.metrics is 5"},
		`report.text(data, { secnds: 2 })`:                          {"report.text()", `unknown option "secnds"`, "seconds"},
		`report.html(data, { seconds: 'soon' })`:                    {"report.html()", `option "seconds"`, `"soon"`},
		`report.html(data, { seconds: -2 })`:                        {"report.html()", `option "seconds"`, "positive"},
		`report.text(data, { series: 7 })`:                          {"report.text()", `option "series"`, "got 7"},
		`report.text(data, { size: 'workers', series: 'workers' })`: {"report.text()", `"series" and "size"`},
		`report.text(data, { title: () => 'x' })`:                   {"report.text()", "opts.title", "function"},
		`report.text(data, 'fast')`:                                 {"report.text()", "opts must be an object", `"fast"`},
		`report.thresholds()`:                                       {"report.thresholds()", "spec must be an object", "null"},
		`report.thresholds(['workers'])`:                            {"report.thresholds()", "spec must be an object", "an array"},
		`report.thresholds({ workers: 4 })`:                         {"report.thresholds()", "spec.workers", "non-empty array", "got 4"},
		`report.thresholds({ workers: [4, NaN] })`:                  {"report.thresholds()", "spec.workers[1]", "NaN"},
		`report.thresholds({ workload: ['a,b'] })`:                  {"report.thresholds()", "spec.workload[0]", `"a,b"`},
		`report.thresholds({})`:                                     {"report.thresholds()", "empty"},
	}
	for code, want := range cases {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			vu := newTestVU(t, New())
			vu.init(reportSummaryJS + `
				const { report } = concurrency;
				try { ` + code + `; globalThis.result = 'no error'; } catch (e) { globalThis.result = [e.name, e.message]; }
			`)
			got, ok := vu.rt.VU.Runtime().Get("result").Export().([]any)
			require.True(t, ok, "%s threw nothing", code)
			assert.Equal(t, "InvalidArgumentError", got[0])
			for _, w := range want {
				assert.Contains(t, got[1], w)
			}
		})
	}
}

// issue17Metrics are the cells of issue 17's run, as k6 writes them:
// report.thresholds declared 1 and 2 workers, only the 2-worker pool ran,
// and the sub-metric without samples has a count and a rate of 0 and no type.
const issue17Metrics = `
const declaredOnly = 'concurrency_tasks{pool_kind:thread,workers:1,workload:noop}';
const ran = 'concurrency_tasks{pool_kind:thread,workers:2,workload:noop}';
`

// TestReportCellThatDidNotRun is issue 17's small input on the data
// handleSummary gets, in k6's default shape and in its machine-readable
// summary (K6_NEW_MACHINE_READABLE_SUMMARY=true): the cell that never ran
// reads as not run, not as a measured 0 that blanks the speed-ups, and has
// no bar.
func TestReportCellThatDidNotRun(t *testing.T) {
	t.Parallel()
	shapes := map[string]string{
		"default summary": issue17Metrics + `
			globalThis.data = {
			  state: { testRunDurationMs: 500 },
			  metrics: {
			    [declaredOnly]: { values: { count: 0, rate: 0 }, thresholds: { 'count>=0': { ok: true } } },
			    [ran]: { type: 'counter', contains: 'default', values: { count: 3, rate: 6 }, thresholds: { 'count>=0': { ok: true } } },
			    concurrency_task_duration: { type: 'trend', contains: 'time', values: { avg: 2, min: 1, med: 2, max: 3, 'p(90)': 3, 'p(95)': 3 } },
			  },
			};`,
		"machine-readable summary": issue17Metrics + `
			globalThis.data = {
			  config: { duration: 0.5, execution: 'local', script: '' },
			  metadata: { generated_at: '2026-11-30T16:49:51Z', k6_version: '2.2.0' },
			  results: {
			    checks: { metrics: [], results: [] },
			    metrics: [
			      { name: declaredOnly, type: 'counter', contains: 'default', values: { count: 0 } },
			      { name: ran, type: 'counter', contains: 'default', values: { count: 3 } },
			      { name: 'concurrency_task_duration', type: 'trend', contains: 'time', values: { avg: 2, max: 3, med: 2, min: 1, p90: 3, p95: 3 } },
			    ],
			  },
			  version: '1.0.0',
			};`,
	}
	for name, js := range shapes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vu := newTestVU(t, New())
			vu.init(js + `
				const { report } = concurrency;
				globalThis.text = report.text(data, { seconds: 1 });
				globalThis.rateText = report.text(data);
				globalThis.page = report.html(data, { seconds: 1 });
			`)
			rt := vu.rt.VU.Runtime()
			text := rt.Get("text").String()
			assertReportRow(t, text, "workload", "pool", "1", "worker", "2", "workers")
			assertReportRow(t, text, "noop", "threads", "not", "run", "3.0")
			assert.Contains(t, text, "not run: the cell's sub-metric has no samples")
			assert.Contains(t, text, "concurrency_task_duration   avg=2.00ms med=2.00ms p(95)=3.00ms max=3.00ms")
			assertReportRow(t, rt.Get("rateText").String(), "noop", "threads", "not", "run", "6.0") // count / 0.5 s
			page := rt.Get("page").String()
			assert.Equal(t, 1, strings.Count(page, `<rect class="bar"`), "a bar for the cell that ran only")
			assert.Contains(t, page, `<rect class="bar" data-series="thread" data-size="2" data-workload="noop" data-value="3"`)
			assert.Contains(t, page, `<g class="not-run" data-series="thread" data-size="1" data-workload="noop">`)
		})
	}
}

func TestReportMachineReadableBadData(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`report.text({ results: {} })`:                          {"data.results.metrics is undefined", "K6_NEW_MACHINE_READABLE_SUMMARY=true", "array"},
		`report.html({ results: { metrics: 'all' } })`:          {"report.html()", "data.results.metrics is \"all\""},
		`report.text({ results: { metrics: { length: -1 } } })`: {"data.results.metrics"},
		`report.text({ state: {} })`:                            {"data.metrics is undefined", "results.metrics when K6_NEW_MACHINE_READABLE_SUMMARY=true"},
	}
	for code, want := range cases {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			vu := newTestVU(t, New())
			vu.init(`
				const { report } = concurrency;
				try { ` + code + `; globalThis.result = 'no error'; } catch (e) { globalThis.result = [e.name, e.message]; }
			`)
			got, ok := vu.rt.VU.Runtime().Get("result").Export().([]any)
			require.True(t, ok, "%s threw nothing", code)
			assert.Equal(t, "InvalidArgumentError", got[0])
			for _, w := range want {
				assert.Contains(t, got[1], w)
			}
		})
	}
	// Metrics that are not objects or have no name are left out, as in data.metrics.
	vu := newTestVU(t, New())
	vu.init(`globalThis.text = concurrency.report.text({ results: { metrics: [5, null, { values: { count: 1 } }, { name: 7 }] } });`)
	assert.Contains(t, vu.rt.VU.Runtime().Get("text").String(), "no cells found")
}

// The machine-readable summary as k6 hands it to handleSummary: Go structs
// (go.k6.io/k6/v2/internal/lib/summary/machinereadable, which cannot be
// imported), with named string types and *float64 trend values, whose
// fields the runtime names in snake case (P95 is p95).
type (
	mrMetricType string
	mrSummary    struct {
		Config  struct{ Duration float64 }
		Results struct{ Metrics []mrMetric }
		Version string
	}
	mrMetric struct {
		Contains, Name string
		Type           mrMetricType
		Values         any
	}
	mrCounter struct{ Count float64 }
	mrTrend   struct{ Avg, Max, Med, Min, P90, P95 *float64 }
)

// TestReportReadsK6MachineReadableData passes issue 17's run in k6's
// machine-readable summary the way k6 builds it.
func TestReportReadsK6MachineReadableData(t *testing.T) {
	t.Parallel()
	vu := newTestVU(t, New())
	rt := vu.rt.VU.Runtime()
	ms := func(v float64) *float64 { return &v }
	data := mrSummary{Version: "1.0.0"}
	data.Config.Duration = 2
	data.Results.Metrics = []mrMetric{
		{Name: "concurrency_tasks{pool_kind:thread,workers:1,workload:noop}", Type: "counter", Contains: "default", Values: mrCounter{Count: 0}},
		{Name: "concurrency_tasks{pool_kind:thread,workers:2,workload:noop}", Type: "counter", Contains: "default", Values: mrCounter{Count: 9}},
		{Name: "concurrency_tasks", Type: "counter", Contains: "default", Values: mrCounter{Count: 9}},
		{Name: "concurrency_task_wait", Type: "trend", Contains: "time", Values: mrTrend{Avg: ms(1.5), Max: ms(4), Med: ms(1), Min: ms(0.5), P90: nil, P95: ms(3.5)}},
	}
	require.NoError(t, rt.Set("data", data))
	vu.init(`globalThis.text = concurrency.report.text(data); globalThis.page = concurrency.report.html(data);`)
	text := rt.Get("text").String()
	assertReportRow(t, text, "noop", "threads", "not", "run", "4.5") // 9 tasks / 2 s, k6's rate
	assert.Contains(t, text, "the whole test run (2 s)")
	assert.Contains(t, text, "concurrency_task_wait       avg=1.50ms med=1.00ms p(95)=3.50ms max=4.00ms")
	assert.Contains(t, text, "concurrency_tasks           count=9 rate=4.5/s")
	assert.Equal(t, 1, strings.Count(rt.Get("page").String(), `class="bar"`))
}
