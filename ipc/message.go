package ipc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// The message types of PROTOCOL.md.
const (
	TypeHello  = "hello"
	TypeRun    = "run"
	TypeResult = "result"
	TypeCancel = "cancel"
	// TypeBatch carries several runs (pool to worker) or several results
	// (worker to pool) in one frame, between sides whose hellos list
	// FeatureBatch.
	TypeBatch = "batch"
)

// Message is any protocol message, with the JSON names of PROTOCOL.md; each
// type uses some of the fields. It is for tools and tests that speak the
// protocol with encoding/json. This package's own hot paths encode run,
// result and cancel messages by hand, without allocating, and decode every
// frame with jsontext (github.com/go-json-experiment/json) in one pass that
// validates it and finds its fields as spans of the frame (wireMsg).
type Message struct {
	Type string `json:"type"`

	// hello
	Protocol    int             `json:"protocol,omitempty"`
	Concurrency int             `json:"concurrency,omitempty"` // pool to worker
	MaxFrame    int             `json:"max_frame,omitempty"`   // pool to worker
	PID         int             `json:"pid,omitempty"`         // worker to pool
	Workloads   []workload.Info `json:"workloads,omitempty"`   // worker to pool
	Module      json.RawMessage `json:"module,omitempty"`      // pool to worker: see FeatureModule
	Features    []string        `json:"features,omitempty"`    // both ways: FeaturePrefetch, FeatureBatch, ...

	// run, result, cancel
	ID uint64 `json:"id,omitempty"`

	// run
	Workload  string          `json:"workload,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"`

	// result
	Value json.RawMessage `json:"value,omitempty"`
	Error *WireError      `json:"error,omitempty"`
	RunNS int64           `json:"run_ns,omitempty"`

	// batch: run messages (pool to worker) or result messages (worker to pool)
	Requests []Message `json:"requests,omitempty"`
	Results  []Message `json:"results,omitempty"`
}

// WireError is a result's error.
type WireError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// wireCode maps a result's error name to a failure class: the four names
// PROTOCOL.md lists keep theirs, any other is a Workload failure.
func wireCode(name string) taskerr.Code {
	switch c := taskerr.Code(name); c {
	case taskerr.InvalidArgument, taskerr.UnknownWorkload, taskerr.Workload, taskerr.Timeout:
		return c
	default:
		return taskerr.Workload
	}
}

// wireMsg is a decoded frame: spans of the frame's bytes, one per field this
// package reads. Absent fields are nil. Nothing is copied.
type wireMsg struct {
	typ, id, workload, params, timeoutMS, value, err, runNS []byte
	protocol, concurrency, maxFrame                         []byte
	module                                                  []byte
	features, requests, results                             []byte
}

// wireOptions make jsontext accept what encoding/json accepts, as the
// protocol's other implementations do: duplicate names (the last one
// counts) and strings that are not UTF-8.
//
//nolint:gochecknoglobals // constant options
var wireOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// wireDecoder is a jsontext.Decoder reading a frame in place: over a
// bytes.Buffer it hands out values as spans of the frame, without copying.
type wireDecoder struct {
	buf bytes.Buffer
	jsontext.Decoder
}

//nolint:gochecknoglobals // decoders shared by every reader of the process
var wireDecoders = sync.Pool{New: func() any { return new(wireDecoder) }}

// decoderFor returns a decoder over frame; put it back with release.
func decoderFor(frame []byte) *wireDecoder {
	d := wireDecoders.Get().(*wireDecoder) //nolint:forcetypeassert // the pool holds only *wireDecoder
	d.buf = *bytes.NewBuffer(frame)
	d.Reset(&d.buf, wireOptions...)
	return d
}

// release returns d to the pool, holding no frame.
func (d *wireDecoder) release() {
	d.buf = bytes.Buffer{}
	d.Reset(&d.buf)
	wireDecoders.Put(d)
}

// parse checks that frame is one JSON object and finds its fields. The
// error says what is wrong with the frame; then m is empty.
func (m *wireMsg) parse(frame []byte) error {
	*m = wireMsg{}
	err := m.scan(frame)
	if err != nil {
		*m = wireMsg{}
	}
	return err
}

func (m *wireMsg) scan(frame []byte) error {
	d := decoderFor(frame)
	defer d.release()
	if d.PeekKind() != '{' {
		if !jsontext.Value(frame).IsValid(wireOptions...) {
			return notJSON(frame)
		}
		return fmt.Errorf("a frame that is not a JSON object: %s", snippet(frame))
	}
	if _, err := d.ReadToken(); err != nil {
		return notJSON(frame)
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil {
			return notJSON(frame)
		}
		val, err := d.ReadValue()
		if err != nil {
			return notJSON(frame)
		}
		m.set(name, val)
	}
	// The closing brace, then nothing but white space.
	if _, err := d.ReadToken(); err != nil || !isSpace(d.UnreadBuffer()) {
		return notJSON(frame)
	}
	if m.typ == nil {
		return fmt.Errorf("a message without a type: %s", snippet(frame))
	}
	if m.typ[0] != '"' {
		return fmt.Errorf("a message whose type is not a string: %s", snippet(frame))
	}
	return nil
}

