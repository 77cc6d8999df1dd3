package concurrency

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsNameTheK6OfGoMod keeps the k6 version in one place, go.mod: the
// README and deploy/ must name the k6 v2 that go.mod requires, and no other
// k6 v2 (k6 v1 versions may appear, for the commit that last supported v1).
func TestDocsNameTheK6OfGoMod(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*go\.k6\.io/k6/v2 (v2\.\S+)`).FindSubmatch(mod)
	require.NotNil(t, m, "go.mod requires go.k6.io/k6/v2")
	want := string(m[1])

	deploy, err := filepath.Glob("deploy/*/*")
	require.NoError(t, err)
	files := append([]string{"README.md", "deploy/Dockerfile"}, deploy...)
	named := regexp.MustCompile(`(?:k6 |xk6 build |go\.k6\.io/k6/v2@?\s*|k6:)(v?2\.\d+\.\d+)`)
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			found := named.FindAllSubmatch(b, -1)
			if file == "README.md" || file == "deploy/Dockerfile" {
				assert.NotEmpty(t, found, "%s names no k6 v2 version; go.mod requires %s", file, want)
			}
			for _, f := range found {
				got := string(f[1])
				if got[0] != 'v' {
					got = "v" + got
				}
				assert.Equal(t, want, got, "%s names %q; go.mod requires k6 %s", file, f[0], want)
			}
		})
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "Builds with k6 "+want+" (go.k6.io/k6/v2)")
	assert.Contains(t, string(readme), "xk6 build "+want+" --with github.com/k6-concurrency/xk6-concurrency")
}

// TestDocsNameTheXk6OfTools: the xk6 that lint runs is named in one place,
// tools/go.mod; the README's mentions of an xk6 v0 release must be that one.
func TestDocsNameTheXk6OfTools(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("tools/go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*go\.k6\.io/xk6 (v\S+)`).FindSubmatch(mod)
	require.NotNil(t, m, "tools/go.mod requires go.k6.io/xk6")
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	found := regexp.MustCompile(`xk6 (v0\.\d+\.\d+)`).FindAllSubmatch(readme, -1)
	require.NotEmpty(t, found, "README.md names the xk6 of lint")
	for _, f := range found {
		assert.Equal(t, string(m[1]), string(f[1]), "README.md names %q; tools/go.mod requires xk6 %s", f[0], m[1])
	}
}
