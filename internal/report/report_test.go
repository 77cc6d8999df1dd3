package report

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// counter is a counter's entry in the summary data.
func counter(count, rate float64) Metric {
	return Metric{Type: "counter", Contains: "default", Values: map[string]float64{"count": count, "rate": rate}}
}

func trend(avg, med, p95, maxV float64) Metric {
	return Metric{Type: "trend", Contains: "time", Values: map[string]float64{"avg": avg, "min": 0.001, "med": med, "max": maxV, "p(90)": p95 * 0.9, "p(95)": p95}}
}

// sampleData is the summary data of a threads-vs-processes run: 7 s cells at
// 4, 8 and 16 workers, one after another (96 s in all with the gaps).
func sampleData() Data {
	counts := map[[3]string]float64{
		{"thread", "4", "cpu.primes"}: 35938, {"thread", "8", "cpu.primes"}: 36204, {"thread", "16", "cpu.primes"}: 36008,
		{"process", "4", "cpu.primes"}: 19005, {"process", "8", "cpu.primes"}: 17542, {"process", "16", "cpu.primes"}: 16891,
		{"thread", "4", "io.sleep"}: 2639, {"thread", "8", "io.sleep"}: 5243, {"thread", "16", "io.sleep"}: 10493,
		{"process", "4", "io.sleep"}: 2604, {"process", "8", "io.sleep"}: 5194, {"process", "16", "io.sleep"}: 10206,
	}
	d := Data{Metrics: map[string]Metric{}, RunDuration: 96 * time.Second, Kinds: map[string]string{"cpu.primes": "cpu", "io.sleep": "io"}}
	total := 0.0
	for k, c := range counts {
		d.Metrics["concurrency_tasks{pool_kind:"+k[0]+",workers:"+k[1]+",workload:"+k[2]+"}"] = counter(c, c/96)
		total += c
	}
	d.Metrics["concurrency_tasks"] = counter(total, total/96)
	d.Metrics["concurrency_task_duration"] = trend(1.261, 0.367, 10.3, 73.9)
	d.Metrics["concurrency_task_wait"] = trend(1.092, 0.001, 10.4, 145.1)
	d.Metrics["concurrency_task_overhead"] = trend(0.216, 0.001, 1.135, 20.5)
	d.Metrics["concurrency_task_failed"] = Metric{Type: "rate", Values: map[string]float64{"rate": 0, "passes": 0, "fails": total}}
	d.Metrics["iterations"] = counter(total, total/96)
	d.Metrics["http_reqs{workload:cpu.primes,pool_kind:thread,workers:4}"] = counter(1, 1) // not concurrency_tasks
	return d
}

func TestReportParseKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key  string
		name string
		tags map[string]string
		ok   bool
	}{
		{"concurrency_tasks", "concurrency_tasks", nil, true},
		{
			"concurrency_tasks{pool_kind:thread,workers:4,workload:cpu.primes}", "concurrency_tasks",
			map[string]string{"pool_kind": "thread", "workers": "4", "workload": "cpu.primes"},
			true,
		},
		{
			"concurrency_tasks{workload:cpu.primes,workers:4,pool_kind:thread}", "concurrency_tasks",
			map[string]string{"pool_kind": "thread", "workers": "4", "workload": "cpu.primes"},
			true,
		},
		{
			"concurrency_tasks{ pool_kind : thread , workers: 16 ,workload:my slow task}", "concurrency_tasks",
			map[string]string{"pool_kind": "thread", "workers": "16", "workload": "my slow task"},
			true,
		},
		{
			`concurrency_tasks{pool_kind:"process",workload:'io.sleep'}`, "concurrency_tasks",
			map[string]string{"pool_kind": "process", "workload": "io.sleep"},
			true,
		},
		{"concurrency_tasks{url:http://x:80/a,}", "concurrency_tasks", map[string]string{"url": "http://x:80/a"}, true},
		{"concurrency_tasks{a:1,a:2}", "concurrency_tasks", map[string]string{"a": "2"}, true},
		{"concurrency_tasks{flag}", "concurrency_tasks", map[string]string{"flag": ""}, true},
		{"concurrency_tasks{pool_kind:thread", "", nil, false},
		{"concurrency_tasks}pool_kind:thread{", "", nil, false},
		{"concurrency_tasks{a:b}x", "", nil, false},
		{"concurrency_tasks{:b}", "", nil, false},
	}
	for _, c := range cases {
		name, tags, ok := ParseKey(c.key)
		assert.Equal(t, c.ok, ok, c.key)
		assert.Equal(t, c.name, name, c.key)
		assert.Equal(t, c.tags, tags, c.key)
	}
}

