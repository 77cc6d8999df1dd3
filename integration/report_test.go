package integration

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
)

// reportScript is a short threads-vs-processes run: thread and process
// pools of 1 and 2 workers, a CPU-bound and an I/O-bound workload, one 2 s
// scenario per cell, one after another. handleSummary prints report.text,
// writes report.html, and keeps the summary data to check them against.
const reportScript = `
import { sleep } from 'k6';
import exec from 'k6/execution';
import { ThreadPool, ProcessPool, report } from 'k6/x/concurrency';

const CELL = 2;   // seconds per cell
const GAP = 0.5;  // seconds between cells
const SIZES = [1, 2];
const WORKLOADS = { 'cpu.primes': { limit: 20000 }, 'io.sleep': { duration: '10ms' } };

const pools = {};
for (const workers of SIZES) {
  pools['thread-' + workers] = new ThreadPool({ workers });
  pools['process-' + workers] = new ProcessPool({ workers });
}
const cells = [];
for (const workload of Object.keys(WORKLOADS)) {
  for (const kind of ['thread', 'process']) {
    for (const workers of SIZES) {
      cells.push({ workload, kind, workers, name: kind + '_' + workload.replace('.', '_') + '_' + workers });
    }
  }
}
const scenarios = {};
cells.forEach((c, i) => {
  scenarios[c.name] = {
    executor: 'constant-vus', vus: 2 * c.workers, duration: CELL + 's',
    startTime: (i * (CELL + GAP)) + 's', gracefulStop: GAP + 's', exec: 'cell',
  };
});
const byName = Object.fromEntries(cells.map((c) => [c.name, c]));

export const options = {
  scenarios,
  thresholds: {
    ...report.thresholds({ pool_kind: ['thread', 'process'], workers: SIZES, workload: Object.keys(WORKLOADS) }),
    concurrency_task_failed: ['rate==0'],
  },
};

export function setup() {
  for (const pool of Object.values(pools)) {
    pool.runSync('noop');
    while (pool.stats().live < pool.workers) sleep(0.05);
  }
}

export function cell() {
  const c = byName[exec.scenario.name];
  pools[c.kind + '-' + c.workers].runSync(c.workload, WORKLOADS[c.workload]);
}

export function handleSummary(data) {
  return {
    stdout: report.text(data, { seconds: CELL }) + '\n',
    'report.html': report.html(data, { seconds: CELL }),
    'summary.json': JSON.stringify(data),
  };
}
`

const reportCellSeconds = 2.0

// reportRow matches a row of the text table at 1 and 2 workers.
var reportRow = regexp.MustCompile(`(?m)^(cpu\.primes|io\.sleep)\s+(threads|processes)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x$`)

// textCell is one calls/s figure of the text table, as printed.
type textCell struct {
	kind, workload string
	workers        int
	shown          string
}

// reportCellKey is the summary data's name of a cell's sub-metric.
func reportCellKey(kind string, workers int, workload string) string {
	return fmt.Sprintf("concurrency_tasks{pool_kind:%s,workers:%d,workload:%s}", kind, workers, workload)
}

// roundingOf is how far a figure shown with the table's precision may be
// from the exact value.
func roundingOf(shown string) float64 {
	if _, frac, ok := strings.Cut(shown, "."); ok {
		return 0.5*math.Pow(10, -float64(len(frac))) + 1e-9
	}
	return 0.5 + 1e-9
}

