package ipc

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// Request is one task to run on a worker.
type Request struct {
	Workload string
	// Params is a JSON object, or nil for {}.
	Params []byte
	// Timeout is sent as timeout_ms (rounded up); 0 is none.
	Timeout time.Duration
	// OnWrite, if not nil, runs once the request is in line to reach the
	// worker, under the lock that orders the writes: its calls see the
	// requests in the order the worker reads them (a pool that sends more
	// than the worker runs at once learns which ones wait). It must be
	// quick and must not call the Worker. It does not run when Send returns
	// an error.
	OnWrite func()
}

// Response is how a request ended.
type Response struct {
	// Value is the result's JSON value; nil means null. It is only valid
	// until its Call is sent again.
	Value json.RawMessage
	// Err is a failure the worker reported (its class from the wire name;
	// unknown names are Workload failures), or a WorkerCrashed failure when
	// the worker died, broke the protocol, was killed or was closed with
	// the request in flight.
	Err *taskerr.Error
	// RunTime is run_ns from the worker; 0 if it never answered.
	RunTime time.Duration
}

// Call is a request in flight on a worker. It is reusable, one request at a
// time: Send it, receive from Done (or be called back), read its Response,
// Send it again.
type Call struct {
	Response
	id   atomic.Uint64 // read by Cancel callers while the call may be reused
	done chan struct{}
	fn   func(*Call) // callback mode: run instead of signalling done
	buf  []byte      // the request's frame, reused
	val  []byte      // the response's value, reused
}

// NewCall returns a call ready to Send, that signals Done when it settles.
func NewCall() *Call { return &Call{done: make(chan struct{}, 1)} }

// NewCallFunc returns a call that runs fn when it settles, instead of
// signalling Done: on the worker's reader goroutine for a result, or on the
// goroutine that found the worker gone. fn must not block; it may Send on
// another call (not on this one while it runs). Send never runs fn itself: a
// request it refuses is its error. Saving the hand-off to a waiting
// goroutine is what makes this mode cheaper.
func NewCallFunc(fn func(*Call)) *Call { return &Call{fn: fn} }

// Done receives exactly one signal per accepted Send, when the call settles.
// Receive it before reading the Response or reusing the call.
func (c *Call) Done() <-chan struct{} { return c.done }

// ID is the id of the call's latest request, for Cancel.
func (c *Call) ID() uint64 { return c.id.Load() }

func (c *Call) settle() {
	if c.fn != nil {
		c.fn(c)
		return
	}
	select {
	case c.done <- struct{}{}:
	default: // the caller did not receive the previous signal: its bug, never block the reader
	}
}

// refuse settles c with a failure found before sending, or, in callback
// mode, returns it (so that Send never runs the callback itself).
func (c *Call) refuse(e *taskerr.Error) error {
	if c.fn != nil {
		return e
	}
	c.Err = e
	c.settle()
	return nil
}

// faultKind says how the peer of a client broke the protocol or went away.
type faultKind int

const (
	// faultProtocol: it sent a frame or message that breaks the protocol;
	// the detail says what it sent.
	faultProtocol faultKind = iota + 1
	// faultHello: its hello was not one this client can work with; the
	// detail is the whole phrase.
	faultHello
	// faultEOF: its output ended (or could not be read).
	faultEOF
	// faultWrite: writing to it failed; the detail is the error.
	faultWrite
)

// errShut is send's error once the client's owner has shut it.
var errShut = errors.New("the client is shut")

// clientConfig is what a client puts in the pool's hello.
type clientConfig struct {
	Concurrency int // at least 1
	MaxFrame    int // at least minFrame, at most math.MaxUint32
	Module      json.RawMessage
}

