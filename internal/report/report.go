// Package report turns k6's end-of-test summary data into the
// calls-per-second report of the extension: a text table for the terminal
// and one self-contained HTML page with a chart. It works on plain Go data
// (see Data) and has no k6 or JavaScript imports; package concurrency reads the
// JavaScript values and hands them over.
//
// A cell of the report is one (series, size, workload) sub-metric of
// concurrency_tasks, such as
// `concurrency_tasks{pool_kind:thread,workers:4,workload:cpu.primes}`. k6
// keeps a sub-metric in the summary data only when a threshold names it,
// which is what Thresholds is for.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/schema"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// The metric and tags the report reads (the extension's own names, from
// internal/names).
const (
	TaskMetric  = names.MetricTasks
	WorkloadTag = names.TagWorkload
	// DefaultSeries and DefaultSize are the tags that make a cell's series
	// and size unless the options say otherwise.
	DefaultSeries = names.TagPoolKind
	DefaultSize   = names.TagWorkers
)

// DigestTrends and the two metrics after them make the digest below the table.
//
//nolint:gochecknoglobals // a constant table
var DigestTrends = []string{names.MetricTaskDuration, names.MetricTaskWait, names.MetricTaskOverhead}

const (
	digestTasks  = names.MetricTasks
	digestFailed = names.MetricTaskFailed
)

// Data is what the report reads from k6's handleSummary data, plus what the
// caller knows about the run.
type Data struct {
	// Metrics is data.metrics, by name (sub-metrics have their tags in the name).
	Metrics map[string]Metric
	// RunDuration is data.state.testRunDurationMs; 0 when absent.
	RunDuration time.Duration
	// Generated is when the report was made; the zero time leaves it out.
	Generated time.Time
	// Kinds maps workload names to "cpu" or "io", for the chart's panel
	// subtitles; it may be nil.
	Kinds map[string]string
}

// Metric is one entry of data.metrics.
type Metric struct {
	Type     string
	Contains string
	// Values holds the metric's numbers: count and rate for a counter; avg,
	// med, p(95), max... for a trend; rate for a rate.
	Values map[string]float64
}

// value returns Values[name] when it is a finite number.
func (m Metric) value(name string) (float64, bool) {
	v, ok := m.Values[name]
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// Options are the options of report.text and report.html.
type Options struct {
	// Title is shown above the table and as the page's heading.
	Title string
	// Series is the tag whose values are compared (the bars of one group).
	Series string
	// Size is the integer tag along the x axis (the groups).
	Size string
	// Seconds, when positive, is how long each cell ran: calls/s is then
	// count / Seconds. Otherwise calls/s is k6's rate, the count over the
	// whole test run.
	Seconds float64
}

// OptionsSchema declares the options of report.text and report.html;
// ParseOptions binds it, under the name of the function called.
//
//nolint:gochecknoglobals // a constant declaration (a struct cannot be const)
var OptionsSchema = schema.Schema{Noun: "option", Params: []schema.Param{
	{
		Name: "title", Type: schema.String, MaxLen: 500, Doc: "Shown above the table and as the page's heading.",
		Want: "must be a string of at most 500 characters",
	},
	tagParam("series", "The tag whose values are compared (the bars of one group). Default: "+DefaultSeries+"."),
	tagParam("size", "The integer tag along the x axis (the groups). Default: "+DefaultSize+"."),
	{
		Name: "seconds", Type: schema.Any, Parse: seconds,
		Doc: "How long each cell ran (a number of seconds, or a duration like \"7s\"): calls/s is then count / seconds.",
	},
}}

// OptionNames lists the options ParseOptions knows.
//
//nolint:gochecknoglobals // a constant table
var OptionNames = OptionsSchema.Names()

// ParseOptions reads the options object of report.text or report.html (fn
// names the function in error messages). Every error is InvalidArgument and
// names the option.
func ParseOptions(fn string, raw map[string]any) (Options, error) {
	sch := OptionsSchema
	sch.Name = fn + "()"
	args, err := sch.Bind(raw)
	if err != nil {
		return Options{}, err
	}
	o := Options{Title: strings.TrimSpace(args.String("title")), Series: DefaultSeries, Size: DefaultSize}
	if args.Has("series") {
		o.Series = args.String("series")
	}
	if args.Has("size") {
		o.Size = args.String("size")
	}
	if s, ok := args.Any("seconds").(float64); ok {
		o.Seconds = s
	}
	switch {
	case o.Series == o.Size:
		return o, invalid("%s(): options \"series\" and \"size\" must be different tags, both are %q", fn, o.Series)
	case o.Series == WorkloadTag || o.Size == WorkloadTag:
		return o, invalid("%s(): the %q tag makes the chart's panels; options \"series\" and \"size\" must name other tags",
			fn, WorkloadTag)
	}
	return o, nil
}

const tagNameWant = "must be a tag name (a non-empty string without , : { } or quotes)"

// tagParam declares an option that names a tag.
func tagParam(name, doc string) schema.Param {
	return schema.Param{
		Name: name, Type: schema.String, MaxLen: 100, NonEmpty: true, Check: checkTagName, Want: tagNameWant, Doc: doc,
	}
}

// checkTagName refuses what k6 cannot read back from a sub-metric's name.
func checkTagName(v any) error {
	s, _ := v.(string)
	if s != strings.TrimSpace(s) || strings.ContainsAny(s, ",:{}\"'") {
		return errors.New(tagNameWant)
	}
	return nil
}

// seconds reads the seconds option: a positive number of seconds, or a
// duration.
func seconds(v any) (any, error) {
	var s float64
	switch x := v.(type) {
	case float64:
		s = x
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, errors.New("must be a number of seconds or a duration like \"7s\"")
		}
		s = d.Seconds()
	default:
		return 0, errors.New("must be a number of seconds or a duration like \"7s\"")
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return 0, errors.New("must be a positive number of seconds (how long each cell ran)")
	}
	return s, nil
}