func TestReportComputeFindsCells(t *testing.T) {
	t.Parallel()
	d := Data{Metrics: map[string]Metric{
		// Tags in any order, values with spaces, sizes that sort wrongly as text.
		"concurrency_tasks{workers:10,pool_kind:thread,workload:big job}":  counter(300, 3),
		"concurrency_tasks{pool_kind:thread, workload:big job, workers:2}": counter(100, 1),
		"concurrency_tasks{workload:big job,pool_kind:process,workers:2}":  counter(50, 0.5),
		"concurrency_tasks{pool_kind:process,workers:10,workload:big job}": counter(250, 2.5),
		// A narrower sub-metric of a cell that exists: the one with fewer tags counts.
		"concurrency_tasks{pool:p,pool_kind:process,workers:10,workload:big job}": counter(1, 1),
		// Not cells.
		"concurrency_tasks":                                                   counter(700, 7),
		"concurrency_tasks{pool_kind:thread,workers:4}":                       counter(1, 1),
		"concurrency_tasks{pool:thread-4,workload:noop}":                      counter(1, 1),
		"concurrency_tasks{pool_kind:thread,workers:four,workload:noop}":      counter(1, 1),
		"concurrency_task_duration{pool_kind:thread,workers:4,workload:noop}": trend(1, 1, 1, 1),
		"http_reqs{pool_kind:thread,workers:4,workload:noop}":                 counter(1, 1),
		"concurrency_tasks{pool_kind:thread,workers:8,workload:noop":          counter(1, 1),
	}}
	r := Compute(d, Options{})
	assert.Equal(t, []int{2, 10}, r.Sizes)
	assert.Equal(t, []string{"thread", "process"}, r.Series)
	assert.Equal(t, []string{"big job"}, r.Workloads)
	require.Len(t, r.Cells, 4)
	c, ok := r.Cell("process", 10, "big job")
	require.True(t, ok)
	assert.Equal(t, "concurrency_tasks{pool_kind:process,workers:10,workload:big job}", c.Key)
	assert.InDelta(t, 2.5, c.Calls, 1e-12, "without seconds, calls/s is k6's rate")
	assert.InDelta(t, 250, c.Count, 1e-12)
	assert.ElementsMatch(t, []string{
		"concurrency_tasks{pool:p,pool_kind:process,workers:10,workload:big job} (the same cell as concurrency_tasks{pool_kind:process,workers:10,workload:big job}, which has fewer tags)",
		"concurrency_tasks{pool_kind:thread,workers:4} (no workload tag)",
		"concurrency_tasks{pool:thread-4,workload:noop} (no pool_kind and workers tags)",
		`concurrency_tasks{pool_kind:thread,workers:four,workload:noop} (workers "four" is not an integer)`,
	}, r.Skipped)

	require.Len(t, r.Rows, 2)
	assert.Equal(t, "thread", r.Rows[0].Series)
	assert.Equal(t, []float64{1, 3}, r.Rows[0].Calls)
	assert.InDelta(t, 3, r.Rows[0].Speedup[1], 1e-12)
	assert.Equal(t, "process", r.Rows[1].Series)
	assert.InDelta(t, 5, r.Rows[1].Speedup[1], 1e-12)
	assert.Contains(t, r.Note, "k6's rate")
}

