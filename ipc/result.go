package ipc

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxDepth is how deeply a value (params or a result's value) may nest
// (PROTOCOL.md): every worker library carries this much, and answers a value
// that nests deeper with an error instead of a frame the other side may not
// decode.
const MaxDepth = 512

// encodeValue encodes a workload's value as JSON, or says why it cannot be
// sent unchanged: json.Marshal refuses it or panics on it, it nests deeper
// than MaxDepth, or it holds a string that is not UTF-8 (which json.Marshal
// would silently turn into U+FFFD). The reason names where in the value.
func encodeValue(value any) (js []byte, reason string) {
	defer func() {
		if p := recover(); p != nil {
			js, reason = nil, "encoding it panicked: "+panicText(p)
		}
	}()
	js, err := json.Marshal(value)
	if err != nil {
		if what, path := unencodable(reflect.ValueOf(value), pathNode{}, 0, map[uintptr]bool{}); what != "" {
			return nil, what + " at " + path.String()
		}
		return nil, err.Error()
	}
	// Both scans are skipped when fast searches show they cannot find anything.
	if bytes.Count(js, []byte{'['})+bytes.Count(js, []byte{'{'}) > MaxDepth && jsonDepth(js) > MaxDepth {
		return nil, fmt.Sprintf("nesting deeper than %d levels", MaxDepth)
	}
	if !bytes.Contains(js, []byte(`\ufffd`)) {
		return js, ""
	}
	if i := replacedString(js); i >= 0 {
		what := "a string"
		path, isKey := jsonPath(js, i)
		if isKey {
			what = "a key"
		}
		return nil, what + " that is not valid Unicode (bytes that are not UTF-8) at " + path
	}
	return js, ""
}

// pathNode is a place in a value, as a JavaScript accessor path from
// "value": value.a[1]["odd key"]. It is built only when something is wrong.
type pathNode struct {
	parent *pathNode
	key    string
	index  int
	isKey  bool
}

func (p pathNode) child(key string) pathNode {
	return pathNode{parent: &p, key: key, isKey: true}
}

func (p pathNode) elem(i int) pathNode { return pathNode{parent: &p, index: i} }

var identifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func (p pathNode) String() string {
	var parts []string
	for n := &p; n != nil && n.parent != nil; n = n.parent {
		switch {
		case !n.isKey:
			parts = append(parts, "["+strconv.Itoa(n.index)+"]")
		case identifier.MatchString(n.key):
			parts = append(parts, "."+n.key)
		default:
			q, _ := json.Marshal(n.key) //nolint:errchkjson // a string always encodes
			parts = append(parts, "["+string(q)+"]")
		}
	}
	var b strings.Builder
	b.WriteString("value")
	for _, part := range slices.Backward(parts) {
		b.WriteString(part)
	}
	return b.String()
}

//nolint:gochecknoglobals // constant reflect.Types
var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// unencodable finds the first thing in v that json.Marshal cannot encode,
// and where it is; "" when it finds none. It runs only after json.Marshal
// failed, to name the place.
//
//nolint:gocognit,cyclop // one case per kind of value, as encoding/json has
func unencodable(v reflect.Value, at pathNode, depth int, onPath map[uintptr]bool) (string, pathNode) {
	if depth > MaxDepth*4 {
		return "", at
	}
	if !v.IsValid() {
		return "", at
	}
	if v.Type().Implements(marshalerType) && v.CanInterface() && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		//nolint:forcetypeassert // it implements Marshaler
		if _, err := v.Interface().(json.Marshaler).MarshalJSON(); err != nil {
			return "a value whose MarshalJSON failed (" + err.Error() + ")", at
		}
		return "", at
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return "NaN", at
		case math.IsInf(f, 1):
			return "Infinity", at
		case math.IsInf(f, -1):
			return "-Infinity", at
		}
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return "a " + v.Type().String() + ", which is not a JSON type,", at
	case reflect.Interface:
		return unencodable(v.Elem(), at, depth, onPath)
	case reflect.Pointer:
		if v.IsNil() {
			return "", at
		}
		return within(v.Pointer(), onPath, at, func() (string, pathNode) {
			return unencodable(v.Elem(), at, depth+1,
				onPath)
		})
	case reflect.Map:
		if v.IsNil() {
			return "", at
		}
		kt := v.Type().Key()
		if kt.Kind() != reflect.String && !kt.Implements(textMarshalerType) && !isIntKind(kt.Kind()) {
			return "a map with " + kt.String() + " keys, which JSON cannot carry,", at
		}
		return within(v.Pointer(), onPath, at, func() (string, pathNode) {
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			for _, k := range keys {
				if what, p := unencodable(v.MapIndex(k), at.child(fmt.Sprint(k)), depth+1, onPath); what != "" {
					return what, p
				}
			}
			return "", at
		})
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 {
			return "", at
		}
		return within(v.Pointer(), onPath, at, func() (string, pathNode) { return elems(v, at, depth, onPath) })
	case reflect.Array:
		return elems(v, at, depth, onPath)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if what, p := unencodable(v.Field(i), at.child(name), depth+1, onPath); what != "" {
				return what, p
			}
		}
	default: // bools, strings and integers always encode
	}
	return "", at
}

