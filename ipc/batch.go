package ipc

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Batches (PROTOCOL.md, "batch"): several run messages in one frame, pool to
// worker, and several result messages in one frame, worker to pool. Each
// side lists FeatureBatch in its hello; a side sends a batch only to a peer
// whose hello listed it, so workers that predate it keep working. A batch is
// read exactly as its items would be, one frame after another: items keep
// their own ids, results, cancels and timeouts.

// FeatureBatch is the feature a side lists in its hello when it reads batch
// messages: a worker that lists it gets runs in batches, and a pool that
// lists it (this package's always does) gets results in batches.
const FeatureBatch = "batch"

// batchHoldMax bounds how long a worker keeps the results of a batch's items
// that it ran back to back, so that they reach the pool in one write: the
// pool learns that the next item started no later than this.
const batchHoldMax = time.Millisecond

// batchHead and batchTail wrap the items of a batch frame.
const (
	batchRequestsHead = `{"type":"batch","requests":[`
	batchTail         = `]}`
)

// arrayItems returns the elements of arr, a JSON array of a frame that
// parse accepted, as spans of it; false if arr is not an array.
func arrayItems(arr []byte) ([][]byte, bool) {
	d := decoderFor(arr)
	defer d.release()
	if d.PeekKind() != '[' {
		return nil, false
	}
	if _, err := d.ReadToken(); err != nil {
		return nil, false
	}
	var items [][]byte
	for d.PeekKind() != ']' {
		v, err := d.ReadValue()
		if err != nil {
			return nil, false
		}
		items = append(items, v)
	}
	return items, true
}

// listsFeature reports whether features (a hello's JSON array, or nil)
// holds the string name.
func listsFeature(features []byte, name string) bool {
	items, _ := arrayItems(features)
	for _, v := range items {
		if s, ok := unquote(v); ok && len(v) > 0 && v[0] == '"' && s == name {
			return true
		}
	}
	return false
}

// SendBatch sends each of reqs as Send would, calls[i] carrying reqs[i], in
// order and in one write: to a worker whose hello lists FeatureBatch as batch
// frames (as few as the frame limit allows), to others as run frames. Their
// OnWrite callbacks run in that order. errs[i] is Send's error for reqs[i]
// (nil: sent; calls[i] settles once, as after Send); a worker that is gone
// refuses them all. calls and reqs have the same length.
func (w *Worker) SendBatch(calls []*Call, reqs []Request) (errs []error) {
	errs = w.client.sendBatch(calls, reqs)
	for i, err := range errs {
		if errors.Is(err, errShut) {
			w.mu.Lock()
			errs[i] = w.goneLocked()
			w.mu.Unlock()
		}
	}
	return errs
}

// sendBatch is SendBatch on the client; a request it could not send
// because the client is shut has errShut.
func (c *client) sendBatch(calls []*Call, reqs []Request) (errs []error) {
	errs = make([]error, len(reqs))
	frames := make([][]byte, len(reqs)) // each request's run frame, in its call's buffer; nil if refused
	for i, req := range reqs {
		frames[i], errs[i] = c.encodeRun(calls[i], req)
	}
	// Packed before any call is registered: once one is, it may settle
	// (its worker dies) and be sent again, reusing its buffer.
	out, thens := c.batchFrames(frames, reqs)
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		for i := range errs {
			if frames[i] != nil {
				errs[i] = errShut
			}
		}
		return errs
	}
	for i, call := range calls {
		if frames[i] != nil {
			c.calls[call.ID()] = call
		}
	}
	c.mu.Unlock()
	// From here on a call may settle, and be sent again, at any moment:
	// only the packed frames are touched.
	if err := c.out.writeAllThen(out, thens); err != nil {
		c.writeFailed(err)
	}
	return errs
}

// batchFrames packs the run frames (nil ones skipped) into what goes out:
// batch frames within the frame limit for a worker that reads them, else the
// run frames themselves; thens are the OnWrite callbacks, in order.
func (c *client) batchFrames(frames [][]byte, reqs []Request) (out [][]byte, thens []func()) {
	thens = make([]func(), 0, len(reqs))
	for i, f := range frames {
		if f != nil && reqs[i].OnWrite != nil {
			thens = append(thens, reqs[i].OnWrite)
		}
	}
	if !slices.Contains(c.features, FeatureBatch) {
		for _, f := range frames {
			if f != nil {
				out = append(out, bytes.Clone(f)) // the call's buffer is its next request's once it settles
			}
		}
		return out, thens
	}
	var cur []byte // the batch frame being filled
	items := 0
	var first []byte // cur's only item, sent as a run frame if no other joins it
	flush := func() {
		switch items {
		case 0:
		case 1:
			out = append(out, bytes.Clone(first))
		default:
			out = append(out, endFrame(append(cur, batchTail...)))
		}
		cur, items, first = nil, 0, nil
	}
	for _, f := range frames {
		if f == nil {
			continue
		}
		body := f[headerSize:]
		if items > 0 && len(cur)-headerSize+1+len(body)+len(batchTail) > c.cfg.MaxFrame {
			flush()
		}
		if items == 0 {
			cur = append(beginFrame(make([]byte, 0, min(batchSizeHint(frames), headerSize+c.cfg.MaxFrame))),
				batchRequestsHead...)
			first = f
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, body...)
		items++
	}
	flush()
	return out, thens
}

