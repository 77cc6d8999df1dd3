package integration

import (
	"fmt"
	"os"
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

// TestMain fails the package if any k6 it started left a worker running,
// whichever test started it and however it ended.
func TestMain(m *testing.M) {
	code := m.Run()
	if left := k6test.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "worker processes left running after the tests: %v\n", left)
		code = 1
	}
	os.Exit(code)
}
