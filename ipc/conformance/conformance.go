// Package conformance checks that a worker program, in any language, speaks
// the worker protocol of process pools (ipc/PROTOCOL.md). Run starts the
// command as a pool would, many times over, and drives it through the pool's
// own side of the protocol (ipc.Start, Send, Cancel, Close) and, where that
// API cannot express a check (a hello read before sending ours, malformed
// frames, exit statuses), through raw pipes.
//
// A worker under test offers at least two workloads:
//
//   - a no-op (Options.Noop, "noop"): no params, returns null, and rejects a
//     param it does not take with InvalidArgumentError naming it;
//   - a sleep (Options.Sleep, "io.sleep"): waits for its "duration" param (a
//     k6 duration such as "300ms", or a number of milliseconds) without using
//     the CPU, and rejects a duration that is not one with
//     InvalidArgumentError naming "duration".
//
// and, for the large-payload check, an echo (Options.Echo, "echo") that
// returns its params unchanged. The Go built-ins, examples/python/worker.py
// and examples/node/worker.js all do.
//
// A worker library should also offer the hostile workloads, which the
// hostile check runs when they are offered (see HostileCases):
//
//   - hostile.throw {case}: fails in a way that is hard to report;
//   - hostile.return {case}: returns a value JSON cannot carry unchanged;
//   - hostile.async {case} (languages with async functions): "value" awaits
//     and then returns {"awaited": true}, "throw" awaits and then fails as
//     hostile.throw's "unprintable" does;
//   - hostile.stray: leaves a failure nobody handles behind it (an unhandled
//     promise rejection, an exception in a thread of its own) whose text
//     holds StrayText, and returns "ok".
//
// A worker must answer each with a WorkloadError whose message starts with
// the workload's name and says what (and, for values, where) went wrong,
// while a sibling task runs on undisturbed, and keep serving. A test of a
// worker is then:
//
//	func TestMyWorker(t *testing.T) {
//		conformance.Run(t, []string{"python3", "my_worker.py"}, conformance.Options{Dir: "testdata"})
//	}
package conformance

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Options says how to start the worker and what it offers.
type Options struct {
	// Dir is the worker's working directory; "" inherits the test's.
	Dir string
	// Env is added to the worker's environment ("KEY=value").
	Env []string
	// Concurrency is the pool's concurrency in the pipelining and shutdown
	// checks: how many requests are in flight at once. 0 means 4.
	Concurrency int
	// Noop, Sleep and Echo name the workloads the checks use (see the
	// package's documentation); "" means "noop", "io.sleep" and "echo". The
	// checks that need Echo are skipped when the worker does not offer it.
	Noop, Sleep, Echo string
	// Require lists further workloads the worker's hello must offer.
	Require []string
	// StrictTimeout requires the Sleep workload to stop with TimeoutError
	// once its timeout_ms passes (PROTOCOL.md: the worker "should"). Without
	// it, a timeout must only leave the worker working.
	StrictTimeout bool
	// StrictCancel requires the Sleep workload to stop early, with an
	// error, when it is cancelled (PROTOCOL.md makes honouring a cancel
	// optional). Without it, a cancel must only leave the worker working.
	StrictCancel bool
	// HostilePrefix goes before the hostile workloads' names ("zz." for
	// zz.hostile.throw).
	HostilePrefix string
	// StartTimeout bounds the worker's start and hello; 0 means 10s.
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Noop == "" {
		o.Noop = "noop"
	}
	if o.Sleep == "" {
		o.Sleep = "io.sleep"
	}
	if o.Echo == "" {
		o.Echo = "echo"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = ipc.DefaultStartTimeout
	}
	return o
}

// settle bounds the wait for anything that should happen at once: a
// result, an exit. Generous, for busy machines.
const settle = 5 * time.Second

// Run checks the worker command argv against PROTOCOL.md, one subtest per
// part of it.
func Run(t *testing.T, argv []string, opts Options) {
	t.Helper()
	require.NotEmpty(t, argv, "conformance.Run: no command")
	s := &suite{argv: append([]string(nil), argv...), o: opts.withDefaults()}
	offered := s.offered(t)
	if t.Failed() {
		return
	}
	s.offers = offered
	t.Run("hello", s.hello)
	t.Run("round_trip", s.roundTrip)
	t.Run("pipelining", s.pipelining)
	t.Run("prefetch", s.prefetch)
	t.Run("batch", s.batch)
	t.Run("errors", s.errors)
	t.Run("large_payloads", s.largePayloads)
	t.Run("timeout", s.timeout)
	t.Run("cancel", s.cancel)
	t.Run("ignored_messages", s.ignoredMessages)
	t.Run("eof", s.eof)
	t.Run("protocol_errors", s.protocolErrors)
	t.Run("not_a_child", s.notAChild)
	t.Run("wrapped", s.wrapped)
	t.Run("hostile", s.hostile)
	t.Run("depth", s.depth)
	t.Run("module", s.module)
}

