package ipc

import (
	"bufio"
	"bytes"
	"context"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, errTestworker)
	return Config{Argv: []string{testworkerBin, mode}, StartTimeout: 10 * time.Second}
}

// start starts a worker that the test closes (and so reaps) when it ends.
func start(t testing.TB, cfg Config) *Worker {
	t.Helper()
	w, err := Start(cfg)
	require.NoError(t, err, "Start")
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
	require.NoError(t, w.Send(c, Request{Workload: name, Params: p}), "Send %s", name)
	select {
	case <-c.Done():
		return c.Response
	case <-time.After(20 * time.Second):
		require.FailNow(t, "no response within 20s", "%s", name)
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
		assert.Fail(t, "a worker was not reaped", "pid %d is still our child (state %s)", pid, state)
	}
}

var pidRe = regexp.MustCompile(`pid (\d+)`)

func pidIn(t *testing.T, msg string) int {
	t.Helper()
	m := pidRe.FindStringSubmatch(msg)
	require.NotNil(t, m, "%q names no pid", msg)
	pid, _ := strconv.Atoi(m[1])
	return pid
}

func wantCrash(t *testing.T, e *taskerr.Error, substrs ...string) {
	t.Helper()
	require.NotNil(t, e, "no error, want WorkerCrashed containing %q", substrs)
	assert.Equal(t, taskerr.WorkerCrashed, e.Code, "want WorkerCrashed (%s)", e.Message)
	for _, s := range substrs {
		assert.Contains(t, e.Message, s)
	}
}

func TestWorkerRoundTrip(t *testing.T) {
	t.Parallel()
	var lines []string
	var mu sync.Mutex
	cfg := selfConfig()
	cfg.Stderr = func(_ int, l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }
	w := start(t, cfg)
	require.Positive(t, w.PID(), "pid")
	names := map[string]bool{}
	for _, info := range w.Workloads() {
		names[info.Name] = true
	}
	for _, n := range testRegistry().Names() {
		assert.Contains(t, names, n, "hello lacks %s", n)
		assert.True(t, w.Offers(n), "hello lacks %s", n)
	}
	assert.False(t, w.Offers("nope"), "Offers says yes to a workload not in the hello")
	assert.False(t, w.Offers(""), "Offers says yes to a workload not in the hello")
	c := NewCall()
	r := do(t, w, c, "t.echo", `{"a":1,"s":"x\"y","n":null}`)
	require.Nil(t, r.Err, "echo")
	require.Equal(t, `{"a":1,"n":null,"s":"x\"y"}`, string(r.Value), "echo") //nolint:testifylint // byte-exact on purpose: JSONEq would accept the keys in another order
	assert.Positive(t, r.RunTime, "run time")
	firstID := c.ID()
	r = do(t, w, c, "t.noop", "")
	require.Nil(t, r.Err, "noop")
	require.Nil(t, r.Value, "noop")
	assert.NotEqual(t, firstID, c.ID(), "a reused call kept its id")
	// Printing to stdout lands on stderr, and the protocol survives it.
	r = do(t, w, c, "t.print", "")
	require.Nil(t, r.Err, "print")
	require.Equal(t, "true", string(r.Value), "print")
	r = do(t, w, c, "t.echo", `{"after":"print"}`)
	require.Nil(t, r.Err, "echo after print")
	require.Equal(t, `{"after":"print"}`, string(r.Value), "echo after print") //nolint:testifylint // byte-exact on purpose: JSONEq would accept another encoding
	w.Close(5 * time.Second)
	assert.Nil(t, w.Err(), "Err after a clean Close")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, lines, "t.print: this went to stdout", "stderr lines lack the print")
}

//nolint:paralleltest // timing-sensitive: waits a bounded time for the killed worker to be reported
func TestWorkerSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix signals")
	}
	w := start(t, selfConfig())
	c := NewCall()
	require.NoError(t, w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}))
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, syscall.Kill(w.PID(), syscall.SIGKILL))
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		require.FailNow(t, "the call did not settle within 1s of SIGKILL")
	}
	pid := fmt.Sprintf("pid %d", w.PID())
	wantCrash(t, c.Err, pid, "killed by signal SIGKILL")
	<-w.Done()
	wantCrash(t, w.Err(), pid, "killed by signal SIGKILL")
	assertReaped(t, w.PID())
	err := w.Send(c, Request{Workload: "t.noop"})
	var te *taskerr.Error
	if assert.ErrorAs(t, err, &te, "Send on a dead worker") {
		assert.Equal(t, taskerr.WorkerCrashed, te.Code, "Send error %v", err)
	}
	select {
	case <-c.Done():
		assert.Fail(t, "a refused Send signalled its call")
	default:
	}
}

func TestWorkerExitStatus(t *testing.T) {
	t.Parallel()
	var stderr []string
	var mu sync.Mutex
	cfg := selfConfig()
	cfg.Stderr = func(_ int, l string) { mu.Lock(); stderr = append(stderr, l); mu.Unlock() }
	w := start(t, cfg)
	c := NewCall()
	r := do(t, w, c, "t.crash", "")
	wantCrash(t, r.Err, fmt.Sprintf("pid %d", w.PID()), "exited with status 3", "t.crash: exiting with status 3")
	<-w.Done()
	wantCrash(t, w.Err(), "exited with status 3")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, stderr, "t.crash: exiting with status 3", "stderr lines")
}

