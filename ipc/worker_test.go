package ipc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/internal/procs"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// testModeEnv runs the test binary as a helper process instead of the tests:
// "echo" (BenchmarkRawPipeEcho's child) or "parent" (TestPdeathsig's
// intermediate). With WorkerEnv set it is a worker serving testRegistry.
const testModeEnv = "XK6_IPC_TEST_MODE"

// echoReplyEnv is the size of the frames the echo child answers with.
const echoReplyEnv = "XK6_IPC_ECHO_REPLY"

//nolint:gochecknoglobals // built once, in TestMain
var (
	testworkerBin string
	errTestworker error
)

func TestMain(m *testing.M) {
	if os.Getenv(WorkerEnv) != "" {
		os.Exit(ServeProcess(withSupervisionWorkloads(testRegistry())))
	}
	switch os.Getenv(testModeEnv) {
	case "echo":
		os.Exit(echoMode())
	case "parent":
		os.Exit(parentMode())
	}
	dir, err := os.MkdirTemp("", "ipc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testworkerBin = filepath.Join(dir, "testworker")
	// go test puts its own GOROOT/bin first on PATH.
	build := exec.CommandContext(context.Background(), "go", "build", "-o", testworkerBin, "./internal/testworker")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		errTestworker = fmt.Errorf("go build ./internal/testworker: %w\n%s", err, out)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// echoMode answers every frame with a frame of XK6_IPC_ECHO_REPLY bytes.
func echoMode() int {
	n, _ := strconv.Atoi(os.Getenv(echoReplyEnv))
	reply := bytes.Repeat([]byte{'r'}, max(n, 2))
	in := bufio.NewReaderSize(os.Stdin, ioBufSize)
	out := bufio.NewWriterSize(os.Stdout, ioBufSize)
	var buf []byte
	for {
		f, err := ReadFrame(in, buf, DefaultMaxFrame)
		if err != nil {
			return 0
		}
		buf = f
		if WriteFrame(out, reply) != nil || out.Flush() != nil {
			return 1
		}
	}
}

// parentMode starts a worker, prints its pid and blocks until killed.
func parentMode() int {
	w, err := Start(selfConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("WORKER %d\n", w.PID()) //nolint:forbidigo // the answer to the test that started this process
	for {
		time.Sleep(time.Hour)
	}
}

func envWithout(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return env
}

// selfConfig starts the test binary as a worker serving testRegistry.
// Under -race, GORACE=atexit_sleep_ms=0 spares each exit the race runtime's
// 1 s sleep.
func selfConfig() Config {
	env := append(envWithout(testModeEnv), "GORACE=atexit_sleep_ms=0")
	return Config{Argv: []string{os.Args[0]}, Env: env, StartTimeout: 20 * time.Second}
}

func testworker(t testing.TB, mode string) Config {
	t.Helper()
	if errTestworker != nil {
		t.Fatal(errTestworker)
	}
	return Config{Argv: []string{testworkerBin, mode}, StartTimeout: 10 * time.Second}
}

// start starts a worker that the test closes (and so reaps) when it ends.
func start(t testing.TB, cfg Config) *Worker {
	t.Helper()
	w, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		w.Close(time.Second)
		assertReaped(t, w.PID())
	})
	return w
}

// do sends one request and waits for it.
func do(t testing.TB, w *Worker, c *Call, name, params string) Response {
	t.Helper()
	var p []byte
	if params != "" {
		p = []byte(params)
	}
	if err := w.Send(c, Request{Workload: name, Params: p}); err != nil {
		t.Fatalf("Send %s: %v", name, err)
	}
	select {
	case <-c.Done():
		return c.Response
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no response within 20s", name)
	}
	return Response{}
}

// assertReaped fails if pid is still a child of this process (alive or a
// zombie). A pid that now belongs to another process's child is fine.
func assertReaped(t testing.TB, pid int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	if ppid, err := procs.Parent(pid); err == nil && ppid == os.Getpid() {
		state, _ := procs.State(pid)
		t.Errorf("pid %d is still our child (state %s)", pid, state)
	}
}

var pidRe = regexp.MustCompile(`pid (\d+)`)

func pidIn(t *testing.T, msg string) int {
	t.Helper()
	m := pidRe.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("%q names no pid", msg)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

func wantCrash(t *testing.T, e *taskerr.Error, substrs ...string) {
	t.Helper()
	if e == nil {
		t.Fatalf("no error, want WorkerCrashed containing %q", substrs)
	}
	if e.Code != taskerr.WorkerCrashed {
		t.Errorf("code %s, want WorkerCrashed (%s)", e.Code, e.Message)
	}
	for _, s := range substrs {
		if !strings.Contains(e.Message, s) {
			t.Errorf("message %q does not contain %q", e.Message, s)
		}
	}
}

func TestWorkerRoundTrip(t *testing.T) {
	t.Parallel()
	var lines []string
	var mu sync.Mutex
	cfg := selfConfig()
	cfg.Stderr = func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }
	w := start(t, cfg)
	if w.PID() <= 0 {
		t.Fatalf("pid %d", w.PID())
	}
	names := map[string]bool{}
	for _, info := range w.Workloads() {
		names[info.Name] = true
	}
	for _, n := range testRegistry().Names() {
		if !names[n] || !w.Offers(n) {
			t.Errorf("hello lacks %s", n)
		}
	}
	if w.Offers("nope") || w.Offers("") {
		t.Error("Offers says yes to a workload not in the hello")
	}
	c := NewCall()
	r := do(t, w, c, "t.echo", `{"a":1,"s":"x\"y","n":null}`)
	if r.Err != nil || string(r.Value) != `{"a":1,"n":null,"s":"x\"y"}` {
		t.Fatalf("echo: %+v %s", r.Err, r.Value)
	}
	if r.RunTime <= 0 {
		t.Errorf("run time %s", r.RunTime)
	}
	firstID := c.ID()
	r = do(t, w, c, "t.noop", "")
	if r.Err != nil || r.Value != nil {
		t.Fatalf("noop: %+v %s", r.Err, r.Value)
	}
	if c.ID() == firstID {
		t.Error("a reused call kept its id")
	}
	// Printing to stdout lands on stderr, and the protocol survives it.
	r = do(t, w, c, "t.print", "")
	if r.Err != nil || string(r.Value) != "true" {
		t.Fatalf("print: %+v %s", r.Err, r.Value)
	}
	r = do(t, w, c, "t.echo", `{"after":"print"}`)
	if r.Err != nil || string(r.Value) != `{"after":"print"}` {
		t.Fatalf("echo after print: %+v %s", r.Err, r.Value)
	}
	w.Close(5 * time.Second)
	if w.Err() != nil {
		t.Errorf("Err after a clean Close: %v", w.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if !slicesContains(lines, "t.print: this went to stdout") {
		t.Errorf("stderr lines %q lack the print", lines)
	}
}

func slicesContains(list []string, s string) bool {
	return slices.Contains(list, s)
}

//nolint:paralleltest // timing-sensitive: waits a bounded time for the killed worker to be reported
func TestWorkerSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix signals")
	}
	w := start(t, selfConfig())
	c := NewCall()
	if err := w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := syscall.Kill(w.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("the call did not settle within 1s of SIGKILL")
	}
	pid := fmt.Sprintf("pid %d", w.PID())
	wantCrash(t, c.Err, pid, "killed by signal SIGKILL")
	<-w.Done()
	wantCrash(t, w.Err(), pid, "killed by signal SIGKILL")
	assertReaped(t, w.PID())
	if err := w.Send(c, Request{Workload: "t.noop"}); err == nil {
		t.Error("Send on a dead worker succeeded")
	} else {
		var te *taskerr.Error
		if !errors.As(err, &te) || te.Code != taskerr.WorkerCrashed {
			t.Errorf("Send error %v", err)
		}
	}
	select {
	case <-c.Done():
		t.Error("a refused Send signalled its call")
	default:
	}
}

func TestWorkerExitStatus(t *testing.T) {
	t.Parallel()
	var stderr []string
	var mu sync.Mutex
	cfg := selfConfig()
	cfg.Stderr = func(l string) { mu.Lock(); stderr = append(stderr, l); mu.Unlock() }
	w := start(t, cfg)
	c := NewCall()
	r := do(t, w, c, "t.crash", "")
	wantCrash(t, r.Err, fmt.Sprintf("pid %d", w.PID()), "exited with status 3", "t.crash: exiting with status 3")
	<-w.Done()
	wantCrash(t, w.Err(), "exited with status 3")
	mu.Lock()
	defer mu.Unlock()
	if !slicesContains(stderr, "t.crash: exiting with status 3") {
		t.Errorf("stderr lines %q", stderr)
	}
}

func TestWorkerLongStderrLine(t *testing.T) {
	t.Parallel()
	lines := make(chan string, 10)
	cfg := selfConfig()
	cfg.Stderr = func(l string) { lines <- l }
	w := start(t, cfg)
	if r := do(t, w, NewCall(), "t.longline", ""); r.Err != nil {
		t.Fatal(r.Err)
	}
	timeout := time.After(5 * time.Second)
	var got []string
	for len(got) < 2 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-timeout:
			t.Fatalf("got %d lines", len(got))
		}
	}
	if len(got[0]) != MaxStderrLine || strings.Trim(got[0], "y") != "" {
		t.Errorf("the long line came as %d bytes", len(got[0]))
	}
	if got[1] != "after the long line" {
		t.Errorf("the next line is %.80q", got[1])
	}
}

