package ipc

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
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

// arrIter walks the elements of a JSON array that json.Valid accepted.
type arrIter struct {
	d []byte
	i int // after '[' or after an element
}

// newArrIter starts on arr; false if arr is not an array.
func newArrIter(arr []byte) (arrIter, bool) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return arrIter{}, false
	}
	return arrIter{d: arr, i: i + 1}, true
}

func (it *arrIter) next() ([]byte, bool) {
	d, i := it.d, skipSpace(it.d, it.i)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] == ']' {
		it.i = len(d)
		return nil, false
	}
	vs := i
	i = skipValue(d, i)
	it.i = i
	return d[vs:i], true
}

// listsFeature reports whether features (a hello's JSON array, or nil)
// holds the string name.
func listsFeature(features []byte, name string) bool {
	it, ok := newArrIter(features)
	if !ok {
		return false
	}
	for {
		v, ok := it.next()
		if !ok {
			return false
		}
		if s, ok := unquote(v); ok && len(v) > 0 && v[0] == '"' && s == name {
			return true
		}
	}
}

// SendBatch sends each of reqs as Send would, calls[i] carrying reqs[i], in
// order and in one write: to a worker whose hello lists FeatureBatch as batch
// frames (as few as the frame limit allows), to others as run frames. Their
// OnWrite callbacks run in that order. errs[i] is Send's error for reqs[i]
// (nil: sent; calls[i] settles once, as after Send); a worker that is gone
// refuses them all. calls and reqs have the same length.
func (w *Worker) SendBatch(calls []*Call, reqs []Request) (errs []error) {
	errs = make([]error, len(reqs))
	frames := make([][]byte, len(reqs)) // each request's run frame, in its call's buffer; nil if refused
	for i, req := range reqs {
		frames[i], errs[i] = w.encodeRun(calls[i], req)
	}
	// Packed before any call is registered: once one is, it may settle
	// (its worker dies) and be sent again, reusing its buffer.
	out, thens := w.batchFrames(frames, reqs)
	w.mu.Lock()
	if w.stopping {
		err := w.goneLocked()
		w.mu.Unlock()
		for i := range errs {
			if frames[i] != nil {
				errs[i] = err
			}
		}
		return errs
	}
	for i, c := range calls {
		if frames[i] != nil {
			w.calls[c.ID()] = c
		}
	}
	w.mu.Unlock()
	// From here on a call may settle, and be sent again, at any moment:
	// only the packed frames are touched.
	if err := w.out.writeAllThen(out, thens); err != nil {
		w.writeFailed(err)
	}
	return errs
}

// encodeRun gives c a fresh id and returns req's run frame, or nil and the
// error Send returns for a request it refuses (a call without a callback
// settles with it instead, and the error is nil).
func (w *Worker) encodeRun(c *Call, req Request) ([]byte, error) {
	c.Response = Response{}
	id := w.nextID.Add(1)
	c.id.Store(id)
	if req.Params != nil && !isObject(req.Params) {
		return nil, c.refuse(taskerr.New(taskerr.InvalidArgument, "%s: params must be a JSON object", req.Workload))
	}
	var timeoutMS int64
	if req.Timeout > 0 {
		timeoutMS = int64((req.Timeout + time.Millisecond - 1) / time.Millisecond)
	}
	frame := appendRun(c.buf, id, req.Workload, req.Params, timeoutMS)
	if n := len(frame) - headerSize; n > w.maxFrame {
		return nil, c.refuse(taskerr.New(taskerr.InvalidArgument,
			"%s: params of %d bytes make a request of %d bytes, over the %d-byte frame limit",
			req.Workload, len(req.Params), n, w.maxFrame))
	}
	c.buf = frame
	if cap(frame) > 1<<20 {
		c.buf = nil
	}
	return frame, nil
}

// batchFrames packs the run frames (nil ones skipped) into what goes out:
// batch frames within the frame limit for a worker that reads them, else the
// run frames themselves; thens are the OnWrite callbacks, in order.
func (w *Worker) batchFrames(frames [][]byte, reqs []Request) (out [][]byte, thens []func()) {
	thens = make([]func(), 0, len(reqs))
	for i, f := range frames {
		if f != nil && reqs[i].OnWrite != nil {
			thens = append(thens, reqs[i].OnWrite)
		}
	}
	if !w.Has(FeatureBatch) {
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
		if items > 0 && len(cur)-headerSize+1+len(body)+len(batchTail) > w.maxFrame {
			flush()
		}
		if items == 0 {
			cur = append(beginFrame(make([]byte, 0, min(batchSizeHint(frames), headerSize+w.maxFrame))),
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
// together.
func (w *Worker) handleBatch(m *wireMsg) bool {
	it, ok := newArrIter(m.results)
	if !ok {
		w.stop(causeProtocol, fmt.Sprintf("sent a batch without a results array: %s", snippet(m.results)))
		return false
	}
	w.out.hold()
	defer func() {
		if err := w.out.release(); err != nil {
			w.writeFailed(err)
		}
	}()
	var item wireMsg
	for {
		v, ok := it.next()
		if !ok {
			return true
		}
		if err := item.parseValid(v); err != nil {
			w.stop(causeProtocol, "sent a batch holding "+err.Error())
			return false
		}
		if !item.is(TypeResult) {
			w.stop(causeProtocol, fmt.Sprintf("sent a batch holding a message of type %q, want %q",
				item.typeName(), TypeResult))
			return false
		}
		if !w.handleResult(&item, v) {
			return false
		}
	}
}

// Worker side.

// batch handles a batch of runs from the pool, in order, as if each had come
// in a frame of its own: it returns the first task that may start now, for
// the reading goroutine to run, and starts the others that may on
// goroutines of their own; the rest wait their turn.
func (s *server) batch(m *wireMsg) (*task, error) {
	it, ok := newArrIter(m.requests)
	if !ok {
		return nil, fmt.Errorf("the pool sent a batch without a requests array: %s", snippet(m.requests))
	}
	var first *task
	var item wireMsg
	id := new([]byte) // marks the tasks of this batch
	for {
		v, ok := it.next()
		if !ok {
			return first, nil
		}
		if err := item.parseValid(v); err != nil {
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
			go s.work(t)
		}
	}
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
