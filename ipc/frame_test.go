package ipc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	sizes := append(make([]int, 0, 32), 2, 3, 17, 255, 256, 4095, 4096, 4097, 65535, 65536, 65537, 1<<20)
	for range 20 {
		sizes = append(sizes, 2+rand.IntN(1<<20-1))
	}
	var stream bytes.Buffer
	payloads := make([][]byte, len(sizes))
	for i, n := range sizes {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(rand.UintN(256))
		}
		payloads[i] = p
		require.NoError(t, WriteFrame(&stream, p), "WriteFrame(%d bytes)", n)
	}
	var buf []byte
	for i, want := range payloads {
		got, err := ReadFrame(&stream, buf, 1<<20)
		require.NoError(t, err, "frame %d (%d bytes)", i, len(want))
		// Not require.Equal: its diff of megabytes of random bytes says no more.
		require.True(t, bytes.Equal(got, want), "frame %d (%d bytes): payload differs", i, len(want))
		buf = got
	}
	_, err := ReadFrame(&stream, buf, 1<<20)
	require.ErrorIs(t, err, io.EOF, "after the last frame")
}

// A writer without AvailableBuffer gets the frame in one Write (small) or two.
type plainWriter struct {
	writes int
	buf    bytes.Buffer
}

func (w *plainWriter) Write(p []byte) (int, error) { w.writes++; return w.buf.Write(p) }

func TestWriteFramePlainWriter(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 1000, 64 << 10, 64<<10 + 1, 300 << 10} {
		var w plainWriter
		p := bytes.Repeat([]byte{'x'}, n)
		require.NoError(t, WriteFrame(&w, p))
		wantWrites := 1
		if n > 64<<10 {
			wantWrites = 2
		}
		assert.Equal(t, wantWrites, w.writes, "%d bytes: writes", n)
		got, err := ReadFrame(&w.buf, nil, n)
		require.NoError(t, err, "%d bytes", n)
		// Not require.Equal: its diff of up to 300 KiB of x's says no more.
		require.True(t, bytes.Equal(got, p), "%d bytes: read back %d bytes", n, len(got))
	}
}

func header(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func TestFrameMax(t *testing.T) {
	t.Parallel()
	const limit = 1000
	var stream bytes.Buffer
	_ = WriteFrame(&stream, bytes.Repeat([]byte{'a'}, limit))
	got, err := ReadFrame(&stream, nil, limit)
	require.NoError(t, err, "a frame of exactly the limit")
	require.Len(t, got, limit, "a frame of exactly the limit")
	_ = WriteFrame(&stream, bytes.Repeat([]byte{'a'}, limit+1))
	_, err = ReadFrame(&stream, nil, limit)
	var fe *FrameError
	require.ErrorAs(t, err, &fe, "limit+1")
	require.Equal(t, FrameTooLarge, fe.Kind, "limit+1: got %#v", err)
	require.Equal(t, int64(limit+1), fe.Size, "limit+1: got %#v", err)
	require.Equal(t, limit, fe.Limit, "limit+1: got %#v", err)
	msg := err.Error()
	assert.Contains(t, msg, "1001", "the message should name the size")
	assert.Contains(t, msg, "1000", "the message should name the limit")
}

func TestFrameTooSmall(t *testing.T) {
	t.Parallel()
	for _, n := range []uint32{0, 1} {
		_, err := ReadFrame(bytes.NewReader(append(header(n), 'x')), nil, 100)
		var fe *FrameError
		require.ErrorAs(t, err, &fe, "size %d", n)
		require.Equal(t, FrameTooSmall, fe.Kind, "size %d: got %v", n, err)
		require.Equal(t, int64(n), fe.Size, "size %d: got %v", n, err)
		assert.ErrorContains(t, err, "too small")
	}
}

//nolint:paralleltest // counts the whole process's allocations: no other test may run meanwhile
func TestFrameHugeClaimDoesNotAllocate(t *testing.T) {
	data := header(0xFFFFFFFF)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := make([]byte, 0, 16)
	for range 100 {
		_, err := ReadFrame(bytes.NewReader(data), buf, DefaultMaxFrame)
		var fe *FrameError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, FrameTooLarge, fe.Kind, "got %v", err)
		require.Equal(t, int64(0xFFFFFFFF), fe.Size, "got %v", err)
	}
	runtime.ReadMemStats(&after)
	d := after.TotalAlloc - before.TotalAlloc
	require.Less(t, d, uint64(1<<20), "100 reads of a 4 GiB claim allocated %d bytes", d)
	_, err := ReadFrame(bytes.NewReader(data), nil, DefaultMaxFrame)
	msg := err.Error()
	assert.Contains(t, msg, "4294967295", "the message should name the claimed size")
	assert.Contains(t, msg, "16777216", "the message should name the limit")
}