// batchSizeHint is the size of a batch frame of all of frames, for its buffer.
func batchSizeHint(frames [][]byte) int {
	n := headerSize + len(batchRequestsHead) + len(batchTail)
	for _, f := range frames {
		n += len(f) + 1 - headerSize
	}
	return n
}

// writeAllThen writes frames as one burst, running thens first, in order,
// under the lock that orders the writes.
func (fw *frameWriter) writeAllThen(frames [][]byte, thens []func()) error {
	fw.waiting.Add(1)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for _, then := range thens {
		then()
	}
	var err error
	for _, f := range frames {
		if _, err = fw.bw.Write(f); err != nil {
			break
		}
	}
	if fw.waiting.Add(-1) == 0 && err == nil {
		err = fw.bw.Flush()
	}
	return err
}

// handleBatch handles a batch of results, as if each had come in a frame of
// its own; the writes of their callbacks (the next requests) go out
// together. false means the peer broke the protocol, which was reported.
func (c *client) handleBatch(m *wireMsg) bool {
	items, ok := arrayItems(m.results)
	if !ok {
		c.onFault(faultProtocol, fmt.Sprintf("sent a batch without a results array: %s", snippet(m.results)))
		return false
	}
	c.out.hold()
	defer func() {
		if err := c.out.release(); err != nil {
			c.writeFailed(err)
		}
	}()
	var item wireMsg
	for _, v := range items {
		if err := item.parse(v); err != nil {
			c.onFault(faultProtocol, "sent a batch holding "+err.Error())
			return false
		}
		if !item.is(TypeResult) {
			c.onFault(faultProtocol, fmt.Sprintf("sent a batch holding a message of type %q, want %q",
				item.typeName(), TypeResult))
			return false
		}
		if !c.handleResult(&item, v) {
			return false
		}
	}
	return true
}

// Worker side.

// batch handles a batch of runs from the pool, in order, as if each had come
// in a frame of its own: it returns the first task that may start now, for
// the reading goroutine to run, and starts the others that may on
// goroutines of their own; the rest wait their turn.
func (s *server) batch(m *wireMsg) (*task, error) {
	items, ok := arrayItems(m.requests)
	if !ok {
		return nil, fmt.Errorf("the pool sent a batch without a requests array: %s", snippet(m.requests))
	}
	var first *task
	var item wireMsg
	id := new([]byte) // marks the tasks of this batch
	for _, v := range items {
		if err := item.parse(v); err != nil {
			return first, fmt.Errorf("the pool sent a batch holding %w", err)
		}
		if !item.is(TypeRun) {
			return first, fmt.Errorf("the pool sent a batch holding a message of type %q, want %q",
				item.typeName(), TypeRun)
		}
		t, err := s.run(&item, false)
		if err != nil {
			return first, err
		}
		if t == nil {
			continue // answered at once: it takes no turn
		}
		t.batch = id
		switch {
		case !s.admit(t):
		case first == nil:
			first = t
		default:
			s.pass(t)
		}
	}
	return first, nil
}

// resultHold keeps the results of one work goroutine in the output buffer
// while it runs, at once, the next item of the same batch, so that the
// results of items run back to back reach the pool in one write rather than
// one wake-up each: until the goroutine runs something else (the end of the
// batch: the pool may then send the next one while the worker runs what it
// has), or batchHoldMax.
type resultHold struct {
	s     *server
	mu    sync.Mutex
	on    bool
	timer *time.Timer
}

// hold starts holding, unless it holds already.
func (h *resultHold) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.on {
		return
	}
	h.on = true
	h.s.out.hold()
	if h.timer == nil {
		h.timer = time.AfterFunc(batchHoldMax, h.release)
	} else {
		h.timer.Reset(batchHoldMax)
	}
}

// release writes what was held, if anything is.
func (h *resultHold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.on {
		return
	}
	h.on = false
	h.timer.Stop()
	if err := h.s.out.release(); err != nil {
		h.s.writeFailed(err)
	}
}
