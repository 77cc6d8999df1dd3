package workload

import (
	"os"
	"testing"
)

// TestMain removes io.file's directory after the tests, as k6 does when it
// exits, so that no test run leaves one in TMPDIR.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := Cleanup(); err != nil {
		code = max(code, 1)
	}
	os.Exit(code)
}
