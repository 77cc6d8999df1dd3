// Package reliability proves, with figures, that nothing is lost under
// faults, load and bad input: workers killed under load, workers that break
// the protocol, timeouts, every way k6 can stop, and backpressure. The tests
// drive the real k6 binary (internal/k6test) and print their figures
// ("FIGURE name: value", with -v).
//
// By default the long tests are shortened so that CI stays fast; the full
// versions (a 30 s run with a kill every 200 ms, 1,000,000 tasks) run with
//
//	XK6_RELIABILITY=full go test -v -run . ./reliability/
//
// (`make reliability` does that and keeps the figures in results/).
package reliability

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// full reports whether the full-length versions were asked for.
func full() bool { return os.Getenv("XK6_RELIABILITY") == "full" }

// pick returns the full-length value or the shortened one.
func pick[T any](long, short T) T {
	if full() {
		return long
	}
	return short
}

//nolint:gochecknoglobals // the figures of the whole run, printed by TestMain
var figures struct {
	sync.Mutex
	lines []string
}

// figuref records a figure of the suite: logged, printed at the end, and
// written to $XK6_RELIABILITY_FIGURES when set.
func figuref(t *testing.T, name, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("FIGURE %s: %s", name, fmt.Sprintf(format, args...))
	t.Log(line)
	figures.Lock()
	figures.lines = append(figures.lines, line)
	figures.Unlock()
}

// TestMain fails the package if any k6 it started left a worker running, and
// prints (and keeps) the figures.
func TestMain(m *testing.M) {
	code := m.Run()
	if left := k6test.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "worker processes left running after the tests: %v\n", left)
		code = 1
	}
	mode := "shortened (XK6_RELIABILITY=full for the full versions)"
	if full() {
		mode = "full"
	}
	out := fmt.Sprintf("reliability figures, %s:\n%s\n", mode, strings.Join(figures.lines, "\n"))
	_, _ = fmt.Fprint(os.Stdout, out)
	if path := os.Getenv("XK6_RELIABILITY_FIGURES"); path != "" {
		_ = os.WriteFile(path, []byte(out), 0o644)
	}
	os.Exit(code)
}