func TestReportComputeWithSeconds(t *testing.T) {
	t.Parallel()
	r := Compute(sampleData(), Options{Seconds: 7})
	assert.Equal(t, []int{4, 8, 16}, r.Sizes)
	assert.Equal(t, []string{"cpu.primes", "io.sleep"}, r.Workloads)
	require.Len(t, r.Cells, 12)
	c, ok := r.Cell("thread", 16, "io.sleep")
	require.True(t, ok)
	assert.InDelta(t, 10493.0/7, c.Calls, 1e-9, "calls/s = count / seconds")
	require.Len(t, r.Rows, 4)
	io := r.Rows[2]
	assert.Equal(t, [2]string{"io.sleep", "thread"}, [2]string{io.Workload, io.Series})
	assert.Equal(t, 0, io.Base)
	assert.InDelta(t, 5243.0/2639, io.Speedup[1], 1e-12)
	assert.InDelta(t, 10493.0/2639, io.Speedup[2], 1e-12)
	assert.InDelta(t, 1, io.Speedup[0], 1e-12)
	assert.Equal(t, "calls/s = count / 7 s per cell", r.Note)
	assert.Empty(t, r.Skipped)
}

func TestReportComputeOtherTags(t *testing.T) {
	t.Parallel()
	d := Data{Metrics: map[string]Metric{
		"concurrency_tasks{scenario:b,vus:2,workload:w}":           counter(40, 4),
		"concurrency_tasks{scenario:a,vus:2,workload:w}":           counter(20, 2),
		"concurrency_tasks{scenario:a,vus:1,workload:w}":           counter(10, 1),
		"concurrency_tasks{scenario:zz,vus:1,workload:w}":          counter(0, 0),
		"concurrency_tasks{scenario:zz,vus:2,workload:w}":          counter(5, 0.5),
		"concurrency_tasks{pool_kind:thread,workers:1,workload:w}": counter(5, 0.5),
	}}
	r := Compute(d, Options{Series: "scenario", Size: "vus"})
	assert.Equal(t, []string{"a", "b", "zz"}, r.Series)
	require.Len(t, r.Rows, 3)
	b := r.Rows[1]
	assert.Equal(t, 1, b.Base, "b has no cell at 1 vus: its speed-ups are over 2 vus")
	assert.True(t, math.IsNaN(b.Calls[0]))
	zz := r.Rows[2]
	assert.Equal(t, []bool{true, false}, zz.NotRun, "a count of 0 is a cell that did not run")
	assert.Equal(t, 1, zz.Base, "zz did not run at 1 vus: its speed-ups are over 2 vus")
	text := Text(d, Options{Series: "scenario", Size: "vus"})
	assertRow(t, text, "workload", "scenario", "1", "vu", "2", "vus", "x2/1")
	assertRow(t, text, "w", "a", "1.0", "2.0", "2.00x")
	assertRow(t, text, "w", "b", "-", "4.0", "1.00x*")
	assertRow(t, text, "w", "zz", "not", "run", "0.5", "1.00x*")
	assert.Contains(t, text, "* speed-up over the row's smallest size that ran: it has no measured cell of 1 vu")
}

