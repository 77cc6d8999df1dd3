package concurrency

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/grafana/sobek"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/k6test"
)

func TestHasLoneSurrogateEscape(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		`"plain"`:                      false,
		`"\u00e9\u2028"`:               false,
		`"\ud83d\ude00"`:               false,
		`"\uD83D\uDE00 and \ud800"`:    true,
		`"\ud800"`:                     true,
		`"\udc00"`:                     true,
		`"\ud800\u0041"`:               true,
		`"\ud83d\ude00\ud800"`:         true,
		`"\ud800\ud800\udc00"`:         true,
		`"\\ud800"`:                    false, // an escaped backslash, then text
		`"\\\ud800"`:                   true,
		`{"k\udfff":1}`:                true,
		`"\ud800`:                      true,
		`"\u12"`:                       false,
		`["\ud83d\ude00", "\ud83d"]`:   true,
		`["\ud83d\ude00", "\u0041\\"]`: false,
	} {
		assert.Equal(t, want, hasLoneSurrogateEscape([]byte(text)), text)
	}
}

// TestJSONDecoderIsJSONParse: the decoder that keeps lone surrogates builds
// what JSON.parse builds from the same text, key order and -0 included, and
// strings to the code unit.
func TestJSONDecoderIsJSONParse(t *testing.T) {
	t.Parallel()
	rt := sobek.New()
	texts, err := rt.RunString(`[
		'1', '-0', '-0.0', '1e21', '9007199254740993', '5e-324', '"x"', 'true', 'false', 'null', '[]', '{}',
		' { "b" : 1 , "a" : [ 1 , { "d" : null , "c" : -0 } ] , "10": 1, "2": 2 } ',
		'{"__proto__": {"a": 1}, "x": 1, "x": 2}',
		'"\\u00e9\\t\\n\\r\\b\\f\\"\\\\\\/ é😀 \\ud83d\\ude00"',
		JSON.stringify({ deep: JSON.parse('['.repeat(200) + ']'.repeat(200)) }),
		JSON.stringify(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => ['k' + ((i * 7919) % 2000), i]))),
	]`)
	require.NoError(t, err)
	same, err := rt.RunString(`(function same(a, b) {
		if (typeof a === 'number') return Object.is(a, b);
		if (a === null || typeof a !== 'object') return a === b;
		if (typeof b !== 'object' || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
		if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
		const ka = Object.keys(a), kb = Object.keys(b);
		return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
	})`)
	require.NoError(t, err)
	sameFn, _ := sobek.AssertFunction(same)
	parse, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("parse"))
	for _, text := range texts.Export().([]any) {
		s := text.(string)
		want, err := parse(sobek.Undefined(), rt.ToValue(s))
		require.NoError(t, err, s)
		d := jsonDecoder{rt: rt, text: []byte(s)}
		got, err := d.decode()
		require.NoError(t, err, s)
		ok, err := sameFn(sobek.Undefined(), got, want)
		require.NoError(t, err)
		assert.True(t, ok.ToBoolean(), "decoding %s", s)
	}
	d := jsonDecoder{rt: rt, text: []byte(`{"lone": "x\ud800y", "k\udfff": ["\udc00", "\ud83d\ude00"]}`)}
	got, err := d.decode()
	require.NoError(t, err)
	require.NoError(t, rt.Set("got", got))
	check, err := rt.RunString(`JSON.stringify([got.lone.length, got.lone.charCodeAt(1), Object.keys(got)[1].charCodeAt(1),
		got['k\udfff'][0].charCodeAt(0), got['k\udfff'][1] === '😀'])`)
	require.NoError(t, err)
	assert.Equal(t, `[3,55296,57343,56320,true]`, check.String())
}

// TestValuesFromWorkers: a worker's result that holds a lone surrogate is
// refused by the worker libraries with a WorkloadError that says so (the
// protocol's rule: what cannot be carried as valid Unicode is refused, as the
// pool refuses it in params), never changed to U+FFFD; a result may nest
// deeper than params may (64) and arrives as it is. jsonDecoder still decodes
// a third-party worker's \ud800 escape exactly (TestJSONDecoderIsJSONParse).
func TestValuesFromWorkers(t *testing.T) {
	t.Parallel()
	for _, w := range []struct{ name, interpreter, worker string }{
		{"python", "python3", "testdata/workers/values.py"},
		{"node", "node", "testdata/workers/values.js"},
	} {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			interpreter := k6test.Interpreter(t, w.interpreter)
			_, vu := newRootVU(t)
			vu.init(fmt.Sprintf(`const pool = new concurrency.ProcessPool({ workers: 1, command: [%q, %q] });`, interpreter, w.worker))
			vu.toVU()
			got := vu.run(`
				const units = (s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i).toString(16));
				let refused;
				try { pool.runSync('surrogates'); refused = 'returned'; } catch (e) { refused = [e.name, /lone surrogate/.test(e.message)]; }
				let deep = pool.runSync('deep', { levels: 500 }), levels = 0;
				for (; Array.isArray(deep); deep = deep[0]) levels++;
				globalThis.result = JSON.stringify({ refused, levels, deep });
			`)
			assert.JSONEq(t, `{"refused":["WorkloadError",true],"levels":500,"deep":"bottom"}`, got.String())
		})
	}
}

// TestLoneSurrogateRoundTrip: for random strings of UTF-16 code units,
// surrogates of every kind included, JSON.stringify's text is found to hold
// a lone surrogate exactly when the string does, and jsonDecoder gives back
// the same code units.
func TestLoneSurrogateRoundTrip(t *testing.T) {
	t.Parallel()
	rt := sobek.New()
	stringify, _ := sobek.AssertFunction(rt.Get("JSON").ToObject(rt).Get("stringify"))
	r := rand.New(rand.NewPCG(3, 4))
	pick := []uint16{'a', '"', '\\', '\n', 0, 0x7f, 0xe9, 0x2028, 0xfffd, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd83d, 0xde00}
	for range 20_000 {
		units := make([]uint16, r.IntN(8))
		for i := range units {
			units[i] = pick[r.IntN(len(pick))]
		}
		s := sobek.StringFromUTF16(units)
		text, err := stringify(sobek.Undefined(), rt.NewArray(s))
		require.NoError(t, err)
		at, _ := loneSurrogate(s, s.String())
		require.Equal(t, at >= 0, hasLoneSurrogateEscape([]byte(text.String())), "%x: %s", units, text)
		d := jsonDecoder{rt: rt, text: []byte(text.String())}
		got, err := d.decode()
		require.NoError(t, err, text.String())
		back := got.ToObject(rt).Get("0").(sobek.String)
		gotUnits := make([]uint16, back.Length())
		for i := range gotUnits {
			gotUnits[i] = back.CharAt(i)
		}
		require.Equal(t, units, gotUnits, "%s", text)
	}
}
