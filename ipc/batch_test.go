package ipc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// countingWriter counts the writes that reach it: one per syscall on a pipe.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// TestFrameWriterHold: frames written during a hold (the reader handling
// results that came together) go out in one write, at the release; without
// a hold each frame goes out at once.
func TestFrameWriterHold(t *testing.T) {
	t.Parallel()
	out := &countingWriter{}
	fw := frameWriter{bw: bufio.NewWriterSize(out, ioBufSize)}
	frame := endFrame(append(beginFrame(nil), `{"type":"run","id":1,"workload":"noop"}`...))
	if err := fw.write(frame); err != nil || out.writes != 1 {
		t.Fatalf("a frame without a hold: %d writes, %v", out.writes, err)
	}
	fw.hold()
	for range 3 {
		if err := fw.write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 1 {
		t.Fatalf("%d writes during a hold, want none", out.writes-1)
	}
	if err := fw.release(); err != nil {
		t.Fatal(err)
	}
	if out.writes != 2 || out.Len() != 4*len(frame) {
		t.Errorf("after the release: %d writes of %d bytes, want 1 more of %d", out.writes-1, out.Len(), 4*len(frame))
	}
	if err := fw.release(); err != nil || out.writes != 2 {
		t.Errorf("a release with nothing written: %d writes, %v", out.writes-2, err)
	}
	fw.hold() // a release with nothing to flush writes nothing
	if err := fw.release(); err != nil || out.writes != 2 {
		t.Errorf("an empty hold: %d writes, %v", out.writes-2, err)
	}
}

// TestFrameReady: the reader holds the writes only while a whole frame is
// buffered, so that it never waits for the worker with requests held back.
func TestFrameReady(t *testing.T) {
	t.Parallel()
	whole := endFrame(append(beginFrame(nil), `{"type":"result","id":1}`...))
	cases := []struct {
		name string
		in   []byte
		want bool
	}{
		{"nothing", nil, false},
		{"part of a header", whole[:2], false},
		{"a header", whole[:headerSize], false},
		{"part of a frame", whole[:len(whole)-1], false},
		{"a frame", whole, true},
		{"a frame and a part", append(bytes.Clone(whole), whole[:3]...), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReader(bytes.NewReader(c.in))
			if len(c.in) > 0 {
				_, _ = br.Peek(1) // fill the buffer, as the previous ReadFrame did
			}
			if got := frameReady(br); got != c.want {
				t.Errorf("frameReady = %v, want %v", got, c.want)
			}
		})
	}
}

// TestBatchFramesWithinTheLimit: the requests of a SendBatch go out in
// order, in batch frames no larger than the frame limit to a worker that
// reads batches (a batch of one is a run frame), and as run frames to one
// that does not.
func TestBatchFramesWithinTheLimit(t *testing.T) {
	t.Parallel()
	const n = 40
	reqs := make([]Request, n)
	frames := make([][]byte, n)
	for i := range reqs {
		reqs[i] = Request{Workload: "t.echo", Params: []byte(`{"pad":"` + strings.Repeat("x", 50) + `"}`)}
		frames[i] = appendRun(nil, uint64(i+1), reqs[i].Workload, reqs[i].Params, 0)
	}
	frames[7] = nil // refused: not sent
	for _, tc := range []struct {
		name     string
		features []string
		maxFrame int
	}{{"batch", []string{FeatureBatch}, 1 << 20}, {"batch, small frames", []string{FeatureBatch}, 400}, {"no batch", nil, 1 << 20}} {
		c := &client{features: tc.features, cfg: clientConfig{MaxFrame: tc.maxFrame}}
		out, _ := c.batchFrames(frames, reqs)
		var ids []uint64
		batches := 0
		for _, f := range out {
			body := f[headerSize:]
			if int(binary.BigEndian.Uint32(f)) != len(body) || len(body) > tc.maxFrame {
				t.Fatalf("%s: a frame of %d bytes (limit %d)", tc.name, len(body), tc.maxFrame)
			}
			var m Message
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("%s: %v: %s", tc.name, err, body)
			}
			switch m.Type {
			case TypeBatch:
				batches++
				if len(m.Requests) < 2 {
					t.Errorf("%s: a batch of %d", tc.name, len(m.Requests))
				}
				for _, r := range m.Requests {
					ids = append(ids, r.ID)
				}
			case TypeRun:
				ids = append(ids, m.ID)
			}
		}
		want := make([]uint64, 0, n-1)
		for i := range n {
			if i != 7 {
				want = append(want, uint64(i+1))
			}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: requests went out as %v", tc.name, ids)
		}
		if (batches > 0) != (tc.features != nil) {
			t.Errorf("%s: %d batch frames", tc.name, batches)
		}
		if tc.maxFrame == 400 && batches < 2 {
			t.Errorf("%s: %d batch frames, want the limit to split them", tc.name, batches)
		}
	}
}