//nolint:paralleltest // timing-sensitive: asserts on how long each failure took to show
func TestWorkerBadModes(t *testing.T) {
	cases := []struct {
		mode    string
		timeout time.Duration
		want    []string
	}{
		{"garbage", 0, []string{"broke the protocol", "over the 16777216-byte limit"}},
		{"truncated", 0, []string{"broke the protocol", "truncated frame", "10 of 100 bytes (90 missing)"}},
		{"wrong-protocol", 0, []string{"speaks protocol 2, want 1"}},
		{"silent", 300 * time.Millisecond, []string{"did not say hello within 300ms"}},
		{"exit-before-hello", 0, []string{"exited with status 7 before hello", "boom"}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := testworker(t, tc.mode)
			if tc.timeout > 0 {
				cfg.StartTimeout = tc.timeout
			}
			begin := time.Now()
			w, err := Start(cfg)
			var e *taskerr.Error
			if err != nil {
				if !errors.As(err, &e) {
					t.Fatalf("Start error %T %v", err, err)
				}
			} else {
				// The worker said hello; the protocol breaks after it.
				c := NewCall()
				if err := w.Send(c, Request{Workload: "t.echo"}); err == nil {
					select {
					case <-c.Done():
						wantCrash(t, c.Err, tc.want...)
					case <-time.After(10 * time.Second):
						t.Fatal("the call did not settle")
					}
				}
				<-w.Done()
				e = w.Err()
			}
			wantCrash(t, e, append([]string{"worker [" + testworkerBin + " " + tc.mode + "] pid "}, tc.want...)...)
			assertReaped(t, pidIn(t, e.Message))
			if tc.timeout > 0 {
				if d := time.Since(begin); d < tc.timeout || d > tc.timeout+3*time.Second {
					t.Errorf("gave up after %s", d)
				}
			}
		})
	}
}

