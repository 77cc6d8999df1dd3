package concurrency

// The conversion of JavaScript values that a script passes (params, init
// params) into the JSON-shaped Go values and JSON text that pools carry.
// Its inverse, JSON text into JavaScript values, is jsonin.go.

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/grafana/sobek"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// maxValueNodes bounds how much of a JavaScript value is converted, so a huge
// object is a clear error rather than a long stall.
const maxValueNodes = 1 << 20

// maxValueDepth bounds how deeply a value a script passes may nest. What a
// worker sends back is not bound by it (only by encoding/json's 10,000):
// results are the workloads' own.
const maxValueDepth = 64

// exportJSON converts a JavaScript value into the JSON-shaped Go value pools
// carry: nil, bool, float64, string, []any and map[string]any. Anything else
// (functions, symbols, NaN, Infinity, cycles, Dates, Maps, class instances,
// strings with a lone surrogate) is an InvalidArgument error naming where in
// the value it sits. Undefined object properties are dropped, as
// JSON.stringify does.
func exportJSON(rt *sobek.Runtime, v sobek.Value, where string) (any, error) {
	c := converter{rt: rt}
	return c.convert(v, where)
}

// encodeJSON is exportJSON that also returns the value as JSON text, with
// object keys in the script's property order (JSON.stringify's order), which
// a Go map would lose. Process pools send this text; -0 is written as -0.0 so
// that workers whose JSON tells integers from floats (Python) keep its sign.
func encodeJSON(rt *sobek.Runtime, v sobek.Value, where string) (any, []byte, error) {
	c := converter{rt: rt, encode: true}
	value, err := c.convert(v, where)
	if err != nil {
		return nil, nil, err
	}
	return value, c.out, nil
}

type converter struct {
	rt          *sobek.Runtime
	path        []*sobek.Object // objects being converted, to catch cycles
	nodes       int
	objectProto *sobek.Object
	objectKeys  sobek.Callable
	encode      bool   // also write JSON text to out
	out         []byte // the JSON text, when encode
}

func (c *converter) fail(where, format string, a ...any) error {
	return taskerr.New(taskerr.InvalidArgument, "%s %s", where, fmt.Sprintf(format, a...))
}

func (c *converter) convert(v sobek.Value, where string) (any, error) {
	c.nodes++
	if c.nodes > maxValueNodes {
		return nil, c.fail(where, "makes the value too large (over %d items)", maxValueNodes)
	}
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		c.write("null")
		return nil, nil
	}
	// Only primitives here: a Symbol exports as its description (a string),
	// and wrapper objects (new Boolean(false), Object(Symbol())) export as
	// their primitive type; both are rejected below.
	_, isObj := v.(*sobek.Object)
	_, isSym := v.(*sobek.Symbol)
	switch t := v.ExportType(); {
	case isObj || isSym:
	case t == typeBool:
		c.write(strconv.FormatBool(v.ToBoolean()))
		return v.ToBoolean(), nil
	case t == typeString:
		return c.str(v, where)
	case t == typeInt:
		return c.number(float64(v.ToInteger())), nil
	case t == typeFloat:
		f := v.ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, c.fail(where, "is %s; only finite numbers can be passed", taskerr.Describe(f))
		}
		return c.number(f), nil
	}
	if _, isFn := sobek.AssertFunction(v); isFn {
		return nil, c.fail(where,
			"is a function; only JSON values (objects, arrays, strings, numbers, booleans, null) can be passed")
	}
	obj, ok := v.(*sobek.Object)
	if !ok {
		return nil, c.refuse(v, where)
	}
	return c.container(obj, where)
}

// refuse is the error for a primitive that JSON has no type for (a Symbol,
// a BigInt), naming its JavaScript type rather than the Go one sobek
// exports it as.
func (c *converter) refuse(v sobek.Value, where string) error {
	what := "a " + v.ExportType().String()
	switch v.(type) {
	case *sobek.Symbol:
		what = "a Symbol"
	default:
		if v.ExportType() == typeBigInt {
			what = "a BigInt"
		}
	}
	return c.fail(where,
		"is %s; only JSON values (objects, arrays, strings, numbers, booleans, null) can be passed", what)
}

// container converts an object: an array or a plain object, on the path of
// objects being converted while its items are, so that a cycle or a value
// nested too deep is an error rather than endless recursion.
func (c *converter) container(obj *sobek.Object, where string) (any, error) {
	if slices.Contains(c.path, obj) {
		return nil, c.fail(where, "refers back to itself (a cycle); only JSON values can be passed")
	}
	if len(c.path) >= maxValueDepth {
		return nil, c.fail(where, "is nested more than %d levels deep", maxValueDepth)
	}
	c.path = append(c.path, obj)
	defer func() { c.path = c.path[:len(c.path)-1] }()

	switch obj.ClassName() {
	case "Array":
		return c.array(obj, where)
	case "Object":
		if !c.plain(obj) {
			return nil, c.fail(where, "is an instance of %s; only plain objects can be passed", c.constructorName(obj))
		}
		return c.object(obj, where)
	default:
		return nil, c.fail(where,
			"is a %s; only JSON values (objects, arrays, strings, numbers, booleans, null) can be passed", obj.ClassName())
	}
}

