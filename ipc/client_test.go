package ipc

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The client's tests run it in memory, over io.Pipes: against Serve (the
// real worker side), or against the test itself playing a worker that
// breaks the protocol. They are symmetric with serve_test.go, which plays
// the pool against Serve. What only a process can show (exit statuses,
// signals, stderr, reaping) is in worker_test.go and supervise_test.go.

// fault is one report of a client to its owner.
type fault struct {
	kind   faultKind
	detail string
}

// conn is a client and its owner's side, in memory. As a Worker does, the
// owner shuts the client at its first fault; the test settles what is left
// with abandon.
type conn struct {
	c      *client
	faults chan fault
	// The worker's ends: what the client wrote, and where it reads.
	workerIn  *io.PipeReader
	workerOut *io.PipeWriter
	clientOut *io.PipeWriter
}

// dial starts a client whose worker is Serve over testRegistry.
func dial(t *testing.T, cfg clientConfig) *conn {
	t.Helper()
	k := pipes(t, cfg)
	served := make(chan error, 1)
	go func() {
		err := Serve(k.workerIn, k.workerOut, testRegistry())
		_ = k.workerOut.Close()
		served <- err
	}()
	t.Cleanup(func() {
		_ = k.clientOut.Close()
		select {
		case err := <-served:
			assert.NoError(t, err, "Serve")
		case <-time.After(10 * time.Second):
			assert.Fail(t, "Serve did not return after its input closed")
		}
	})
	k.c.start()
	k.ready(t)
	return k
}

// pipes connects a client to pipes whose other ends the test holds.
func pipes(t *testing.T, cfg clientConfig) *conn {
	t.Helper()
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	inR, inW := io.Pipe()   // client to worker
	outR, outW := io.Pipe() // worker to client
	k := &conn{faults: make(chan fault, 16), workerIn: inR, workerOut: outW, clientOut: inW}
	k.c = newClient(outR, inW, cfg, func(kind faultKind, detail string) {
		k.c.stop()
		k.faults <- fault{kind, detail}
	})
	t.Cleanup(func() {
		_ = inW.Close()
		_ = outW.Close()
		select {
		case <-k.c.done:
		case <-time.After(10 * time.Second):
			assert.Fail(t, "the client's reader did not return")
		}
		_ = inR.Close()
		_ = outR.Close()
	})
	return k
}

// ready waits for the worker's hello to be accepted.
func (k *conn) ready(t *testing.T) {
	t.Helper()
	select {
	case <-k.c.ready:
	case f := <-k.faults:
		require.FailNow(t, "fault before the hello", "%+v", f)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no hello within 10s")
	}
}

// fault waits for the client's next report.
func (k *conn) fault(t *testing.T) fault {
	t.Helper()
	select {
	case f := <-k.faults:
		return f
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no fault within 10s")
	}
	return fault{}
}

// do sends one request and waits for its response.
func (k *conn) do(t *testing.T, c *Call, name, params string, timeout time.Duration) Response {
	t.Helper()
	var p []byte
	if params != "" {
		p = []byte(params)
	}
	require.NoError(t, k.c.send(c, Request{Workload: name, Params: p, Timeout: timeout}), "send %s", name)
	return k.wait(t, c)
}

func (k *conn) wait(t *testing.T, c *Call) Response {
	t.Helper()
	select {
	case <-c.Done():
		return c.Response
	case f := <-k.faults:
		require.FailNow(t, "fault instead of a response", "%+v", f)
	case <-time.After(20 * time.Second):
		require.FailNow(t, "no response within 20s")
	}
	return Response{}
}

// writeFrame writes a frame as the worker.
func (k *conn) writeFrame(t *testing.T, payload string) {
	t.Helper()
	require.NoError(t, WriteFrame(k.workerOut, []byte(payload)), "writing %s", payload)
}

// readFrames passes what the client writes to frames, as a worker reads it.
func (k *conn) readFrames() <-chan []byte {
	frames := make(chan []byte, 64)
	go func() {
		defer close(frames)
		br := bufio.NewReader(k.workerIn)
		for {
			f, err := ReadFrame(br, nil, DefaultMaxFrame)
			if err != nil {
				return
			}
			frames <- f
		}
	}()
	return frames
}

