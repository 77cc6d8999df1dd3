package report

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Geometry of one chart panel, in SVG user units (the panel scales with the page).
const (
	panelW       = 600.0
	panelH       = 380.0
	marginLeft   = 76.0
	marginRight  = 20.0
	marginTop    = 76.0
	marginBottom = 52.0
	plotW        = panelW - marginLeft - marginRight
	plotH        = panelH - marginTop - marginBottom
	plotBottom   = panelH - marginBottom
)

// Palette holds the series colours, in series order: the Okabe-Ito colours,
// told apart with every common kind of colour blindness.
//
//nolint:gochecknoglobals // a constant table
var Palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

func colour(i int) string { return Palette[i%len(Palette)] }

// esc escapes text for HTML text and double-quoted attribute values.
func esc(s string) string { return html.EscapeString(s) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// DataValue is how a bar's data-value attribute writes calls/s.
func DataValue(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// HTML renders the report as one self-contained page: no network, inline CSS
// and inline SVG, no JavaScript. It shows one bar chart per workload (a group
// of bars per size, a bar per series), the table with speed-ups and the
// digest of the extension's other metrics. Every text that comes from the
// data is escaped.
func HTML(data Data, opts Options) string {
	r := Compute(data, opts)
	title := r.Options.Title
	if title == "" {
		title = r.defaultTitle()
	}
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<meta name=\"generator\" content=\"xk6-concurrency report.html\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", esc(title+" · xk6-concurrency"),
		css)

	b.WriteString("<header>\n<p class=\"eyebrow\">xk6-concurrency · k6 results</p>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", esc(title))
	if len(r.Cells) > 0 {
		fmt.Fprintf(&b, "<p class=\"lede\">%s</p>\n", r.lede())
	}
	r.writeMeta(&b, data)
	b.WriteString("</header>\n")

	if len(r.Cells) == 0 {
		r.writeNoCells(&b)
		writeDigest(&b, data)
	} else {
		b.WriteString("<section class=\"charts\" aria-label=\"charts\">\n")
		for i, w := range r.Workloads {
			r.writePanel(&b, i, w, data.Kinds[w])
		}
		b.WriteString("</section>\n")
		// With more than three sizes the table needs the page's width.
		if len(r.Sizes) > 3 {
			b.WriteString("<div class=\"tables wide\">\n")
		} else {
			b.WriteString("<div class=\"tables\">\n")
		}
		r.writeTable(&b)
		writeDigest(&b, data)
		b.WriteString("</div>\n")
	}
	b.WriteString("<footer>Made by <code>report.html()</code> of xk6-concurrency from k6's end-of-test summary data. ")
	b.WriteString("A cell is one sub-metric of <code>" + TaskMetric + "</code>; speed-up is a row's calls/s over its " +
		"calls/s at its smallest size that ran; a cell with no samples is shown as not run, never as 0.</footer>\n")
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.String()
}

func (r *Result) defaultTitle() string {
	if len(r.Series) == 0 {
		return "Function calls per second"
	}
	names := make([]string, len(r.Series))
	for i, s := range r.Series {
		names[i] = SeriesName(s)
	}
	t := strings.Join(names, " vs ")
	return strings.ToUpper(t[:1]) + t[1:]
}

// lede says what the chart compares, in one sentence.
func (r *Result) lede() string {
	names := make([]string, len(r.Series))
	for i, s := range r.Series {
		names[i] = "<strong>" + esc(SeriesName(s)) + "</strong>"
	}
	sizes := make([]string, len(r.Sizes))
	for i, s := range r.Sizes {
		sizes[i] = strconv.Itoa(s)
	}
	works := make([]string, len(r.Workloads))
	for i, w := range r.Workloads {
		works[i] = "<code>" + esc(w) + "</code>"
	}
	compared := andList(names, " and ")
	if len(names) == 2 {
		compared = andList(names, " against ")
	}
	at := andList(sizes, " and ") + " " + esc(r.Options.Size)
	if tag := r.Options.Size; len(tag) < 2 || !strings.HasSuffix(tag, "s") { // as sizeLabel: "size 1, 2 and 4"
		at = esc(tag) + " " + andList(sizes, " and ")
	}
	return fmt.Sprintf("Function calls per second from <code>%s</code>, higher is better: %s at %s, on %s.",
		TaskMetric, compared, at, andList(works, " and "))
}

// andList joins items as "a, b and c" (with last as the final separator).
func andList(items []string, last string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + last + items[len(items)-1]
}

func (r *Result) writeMeta(b *strings.Builder, data Data) {
	var items [][2]string
	if data.RunDuration > 0 {
		items = append(items, [2]string{"Test run", fmtDuration(data.RunDuration)})
	}
	if !data.Generated.IsZero() {
		items = append(items, [2]string{"Generated", data.Generated.UTC().Format("2006-01-02 15:04 UTC")})
	}
	if len(r.Cells) > 0 {
		cells := strconv.Itoa(len(r.Cells))
		if r.NotRun > 0 {
			cells += " (" + strconv.Itoa(r.NotRun) + " " + NotRunLabel + ")"
		}
		items = append(items, [2]string{"Cells", cells})
		items = append(items, [2]string{"Calls/s", strings.TrimPrefix(r.Note, "calls/s = ")})
	}
	if len(items) == 0 {
		return
	}
	b.WriteString("<dl class=\"meta\">\n")
	for _, it := range items {
		fmt.Fprintf(b, "<div><dt>%s</dt><dd>%s</dd></div>\n", esc(it[0]), esc(it[1]))
	}
	b.WriteString("</dl>\n")
}

func fmtDuration(d time.Duration) string {
	s := d.Seconds()
	if s < 60 {
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	}
	m := math.Floor(s / 60)
	return fmt.Sprintf("%.0f min %.0f s", m, s-60*m)
}

// Scale is the y axis of a panel: ticks from 0 to Max every Step.
type Scale struct{ Max, Step float64 }

// NiceScale picks a y axis for values up to top: about five ticks on round
// numbers (1, 2, 2.5 or 5 times a power of ten), with room above the tallest
// bar for its label.
func NiceScale(top float64) Scale {
	if !(top > 0) || math.IsInf(top, 0) {
		return Scale{Max: 1, Step: 0.25}
	}
	raw := top / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= f*mag {
			step = f * mag
			break
		}
	}
	end := math.Ceil(top/step) * step
	if top > 0.94*end {
		end += step
	}
	return Scale{Max: end, Step: step}
}

