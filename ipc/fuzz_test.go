package ipc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/k6-concurrency/xk6-concurrency/internal/testworkload"
	"github.com/stretchr/testify/require"
)

// Fuzz targets for what a worker or a pool reads from the other side, which
// may be any bytes at all: the framing (ReadFrame), the hand-written JSON
// field scanner (wireMsg.parse and its accessors) and the worker's side of
// the protocol (Serve). `scripts/fuzz.sh` runs them; their corpora are in
// testdata/fuzz.

// frame returns payload as one frame.
func frame(payload string) []byte {
	var b bytes.Buffer
	if err := WriteFrame(&b, []byte(payload)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func frames(payloads ...string) []byte {
	b := make([]byte, 0, len(payloads)*8)
	for _, p := range payloads {
		b = append(b, frame(p)...)
	}
	return b
}

// spyReader hands out data in reads of at most chunk bytes and records the
// largest buffer it was asked to fill: ReadFrame reads a payload into the
// buffer it allocated for it, so that is the most it allocated at once.
type spyReader struct {
	data    []byte
	chunk   int
	largest int
}

func (r *spyReader) Read(p []byte) (int, error) {
	r.largest = max(r.largest, len(p))
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), r.chunk)
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{}, uint16(64), uint8(0))
	f.Add(frames(`{}`, `{"type":"run","id":1}`), uint16(64), uint8(3))
	f.Add(frames(`{"type":"result","id":1,"value":"x"}`), uint16(16), uint8(1)) // over the limit
	f.Add([]byte{0, 0, 0, 1, '{'}, uint16(64), uint8(0))                        // under 2 bytes
	f.Add([]byte{0, 0, 0, 0}, uint16(64), uint8(0))                             // empty frame
	f.Add([]byte{0, 0}, uint16(64), uint8(0))                                   // cut in the header
	f.Add([]byte{0, 0, 0, 9, '{', '"', 'a'}, uint16(64), uint8(2))              // cut in the payload
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, '{', '}'}, uint16(1024), uint8(0))     // 4 GiB claimed
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, uint16(65535), uint8(7))              // 2 GiB claimed
	f.Add(append(frames(`{"a":1}`), 0, 0, 0, 2), uint16(8), uint8(0))           // a good frame, then a cut one
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, chunk uint8) {
		maxFrame := int(limit % 1025) // a small max: 0 to 1 KiB
		// Read the stream twice: with a fresh buffer each time, and passing
		// back the last frame as the readers of this package do.
		for _, reuse := range []bool{false, true} {
			r := &spyReader{data: data, chunk: int(chunk%16) + 1}
			var buf []byte
			pos := 0
			for {
				got, err := readFrameChecked(t, r, buf, maxFrame, data[pos:])
				require.LessOrEqual(t, r.largest, max(maxFrame, headerSize),
					"ReadFrame(max %d) asked for a %d-byte read: it allocated beyond the limit", maxFrame, r.largest)
				if err != nil {
					checkFrameError(t, err, data[pos:], maxFrame)
					break
				}
				require.LessOrEqual(t, len(got), maxFrame, "ReadFrame(max %d) returned a frame of %d bytes", maxFrame, len(got))
				require.GreaterOrEqual(t, len(got), minFrame, "ReadFrame(max %d) returned a frame of %d bytes", maxFrame, len(got))
				// The frame re-encodes to the bytes it came from.
				want := data[pos : pos+headerSize+len(got)]
				require.Equal(t, want, frame(string(got)), "the frame re-encodes to other bytes than the stream had")
				pos += headerSize + len(got)
				if reuse {
					buf = got
				}
			}
		}
	})
}

