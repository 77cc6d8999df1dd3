package concurrency

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/sobek"
	"go.k6.io/k6/v2/js/common"

	"github.com/k6-concurrency/xk6-concurrency/internal/report"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// reportObject is the `report` export: report.text(data, opts?) and
// report.html(data, opts?) for handleSummary, and report.thresholds(spec)
// for options.thresholds. This is the JavaScript face only; package
// internal/report does the work on plain Go data.
func (mi *ModuleInstance) reportObject() *sobek.Object {
	rt := mi.vu.Runtime()
	obj := rt.NewObject()
	// A slice, not a map: the properties' order is what Object.keys shows.
	for _, f := range []struct {
		name string
		fn   func(sobek.FunctionCall) sobek.Value
	}{
		{"text", func(call sobek.FunctionCall) sobek.Value {
			data, opts := reportArgs(rt, "report.text", call)
			return rt.ToValue(report.Text(data, opts))
		}},
		{"html", func(call sobek.FunctionCall) sobek.Value {
			data, opts := reportArgs(rt, "report.html", call)
			return rt.ToValue(report.HTML(data, opts))
		}},
		{"thresholds", func(call sobek.FunctionCall) sobek.Value {
			spec, err := exportJSON(rt, call.Argument(0), "report.thresholds(): spec")
			if err != nil {
				throw(rt, err)
			}
			m, ok := spec.(map[string]any)
			if !ok {
				throw(rt, taskerr.New(taskerr.InvalidArgument,
					"report.thresholds(): spec must be an object mapping tag names to arrays of values, like { pool_kind: "+
						"['thread', 'process'], workers: [4, 8, 16], workload: ['cpu.primes'] }, got %s",
					taskerr.Describe(spec)))
			}
			out, err := report.Thresholds("report.thresholds", m)
			if err != nil {
				throw(rt, err)
			}
			return mi.toJS(out)
		}},
	} {
		if err := obj.Set(f.name, f.fn); err != nil {
			common.Throw(rt, err)
		}
	}
	return obj
}

// reportArgs reads the (data, opts) arguments of report.text and report.html.
func reportArgs(rt *sobek.Runtime, fn string, call sobek.FunctionCall) (report.Data, report.Options) {
	data, err := readSummaryData(fn, call.Argument(0))
	if err != nil {
		throw(rt, err)
	}
	var raw map[string]any
	if arg := call.Argument(1); !common.IsNullish(arg) {
		v, err := exportJSON(rt, arg, fn+"(): opts")
		if err != nil {
			throw(rt, err)
		}
		var ok bool
		if raw, ok = v.(map[string]any); !ok {
			throw(rt, taskerr.New(taskerr.InvalidArgument,
				"%s(): opts must be an object (options: %s), got %s", fn, strings.Join(report.OptionNames, ", "),
				taskerr.Describe(v)))
		}
	}
	opts, err := report.ParseOptions(fn, raw)
	if err != nil {
		throw(rt, err)
	}
	return data, opts
}

// readSummaryData reads what the report needs from k6's handleSummary data:
// every metric's numbers and the run's duration. It reads those few fields
// only, and skips what is not a number, so the rest of the data may hold
// anything (k6 puts NaN in some values, and setup_data is the script's). It
// reads both of k6's shapes: the default (data.metrics by name,
// data.state.testRunDurationMs) and the machine-readable summary of
// K6_NEW_MACHINE_READABLE_SUMMARY=true (data.results.metrics, an array).
func readSummaryData(fn string, v sobek.Value) (report.Data, error) {
	data := report.Data{Metrics: map[string]report.Metric{}, Generated: time.Now(), Kinds: map[string]string{}}
	obj, ok := v.(*sobek.Object)
	if _, isFn := sobek.AssertFunction(v); !ok || isFn || obj.ClassName() == "Array" {
		return data, taskerr.New(taskerr.InvalidArgument,
			"%s(): data must be the summary data k6 passes to handleSummary (an object with metrics), got %s", fn, describeJS(v))
	}
	for _, s := range workload.Default.List() {
		data.Kinds[s.Name] = string(s.Kind)
	}
	if results, ok := obj.Get("results").(*sobek.Object); ok && common.IsNullish(obj.Get("metrics")) {
		return data, readMachineReadable(fn, obj, results, &data)
	}
	metrics, ok := obj.Get("metrics").(*sobek.Object)
	if !ok {
		return data, taskerr.New(taskerr.InvalidArgument,
			"%s(): data.metrics is %s: data must be the summary data k6 passes to handleSummary (an object with metrics, or "+
				"with results.metrics when %s=true)",
			fn, describeJS(obj.Get("metrics")), report.MachineReadableEnv)
	}
	for _, name := range metrics.Keys() {
		if m, ok := metrics.Get(name).(*sobek.Object); ok {
			data.Metrics[name] = readMetric(m)
		}
	}
	if state, ok := obj.Get("state").(*sobek.Object); ok {
		if ms, ok := jsNumber(state.Get("testRunDurationMs")); ok && ms > 0 && ms < 1e12 {
			data.RunDuration = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return data, nil
}

// readMachineReadable reads k6's machine-readable summary: the run's
// seconds in config.duration, and results.metrics, an array of metrics
// that have their name inside.
func readMachineReadable(fn string, obj, results *sobek.Object, data *report.Data) error {
	var length float64
	list, ok := results.Get("metrics").(*sobek.Object)
	if ok {
		length, ok = jsNumber(list.Get("length"))
	}
	if !ok || length < 0 || length > 1<<24 || length != math.Trunc(length) {
		return taskerr.New(taskerr.InvalidArgument,
			"%s(): data.results.metrics is %s: in the machine-readable summary (%s=true) it is an array of metrics",
			fn, describeJS(results.Get("metrics")), report.MachineReadableEnv)
	}
	if config, ok := obj.Get("config").(*sobek.Object); ok {
		if s, ok := jsNumber(config.Get("duration")); ok && s > 0 && s < 1e9 {
			data.RunDuration = time.Duration(s * float64(time.Second))
		}
	}
	for i := range int(length) {
		m, ok := list.Get(strconv.Itoa(i)).(*sobek.Object)
		if !ok || !sobek.IsString(m.Get("name")) {
			continue
		}
		data.Metrics[m.Get("name").String()] = report.FromMachineReadable(readMetric(m), data.RunDuration)
	}
	return nil
}

// readMetric reads one metric's type, contents and numbers.
func readMetric(m *sobek.Object) report.Metric {
	metric := report.Metric{
		Type: jsString(m.Get("type")), Contains: jsString(m.Get("contains")),
		Values: map[string]float64{},
	}
	if values, ok := m.Get("values").(*sobek.Object); ok {
		for _, k := range values.Keys() {
			if f, ok := jsNumber(values.Get(k)); ok {
				metric.Values[k] = f
			}
		}
	}
	return metric
}

func jsString(v sobek.Value) string {
	if v == nil {
		return ""
	}
	if sobek.IsString(v) {
		return v.String()
	}
	// The machine-readable summary's type and contains are Go named strings.
	if obj, ok := v.(*sobek.Object); ok {
		if x := reflect.ValueOf(obj.Export()); x.Kind() == reflect.String {
			return x.String()
		}
	}
	return ""
}

func jsNumber(v sobek.Value) (float64, bool) {
	if v == nil {
		return 0, false
	}
	if obj, isObj := v.(*sobek.Object); isObj {
		// The machine-readable summary's trend values are Go *float64.
		if p, ok := obj.Export().(*float64); ok && p != nil {
			return *p, true
		}
		return 0, false
	}
	switch x := v.Export().(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
