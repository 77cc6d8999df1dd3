package ipc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

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
// protocol with encoding/json; this package's own hot paths encode and decode
// run, result and cancel messages by hand.
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

// parse checks that frame is one JSON object and finds its fields. The
// error says what is wrong with the frame.
func (m *wireMsg) parse(frame []byte) error {
	*m = wireMsg{}
	if !json.Valid(frame) {
		var v any
		err := json.Unmarshal(frame, &v)
		if err == nil {
			err = fmt.Errorf("invalid JSON")
		}
		return fmt.Errorf("a frame that is not valid JSON (%w): %s", err, snippet(frame))
	}
	return m.parseValid(frame)
}

// parseValid is parse for a frame (or an item of a batch) that json.Valid
// accepted already.
func (m *wireMsg) parseValid(frame []byte) error {
	*m = wireMsg{}
	i := skipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '{' {
		return fmt.Errorf("a frame that is not a JSON object: %s", snippet(frame))
	}
	it := objIter{d: frame, i: i + 1}
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		var k string
		if hasBackslash(key) {
			k, _ = unquote(key)
		}
		switch {
		case match(key, k, "type"):
			m.typ = val
		case match(key, k, "id"):
			m.id = val
		case match(key, k, "workload"):
			m.workload = val
		case match(key, k, "params"):
			m.params = val
		case match(key, k, "timeout_ms"):
			m.timeoutMS = val
		case match(key, k, "value"):
			m.value = val
		case match(key, k, "error"):
			m.err = val
		case match(key, k, "run_ns"):
			m.runNS = val
		case match(key, k, "protocol"):
			m.protocol = val
		case match(key, k, "concurrency"):
			m.concurrency = val
		case match(key, k, "max_frame"):
			m.maxFrame = val
		case match(key, k, "module"):
			m.module = val
		case match(key, k, "features"):
			m.features = val
		case match(key, k, "requests"):
			m.requests = val
		case match(key, k, "results"):
			m.results = val
		}
	}
	if m.typ == nil {
		return fmt.Errorf("a message without a type: %s", snippet(frame))
	}
	if m.typ[0] != '"' {
		return fmt.Errorf("a message whose type is not a string: %s", snippet(frame))
	}
	return nil
}

// match compares a raw key (quotes stripped) with name; unescaped is the key
// decoded when it holds escapes.
func match(raw []byte, unescaped, name string) bool {
	if unescaped != "" {
		return unescaped == name
	}
	return string(raw) == name
}

// is reports whether the message's type is t.
func (m *wireMsg) is(t string) bool {
	if len(m.typ) >= 2 && !hasBackslash(m.typ) {
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

// unquote decodes a JSON string token (quotes included), or a key's bytes
// between its quotes when they hold escapes.
func unquote(v []byte) (string, bool) {
	if len(v) >= 2 && v[0] == '"' {
		if !hasBackslash(v) {
			return string(v[1 : len(v)-1]), true
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			return s, true
		}
		return "", false
	}
	// a key: requote it.
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, v...), '"'), &s); err == nil {
		return s, true
	}
	return "", false
}

func hasBackslash(v []byte) bool {
	return slices.Contains(v, '\\')
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

// objIter walks the members of a JSON object that json.Valid accepted.
type objIter struct {
	d []byte
	i int // after '{' or after a member
}

func (it *objIter) next() (key, val []byte, ok bool) {
	d, i := it.d, skipSpace(it.d, it.i)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] != '"' {
		it.i = len(d)
		return nil, nil, false
	}
	ks := i
	i = skipString(d, i)
	key = d[ks+1 : i-1]
	i = skipSpace(d, i)
	i = skipSpace(d, i+1) // ':'
	vs := i
	i = skipValue(d, i)
	it.i = i
	return key, d[vs:i], true
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

// skipValue returns the index after the value starting at d[i].
func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return i
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
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