// fmtTick writes a tick value with thousands separators and the decimals its step needs.
func fmtTick(v, step float64) string {
	decimals := 0
	for scaled := step; decimals < 6 && math.Abs(scaled-math.Round(scaled)) > 1e-9*math.Max(1, scaled); scaled *= 10 {
		decimals++
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var out []byte
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 && whole[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, whole[i])
	}
	if frac != "" {
		return string(out) + "." + frac
	}
	return string(out)
}

//nolint:gochecknoglobals // a constant table
var kindNames = map[string]string{"cpu": "CPU-bound", "io": "I/O-bound"}

// writeLegend draws a panel's legend, right-aligned on the title's line
// (widths estimated from the text).
func (r *Result) writeLegend(b *strings.Builder) {
	x := panelW - marginRight
	b.WriteString("<g class=\"legend\">\n")
	for i, v := range slices.Backward(r.Series) {
		name := SeriesName(v)
		x -= 7.6*float64(len([]rune(name))) + 18
		fmt.Fprintf(b,
			"<g><rect class=\"swatch\" x=\"%s\" y=\"19\" width=\"12\" height=\"12\" rx=\"3\" fill=\"%s\"></rect><text "+
				"x=\"%s\" y=\"30\">%s</text></g>\n",
			num(x), colour(i), num(x+17), esc(name))
		x -= 14
	}
	b.WriteString("</g>\n")
}