// client is the pool's side of the protocol over a reader and a writer: it
// sends the pool's hello and reads the peer's (hello), pipelines requests
// (send), cancels them (cancel), and settles each call with its result
// (results, read by one goroutine). It knows nothing of processes: how the
// peer broke the protocol or went away is reported to onFault, once per
// reader and once for the writer, and the owner decides what follows; the
// owner shuts the client (no more sends) and settles what is in flight with
// abandon.
type client struct {
	cfg     clientConfig
	in      io.Reader
	out     frameWriter
	nextID  atomic.Uint64
	onFault func(kind faultKind, detail string)
	wrote   atomic.Bool // a write failed: reported once

	// Set by the reader before ready is closed, then read-only.
	infos    []workload.Info
	features []string
	offers   map[string]struct{}

	ready chan struct{} // closed once the peer's hello is accepted
	done  chan struct{} // closed once the reader has returned

	mu    sync.Mutex
	calls map[uint64]*Call
	shut  bool // no more sends
}

// newClient returns a client over in and out; start begins the exchange.
func newClient(in io.Reader, out io.Writer, cfg clientConfig, onFault func(faultKind, string)) *client {
	c := &client{
		cfg: cfg, in: in, onFault: onFault,
		ready: make(chan struct{}), done: make(chan struct{}),
		calls: make(map[uint64]*Call, cfg.Concurrency),
	}
	c.out.bw = bufio.NewWriterSize(out, ioBufSize)
	return c
}

// start starts the reader and sends the pool's hello. A write that fails is
// reported to onFault, and so is the peer's answer, or its lack of one.
func (c *client) start() {
	go c.read()
	hello := fmt.Appendf(beginFrame(nil),
		`{"type":"hello","protocol":%d,"concurrency":%d,"max_frame":%d,"features":["%s"]}`,
		ProtocolVersion, c.cfg.Concurrency, c.cfg.MaxFrame, FeatureBatch)
	c.write(endFrame(appendModule(hello, c.cfg.Module)))
}

// helloed reports whether the peer's hello was accepted.
func (c *client) helloed() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// write writes a frame; a failure is reported once.
func (c *client) write(frame []byte) {
	if err := c.out.write(frame); err != nil {
		c.writeFailed(err)
	}
}

func (c *client) writeFailed(err error) {
	if c.wrote.CompareAndSwap(false, true) {
		c.onFault(faultWrite, err.Error())
	}
}

// send sends req as call's request, with a fresh id: see Worker.Send. Its
// errors are refuse's, and errShut once the client is shut.
func (c *client) send(call *Call, req Request) error {
	frame, err := c.encodeRun(call, req)
	if frame == nil {
		return err
	}
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return errShut
	}
	c.calls[call.ID()] = call
	c.mu.Unlock()
	// From here on call may settle, and in callback mode be sent again, at
	// any moment: only the local frame is touched (nothing reads it once written).
	if err := c.out.writeThen(frame, req.OnWrite); err != nil {
		c.writeFailed(err)
	}
	return nil
}