func TestWorkerStartErrors(t *testing.T) {
	t.Parallel()
	_, err := Start(Config{Argv: []string{"xk6-no-such-command"}})
	var e *taskerr.Error
	if !errors.As(err, &e) || e.Code != taskerr.WorkerCrashed ||
		!strings.Contains(e.Message, "worker [xk6-no-such-command]: cannot start") ||
		!strings.Contains(e.Message, `program "xk6-no-such-command" was not found in PATH`) {
		t.Errorf("missing command: %v", err)
	}
	_, err = Start(Config{})
	if !errors.As(err, &e) || e.Code != taskerr.WorkerCrashed {
		t.Errorf("no command: %v", err)
	}
	_, err = Start(Config{Argv: []string{os.Args[0]}, Dir: "/no/such/dir"})
	if !errors.As(err, &e) || e.Code != taskerr.WorkerCrashed || !strings.Contains(e.Message, "cannot start") {
		t.Errorf("bad dir: %v", err)
	}
}

func TestWorkerKill(t *testing.T) {
	t.Parallel()
	w := start(t, selfConfig())
	calls := []*Call{NewCall(), NewCall()}
	for _, c := range calls {
		if err := w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Kill("task t.sleep timed out after 1s")
	w.Kill("a second reason")
	pid := fmt.Sprintf("pid %d", w.PID())
	for _, c := range calls {
		select {
		case <-c.Done():
			wantCrash(t, c.Err, pid, "was killed: task t.sleep timed out after 1s")
		case <-time.After(5 * time.Second):
			t.Fatal("a call did not settle after Kill")
		}
	}
	<-w.Done()
	wantCrash(t, w.Err(), pid, "was killed: task t.sleep timed out after 1s")
	if strings.Contains(w.Err().Message, "second") {
		t.Errorf("the second reason replaced the first: %s", w.Err().Message)
	}
	c := NewCall()
	if err := w.Send(c, Request{Workload: "t.noop"}); err == nil {
		t.Error("Send after Kill succeeded")
	}
	w.Kill("after the end") // no-op
	w.Close(time.Second)    // no-op
	wantCrash(t, w.Err(), "task t.sleep timed out")
}

//nolint:paralleltest // timing-sensitive: asserts on the grace period before SIGKILL
func TestWorkerCloseEscalatesToSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix signals")
	}
	w := start(t, testworker(t, "stubborn"))
	const grace = 200 * time.Millisecond
	begin := time.Now()
	w.Close(grace)
	d := time.Since(begin)
	if d < 2*grace || d > 2*grace+time.Second {
		t.Errorf("Close took %s, want about %s", d, 2*grace)
	}
	select {
	case <-w.Done():
	default:
		t.Fatal("Close returned before Done")
	}
	wantCrash(t, w.Err(), "did not exit after its input closed; it was sent SIGKILL and was killed by signal SIGKILL")
	assertReaped(t, w.PID())
}

