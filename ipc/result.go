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

	"github.com/go-json-experiment/json/jsontext"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
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
	if path, isKey, found := replacedPath(js); found {
		what := "a string"
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
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) { // JSON cannot carry them
			return taskerr.Describe(f), at
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
		return unencodableMap(v, at, depth, onPath)
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 {
			return "", at
		}
		return within(v.Pointer(), onPath, at, func() (string, pathNode) { return elems(v, at, depth, onPath) })
	case reflect.Array:
		return elems(v, at, depth, onPath)
	case reflect.Struct:
		return fields(v, at, depth, onPath)
	default: // bools, strings and integers always encode
	}
	return "", at
}

// unencodableMap is unencodable for a map: its keys' type, then its values
// in the order of their keys.
func unencodableMap(v reflect.Value, at pathNode, depth int, onPath map[uintptr]bool) (string, pathNode) {
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
}

// fields is unencodable for a struct: the fields encoding/json encodes,
// under their JSON names.
func fields(v reflect.Value, at pathNode, depth int, onPath map[uintptr]bool) (string, pathNode) {
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

// replacedPath finds the first string in js (as json.Marshal writes it)
// that holds the escape \ufffd, which json.Marshal writes only in place of
// bytes that are not UTF-8, and names where it is: the path of the value it
// is, or of the object whose key it is (isKey).
func replacedPath(js []byte) (path string, isKey, found bool) {
	d := decoderFor(js)
	defer d.release()
	for {
		var err error
		switch d.PeekKind() {
		case 0: // the end
			return "", false, false
		case '{', '}', '[', ']':
			_, err = d.ReadToken()
		default:
			var v jsontext.Value
			v, err = d.ReadValue()
			if err == nil && v.Kind() == '"' && hasReplacement(v) {
				at, isKey := d.where()
				return at.String(), isKey, true
			}
		}
		if err != nil {
			return "", false, false
		}
	}
}

// hasReplacement reports whether the string token s holds the escape \ufffd.
func hasReplacement(s []byte) bool {
	for j := 0; j < len(s); j++ {
		if s[j] == '\\' {
			if bytes.HasPrefix(s[j:], []byte(`\ufffd`)) {
				return true
			}
			j++
		}
	}
	return false
}

// where is the path of the value d read last, or, when that was an object
// member's name, of the object (isKey).
func (d *wireDecoder) where() (at pathNode, isKey bool) {
	depth := d.StackDepth()
	kind, n := d.StackIndex(depth)
	isKey = kind == '{' && n%2 == 1
	level := 1
	for tok := range d.StackPointer().Tokens() {
		if isKey && level == depth {
			break
		}
		if kind, _ := d.StackIndex(level); kind == '[' {
			i, _ := strconv.Atoi(tok)
			at = at.elem(i)
		} else {
			at = at.child(tok)
		}
		level++
	}
	return at, isKey
}

// withoutParams returns a copy of frame, a JSON object nested too deeply for
// a JSON decoder, with its "params" member's value replaced by null; ok is
// false when the frame is no such object or nests too deeply elsewhere.
func withoutParams(frame []byte) (shallow []byte, ok bool) {
	if jsonDepth(frame) <= MaxDepth {
		return nil, false
	}
	d := decoderFor(frame)
	defer d.release()
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil {
			return nil, false
		}
		if string(fieldName(name)) == `"params"` {
			start := skipSpace(frame, int(d.InputOffset()))
			if start < len(frame) && frame[start] == ':' {
				start = skipSpace(frame, start+1)
			}
			if start >= len(frame) || (frame[start] != '{' && frame[start] != '[') {
				return nil, false // params that nest too deeply are an array or an object
			}
			end := containerEnd(frame, start)
			shallow = append(append(append(shallow, frame[:start]...), "null"...), frame[end:]...)
			return shallow, jsonDepth(shallow) <= MaxDepth
		}
		if _, err := d.ReadValue(); err != nil {
			return nil, false
		}
	}
	return nil, false
}

// containerEnd returns the index after the array or object that starts at
// js[i].
func containerEnd(js []byte, i int) int {
	depth := 0
	for ; i < len(js); i++ {
		switch js[i] {
		case '"':
			i = skipString(js, i) - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(js)
}

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
