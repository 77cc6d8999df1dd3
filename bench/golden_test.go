package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

//nolint:gochecknoglobals // a test flag is registered once, at init.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestRenderGolden renders the fixture's BENCHMARKS.md and compares it with
// testdata/BENCHMARKS.md, which a reviewer can read; after an intended
// change, `go test ./bench -run TestRenderGolden -update` rewrites it. (The
// chart is internal/report's drawing, checked by TestChart and by that
// package's tests.)
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	md, _, _, err := render(fixture(), "chart.svg")
	require.NoError(t, err)
	for name, got := range map[string]string{"BENCHMARKS.md": md} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", name)
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want), got, "%s differs from the rendering of the fixture; if the change is intended, run go test ./bench -run TestRenderGolden -update and read the diff", path)
		})
	}
}