//nolint:paralleltest // timing-sensitive: signals a worker while a task runs
func TestWorkerCloseSIGTERMWithTaskInFlight(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix signals")
	}
	w := start(t, selfConfig())
	c := NewCall()
	if err := w.Send(c, Request{Workload: "t.block", Params: []byte(`{"for":"30s"}`)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	const grace = 200 * time.Millisecond
	begin := time.Now()
	w.Close(grace)
	if d := time.Since(begin); d > 2*grace+time.Second {
		t.Errorf("Close took %s", d)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Close returned with the call unsettled")
	}
	wantCrash(t, c.Err, fmt.Sprintf("pid %d", w.PID()), "stopped while the task was running")
	wantCrash(t, w.Err(), "did not exit after its input closed; it was sent SIGTERM and was killed by signal SIGTERM")
}

func TestWorkerCloseConcurrentWithKill(t *testing.T) {
	t.Parallel()
	w := start(t, selfConfig())
	c := NewCall()
	if err := w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if i%2 == 0 {
				w.Close(500 * time.Millisecond)
			} else {
				w.Kill("concurrent kill")
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close and Kill did not return")
	}
	<-w.Done()
	<-c.Done()
	// Either the kill came first, or the worker saw its input close and
	// answered with the cancelled task.
	if c.Err == nil || (c.Err.Code != taskerr.WorkerCrashed && !strings.Contains(c.Err.Message, "cancelled because the worker is stopping")) {
		t.Errorf("the call settled with %+v", c.Err)
	}
	select {
	case <-c.Done():
		t.Error("the call settled twice")
	default:
	}
	w.Close(time.Second)
	assertReaped(t, w.PID())
}

func TestWorkerEnv(t *testing.T) {
	t.Parallel()
	cfg := selfConfig()
	cfg.Env = append(cfg.Env, WorkerEnv+"=12345", "XK6_IPC_TEST_VAR=hello there")
	w := start(t, cfg)
	c := NewCall()
	r := do(t, w, c, "t.env", `{"name":"`+WorkerEnv+`"}`)
	if r.Err != nil || string(r.Value) != strconv.Quote(strconv.Itoa(os.Getpid())) {
		t.Fatalf("%s = %s (%v), want our pid %d", WorkerEnv, r.Value, r.Err, os.Getpid())
	}
	r = do(t, w, c, "t.env", `{"name":"XK6_IPC_TEST_VAR"}`)
	if r.Err != nil || string(r.Value) != `"hello there"` {
		t.Fatalf("XK6_IPC_TEST_VAR = %s (%v)", r.Value, r.Err)
	}
	env := workerEnv([]string{"A=1", WorkerEnv + "=1", "B=2", WorkerEnv + "=2", WorkerIDEnv + "=9.9"})
	want := []string{"A=1", "B=2", WorkerEnv + "=" + strconv.Itoa(os.Getpid())}
	if strings.Join(env, ",") != strings.Join(want, ",") {
		t.Errorf("workerEnv = %q, want %q", env, want)
	}
}

func TestServeProcessWithoutEnv(t *testing.T) {
	t.Setenv(WorkerEnv, "") // ServeProcess returns before it touches stdin or stdout
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	code := ServeProcess(testRegistry())
	os.Stderr = stderr
	_ = w.Close()
	msg, _ := io.ReadAll(r)
	_ = r.Close()
	if code != 1 || !strings.Contains(string(msg), WorkerEnv+" is not set") {
		t.Fatalf("exit code %d, stderr %q", code, msg)
	}
}

// TestTestworkerGood checks the good mode of internal/testworker, which
// tests elsewhere rely on.
func TestTestworkerGood(t *testing.T) {
	t.Parallel()
	w := start(t, testworker(t, "good"))
	for _, name := range []string{"t.echo", "t.sleep", "t.fail", "t.print", "t.crash"} {
		if !w.Offers(name) {
			t.Errorf("good mode does not offer %s", name)
		}
	}
	c := NewCall()
	if r := do(t, w, c, "t.echo", `{"x":[1,2]}`); r.Err != nil || string(r.Value) != `{"x":[1,2]}` {
		t.Fatalf("echo: %+v %s", r.Err, r.Value)
	}
	if r := do(t, w, c, "t.sleep", `{"ms":1,"v":4}`); r.Err != nil || string(r.Value) != "4" {
		t.Fatalf("sleep: %+v %s", r.Err, r.Value)
	}
	if r := do(t, w, c, "t.print", ""); r.Err != nil {
		t.Fatalf("print: %+v", r.Err)
	}
	r := do(t, w, c, "t.crash", "")
	wantCrash(t, r.Err, "exited with status 3", "t.crash: exiting with status 3")
}

//nolint:paralleltest // timing-sensitive: waits a bounded time for the orphan to die
func TestPdeathsig(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux only")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = slices.Concat(selfConfig().Env, []string{testModeEnv + "=parent", "TMPDIR=" + t.TempDir()}) // the worker dies with its parent: its TMPDIR stays
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	workerPID := 0
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if workerPID > 0 && procs.Running(workerPID) {
			_ = syscall.Kill(workerPID, syscall.SIGKILL)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the worker's pid: %v", err)
	}
	if _, err := fmt.Sscanf(line, "WORKER %d", &workerPID); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if !procs.Running(workerPID) {
		t.Fatalf("worker %d is not running", workerPID)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for procs.Running(workerPID) {
		if time.Now().After(deadline) {
			t.Fatalf("worker %d outlived its parent by 2s", workerPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

//nolint:paralleltest // goleak counts every goroutine of the test process
func TestNoGoroutineLeak(t *testing.T) {
	// The forking goroutine lives for good: start one worker before counting.
	w, err := Start(selfConfig())
	if err != nil {
		t.Fatal(err)
	}
	w.Close(time.Second)
	before := runtime.NumGoroutine()
	for range 3 {
		w, err := Start(selfConfig())
		if err != nil {
			t.Fatal(err)
		}
		c := NewCall()
		do(t, w, c, "t.noop", "")
		if err := w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}); err != nil {
			t.Fatal(err)
		}
		w.Close(time.Second)
		<-c.Done()
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func noopSizes() (req, resp int) {
	return len(appendRun(nil, 1000000, "t.noop", nil, 0)) - headerSize,
		len(appendResult(nil, 1000000, nil, nil, 1234)) - headerSize
}

func BenchmarkWorkerRoundTripNoop(b *testing.B) {
	b.ReportAllocs()
	w := start(b, selfConfig())
	c := NewCall()
	req := Request{Workload: "t.noop"}
	b.ResetTimer()
	for range b.N {
		if err := w.Send(c, req); err != nil {
			b.Fatal(err)
		}
		<-c.Done()
		if c.Err != nil {
			b.Fatal(c.Err)
		}
	}
}

func BenchmarkWorkerRoundTripNoopPipelined16(b *testing.B) {
	b.ReportAllocs()
	cfg := selfConfig()
	cfg.Concurrency = 16
	w := start(b, cfg)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var failed atomic.Pointer[taskerr.Error]
	b.ResetTimer()
	begin := time.Now()
	for range 16 {
		wg.Go(func() {
			c := NewCall()
			req := Request{Workload: "t.noop"}
			for left.Add(-1) >= 0 {
				if err := w.Send(c, req); err != nil {
					failed.Store(taskerr.From(err))
					return
				}
				<-c.Done()
				if c.Err != nil {
					failed.Store(c.Err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "tasks/s")
	if e := failed.Load(); e != nil {
		b.Fatal(e)
	}
}

func BenchmarkRawPipeEcho(b *testing.B) {
	b.ReportAllocs()
	reqSize, respSize := noopSizes()
	cmd := exec.CommandContext(b.Context(), os.Args[0])
	cmd.Env = slices.Concat(selfConfig().Env, []string{testModeEnv + "=echo", echoReplyEnv + "=" + strconv.Itoa(respSize)})
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	out := bufio.NewWriterSize(stdin, ioBufSize)
	in := bufio.NewReaderSize(stdout, ioBufSize)
	payload := bytes.Repeat([]byte{'q'}, reqSize)
	var buf []byte
	b.ResetTimer()
	for range b.N {
		if err := WriteFrame(out, payload); err != nil {
			b.Fatal(err)
		}
		if err := out.Flush(); err != nil {
			b.Fatal(err)
		}
		f, err := ReadFrame(in, buf, DefaultMaxFrame)
		if err != nil {
			b.Fatal(err)
		}
		if len(f) != respSize {
			b.Fatalf("reply of %d bytes", len(f))
		}
		buf = f
	}
}
