package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Heading is the first line of the calls-per-second table.
const Heading = "function calls per second (higher is better), from " + TaskMetric

// Text renders the report for a terminal: the optional title, the
// calls-per-second table with speed-ups (or why there is none), and the
// digest of the extension's other metrics. It has no trailing newline.
func Text(data Data, opts Options) string {
	r := Compute(data, opts)
	var parts []string
	if r.Options.Title != "" {
		parts = append(parts, r.Options.Title)
	}
	if len(r.Cells) == 0 {
		parts = append(parts, r.noCellsText())
	} else {
		parts = append(parts, r.tableText())
	}
	text := strings.Join(parts, "\n")
	if d := digestText(data); d != "" {
		text += "\n\n" + d
	}
	return text
}

// seriesColumn is the table's header over the series names.
func (r *Result) seriesColumn() string {
	if r.Options.Series == DefaultSeries {
		return "pool"
	}
	return r.Options.Series
}

// NotRunLabel is what the table shows for a cell that did not run.
const NotRunLabel = "not run"

// speedupSizes returns the indexes into Sizes of the speed-up columns: the
// sizes after the smallest one that ran.
func (r *Result) speedupSizes() []int {
	if r.Base < 0 {
		return nil
	}
	var out []int
	for i := r.Base + 1; i < len(r.Sizes); i++ {
		out = append(out, i)
	}
	return out
}

// callsText is how the table shows calls/s at size i of a row.
func callsText(row Row, i int) string {
	if row.NotRun[i] {
		return NotRunLabel
	}
	return fmtRate(row.Calls[i])
}

// speedupText is how the table shows the speed-up at size i of a row, and
// whether it has the footnote's mark (its base is not the column's).
func (r *Result) speedupText(row Row, i int) (string, bool) {
	s := fmtSpeedup(row.Speedup[i])
	if s != "-" && row.Base != r.Base {
		return s + "*", true
	}
	return s, false
}

// tableNotes are the footnotes of the table: the mark on speed-ups over
// another size, and what "not run" means.
func (r *Result) tableNotes(marked bool) []string {
	var notes []string
	if marked {
		notes = append(notes, fmt.Sprintf("* speed-up over the row's smallest size that ran: it has no measured cell of %s",
			sizeLabel(r.Sizes[r.Base], r.Options.Size)))
	}
	if r.NotRun > 0 {
		notes = append(notes,
			NotRunLabel+": the cell's sub-metric has no samples: a threshold declared it, but no task ran with its tags")
	}
	return notes
}

// tableRows returns the table's header and rows as cells of text, and the
// footnotes the rows need.
func (r *Result) tableRows() (head []string, rows [][]string, notes []string) {
	speedups := r.speedupSizes()
	columns := 2 + len(r.Sizes) + len(speedups)
	head = append(make([]string, 0, columns), "workload", r.seriesColumn())
	for _, s := range r.Sizes {
		head = append(head, sizeLabel(s, r.Options.Size))
	}
	for _, i := range speedups {
		head = append(head, fmt.Sprintf("x%d/%d", r.Sizes[i], r.Sizes[r.Base]))
	}
	marked := false
	for _, row := range r.Rows {
		line := append(make([]string, 0, columns), row.Workload, SeriesName(row.Series))
		for i := range r.Sizes {
			line = append(line, callsText(row, i))
		}
		for _, i := range speedups {
			s, mark := r.speedupText(row, i)
			marked = marked || mark
			line = append(line, s)
		}
		rows = append(rows, line)
	}
	return head, rows, r.tableNotes(marked)
}

