package concurrency

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/grafana/sobek"
)

// A worker's JSON may escape a lone surrogate ("\ud800": Python's and
// Node's encoders write one for a string that holds it). JavaScript strings
// can hold it, but sobek's JSON.parse decodes strings through Go's, which
// replace it with U+FFFD. Such a text is decoded here instead, into the same
// plain objects and arrays, with strings built from their UTF-16 code units.

// hasLoneSurrogateEscape reports whether text escapes a surrogate that is
// not half of a pair.
func hasLoneSurrogateEscape(text []byte) bool {
	for i := bytes.Index(text, []byte(`\u`)); i >= 0; {
		if backslashes(text[:i])%2 == 0 && i+6 <= len(text) {
			if u, ok := hex4(text[i+2 : i+6]); ok && utf16.IsSurrogate(rune(u)) {
				if u >= 0xDC00 || !isLowSurrogateEscape(text[i+6:]) {
					return true
				}
				i += 6 // skip the low half of the pair
			}
		}
		next := bytes.Index(text[i+2:], []byte(`\u`))
		if next < 0 {
			return false
		}
		i += 2 + next
	}
	return false
}

// backslashes counts the backslashes that end b: an odd count escapes the
// one after them.
func backslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

func isLowSurrogateEscape(b []byte) bool {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return false
	}
	u, ok := hex4(b[2:6])
	return ok && u >= 0xDC00 && u < 0xE000
}

func hex4(b []byte) (uint16, bool) {
	u, err := strconv.ParseUint(string(b), 16, 16)
	return uint16(u), err == nil
}

// jsonDecoder decodes JSON text that encoding/json has already accepted
// into JavaScript values, as JSON.parse does, keeping lone surrogates.
type jsonDecoder struct {
	rt     *sobek.Runtime
	text   []byte
	i      int
	define sobek.Callable // Object.defineProperty, for keys with a lone surrogate
}

var errBadJSON = errors.New("invalid JSON")

func (d *jsonDecoder) decode() (v sobek.Value, err error) {
	defer func() {
		if recover() != nil { // an index out of range: not the valid JSON promised
			v, err = nil, errBadJSON
		}
	}()
	return d.value()
}

func (d *jsonDecoder) space() {
	for d.i < len(d.text) && bytes.IndexByte([]byte(" \t\r\n"), d.text[d.i]) >= 0 {
		d.i++
	}
}

func (d *jsonDecoder) value() (sobek.Value, error) {
	d.space()
	switch c := d.text[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.str(), nil
	case 't', 'f', 'n':
		for _, lit := range []struct {
			text  string
			value sobek.Value
		}{{"true", d.rt.ToValue(true)}, {"false", d.rt.ToValue(false)}, {"null", sobek.Null()}} {
			if bytes.HasPrefix(d.text[d.i:], []byte(lit.text)) {
				d.i += len(lit.text)
				return lit.value, nil
			}
		}
		return nil, errBadJSON
	default:
		start := d.i
		for d.i < len(d.text) && bytes.IndexByte([]byte("+-.0123456789eE"), d.text[d.i]) >= 0 {
			d.i++
		}
		f, err := strconv.ParseFloat(string(d.text[start:d.i]), 64)
		if err != nil {
			return nil, errBadJSON
		}
		return d.rt.ToValue(f), nil
	}
}

func (d *jsonDecoder) array() (sobek.Value, error) {
	d.i++ // [
	var items []any
	for d.space(); d.text[d.i] != ']'; d.space() {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		if d.space(); d.text[d.i] == ',' {
			d.i++
		}
	}
	d.i++
	return d.rt.NewArray(items...), nil
}

func (d *jsonDecoder) object() (sobek.Value, error) {
	d.i++ // {
	obj := d.rt.NewObject()
	for d.space(); d.text[d.i] != '}'; d.space() {
		key := d.str()
		d.space()
		d.i++ // :
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		if err := d.set(obj, key, v); err != nil {
			return nil, err
		}
		if d.space(); d.text[d.i] == ',' {
			d.i++
		}
	}
	d.i++
	return obj, nil
}

// set defines obj[key] as JSON.parse does: an own, enumerable, writable
// data property, even for "__proto__".
func (d *jsonDecoder) set(obj *sobek.Object, key sobek.String, v sobek.Value) error {
	if at, _ := loneSurrogate(key, key.String()); at < 0 {
		return obj.DefineDataProperty(key.String(), v, sobek.FLAG_TRUE, sobek.FLAG_TRUE, sobek.FLAG_TRUE)
	}
	if d.define == nil {
		d.define, _ = sobek.AssertFunction(d.rt.Get("Object").ToObject(d.rt).Get("defineProperty"))
	}
	desc := d.rt.NewObject()
	for _, f := range []string{"writable", "enumerable", "configurable"} {
		_ = desc.Set(f, true)
	}
	_ = desc.Set("value", v)
	_, err := d.define(sobek.Undefined(), obj, key, desc)
	return err
}

// str decodes the string at d.i into UTF-16 code units, keeping lone
// surrogates.
func (d *jsonDecoder) str() sobek.String {
	d.i++ // "
	var units []uint16
	for {
		switch d.text[d.i] {
		case '"':
			d.i++
			return sobek.StringFromUTF16(units)
		case '\\':
			e := d.text[d.i+1]
			d.i += 2
			if e == 'u' {
				u, _ := hex4(d.text[d.i : d.i+4])
				units = append(units, u)
				d.i += 4
				continue
			}
			units = append(units, unescape(e))
		default:
			r, size := utf8.DecodeRune(d.text[d.i:])
			units = utf16.AppendRune(units, r)
			d.i += size
		}
	}
}

// unescape is the character of a one-letter escape (\n, \", ...).
func unescape(e byte) uint16 {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return uint16(e) // \" \\ \/
}
