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
		if err := WriteFrame(&stream, p); err != nil {
			t.Fatalf("WriteFrame(%d bytes): %v", n, err)
		}
	}
	var buf []byte
	for i, want := range payloads {
		got, err := ReadFrame(&stream, buf, 1<<20)
		if err != nil {
			t.Fatalf("frame %d (%d bytes): %v", i, len(want), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d (%d bytes): payload differs", i, len(want))
		}
		buf = got
	}
	if _, err := ReadFrame(&stream, buf, 1<<20); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: got %v, want io.EOF", err)
	}
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
		if err := WriteFrame(&w, p); err != nil {
			t.Fatal(err)
		}
		wantWrites := 1
		if n > 64<<10 {
			wantWrites = 2
		}
		if w.writes != wantWrites {
			t.Errorf("%d bytes: %d writes, want %d", n, w.writes, wantWrites)
		}
		got, err := ReadFrame(&w.buf, nil, n)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d bytes: read back %d bytes, err %v", n, len(got), err)
		}
	}
}

func header(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func TestFrameMax(t *testing.T) {
	t.Parallel()
	const limit = 1000
	var stream bytes.Buffer
	_ = WriteFrame(&stream, bytes.Repeat([]byte{'a'}, limit))
	if got, err := ReadFrame(&stream, nil, limit); err != nil || len(got) != limit {
		t.Fatalf("a frame of exactly the limit: %d bytes, %v", len(got), err)
	}
	_ = WriteFrame(&stream, bytes.Repeat([]byte{'a'}, limit+1))
	_, err := ReadFrame(&stream, nil, limit)
	var fe *FrameError
	if !errors.As(err, &fe) || fe.Kind != FrameTooLarge || fe.Size != limit+1 || fe.Limit != limit {
		t.Fatalf("limit+1: got %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "1001") || !strings.Contains(msg, "1000") {
		t.Errorf("message %q should name the size and the limit", msg)
	}
}

func TestFrameTooSmall(t *testing.T) {
	t.Parallel()
	for _, n := range []uint32{0, 1} {
		_, err := ReadFrame(bytes.NewReader(append(header(n), 'x')), nil, 100)
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Kind != FrameTooSmall || fe.Size != int64(n) {
			t.Fatalf("size %d: got %v", n, err)
		}
		if !strings.Contains(err.Error(), "too small") {
			t.Errorf("message %q", err)
		}
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
		if !errors.As(err, &fe) || fe.Kind != FrameTooLarge || fe.Size != 0xFFFFFFFF {
			t.Fatalf("got %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d >= 1<<20 {
		t.Fatalf("100 reads of a 4 GiB claim allocated %d bytes", d)
	}
	_, err := ReadFrame(bytes.NewReader(data), nil, DefaultMaxFrame)
	if msg := err.Error(); !strings.Contains(msg, "4294967295") || !strings.Contains(msg, "16777216") {
		t.Errorf("message %q should name the claimed size and the limit", msg)
	}
}

func TestFrameTruncated(t *testing.T) {
	t.Parallel()
	var fe *FrameError
	_, err := ReadFrame(bytes.NewReader([]byte{0, 0}), nil, 100)
	if !errors.As(err, &fe) || fe.Kind != FrameTruncated || !fe.Header || fe.Got != 2 {
		t.Fatalf("truncated header: got %v", err)
	}
	if !strings.Contains(err.Error(), "2 of the 4 length bytes") {
		t.Errorf("message %q", err)
	}
	_, err = ReadFrame(bytes.NewReader(append(header(100), make([]byte, 10)...)), nil, 1000)
	if !errors.As(err, &fe) || fe.Kind != FrameTruncated || fe.Header || fe.Got != 10 || fe.Size != 100 {
		t.Fatalf("truncated body: got %v", err)
	}
	if !strings.Contains(err.Error(), "90 missing") {
		t.Errorf("message %q should say how many bytes were missing", err)
	}
	// A header and no body at all.
	_, err = ReadFrame(bytes.NewReader(header(5)), nil, 1000)
	if !errors.As(err, &fe) || fe.Kind != FrameTruncated || fe.Got != 0 {
		t.Fatalf("missing body: got %v", err)
	}
}

func TestFrameEOF(t *testing.T) {
	t.Parallel()
	if _, err := ReadFrame(bytes.NewReader(nil), nil, 100); !errors.Is(err, io.EOF) {
		t.Fatalf("empty stream: got %v, want io.EOF", err)
	}
}

func TestFrameReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := ReadFrame(io.MultiReader(bytes.NewReader(header(10)), &errReader{boom}), nil, 100)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

func TestWireMsgParse(t *testing.T) {
	t.Parallel()
	frame := []byte(` { "run_ns" : 12.0e3, "value" : {"a": "}\"]", "b": [1, {"c": null}]},
		"\u0074ype": "result", "id": 17, "extra": [true, false, "x"], "error": null } `)
	var m wireMsg
	if err := m.parse(frame); err != nil {
		t.Fatal(err)
	}
	if !m.is(TypeResult) || string(m.id) != "17" || string(m.value) != `{"a": "}\"]", "b": [1, {"c": null}]}` ||
		string(m.runNS) != "12.0e3" || !isNull(m.err) {
		t.Fatalf("parsed %+v", m)
	}
	if id, ok := parseUint(m.id); !ok || id != 17 {
		t.Errorf("id %d %v", id, ok)
	}
	if ns, ok := parseNumber(m.runNS); !ok || ns != 12000 {
		t.Errorf("run_ns %v %v", ns, ok)
	}
	for frame, want := range map[string]string{
		`{"type": "result", oops`: "not valid JSON",
		`[1,2]`:                   "not a JSON object",
		`"hello"`:                 "not a JSON object",
		`{"id": 1}`:               "without a type",
		`{"type": 1}`:             "type is not a string",
	} {
		err := m.parse([]byte(frame))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", frame, err, want)
		}
	}
}

func TestParseUint(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"0": 0, "17": 17, "17.0": 17, "1.7e1": 17, "9007199254740991": 1<<53 - 1} {
		if got, ok := parseUint([]byte(in)); !ok || got != want {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-1", "1.5", "x", "1e400", "99999999999999999999999"} {
		if _, ok := parseUint([]byte(in)); ok {
			t.Errorf("%s: accepted", in)
		}
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uo\te`, "new\nline\ttab\r\x00\x1f", "ünï€😀", "\xff bad utf8 \xc3", "<&>\u2028"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encoded as %s: %v", s, b, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Errorf("%q: round trip gave %q", s, got)
		}
	}
}

func TestEncodedMessagesDecode(t *testing.T) {
	t.Parallel()
	run := appendRun(nil, 42, "w\"x", []byte(`{"limit": 5}`), 1500)
	var m Message
	if err := json.Unmarshal(run[headerSize:], &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeRun || m.ID != 42 || m.Workload != "w\"x" || string(m.Params) != `{"limit": 5}` || m.TimeoutMS != 1500 {
		t.Fatalf("run decoded as %+v", m)
	}
	if n := binary.BigEndian.Uint32(run); int(n) != len(run)-headerSize {
		t.Fatalf("length prefix %d for %d bytes", n, len(run)-headerSize)
	}
	m = Message{}
	res := appendResult(nil, 7, nil, taskerr.New(taskerr.Timeout, "t: took \"long\""), 99)
	if err := json.Unmarshal(res[headerSize:], &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeResult || m.ID != 7 || m.Error == nil || m.Error.Name != "TimeoutError" || m.Error.Message != `t: took "long"` || m.RunNS != 99 {
		t.Fatalf("result decoded as %+v", m)
	}
	m = Message{}
	cancel := appendCancel(nil, 9)
	if err := json.Unmarshal(cancel[headerSize:], &m); err != nil || m.Type != TypeCancel || m.ID != 9 {
		t.Fatalf("cancel decoded as %+v, %v", m, err)
	}
}

func TestWireCode(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]taskerr.Code{
		"InvalidArgumentError": taskerr.InvalidArgument, "UnknownWorkloadError": taskerr.UnknownWorkload,
		"WorkloadError": taskerr.Workload, "TimeoutError": taskerr.Timeout,
		"WorkerCrashedError": taskerr.Workload, "ValueError": taskerr.Workload, "": taskerr.Workload,
	} {
		if got := wireCode(name); got != want {
			t.Errorf("%q: %s, want %s", name, got, want)
		}
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
			if err, valid := m.parse(frame), json.Valid(frame); (err == nil) != valid {
				t.Fatalf("parse: %v; json.Valid: %v", err, valid)
			}
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