const fakeHello = `{"type":"hello","protocol":1,"pid":1,"workloads":[{"name":"t.echo","kind":"cpu"}]}`

func TestClientHello(t *testing.T) {
	t.Parallel()
	k := dial(t, clientConfig{Concurrency: 3})
	reg := testRegistry()
	assert.Len(t, k.c.infos, len(reg.Names()), "hello lists %d workloads, the registry has %d", len(k.c.infos), len(reg.Names()))
	for _, n := range reg.Names() {
		assert.Contains(t, k.c.offers, n, "hello lacks %s", n)
	}
	assert.NotContains(t, k.c.offers, "nope", "offers a workload not in the hello")
	assert.Contains(t, k.c.features, FeaturePrefetch, "features")
	// A workload with a description keeps it.
	for _, info := range k.c.infos {
		if info.Name == "t.echo" {
			assert.Equal(t, "returns its params", info.Description, "t.echo's description")
		}
	}
}

func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	k := dial(t, clientConfig{Concurrency: 8})
	c := NewCall()
	r := k.do(t, c, "t.echo", `{"a":1,"s":"x\"y","n":null}`, 0)
	require.Nil(t, r.Err, "echo")
	require.Equal(t, `{"a":1,"n":null,"s":"x\"y"}`, string(r.Value), "echo") //nolint:testifylint // byte-exact on purpose: JSONEq would accept the keys in another order
	assert.Positive(t, r.RunTime, "run time")
	firstID := c.ID()
	r = k.do(t, c, "t.noop", "", 0)
	require.Nil(t, r.Err, "noop")
	require.Nil(t, r.Value, "noop")
	assert.NotEqual(t, firstID, c.ID(), "a reused call kept its id")
	cases := []struct {
		name, params string
		timeout      time.Duration
		code         taskerr.Code
		message      string
	}{
		{"nope", "", 0, taskerr.UnknownWorkload, `"nope"`},
		{"t.sleep", `{"ms":10000}`, 100 * time.Millisecond, taskerr.Timeout, "t.sleep: timed out after 100ms"},
		{"t.fail", "", 0, taskerr.Workload, "t.fail: boom"},
		{"t.panic", "", 0, taskerr.Workload, "kaboom"},
		{"t.badvalue", "", 0, taskerr.Workload, "cannot send its value as JSON"},
		{"t.sleep", `{"ms":-1}`, 0, taskerr.InvalidArgument, "ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name+tc.params, func(t *testing.T) {
			t.Parallel()
			r := k.do(t, NewCall(), tc.name, tc.params, tc.timeout)
			require.NotNil(t, r.Err, "want %s containing %q", tc.code, tc.message)
			require.Equal(t, tc.code, r.Err.Code, "got %+v", r.Err)
			require.Contains(t, r.Err.Message, tc.message)
		})
	}
}

// TestClientCallbacks: a call made with NewCallFunc is called back once per
// send, and may send again from its callback.
func TestClientCallbacks(t *testing.T) {
	t.Parallel()
	k := dial(t, clientConfig{})
	const n = 50
	var settled atomic.Int64
	done := make(chan struct{})
	var call *Call
	call = NewCallFunc(func(c *Call) {
		assert.Nil(t, c.Err, "call %d", settled.Load())
		assert.Equal(t, strconv.Itoa(int(settled.Load())), string(c.Value), "call %d", settled.Load())
		if settled.Add(1) == n {
			close(done)
			return
		}
		err := k.c.send(call, Request{Workload: "t.sleep", Params: fmt.Appendf(nil, `{"ms":0,"v":%d}`, settled.Load())})
		assert.NoError(t, err, "send from the callback")
	})
	require.NoError(t, k.c.send(call, Request{Workload: "t.sleep", Params: []byte(`{"ms":0,"v":0}`)}))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the callbacks did not all come within 20s", "%d of %d callbacks", settled.Load(), n)
	}
}