// readFrameChecked is ReadFrame that also measures the heap it allocates
// when the length prefix claims more than 64 KiB: however much is claimed,
// ReadFrame may not allocate it before it knows it is within the limit.
func readFrameChecked(t *testing.T, r io.Reader, buf []byte, maxFrame int, rest []byte) ([]byte, error) {
	if len(rest) < headerSize || binary.BigEndian.Uint32(rest) < 64<<10 {
		return ReadFrame(r, buf, maxFrame)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := ReadFrame(r, buf, maxFrame)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(maxFrame)+32<<10 {
		// Something else (the fuzzing engine) may have allocated: only a
		// repeat offence counts.
		runtime.ReadMemStats(&before)
		_, _ = ReadFrame(bytes.NewReader(rest), nil, maxFrame)
		runtime.ReadMemStats(&after)
		n2 := after.TotalAlloc - before.TotalAlloc
		require.LessOrEqual(t, n2, uint64(maxFrame)+32<<10, "ReadFrame(max %d) allocated %d and %d bytes for a frame claiming %d bytes",
			maxFrame, n, n2, binary.BigEndian.Uint32(rest))
	}
	return got, err
}

// checkFrameError checks that ReadFrame's error is the right one for the
// rest of the stream, rest.
func checkFrameError(t *testing.T, err error, rest []byte, maxFrame int) {
	t.Helper()
	if len(rest) == 0 {
		require.ErrorIs(t, err, io.EOF, "at the end of the stream")
		return
	}
	var fe *FrameError
	require.ErrorAs(t, err, &fe, "error %v (%T), want a *FrameError", err, err)
	_ = fe.Error()
	if len(rest) < headerSize {
		require.Equal(t, FrameTruncated, fe.Kind, "stream ends %d bytes into a header: %+v", len(rest), fe)
		require.True(t, fe.Header, "stream ends %d bytes into a header: %+v", len(rest), fe)
		require.Equal(t, len(rest), fe.Got, "stream ends %d bytes into a header: %+v", len(rest), fe)
		return
	}
	n := int64(binary.BigEndian.Uint32(rest))
	switch {
	case n > int64(maxFrame):
		require.Equal(t, FrameTooLarge, fe.Kind, "frame of %d bytes over %d: %+v", n, maxFrame, fe)
		require.Equal(t, n, fe.Size, "frame of %d bytes over %d: %+v", n, maxFrame, fe)
		require.Equal(t, maxFrame, fe.Limit, "frame of %d bytes over %d: %+v", n, maxFrame, fe)
	case n < minFrame:
		require.Equal(t, FrameTooSmall, fe.Kind, "frame of %d bytes: %+v", n, fe)
		require.Equal(t, n, fe.Size, "frame of %d bytes: %+v", n, fe)
	case int64(len(rest)-headerSize) < n:
		require.Equal(t, FrameTruncated, fe.Kind, "frame of %d bytes with %d there: %+v", n, len(rest)-headerSize, fe)
		require.False(t, fe.Header, "frame of %d bytes with %d there: %+v", n, len(rest)-headerSize, fe)
		require.Equal(t, n, fe.Size, "frame of %d bytes with %d there: %+v", n, len(rest)-headerSize, fe)
		require.Equal(t, len(rest)-headerSize, fe.Got, "frame of %d bytes with %d there: %+v", n, len(rest)-headerSize, fe)
	default:
		require.FailNow(t, "a whole frame within the limit failed", "a whole frame of %d bytes within %d failed: %v", n, maxFrame, err)
	}
}

// wireFields are the fields wireMsg.parse finds, by their JSON names.
func wireFields(m *wireMsg) map[string][]byte {
	return map[string][]byte{
		"type": m.typ, "id": m.id, "workload": m.workload, "params": m.params, "timeout_ms": m.timeoutMS,
		"value": m.value, "error": m.err, "run_ns": m.runNS, "protocol": m.protocol,
		"concurrency": m.concurrency, "max_frame": m.maxFrame,
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","protocol":1,"concurrency":4,"max_frame":16777216}`,
		`{"type":"hello","protocol":1,"pid":4242,"workloads":[{"name":"cpu.primes","kind":"cpu","description":"...","params":{}}]}`,
		`{"type":"run","id":17,"workload":"cpu.primes","params":{"limit":20000},"timeout_ms":5000}`,
		`{"type":"result","id":17,"value":2262,"run_ns":431000}`,
		`{"type":"result","id":18,"error":{"name":"InvalidArgumentError","message":"cpu.primes: param \"limit\" must be an integer"},"run_ns":1200}`,
		`{"type":"cancel","id":17}`,
		` { "type" : "run" , "id" : 1.7e1 , "params" : null } `,
		`{"typ\u0065":"r\u0075n","\u0069d":"17"}`,
		`{"type":"run","type":"result","id":1,"id":2}`,
		`{"id":1}`, `{"type":1}`, `{"type":null}`, `[]`, `"type"`, `{}`, `{"a":{"type":"x"},"type":"y"}`,
		`{"type":"result","id":18446744073709551615,"value":[1,{"a":"}"}],"run_ns":-5}`,
		`{"type":"result","id":1,"value":"\ud800","error":null,"run_ns":1e400}`,
		`{"type":"x","params":{"\"":"\\"}}`,
		"{\"type\":\"run\"}\x00", `{"type":"run"`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m wireMsg
		err := m.parse(data)
		var generic map[string]json.RawMessage
		isObject := json.Unmarshal(data, &generic) == nil && generic != nil
		var typ string
		hasType := isObject && json.Unmarshal(generic["type"], &typ) == nil && generic["type"][0] == '"'
		if err != nil {
			require.False(t, hasType, "parse(%q) = %v, but it is an object with the type %q", data, err, typ)
			return
		}
		require.True(t, json.Valid(data), "parse accepted %q, which is not a JSON object", data)
		require.True(t, isObject, "parse accepted %q, which is not a JSON object", data)
		require.True(t, hasType, "parse accepted %q, which has no string type", data)

		// The type, and each field, is what encoding/json finds (with
		// exact, case-sensitive names; the last of duplicates wins in both).
		// Strings are compared when valid UTF-8, as frames must be:
		// encoding/json turns each bad byte into U+FFFD, while parse leaves
		// the bytes of a string without escapes as they are. (No type or
		// workload name is invalid UTF-8, so that cannot change a match.)
		if utf8.Valid(generic["type"]) {
			require.Equal(t, typ, m.typeName(), "parse(%q): the type encoding/json finds", data)
			for _, want := range []string{TypeHello, TypeRun, TypeResult, TypeCancel, typ, typ + "x", ""} {
				require.Equal(t, want == typ, m.is(want), "parse(%q): is(%q) with type %q", data, want, typ)
			}
		}
		for _, name := range []string{TypeHello, TypeRun, TypeResult, TypeCancel} {
			require.Equal(t, typ == name, m.is(name), "parse(%q): is(%q) with type %q", data, name, typ)
		}
		for name, got := range wireFields(&m) {
			want, ok := generic[name]
			if !ok {
				require.Nil(t, got, "parse(%q): field %s = %q, but encoding/json finds none", data, name, got)
				continue
			}
			require.Equal(t, []byte(want), got, "parse(%q): field %s = %q, encoding/json finds %q", data, name, got, want)
		}
		checkAccessors(t, data, &m)
	})
}