type suite struct {
	argv   []string
	o      Options
	offers map[string]string // name -> kind
}

// offered starts the worker once through the pool's side and returns what it
// offers; the workloads the checks need must be there.
func (s *suite) offered(t *testing.T) map[string]string {
	t.Helper()
	w := s.start(t, 1)
	offers := map[string]string{}
	for _, info := range w.Workloads() {
		offers[info.Name] = string(info.Kind)
	}
	need := append([]string{s.o.Noop, s.o.Sleep}, s.o.Require...)
	for _, name := range need {
		assert.Contains(t, offers, name, "the worker does not offer %q, which the suite needs (it offers: %s)",
			name, names(offers))
	}
	return offers
}

func names(m map[string]string) string {
	list := make([]string, 0, len(m))
	for n := range m {
		list = append(list, n)
	}
	slices.Sort(list)
	return strings.Join(list, ", ")
}

// start starts the worker through the pool's side of the protocol; it is
// closed at the end of the test, and its stderr shown if the test failed.
func (s *suite) start(t *testing.T, concurrency int) *ipc.Worker {
	t.Helper()
	return s.startArgv(t, s.argv, concurrency)
}

func (s *suite) startArgv(t *testing.T, argv []string, concurrency int) *ipc.Worker {
	t.Helper()
	w, _ := s.startLogged(t, argv, concurrency)
	return w
}

// startLogged is start that also returns what the worker writes to stderr.
func (s *suite) startLogged(t *testing.T, argv []string, concurrency int) (*ipc.Worker, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("worker stderr:\n%s", stderr.String())
		}
	})
	w, err := ipc.Start(ipc.Config{
		Argv:         argv,
		Dir:          s.o.Dir,
		Env:          append(os.Environ(), s.o.Env...),
		Concurrency:  concurrency,
		StartTimeout: s.o.StartTimeout,
		Stderr:       func(_ int, line string) { stderr.WriteString(line + "\n") },
	})
	require.NoError(t, err, "starting %v", argv)
	t.Cleanup(func() { w.Close(time.Second) })
	return w, stderr
}

// call sends a request and waits for its response.
func call(t *testing.T, w *ipc.Worker, req ipc.Request, within time.Duration) ipc.Response {
	t.Helper()
	c := send(t, w, req)
	return await(t, c, req.Workload, within)
}

func send(t *testing.T, w *ipc.Worker, req ipc.Request) *ipc.Call {
	t.Helper()
	c := ipc.NewCall()
	require.NoError(t, w.Send(c, req), "sending %s", req.Workload)
	return c
}

func await(t *testing.T, c *ipc.Call, what string, within time.Duration) ipc.Response {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(within):
		require.FailNow(t, "no result in time", "no result for %s (id %d) within %s", what, c.ID(), within)
	}
	r := c.Response
	r.Value = append(json.RawMessage(nil), r.Value...)
	return r
}

// sleepParams are the sleep's params: a duration in the form the package doc
// promises ("300ms"), never Go's "1h0m0s".
func sleepParams(d time.Duration) []byte {
	return []byte(fmt.Sprintf(`{"duration":"%dms"}`, d.Milliseconds()))
}

// alive checks that the worker still serves, after whatever came before.
func alive(t *testing.T, w *ipc.Worker, noop string) {
	t.Helper()
	select {
	case <-w.Done():
		require.FailNow(t, "the worker ended", "%v", w.Err())
	default:
	}
	r := call(t, w, ipc.Request{Workload: noop}, settle)
	require.Nil(t, r.Err, "%s after that", noop)
}

// hello: both sides say hello first, without waiting for the other's; the
// worker's names protocol 1, its own pid and what it offers.
func (s *suite) hello(t *testing.T) {
	r := s.startRaw(t)
	f := r.next(s.o.StartTimeout, "the worker's hello, before the pool said anything")
	require.Equal(t, "hello", f.typ, "the first frame is not a hello: %s", f.raw)
	var h struct {
		Protocol  *float64          `json:"protocol"`
		PID       *float64          `json:"pid"`
		Workloads []json.RawMessage `json:"workloads"`
	}
	require.NoError(t, json.Unmarshal(f.raw, &h), "malformed hello: %s", f.raw)
	if assert.NotNil(t, h.Protocol, "hello protocol: got nothing, want %d", ipc.ProtocolVersion) {
		assert.InDelta(t, ipc.ProtocolVersion, *h.Protocol, 0, "hello protocol")
	}
	if assert.NotNil(t, h.PID, "hello pid: got nothing, want the worker's pid %d", r.cmd.Process.Pid) {
		assert.Equal(t, r.cmd.Process.Pid, int(*h.PID), "hello pid: want the worker's pid (got %v)", deref(h.PID))
	}
	assert.NotEmpty(t, h.Workloads, "hello lists no workloads: %s", f.raw)
	checkWorkloads(t, h.Workloads)
	// The pool's hello, then the end of the input: a clean exit, no more frames.
	r.send(fmt.Sprintf(`{"type":"hello","protocol":1,"concurrency":1,"max_frame":%d}`, ipc.DefaultMaxFrame))
	r.closeInput()
	f, ok := r.tryNext(settle)
	assert.False(t, ok, "a frame after the hello with nothing asked: %s", f.raw)
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout()
}