func invalid(format string, a ...any) error {
	return taskerr.New(taskerr.InvalidArgument, format, a...)
}

// ParseKey splits a metric name of the summary data, `name{k:v,k:v}`, the
// way k6 reads a threshold's sub-metric: tags are split on commas, each at
// its first colon, and keys and values are trimmed of spaces and quotes
// (values keep their inner spaces and colons; a repeated key keeps its last
// value). A name without braces has no tags. ok is false for a malformed name.
func ParseKey(key string) (name string, tags map[string]string, ok bool) {
	open, end := strings.IndexByte(key, '{'), strings.LastIndexByte(key, '}')
	if open < 0 && end < 0 {
		return key, nil, true
	}
	if open < 0 || end != len(key)-1 || end < open {
		return "", nil, false
	}
	tags = make(map[string]string)
	for kv := range strings.SplitSeq(key[open+1:end], ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, ":")
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		if k == "" {
			return "", nil, false
		}
		tags[k] = v
	}
	return key[:open], tags, true
}

// Cell is one (series, size, workload) sub-metric of concurrency_tasks.
type Cell struct {
	Series   string
	Size     int
	Workload string
	// Key is the sub-metric's name in the summary data.
	Key string
	// Count is the tasks it counted (NaN when the data has none).
	Count float64
	// Ran is false for a cell without samples: a threshold declared its
	// sub-metric (report.thresholds declares a whole cross product), but no
	// task ran with its tags. Such a cell is "not run", never a measurement.
	Ran bool
	// Calls is the calls per second the report shows; NaN when !Ran.
	Calls float64
	tags  int
}

// Row is one (workload, series) line of the table.
type Row struct {
	Workload, Series string
	// Calls holds calls/s per size (index into Result.Sizes), NaN where the
	// row has no cell or its cell did not run.
	Calls []float64
	// NotRun is true at the sizes where the row has a cell that did not run.
	NotRun []bool
	// Base is the index of the row's smallest size that ran, which
	// speed-ups divide by; -1 when none of its cells ran.
	Base int
	// Speedup holds Calls[i] / Calls[Base], NaN where either is missing.
	Speedup []float64
}

// Result is the report's computation, before any rendering.
type Result struct {
	Options   Options
	Cells     []Cell   // ordered by workload, series, size
	Sizes     []int    // ascending
	Series    []string // thread, process, then the others in alphabetical order
	Workloads []string // alphabetical
	Rows      []Row
	// Base is the index into Sizes of the smallest size at which a cell
	// ran: the speed-up columns are the sizes after it. -1 when no cell ran.
	Base int
	// NotRun counts the cells that did not run.
	NotRun int
	// Skipped says which sub-metrics of concurrency_tasks are not cells, and why.
	Skipped []string
	// Note says how calls/s was computed.
	Note string
}

