package report

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chartData is a panel's worth of summary data: cells of calls/s as k6's rate.
func chartData(workload string, rates map[string]map[int]float64) Data {
	d := Data{Metrics: map[string]Metric{}, Kinds: map[string]string{"cpu.primes": "cpu"}}
	for series, bySize := range rates {
		for size, rate := range bySize {
			key := TaskMetric + "{pool_kind:" + series + ",workers:" + DataValue(float64(size)) + ",workload:" + workload + "}"
			d.Metrics[key] = Metric{Type: "counter", Values: map[string]float64{"rate": rate}}
		}
	}
	return d
}

func TestChartSVG(t *testing.T) {
	t.Parallel()
	svg := ChartSVG("calls & workers", "a <footnote>", Options{},
		chartData("cpu.primes", map[string]map[int]float64{"thread": {1: 1000, 2: 2000}, "process": {1: 900, 2: 1500}}),
		chartData("cpu.primes", map[string]map[int]float64{"Python threads": {1: 100, 2: 90}}),
		chartData("io.sleep", map[string]map[int]float64{"thread": {1: 100, 16: 1600}}),
	)

	// Well-formed XML: the panels' HTML wrappers are gone, the texts escaped.
	type bar struct{ series, size, workload, value string }
	var bars []bar
	var panels []string
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "ChartSVG is not well-formed XML:\n%s", svg)
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range el.Attr {
			attr[a.Name.Local] = a.Value
		}
		switch {
		case el.Name.Local == "svg" && attr["class"] == "chart":
			panels = append(panels, attr["x"]+","+attr["y"])
		case el.Name.Local == "rect" && attr["class"] == "bar":
			bars = append(bars, bar{attr["data-series"], attr["data-size"], attr["data-workload"], attr["data-value"]})
		}
	}
	// Two columns: the third panel starts the second row, below the title.
	assert.Equal(t, []string{"0,56", "600,56", "0,436"}, panels)
	assert.ElementsMatch(t, []bar{
		{"thread", "1", "cpu.primes", "1000"},
		{"thread", "2", "cpu.primes", "2000"},
		{"process", "1", "cpu.primes", "900"},
		{"process", "2", "cpu.primes", "1500"},
		{"Python threads", "1", "cpu.primes", "100"},
		{"Python threads", "2", "cpu.primes", "90"},
		{"thread", "1", "io.sleep", "100"},
		{"thread", "16", "io.sleep", "1600"},
	}, bars, "each panel has only its own series")
	assert.Contains(t, svg, `width="1200" height="846"`)
	assert.Contains(t, svg, "calls &amp; workers")
	assert.Contains(t, svg, "a &lt;footnote&gt;")
	assert.NotContains(t, svg, "<figure")
}

func TestFormatRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0.26, "0.3"},
		{95.44, "95.4"},
		{100, "100"},
		{999.6, "1,000"},
		{5534.2, "5,534"},
		{1234567, "1,234,567"},
		{math.NaN(), "-"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, FormatRate(tc.in))
		})
	}
}