// checkWorkloads checks the workloads a worker's hello lists: each an
// object with a unique name, a kind of "cpu" or "io", and, if it has them,
// a string description and an object of params.
func checkWorkloads(t *testing.T, workloads []json.RawMessage) {
	seen := map[string]bool{}
	for i, raw := range workloads {
		var info struct {
			Name        *string         `json:"name"`
			Kind        *string         `json:"kind"`
			Description json.RawMessage `json:"description"`
			Params      json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			assert.Fail(t, "a workload is not an object", "workload #%d: %s: %v", i+1, raw, err)
			continue
		}
		if assert.NotEmpty(t, info.Name, "workload #%d has no name: %s", i+1, raw) {
			assert.NotContains(t, seen, *info.Name, "workload %q is listed twice", *info.Name)
			seen[*info.Name] = true
		}
		kind := jsonOf(info.Kind)
		if assert.NotNil(t, info.Kind, "workload #%d has kind %s, want \"cpu\" or \"io\": %s", i+1, kind, raw) {
			assert.Contains(t, []string{"cpu", "io"}, *info.Kind, "workload #%d has kind %s, want \"cpu\" or \"io\": %s",
				i+1, kind, raw)
		}
		if len(info.Description) > 0 && string(info.Description) != "null" {
			assert.Equal(t, byte('"'), info.Description[0], "workload #%d has a description that is not a string: %s", i+1, raw)
		}
		if len(info.Params) > 0 && string(info.Params) != "null" {
			assert.Equal(t, byte('{'), info.Params[0], "workload #%d has params that are not an object: %s", i+1, raw)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return "nothing"
	}
	return *p
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v) //nolint:errchkjson // the suite's own messages, which encode
	return string(b)
}

// roundTrip: one request, one result; run_ns is the time the task ran.
func (s *suite) roundTrip(t *testing.T) {
	w := s.start(t, 1)
	for i := range 20 {
		r := call(t, w, ipc.Request{Workload: s.o.Noop}, settle)
		require.Nil(t, r.Err, "%s #%d", s.o.Noop, i+1)
		if r.Value != nil {
			require.Equal(t, "null", string(r.Value), "%s #%d: value", s.o.Noop, i+1)
		}
	}
	const d = 50 * time.Millisecond
	start := time.Now()
	r := call(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(d)}, settle)
	took := time.Since(start)
	require.Nil(t, r.Err, "%s %s", s.o.Sleep, d)
	assert.GreaterOrEqual(t, took, d-time.Millisecond, "%s %s answered after %s", s.o.Sleep, d, took)
	assert.GreaterOrEqual(t, r.RunTime, d-2*time.Millisecond,
		"%s %s: run_ns says %s, want from %s to the round trip's %s", s.o.Sleep, d, r.RunTime, d, took)
	assert.LessOrEqual(t, r.RunTime, took+time.Millisecond,
		"%s %s: run_ns says %s, want from %s to the round trip's %s", s.o.Sleep, d, r.RunTime, d, took)
}

// pipelining: with concurrency N, N sleeps in flight at once end in about
// the longest one's time, each with its own result. They are sent longest
// first, so a worker that runs them at once answers them out of order.
func (s *suite) pipelining(t *testing.T) {
	n := s.o.Concurrency
	w := s.start(t, n)
	alive(t, w, s.o.Noop)       // started and warm
	const longest = time.Second // long enough that a loaded machine's delays stay well within the limit below
	durations := make([]time.Duration, n)
	var sum time.Duration
	for i := range durations {
		durations[i] = longest * time.Duration(n-i) / time.Duration(n)
		sum += durations[i]
	}
	calls := make([]*ipc.Call, n)
	start := time.Now()
	for i, d := range durations {
		calls[i] = send(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(d)})
	}
	for i, c := range calls {
		r := await(t, c, s.o.Sleep, sum+settle)
		require.Nil(t, r.Err, "%s %s", s.o.Sleep, durations[i])
		// run_ns tells whose result this is: a result matched to the wrong
		// request has another request's duration.
		assert.GreaterOrEqual(t, r.RunTime, durations[i]-2*time.Millisecond,
			"request %d (%s %s): run_ns says %s: it waited inside the worker, or got another request's result",
			c.ID(), s.o.Sleep, durations[i], r.RunTime)
		assert.LessOrEqual(t, r.RunTime, durations[i]+300*time.Millisecond,
			"request %d (%s %s): run_ns says %s: it waited inside the worker, or got another request's result",
			c.ID(), s.o.Sleep, durations[i], r.RunTime)
	}
	took := time.Since(start)
	limit := longest + (sum-longest)/2
	t.Logf("%d sleeps of %s..%s in flight at once took %s (one after another: %s)", n, durations[n-1], longest, took, sum)
	assert.LessOrEqual(t, took, limit,
		"%d requests in flight took %s, over %s: the worker does not run them at the same time (concurrency %d)",
		n, took, limit, n)
}