// TestReaderTakesABatchOfResults: each result of a batch settles its own
// call, with its own value or error; a batch holding anything but results
// is a protocol error.
func TestReaderTakesABatchOfResults(t *testing.T) {
	t.Parallel()
	var faults []string
	w := newClient(strings.NewReader(""), io.Discard, clientConfig{Concurrency: 1, MaxFrame: DefaultMaxFrame},
		func(_ faultKind, detail string) { faults = append(faults, detail) })
	calls := []*Call{NewCall(), NewCall(), NewCall()}
	for i, c := range calls {
		c.id.Store(uint64(i + 1))
		w.calls[uint64(i+1)] = c
	}
	frame := []byte(`{"type":"batch","results":[{"type":"result","id":2,"value":[2],"run_ns":5},` +
		`{"type":"result","id":1,"error":{"name":"TimeoutError","message":"t.sleep: timed out"},"run_ns":7},` +
		`{"type":"result","id":3,"run_ns":1}]}`)
	if !w.handleFrame(frame) {
		t.Fatal("a batch of results broke the protocol")
	}
	for i, c := range calls {
		select {
		case <-c.Done():
		default:
			t.Fatalf("call %d did not settle", i+1)
		}
	}
	if string(calls[1].Value) != "[2]" || calls[1].Err != nil || calls[1].RunTime != 5 {
		t.Errorf("call 2: %+v", calls[1].Response)
	}
	if calls[0].Err == nil || calls[0].Err.Code != taskerr.Timeout || calls[0].RunTime != 7 {
		t.Errorf("call 1: %+v", calls[0].Response)
	}
	if calls[2].Value != nil || calls[2].Err != nil {
		t.Errorf("call 3: %+v", calls[2].Response)
	}
	if len(w.calls) != 0 {
		t.Errorf("%d calls still in flight", len(w.calls))
	}
	if len(faults) != 0 {
		t.Errorf("faults reported: %q", faults)
	}
	for _, bad := range []string{
		`{"type":"batch"}`,
		`{"type":"batch","results":[{"type":"run","id":1}]}`,
		`{"type":"batch","results":[{"type":"result","id":99}]}`,
	} {
		faults = nil
		if w.handleFrame([]byte(bad)) || len(faults) != 1 {
			t.Errorf("%s was taken (faults reported: %q)", bad, faults)
		}
	}
}

// TestServeBatch: the k6 worker runs a batch's requests in order, at most
// the hello's concurrency at once, each with its own result; a bad request
// of a batch fails as a lone one does; lone runs mix with batches; a batch
// holding something else than runs is a protocol error.
func TestServeBatch(t *testing.T) {
	t.Parallel()
	s := serve(t).started()
	s.send(`{"type":"hello","protocol":1,"concurrency":1,"max_frame":16777216,"features":["batch"]}`)
	s.send(`{"type":"run","id":1,"workload":"t.sleep","params":{"ms":-1}}`)
	lone := s.next()
	s.send(`{"type":"batch","requests":[` +
		`{"type":"run","id":2,"workload":"t.sleep","params":{"ms":1,"v":2}},` +
		`{"type":"run","id":3,"workload":"t.sleep","params":{"ms":-1}},` +
		`{"type":"run","id":4,"workload":"t.nope"},` +
		`{"type":"run","id":5,"workload":"t.sleep","params":{"ms":1,"v":5}},` +
		`{"type":"run","id":6,"workload":"t.sleep","params":{"ms":1,"v":6}}]}`)
	s.send(`{"type":"run","id":7,"workload":"t.sleep","params":{"ms":1,"v":7}}`)
	got := map[uint64]Message{}
	var order []uint64
	for range 6 {
		m := s.next()
		if _, dup := got[m.ID]; dup {
			t.Fatalf("a second result for %d", m.ID)
		}
		got[m.ID] = m
		if m.Error == nil {
			order = append(order, m.ID)
		}
	}
	if lone.Error == nil || got[3].Error == nil || *got[3].Error != *lone.Error {
		t.Errorf("the bad request of the batch: %+v; alone: %+v", got[3].Error, lone.Error)
	}
	if got[4].Error == nil || got[4].Error.Name != string(taskerr.UnknownWorkload) {
		t.Errorf("the unknown workload of the batch: %+v", got[4].Error)
	}
	if !slices.Equal(order, []uint64{2, 5, 6, 7}) {
		t.Errorf("the good requests ended in the order %v, want the order they came in (concurrency 1)", order)
	}
	for _, id := range []uint64{2, 5, 6, 7} {
		if string(got[id].Value) != strconv.FormatUint(id, 10) {
			t.Errorf("request %d: %s", id, got[id].Value)
		}
	}
	s.send(`{"type":"batch","requests":[{"type":"cancel","id":1}]}`)
	select {
	case err := <-s.done:
		s.done <- err
		if err == nil || !strings.Contains(err.Error(), "batch") {
			t.Errorf("a batch of a cancel: Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a batch of a cancel was not a protocol error")
	}
}
