package report

import (
	"fmt"
	"math"
	"strings"
)

// ChartColumns is how many panels ChartSVG puts side by side.
const ChartColumns = 2

// ChartSVG draws the chart panels of HTML alone, as one standalone SVG
// document with the page's styles inline: a panel per workload of each
// Data, ChartColumns to a row, under a title and above a footnote. Each Data
// is computed on its own (see Compute), so each panel has only its own
// series and its own scale. The benchmark harness (bench/) draws
// bench/chart.svg with it.
func ChartSVG(title, footnote string, opts Options, charts ...Data) string {
	var panels []string
	for _, data := range charts {
		r := Compute(data, opts)
		for _, w := range r.Workloads {
			var b strings.Builder
			r.writePanel(&b, len(panels), w, data.Kinds[w])
			panels = append(panels, panelSVG(b.String()))
		}
	}
	const head, foot = 56.0, 30.0
	rows := int(math.Ceil(float64(len(panels)) / ChartColumns))
	width, height := ChartColumns*panelW, head+float64(rows)*panelH+foot

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n",
		width, height, width, height)
	// The page sizes a panel to its column; here each panel has its own box.
	fmt.Fprintf(&b, "<style><![CDATA[%s svg { font-family: var(--font); }\n"+
		"svg svg.chart { width: %.0fpx; height: %.0fpx; }\n]]></style>\n", css, panelW, panelH)
	fmt.Fprintf(&b, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"></rect>\n", width, height)
	fmt.Fprintf(&b, "<text class=\"panel-title\" x=\"16\" y=\"34\">%s</text>\n", esc(title))
	for i, p := range panels {
		x, y := float64(i%ChartColumns)*panelW, head+float64(i/ChartColumns)*panelH
		// A nested svg places the panel: its viewBox scales to the given box.
		fmt.Fprintf(&b, "<svg x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"%s\n", x, y, panelW, panelH, p)
	}
	fmt.Fprintf(&b, "<text class=\"panel-sub\" x=\"16\" y=\"%s\">%s</text>\n", num(height-10), esc(footnote))
	b.WriteString("</svg>\n")
	return b.String()
}

// panelSVG keeps the <svg> element of a panel written for the page, without
// the HTML figure around it and without its opening "<svg".
func panelSVG(figure string) string {
	start, end := strings.Index(figure, "<svg"), strings.LastIndex(figure, "</svg>")
	if start < 0 || end < start {
		return ">\n</svg>"
	}
	return figure[start+len("<svg") : end+len("</svg>")]
}

// FormatRate writes calls/s as the report's tables do (whole numbers from
// 100 up, one decimal below), with thousands separators.
func FormatRate(v float64) string {
	if math.IsNaN(v) || math.Abs(v) < 100 {
		return fmtRate(v)
	}
	return fmtTick(math.Round(v), 1)
}