// checkAccessors runs the accessors the pool's reader and Serve apply to a
// parsed message, and compares their numbers with encoding/json's.
func checkAccessors(t *testing.T, data []byte, m *wireMsg) {
	t.Helper()
	_ = snippet(data)
	for _, v := range [][]byte{m.id, m.maxFrame, m.protocol, m.concurrency} {
		n, ok := parseUint(v)
		var u uint64
		// encoding/json reads null into a number as "no change" (0), where
		// the protocol has no number: parseUint rightly refuses it.
		if !bytes.Equal(v, []byte("null")) && json.Unmarshal(v, &u) == nil && u < 1<<63 {
			// Integers in JSON's own syntax are read exactly.
			require.True(t, ok, "parse(%q): parseUint(%s) refused; encoding/json reads %d", data, v, u)
			require.Equal(t, u, n, "parse(%q): parseUint(%s); encoding/json reads %d", data, v, u)
		}
		var f float64
		if ok {
			err := json.Unmarshal(v, &f)
			require.NoError(t, err, "parse(%q): parseUint(%s) = %d, but encoding/json does not read it", data, v, n)
			require.GreaterOrEqual(t, f, 0.0, "parse(%q): parseUint(%s) = %d, but encoding/json reads %v", data, v, n, f)
			require.InDelta(t, math.Trunc(f), f, 0, "parse(%q): parseUint(%s) = %d, but encoding/json reads %v", data, v, n, f)
			d := math.Abs(float64(n) - f)
			require.LessOrEqual(t, d, f*1e-15, "parse(%q): parseUint(%s) = %d, encoding/json reads %v", data, v, n, f)
		}
	}
	for _, v := range [][]byte{m.timeoutMS, m.runNS} {
		n, ok := parseNumber(v)
		var f float64
		jsonErr := json.Unmarshal(v, &f)
		if v != nil && v[0] != 'n' {
			// (null decodes into a float64 without error, as no change)
			require.Equal(t, jsonErr == nil, ok, "parse(%q): parseNumber(%s) = %v, %v; encoding/json: %v, %v", data, v, n, ok, f, jsonErr)
		}
		if ok && jsonErr == nil {
			require.InDelta(t, f, n, 0, "parse(%q): parseNumber(%s) = %v, encoding/json reads %v", data, v, n, f)
		}
	}
	if s, ok := unquote(m.workload); ok && len(m.workload) > 0 && m.workload[0] == '"' && utf8.Valid(m.workload) {
		var want string
		require.NoError(t, json.Unmarshal(m.workload, &want), "parse(%q): workload %q", data, s)
		require.Equal(t, want, s, "parse(%q): the workload encoding/json reads", data)
	}
	if !isNull(m.err) {
		var we WireError
		_ = json.Unmarshal(m.err, &we)
	}
	_ = isNull(m.params)
	_ = isObject(data)
}

