package ipc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, fw.write(frame), "a frame without a hold")
	require.Equal(t, 1, out.writes, "a frame without a hold: writes")
	fw.hold()
	for range 3 {
		require.NoError(t, fw.write(frame))
	}
	require.Equal(t, 1, out.writes, "%d writes during a hold, want none", out.writes-1)
	require.NoError(t, fw.release())
	assert.Equal(t, 2, out.writes, "after the release: %d writes, want 1 more", out.writes-1)
	assert.Equal(t, 4*len(frame), out.Len(), "after the release: bytes written")
	require.NoError(t, fw.release(), "a release with nothing written")
	assert.Equal(t, 2, out.writes, "a release with nothing written: %d writes", out.writes-2)
	fw.hold() // a release with nothing to flush writes nothing
	require.NoError(t, fw.release(), "an empty hold")
	assert.Equal(t, 2, out.writes, "an empty hold: %d writes", out.writes-2)
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
			assert.Equal(t, c.want, frameReady(br), "frameReady")
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
			require.Equal(t, len(body), int(binary.BigEndian.Uint32(f)), "%s: the length prefix of a frame of %d bytes", tc.name, len(body))
			require.LessOrEqual(t, len(body), tc.maxFrame, "%s: a frame of %d bytes (limit %d)", tc.name, len(body), tc.maxFrame)
			var m Message
			require.NoError(t, json.Unmarshal(body, &m), "%s: %s", tc.name, body)
			switch m.Type {
			case TypeBatch:
				batches++
				assert.GreaterOrEqual(t, len(m.Requests), 2, "%s: a batch of %d", tc.name, len(m.Requests))
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
		assert.Equal(t, want, ids, "%s: the requests that went out", tc.name)
		assert.Equal(t, tc.features != nil, batches > 0, "%s: %d batch frames", tc.name, batches)
		if tc.maxFrame == 400 {
			assert.GreaterOrEqual(t, batches, 2, "%s: %d batch frames, want the limit to split them", tc.name, batches)
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
	require.True(t, w.handleFrame(frame), "a batch of results broke the protocol")
	for i, c := range calls {
		select {
		case <-c.Done():
		default:
			require.FailNow(t, "a call did not settle", "call %d", i+1)
		}
	}
	assert.Equal(t, "[2]", string(calls[1].Value), "call 2: %+v", calls[1].Response)
	assert.Nil(t, calls[1].Err, "call 2: %+v", calls[1].Response)
	assert.Equal(t, time.Duration(5), calls[1].RunTime, "call 2: %+v", calls[1].Response)
	if assert.NotNil(t, calls[0].Err, "call 1: %+v", calls[0].Response) {
		assert.Equal(t, taskerr.Timeout, calls[0].Err.Code, "call 1: %+v", calls[0].Response)
	}
	assert.Equal(t, time.Duration(7), calls[0].RunTime, "call 1: %+v", calls[0].Response)
	assert.Nil(t, calls[2].Value, "call 3: %+v", calls[2].Response)
	assert.Nil(t, calls[2].Err, "call 3: %+v", calls[2].Response)
	assert.Empty(t, w.calls, "calls still in flight")
	assert.Empty(t, faults, "faults reported")
	for _, bad := range []string{
		`{"type":"batch"}`,
		`{"type":"batch","results":[{"type":"run","id":1}]}`,
		`{"type":"batch","results":[{"type":"result","id":99}]}`,
	} {
		faults = nil
		assert.False(t, w.handleFrame([]byte(bad)), "%s was taken", bad)
		assert.Len(t, faults, 1, "%s: the faults reported", bad)
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
		require.NotContains(t, got, m.ID, "a second result for %d", m.ID)
		got[m.ID] = m
		if m.Error == nil {
			order = append(order, m.ID)
		}
	}
	assert.NotNil(t, lone.Error, "the bad request alone")
	assert.Equal(t, lone.Error, got[3].Error, "the bad request of the batch, and alone")
	if assert.NotNil(t, got[4].Error, "the unknown workload of the batch") {
		assert.Equal(t, string(taskerr.UnknownWorkload), got[4].Error.Name, "the unknown workload of the batch")
	}
	assert.Equal(t, []uint64{2, 5, 6, 7}, order, "the order the good requests ended in, want the order they came in (concurrency 1)")
	for _, id := range []uint64{2, 5, 6, 7} {
		assert.Equal(t, strconv.FormatUint(id, 10), string(got[id].Value), "request %d", id)
	}
	s.send(`{"type":"batch","requests":[{"type":"cancel","id":1}]}`)
	select {
	case err := <-s.done:
		s.done <- err
		require.ErrorContains(t, err, "batch", "a batch of a cancel: Serve returned")
	case <-time.After(10 * time.Second):
		assert.Fail(t, "a batch of a cancel was not a protocol error")
	}
}