func (r *Result) tableText() string {
	head, rows, notes := r.tableRows()
	all := append([][]string{head}, rows...)
	widths := make([]int, len(head))
	for _, line := range all {
		for i, c := range line {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	format := func(line []string) string {
		cells := make([]string, len(line))
		for i, c := range line {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i < 2 {
				cells[i] = c + pad
			} else {
				cells[i] = pad + c
			}
		}
		return strings.TrimRight(strings.Join(cells, "  "), " ")
	}
	rules := make([]string, len(widths))
	for i, w := range widths {
		rules[i] = strings.Repeat("-", w)
	}
	out := make([]string, 0, 4+len(rows)+len(notes))
	out = append(out, Heading, format(head), strings.Join(rules, "  "))
	for _, line := range rows {
		out = append(out, format(line))
	}
	out = append(out, r.Note)
	out = append(out, notes...)
	return strings.Join(out, "\n")
}

// exampleSpec is a report.thresholds call for the options' tags.
func (r *Result) exampleSpec() string {
	if r.Options.Series == DefaultSeries && r.Options.Size == DefaultSize {
		return "report.thresholds({ pool_kind: ['thread', 'process'], workers: [4, 8, 16], workload: ['cpu.primes', " +
			"'io.sleep'] })"
	}
	return fmt.Sprintf("report.thresholds({ %s: ['a', 'b'], %s: [1, 2, 4], workload: ['cpu.primes', 'io.sleep'] })",
		r.Options.Series, r.Options.Size)
}

// noCellsLines explains an empty report and how to fill it.
func (r *Result) noCellsLines() (lead string, explain []string, code string, skipped []string) {
	lead = Heading + ": no cells found."
	explain = []string{
		fmt.Sprintf("The summary data has no sub-metric of %s with the %s, %s and %s tags.", TaskMetric, r.Options.Series,
			r.Options.Size, WorkloadTag),
		"k6 keeps a sub-metric in the summary only when a threshold names it: declare one per cell with report.thresholds:",
	}
	code = "import { report } from 'k6/x/concurrency';\n" +
		"export const options = {\n" +
		"  thresholds: {\n" +
		"    ..." + r.exampleSpec() + ",\n" +
		"  },\n" +
		"};"
	skipped = r.Skipped
	if len(skipped) > 20 {
		skipped = append(skipped[:20:20], fmt.Sprintf("... and %d more", len(r.Skipped)-20))
	}
	return lead, explain, code, skipped
}

func (r *Result) noCellsText() string {
	lead, explain, code, skipped := r.noCellsLines()
	out := append([]string{lead}, explain...)
	out = append(out, "")
	for l := range strings.SplitSeq(code, "\n") {
		out = append(out, "  "+l)
	}
	if len(skipped) > 0 {
		out = append(out, "", "Sub-metrics of "+TaskMetric+" that are not cells:")
		for _, s := range skipped {
			out = append(out, "  "+s)
		}
	}
	return strings.Join(out, "\n")
}

// digestStat is one figure of the digest.
type digestStat struct{ label, value string }

// digestLine is one metric of the digest.
type digestLine struct {
	metric string
	stats  []digestStat
}

// digest lists the extension's trend metrics (avg, med, p(95), max), then
// the task count and the failure rate, for those the data has.
func digest(data Data) []digestLine {
	var out []digestLine
	for _, name := range DigestTrends {
		m, ok := data.Metrics[name]
		if !ok {
			continue
		}
		line := digestLine{metric: name}
		for _, stat := range []string{"avg", "med", "p(95)", "max"} {
			v, ok := m.value(stat)
			line.stats = append(line.stats, digestStat{stat, fmtMs(v, ok)})
		}
		out = append(out, line)
	}
	if m, ok := data.Metrics[digestTasks]; ok {
		count, okc := m.value("count")
		rate, okr := m.value("rate")
		line := digestLine{metric: digestTasks, stats: []digestStat{{"count", "-"}, {"rate", "-"}}}
		if okc {
			line.stats[0].value = fmt.Sprintf("%.0f", count)
		}
		if okr {
			line.stats[1].value = fmt.Sprintf("%.1f/s", rate)
		}
		out = append(out, line)
	}
	if m, ok := data.Metrics[digestFailed]; ok {
		line := digestLine{metric: digestFailed, stats: []digestStat{{"rate", "-"}}}
		if v, ok := m.value("rate"); ok {
			line.stats[0].value = fmt.Sprintf("%.2f%%", 100*v)
		}
		out = append(out, line)
	}
	return out
}

func digestText(data Data) string {
	lines := digest(data)
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		stats := make([]string, len(line.stats))
		for i, s := range line.stats {
			stats[i] = s.label + "=" + s.value
		}
		out = append(out, fmt.Sprintf("%-27s %s", line.metric, strings.Join(stats, " ")))
	}
	return strings.Join(out, "\n")
}