func TestWorkerLongStderrLine(t *testing.T) {
	t.Parallel()
	lines := make(chan string, 10)
	cfg := selfConfig()
	cfg.Stderr = func(_ int, l string) { lines <- l }
	w := start(t, cfg)
	require.Nil(t, do(t, w, NewCall(), "t.longline", "").Err)
	timeout := time.After(5 * time.Second)
	var got []string
	for len(got) < 2 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-timeout:
			require.FailNow(t, "the two stderr lines did not come within 5s", "got %d lines", len(got))
		}
	}
	assert.Len(t, got[0], MaxStderrLine, "the long line came as %d bytes", len(got[0]))
	assert.Empty(t, strings.Trim(got[0], "y"), "the long line is not all y")
	assert.Equal(t, "after the long line", got[1], "the next line")
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
				require.ErrorAs(t, err, &e, "Start error %T", err)
			} else {
				// The worker said hello; the protocol breaks after it.
				c := NewCall()
				if err := w.Send(c, Request{Workload: "t.echo"}); err == nil {
					select {
					case <-c.Done():
						wantCrash(t, c.Err, tc.want...)
					case <-time.After(10 * time.Second):
						require.FailNow(t, "the call did not settle")
					}
				}
				<-w.Done()
				e = w.Err()
			}
			wantCrash(t, e, append([]string{"worker [" + testworkerBin + " " + tc.mode + "] pid "}, tc.want...)...)
			assertReaped(t, pidIn(t, e.Message))
			if tc.timeout > 0 {
				d := time.Since(begin)
				assert.GreaterOrEqual(t, d, tc.timeout, "gave up after %s", d)
				assert.LessOrEqual(t, d, tc.timeout+3*time.Second, "gave up after %s", d)
			}
		})
	}
}

func TestWorkerStartErrors(t *testing.T) {
	t.Parallel()
	_, err := Start(Config{Argv: []string{"xk6-no-such-command"}})
	var e *taskerr.Error
	if assert.ErrorAs(t, err, &e, "missing command") {
		assert.Equal(t, taskerr.WorkerCrashed, e.Code, "missing command: %v", err)
		assert.Contains(t, e.Message, "worker [xk6-no-such-command]: cannot start", "missing command")
		assert.Contains(t, e.Message, `program "xk6-no-such-command" was not found in PATH`, "missing command")
	}
	_, err = Start(Config{})
	if assert.ErrorAs(t, err, &e, "no command") {
		assert.Equal(t, taskerr.WorkerCrashed, e.Code, "no command: %v", err)
	}
	_, err = Start(Config{Argv: []string{os.Args[0]}, Dir: "/no/such/dir"})
	if assert.ErrorAs(t, err, &e, "bad dir") {
		assert.Equal(t, taskerr.WorkerCrashed, e.Code, "bad dir: %v", err)
		assert.Contains(t, e.Message, "cannot start", "bad dir")
	}
}

func TestWorkerKill(t *testing.T) {
	t.Parallel()
	w := start(t, selfConfig())
	calls := []*Call{NewCall(), NewCall()}
	for _, c := range calls {
		require.NoError(t, w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}))
	}
	w.Kill("task t.sleep timed out after 1s")
	w.Kill("a second reason")
	pid := fmt.Sprintf("pid %d", w.PID())
	for _, c := range calls {
		select {
		case <-c.Done():
			wantCrash(t, c.Err, pid, "was killed: task t.sleep timed out after 1s")
		case <-time.After(5 * time.Second):
			require.FailNow(t, "a call did not settle after Kill")
		}
	}
	<-w.Done()
	wantCrash(t, w.Err(), pid, "was killed: task t.sleep timed out after 1s")
	assert.NotContains(t, w.Err().Message, "second", "the second reason replaced the first")
	c := NewCall()
	require.Error(t, w.Send(c, Request{Workload: "t.noop"}), "Send after Kill succeeded")
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
	assert.GreaterOrEqual(t, d, 2*grace, "Close took %s, want about %s", d, 2*grace)
	assert.LessOrEqual(t, d, 2*grace+time.Second, "Close took %s, want about %s", d, 2*grace)
	select {
	case <-w.Done():
	default:
		require.FailNow(t, "Close returned before Done")
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
	require.NoError(t, w.Send(c, Request{Workload: "t.block", Params: []byte(`{"for":"30s"}`)}))
	time.Sleep(200 * time.Millisecond) // t.block is running
	// A second to die after SIGTERM: on a loaded machine a SIGTERMed worker
	// may be reaped later than 200ms, and then the SIGKILL comes too.
	const grace = time.Second
	begin := time.Now()
	w.Close(grace)
	d := time.Since(begin)
	assert.LessOrEqual(t, d, 2*grace+time.Second, "Close took %s", d)
	select {
	case <-c.Done():
	default:
		require.FailNow(t, "Close returned with the call unsettled")
	}
	wantCrash(t, c.Err, fmt.Sprintf("pid %d", w.PID()), "stopped while the task was running")
	wantCrash(t, w.Err(), "did not exit after its input closed; it was sent SIGTERM and was killed by signal SIGTERM")
}