// prefetch: the pool keeps one request more than the hello's concurrency
// in flight. The worker runs at most concurrency at once and starts the
// others in the order they came; a waiting request's timeout counts from its
// start; a cancel of a waiting request is answered without running it
// (an error, run_ns 0); at the end of the input a waiting request is
// answered without running it.
func (s *suite) prefetch(t *testing.T) {
	const first = 300 * time.Millisecond
	r := s.startRaw(t)
	r.handshake(1, ipc.DefaultMaxFrame)
	r.send(fmt.Sprintf(`{"type":"run","id":1,"workload":%q,"params":%s}`, s.o.Sleep, sleepParams(first)))
	r.send(fmt.Sprintf(`{"type":"run","id":2,"workload":%q,"params":%s,"timeout_ms":200}`,
		s.o.Sleep, sleepParams(50*time.Millisecond)))
	r.send(fmt.Sprintf(`{"type":"run","id":3,"workload":%q,"params":%s}`, s.o.Sleep, sleepParams(time.Hour)))
	r.send(`{"type":"cancel","id":3}`)
	order := map[uint64]int{}
	results := map[uint64]rawResult{}
	for i := range 3 {
		res := r.result(first + 2*settle)
		order[res.ID], results[res.ID] = i, res
	}
	assert.GreaterOrEqual(t, order[2], order[1],
		"request 2 ended before request 1, with concurrency 1: the worker ran them at the same time")
	second := results[2]
	if assert.Nil(t, second.Error,
		"request 2 (%s, timeout_ms 200, behind a %s one) failed: %s: its timeout must count from its start",
		s.o.Sleep, 50*time.Millisecond, second.raw) && second.RunNS != nil {
		runNS := time.Duration(*second.RunNS)
		assert.LessOrEqual(t, runNS, first/2, "request 2 says run_ns %s: it counts its wait behind request 1", runNS)
	}
	assert.LessOrEqual(t, order[3], order[1],
		"request 3, cancelled while it waited, was answered after request 1 ended: "+
			"answer it at once (the pool kills a worker that does not answer a cancel within its grace)")
	third := results[3]
	assert.NotNil(t, third.Error,
		"request 3, cancelled while it waited, was not answered with an error and run_ns 0 (not run): %s", third.raw)
	if third.RunNS != nil {
		assert.Zero(t, *third.RunNS,
			"request 3, cancelled while it waited, was not answered with an error and run_ns 0 (not run): %s", third.raw)
	}
	r.send(fmt.Sprintf(`{"type":"run","id":4,"workload":%q,"params":%s}`, s.o.Sleep, sleepParams(first)))
	r.send(fmt.Sprintf(`{"type":"run","id":5,"workload":%q,"params":%s}`, s.o.Sleep, sleepParams(first)))
	time.Sleep(50 * time.Millisecond)
	r.closeInput()
	for range 2 {
		if res := r.result(first + settle); res.ID == 5 {
			assert.NotNil(t, res.Error, "request 5 waited when the input ended, and was not answered with an error: %s", res.raw)
		}
	}
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout()
}