// TestReportInK6AndChromium runs a short experiment with the real k6, checks
// report.text against the summary data, then opens report.html in a real
// headless Chromium: its DOM must have one proportional bar per cell, and a
// screenshot of it lands in results/report-screenshot.png.
func TestReportInK6AndChromium(t *testing.T) {
	t.Parallel()
	res := k6test.Run(t, reportScript, 3*time.Minute)
	require.Equal(t, 0, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	metrics := readSummary(t, res)["metrics"].(map[string]any)
	count := func(key string) float64 {
		t.Helper()
		m, ok := metrics[key].(map[string]any)
		require.True(t, ok, "the summary data has %s", key)
		return m["values"].(map[string]any)["count"].(float64)
	}

	// (1) The text table: calls/s is each cell's count / 2 s, speed-up is 2 workers over 1.
	assert.Contains(t, res.Stdout, "function calls per second (higher is better), from concurrency_tasks")
	assert.Contains(t, res.Stdout, "calls/s = count / 2 s per cell")
	assert.Contains(t, res.Stdout, "concurrency_task_failed     rate=0.00%")
	rows := reportRow.FindAllStringSubmatch(res.Stdout, -1)
	require.Len(t, rows, 4, res.Stdout)
	table := make([]textCell, 0, 2*len(rows))
	for _, r := range rows {
		kind := map[string]string{"threads": "thread", "processes": "process"}[r[2]]
		at := map[int]float64{}
		for i, workers := range []int{1, 2} {
			shown := r[3+i]
			v, err := strconv.ParseFloat(shown, 64)
			require.NoError(t, err)
			want := count(reportCellKey(kind, workers, r[1])) / reportCellSeconds
			assert.InDelta(t, want, v, roundingOf(shown), "%s: %d workers", r[0], workers)
			assert.Positive(t, v, r[0])
			at[workers] = want
			table = append(table, textCell{kind: kind, workload: r[1], workers: workers, shown: shown})
		}
		speedup, err := strconv.ParseFloat(r[5], 64)
		require.NoError(t, err)
		assert.InDelta(t, at[2]/at[1], speedup, 0.005+1e-9, r[0])
	}

	// (2) report.html in a real browser.
	chromium := requireChromium(t)
	page := filepath.Join(res.Dir, "report.html")
	require.FileExists(t, page)
	url := "file://" + page

	dom := runChromium(t, chromium, "--dump-dom", url)
	doc, err := html.Parse(bytes.NewReader(dom))
	require.NoError(t, err)
	bars := domBars(t, doc)
	require.Len(t, bars, 8, "one rect.bar per (pool kind, workers, workload):\n%s", dom)
	seen := map[string]bool{}
	for _, b := range bars {
		id := reportCellKey(b.series, b.size, b.workload)
		assert.False(t, seen[id], "one bar for %s", id)
		seen[id] = true
		assert.InDelta(t, count(id)/reportCellSeconds, b.value, 0.001, "%s: data-value is count / seconds", id)
	}
	for _, c := range table {
		id := reportCellKey(c.kind, c.workers, c.workload)
		require.True(t, seen[id], "a bar for %s", id)
		for _, b := range bars {
			if reportCellKey(b.series, b.size, b.workload) == id {
				shown, _ := strconv.ParseFloat(c.shown, 64)
				assert.InDelta(t, shown, b.value, roundingOf(c.shown), "%s: the bar's data-value is the text table's figure", id)
			}
		}
	}
	// Heights are proportional to data-value within each panel, to 1 px.
	panels := map[int][]domBar{}
	for _, b := range bars {
		panels[b.panel] = append(panels[b.panel], b)
	}
	require.Len(t, panels, 2, "one panel per workload")
	for p, list := range panels {
		var sumH, sumV float64
		for _, b := range list {
			sumH += b.height
			sumV += b.value
			assert.Equal(t, list[0].workload, b.workload, "panel %d holds one workload", p)
		}
		scale := sumH / sumV
		for _, b := range list {
			assert.InDelta(t, scale*b.value, b.height, 1, "panel %d: %s/%d/%s height %.2f for %.3f calls/s", p, b.series, b.size, b.workload, b.height, b.value)
		}
	}

	// A screenshot, for people (and for the README).
	shot := filepath.Join(t.TempDir(), "report-screenshot.png")
	runChromium(t, chromium, "--screenshot="+shot, "--window-size=1400,1000", "--hide-scrollbars", url)
	png, err := os.ReadFile(shot)
	require.NoError(t, err, "chromium wrote the screenshot")
	assert.Greater(t, len(png), 10*1024, "the screenshot is more than a blank page")
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "the screenshot is a PNG")
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	results := filepath.Join(root, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(results, "report-screenshot.png"), png, 0o644))
	t.Logf("screenshot: %s (and %s)", filepath.Join(results, "report-screenshot.png"), shot)
}