func TestWorkerCloseConcurrentWithKill(t *testing.T) {
	t.Parallel()
	w := start(t, selfConfig())
	c := NewCall()
	require.NoError(t, w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}))
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
		require.FailNow(t, "Close and Kill did not return")
	}
	<-w.Done()
	<-c.Done()
	// Either the kill came first, or the worker saw its input close and
	// answered with the cancelled task.
	if assert.NotNil(t, c.Err, "the call settled without an error") {
		assert.True(t, c.Err.Code == taskerr.WorkerCrashed || strings.Contains(c.Err.Message, "cancelled because the worker is stopping"),
			"the call settled with %+v", c.Err)
	}
	select {
	case <-c.Done():
		assert.Fail(t, "the call settled twice")
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
	require.Nil(t, r.Err, "%s", WorkerEnv)
	require.Equal(t, strconv.Quote(strconv.Itoa(os.Getpid())), string(r.Value), "%s, want our pid", WorkerEnv)
	r = do(t, w, c, "t.env", `{"name":"XK6_IPC_TEST_VAR"}`)
	require.Nil(t, r.Err, "XK6_IPC_TEST_VAR")
	require.Equal(t, `"hello there"`, string(r.Value), "XK6_IPC_TEST_VAR")
	env := workerEnv([]string{"A=1", WorkerEnv + "=1", "B=2", WorkerEnv + "=2", WorkerIDEnv + "=9.9"})
	want := []string{"A=1", "B=2", WorkerEnv + "=" + strconv.Itoa(os.Getpid())}
	assert.Equal(t, want, env, "workerEnv")
}

func TestServeProcessWithoutEnv(t *testing.T) {
	t.Setenv(WorkerEnv, "") // ServeProcess returns before it touches stdin or stdout
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	code := ServeProcess(testRegistry())
	os.Stderr = stderr
	_ = w.Close()
	msg, _ := io.ReadAll(r)
	_ = r.Close()
	require.Equal(t, 1, code, "exit code, stderr %q", msg)
	require.Contains(t, string(msg), WorkerEnv+" is not set", "stderr")
}

// TestTestworkerGood checks the good mode of internal/testworker, which
// tests elsewhere rely on.
func TestTestworkerGood(t *testing.T) {
	t.Parallel()
	w := start(t, testworker(t, "good"))
	for _, name := range []string{"t.echo", "t.sleep", "t.fail", "t.print", "t.crash"} {
		assert.True(t, w.Offers(name), "good mode does not offer %s", name)
	}
	c := NewCall()
	r := do(t, w, c, "t.echo", `{"x":[1,2]}`)
	require.Nil(t, r.Err, "echo")
	require.Equal(t, `{"x":[1,2]}`, string(r.Value), "echo") //nolint:testifylint // byte-exact on purpose: JSONEq would accept another encoding
	r = do(t, w, c, "t.sleep", `{"ms":1,"v":4}`)
	require.Nil(t, r.Err, "sleep")
	require.Equal(t, "4", string(r.Value), "sleep")
	r = do(t, w, c, "t.print", "")
	require.Nil(t, r.Err, "print")
	r = do(t, w, c, "t.crash", "")
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
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	workerPID := 0
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if workerPID > 0 && procs.Running(workerPID) {
			_ = syscall.Kill(workerPID, syscall.SIGKILL)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "reading the worker's pid")
	_, err = fmt.Sscanf(line, "WORKER %d", &workerPID)
	require.NoError(t, err, "line %q", line)
	require.True(t, procs.Running(workerPID), "worker %d is not running", workerPID)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return !procs.Running(workerPID) }, 2*time.Second, 10*time.Millisecond,
		"worker %d outlived its parent by 2s", workerPID)
}

//nolint:paralleltest // goleak counts every goroutine of the test process
func TestNoGoroutineLeak(t *testing.T) {
	// The forking goroutine lives for good: start one worker before counting.
	w, err := Start(selfConfig())
	require.NoError(t, err)
	w.Close(time.Second)
	before := runtime.NumGoroutine()
	for range 3 {
		w, err := Start(selfConfig())
		require.NoError(t, err)
		c := NewCall()
		do(t, w, c, "t.noop", "")
		require.NoError(t, w.Send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":30000}`)}))
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
			require.FailNow(t, "goroutines outlived their workers",
				"%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
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
	require.Nil(b, failed.Load())
}

func BenchmarkRawPipeEcho(b *testing.B) {
	b.ReportAllocs()
	reqSize, respSize := noopSizes()
	cmd := exec.CommandContext(b.Context(), os.Args[0])
	cmd.Env = slices.Concat(selfConfig().Env, []string{testModeEnv + "=echo", echoReplyEnv + "=" + strconv.Itoa(respSize)})
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
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