func (c *converter) array(obj *sobek.Object, where string) (any, error) {
	n := obj.Get("length").ToInteger()
	if n > int64(maxValueNodes-c.nodes) { // a sparse array may claim 2^32-1 items
		return nil, c.fail(where, "makes the value too large (over %d items)", maxValueNodes)
	}
	list := make([]any, 0, min(n, 1024))
	c.write("[")
	for i := range n {
		if i > 0 {
			c.write(",")
		}
		item, err := c.convert(obj.Get(strconv.FormatInt(i, 10)), fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		list = append(list, item)
	}
	c.write("]")
	return list, nil
}

func (c *converter) object(obj *sobek.Object, where string) (any, error) {
	keys := obj.Keys()
	if err := c.checkKeys(obj, keys, where); err != nil {
		return nil, err
	}
	m := make(map[string]any, len(keys))
	c.write("{")
	first := true
	for _, k := range keys {
		item := obj.Get(k)
		if item == nil || sobek.IsUndefined(item) {
			continue
		}
		if !first {
			c.write(",")
		}
		first = false
		c.quote(k)
		c.write(":")
		val, err := c.convert(item, where+"."+k)
		if err != nil {
			return nil, err
		}
		m[k] = val
	}
	c.write("}")
	return m, nil
}

// checkKeys refuses an object whose keys hold a lone surrogate: obj.Keys()
// has already turned it into U+FFFD, so only keys with U+FFFD are looked at
// again, as the JavaScript strings they are.
func (c *converter) checkKeys(obj *sobek.Object, keys []string, where string) error {
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.ContainsRune(k, utf8.RuneError) }) {
		return nil
	}
	if c.objectKeys == nil {
		c.objectKeys, _ = sobek.AssertFunction(c.rt.Get("Object").ToObject(c.rt).Get("keys"))
	}
	list, err := c.objectKeys(sobek.Undefined(), obj)
	if err != nil {
		return c.fail(where, "has keys that cannot be read: %v", err)
	}
	arr := list.ToObject(c.rt)
	for i := range arr.Get("length").ToInteger() {
		key := arr.Get(strconv.FormatInt(i, 10))
		if at, unit := loneSurrogate(key, key.String()); at >= 0 {
			return c.fail(where,
				"has a key with a lone surrogate U+%04X at index %d (%s); only well-formed Unicode can be passed "+
					"(String.prototype.toWellFormed() replaces lone surrogates with U+FFFD)",
				unit, at, strconv.QuoteToASCII(key.String()))
		}
	}
	return nil
}

// str converts a string, refusing one with a lone surrogate: JSON text is
// UTF-8, which cannot carry it, and sobek would silently export it as U+FFFD.
func (c *converter) str(v sobek.Value, where string) (any, error) {
	s := v.String()
	if at, unit := loneSurrogate(v, s); at >= 0 {
		return nil, c.fail(where,
			"has a lone surrogate U+%04X at index %d; only well-formed Unicode can be passed (String.prototype.toWellFormed() "+
				"replaces lone surrogates with U+FFFD)", unit, at)
	}
	c.quote(s)
	return s, nil
}

// number writes the finite f as JSON, as encoding/json does (the shortest
// text that parses back to f), except -0 (see encodeJSON).
func (c *converter) number(f float64) float64 {
	if !c.encode {
		return f
	}
	if f == 0 && math.Signbit(f) {
		c.write("-0.0")
		return f
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	c.out = strconv.AppendFloat(c.out, f, format, -1, 64)
	if n := len(c.out); format == 'e' && n >= 4 && c.out[n-4] == 'e' && c.out[n-3] == '-' && c.out[n-2] == '0' {
		c.out[n-2], c.out = c.out[n-1], c.out[:n-1] // e-07 to e-7, as encoding/json writes it
	}
	return f
}

func (c *converter) quote(s string) {
	if c.encode {
		b, _ := json.Marshal(s) //nolint:errchkjson // a string; valid UTF-8: sobek's strings export so
		c.out = append(c.out, b...)
	}
}

func (c *converter) write(s string) {
	if c.encode {
		c.out = append(c.out, s...)
	}
}

// loneSurrogate returns the UTF-16 index and the code unit of the first
// unpaired surrogate in the JavaScript string v, whose Go form is goForm, or
// -1. Only a string whose Go form holds U+FFFD can have one (that is what
// sobek exports it as), so the usual string costs one scan of its Go form.
func loneSurrogate(v sobek.Value, goForm string) (int, uint16) {
	s, ok := v.(sobek.String)
	if !ok || !strings.ContainsRune(goForm, utf8.RuneError) {
		return -1, 0
	}
	n := s.Length()
	for i := 0; i < n; i++ {
		switch u := s.CharAt(i); {
		case utf16.IsSurrogate(rune(u)) && u < 0xDC00 && i+1 < n && s.CharAt(i+1) >= 0xDC00 && s.CharAt(i+1) < 0xE000:
			i++ // a pair
		case utf16.IsSurrogate(rune(u)):
			return i, u
		}
	}
	return -1, 0
}

// plain reports whether obj is an object literal (or has a null prototype),
// rather than an instance of a class.
func (c *converter) plain(obj *sobek.Object) bool {
	proto := obj.Prototype()
	if proto == nil {
		return true
	}
	if c.objectProto == nil {
		c.objectProto = c.rt.Get("Object").ToObject(c.rt).Get("prototype").ToObject(c.rt)
	}
	return proto == c.objectProto
}

func (c *converter) constructorName(obj *sobek.Object) string {
	if ctor, ok := obj.Get("constructor").(*sobek.Object); ok {
		if name := ctor.Get("name"); name != nil && name.String() != "" {
			return name.String()
		}
	}
	return "a class"
}

// Reflect types sobek reports from Value.ExportType for primitives.
//
//nolint:gochecknoglobals // constant reflect.Types
var (
	typeBool   = reflect.TypeFor[bool]()
	typeString = reflect.TypeFor[string]()
	typeInt    = reflect.TypeFor[int64]()
	typeFloat  = reflect.TypeFor[float64]()
	typeBigInt = reflect.TypeFor[*big.Int]()
)