func TestFrameTruncated(t *testing.T) {
	t.Parallel()
	var fe *FrameError
	_, err := ReadFrame(bytes.NewReader([]byte{0, 0}), nil, 100)
	require.ErrorAs(t, err, &fe, "truncated header")
	require.Equal(t, FrameTruncated, fe.Kind, "truncated header: got %v", err)
	require.True(t, fe.Header, "truncated header: got %v", err)
	require.Equal(t, 2, fe.Got, "truncated header: got %v", err)
	require.ErrorContains(t, err, "2 of the 4 length bytes")
	_, err = ReadFrame(bytes.NewReader(append(header(100), make([]byte, 10)...)), nil, 1000)
	require.ErrorAs(t, err, &fe, "truncated body")
	require.Equal(t, FrameTruncated, fe.Kind, "truncated body: got %v", err)
	require.False(t, fe.Header, "truncated body: got %v", err)
	require.Equal(t, 10, fe.Got, "truncated body: got %v", err)
	require.Equal(t, int64(100), fe.Size, "truncated body: got %v", err)
	require.ErrorContains(t, err, "90 missing", "the message should say how many bytes were missing")
	// A header and no body at all.
	_, err = ReadFrame(bytes.NewReader(header(5)), nil, 1000)
	require.ErrorAs(t, err, &fe, "missing body")
	require.Equal(t, FrameTruncated, fe.Kind, "missing body: got %v", err)
	require.Zero(t, fe.Got, "missing body: got %v", err)
}

func TestFrameEOF(t *testing.T) {
	t.Parallel()
	_, err := ReadFrame(bytes.NewReader(nil), nil, 100)
	require.ErrorIs(t, err, io.EOF, "empty stream")
}

func TestFrameReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := ReadFrame(io.MultiReader(bytes.NewReader(header(10)), &errReader{boom}), nil, 100)
	require.ErrorIs(t, err, boom, "want the reader's error")
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

func TestWireMsgParse(t *testing.T) {
	t.Parallel()
	frame := []byte(` { "run_ns" : 12.0e3, "value" : {"a": "}\"]", "b": [1, {"c": null}]},
		"\u0074ype": "result", "id": 17, "extra": [true, false, "x"], "error": null } `)
	var m wireMsg
	require.NoError(t, m.parse(frame))
	require.True(t, m.is(TypeResult), "parsed %+v", m)
	require.Equal(t, "17", string(m.id), "parsed %+v", m)
	//nolint:testifylint // byte-exact on purpose: the span of the frame, spaces and all, which JSONEq would not check
	require.Equal(t, `{"a": "}\"]", "b": [1, {"c": null}]}`, string(m.value), "parsed %+v", m)
	require.Equal(t, "12.0e3", string(m.runNS), "parsed %+v", m)
	require.True(t, isNull(m.err), "parsed %+v", m)
	id, ok := parseUint(m.id)
	assert.True(t, ok, "id %s", m.id)
	assert.Equal(t, uint64(17), id, "id")
	ns, ok := parseNumber(m.runNS)
	assert.True(t, ok, "run_ns %s", m.runNS)
	assert.InDelta(t, 12000, ns, 0, "run_ns")
	for frame, want := range map[string]string{
		`{"type": "result", oops`: "not valid JSON",
		`[1,2]`:                   "not a JSON object",
		`"hello"`:                 "not a JSON object",
		`{"id": 1}`:               "without a type",
		`{"type": 1}`:             "type is not a string",
	} {
		assert.ErrorContains(t, m.parse([]byte(frame)), want, "%s", frame)
	}
}