// writeYAxis draws a panel's grid lines, ticks and axis label. Without a cell
// that ran (top 0), there is no scale to show: the zero line only.
func (r *Result) writeYAxis(b *strings.Builder, scale Scale, top float64) {
	b.WriteString("<g class=\"y-axis\">\n")
	ticks := int(math.Round(scale.Max / scale.Step))
	if top == 0 {
		fmt.Fprintf(b, "<line class=\"grid zero\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\"></line>\n", num(marginLeft),
			num(panelW-marginRight), num(plotBottom), num(plotBottom))
		ticks = -1
	}
	for k := 0; k <= ticks; k++ {
		v := float64(k) * scale.Step
		y := plotBottom - v/scale.Max*plotH
		cls := "grid"
		if v == 0 {
			cls = "grid zero"
		}
		fmt.Fprintf(b, "<line class=\"%s\" x1=\"%s\" x2=\"%s\" y1=\"%s\" y2=\"%s\"></line>", cls, num(marginLeft),
			num(panelW-marginRight), num(y), num(y))
		fmt.Fprintf(b, "<text class=\"tick\" x=\"%s\" y=\"%s\" dy=\"0.32em\">%s</text>\n", num(marginLeft-10), num(y),
			fmtTick(v, scale.Step))
	}
	fmt.Fprintf(b, "<text class=\"axis-label\" transform=\"translate(18 %s) rotate(-90)\">calls per second</text>\n",
		num(marginTop+plotH/2))
	b.WriteString("</g>\n")
}

// writePanel draws the bar chart of one workload.
func (r *Result) writePanel(b *strings.Builder, index int, workload, kind string) {
	top := 0.0
	for _, c := range r.Cells {
		if c.Workload == workload && c.Ran {
			top = math.Max(top, c.Calls)
		}
	}
	scale := NiceScale(top)
	id := fmt.Sprintf("chart-%d", index)
	subtitle := "calls per second"
	if k, ok := kindNames[kind]; ok {
		subtitle = k + " · " + subtitle
	}
	fmt.Fprintf(b, "<figure class=\"panel\" data-workload=\"%s\">\n", esc(workload))
	fmt.Fprintf(b, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-labelledby=\"%s-title %s-desc\">\n",
		panelW, panelH, id, id)
	fmt.Fprintf(b, "<title id=\"%s-title\">%s: %s</title>\n", id, esc(workload), esc(subtitle))
	fmt.Fprintf(b, "<desc id=\"%s-desc\">Grouped bars: a group per %s (%s), a bar per %s (%s).</desc>\n",
		id, esc(r.Options.Size), esc(joinInts(r.Sizes)),
		esc(r.Options.Series), esc(strings.Join(seriesNames(r.Series), ", ")))
	fmt.Fprintf(b, "<text class=\"panel-title\" x=\"16\" y=\"30\">%s</text>\n", esc(workload))
	fmt.Fprintf(b, "<text class=\"panel-sub\" x=\"16\" y=\"52\">%s</text>\n", esc(subtitle))

	r.writeLegend(b)

	r.writeYAxis(b, scale, top)

	r.writeBars(b, workload, scale)
	b.WriteString("</svg>\n</figure>\n")
}

// writeBars draws a panel's bars, a group per size and a bar per series,
// each labelled with its rate; a cell that did not run is marked, and one
// the run has no figure for shows a dash, so no group looks shorter than it
// is.
func (r *Result) writeBars(b *strings.Builder, workload string, scale Scale) {
	groupW := plotW / float64(len(r.Sizes))
	slot := math.Min(groupW*0.8/float64(len(r.Series)), 72)
	barW := slot - math.Min(6, slot*0.15)
	labelClass := "value"
	if barW < 34 {
		labelClass = "value small"
	}
	b.WriteString("<g class=\"bars\">\n")
	for gi, size := range r.Sizes {
		center := marginLeft + groupW*(float64(gi)+0.5)
		left := center - slot*float64(len(r.Series))/2
		for si, series := range r.Series {
			bx := left + slot*float64(si) + (slot-barW)/2
			c, ok := r.Cell(series, size, workload)
			if !ok {
				fmt.Fprintf(b, "<text class=\"missing\" x=\"%s\" y=\"%s\">–</text>\n", num(bx+barW/2), num(plotBottom-6))
				continue
			}
			if !c.Ran {
				r.writeNotRun(b, c, bx+barW/2)
				continue
			}
			h := c.Calls / scale.Max * plotH
			label := fmt.Sprintf("%s, %s, %s: %s calls/s", SeriesName(series), sizeLabel(size, r.Options.Size), workload,
				fmtRate(c.Calls))
			fmt.Fprintf(b,
				"<rect class=\"bar\" data-series=\"%s\" data-size=\"%d\" data-workload=\"%s\" data-value=\"%s\" x=\"%s\" "+
					"y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"><title>%s</title></rect>",
				esc(series), size, esc(workload), DataValue(c.Calls), num(bx), num(plotBottom-h), num(barW), num(h),
				colour(si), esc(label))
			fmt.Fprintf(b, "<text class=\"%s\" x=\"%s\" y=\"%s\">%s</text>\n", labelClass, num(bx+barW/2), num(plotBottom-h-7),
				fmtRate(c.Calls))
		}
		fmt.Fprintf(b, "<text class=\"x-label\" x=\"%s\" y=\"%s\">%s</text>\n", num(center), num(plotBottom+26),
			esc(sizeLabel(size, r.Options.Size)))
	}
	b.WriteString("</g>\n")
}

