package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/influxtest"
	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// cell identifies a cell of the experiment.
type cell struct{ kind, workers, workload string }

func (c cell) String() string { return c.kind + "/" + c.workers + "/" + c.workload }

var subMetric = regexp.MustCompile(`^concurrency_tasks\{(.*)\}$`)

// summaryCells reads the per-cell task counts k6's summary export holds for
// the sub-metrics a script declared thresholds on, keyed by (pool_kind,
// workers, workload): from those tags, or from a pool name "<kind>-<workers>".
func summaryCells(t *testing.T, path string) (map[cell]float64, float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var summary struct {
		Metrics map[string]map[string]any `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal(b, &summary))
	cells := map[cell]float64{}
	for key, values := range summary.Metrics {
		m := subMetric.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		tags := map[string]string{}
		for kv := range strings.SplitSeq(m[1], ",") {
			k, v, _ := strings.Cut(kv, ":")
			tags[k] = v
		}
		if kind, workers, ok := strings.Cut(tags["pool"], "-"); ok && tags["pool_kind"] == "" {
			tags["pool_kind"], tags["workers"] = kind, workers
		}
		cells[cell{tags["pool_kind"], tags["workers"], tags["workload"]}] = values["count"].(float64)
	}
	total, _ := summary.Metrics["concurrency_tasks"]["count"].(float64)
	return cells, total
}

// influxCells sums concurrency_tasks in db by (pool_kind, workers, workload).
func influxCells(t *testing.T, srv *influxtest.Server, db, where string) (map[cell]float64, float64) {
	t.Helper()
	cells := map[cell]float64{}
	var total float64
	for _, s := range srv.Query(t, db, `SELECT sum("value") FROM "concurrency_tasks" `+where+` GROUP BY "pool_kind", "workers", "workload"`) {
		n := influxtest.Number(s.Values[0][1])
		cells[cell{s.Tags["pool_kind"], s.Tags["workers"], s.Tags["workload"]}] = n
		total += n
	}
	return cells, total
}

// TestInfluxDB runs the experiment (shortened) into a real InfluxDB and
// checks that InfluxDB holds exactly what k6's own summary counted, per
// (pool_kind, workers, workload), with the tags; then runs every query of
// the Grafana dashboard against it.
func TestInfluxDB(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	res := k6test.Start(t, "run", "--quiet", "-e", "CELL=1", "-e", "WORKERS=2,4",
		"--out", "influxdb="+srv.URL+"/k6", "--summary-export", "summary.json",
		example(t, "threads-vs-processes.js")).Wait(5 * time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)

	want, wantTotal := summaryCells(t, filepath.Join(res.Dir, "summary.json"))
	require.Len(t, want, 8, "2 kinds x 2 sizes x 2 workloads")
	got, gotTotal := influxCells(t, srv, "k6", "")
	for c, n := range want {
		assert.InDelta(t, n, got[c], 0, "concurrency_tasks for %s: InfluxDB against k6's summary", c)
	}
	assert.InDelta(t, wantTotal, gotTotal, 0, "every task in k6's summary is in InfluxDB")

	var keys []string
	for _, s := range srv.Query(t, "k6", `SHOW TAG KEYS FROM "concurrency_tasks"`) {
		for _, v := range s.Values {
			keys = append(keys, v[0].(string))
		}
	}
	assert.Subset(t, keys, []string{"pool", "pool_kind", "workload", "workers", "scenario"})

	rows := make([]string, 0, len(got))
	for c, n := range got {
		rows = append(rows, fmt.Sprintf("%-28s %6.0f (k6 summary: %.0f)", c, n, want[c]))
	}
	slices.Sort(rows)
	t.Logf(`SELECT sum("value") FROM "concurrency_tasks" GROUP BY "pool_kind", "workers", "workload":`+"\n%s", strings.Join(rows, "\n"))

	t.Run("grafana dashboard queries", func(t *testing.T) {
		t.Parallel()
		root, err := k6test.ModuleRoot()
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(root, "examples", "grafana", "xk6-concurrency.json"))
		require.NoError(t, err)
		var dash struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Query string `json:"query"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(b, &dash), "the dashboard is valid JSON")
		require.NotEmpty(t, dash.Panels)
		for _, p := range dash.Panels {
			require.NotEmpty(t, p.Targets, p.Title)
			for _, target := range p.Targets {
				// Grafana's macros, as Grafana expands them for the last hour.
				q := strings.NewReplacer("$timeFilter", "time > now() - 1h", "$__interval", "1s").Replace(target.Query)
				series := srv.Query(t, "k6", q)
				points := 0
				for _, s := range series {
					points += len(s.Values)
				}
				assert.Positive(t, points, "panel %q: %s returns rows", p.Title, q)
				t.Logf("panel %-58q %4d series, %5d rows", p.Title, len(series), points)
			}
		}
	})
}

