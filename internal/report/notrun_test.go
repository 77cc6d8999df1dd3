package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// crossRun is a run whose cells report.thresholds declared as a cross
// product, of which only some ran.
type crossRun struct {
	series    []string
	sizes     []int
	workloads []string
	// counts holds the tasks of each cell that ran, by cellKey; the
	// others have no samples.
	counts map[string]float64
}

func cellKey(series string, size int, workload string) string {
	return fmt.Sprintf("concurrency_tasks{pool_kind:%s,workers:%d,workload:%s}", series, size, workload)
}

// runSeconds is how long every run below lasted, for k6's rates.
const runSeconds = 10.0

// data is the run's summary data as k6 writes it: a declared sub-metric
// without samples has a count and a rate of 0 and no type.
func (c crossRun) data() Data {
	d := Data{Metrics: map[string]Metric{}, RunDuration: time.Duration(runSeconds * float64(time.Second))}
	for _, s := range c.series {
		for _, size := range c.sizes {
			for _, w := range c.workloads {
				key := cellKey(s, size, w)
				if n, ok := c.counts[key]; ok {
					d.Metrics[key] = counter(n, n/runSeconds)
				} else {
					d.Metrics[key] = Metric{Values: map[string]float64{"count": 0, "rate": 0}}
				}
			}
		}
	}
	return d
}

// ran returns the cell's count and whether it ran.
func (c crossRun) ran(series string, size int, workload string) (float64, bool) {
	n, ok := c.counts[cellKey(series, size, workload)]
	return n, ok
}

// calls is what the cell measured, in calls/s, with these options.
func (c crossRun) calls(series string, size int, workload string, opts Options) (float64, bool) {
	n, ok := c.ran(series, size, workload)
	if opts.Seconds > 0 {
		return n / opts.Seconds, ok
	}
	return n / runSeconds, ok
}

// with makes a crossRun where the cells listed ran (series/size/workload,
// each with 10 tasks times its size, so that speed-ups are the size ratio).
func with(series []string, sizes []int, workloads []string, ran ...string) crossRun {
	c := crossRun{series: series, sizes: sizes, workloads: workloads, counts: map[string]float64{}}
	for _, r := range ran {
		parts := strings.Split(r, "/")
		size, _ := strconv.Atoi(parts[1])
		c.counts[cellKey(parts[0], size, parts[2])] = float64(10 * size)
	}
	return c
}

// partialRuns are the members of the kind: each way a cross product can be
// partly run, then random ones.
func partialRuns() map[string]crossRun {
	th, both := []string{"thread"}, []string{"thread", "process"}
	runs := map[string]crossRun{
		"issue 17: of 1 and 2 workers, 2 ran": with(th, []int{1, 2}, []string{"noop"}, "thread/2/noop"),
		"a row's smallest size did not run": with(both, []int{1, 2, 4}, []string{"noop"},
			"thread/1/noop", "thread/2/noop", "thread/4/noop", "process/2/noop", "process/4/noop"),
		"a middle size did not run": with(both, []int{1, 2, 4}, []string{"noop"},
			"thread/1/noop", "thread/4/noop", "process/1/noop", "process/2/noop", "process/4/noop"),
		"the largest size did not run": with(th, []int{1, 2, 4}, []string{"noop"}, "thread/1/noop", "thread/2/noop"),
		"the smallest size ran nowhere": with(both, []int{1, 2, 4}, []string{"noop"},
			"thread/2/noop", "thread/4/noop", "process/4/noop"),
		"a series did not run": with(both, []int{1, 2}, []string{"noop"}, "thread/1/noop", "thread/2/noop"),
		"a workload did not run": with(both, []int{1, 2}, []string{"cpu.primes", "noop"},
			"thread/1/noop", "thread/2/noop", "process/1/noop", "process/2/noop"),
		"only one cell ran": with(both, []int{1, 2, 4}, []string{"cpu.primes", "noop"}, "process/4/cpu.primes"),
		"nothing ran":       with(both, []int{1, 2}, []string{"noop"}),
	}
	rng := rand.New(rand.NewPCG(17, 6))
	for i := range 40 {
		c := crossRun{series: []string{"thread", "process", "other"}[:1+rng.IntN(3)], workloads: []string{"a", "b", "c"}[:1+rng.IntN(3)], counts: map[string]float64{}}
		for _, size := range []int{1, 2, 3, 4, 8} {
			if rng.IntN(4) > 0 {
				c.sizes = append(c.sizes, size)
			}
		}
		if len(c.sizes) == 0 {
			c.sizes = []int{4}
		}
		for _, s := range c.series {
			for _, size := range c.sizes {
				for _, w := range c.workloads {
					if rng.IntN(2) == 0 {
						c.counts[cellKey(s, size, w)] = float64(1 + rng.IntN(5000))
					}
				}
			}
		}
		runs[fmt.Sprintf("random %d", i)] = c
	}
	return runs
}

