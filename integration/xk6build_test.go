package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// The files xk6 v1 writes for `xk6 build --with <extension>` (its builder,
// k6foundry): k6's own main, and one blank import per extension, in a fresh
// module named k6.
const (
	xk6Main = `package main

import (
	k6cmd "go.k6.io/k6/v2/cmd"

)

func main() {
	k6cmd.Execute()
}
`
	xk6Import = `package main

	import _ %q
`
)

// TestBuildLikeXk6 builds k6 outside this repository the way
// `xk6 build v2.2.0 --with github.com/k6-concurrency/xk6-concurrency=<checkout>`
// does (the proxy here serves no xk6 v1, so the test does its steps): a fresh
// module requiring k6 v2 at the version go.mod requires and this extension by
// its module path, replaced by the checkout; xk6's main.go; go mod tidy;
// go build. That k6 then runs a script on both pools, and test/smoke.js.
func TestBuildLikeXk6(t *testing.T) {
	t.Parallel()
	root, err := k6test.ModuleRoot()
	require.NoError(t, err)
	k6Version := goCmd(t, root, "list", "-m", "-f", "{{.Version}}", "go.k6.io/k6/v2")
	const extension = "github.com/k6-concurrency/xk6-concurrency"

	dir := t.TempDir()
	goCmd(t, dir, "mod", "init", "k6")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(xk6Main), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, strings.ReplaceAll(extension, "/", "_")+".go"),
		[]byte(fmt.Sprintf(xk6Import, extension)), 0o600))
	goCmd(t, dir, "mod", "edit", "-require=go.k6.io/k6/v2@"+k6Version,
		"-require="+extension+"@v0.0.0", "-replace="+extension+"="+root)
	goCmd(t, dir, "mod", "tidy")
	goCmd(t, dir, "build", "-o", "k6", ".")
	binary := filepath.Join(dir, "k6")

	version := k6test.StartWith(t, binary, "version").Wait(time.Minute)
	require.Equal(t, 0, version.ExitCode, version.Stderr)
	assert.Contains(t, version.Stdout, "k6 "+k6Version+" ")
	assert.Regexp(t, `(?m)^  `+extension+` .*, k6/x/concurrency \[js\]$`, version.Stdout)

	res := k6test.StartScriptWith(t, binary, `
import { ThreadPool, ProcessPool } from 'k6/x/concurrency';
const threads = new ThreadPool({ workers: 1 });
const procs = new ProcessPool({ workers: 1 });
export const options = { iterations: 1 };
export default async function () {
  console.log('RESULT ' + JSON.stringify({
    thread: await threads.run('cpu.primes', { limit: 20000 }),
    process: procs.runSync('cpu.primes', { limit: 20000 }),
  }));
}
`).Wait(time.Minute)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	assert.Equal(t, `RESULT {"thread":2262,"process":2262}`, logLine(t, res.Stderr, "RESULT "))

	smoke := k6test.StartWith(t, binary, "run", "--summary-mode=disabled", "--quiet",
		filepath.Join(root, "test", "smoke.js")).Wait(2 * time.Minute)
	assert.Equal(t, 0, smoke.ExitCode, smoke.Stderr)
}

// goCmd runs the go command in dir with the machine's module cache and
// proxy, as a user's build would, and returns its trimmed output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod "+os.Getenv("GOFLAGS"))
	out, err := cmd.Output()
	var stderr string
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "go %v in %s:\n%s", args, dir, stderr)
	return strings.TrimSpace(string(out))
}