func TestReportText(t *testing.T) {
	t.Parallel()
	got := Text(sampleData(), Options{Seconds: 7, Title: "Seed experiment"})
	want := strings.Join([]string{
		"Seed experiment",
		"function calls per second (higher is better), from concurrency_tasks",
		"workload    pool       4 workers  8 workers  16 workers   x8/4  x16/4",
		"----------  ---------  ---------  ---------  ----------  -----  -----",
		"cpu.primes  threads         5134       5172        5144  1.01x  1.00x",
		"cpu.primes  processes       2715       2506        2413  0.92x  0.89x",
		"io.sleep    threads          377        749        1499  1.99x  3.98x",
		"io.sleep    processes        372        742        1458  1.99x  3.92x",
		"calls/s = count / 7 s per cell",
		"",
		"concurrency_task_duration   avg=1.26ms med=367µs p(95)=10.3ms max=73.9ms",
		"concurrency_task_wait       avg=1.09ms med=1µs p(95)=10.4ms max=145ms",
		"concurrency_task_overhead   avg=216µs med=1µs p(95)=1.14ms max=20.5ms",
		"concurrency_tasks           count=197967 rate=2062.2/s",
		"concurrency_task_failed     rate=0.00%",
	}, "\n")
	assert.Equal(t, want, got)

	// Without seconds, k6's rates (count over the whole 96 s run).
	got = Text(sampleData(), Options{})
	assertRow(t, got, "cpu.primes", "threads", "374", "377", "375", "1.01x", "1.00x")
	assert.Contains(t, got, "calls/s = k6's rate: count / the whole test run (96 s); give opts.seconds when each cell ran for a part of it")
}

// assertRow checks that text has a line made of these fields.
func assertRow(t *testing.T, text string, fields ...string) {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(fields, " ") {
			return
		}
	}
	assert.Fail(t, "no such line", "no line %q in:\n%s", strings.Join(fields, " "), text)
}

func TestReportTextNoCells(t *testing.T) {
	t.Parallel()
	d := Data{Metrics: map[string]Metric{
		"concurrency_tasks":                        counter(10, 1),
		"concurrency_tasks{pool:thread-4}":         counter(10, 1),
		"concurrency_task_failed":                  {Values: map[string]float64{"rate": 0.5}},
		"concurrency_task_duration{workload:noop}": trend(1, 1, 1, 1),
	}}
	got := Text(d, Options{})
	assert.True(t, strings.HasPrefix(got, Heading+": no cells found."), got)
	assert.Contains(t, got, "no sub-metric of concurrency_tasks with the pool_kind, workers and workload tags")
	assert.Contains(t, got, "...report.thresholds({ pool_kind: ['thread', 'process'], workers: [4, 8, 16], workload: ['cpu.primes', 'io.sleep'] }),")
	assert.Contains(t, got, "concurrency_tasks{pool:thread-4} (no pool_kind, workers and workload tags)")
	assert.Contains(t, got, "concurrency_task_failed     rate=50.00%")
	assert.Contains(t, Text(d, Options{Series: "scenario", Size: "vus"}), "report.thresholds({ scenario: ['a', 'b'], vus: [1, 2, 4], workload:")
	assert.Contains(t, Text(Data{}, Options{}), "no cells found")
}

// bar is a rect.bar of a page.
type bar struct {
	series, workload string
	size             int
	value            float64
	x, y, w, h       float64
	title            string
	panel            int
}

// parsePage parses an HTML page and returns its root and its bars, each
// with the index of the <svg> that holds it.
func parsePage(t *testing.T, page string) (*html.Node, []bar) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	var bars []bar
	panel := -1
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" {
			panel++
		}
		if n.Type == html.ElementNode && n.Data == "rect" && attr(n, "class") == "bar" {
			b := bar{series: attr(n, "data-series"), workload: attr(n, "data-workload"), panel: panel}
			var err error
			b.size, err = strconv.Atoi(attr(n, "data-size"))
			require.NoError(t, err)
			for _, f := range []struct {
				dst  *float64
				name string
			}{{&b.value, "data-value"}, {&b.x, "x"}, {&b.y, "y"}, {&b.w, "width"}, {&b.h, "height"}} {
				*f.dst, err = strconv.ParseFloat(attr(n, f.name), 64)
				require.NoError(t, err, f.name)
			}
			if c := n.FirstChild; c != nil && c.Type == html.ElementNode && c.Data == "title" && c.FirstChild != nil {
				b.title = c.FirstChild.Data
			}
			bars = append(bars, b)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return doc, bars
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// find returns the elements of a tag under n.
func find(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && n.Data == tag {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, find(c, tag)...)
	}
	return out
}

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(textOf(c))
	}
	return b.String()
}