// distributedScript runs a fixed number of iterations, so that instances
// with execution segments split exactly the work of one instance.
const distributedScript = `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const threads = new ThreadPool({ workers: 2 });
const procs = new ProcessPool({ workers: 2 });
export const options = { scenarios: { fixed: { executor: 'shared-iterations', vus: 4, iterations: 60, maxDuration: '2m' } } };
export default async function () {
  threads.runSync('cpu.primes', { limit: 5000 });
  await procs.run('io.sleep', { duration: '5ms' });
}
`

// TestDistributedSegments runs the same fixed-iteration script as one k6
// and as two k6 with execution segments 0:1/2 and 1/2:1 into one InfluxDB,
// and checks that the two instances' tasks add up to the single run's, per
// (pool_kind, workers, workload), with tags intact.
func TestDistributedSegments(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	single := k6test.Run(t, distributedScript, 2*time.Minute, "--out", "influxdb="+srv.URL+"/single", "--tag", "instance=single")
	require.Equal(t, 0, single.ExitCode, single.Stderr)

	// Both run at once; they are started and waited for on the test's own
	// goroutine, as what fails the test (k6test's Fatal) must be.
	k6s := make([]*k6test.Process, 2)
	for i, seg := range []string{"0:1/2", "1/2:1"} {
		k6s[i] = k6test.StartScript(t, distributedScript,
			"--execution-segment", seg, "--execution-segment-sequence", "0,1/2,1",
			"--out", "influxdb="+srv.URL+"/split", "--tag", fmt.Sprintf("instance=%d", i))
	}
	results := make([]k6test.Result, 2)
	for i, k6 := range k6s {
		results[i] = k6.Wait(2 * time.Minute)
	}
	for i, r := range results {
		require.Equal(t, 0, r.ExitCode, "instance %d: %s", i, r.Stderr)
	}

	want, wantTotal := influxCells(t, srv, "single", "")
	got, gotTotal := influxCells(t, srv, "split", "")
	require.Len(t, want, 2)
	assert.Equal(t, want, got, "the two instances' tasks add up to one instance's")
	assert.InDelta(t, 120, wantTotal, 0, "60 iterations, 2 tasks each")
	assert.InDelta(t, wantTotal, gotTotal, 0)
	for i := range 2 {
		_, n := influxCells(t, srv, "split", fmt.Sprintf(`WHERE "instance" = '%d'`, i))
		assert.InDelta(t, 60, n, 0, "instance %d did half the iterations", i)
	}
	t.Logf("single instance: %v; two segments: %v", want, got)
}

var dashboardData = regexp.MustCompile(`(?s)<script id="data"[^>]*>(.*?)</script>`)

// TestWebDashboardExport: k6's web dashboard works with the extension and
// its HTML export carries the concurrency_* metrics.
func TestWebDashboardExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	export := filepath.Join(dir, "dashboard.html")
	script := filepath.Join(dir, "script.js")
	require.NoError(t, os.WriteFile(script, []byte(`
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const threads = new ThreadPool({ workers: 2 });
const procs = new ProcessPool({ workers: 2 });
export const options = { vus: 2, duration: '3s' };
export default function () {
  threads.runSync('cpu.primes', { limit: 5000 });
  procs.runSync('io.sleep', { duration: '10ms' });
}
`), 0o644))
	env := []string{
		"K6_WEB_DASHBOARD=true", "K6_WEB_DASHBOARD_EXPORT=" + export,
		"K6_WEB_DASHBOARD_PORT=-1", // no HTTP server: the export only
		"K6_WEB_DASHBOARD_PERIOD=1s",
	} // a short test needs short periods to be reported
	res := k6test.StartEnv(t, k6test.Binary(t), env, "run", "--quiet", script).Wait(2 * time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	b, err := os.ReadFile(export)
	require.NoError(t, err, "the dashboard export was written")
	// The export keeps its data as gzipped, base64 JSON in <script id="data">.
	m := dashboardData.FindSubmatch(b)
	require.NotNil(t, m, "the export has its data block")
	zipped, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(m[1]), nil)))
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	require.NoError(t, err)
	data, err := io.ReadAll(zr)
	require.NoError(t, err)
	html := string(data)
	for _, m := range []string{
		"concurrency_tasks", "concurrency_task_duration", "concurrency_task_wait",
		"concurrency_task_overhead", "concurrency_task_failed", "concurrency_pool_workers",
		"concurrency_pool_queued", "concurrency_pool_busy", "concurrency_pool_live", "concurrency_pool_utilization",
	} {
		assert.Contains(t, html, m)
	}
}