// encodeRun gives call a fresh id and returns req's run frame, in call's
// buffer; or nil and refuse's error for a request it refuses (params that
// are not an object, or a frame over the limit).
func (c *client) encodeRun(call *Call, req Request) ([]byte, error) {
	call.Response = Response{}
	id := c.nextID.Add(1)
	call.id.Store(id)
	if req.Params != nil && !isObject(req.Params) {
		return nil, call.refuse(taskerr.New(taskerr.InvalidArgument, "%s: params must be a JSON object", req.Workload))
	}
	var timeoutMS int64
	if req.Timeout > 0 {
		timeoutMS = int64((req.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	frame := appendRun(call.buf, id, req.Workload, req.Params, timeoutMS)
	if n := len(frame) - headerSize; n > c.cfg.MaxFrame {
		return nil, call.refuse(taskerr.New(taskerr.InvalidArgument,
			"%s: params of %d bytes make a request of %d bytes, over the %d-byte frame limit",
			req.Workload, len(req.Params), n, c.cfg.MaxFrame))
	}
	call.buf = frame
	if cap(frame) > 1<<20 {
		call.buf = nil // the next request gets a fresh buffer
	}
	return frame, nil
}

// cancel sends a cancel for request id, if it is in flight: best effort.
func (c *client) cancel(id uint64) {
	c.mu.Lock()
	_, ok := c.calls[id]
	ok = ok && !c.shut
	c.mu.Unlock()
	if ok {
		var b [40]byte
		c.write(appendCancel(b[:0], id))
	}
}

// stop shuts the client: send refuses from now on.
func (c *client) stop() {
	c.mu.Lock()
	c.shut = true
	c.mu.Unlock()
}

// abandon shuts the client and settles every call in flight with a
// WorkerCrashed failure worded msg.
func (c *client) abandon(msg string) {
	c.mu.Lock()
	c.shut = true
	calls := c.calls
	c.calls = nil
	c.mu.Unlock()
	for _, call := range calls {
		call.Response = Response{Err: &taskerr.Error{Code: taskerr.WorkerCrashed, Message: msg}}
		call.settle()
	}
}

// read reads the peer's frames: the hello, then results, until the peer
// breaks the protocol or its output ends.
func (c *client) read() {
	defer close(c.done)
	br := bufio.NewReaderSize(c.in, ioBufSize)
	var buf []byte
	// The peer sends its hello before it has read the pool's max_frame,
	// so the hello may be as large as the default.
	limit := max(c.cfg.MaxFrame, DefaultMaxFrame)
	helloed, holding := false, false
	defer func() {
		if holding {
			_ = c.out.release()
		}
	}()
	for {
		frame, err := ReadFrame(br, buf, limit)
		if err != nil {
			c.readFailed(err, br)
			return
		}
		buf = frame
		if cap(buf) > 1<<20 {
			buf = nil // do not keep a large buffer for one large frame
		}
		if !helloed {
			if !c.handleHello(frame) {
				return
			}
			helloed = true
			limit = c.cfg.MaxFrame
			continue
		}
		// Results that came in one read are handled with the writes of
		// their callbacks (the next requests) held, to go out in one.
		if !holding && frameReady(br) {
			c.out.hold()
			holding = true
		}
		ok := c.handleFrame(frame)
		if holding && (!ok || !frameReady(br)) {
			holding = false
			if err := c.out.release(); err != nil {
				c.writeFailed(err)
			}
		}
		if !ok {
			return
		}
	}
}

// readFailed reports why the peer's output could not be read: a frame that
// breaks the framing (named by what was sent), or its end.
func (c *client) readFailed(err error, br *bufio.Reader) {
	if fe, ok := errors.AsType[*FrameError](err); ok {
		c.onFault(faultProtocol, junkMessage(fe, br))
		return
	}
	c.onFault(faultEOF, err.Error())
}

// frameReady says whether a whole frame is buffered: reading it does not
// block. Only then may the reader hold the writes.
func frameReady(br *bufio.Reader) bool {
	if br.Buffered() < headerSize {
		return false
	}
	head, err := br.Peek(headerSize) // buffered: it does not block
	if err != nil {
		return false
	}
	return br.Buffered()-headerSize >= int(binary.BigEndian.Uint32(head))
}

type helloIn struct {
	Protocol  *float64        `json:"protocol"`
	PID       int             `json:"pid"`
	Workloads []workload.Info `json:"workloads"`
	Features  []string        `json:"features"`
}

// handleHello checks the peer's hello; false means it was reported.
func (c *client) handleHello(frame []byte) bool {
	var m wireMsg
	if err := m.parse(frame); err != nil {
		c.onFault(faultProtocol, "sent "+err.Error())
		return false
	}
	if !m.is(TypeHello) {
		c.onFault(faultHello, fmt.Sprintf("sent a %q message before its hello", m.typeName()))
		return false
	}
	var h helloIn
	if err := json.Unmarshal(frame, &h); err != nil {
		c.onFault(faultHello, fmt.Sprintf("sent a malformed hello (%v): %s", err, snippet(frame)))
		return false
	}
	if why := c.refuseHello(&h); why != "" {
		c.onFault(faultHello, why)
		return false
	}
	offers := make(map[string]struct{}, len(h.Workloads))
	for _, info := range h.Workloads {
		offers[info.Name] = struct{}{}
	}
	if h.Workloads == nil {
		h.Workloads = []workload.Info{}
	}
	c.infos, c.offers, c.features = h.Workloads, offers, h.Features
	close(c.ready)
	return true
}

// refuseHello says why the client cannot work with a peer that sent h, or "".
func (c *client) refuseHello(h *helloIn) string {
	switch {
	case h.Protocol == nil:
		return fmt.Sprintf("sent a hello without a protocol version, want %d", ProtocolVersion)
	case *h.Protocol != ProtocolVersion:
		return fmt.Sprintf("speaks protocol %v, want %d", *h.Protocol, ProtocolVersion)
	}
	if msg := missingFeature(Config{Module: c.cfg.Module}, h.Features); msg != "" {
		return msg
	}
	for i, info := range h.Workloads {
		if info.Name == "" {
			return fmt.Sprintf("sent a hello whose workload #%d has no name", i+1)
		}
		if info.Kind != workload.CPU && info.Kind != workload.IO {
			return fmt.Sprintf("sent a hello whose workload %q has kind %q, want %q or %q",
				info.Name, info.Kind, workload.CPU, workload.IO)
		}
	}
	return ""
}

// handleFrame handles a frame after the hello; false means the peer broke
// the protocol, which was reported.
func (c *client) handleFrame(frame []byte) bool {
	var m wireMsg
	if err := m.parse(frame); err != nil {
		c.onFault(faultProtocol, "sent "+err.Error())
		return false
	}
	if m.is(TypeBatch) {
		return c.handleBatch(&m)
	}
	if !m.is(TypeResult) {
		if m.is(TypeHello) {
			c.onFault(faultProtocol, "sent a second hello")
		} else {
			c.onFault(faultProtocol, fmt.Sprintf("sent a message of unknown type %q", m.typeName()))
		}
		return false
	}
	return c.handleResult(&m, frame)
}

// handleResult settles the call of a result message (frame is its text);
// false means the peer broke the protocol, which was reported.
func (c *client) handleResult(m *wireMsg, frame []byte) bool {
	id, resp, why := decodeResult(m, frame)
	if why != "" {
		c.onFault(faultProtocol, why)
		return false
	}
	c.mu.Lock()
	call, ok := c.calls[id]
	if ok {
		delete(c.calls, id)
	}
	c.mu.Unlock()
	if !ok {
		c.onFault(faultProtocol, fmt.Sprintf("sent a result for id %d, which is not in flight", id))
		return false
	}
	call.Response = resp
	if resp.Err == nil && !isNull(m.value) {
		call.val = append(call.val[:0], m.value...)
		call.Value = call.val
		if cap(call.val) > 1<<20 {
			call.val = nil // the next response gets a fresh buffer
		}
	}
	call.settle()
	return true
}

// decodeResult reads a result message's id, error and run time; why says
// how it breaks the protocol, or is "".
func decodeResult(m *wireMsg, frame []byte) (id uint64, resp Response, why string) {
	id, ok := parseUint(m.id)
	if !ok || id == 0 {
		return 0, resp, fmt.Sprintf("sent a result without a valid id: %s", snippet(frame))
	}
	if !isNull(m.err) {
		var we WireError
		if err := json.Unmarshal(m.err, &we); err != nil || m.err[0] != '{' {
			return id, resp, fmt.Sprintf("sent a result for id %d with a malformed error: %s", id, snippet(m.err))
		}
		if we.Message == "" {
			we.Message = "the task failed (the worker gave no message)"
		}
		resp.Err = &taskerr.Error{Code: wireCode(we.Name), Message: we.Message}
	}
	if m.runNS != nil {
		ns, ok := parseNumber(m.runNS)
		if !ok {
			return id, resp, fmt.Sprintf("sent a result for id %d whose run_ns is not a number: %s", id, snippet(m.runNS))
		}
		resp.RunTime = time.Duration(min(max(ns, 0), math.MaxInt64/2))
	}
	return id, resp, ""
}