func TestReportHTMLBars(t *testing.T) {
	t.Parallel()
	data := sampleData()
	data.Generated = time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)
	page := HTML(data, Options{Seconds: 7})
	doc, bars := parsePage(t, page)
	r := Compute(data, Options{Seconds: 7})
	require.Len(t, bars, 12, "one bar per (series, size, workload)")
	assert.Len(t, find(doc, "svg"), 2, "one panel per workload")
	seen := map[[3]string]bool{}
	for _, b := range bars {
		id := [3]string{b.series, strconv.Itoa(b.size), b.workload}
		assert.False(t, seen[id], "one bar for %v", id)
		seen[id] = true
		c, ok := r.Cell(b.series, b.size, b.workload)
		require.True(t, ok, "%v is a cell", id)
		assert.InDelta(t, c.Calls, b.value, 0.001, "data-value is calls/s")
		assert.InDelta(t, plotBottom, b.y+b.h, 0.02, "bars stand on the x axis")
		assert.Contains(t, b.title, fmtRate(c.Calls)+" calls/s", "the rect's <title> has its value")
		assert.Contains(t, b.title, SeriesName(b.series))
		assert.Equal(t, []string{"cpu.primes", "io.sleep"}[b.panel], b.workload, "each workload has its panel")
	}
	// Heights are proportional to values within a panel: one ratio per panel.
	for panel := range 2 {
		var ratios []float64
		for _, b := range bars {
			if b.panel == panel {
				ratios = append(ratios, b.h/b.value)
			}
		}
		require.Len(t, ratios, 6)
		slices.Sort(ratios)
		assert.InDelta(t, ratios[0], ratios[len(ratios)-1], 0.01/100, "panel %d heights are proportional: %v", panel, ratios)
		// The tallest bar leaves room for its label and does not leave the plot.
		tallest := 0.0
		for _, b := range bars {
			if b.panel == panel {
				tallest = math.Max(tallest, b.h)
			}
		}
		assert.Less(t, tallest, plotH)
		assert.Greater(t, tallest, plotH/2)
	}
	// Threads and processes get different colours; the legend has both.
	fills := map[string]string{}
	for _, n := range find(doc, "rect") {
		if attr(n, "class") == "bar" {
			fills[attr(n, "data-series")] = attr(n, "fill")
		}
	}
	assert.Len(t, fills, 2)
	assert.NotEqual(t, fills["thread"], fills["process"])
	for _, want := range []string{
		"Threads vs processes", "calls per second", "CPU-bound", "I/O-bound", "4 workers", "16 workers",
		"×16/4", "3.98×", "concurrency_task_duration", "73.9ms", "2026-11-25 08:30 UTC", "1 min 36 s", "count / 7 s per cell",
	} {
		assert.Contains(t, textOf(doc), want)
	}
	// Y axis ticks: round numbers from 0, thousands separated.
	var ticks []string
	for _, n := range find(doc, "text") {
		if attr(n, "class") == "tick" {
			ticks = append(ticks, textOf(n))
		}
	}
	assert.Equal(t, []string{"0", "2,000", "4,000", "6,000", "0", "500", "1,000", "1,500", "2,000"}, ticks)
}