// TestReportCellsThatDidNotRun checks every place that reads cells, for
// every partial run: a cell without samples is "not run", never a
// measurement, and speed-ups are over the smallest size that ran.
func TestReportCellsThatDidNotRun(t *testing.T) {
	t.Parallel()
	for name, run := range partialRuns() {
		for _, opts := range []Options{{Seconds: 1}, {}} {
			t.Run(fmt.Sprintf("%s, seconds %v", name, opts.Seconds), func(t *testing.T) {
				t.Parallel()
				r := Compute(run.data(), opts)
				checkCompute(t, run, r, opts)
				checkText(t, run, r, Text(run.data(), opts), opts)
				checkHTML(t, run, r, HTML(run.data(), opts), opts)
			})
		}
	}
}

// baseOf is the index into sizes of the smallest size at which any cell ran
// (and the row's own base, given one series and workload), or -1.
func (c crossRun) baseOf(series, workload string) int {
	for i, size := range c.sizes {
		for _, s := range c.series {
			for _, w := range c.workloads {
				if (series == "" || s == series) && (workload == "" || w == workload) {
					if _, ok := c.ran(s, size, w); ok {
						return i
					}
				}
			}
		}
	}
	return -1
}

func checkCompute(t *testing.T, run crossRun, r *Result, opts Options) {
	t.Helper()
	require.Len(t, r.Cells, len(run.series)*len(run.sizes)*len(run.workloads), "every declared sub-metric is a cell")
	assert.Equal(t, len(r.Cells)-len(run.counts), r.NotRun)
	for _, c := range r.Cells {
		_, ran := run.ran(c.Series, c.Size, c.Workload)
		assert.Equal(t, ran, c.Ran, c.Key)
		if want, ok := run.calls(c.Series, c.Size, c.Workload, opts); ok {
			assert.InDelta(t, want, c.Calls, 1e-9, c.Key)
		} else {
			assert.True(t, math.IsNaN(c.Calls), "%s did not run: its calls/s is no number, got %v", c.Key, c.Calls)
		}
	}
	assert.Equal(t, run.baseOf("", ""), r.Base)
	require.Len(t, r.Rows, len(run.series)*len(run.workloads), "a row per series and workload, run or not")
	for _, row := range r.Rows {
		base := run.baseOf(row.Series, row.Workload)
		assert.Equal(t, base, row.Base, "%s %s", row.Workload, row.Series)
		for i, size := range run.sizes {
			calls, ran := run.calls(row.Series, size, row.Workload, opts)
			assert.Equal(t, !ran, row.NotRun[i])
			if !ran || base < 0 {
				assert.True(t, math.IsNaN(row.Speedup[i]), "no speed-up at a size that did not run")
				continue
			}
			baseCalls, _ := run.calls(row.Series, run.sizes[base], row.Workload, opts)
			assert.InDelta(t, calls/baseCalls, row.Speedup[i], 1e-9)
		}
	}
}

// textTable splits the text table into its header and rows, by the columns
// of its rule line.
func textTable(t *testing.T, text string) (head []string, rows [][]string, after []string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	require.Greater(t, len(lines), 3, text)
	require.Equal(t, Heading, lines[0])
	var spans [][2]int
	start := -1
	rule := lines[2] + " "
	for i, ch := range rule {
		switch {
		case ch == '-' && start < 0:
			start = i
		case ch != '-' && start >= 0:
			spans = append(spans, [2]int{start, i})
			start = -1
		}
	}
	split := func(line string) []string {
		out := make([]string, len(spans))
		for i, s := range spans {
			if s[0] < len(line) {
				out[i] = strings.TrimSpace(line[s[0]:min(s[1], len(line))])
			}
		}
		return out
	}
	head = split(lines[1])
	i := 3
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "calls/s = "); i++ {
		rows = append(rows, split(lines[i]))
	}
	return head, rows, lines[i:]
}