func elems(v reflect.Value, at pathNode, depth int, onPath map[uintptr]bool) (string, pathNode) {
	for i := range v.Len() {
		if what, p := unencodable(v.Index(i), at.elem(i), depth+1, onPath); what != "" {
			return what, p
		}
	}
	return "", at
}

// within walks a map, slice or pointer; one already on the path from the
// root is a cycle.
func within(ptr uintptr, onPath map[uintptr]bool, at pathNode, walk func() (string, pathNode)) (string, pathNode) {
	if onPath[ptr] {
		return "a cycle (the value contains itself)", at
	}
	onPath[ptr] = true
	defer delete(onPath, ptr)
	return walk()
}

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	default:
		return false
	}
}

// jsonDepth is how deeply the JSON text js nests ("[]" is 1).
func jsonDepth(js []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(js); i++ {
		switch js[i] {
		case '"':
			i = skipString(js, i) - 1
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// replacedString returns the offset of the first string in js (as
// json.Marshal writes it) that holds the escape \ufffd, which json.Marshal
// writes only in place of bytes that are not UTF-8; -1 if there is none.
func replacedString(js []byte) int {
	for i := 0; i < len(js); i++ {
		if js[i] != '"' {
			continue
		}
		end := skipString(js, i)
		for j := i + 1; j < end-1; j++ {
			if js[j] == '\\' {
				if strings.HasPrefix(string(js[j:min(j+6, end)]), `\ufffd`) {
					return i
				}
				j++
			}
		}
		i = end - 1
	}
	return -1
}

// jsonPath names where the string token at offset off of js is: the path of
// the value it is, or of the object whose key it is (isKey).
func jsonPath(js []byte, off int) (path string, isKey bool) {
	if p, isKey, ok := findPath(js, skipSpace(js, 0), off, pathNode{}); ok {
		return p.String(), isKey
	}
	return "value", false
}

func findPath(js []byte, i, off int, at pathNode) (p pathNode, isKey, ok bool) {
	if i == off {
		return at, false, true
	}
	end := skipValue(js, i)
	if off < i || off >= end {
		return at, false, false
	}
	switch js[i] {
	case '{':
		it := objIter{d: js, i: i + 1}
		for {
			key, val, ok := it.next()
			if !ok {
				return at, false, false
			}
			if offsetOf(js, key)-1 == off {
				return at, true, true
			}
			k, _ := unquote(key)
			if p, isKey, ok := findPath(js, offsetOf(js, val), off, at.child(k)); ok {
				return p, isKey, true
			}
		}
	case '[':
		j := skipSpace(js, i+1)
		for n := 0; j < end && js[j] != ']'; n++ {
			if p, isKey, ok := findPath(js, j, off, at.elem(n)); ok {
				return p, isKey, true
			}
			j = skipSpace(js, skipValue(js, j))
			if j < end && js[j] == ',' {
				j = skipSpace(js, j+1)
			}
		}
	}
	return at, false, false
}

// withoutParams returns a copy of frame, a JSON object nested too deeply for
// encoding/json, with its "params" member's value replaced by null; ok is
// false when the frame is no such object or nests too deeply elsewhere.
func withoutParams(frame []byte) (shallow []byte, ok bool) {
	if jsonDepth(frame) <= MaxDepth {
		return nil, false
	}
	i := skipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '{' {
		return nil, false
	}
	it := objIter{d: frame, i: i + 1}
	for {
		key, val, more := it.next()
		if !more {
			return nil, false
		}
		if k, _ := unquote(key); k == "params" && len(val) > 0 {
			start := offsetOf(frame, val)
			shallow = append(append(append(shallow, frame[:start]...), "null"...), frame[start+len(val):]...)
			return shallow, jsonDepth(shallow) <= MaxDepth
		}
	}
}

// offsetOf is where part, a sub-slice of js, starts in js.
func offsetOf(js, part []byte) int { return cap(js) - cap(part) }

// panicText renders a panic's value. fmt re-panics when the value's Error or
// String method panics while it renders that method's panic, so such a
// value is named by its type.
func panicText(p any) (text string) {
	defer func() {
		if recover() != nil {
			text = fmt.Sprintf("a %T whose text cannot be rendered (its Error or String method panics)", p)
		}
	}()
	return fmt.Sprint(p)
}