// errors: an unknown workload and bad params fail the task, not the worker.
func (s *suite) errors(t *testing.T) {
	w := s.start(t, 1)
	pid := w.PID()
	const unknown = "conformance.no-such-workload"
	r := call(t, w, ipc.Request{Workload: unknown}, settle)
	if assert.NotNil(t, r.Err, "unknown workload: want an UnknownWorkloadError naming %q", unknown) {
		assert.Equal(t, taskerr.UnknownWorkload, r.Err.Code, "unknown workload: got %v", r.Err)
		assert.Contains(t, r.Err.Message, unknown, "unknown workload: want an UnknownWorkloadError naming it")
	}
	for _, bad := range []struct{ workload, params, param string }{
		{s.o.Sleep, `{"duration":"soon"}`, "duration"},
		{s.o.Sleep, `{"duration":-5}`, "duration"},
		{s.o.Noop, `{"conformance_nope":1}`, "conformance_nope"},
	} {
		r := call(t, w, ipc.Request{Workload: bad.workload, Params: []byte(bad.params)}, settle)
		if assert.NotNil(t, r.Err, "%s %s: want an InvalidArgumentError naming %q", bad.workload, bad.params, bad.param) {
			assert.Equal(t, taskerr.InvalidArgument, r.Err.Code, "%s %s: got %v", bad.workload, bad.params, r.Err)
			assert.Contains(t, r.Err.Message, bad.param, "%s %s: want an InvalidArgumentError naming it",
				bad.workload, bad.params)
			assert.True(t, strings.HasPrefix(r.Err.Message, bad.workload),
				"%s %s: the message %q does not start with the workload's name", bad.workload, bad.params, r.Err.Message)
		}
	}
	alive(t, w, s.o.Noop)
	assert.Equal(t, pid, w.PID(), "the worker's pid changed")

	// Params that are not an object (the pool's side refuses to send them).
	raw := s.startRaw(t)
	raw.handshake(1, ipc.DefaultMaxFrame)
	raw.send(fmt.Sprintf(`{"type":"run","id":1,"workload":%q,"params":[1,2]}`, s.o.Noop))
	res := raw.result(settle)
	assert.Equal(t, uint64(1), res.ID, "params [1,2]: got %s, want an InvalidArgumentError", res.raw)
	if assert.NotNil(t, res.Error, "params [1,2]: got %s, want an InvalidArgumentError", res.raw) {
		assert.Equal(t, string(taskerr.InvalidArgument), res.Error.Name, "params [1,2]: got %s", res.raw)
	}
	raw.send(fmt.Sprintf(`{"type":"run","id":2,"workload":%q}`, s.o.Noop)) // no params: {}
	res = raw.result(settle)
	assert.Equal(t, uint64(2), res.ID, "a run without params: got %s, want a result without error", res.raw)
	assert.Nil(t, res.Error, "a run without params: got %s, want a result without error", res.raw)
	raw.closeInput()
	assert.Equal(t, 0, raw.wait(), "exit status")
	raw.cleanStdout()
}

// largePayloads: params and values near 1 MiB make the round trip intact,
// and so do many smaller ones in flight at once.
func (s *suite) largePayloads(t *testing.T) {
	if _, ok := s.offers[s.o.Echo]; !ok {
		t.Skipf("the worker does not offer %q", s.o.Echo)
	}
	w := s.start(t, s.o.Concurrency)
	echo := func(c *ipc.Call, params []byte) {
		t.Helper()
		r := await(t, c, s.o.Echo, 30*time.Second)
		require.Nil(t, r.Err, "%s of %d bytes", s.o.Echo, len(params))
		var sent, got any
		require.NoError(t, json.Unmarshal(params, &sent))
		require.NoError(t, json.Unmarshal(r.Value, &got), "%s of %d bytes: the value is not JSON", s.o.Echo, len(params))
		// Not assert.Equal or JSONEq: their diff of a MiB of JSON says less than the clipped value.
		assert.True(t, reflect.DeepEqual(sent, got), "%s of %d bytes: the value (%d bytes) differs from the params: %s...",
			s.o.Echo, len(params), len(r.Value), clip(r.Value))
	}
	big := payload(1<<20-256, 0)
	echo(send(t, w, ipc.Request{Workload: s.o.Echo, Params: big}), big)

	n := s.o.Concurrency // never more in flight than the hello announced
	calls := make([]*ipc.Call, n)
	params := make([][]byte, n)
	for i := range calls {
		params[i] = payload(128<<10+i*1000, i)
		calls[i] = send(t, w, ipc.Request{Workload: s.o.Echo, Params: params[i]})
	}
	for i, c := range calls {
		echo(c, params[i])
	}
	alive(t, w, s.o.Noop)
}

// payload is a params object of about size bytes, distinct for each seed,
// with text that JSON must escape and characters outside ASCII.
func payload(size, seed int) []byte {
	const piece = "abc \"quoted\" back\\slash\nnew line\ttab é ü 漢字 😀 \u2028 <>&/ "
	var text strings.Builder
	for text.Len() < size-200 {
		text.WriteString(piece)
		text.WriteString(strconv.Itoa(seed))
	}
	b, _ := json.Marshal(map[string]any{ //nolint:errchkjson // strings, numbers, bools and nulls
		"seed": seed, "text": text.String(), "list": []any{1, 2.5, -3e-7, true, false, nil, "x"},
		"nested": map[string]any{"a": map[string]any{"b": []any{map[string]any{}, []any{}}}},
	})
	return b
}

func clip(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}