func TestClientCancel(t *testing.T) {
	t.Parallel()
	k := dial(t, clientConfig{Concurrency: 2})
	running, waiting := NewCall(), NewCall()
	for _, c := range []*Call{running, NewCall(), waiting} {
		require.NoError(t, k.c.send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":60000}`)}))
	}
	k.c.cancel(waiting.ID()) // the third of two at once: it waits, and is answered without running
	k.c.cancel(running.ID())
	k.c.cancel(12345) // not in flight: nothing is sent
	r := k.wait(t, waiting)
	require.NotNil(t, r.Err, "waiting")
	require.Contains(t, r.Err.Message, "cancelled by the pool before it started", "waiting")
	r = k.wait(t, running)
	require.NotNil(t, r.Err, "running")
	require.Contains(t, r.Err.Message, "t.sleep: cancelled by the pool", "running")
}

func TestClientPipelined(t *testing.T) {
	t.Parallel()
	k := dial(t, clientConfig{Concurrency: 16})
	calls := make([]*Call, 64)
	for i := range calls {
		calls[i] = NewCall()
		require.NoError(t, k.c.send(calls[i], Request{Workload: "t.sleep", Params: fmt.Appendf(nil, `{"ms":1,"v":%d}`, i)}))
	}
	for i, c := range calls {
		r := k.wait(t, c)
		assert.Nil(t, r.Err, "call %d", i)
		assert.Equal(t, strconv.Itoa(i), string(r.Value), "call %d", i)
	}
}

func TestClientFrameLimits(t *testing.T) {
	t.Parallel()
	k := dial(t, clientConfig{MaxFrame: 1024})
	c := NewCall()
	r := k.do(t, c, "t.echo", `{"s":"`+strings.Repeat("z", 2000)+`"}`, 0)
	require.NotNil(t, r.Err, "big request")
	require.Equal(t, taskerr.InvalidArgument, r.Err.Code, "big request: %+v", r.Err)
	require.Contains(t, r.Err.Message, "over the 1024-byte frame limit", "big request")
	r = k.do(t, c, "t.big", `{"n":2000}`, 0)
	require.NotNil(t, r.Err, "big result")
	require.Equal(t, taskerr.Workload, r.Err.Code, "big result: %+v", r.Err)
	require.Contains(t, r.Err.Message, "over the 1024-byte frame limit", "big result")
	r = k.do(t, c, "t.echo", `[1]`, 0)
	require.NotNil(t, r.Err, "params not an object")
	require.Equal(t, taskerr.InvalidArgument, r.Err.Code, "params not an object: %+v", r.Err)
	r = k.do(t, c, "t.big", `{"n":10}`, 0)
	require.Nil(t, r.Err, "small result")
	require.Equal(t, `"xxxxxxxxxx"`, string(r.Value), "small result")
	// A call in callback mode gets the refusal as send's error, not a callback.
	called := false
	cb := NewCallFunc(func(*Call) { called = true })
	err := k.c.send(cb, Request{Workload: "t.echo", Params: []byte(`[1]`)})
	var e *taskerr.Error
	require.ErrorAs(t, err, &e, "callback mode")
	require.Equal(t, taskerr.InvalidArgument, e.Code, "callback mode: %v", err)
	require.False(t, called, "callback mode: the callback was called")
}

// TestClientLenient: a result with an error name PROTOCOL.md does not list,
// a float run_ns and both value and error; and one with nulls.
func TestClientLenient(t *testing.T) {
	t.Parallel()
	k := pipes(t, clientConfig{})
	frames := k.readFrames()
	k.c.start()
	<-frames // the pool's hello
	k.writeFrame(t, fakeHello)
	k.ready(t)
	c := NewCall()
	for i, result := range []string{
		`{"type":"result","id":%d,"error":{"name":"ValueError","message":"t.x: bad"},"run_ns":1500.0,"value":5}`,
		`{"type":"result","id":%d,"value":null,"error":null}`,
		`{"type":"result","id":%d,"error":{"name":"TimeoutError"},"run_ns":-3}`,
	} {
		require.NoError(t, k.c.send(c, Request{Workload: "t.echo"}))
		<-frames
		k.writeFrame(t, fmt.Sprintf(result, c.ID()))
		r := k.wait(t, c)
		switch i {
		case 0:
			require.Equal(t, &taskerr.Error{Code: taskerr.Workload, Message: "t.x: bad"}, r.Err, "%d: got %+v", i, r)
			require.Equal(t, time.Duration(1500), r.RunTime, "%d: got %+v", i, r)
			require.Nil(t, r.Value, "%d: got %+v", i, r)
		case 1:
			require.Nil(t, r.Err, "%d: got %+v", i, r)
			require.Nil(t, r.Value, "%d: got %+v", i, r)
			require.Zero(t, r.RunTime, "%d: got %+v", i, r)
		case 2:
			require.NotNil(t, r.Err, "%d: got %+v", i, r)
			require.Equal(t, taskerr.Timeout, r.Err.Code, "%d: got %+v", i, r)
			require.Contains(t, r.Err.Message, "gave no message", "%d: got %+v", i, r)
			require.Zero(t, r.RunTime, "%d: got %+v", i, r)
		}
	}
}

func frameOf(payload string) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(len(payload)))) + payload
}

