package concurrency

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/names"
	"github.com/k6-concurrency/xk6-concurrency/internal/report"
	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/schema"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// TestDocsCoverTheAPI keeps README.md and index.d.ts in step with the code:
// every option, error class, metric and workload must appear in both (the
// types file has no workload list, so workloads are checked in the README).
func TestDocsCoverTheAPI(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	types, err := os.ReadFile("../index.d.ts")
	require.NoError(t, err)
	docs := map[string]string{"README.md": string(readme), "index.d.ts": string(types)}

	// Every option of every schema the JS face binds.
	var words []string
	for _, sch := range []*schema.Schema{
		poolSchemas[pool.Process], callSchemaOf("run"), callSchemaOf("map"), &closeSchema, &report.OptionsSchema,
	} {
		words = append(words, sch.Names()...)
	}
	words = append(words, []string{
		"run", "runSync", "map", "mapSettled", "asCompleted", "start", "resize", "stats", "close",
		"workloads", "ThreadPool", "ProcessPool", "AbortController", "AbortSignal",
	}...)
	for _, c := range taskerr.Codes {
		words = append(words, string(c))
	}
	for file, text := range docs {
		for _, n := range words {
			assert.Contains(t, text, n, "%s does not mention %q", file, n)
		}
	}
	for _, m := range names.Metrics() {
		assert.Contains(t, docs["README.md"], "`"+m+"`", "README.md lists metric %s", m)
		assert.Contains(t, docs["index.d.ts"], m)
	}
	for _, s := range workload.Default.List() {
		assert.Contains(t, docs["README.md"], "`"+s.Name+"`", "README.md lists workload %s", s.Name)
		for _, p := range s.Params {
			assert.Contains(t, docs["README.md"], "`"+p.Name+"`", "README.md lists param %s of %s", p.Name, s.Name)
		}
	}
}