// Cell returns the cell of (series, size, workload), if there is one.
func (r *Result) Cell(series string, size int, workload string) (Cell, bool) {
	for _, c := range r.Cells {
		if c.Series == series && c.Size == size && c.Workload == workload {
			return c, true
		}
	}
	return Cell{}, false
}

// Compute finds the cells in the summary data and works out calls/s and
// speed-ups. A cell is a sub-metric of concurrency_tasks that has the series,
// size and workload tags; others are listed in Skipped. When several
// sub-metrics make the same cell (one with more tags, say), the one with the
// fewest tags counts, then the first by name.
func Compute(data Data, opts Options) *Result {
	if opts.Series == "" {
		opts.Series = DefaultSeries
	}
	if opts.Size == "" {
		opts.Size = DefaultSize
	}
	r := &Result{Options: opts}
	r.collect(data)
	r.order()
	r.tabulate()
	r.Note = note(data, opts)
	return r
}

// cellID is what makes a cell: two sub-metrics with the same one are the
// same cell.
type cellID struct {
	series, workload string
	size             int
}

// collect finds the cells among data's sub-metrics, in key order, into
// r.Cells, and says in r.Skipped why each other sub-metric of TaskMetric is
// not one.
func (r *Result) collect(data Data) {
	keys := make([]string, 0, len(data.Metrics))
	for k := range data.Metrics {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	found := map[cellID]int{} // index into r.Cells
	for _, key := range keys {
		name, tags, ok := ParseKey(key)
		if !ok || name != TaskMetric || tags == nil {
			continue
		}
		cell, why := r.cellOf(key, tags, data.Metrics[key])
		if why != "" {
			r.Skipped = append(r.Skipped, key+" ("+why+")")
			continue
		}
		r.add(found, cell)
	}
}

// cellOf makes the cell of one sub-metric of TaskMetric, or says why it is
// not a cell.
func (r *Result) cellOf(key string, tags map[string]string, m Metric) (Cell, string) {
	opts := r.Options
	series, hasSeries := tags[opts.Series]
	sizeText, hasSize := tags[opts.Size]
	workload, hasWorkload := tags[WorkloadTag]
	var missing []string
	for _, t := range []struct {
		name string
		has  bool
	}{{opts.Series, hasSeries}, {opts.Size, hasSize}, {WorkloadTag, hasWorkload}} {
		if !t.has {
			missing = append(missing, t.name)
		}
	}
	if len(missing) > 0 {
		return Cell{}, "no " + andList(missing, " and ") + plural(len(missing), " tag", " tags")
	}
	size, err := strconv.Atoi(sizeText)
	if err != nil {
		return Cell{}, fmt.Sprintf("%s %q is not an integer", opts.Size, sizeText)
	}
	cell, why := newCell(m, opts)
	if why != "" {
		return Cell{}, why
	}
	cell.Series, cell.Size, cell.Workload, cell.Key, cell.tags = series, size, workload, key, len(tags)
	return cell, ""
}

// add appends cell to r.Cells, unless found (cellID to index into r.Cells)
// holds the same cell: then the one with fewer tags stays, the first by key
// on a tie, and the other goes to r.Skipped.
func (r *Result) add(found map[cellID]int, cell Cell) {
	id := cellID{cell.Series, cell.Workload, cell.Size}
	i, dup := found[id]
	switch {
	case !dup:
		found[id] = len(r.Cells)
		r.Cells = append(r.Cells, cell)
	case cell.tags < r.Cells[i].tags:
		kept := r.Cells[i]
		r.Cells[i] = cell
		r.Skipped = append(r.Skipped, kept.Key+" (the same cell as "+cell.Key+", which has fewer tags)")
	default:
		r.Skipped = append(r.Skipped, cell.Key+" (the same cell as "+r.Cells[i].Key+")")
	}
}

// order lists the cells' sizes, series and workloads, and sorts the cells
// by workload, series and size.
func (r *Result) order() {
	sizes, series, workloads := map[int]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range r.Cells {
		sizes[c.Size], series[c.Series], workloads[c.Workload] = true, true, true
	}
	r.Sizes = slices.Sorted(maps.Keys(sizes))
	r.Series = slices.SortedFunc(maps.Keys(series), seriesCompare)
	r.Workloads = slices.Sorted(maps.Keys(workloads))
	slices.SortFunc(r.Cells, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(a.Workload, b.Workload), seriesCompare(a.Series, b.Series), cmp.Compare(a.Size, b.Size))
	})
}