// TestClientProtocolErrors: a worker that breaks the protocol, before or
// after its hello, is reported once, with what it sent; the call in flight
// settles once when the owner abandons it.
func TestClientProtocolErrors(t *testing.T) {
	t.Parallel()
	result := func(s string) string { return frameOf(fakeHello) + frameOf(s) }
	cases := []struct {
		name  string
		sent  string // raw bytes, after the pool's hello
		close bool   // the worker's output ends after them
		kind  faultKind
		want  string
	}{
		{"bad json", result(`{"type": "result", oops`), false, faultProtocol, "sent a frame that is not valid JSON"},
		{"not an object", result(`[1, 2]`), false, faultProtocol, "not a JSON object"},
		{"no type", result(`{"id": 1}`), false, faultProtocol, "a message without a type"},
		{"oversize", frameOf(fakeHello) + "\x7f\xff\xff\xff", false, faultProtocol, "over the 16777216-byte limit"},
		{"too small", frameOf(fakeHello) + "\x00\x00\x00\x01{", false, faultProtocol, "too small"},
		{
			"truncated", frameOf(fakeHello) + "\x00\x00\x00\x64" + strings.Repeat("x", 10), true, faultProtocol,
			"truncated frame: the stream ended after 10 of 100 bytes (90 missing)",
		},
		{"truncated header", frameOf(fakeHello) + "\x00\x00", true, faultProtocol, "after 2 of the 4 length bytes"},
		{
			"junk", frameOf(fakeHello) + "Loading model...\n", false, faultProtocol,
			`wrote text to its standard output, which is for protocol frames only (print to stderr instead): "Loading model...\n"`,
		},
		{
			"json without prefix", frameOf(fakeHello) + `{"type":"result","id":1}`, false, faultProtocol,
			"a JSON message without its 4-byte length prefix?",
		},
		{"unknown id", result(`{"type":"result","id":999}`), false, faultProtocol, "sent a result for id 999, which is not in flight"},
		{"no id", result(`{"type":"result"}`), false, faultProtocol, "sent a result without a valid id"},
		{"malformed error", result(`{"type":"result","id":1,"error":"boom"}`), false, faultProtocol, "with a malformed error"},
		{"run_ns", result(`{"type":"result","id":1,"run_ns":"soon"}`), false, faultProtocol, "whose run_ns is not a number"},
		{"second hello", result(fakeHello), false, faultProtocol, "sent a second hello"},
		{"unknown type", result(`{"type":"progress","id":1}`), false, faultProtocol, `sent a message of unknown type "progress"`},
		{"result before hello", frameOf(`{"type":"result","id":1}`), false, faultHello, `sent a "result" message before its hello`},
		{"bad hello json", frameOf(`{"type":"hello","protocol":"one"}`), false, faultHello, "sent a malformed hello"},
		{"no protocol", frameOf(`{"type":"hello"}`), false, faultHello, "sent a hello without a protocol version, want 1"},
		{"wrong protocol", frameOf(`{"type":"hello","protocol":2}`), false, faultHello, "speaks protocol 2, want 1"},
		{
			"nameless workload", frameOf(`{"type":"hello","protocol":1,"workloads":[{"kind":"cpu"}]}`), false, faultHello,
			"whose workload #1 has no name",
		},
		{
			"bad kind", frameOf(`{"type":"hello","protocol":1,"workloads":[{"name":"w","kind":"gpu"}]}`), false, faultHello,
			`whose workload "w" has kind "gpu"`,
		},
		{"eof", frameOf(fakeHello), true, faultEOF, "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := pipes(t, clientConfig{})
			frames := k.readFrames()
			k.c.start()
			<-frames // the pool's hello
			go func() {
				_, _ = io.WriteString(k.workerOut, tc.sent)
				if tc.close {
					_ = k.workerOut.Close()
				}
			}()
			var settled atomic.Int32
			call := NewCallFunc(func(*Call) { settled.Add(1) })
			sent := false
			if tc.kind != faultHello {
				select {
				case <-k.c.ready:
				case <-time.After(10 * time.Second):
					require.FailNow(t, "no hello")
				}
				// The fault may come first: then send refuses.
				err := k.c.send(call, Request{Workload: "t.echo"})
				if err != nil {
					require.ErrorIs(t, err, errShut)
				}
				sent = err == nil
			}
			f := k.fault(t)
			require.Equal(t, tc.kind, f.kind, "fault %q", f.detail)
			require.Contains(t, f.detail, tc.want, "fault of kind %d", f.kind)
			<-k.c.done // one fault per reader: it has returned
			k.c.abandon("gone")
			k.c.abandon("gone again")
			assert.Equal(t, map[bool]int32{true: 1}[sent], settled.Load(), "how many times the call settled")
			require.ErrorIs(t, k.c.send(NewCall(), Request{Workload: "t.echo"}), errShut, "send after abandon")
			select {
			case f := <-k.faults:
				assert.Fail(t, "a second fault", "%+v", f)
			default:
			}
		})
	}
}