func TestReportHTMLEscapes(t *testing.T) {
	t.Parallel()
	evil := `<script>alert("w")</script>`
	evilSeries := `"><img src=x onerror=alert(1)>`
	d := Data{Metrics: map[string]Metric{
		"concurrency_tasks{pool_kind:" + evilSeries + ",workers:1,workload:" + evil + "}": counter(10, 1),
		"concurrency_tasks{pool_kind:thread,workers:1,workload:" + evil + "}":             counter(20, 2),
		"concurrency_tasks{pool_kind:thread,workers:2,workload:a&b}":                      counter(20, 2),
	}}
	page := HTML(d, Options{Title: "<i>mine</i> & yours"})
	assert.NotContains(t, page, "<script")
	assert.NotContains(t, page, "<img")
	assert.NotContains(t, page, "<i>")
	doc, bars := parsePage(t, page)
	assert.Empty(t, find(doc, "script"))
	assert.Empty(t, find(doc, "img"))
	assert.Empty(t, find(doc, "i"))
	require.Len(t, bars, 3)
	workloads := map[string]bool{}
	for _, b := range bars {
		workloads[b.workload] = true
	}
	assert.Equal(t, map[string]bool{evil: true, "a&b": true}, workloads, "data attributes hold the names as they are")
	assert.Contains(t, textOf(doc), evil, "names show as text")
	assert.Equal(t, "<i>mine</i> & yours", textOf(find(doc, "h1")[0]))
	assert.Equal(t, "<i>mine</i> & yours · xk6-concurrency", textOf(find(doc, "title")[0]))

	// A page with no cells escapes the sub-metrics it lists.
	page = HTML(Data{Metrics: map[string]Metric{"concurrency_tasks{workload:" + evil + "}": counter(1, 1)}}, Options{})
	assert.NotContains(t, page, "<script")
	assert.Contains(t, page, "&lt;script&gt;")
}

func TestReportHTMLSelfContained(t *testing.T) {
	t.Parallel()
	page := HTML(sampleData(), Options{})
	doc, _ := parsePage(t, page)
	for _, tag := range []string{"script", "link", "img", "iframe", "object", "embed", "image", "use", "a"} {
		assert.Empty(t, find(doc, tag), "no <%s>", tag)
	}
	for _, s := range []string{"src=", "href", "url(", "@import", "@font-face", "http:", "https:", "//"} {
		assert.NotContains(t, page, s)
	}
}

func TestReportHTMLNoCells(t *testing.T) {
	t.Parallel()
	d := sampleData()
	for k := range d.Metrics {
		if strings.HasPrefix(k, "concurrency_tasks{") {
			delete(d.Metrics, k)
		}
	}
	page := HTML(d, Options{})
	doc, bars := parsePage(t, page)
	assert.Empty(t, bars)
	text := textOf(doc)
	assert.Contains(t, text, "No cells found")
	assert.Contains(t, text, "report.thresholds({ pool_kind: ['thread', 'process']")
	assert.Contains(t, text, "concurrency_task_wait", "the digest is still there")
}

func TestReportParseOptions(t *testing.T) {
	t.Parallel()
	o, err := ParseOptions("report.text", nil)
	require.NoError(t, err)
	assert.Equal(t, Options{Series: "pool_kind", Size: "workers"}, o)
	o, err = ParseOptions("report.text", map[string]any{"title": " Run 1 ", "series": "scenario", "size": "vus", "seconds": 7.5})
	require.NoError(t, err)
	assert.Equal(t, Options{Title: "Run 1", Series: "scenario", Size: "vus", Seconds: 7.5}, o)
	o, err = ParseOptions("report.text", map[string]any{"seconds": "1m30s"})
	require.NoError(t, err)
	assert.InDelta(t, 90, o.Seconds, 1e-12)

	bad := map[string][]any{
		`unknown option "secs"`:       {"secs", 7.0},
		`option "seconds"`:            {"seconds", 0.0},
		`option "seconds" must be a`:  {"seconds", true},
		`"seconds" must be a number`:  {"seconds", "soon"},
		`option "title"`:              {"title", 5.0},
		`option "series"`:             {"series", ""},
		`option "size"`:               {"size", "a,b"},
		`option "size" must be a tag`: {"size", []any{"workers"}},
	}
	for want, kv := range bad {
		_, err := ParseOptions("report.html", map[string]any{kv[0].(string): kv[1]})
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
		assert.Contains(t, err.Error(), "report.html()")
		assertInvalid(t, err)
	}
	_, err = ParseOptions("report.text", map[string]any{"seconds": -1.0})
	require.ErrorContains(t, err, "positive")
	_, err = ParseOptions("report.text", map[string]any{"seconds": math.NaN()})
	require.ErrorContains(t, err, `option "seconds"`)
	_, err = ParseOptions("report.text", map[string]any{"series": "workers"})
	require.ErrorContains(t, err, `"series" and "size" must be different`)
	_, err = ParseOptions("report.text", map[string]any{"size": "workload"})
	require.ErrorContains(t, err, `"workload" tag makes the chart's panels`)
}