// chromiumPath is Debian's chromium (the `chromium` package).
const chromiumPath = "/usr/bin/chromium"

// requireChromium skips the test without Chromium, except on CI, where it fails.
func requireChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := chromiumPath + " is missing: install Chromium with `apt-get install -y chromium` (scripts/deps.sh does) to open report.html in a real browser"
		if os.Getenv("CI") == "true" {
			require.FailNow(t, msg)
		}
		t.Skip(msg)
	}
	return chromiumPath
}

// runChromium runs headless Chromium with a fresh profile and home
// directory and returns its stdout. It never outlives its deadline: the
// whole process group is killed then, and after Chromium exits any process
// still holding its temporary directory (its crash handler starts in a
// session of its own) is waited for, and killed if it lingers.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	profile, home := filepath.Join(dir, "profile"), filepath.Join(dir, "home")
	require.NoError(t, os.MkdirAll(profile, 0o700))
	require.NoError(t, os.MkdirAll(home, 0o700))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	argv := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
	}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	// Its own process group, so that one signal reaches every Chromium
	// process; and SIGKILL if this test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	// The parent-death signal fires when the thread that started the child
	// exits, so that thread stays locked to this goroutine until Chromium is done.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Wait()
	}()
	err := <-errc
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever is left of the group
	}
	reapChromium(t, dir)
	require.NoError(t, ctx.Err(), "chromium %v ran past its deadline; stderr:\n%s", args, chromiumStderrTail(stderr.String(), 40))
	require.NoError(t, err, "chromium %v; stderr:\n%s", args, chromiumStderrTail(stderr.String(), 40))
	return stdout.Bytes()
}

// reapChromium waits until no running process mentions dir (Chromium's
// profile and home) in its command line or environment, killing those that
// are still there after a grace period, and fails the test if any remains.
func reapChromium(t *testing.T, dir string) {
	t.Helper()
	holders := func() []int { return procs.Mentioning(dir + "/") }
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := holders()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(200 * time.Millisecond)
			require.Empty(t, holders(), "chromium processes still running after it exited")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func chromiumStderrTail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// domBar is a rect.bar of the rendered page.
type domBar struct {
	series, workload string
	size             int
	value, height    float64
	panel            int // which <svg> holds it
}

func domBars(t *testing.T, doc *html.Node) []domBar {
	t.Helper()
	var bars []domBar
	panel := -1
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" {
			panel++
		}
		if n.Type == html.ElementNode && n.Data == "rect" && htmlHasClass(n, "bar") {
			b := domBar{series: htmlAttr(n, "data-series"), workload: htmlAttr(n, "data-workload"), panel: panel}
			var err error
			b.size, err = strconv.Atoi(htmlAttr(n, "data-size"))
			require.NoError(t, err)
			b.value, err = strconv.ParseFloat(htmlAttr(n, "data-value"), 64)
			require.NoError(t, err)
			b.height, err = strconv.ParseFloat(htmlAttr(n, "height"), 64)
			require.NoError(t, err)
			var title string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.Data == "title" && c.FirstChild != nil {
					title = c.FirstChild.Data
				}
			}
			assert.Contains(t, title, "calls/s", "the bar has a <title> with its value")
			bars = append(bars, b)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return bars
}

func htmlAttr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func htmlHasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(htmlAttr(n, "class")), class)
}