// TestClientPeerGone: the worker's side ends with calls in flight, in either
// direction: each call settles exactly once, by abandon, however many times
// abandon runs.
func TestClientPeerGone(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"output", "input"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			k := pipes(t, clientConfig{Concurrency: 4})
			frames := k.readFrames()
			k.c.start()
			<-frames // the pool's hello
			k.writeFrame(t, fakeHello)
			k.ready(t)
			var mu sync.Mutex
			settled := map[*Call]int{}
			calls := make([]*Call, 8)
			for i := range calls {
				calls[i] = NewCallFunc(func(c *Call) {
					mu.Lock()
					settled[c]++
					mu.Unlock()
					assert.Equal(t, &taskerr.Error{Code: taskerr.WorkerCrashed, Message: "worker gone"}, c.Err, "settled with %+v", c.Err)
				})
				require.NoError(t, k.c.send(calls[i], Request{Workload: "t.echo"}))
				<-frames
			}
			want := faultEOF
			if end == "output" {
				_ = k.workerOut.Close()
			} else {
				_ = k.workerIn.Close()
				k.c.cancel(calls[0].ID()) // the write fails
				want = faultWrite
			}
			f := k.fault(t)
			require.Equal(t, want, f.kind, "fault %+v", f)
			var wg sync.WaitGroup
			for range 3 { // abandon races itself: still once each
				wg.Go(func() { k.c.abandon("worker gone") })
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for i, c := range calls {
				assert.Equal(t, 1, settled[c], "how many times call %d settled", i)
			}
			assert.ErrorIs(t, k.c.send(NewCall(), Request{Workload: "t.echo"}), errShut, "send after abandon")
		})
	}
}

// TestClientServeGoesAway: Serve's output ends while it runs calls: they
// settle once each, by abandon, and Serve returns once its input ends.
func TestClientServeGoesAway(t *testing.T) {
	t.Parallel()
	k := pipes(t, clientConfig{Concurrency: 2})
	served := make(chan error, 1)
	go func() { served <- Serve(k.workerIn, k.workerOut, testRegistry()) }()
	k.c.start()
	k.ready(t)
	calls := []*Call{NewCall(), NewCall(), NewCall()}
	for _, c := range calls {
		require.NoError(t, k.c.send(c, Request{Workload: "t.sleep", Params: []byte(`{"ms":60000}`)}))
	}
	_ = k.workerOut.Close()
	f := k.fault(t)
	require.Equal(t, faultEOF, f.kind, "fault %+v", f)
	k.c.abandon("worker gone")
	for i, c := range calls {
		r := k.wait(t, c)
		if assert.NotNil(t, r.Err, "call %d", i) {
			assert.Equal(t, "worker gone", r.Err.Message, "call %d", i)
		}
		select {
		case <-c.Done():
			assert.Fail(t, "a call settled twice", "call %d", i)
		default:
		}
	}
	_ = k.clientOut.Close()
	select {
	case err := <-served: // its results could not be written
		require.ErrorContains(t, err, "writing results", "Serve")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Serve did not return once its input ended")
	}
}