// timeout: timeout_ms stops the task (StrictTimeout) or at least leaves the
// worker working.
func (s *suite) timeout(t *testing.T) {
	w := s.start(t, 2)
	const long, timeout = 10 * time.Second, 200 * time.Millisecond
	start := time.Now()
	r := call(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(long), Timeout: timeout}, long+settle)
	took := time.Since(start)
	honoured := took < long && r.Err != nil && r.Err.Code == taskerr.Timeout
	t.Logf("%s %s with timeout_ms %d: %v after %s", s.o.Sleep, long, timeout.Milliseconds(), r.Err,
		took.Round(time.Millisecond))
	if s.o.StrictTimeout {
		assert.True(t, honoured, "timeout_ms %d: got %v after %s, want a TimeoutError soon after %s",
			timeout.Milliseconds(), r.Err, took, timeout)
		assert.LessOrEqual(t, took, timeout+2*time.Second,
			"timeout_ms %d: got %v after %s, want a TimeoutError soon after %s", timeout.Milliseconds(), r.Err, took, timeout)
	}
	if r.Err != nil {
		require.NotEqual(t, taskerr.WorkerCrashed, r.Err.Code, "the worker did not survive a timeout: %v", r.Err)
	}
	alive(t, w, s.o.Noop)
}

// cancel: a cancel frame stops the task (StrictCancel), or at least leaves
// the worker working; the task still gets exactly one result.
func (s *suite) cancel(t *testing.T) {
	w := s.start(t, 2)
	const long = 10 * time.Second
	start := time.Now()
	c := send(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(long)})
	time.Sleep(100 * time.Millisecond)
	w.Cancel(c.ID())
	r := await(t, c, s.o.Sleep, long+settle)
	took := time.Since(start)
	t.Logf("%s %s cancelled after 100ms: %v after %s", s.o.Sleep, long, r.Err, took.Round(time.Millisecond))
	if r.Err != nil {
		require.NotEqual(t, taskerr.WorkerCrashed, r.Err.Code, "the worker did not survive a cancel: %v", r.Err)
	}
	if s.o.StrictCancel {
		assert.NotNil(t, r.Err, "cancel: got no error after %s, want an error soon after the cancel", took)
		assert.LessOrEqual(t, took, 2*time.Second, "cancel: got %v after %s, want an error soon after the cancel",
			r.Err, took)
	}
	alive(t, w, s.o.Noop)
}

// ignoredMessages: a cancel for an id not in flight, and messages of types
// the worker does not know, are ignored.
func (s *suite) ignoredMessages(t *testing.T) {
	r := s.startRaw(t)
	r.handshake(1, ipc.DefaultMaxFrame)
	r.send(`{"type":"cancel","id":999}`)
	r.send(`{"type":"from-a-later-version","id":3,"x":[1,{"y":null}]}`)
	r.send(fmt.Sprintf(`{"type":"run","id":1,"workload":%q,"params":{},"future_field":true}`, s.o.Noop))
	res := r.result(settle)
	assert.Equal(t, uint64(1), res.ID, "got %s, want the result of run 1", res.raw)
	assert.Nil(t, res.Error, "got %s, want the result of run 1", res.raw)
	r.closeInput()
	assert.Equal(t, 0, r.wait(), "exit status")
	r.cleanStdout()
}

// eof: when its input ends, the worker sends the results of the requests in
// flight (finished or cancelled), then exits with status 0.
func (s *suite) eof(t *testing.T) {
	n := s.o.Concurrency
	const d = 300 * time.Millisecond
	r := s.startRaw(t)
	r.handshake(n, ipc.DefaultMaxFrame)
	for i := 1; i <= n; i++ {
		r.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":%q,"params":%s}`, i, s.o.Sleep, sleepParams(d)))
	}
	time.Sleep(50 * time.Millisecond) // in flight
	r.closeInput()
	got := map[uint64]bool{}
	for range n {
		res := r.result(d + settle)
		assert.NotContains(t, got, res.ID, "unexpected result, a second one for its id: %s", res.raw)
		assert.GreaterOrEqual(t, res.ID, uint64(1), "unexpected result: %s", res.raw)
		assert.LessOrEqual(t, res.ID, uint64(n), "unexpected result: %s", res.raw)
		got[res.ID] = true
	}
	f, ok := r.tryNext(settle)
	assert.False(t, ok, "a frame after the last result: %s", f.raw)
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout()

	// The same through the pool's side: Close finds every request answered
	// and the worker gone with status 0.
	w := s.start(t, n)
	calls := make([]*ipc.Call, n)
	for i := range calls {
		calls[i] = send(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(d)})
	}
	time.Sleep(50 * time.Millisecond)
	w.Close(d + settle)
	for _, c := range calls {
		res := await(t, c, s.o.Sleep, settle)
		if res.Err != nil {
			assert.NotEqual(t, taskerr.WorkerCrashed, res.Err.Code, "request %d got no result before the worker exited: %v",
				c.ID(), res.Err)
		}
	}
	assert.Nil(t, w.Err(), "after Close")
}