func FuzzServe(f *testing.F) {
	// The input is frames' payloads, one a line; a first byte of 0 makes the
	// rest a raw stream instead (length prefixes and all).
	for _, s := range []string{
		`{"type":"hello","protocol":1,"concurrency":4,"max_frame":16777216}` + "\n" +
			`{"type":"run","id":1,"workload":"t.echo","params":{"a":[1,"x"]}}` + "\n" +
			`{"type":"run","id":2,"workload":"t.sleep","params":{"ms":5},"timeout_ms":1}` + "\n" +
			`{"type":"cancel","id":2}`,
		`{"type":"run","id":1,"workload":"t.fail"}` + "\n" + `{"type":"run","id":2,"workload":"t.panic"}` + "\n" +
			`{"type":"run","id":3,"workload":"t.badvalue"}` + "\n" + `{"type":"run","id":4,"workload":"t.nope"}`,
		`{"type":"run","id":1,"workload":"t.sleep","params":{"ms":"x"}}` + "\n" + `{"type":"run","id":1,"workload":"t.sleep","params":[]}`,
		`{"type":"run","id":1,"workload":"t.sleep","params":{"ms":20}}` + "\n" + `{"type":"run","id":1,"workload":"t.noop"}`,
		`{"type":"run","id":0,"workload":"t.noop"}`,
		`{"type":"run","id":1}`,
		`{"type":"run","id":1,"workload":"t.noop","timeout_ms":"soon"}`,
		`{"type":"hello","max_frame":2}` + "\n" + `{"type":"run","id":1,"workload":"t.noop"}`,
		`{"type":"later","x":1}` + "\n" + `{"type":"run","id":1e0,"workload":"t.echo","params":null}`,
		"not json",
		"\x00" + string(frames(`{"type":"run","id":1,"workload":"t.noop"}`)) + "\x00\x00",
		"\x00\xff\xff\xff\xff",
	} {
		f.Add([]byte(s))
	}
	reg := testworkload.Harmless()
	f.Fuzz(func(t *testing.T, data []byte) {
		var input []byte
		runs := map[uint64]int{} // how many runs carry each id
		if len(data) > 0 && data[0] == 0 {
			input = data[1:]
		} else {
			for line := range strings.SplitSeq(string(data), "\n") {
				if len(line) >= minFrame {
					input = append(input, frame(line)...)
				}
			}
		}
		// Count the runs the input holds, whatever else it holds.
		br := bytes.NewReader(input)
		for {
			fr, err := ReadFrame(br, nil, DefaultMaxFrame)
			if err != nil {
				break
			}
			var m wireMsg
			if m.parse(fr) == nil && m.is(TypeRun) {
				if id, ok := parseUint(m.id); ok {
					runs[id]++
				}
			}
		}

		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		served := make(chan error, 1)
		go func() {
			err := Serve(inR, outW, reg)
			_ = outW.Close()
			_ = inR.Close()
			served <- err
		}()
		results := make(chan error, 1)
		go func() { results <- readResults(outR, runs) }()
		go func() {
			_, _ = inW.Write(input) // fails once Serve stops reading
			_ = inW.Close()
		}()
		timeout := time.NewTimer(5 * time.Second)
		defer timeout.Stop()
		select {
		case <-served: //nolint:errcheck // Serve may refuse hostile input; its output is checked below
		case <-timeout.C:
			require.FailNow(t, "Serve did not return within 5s of the end of its input", "input %q", input)
		}
		select {
		case err := <-results:
			require.NoError(t, err, "input %q", input)
		case <-timeout.C:
			require.FailNow(t, "the output did not end within 5s of Serve's return")
		}
	})
}

// readResults reads Serve's output: a hello, then results, each for a run
// the input held and no more of them per id than the input had runs.
func readResults(r io.Reader, runs map[uint64]int) error {
	br := bufio.NewReader(r)
	answered := map[uint64]int{}
	for i := 0; ; i++ {
		fr, err := ReadFrame(br, nil, math.MaxUint32)
		if errors.Is(err, io.EOF) {
			if i == 0 {
				return errors.New("no hello")
			}
			_, _ = io.Copy(io.Discard, br)
			return nil
		}
		if err != nil {
			return fmt.Errorf("output frame %d: %w", i, err)
		}
		var m Message
		if err := json.Unmarshal(fr, &m); err != nil {
			return fmt.Errorf("output frame %d is not a message (%w): %q", i, err, fr)
		}
		if i == 0 {
			if m.Type != TypeHello || m.Protocol != ProtocolVersion {
				return fmt.Errorf("first output frame %q is not a hello", fr)
			}
			continue
		}
		if m.Type != TypeResult || m.ID == 0 {
			return fmt.Errorf("output frame %d is not a result: %q", i, fr)
		}
		if m.Error != nil && (m.Error.Name == "" || m.Error.Message == "") {
			return fmt.Errorf("output frame %d has an error without a name or message: %q", i, fr)
		}
		if answered[m.ID]++; answered[m.ID] > runs[m.ID] {
			return fmt.Errorf("result %d for id %d, which had %d runs: %q", answered[m.ID], m.ID, runs[m.ID], fr)
		}
		_ = strconv.Itoa(i)
	}
}