func checkText(t *testing.T, run crossRun, r *Result, text string, opts Options) {
	t.Helper()
	head, rows, after := textTable(t, text)
	base := run.baseOf("", "")
	var wantHead []string
	for _, size := range run.sizes {
		wantHead = append(wantHead, sizeLabel(size, DefaultSize))
	}
	if base >= 0 {
		for _, size := range run.sizes[base+1:] {
			wantHead = append(wantHead, fmt.Sprintf("x%d/%d", size, run.sizes[base]))
		}
	}
	assert.Equal(t, append([]string{"workload", "pool"}, wantHead...), head, "speed-ups are over the smallest size that ran:\n%s", text)
	require.Len(t, rows, len(r.Rows), text)
	marked := false
	for _, line := range rows {
		series := map[string]string{"threads": "thread", "processes": "process"}[line[1]]
		if series == "" {
			series = line[1]
		}
		rowBase := run.baseOf(series, line[0])
		for i, size := range run.sizes {
			shown := line[2+i]
			calls, ran := run.calls(series, size, line[0], opts)
			if !ran {
				assert.Equal(t, NotRunLabel, shown, "%v: a cell without samples reads as not run:\n%s", line, text)
				continue
			}
			v, err := strconv.ParseFloat(shown, 64)
			require.NoError(t, err, "%v:\n%s", line, text)
			assert.InDelta(t, calls, v, 0.5+1e-9, "%v", line)
		}
		if base < 0 {
			continue
		}
		for j, size := range run.sizes[base+1:] {
			shown := line[2+len(run.sizes)+j]
			calls, ran := run.calls(series, size, line[0], opts)
			if !ran {
				assert.Equal(t, "-", shown, "%v: no speed-up at a size that did not run", line)
				continue
			}
			baseCalls, _ := run.calls(series, run.sizes[rowBase], line[0], opts)
			want := fmtSpeedup(calls / baseCalls)
			if rowBase != base {
				want += "*"
				marked = true
			}
			assert.Equal(t, want, shown, "%v: the speed-up is over the row's smallest size that ran:\n%s", line, text)
		}
	}
	notes := strings.Join(after, "\n")
	assert.Equal(t, marked, strings.Contains(notes, "* speed-up over the row's smallest size that ran"), notes)
	assert.Equal(t, len(run.counts) < len(r.Cells), strings.Contains(notes, NotRunLabel+": the cell's sub-metric has no samples"), notes)
}

// htmlPanel is what one chart panel of the page shows.
type htmlPanel struct {
	bars   map[string]float64 // cellKey to data-value
	notRun map[string]bool
	ticks  []float64
}

func readPanels(t *testing.T, doc *html.Node) map[string]htmlPanel {
	t.Helper()
	panels := map[string]htmlPanel{}
	for _, fig := range find(doc, "figure") {
		p := htmlPanel{bars: map[string]float64{}, notRun: map[string]bool{}}
		for _, n := range find(fig, "rect") {
			if attr(n, "class") == "bar" {
				size, _ := strconv.Atoi(attr(n, "data-size"))
				v, err := strconv.ParseFloat(attr(n, "data-value"), 64)
				require.NoError(t, err)
				p.bars[cellKey(attr(n, "data-series"), size, attr(n, "data-workload"))] = v
			}
		}
		for _, n := range find(fig, "g") {
			if attr(n, "class") != "not-run" {
				continue
			}
			size, _ := strconv.Atoi(attr(n, "data-size"))
			key := cellKey(attr(n, "data-series"), size, attr(n, "data-workload"))
			texts := find(n, "text")
			require.Len(t, texts, 1, key)
			assert.Equal(t, NotRunLabel, textOf(texts[0]), "%s has a visible label", key)
			var x, y float64
			_, err := fmt.Sscanf(attr(texts[0], "transform"), "translate(%g %g) rotate(-90)", &x, &y)
			require.NoError(t, err, key)
			assert.True(t, x > marginLeft && x < panelW-marginRight && y > marginTop && y <= plotBottom, "%s: its label (%v, %v) is in the plot", key, x, y)
			assert.Contains(t, textOf(find(n, "title")[0]), NotRunLabel)
			p.notRun[key] = true
		}
		for _, n := range find(fig, "text") {
			if attr(n, "class") == "tick" {
				v, err := strconv.ParseFloat(strings.ReplaceAll(textOf(n), ",", ""), 64)
				require.NoError(t, err)
				p.ticks = append(p.ticks, v)
			}
		}
		panels[attr(fig, "data-workload")] = p
	}
	return panels
}

