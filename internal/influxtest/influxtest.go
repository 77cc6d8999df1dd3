// Package influxtest starts a real InfluxDB 1.x (Debian's influxd) for a
// test, on free loopback ports with its data in a temporary directory, and
// queries it over its HTTP API.
package influxtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Server is a running influxd.
type Server struct {
	// URL is its HTTP API, e.g. http://127.0.0.1:34567.
	URL string
	cmd *exec.Cmd
}

// Start starts influxd for the test and stops it at the end. Without
// influxd on the machine the test is skipped with a message saying how to
// install it, except in CI (CI=true), where it fails: there it must run.
func Start(t *testing.T) *Server {
	t.Helper()
	bin, err := exec.LookPath("influxd")
	if err != nil {
		msg := "influxd is not installed: apt-get install -y influxdb (make test installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; in CI this test must run")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	httpPort := freePort(t)
	path := writeConfig(t, dir, httpPort, freePort(t))
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	// #nosec G204 -- bin is influxd found on PATH by its fixed name
	s.cmd = exec.Command(bin, "-config", path) //nolint:noctx // the cleanup ends it
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	s.waitUp(t)
	return s
}

// writeConfig writes influxd's configuration into dir and returns its path:
// the HTTP API and the RPC service on the loopback ports given, the data in
// dir, and no reporting, logging, monitoring or background services, which
// a test has no use for.
func writeConfig(t *testing.T, dir string, httpPort, rpcPort int) string {
	t.Helper()
	config := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
  logging-enabled = false
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	path := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// stop ends influxd at the test's end: SIGTERM, then SIGKILL if it has not
// exited within 10s, so that a stuck server never holds up the test run.
func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// waitUp returns once influxd answers /ping, and fails the test if it does
// not within 30s: it takes a moment to open its ports after it starts.
func (s *Server) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := get(t, s.URL+"/ping")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("influxd did not answer /ping within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port //nolint:forcetypeassert // a "tcp" listener's
}

func get(t *testing.T, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// Series is one series of a query's result.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Query runs an InfluxQL query on database db and returns its series.
func (s *Server) Query(t *testing.T, db, q string) []Series {
	t.Helper()
	resp, err := get(t, s.URL+"/query?"+url.Values{"db": {db}, "q": {q}, "epoch": {"ms"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if body.Error != "" {
		t.Fatalf("%s: %s", q, body.Error)
	}
	var out []Series
	for _, r := range body.Results {
		if r.Error != "" {
			t.Fatalf("%s: %s", q, r.Error)
		}
		out = append(out, r.Series...)
	}
	return out
}

// Number reads a JSON number from a result cell.
func Number(v any) float64 {
	f, _ := v.(float64)
	return f
}