// protocolErrors: a frame that breaks the protocol makes the worker stop
// reading, send the results of the requests in flight and exit with a
// non-zero status. A frame over the limit is refused from its length alone.
func (s *suite) protocolErrors(t *testing.T) {
	const maxFrame = 64 << 10
	header := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	for _, c := range []struct {
		name  string
		bytes []byte
		close bool // then close the input
	}{
		{"frame over max_frame, body never sent", header(1 << 30), false},
		{"frame just over max_frame", append(header(maxFrame+1), bytes.Repeat([]byte{' '}, 100)...), false},
		{"frame under 2 bytes", append(header(1), '{'), false},
		{"not JSON", frame(`{"type":"run", oops`), false},
		{"not an object", frame(`[1,2,3]`), false},
		{"no type", frame(`{"id":7}`), false},
		{"run without an id", frame(fmt.Sprintf(`{"type":"run","workload":%q}`, s.o.Noop)), false},
		{"run with id 0", frame(fmt.Sprintf(`{"type":"run","id":0,"workload":%q}`, s.o.Noop)), false},
		{"run with the id of a run in flight", frame(fmt.Sprintf(`{"type":"run","id":1,"workload":%q,"params":%s}`,
			s.o.Sleep, sleepParams(10*time.Second))), false},
		{"truncated frame", append(header(100), `{"type":"run"`...), true},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			r := s.startRaw(t)
			r.handshake(2, maxFrame)
			// A request in flight, whose result must come before the exit.
			r.send(fmt.Sprintf(`{"type":"run","id":1,"workload":%q,"params":%s}`, s.o.Sleep, sleepParams(300*time.Millisecond)))
			time.Sleep(30 * time.Millisecond)
			r.write(c.bytes)
			if c.close {
				r.closeInput()
			}
			start := time.Now()
			res := r.result(settle)
			assert.Equal(t, uint64(1), res.ID, "got %s, want the result of run 1", res.raw)
			code := r.wait()
			assert.NotZero(t, code, "exit status 0 after a protocol error, want non-zero")
			t.Logf("exit status %d after %s", code, time.Since(start).Round(time.Millisecond))
			r.cleanStdout()
		})
	}
}

// notAChild: a worker whose XK6_CONCURRENCY_WORKER is not its parent's
// pid serves: a wrapper that forks (timeout, sh -c, npx) stands between
// the pool and the worker. A pool that is gone shows as the end of stdin.
func (s *suite) notAChild(t *testing.T) {
	r := s.startRawEnv(t, ipc.WorkerEnv+"=1") // init: not the worker's parent
	r.handshake(1, ipc.DefaultMaxFrame)
	r.send(fmt.Sprintf(`{"type":"run","id":1,"workload":%q}`, s.o.Noop))
	res := r.result(settle)
	assert.Equal(t, uint64(1), res.ID, "with %s=1: got %s, want the result of run 1", ipc.WorkerEnv, res.raw)
	assert.Nil(t, res.Error, "with %s=1: got %s, want the result of run 1", ipc.WorkerEnv, res.raw)
	r.closeInput()
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout()
}

// wrapped: the worker started through a shell that forks it and waits
// (sh -c '"$@"; exit $?') serves through the pool's side and ends cleanly
// when the pool closes it.
func (s *suite) wrapped(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to wrap the worker in")
	}
	argv := append([]string{sh, "-c", `"$@"; exit $?`, "sh"}, s.argv...)
	w := s.startArgv(t, argv, 2)
	alive(t, w, s.o.Noop)
	r := call(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(20 * time.Millisecond)}, settle)
	assert.Nil(t, r.Err, "%s through a wrapper", s.o.Sleep)
	w.Close(settle)
	assert.Nil(t, w.Err(), "the wrapped worker did not end cleanly")
}

// frame builds a frame around a JSON text.
func frame(payload string) []byte {
	var b bytes.Buffer
	_ = ipc.WriteFrame(&b, []byte(payload))
	return b.Bytes()
}

// --- the raw pipes ---------------------------------------------------------

// rawWorker is the worker program on plain pipes, for checks the pool's
// side cannot make.
type rawWorker struct {
	t       *testing.T
	cmd     *exec.Cmd
	in      *os.File
	frames  chan rawFrame
	readErr error // why stdout stopped being frames; read once frames is closed
	stderr  *syncBuffer
	exited  chan struct{}
	// acceptsBatch says the pool's hello listed "batch"; batches counts
	// the batch frames read (by readLoop).
	acceptsBatch atomic.Bool
	batches      int
}

type rawFrame struct {
	raw []byte
	typ string
	// batch numbers the batch frame a result came in (from 1; 0: a frame
	// of its own).
	batch int
}

// rawResult is a result frame.
type rawResult struct {
	ID    uint64          `json:"id"`
	Value json.RawMessage `json:"value"`
	Error *ipc.WireError  `json:"error"`
	RunNS *float64        `json:"run_ns"`
	raw   []byte
}

func (s *suite) startRaw(t *testing.T) *rawWorker {
	t.Helper()
	return s.startRawEnv(t, ipc.WorkerEnv+"="+strconv.Itoa(os.Getpid()))
}