func checkHTML(t *testing.T, run crossRun, r *Result, page string, opts Options) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err)
	panels := readPanels(t, doc)
	require.Len(t, panels, len(run.workloads))
	for _, w := range run.workloads {
		p := panels[w]
		top := 0.0
		for _, s := range run.series {
			for _, size := range run.sizes {
				key := cellKey(s, size, w)
				calls, ran := run.calls(s, size, w, opts)
				assert.Equal(t, !ran, p.notRun[key], "%s: not run in the chart iff it has no samples", key)
				v, hasBar := p.bars[key]
				assert.Equal(t, ran, hasBar, "%s: a bar iff it ran", key)
				if ran {
					assert.InDelta(t, calls, v, 0.001, key)
					top = math.Max(top, calls)
				}
			}
		}
		if top == 0 {
			assert.Empty(t, p.ticks, "%s: no cell ran, so the panel shows no scale", w)
			continue
		}
		require.NotEmpty(t, p.ticks, w)
		assert.Zero(t, p.ticks[0])
		assert.Greater(t, p.ticks[len(p.ticks)-1], top, "%s: the axis is scaled to the cells that ran", w)
		assert.Less(t, p.ticks[len(p.ticks)-1], 2.5*top, "%s: the axis is scaled to the cells that ran", w)
	}
	var notRunCells int
	for _, td := range find(doc, "td") {
		if attr(td, "class") == "num not-run" {
			assert.Equal(t, NotRunLabel, textOf(td))
			notRunCells++
		}
	}
	assert.Equal(t, r.NotRun, notRunCells, "the page's table marks each cell that did not run")
	var spHeads []string
	for _, th := range find(doc, "th") {
		if attr(th, "class") == "num sp-head" {
			spHeads = append(spHeads, strings.Replace(textOf(th), "×", "x", 1))
		}
	}
	head, _, _ := textTable(t, Text(run.data(), opts))
	assert.Equal(t, strings.Join(head[2+len(run.sizes):], " "), strings.Join(spHeads, " "), "the page's speed-up columns are the text's")
	if r.NotRun > 0 {
		assert.Contains(t, textOf(doc), fmt.Sprintf("%d (%d %s)", len(r.Cells), r.NotRun, NotRunLabel))
	}
}

// TestReportIssue17PartialRun is the issue's small input on plain data:
// thresholds for 1 and 2 workers, only the 2-worker thread pool ran.
func TestReportIssue17PartialRun(t *testing.T) {
	t.Parallel()
	data := with([]string{"thread"}, []int{1, 2}, []string{"noop"}, "thread/2/noop").data()
	got := Text(data, Options{Seconds: 1})
	assert.Equal(t, strings.Join([]string{
		Heading,
		"workload  pool     1 worker  2 workers",
		"--------  -------  --------  ---------",
		"noop      threads   not run       20.0",
		"calls/s = count / 1 s per cell",
		"not run: the cell's sub-metric has no samples: a threshold declared it, but no task ran with its tags",
	}, "\n"), got)

	doc, bars := parsePage(t, HTML(data, Options{Seconds: 1}))
	require.Len(t, bars, 1, "no bar for the cell that did not run")
	assert.Equal(t, 2, bars[0].size)
	panel := readPanels(t, doc)["noop"]
	assert.Equal(t, map[string]bool{cellKey("thread", 1, "noop"): true}, panel.notRun)
	assert.Equal(t, []float64{0, 5, 10, 15, 20, 25}, panel.ticks)
}
