package concurrency

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grafana/sobek"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// FuzzExportJSON evaluates arbitrary JavaScript expressions and converts
// their values with exportJSON and encodeJSON, as run, runSync, map and the
// constructors do: it never panics or hangs, it fails only with an
// InvalidArgumentError, and what it returns is JSON data, the same as
// JSON.stringify makes of the value (exportJSON is stricter: it rejects what
// JSON.stringify would drop or turn into null), and encodeJSON's text is
// JSON.stringify's, key order included, once JSON.parse'd and stringified
// again (which writes numbers and escapes one way).
func FuzzExportJSON(f *testing.F) {
	for _, s := range []string{
		`1`, `-0`, `1.5e300`, `'x'`, `"\ud800"`, `true`, `null`, `undefined`,
		`{ a: 1, b: [1, 2, { c: null }], d: 'x' }`, `[1, , 3]`, `[undefined, null]`, `{ a: undefined, b: 2 }`,
		`NaN`, `-Infinity`, `{ a: [NaN] }`, `() => 1`, `{ f() {} }`, `Symbol('x')`, `{ s: Symbol() }`, `10n`,
		`new Date(0)`, `new Map([[1, 2]])`, `new Set()`, `/x/g`, `new Error('x')`, `Promise.resolve(1)`,
		`(() => { const o = {}; o.o = o; return o; })()`, `(() => { const a = []; a.push(a); return a; })()`,
		`(() => { const x = {}; return [x, x, { y: x }]; })()`, // shared, not a cycle
		`new (class A { constructor() { this.a = 1; } })()`, `new (class extends Array {})()`,
		`Object.create(null)`, `Object.create({ a: 1 })`, `Object.assign(Object.create(null), { a: 1 })`,
		`{ get x() { return 1; } }`, `{ get x() { throw new Error('boom'); } }`, `{ get x() { for (;;) {} } }`,
		`new Proxy({}, { ownKeys() { return ['a', 'a']; }, getOwnPropertyDescriptor() { return { value: 1, enumerable: true, configurable: true }; } })`,
		`new Proxy({ a: 1 }, { get() { return 7; } })`, `new Proxy([1, 2], {})`,
		`JSON.parse('{"__proto__": {"a": 1}}')`, `{ ['__proto__']: 1 }`, `{ [Symbol.iterator]: 1, a: 2 }`,
		`new Boolean(false)`, `new Number(5)`, `new String('s')`, `Object(Symbol('q'))`, `Object(1n)`,
		`Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false })`,
		`(function () { return arguments; })(1, 2)`, `globalThis`, `Math`, `JSON`,
		`JSON.parse('[' .repeat(100) + ']'.repeat(100))`, `[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]`,
		`(() => { const a = []; a.length = 4294967295; return a; })()`, `{ 1: 'a', 0: 'b', x: 'c' }`,
		`[1.7976931348623157e308, 5e-324, 9007199254740993]`, `{ toJSON() { return 1; } }`,
		`new Uint8Array(3)`, `new WeakMap()`, `Reflect`, `new Proxy(function () {}, {})`,
		`{ z: 1, a: { y: [-0, 2 ** 53, 1e21, 5e-324], b: 'é😀' }, 10: 2, 2: 3 }`, `{ '\uD800': 1 }`, `['\uDFFF\uD800']`,
		`{ s: '\uFFFD' }`, `{ 'a\uDC00b': { c: 1 } }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 1024 || !utf8.ValidString(src) {
			t.Skip() // (scripts are UTF-8: invalid bytes only exercise the parser)
		}
		prg, err := sobek.Compile("fuzz.js", "(\n"+src+"\n)", false)
		if err != nil {
			t.Skip() // not an expression
		}
		rt := sobek.New()
		stringify, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("stringify"))
		parse, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
		_, err = rt.RunString(fuzzPrelude)
		require.NoError(t, err)
		// Bound the evaluation and the conversion (getters and proxy traps
		// are JavaScript too).
		timer := time.AfterFunc(100*time.Millisecond, func() { rt.Interrupt("took too long") })
		defer timer.Stop()
		value, err := rt.RunProgram(prg)
		if err != nil {
			t.Skip() // it threw, or ran too long
		}
		type conversion struct {
			out  any
			text []byte
			err  error
		}
		var got []conversion
		var stringified sobek.Value
		var stringifyErr error
		probe, _ := sobek.AssertFunction(rt.ToValue(func(call sobek.FunctionCall) sobek.Value {
			v := call.Argument(0)
			for range 2 { // twice: a value whose getters change it is not compared
				out, err := exportJSON(rt, v, "value")
				got = append(got, conversion{out: out, err: err})
			}
			encoded, text, err := encodeJSON(rt, v, "value")
			got = append(got, conversion{encoded, text, err})
			if got[0].err == nil { // then the value is not too large to stringify
				stringified, stringifyErr = stringify(sobek.Undefined(), v)
			}
			return sobek.Undefined()
		}))
		// As run() calls it: from JavaScript, so that what a getter throws
		// is the script's exception, not a Go panic.
		_, err = probe(sobek.Undefined(), value)
		if _, ok := errors.AsType[*sobek.InterruptedError](err); ok {
			t.Skip() // a getter or trap ran too long
		}
		if _, ok := errors.AsType[*sobek.Exception](err); ok {
			t.Skip() // a getter or trap threw: the script's own error, passed on
		}
		require.NoError(t, err, "exportJSON(%s) (%T)", src, err)
		require.Len(t, got, 3, "exportJSON(%s) was not called", src)
		for _, c := range got {
			if c.err == nil {
				checkJSONShape(t, src, c.out)
				_, err := json.Marshal(c.out)
				require.NoError(t, err, "exportJSON(%s) = %#v, which json.Marshal rejects", src, c.out)
				continue
			}
			var te *taskerr.Error
			require.ErrorAs(t, c.err, &te, "exportJSON(%s): %v (%T), want an InvalidArgumentError saying where", src, c.err, c.err)
			require.Equal(t, taskerr.InvalidArgument, te.Code, "exportJSON(%s): %v, want an InvalidArgumentError saying where", src, c.err)
			require.True(t, strings.HasPrefix(te.Message, "value"), "exportJSON(%s): %v, want an InvalidArgumentError saying where", src, c.err)
		}
		// Compare with JSON.stringify when the value converted the same
		// twice, and no toJSON can be involved.
		first, second, encoded := got[0], got[1], got[2]
		if first.err != nil || second.err != nil || encoded.err != nil || !reflect.DeepEqual(first.out, second.out) ||
			!reflect.DeepEqual(first.out, encoded.out) || stringifyErr != nil || strings.Contains(src, "toJSON") {
			return
		}
		if stringified == nil || sobek.IsUndefined(stringified) {
			require.Nil(t, first.out, "exportJSON(%s) = %#v, JSON.stringify gives undefined", src, first.out)
			return
		}
		var want any
		require.NoError(t, json.Unmarshal([]byte(stringified.String()), &want),
			"JSON.stringify(%s) = %s, which encoding/json rejects", src, stringified)
		b, _ := json.Marshal(first.out)
		var have any
		require.NoError(t, json.Unmarshal(b, &have))
		require.Equal(t, want, have, "exportJSON(%s) = %s, JSON.stringify gives %s", src, b, stringified)
		// The text, parsed and stringified by JavaScript, is JSON.stringify's.
		parsed, err := parse(sobek.Undefined(), rt.ToValue(string(encoded.text)))
		require.NoError(t, err, "encodeJSON(%s) = %s, which JSON.parse rejects", src, encoded.text)
		again, err := stringify(sobek.Undefined(), parsed)
		require.NoError(t, err)
		require.Equal(t, stringified.String(), again.String(), "encodeJSON(%s) = %s, JSON.stringify gives %s", src, encoded.text, stringified)
	})
}

// fuzzPrelude removes the built-ins that can take seconds or gigabytes in
// one native call, which no interrupt stops (Array(4e9).join(), 'x'.repeat(1e9),
// new Uint8Array(1e9), JSON.stringify of a huge sparse array): FuzzExportJSON
// is about exportJSON, not about sobek's built-ins.
const fuzzPrelude = `
for (const [obj, names] of [
	[String.prototype, ['repeat', 'padStart', 'padEnd', 'normalize']],
	[Array.prototype, ['fill', 'join', 'toString', 'toLocaleString', 'indexOf', 'lastIndexOf', 'includes',
		'map', 'filter', 'forEach', 'reduce', 'reduceRight', 'every', 'some', 'find', 'findIndex', 'findLast',
		'findLastIndex', 'sort', 'reverse', 'splice', 'slice', 'concat', 'flat', 'flatMap', 'copyWithin',
		'keys', 'values', 'entries', 'toSorted', 'toReversed', 'toSpliced', 'with', 'at', 'push', 'unshift']],
	[Array, ['from', 'of']],
	[JSON, ['stringify']],
	[Object, ['entries', 'values', 'fromEntries']],
	[globalThis, ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray',
		'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array',
		'BigInt64Array', 'BigUint64Array', 'Atomics']],
]) {
	for (const name of names) { delete obj[name]; }
}
`

// checkJSONShape checks that v holds only what JSON decodes to.
func checkJSONShape(t *testing.T, src string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil, bool, string:
	case float64:
		require.False(t, math.IsNaN(x), "exportJSON(%s) holds %v", src, x)
		require.False(t, math.IsInf(x, 0), "exportJSON(%s) holds %v", src, x)
	case []any:
		for _, item := range x {
			checkJSONShape(t, src, item)
		}
	case map[string]any:
		for _, item := range x {
			checkJSONShape(t, src, item)
		}
	default:
		require.FailNow(t, "not a JSON value", "exportJSON(%s) holds a %T: %#v", src, v, v)
	}
}