func (s *suite) startRawEnv(t *testing.T, marker string) *rawWorker {
	t.Helper()
	inR, inW, err := os.Pipe()
	require.NoError(t, err)
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	r := &rawWorker{t: t, in: inW, frames: make(chan rawFrame, 64), stderr: &syncBuffer{}, exited: make(chan struct{})}
	// #nosec G204 -- the worker under test, named by the suite's caller
	//nolint:noctx // the test ends it
	r.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	r.cmd.Dir = s.o.Dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, ipc.WorkerEnv+"=") {
			env = append(env, kv)
		}
	}
	r.cmd.Env = append(append(env, s.o.Env...), marker)
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = inR, outW, r.stderr
	err = r.cmd.Start()
	_ = inR.Close()
	_ = outW.Close()
	if err != nil {
		_ = inW.Close()
		_ = outR.Close()
	}
	require.NoError(t, err, "starting %v", s.argv)
	go r.readLoop(outR)
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = r.in.Close()
		select {
		case <-r.exited:
		case <-time.After(2 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() && r.stderr.Len() > 0 {
			t.Logf("worker stderr:\n%s", r.stderr.String())
		}
	})
	return r
}

func (r *rawWorker) readLoop(out *os.File) {
	defer close(r.frames)
	defer func() { _ = out.Close() }()
	br := bufio.NewReader(out)
	for {
		b, err := ipc.ReadFrame(br, nil, ipc.DefaultMaxFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.readErr = fmt.Errorf("stdout is not only frames: %w", err)
			}
			return
		}
		var m struct {
			Type *string `json:"type"`
		}
		if err := json.Unmarshal(b, &m); err != nil || len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
			r.readErr = fmt.Errorf("stdout has a frame that is not a JSON object: %q", clip(b))
			return
		}
		if m.Type != nil && *m.Type == ipc.TypeBatch {
			if r.readErr = r.batchResults(b); r.readErr != nil {
				return
			}
			continue
		}
		if m.Type == nil || (*m.Type != "hello" && *m.Type != "result") {
			r.readErr = fmt.Errorf("stdout has a frame that is neither a hello nor a result: %q", clip(b))
			return
		}
		r.frames <- rawFrame{raw: b, typ: *m.Type}
	}
}

// next returns the next frame from the worker, or fails the test.
func (r *rawWorker) next(within time.Duration, what string) rawFrame {
	r.t.Helper()
	f, ok := r.tryNext(within)
	if !ok {
		require.NoError(r.t, r.readErr, "waiting for %s", what)
		require.FailNow(r.t, "no frame in time", "no %s within %s (or the worker's output ended)", what, within)
	}
	return f
}

// tryNext returns the next frame, or false when the output ended or nothing
// came within the time.
func (r *rawWorker) tryNext(within time.Duration) (rawFrame, bool) {
	select {
	case f, ok := <-r.frames:
		return f, ok
	case <-time.After(within):
		return rawFrame{}, false
	}
}

// handshake reads the worker's hello and sends the pool's.
func (r *rawWorker) handshake(concurrency, maxFrame int) {
	r.t.Helper()
	f := r.next(10*time.Second, "the worker's hello")
	require.Equal(r.t, "hello", f.typ, "the first frame is not a hello: %s", f.raw)
	r.send(fmt.Sprintf(`{"type":"hello","protocol":1,"concurrency":%d,"max_frame":%d}`, concurrency, maxFrame))
}

// result returns the next frame, which must be a result.
func (r *rawWorker) result(within time.Duration) rawResult {
	r.t.Helper()
	f := r.next(within, "a result")
	var res rawResult
	require.Equal(r.t, "result", f.typ, "not a valid result: %s", f.raw)
	require.NoError(r.t, json.Unmarshal(f.raw, &res), "not a valid result: %s", f.raw)
	require.NotZero(r.t, res.ID, "not a valid result: %s", f.raw)
	res.raw = f.raw
	return res
}

func (r *rawWorker) send(payload string) { r.write(frame(payload)) }

// write writes bytes to the worker's input; a worker that exited already is
// not an error here (what follows checks what it did).
func (r *rawWorker) write(b []byte) { _, _ = r.in.Write(b) }

func (r *rawWorker) closeInput() { _ = r.in.Close() }

// wait waits for the worker to exit and returns its exit status (-1 for a signal).
func (r *rawWorker) wait() int {
	r.t.Helper()
	select {
	case <-r.exited:
	case <-time.After(settle):
		require.FailNow(r.t, "the worker did not exit in time", "within %s", settle)
	}
	return r.cmd.ProcessState.ExitCode()
}

// cleanStdout checks, once the worker exited, that all it wrote to stdout
// was whole frames.
func (r *rawWorker) cleanStdout() {
	r.t.Helper()
	for f := range r.frames {
		assert.Fail(r.t, "an unexpected frame", "%s", f.raw)
	}
	assert.NoError(r.t, r.readErr)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(x string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(x)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