func assertInvalid(t *testing.T, err error) {
	t.Helper()
	var te *taskerr.Error
	require.ErrorAs(t, err, &te, "%v is a taskerr.Error", err)
	assert.Equal(t, taskerr.InvalidArgument, te.Code)
}

func TestReportThresholds(t *testing.T) {
	t.Parallel()
	got, err := Thresholds("report.thresholds", map[string]any{
		"workload":  []any{"cpu.primes", "io.sleep"},
		"pool_kind": []any{"thread", "process", "thread"},
		"workers":   []any{4.0, 8.0, 16.0},
	})
	require.NoError(t, err)
	assert.Len(t, got, 12)
	assert.Equal(t, []string{"count>=0"}, got["concurrency_tasks{pool_kind:thread,workers:4,workload:cpu.primes}"])
	assert.Contains(t, got, "concurrency_tasks{pool_kind:process,workers:16,workload:io.sleep}")
	for key := range got {
		_, tags, ok := ParseKey(key)
		require.True(t, ok)
		assert.Len(t, tags, 3)
	}
	// The keys make cells.
	d := Data{Metrics: map[string]Metric{}}
	for key := range got {
		d.Metrics[key] = counter(1, 1)
	}
	assert.Len(t, Compute(d, Options{}).Cells, 12)

	got, err = Thresholds("report.thresholds", map[string]any{"workers": []any{1.5, 2.0}, "note": []any{"a b:c"}})
	require.NoError(t, err)
	assert.Contains(t, got, "concurrency_tasks{note:a b:c,workers:1.5}")

	bad := map[string]map[string]any{
		"it is empty":                                            {},
		"spec.workers must be a non-empty array":                 {"workers": 4.0},
		"spec.workload must be a non-empty":                      {"workload": []any{}},
		"spec.workers[1] must be a string or a number, got true": {"workers": []any{1.0, true}},
		"spec.workload[0] must be a tag value":                   {"workload": []any{"a,b"}},
		`spec key "a:b" is not a tag name`:                       {"a:b": []any{"x"}},
		"more than 10000":                                        {"a": seq(200), "b": seq(200)},
	}
	for want, spec := range bad {
		_, err := Thresholds("report.thresholds", spec)
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
		assert.Contains(t, err.Error(), "report.thresholds()")
		assertInvalid(t, err)
	}
}

func seq(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

func TestReportNiceScale(t *testing.T) {
	t.Parallel()
	cases := []struct{ top, max, step float64 }{
		{5172, 6000, 2000},
		{1499, 2000, 500},
		{371, 400, 100},
		{100, 120, 20},
		{0.5, 0.6, 0.1},
		{12, 15, 2.5},
		{0, 1, 0.25},
	}
	for _, c := range cases {
		s := NiceScale(c.top)
		assert.InDelta(t, c.max, s.Max, 1e-9, "top %v", c.top)
		assert.InDelta(t, c.step, s.Step, 1e-9, "top %v", c.top)
		assert.Greater(t, s.Max, c.top)
	}
	assert.Equal(t, "12,500", fmtTick(12500, 2500))
	assert.Equal(t, "7.5", fmtTick(7.5, 2.5))
	assert.Equal(t, "0.25", fmtTick(0.25, 0.25))
	assert.Equal(t, "1,000,000", fmtTick(1e6, 2e5))
}