// partialReportScript is issue 17's small input: report.thresholds declares
// 1 and 2 workers, but only a 2-worker thread pool runs.
const partialReportScript = `
import { ThreadPool, report } from 'k6/x/concurrency';

const tp = new ThreadPool({ workers: 2 });

export const options = {
  iterations: 1,
  thresholds: report.thresholds({ pool_kind: ['thread'], workers: [1, 2], workload: ['noop'] }),
};

export default function () { tp.runSync('noop'); }

export function handleSummary(data) {
  return {
    stdout: report.text(data, { seconds: 1 }) + '\n',
    'report.html': report.html(data, { seconds: 1 }),
    'summary.json': JSON.stringify(data),
  };
}
`

// TestReportCellThatDidNotRun runs issue 17's partial run with the real k6,
// with k6's default summary and with its machine-readable one: the cell
// that never ran reads "not run" in the text, and in the page Chromium
// renders it has no bar but a label.
func TestReportCellThatDidNotRun(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{nil, {"K6_NEW_MACHINE_READABLE_SUMMARY=true"}} {
		t.Run(fmt.Sprintf("env %v", env), func(t *testing.T) {
			t.Parallel()
			script := filepath.Join(t.TempDir(), "script.js")
			require.NoError(t, os.WriteFile(script, []byte(partialReportScript), 0o644))
			res := k6test.StartEnv(t, k6test.Binary(t), env, "run", "--quiet", script).Wait(2 * time.Minute)
			require.Equal(t, 0, res.ExitCode, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			_, machineReadable := readSummary(t, res)["results"]
			assert.Equal(t, env != nil, machineReadable, "handleSummary got the summary of %v", env)

			lines := strings.Split(res.Stdout, "\n")
			table := make([]string, 0, len(lines))
			for _, line := range lines {
				table = append(table, strings.Join(strings.Fields(line), " "))
			}
			assert.Contains(t, table, "workload pool 1 worker 2 workers", "no speed-up column: only 2 workers ran:\n%s", res.Stdout)
			assert.Contains(t, table, "noop threads not run 1.0", res.Stdout)
			assert.Contains(t, res.Stdout, "not run: the cell's sub-metric has no samples")
			// The digest reads every shape's numbers: trends' p(95), the counter's rate.
			assert.Regexp(t, `(?m)^concurrency_task_duration +avg=[\d.]+(ms|µs) med=[\d.]+(ms|µs) p\(95\)=[\d.]+(ms|µs) max=[\d.]+(ms|µs)$`, res.Stdout)
			assert.Regexp(t, `(?m)^concurrency_tasks +count=1 rate=[\d.]+/s$`, res.Stdout)

			dom := runChromium(t, requireChromium(t), "--dump-dom", "file://"+filepath.Join(res.Dir, "report.html"))
			doc, err := html.Parse(bytes.NewReader(dom))
			require.NoError(t, err)
			bars := domBars(t, doc)
			require.Len(t, bars, 1, "a bar for the cell that ran only:\n%s", dom)
			assert.Equal(t, domBar{series: "thread", workload: "noop", size: 2, value: 1, height: bars[0].height}, bars[0])
			notRun := domNotRun(doc)
			assert.Equal(t, []string{reportCellKey("thread", 1, "noop") + ": not run"}, notRun, "the cell that did not run has a label in the chart")
			assert.Contains(t, string(dom), `<td class="num not-run">not run</td>`)
		})
	}
}

// domNotRun lists the chart's labels of cells that did not run, as
// "cell key: label".
func domNotRun(doc *html.Node) []string {
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "g" && htmlHasClass(n, "not-run") {
			size, _ := strconv.Atoi(htmlAttr(n, "data-size"))
			var label string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.Data == "text" && c.FirstChild != nil {
					label = c.FirstChild.Data
				}
			}
			out = append(out, reportCellKey(htmlAttr(n, "data-series"), size, htmlAttr(n, "data-workload"))+": "+label)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}