// writeNotRun marks the slot of a cell that did not run: no bar, but its
// label standing on the x axis, read bottom to top so it fits a thin slot.
func (r *Result) writeNotRun(b *strings.Builder, c Cell, x float64) {
	label := fmt.Sprintf("%s, %s, %s: %s (no samples)", SeriesName(c.Series), sizeLabel(c.Size, r.Options.Size),
		c.Workload, NotRunLabel)
	fmt.Fprintf(b, "<g class=\"not-run\" data-series=\"%s\" data-size=\"%d\" data-workload=\"%s\"><title>%s</title>",
		esc(c.Series), c.Size, esc(c.Workload), esc(label))
	fmt.Fprintf(b, "<text transform=\"translate(%s %s) rotate(-90)\" dy=\"0.32em\">%s</text></g>\n", num(x),
		num(plotBottom-8), NotRunLabel)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func seriesNames(series []string) []string {
	out := make([]string, len(series))
	for i, s := range series {
		out[i] = SeriesName(s)
	}
	return out
}

func speedupClass(v float64) string {
	switch {
	case math.IsNaN(v):
		return "sp"
	case v >= 1.15:
		return "sp up"
	case v <= 0.87:
		return "sp down"
	}
	return "sp flat"
}

// writeTable writes the table of calls per second and speed-ups: a row per
// workload and series, a column per size.
func (r *Result) writeTable(b *strings.Builder) {
	_, _, notes := r.tableRows()
	b.WriteString("<section class=\"table\">\n<h2>Calls per second and speed-up</h2>\n<div class=\"scroll\"><table " +
		"class=\"calls\">\n<thead><tr>")
	fmt.Fprintf(b, "<th scope=\"col\">workload</th><th scope=\"col\">%s</th>", esc(r.seriesColumn()))
	for _, s := range r.Sizes {
		fmt.Fprintf(b, "<th scope=\"col\" class=\"num\">%s</th>", esc(sizeLabel(s, r.Options.Size)))
	}
	for _, i := range r.speedupSizes() {
		fmt.Fprintf(b, "<th scope=\"col\" class=\"num sp-head\">×%d/%d</th>", r.Sizes[i], r.Sizes[r.Base])
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	colourOf := map[string]string{}
	for i, s := range r.Series {
		colourOf[s] = colour(i)
	}
	for i, row := range r.Rows {
		r.writeRow(b, i, row, colourOf[row.Series])
	}
	b.WriteString("</tbody>\n</table></div>\n")
	fmt.Fprintf(b, "<p class=\"note\">%s.", esc(r.Note))
	for _, n := range notes {
		fmt.Fprintf(b, " %s.", esc(n))
	}
	b.WriteString("</p>\n</section>\n")
}

// writeRow writes the table's row i, row, with a swatch of its series'
// colour: the first row of a workload starts its group with a header cell
// spanning the group's rows, and a cell that did not run says so.
func (r *Result) writeRow(b *strings.Builder, i int, row Row, swatch string) {
	first := i == 0 || r.Rows[i-1].Workload != row.Workload
	cls := ""
	if first && i > 0 {
		cls = " class=\"group\""
	}
	fmt.Fprintf(b, "<tr%s>", cls)
	if first {
		span := 0
		for _, o := range r.Rows[i:] {
			if o.Workload != row.Workload {
				break
			}
			span++
		}
		fmt.Fprintf(b, "<th scope=\"rowgroup\" rowspan=\"%d\"><code>%s</code></th>", span, esc(row.Workload))
	}
	fmt.Fprintf(b, "<td><span class=\"swatch\" style=\"background:%s\"></span>%s</td>", swatch,
		esc(SeriesName(row.Series)))
	for j := range r.Sizes {
		if row.NotRun[j] {
			fmt.Fprintf(b, "<td class=\"num not-run\">%s</td>", NotRunLabel)
			continue
		}
		fmt.Fprintf(b, "<td class=\"num\">%s</td>", fmtRate(row.Calls[j]))
	}
	for _, j := range r.speedupSizes() {
		s, _ := r.speedupText(row, j)
		s = strings.Replace(s, "x", "×", 1)
		fmt.Fprintf(b, "<td class=\"num %s\">%s</td>", speedupClass(row.Speedup[j]), s)
	}
	b.WriteString("</tr>\n")
}

func (r *Result) writeNoCells(b *strings.Builder) {
	lead, explain, code, skipped := r.noCellsLines()
	b.WriteString("<section class=\"empty\" role=\"status\">\n<h2>No cells found</h2>\n")
	fmt.Fprintf(b, "<p>%s</p>\n", esc(lead))
	for _, e := range explain {
		fmt.Fprintf(b, "<p>%s</p>\n", esc(e))
	}
	fmt.Fprintf(b, "<pre><code>%s</code></pre>\n", esc(code))
	if len(skipped) > 0 {
		fmt.Fprintf(b, "<p>Sub-metrics of <code>%s</code> that are not cells:</p>\n<ul>\n", TaskMetric)
		for _, s := range skipped {
			fmt.Fprintf(b, "<li><code>%s</code></li>\n", esc(s))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</section>\n")
}

func writeDigest(b *strings.Builder, data Data) {
	lines := digest(data)
	if len(lines) == 0 {
		return
	}
	b.WriteString("<section class=\"digest\">\n<h2>Task metrics</h2>\n")
	var trends, totals []digestLine
	for _, l := range lines {
		if len(l.stats) == 4 {
			trends = append(trends, l)
		} else {
			totals = append(totals, l)
		}
	}
	if len(trends) > 0 {
		b.WriteString("<div class=\"scroll\"><table class=\"digest\">\n<thead><tr><th scope=\"col\">trend</th>")
		for _, s := range trends[0].stats {
			fmt.Fprintf(b, "<th scope=\"col\" class=\"num\">%s</th>", esc(s.label))
		}
		b.WriteString("</tr></thead>\n<tbody>\n")
		for _, l := range trends {
			fmt.Fprintf(b, "<tr><th scope=\"row\"><code>%s</code></th>", esc(l.metric))
			for _, s := range l.stats {
				fmt.Fprintf(b, "<td class=\"num\">%s</td>", esc(s.value))
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</tbody>\n</table></div>\n")
	}
	if len(totals) > 0 {
		b.WriteString("<dl class=\"totals\">\n")
		for _, l := range totals {
			vals := make([]string, len(l.stats))
			for i, s := range l.stats {
				vals[i] = "<span class=\"stat\">" + esc(s.label) + "</span> " + esc(s.value)
			}
			fmt.Fprintf(b, "<div><dt><code>%s</code></dt><dd>%s</dd></div>\n", esc(l.metric), strings.Join(vals, " &nbsp; "))
		}
		b.WriteString("</dl>\n")
	}
	b.WriteString("</section>\n")
}

//nolint:lll // CSS, one rule a line
const css = `
:root {
  color-scheme: light;
  --font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
  --mono: ui-monospace, "SFMono-Regular", "Cascadia Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  --ink: #111827; --muted: #5b6472; --faint: #8a93a0; --line: #e5e7eb; --bg: #f6f7f9; --card: #ffffff;
  --up: #047857; --up-bg: #ecfdf5; --down: #b42318; --down-bg: #fef3f2;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; font-family: var(--font); color: var(--ink); font-size: 15px; line-height: 1.5; -webkit-font-smoothing: antialiased; }
main { max-width: 1400px; margin: 0 auto; padding: 26px 28px 32px; }
code { font-family: var(--mono); font-size: 0.92em; }
header { margin-bottom: 20px; }
.eyebrow { margin: 0 0 4px; color: var(--muted); font-size: 12px; font-weight: 600; letter-spacing: .08em; text-transform: uppercase; }
h1 { margin: 0; font-size: 30px; line-height: 1.2; letter-spacing: -.01em; }
h2 { margin: 0 0 12px; font-size: 18px; }
.lede { margin: 8px 0 0; color: var(--muted); font-size: 16px; max-width: 70em; }
.lede strong { color: var(--ink); font-weight: 600; }
.meta { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 14px 0 0; padding: 0; }
.meta div { display: flex; gap: 8px; align-items: baseline; }
.meta dt { color: var(--faint); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .06em; }
.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 20px; margin: 0 0 20px; }
.charts figure { min-width: 0; }
.panel, section.table, section.digest, section.empty { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 12px; box-shadow: 0 1px 2px rgba(16,24,40,.05); }
.panel { padding: 8px 8px 4px; }
section.table, section.digest, section.empty { padding: 16px 20px; margin-bottom: 20px; }
.tables { display: grid; grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr); gap: 20px; align-items: start; }
@media (max-width: 1100px) { .tables { grid-template-columns: minmax(0, 1fr); } }
.tables.wide { grid-template-columns: minmax(0, 1fr); }
.tables section { margin-bottom: 0; }
svg.chart { display: block; width: 100%; height: auto; font-family: var(--font); }
svg .panel-title { font-size: 18px; font-weight: 700; fill: var(--ink); font-family: var(--mono); }
svg .panel-sub { font-size: 13px; fill: var(--muted); }
svg .legend text { font-size: 13px; fill: var(--ink); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .grid.zero { stroke: #9aa3af; }
svg .tick { font-size: 12px; fill: var(--muted); text-anchor: end; font-variant-numeric: tabular-nums; }
svg .axis-label { font-size: 12px; fill: var(--muted); text-anchor: middle; }
svg .x-label { font-size: 13px; fill: var(--ink); text-anchor: middle; font-weight: 600; }
svg .value { font-size: 12px; fill: #374151; text-anchor: middle; font-weight: 600; font-variant-numeric: tabular-nums; }
svg .value.small { font-size: 10px; }
svg .missing { font-size: 12px; fill: var(--faint); text-anchor: middle; }
svg .not-run text { font-size: 12px; fill: var(--muted); font-style: italic; text-anchor: start; }
td.not-run { color: var(--faint); font-style: italic; }
svg rect.bar { shape-rendering: crispEdges; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 8px 10px; text-align: left; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; border-bottom: 2px solid var(--line); }
tbody tr:last-child > * { border-bottom: 0; }
tbody th { font-weight: 600; vertical-align: top; }
tbody th[rowspan] { border-bottom: 0; }
tr.group > * { border-top: 2px solid var(--line); }
.num { text-align: right; }
.sp-head { color: var(--faint); }
td.sp { color: var(--muted); }
td.sp.up { color: var(--up); font-weight: 600; }
td.sp.down { color: var(--down); font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 8px; vertical-align: baseline; }
.note { margin: 10px 0 0; color: var(--muted); font-size: 13px; }
table.digest th, table.digest td { padding: 8px 8px; }
table.digest tbody th code { font-weight: 500; }
.totals { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 14px 0 0; }
.totals div { display: flex; gap: 10px; align-items: baseline; }
.totals dt code { font-size: 13px; }
.totals dd { margin: 0; font-variant-numeric: tabular-nums; }
.stat { color: var(--faint); font-size: 12px; }
section.empty pre { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; overflow-x: auto; }
section.empty li code { word-break: break-all; }
footer { color: var(--faint); font-size: 12px; margin-top: 8px; }
@media print { html { background: #fff; } .panel, section.table, section.digest { box-shadow: none; break-inside: avoid; } }
`