// set keeps val if name (a quoted JSON string) names a field of wireMsg.
func (m *wireMsg) set(name, val []byte) {
	var dst *[]byte
	switch string(fieldName(name)) {
	case `"type"`:
		dst = &m.typ
	case `"id"`:
		dst = &m.id
	case `"workload"`:
		dst = &m.workload
	case `"params"`:
		dst = &m.params
	case `"timeout_ms"`:
		dst = &m.timeoutMS
	case `"value"`:
		dst = &m.value
	case `"error"`:
		dst = &m.err
	case `"run_ns"`:
		dst = &m.runNS
	case `"protocol"`:
		dst = &m.protocol
	case `"concurrency"`:
		dst = &m.concurrency
	case `"max_frame"`:
		dst = &m.maxFrame
	case `"module"`:
		dst = &m.module
	case `"features"`:
		dst = &m.features
	case `"requests"`:
		dst = &m.requests
	case `"results"`:
		dst = &m.results
	default:
		return
	}
	*dst = val
}

// fieldName is a quoted name with its escapes decoded (still quoted), for a
// switch on the field names; a name without escapes is returned as it is,
// so that the switch allocates nothing.
func fieldName(name []byte) []byte {
	if !slices.Contains(name, '\\') {
		return name
	}
	s, err := jsontext.AppendUnquote([]byte{'"'}, name)
	if err != nil {
		return nil
	}
	return append(s, '"')
}

// notJSON is parse's error for a frame that is not valid JSON, with what
// jsontext says is wrong.
func notJSON(frame []byte) error {
	err := jsontext.NewDecoder(bytes.NewReader(frame), wireOptions...).SkipValue()
	if err == nil {
		err = errors.New("more than one JSON value")
	}
	return fmt.Errorf("a frame that is not valid JSON (%s): %s",
		strings.TrimPrefix(err.Error(), "jsontext: "), snippet(frame))
}

func isSpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

// is reports whether the message's type is t.
func (m *wireMsg) is(t string) bool {
	if len(m.typ) >= 2 && !slices.Contains(m.typ, '\\') {
		return string(m.typ[1:len(m.typ)-1]) == t
	}
	s, _ := unquote(m.typ)
	return s == t
}

// typeName returns the message's type for error messages.
func (m *wireMsg) typeName() string {
	s, _ := unquote(m.typ)
	return s
}

// snippet quotes the start of a frame for an error message.
func snippet(frame []byte) string {
	const n = 64
	if len(frame) > n {
		return strconv.Quote(string(frame[:n])) + "..."
	}
	return strconv.Quote(string(frame))
}

func isNull(v []byte) bool { return v == nil || string(v) == "null" }

// unquote decodes a JSON string token (quotes included).
func unquote(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if !slices.Contains(v, '\\') {
		return string(v[1 : len(v)-1]), true
	}
	s, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return "", false
	}
	return string(s), true
}

// parseUint reads a JSON number that must be a non-negative integer (an
// integral float such as 17.0 or 1.7e1 is accepted too).
func parseUint(v []byte) (uint64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil || f < 0 || f != math.Trunc(f) || f >= 1<<63 {
				return 0, false
			}
			return uint64(f), true
		}
		if n > (math.MaxUint64-9)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// parseNumber reads any JSON number.
func parseNumber(v []byte) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	if n, ok := parseUint(v); ok && n < 1<<53 {
		return float64(n), true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string token starting at d[i].
func skipString(d []byte, i int) int {
	for i++; i < len(d); {
		switch d[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(d)
}

// Encoding. Frames are built with their 4-byte length prefix in place, so a
// frame is one Write.

func beginFrame(b []byte) []byte { return append(b[:0], 0, 0, 0, 0) }

func endFrame(b []byte) []byte {
	// #nosec G115 -- callers refuse a frame over maxFrame (at most math.MaxUint32) before writing it
	binary.BigEndian.PutUint32(b, uint32(len(b)-headerSize))
	return b
}

// appendRun encodes a run message as a frame.
func appendRun(b []byte, id uint64, name string, params []byte, timeoutMS int64) []byte {
	b = beginFrame(b)
	b = append(b, `{"type":"run","id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"workload":`...)
	b = appendString(b, name)
	b = append(b, `,"params":`...)
	if len(params) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, params...)
	}
	if timeoutMS > 0 {
		b = append(b, `,"timeout_ms":`...)
		b = strconv.AppendInt(b, timeoutMS, 10)
	}
	b = append(b, '}')
	return endFrame(b)
}

// appendCancel encodes a cancel message as a frame.
func appendCancel(b []byte, id uint64) []byte {
	b = beginFrame(b)
	b = append(b, `{"type":"cancel","id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, '}')
	return endFrame(b)
}

// appendResult encodes a result message as a frame; value is JSON or nil,
// and e is nil unless the task failed.
func appendResult(b []byte, id uint64, value []byte, e *taskerr.Error, runNS int64) []byte {
	b = beginFrame(b)
	b = append(b, `{"type":"result","id":`...)
	b = strconv.AppendUint(b, id, 10)
	if e != nil {
		b = append(b, `,"error":{"name":`...)
		b = appendString(b, string(e.Code))
		b = append(b, `,"message":`...)
		b = appendString(b, e.Message)
		b = append(b, '}')
	} else if value != nil {
		b = append(b, `,"value":`...)
		b = append(b, value...)
	}
	b = append(b, `,"run_ns":`...)
	b = strconv.AppendInt(b, max(runNS, 0), 10)
	b = append(b, '}')
	return endFrame(b)
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// isObject reports whether b looks like a JSON object: '{' ... '}' around
// optional white space. It does not validate what is inside.
func isObject(b []byte) bool {
	i := skipSpace(b, 0)
	j := len(b) - 1
	for j > i && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
		j--
	}
	return i < j && b[i] == '{' && b[j] == '}'
}