func TestParseUint(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"0": 0, "17": 17, "17.0": 17, "1.7e1": 17, "9007199254740991": 1<<53 - 1} {
		got, ok := parseUint([]byte(in))
		assert.True(t, ok, "%s: refused", in)
		assert.Equal(t, want, got, "%s", in)
	}
	for _, in := range []string{"", "-1", "1.5", "x", "1e400", "99999999999999999999999"} {
		_, ok := parseUint([]byte(in))
		assert.False(t, ok, "%s: accepted", in)
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uo\te`, "new\nline\ttab\r\x00\x1f", "ünï€😀", "\xff bad utf8 \xc3", "<&>\u2028"} {
		b := appendString(nil, s)
		var got string
		require.NoError(t, json.Unmarshal(b, &got), "%q encoded as %s", s, b)
		want := strings.ToValidUTF8(s, "\ufffd")
		assert.Equal(t, want, got, "%q: round trip", s)
	}
}

func TestEncodedMessagesDecode(t *testing.T) {
	t.Parallel()
	run := appendRun(nil, 42, "w\"x", []byte(`{"limit": 5}`), 1500)
	var m Message
	require.NoError(t, json.Unmarshal(run[headerSize:], &m))
	require.Equal(t, TypeRun, m.Type, "run decoded as %+v", m)
	require.Equal(t, uint64(42), m.ID, "run decoded as %+v", m)
	require.Equal(t, "w\"x", m.Workload, "run decoded as %+v", m)
	require.Equal(t, `{"limit": 5}`, string(m.Params), "run decoded as %+v", m)
	require.Equal(t, int64(1500), m.TimeoutMS, "run decoded as %+v", m)
	require.Equal(t, uint32(len(run)-headerSize), binary.BigEndian.Uint32(run), "length prefix")
	m = Message{}
	res := appendResult(nil, 7, nil, taskerr.New(taskerr.Timeout, "t: took \"long\""), 99)
	require.NoError(t, json.Unmarshal(res[headerSize:], &m))
	require.Equal(t, TypeResult, m.Type, "result decoded as %+v", m)
	require.Equal(t, uint64(7), m.ID, "result decoded as %+v", m)
	require.Equal(t, &WireError{Name: "TimeoutError", Message: `t: took "long"`}, m.Error, "result decoded as %+v", m)
	require.Equal(t, int64(99), m.RunNS, "result decoded as %+v", m)
	m = Message{}
	cancel := appendCancel(nil, 9)
	require.NoError(t, json.Unmarshal(cancel[headerSize:], &m), "cancel decoded as %+v", m)
	require.Equal(t, TypeCancel, m.Type, "cancel decoded as %+v", m)
	require.Equal(t, uint64(9), m.ID, "cancel decoded as %+v", m)
}

func TestWireCode(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]taskerr.Code{
		"InvalidArgumentError": taskerr.InvalidArgument, "UnknownWorkloadError": taskerr.UnknownWorkload,
		"WorkloadError": taskerr.Workload, "TimeoutError": taskerr.Timeout,
		"WorkerCrashedError": taskerr.Workload, "ValueError": taskerr.Workload, "": taskerr.Workload,
	} {
		assert.Equal(t, want, wireCode(name), "%q", name)
	}
}

// BenchmarkFrameRoundTrip encodes a small run message as a frame and decodes
// it as a worker does.
func BenchmarkFrameRoundTrip(b *testing.B) {
	b.ReportAllocs()
	var (
		stream bytes.Buffer
		enc    []byte
		dec    []byte
		m      wireMsg
	)
	params := []byte(`{"limit":20000}`)
	for i := range b.N {
		enc = appendRun(enc, uint64(i+1), "cpu.primes", params, 5000)
		if err := WriteFrame(&stream, enc[headerSize:]); err != nil {
			b.Fatal(err)
		}
		frame, err := ReadFrame(&stream, dec, DefaultMaxFrame)
		if err != nil {
			b.Fatal(err)
		}
		dec = frame
		if err := m.parse(frame); err != nil || !m.is(TypeRun) {
			b.Fatal(err)
		}
		if id, ok := parseUint(m.id); !ok || id != uint64(i+1) {
			b.Fatal("bad id")
		}
	}
}

// TestWireMsgParseDepthLimit: at the nesting limit of JSON decoders (10000
// levels), parse accepts exactly what encoding/json accepts, since Serve
// tells a run whose params nest past it from a broken frame.
func TestWireMsgParseDepthLimit(t *testing.T) {
	t.Parallel()
	for _, levels := range []int{9998, 9999, 10000, 10001} {
		t.Run(strconv.Itoa(levels), func(t *testing.T) {
			t.Parallel()
			frame := []byte(`{"type":"run","params":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`)
			var m wireMsg
			err, valid := m.parse(frame), json.Valid(frame)
			require.Equal(t, valid, err == nil, "parse: %v; json.Valid: %v", err, valid)
		})
	}
}

//nolint:gochecknoglobals // constant test frames
var decodeFrames = []struct{ name, frame string }{
	{"run", `{"type":"run","id":123456,"workload":"cpu.primes","params":{"limit":20000},"timeout_ms":5000}`},
	{"result", `{"type":"result","id":123456,"value":{"count":2262,"first":[2,3,5,7,11,13,17,19,23,29]},"run_ns":431000}`},
	{"error", `{"type":"result","id":123456,"error":{"name":"InvalidArgumentError","message":"cpu.primes: param \"limit\" must be an integer"},"run_ns":1200}`},
}

// BenchmarkFrameDecode decodes the frames each side reads most: a run (the
// worker), a result with a value and a result with an error (the pool).
func BenchmarkFrameDecode(b *testing.B) {
	for _, f := range decodeFrames {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			frame := []byte(f.frame)
			var m wireMsg
			for range b.N {
				if err := m.parse(frame); err != nil {
					b.Fatal(err)
				}
				if id, ok := parseUint(m.id); !ok || id != 123456 {
					b.Fatal("bad id")
				}
			}
		})
	}
}

// BenchmarkFrameDecodeEncodingJSON decodes the frames of BenchmarkFrameDecode
// with encoding/json into raw fields: the other codec wireMsg.parse could
// use, measured next to it.
func BenchmarkFrameDecodeEncodingJSON(b *testing.B) {
	type rawFields struct {
		Type      json.RawMessage `json:"type"`
		ID        json.RawMessage `json:"id"`
		Workload  json.RawMessage `json:"workload"`
		Params    json.RawMessage `json:"params"`
		TimeoutMS json.RawMessage `json:"timeout_ms"`
		Value     json.RawMessage `json:"value"`
		Error     json.RawMessage `json:"error"`
		RunNS     json.RawMessage `json:"run_ns"`
	}
	for _, f := range decodeFrames {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			frame := []byte(f.frame)
			for range b.N {
				var m rawFields
				if err := json.Unmarshal(frame, &m); err != nil {
					b.Fatal(err)
				}
				if id, ok := parseUint(m.ID); !ok || id != 123456 {
					b.Fatal("bad id")
				}
			}
		})
	}
}

// BenchmarkFrameEncode encodes a run and a result as frames, with the
// encoders this package uses (appendRun, appendResult) and with
// encoding/json's Marshal of a Message, measured side by side.
func BenchmarkFrameEncode(b *testing.B) {
	params := json.RawMessage(`{"limit":20000}`)
	value := json.RawMessage(`{"count":2262,"first":[2,3,5,7,11,13,17,19,23,29]}`)
	b.Run("run/append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := range b.N {
			buf = appendRun(buf, uint64(i+1), "cpu.primes", params, 5000)
		}
	})
	b.Run("run/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			m := Message{Type: TypeRun, ID: uint64(i + 1), Workload: "cpu.primes", Params: params, TimeoutMS: 5000}
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("result/append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := range b.N {
			buf = appendResult(buf, uint64(i+1), value, nil, 431000)
		}
	})
	b.Run("result/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			m := Message{Type: TypeResult, ID: uint64(i + 1), Value: value, RunNS: 431000}
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