// tabulate counts the cells that did not run, finds the base size, and makes
// the rows.
func (r *Result) tabulate() {
	r.Base = -1
	for _, c := range r.Cells {
		if !c.Ran {
			r.NotRun++
		} else if i, _ := slices.BinarySearch(r.Sizes, c.Size); r.Base < 0 || i < r.Base {
			r.Base = i
		}
	}
	for _, w := range r.Workloads {
		for _, s := range r.Series {
			if row, ok := r.row(w, s); ok {
				r.Rows = append(r.Rows, row)
			}
		}
	}
}

// note says how calls/s was computed.
func note(data Data, opts Options) string {
	if opts.Seconds > 0 {
		return "calls/s = count / " + fmtSeconds(opts.Seconds) + " per cell"
	}
	n := "calls/s = k6's rate: count / the whole test run"
	if data.RunDuration > 0 {
		n += " (" + fmtSeconds(data.RunDuration.Seconds()) + ")"
	}
	return n + "; give opts.seconds when each cell ran for a part of it"
}

// newCell reads a cell's numbers from its sub-metric, or says why it is not
// a cell. A cell without samples has a count of 0 (or, without a count, a
// rate of 0: k6's rate is the count over the run): it did not run, and needs
// no figure to say so.
func newCell(m Metric, opts Options) (cell Cell, why string) {
	count, hasCount := m.value("count")
	rate, hasRate := m.value("rate")
	cell.Count, cell.Calls = math.NaN(), math.NaN()
	switch {
	case hasCount:
		cell.Count, cell.Ran = count, count > 0
	case hasRate:
		cell.Ran = rate > 0
	}
	switch {
	case !hasCount && !hasRate:
		return cell, "no count or rate"
	case !cell.Ran:
		return cell, ""
	case opts.Seconds > 0 && !hasCount:
		return cell, "no count"
	case opts.Seconds > 0:
		cell.Calls = count / opts.Seconds
	case !hasRate:
		return cell, "no rate"
	default:
		cell.Calls = rate
	}
	return cell, ""
}

// row makes the table's line of (workload, series), if it has a cell.
func (r *Result) row(workload, series string) (Row, bool) {
	n := len(r.Sizes)
	row := Row{
		Workload: workload, Series: series, Calls: make([]float64, n), NotRun: make([]bool, n),
		Speedup: make([]float64, n), Base: -1,
	}
	found := false
	for i, size := range r.Sizes {
		row.Calls[i], row.Speedup[i] = math.NaN(), math.NaN()
		c, ok := r.Cell(series, size, workload)
		if !ok {
			continue
		}
		found = true
		if !c.Ran {
			row.NotRun[i] = true
			continue
		}
		row.Calls[i] = c.Calls
		if row.Base < 0 {
			row.Base = i
		}
	}
	if row.Base >= 0 {
		for i, v := range row.Calls {
			row.Speedup[i] = v / row.Calls[row.Base] // NaN where v is
		}
	}
	return row, found
}

// seriesOrder puts the extension's pool kinds first, threads before processes.
//
//nolint:gochecknoglobals // a constant table
var seriesOrder = map[string]int{"thread": 1, "process": 2}

func seriesCompare(a, b string) int {
	oa, ob := seriesOrder[a], seriesOrder[b]
	switch {
	case oa != 0 && ob != 0:
		return cmp.Compare(oa, ob)
	case oa != 0:
		return -1
	case ob != 0:
		return 1
	}
	return cmp.Compare(a, b)
}

// SeriesName is how a series is shown: the pool kinds in the plural.
func SeriesName(s string) string {
	switch s {
	case "thread":
		return "threads"
	case "process":
		return "processes"
	}
	return s
}

// MaxThresholds bounds the cross product of Thresholds.
const MaxThresholds = 10000

// Thresholds returns a threshold that always passes (`count>=0`) on every
// sub-metric of concurrency_tasks in the cross product of spec, which maps
// tag names to arrays of values (strings or numbers). Declaring them makes
// k6 keep each cell in the summary data. Keys list the tags in alphabetical
// order: `concurrency_tasks{pool_kind:thread,workers:4,workload:cpu.primes}`.
func Thresholds(fn string, spec map[string]any) (map[string][]string, error) {
	if len(spec) == 0 {
		return nil, invalid("%s(): spec must map tag names to arrays of values, like { pool_kind: ['thread', 'process'], "+
			"workers: [4, 8, 16], workload: ['cpu.primes'] }; it is empty", fn)
	}
	tags := make([]string, 0, len(spec))
	for k := range spec {
		tags = append(tags, k)
	}
	slices.Sort(tags)
	values := make([][]string, len(tags))
	total := 1
	tagName := tagParam("", "")
	for i, tag := range tags {
		if _, err := tagName.Value(tag); err != nil {
			return nil, invalid("%s(): spec key %q is not a tag name (a non-empty string without , : { } or quotes)", fn, tag)
		}
		vs, err := thresholdValues(fn, tag, spec[tag])
		if err != nil {
			return nil, err
		}
		values[i] = vs
		total *= len(values[i])
		if total > MaxThresholds {
			return nil, invalid("%s(): spec makes more than %d sub-metrics; that many thresholds would slow k6 down", fn,
				MaxThresholds)
		}
	}
	return crossProduct(tags, values, total), nil
}

// thresholdValues reads spec's values for tag: a non-empty array of
// strings or numbers, as tag values, in their order, each once.
func thresholdValues(fn, tag string, spec any) ([]string, error) {
	list, ok := spec.([]any)
	if !ok || len(list) == 0 {
		return nil, invalid("%s(): spec.%s must be a non-empty array of tag values (strings or numbers), got %s", fn, tag,
			taskerr.Describe(spec))
	}
	var values []string
	seen := map[string]bool{}
	for j, v := range list {
		s, err := tagValue(v)
		if err != nil {
			return nil, invalid("%s(): spec.%s[%d] %s", fn, tag, j, err)
		}
		if !seen[s] {
			seen[s] = true
			values = append(values, s)
		}
	}
	return values, nil
}

// crossProduct is Thresholds' result for the sorted tags and their values:
// a threshold that always passes on the sub-metric of every combination,
// total of them, counting like an odometer with the last tag the fastest.
func crossProduct(tags []string, values [][]string, total int) map[string][]string {
	out := make(map[string][]string, total)
	idx := make([]int, len(tags))
	for {
		parts := make([]string, len(tags))
		for i, tag := range tags {
			parts[i] = tag + ":" + values[i][idx[i]]
		}
		out[TaskMetric+"{"+strings.Join(parts, ",")+"}"] = []string{"count>=0"}
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(values[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out
		}
	}
}

func tagValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		if x == "" || x != strings.TrimSpace(x) || strings.ContainsAny(x, ",{}\"'") {
			return "", fmt.Errorf("must be a tag value k6 can put in a sub-metric (non-empty, no , { } or quotes, no spaces "+
				"at either end), got %s", taskerr.Describe(v))
		}
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("must be a string or a number, got %s", taskerr.Describe(v))
}

// fmtRate formats calls/s: whole numbers from 100 up, one decimal below.
func fmtRate(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func fmtSpeedup(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "x"
}

// fmtMs formats a time in milliseconds as the digest shows it.
func fmtMs(v float64, ok bool) string {
	switch {
	case !ok:
		return "-"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v*1000, 'f', 0, 64) + "µs"
}

func fmtSeconds(s float64) string {
	if s == math.Trunc(s) && s < 1e9 {
		return strconv.FormatFloat(s, 'f', 0, 64) + " s"
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + " s"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// sizeLabel names a size column: after a plural tag such as workers or vus,
// "4 workers", "1 worker"; after any other, such as size, "size 4".
func sizeLabel(size int, tag string) string {
	if len(tag) < 2 || !strings.HasSuffix(tag, "s") {
		return tag + " " + strconv.Itoa(size)
	}
	if size == 1 {
		tag = tag[:len(tag)-1]
	}
	return strconv.Itoa(size) + " " + tag
}
