package concurrency

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/internal/report"
	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/pool"
	"github.com/k6-concurrency/xk6-concurrency/schema"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// This file throws bad input at the JavaScript API: every option of both
// constructors, every param of every registered workload, the per-call opts
// and the methods' own arguments, each with wrong types, out-of-range and
// non-finite numbers, non-JSON values and over-long strings. Every one must
// throw (constructors, runSync, resize) or reject (run, map) an Error named
// InvalidArgumentError (UnknownWorkloadError for unknown workload names)
// whose message names what was wrong, must not become a task, and must leave
// the pool working. The bad values come from the declarations (the schemas of
// options.go, pool's params, report.OptionsSchema, the workloads' params), so
// an option added there is tried here. Each outcome is a subtest, and a line
// of testdata/badinput.golden that a reviewer can read; -update rewrites it.

// jsVal is a JavaScript expression and what to call it in a failure.
type jsVal struct{ label, js string }

// heavy says v is a string of a megabyte or more, tried with one method only.
func (v jsVal) heavy() bool {
	var n int
	_, err := fmt.Sscanf(v.label, "over-long string (%d bytes)", &n)
	return err == nil && n > 1<<20
}

// jsStr is s as a JavaScript string literal (JSON's are JavaScript's).
func jsStr(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// jsNum is f as a JavaScript number literal.
func jsNum(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

const jsCycle = `(() => { const o = { a: 1 }; o.self = o; return o; })()`

// notJSON are values that no option or param accepts, whatever its type:
// they are not JSON data (or not finite numbers).
//
//nolint:gochecknoglobals // a test table
var notJSON = []jsVal{
	{"function", `() => 1`},
	{"async function", `async () => 1`},
	{"Symbol", `Symbol('10')`},
	{"Symbol object", `Object(Symbol('10'))`},
	{"BigInt", `10n`},
	{"Date", `new Date(0)`},
	{"Map", `new Map([['a', 1]])`},
	{"Set", `new Set([1])`},
	{"class instance", `new (class Widget { constructor() { this.a = 1; } })()`},
	{"Object.create(proto)", `Object.create({ a: 1 })`},
	{"cycle", jsCycle},
	{"RegExp", `/10/`},
	{"Error", `new Error('10')`},
	{"typed array", `new Uint8Array(2)`},
	{"Promise", `Promise.resolve(10)`},
	{"Boolean object", `new Boolean(false)`},
	{"Number object", `new Number(10)`},
	{"String object", `new String('10')`},
	{"NaN", `NaN`},
	{"Infinity", `Infinity`},
	{"-Infinity", `-Infinity`},
	{"null", `null`},
	{"nested 100 deep", `JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100))`},
	{"nested 65 deep", `JSON.parse('['.repeat(64) + '1' + ']'.repeat(64))`},
	// UTF-8 (the wire, Go strings) cannot carry these: refused, never U+FFFD.
	{"lone high surrogate", `'x\uD800y'`},
	{"lone low surrogate", `'\uDC00'`},
	{"surrogates in the wrong order", `'\uDE00\uD83D'`},
	{"lone surrogate deep in an array", `[['ok', ['\uD800']]]`},
	{"key with a lone surrogate", `{ ['k\uDBFF']: 1 }`},
}

// notJSONExcept is notJSON without the values labelled so.
func notJSONExcept(labels ...string) []jsVal {
	var out []jsVal
	for _, v := range notJSON {
		if !slices.Contains(labels, v.label) {
			out = append(out, v)
		}
	}
	return out
}

// badValues are the values that p must reject, generated from what its
// declaration (package schema) accepts: its type, bounds, length, enum and
// checks. Every option of every schema and every param of every workload
// goes through here, so a limit is written once, in its declaration.
func badValues(p schema.Param) []jsVal {
	vals := append([]jsVal{}, notJSON...)
	if p.Nullable {
		vals = notJSONExcept("null")
	}
	add := func(label, js string) { vals = append(vals, jsVal{label, js}) }
	switch p.Type {
	case schema.Int, schema.Number:
		badNumbers(p, add)
	case schema.Duration:
		badDurations(p, add)
	case schema.String:
		badStrings(p, add)
	case schema.Bool:
		for _, v := range []jsVal{
			{"string", `'true'`},
			{"number", `1`},
			{"zero", `0`},
			{"object", `{}`},
			{"array", `[]`},
			{"over-long string", longString},
		} {
			add(v.label, v.js)
		}
	case schema.Strings:
		badStringLists(p, add)
	case schema.StringMap:
		badStringMaps(p, add)
	case schema.Object:
		badObjects(p, add)
	case schema.Any:
		badAny(p, add)
	}
	// Each value once (min-1 may be -1, which "negative" tries too).
	seen := map[string]bool{}
	unique := vals[:0]
	for _, v := range vals {
		if !seen[v.js] {
			seen[v.js] = true
			unique = append(unique, v)
		}
	}
	return unique
}

const longString = `'x'.repeat(100000)`

func badNumbers(p schema.Param, add func(label, js string)) {
	for _, v := range []jsVal{
		{"numeric string", `'10'`},
		{"string", `'ten'`},
		{"empty string", `''`},
		{"true", `true`},
		{"false", `false`},
		{"object", `{}`},
		{"object with value", `{ value: 10 }`},
		{"array", `[]`},
		{"array of number", `[10]`},
		{"over-long string", longString},
		{"1e300", "1e300"},
		{"-1e300", "-1e300"},
		{"Number.MAX_VALUE", "Number.MAX_VALUE"},
	} {
		add(v.label, v.js)
	}
	if !p.Bounded() || p.Max < 1<<53 {
		add("2**53+2", "2**53+2") // 2**53+1 is 2**53 as a double
	}
	if p.Bounded() {
		if p.Max < 1<<53 {
			add("2**53+1", "2**53+1")
		}
		add("max+1", jsNum(p.Max+1))
		add("min-1", jsNum(p.Min-1))
		if p.Min > 0 {
			add("zero", "0")
		}
		if p.Min >= 0 {
			add("negative", "-1")
			add("-Number.MIN_VALUE", "-Number.MIN_VALUE")
		}
	}
	if p.Type == schema.Int {
		add("fractional", jsNum(max(p.Min, 0)+1.5))
		add("Number.MIN_VALUE", "Number.MIN_VALUE")
		add("1/3", "1/3")
	}
}

func badDurations(p schema.Param, add func(label, js string)) {
	for _, v := range []jsVal{
		{"word", `'soon'`},
		{"empty string", `''`},
		{"space", `'10 ms'`},
		{"leading space", `' 10ms'`},
		{"two signs", `'1h-5m'`},
		{"unit only", `'ms'`},
		{"unknown unit", `'10y'`},
		{"'NaN'", `'NaN'`},
		{"'Infinity'", `'Infinity'`},
		{"true", `true`},
		{"false", `false`},
		{"object", `{}`},
		{"object with ms", `{ ms: 10 }`},
		{"array", `[]`},
		{"array of ms", `[10]`},
		{"negative", `-1`},
		{"negative string", `'-5ms'`},
		{"negative numeric string", `'-1'`},
		{"negative zero-ish", `-Number.MIN_VALUE`},
		{"1e300", `1e300`},
		{"'1e300'", `'1e300'`},
		{"2**53+1 ms", `2**53+1`},
		{"overflowing string", `'9999999999h'`},
		{"Number.MAX_VALUE", `Number.MAX_VALUE`},
		{"over-long string", longString},
	} {
		add(v.label, v.js)
	}
	if p.Bounded() {
		add("max+1ms", jsNum(p.Max+1))
		add("max+1ms string", jsStr((time.Duration(p.Max)*time.Millisecond + time.Millisecond).String()))
		if p.Min > 0 {
			add("zero", "0")
			add("under min", jsNum(p.Min/2))
			add("zero string", `'0s'`)
		}
	}
	if p.Positive {
		add("zero", "0")
		add("zero string", `'0s'`)
		add("numeric zero string", `'0'`)
		add("under a nanosecond", `1e-7`)
	}
}

func badStrings(p schema.Param, add func(label, js string)) {
	for _, v := range []jsVal{
		{"number", `10`},
		{"zero", `0`},
		{"negative", `-1`},
		{"1e300", `1e300`},
		{"2**53+1", `2**53+1`},
		{"fractional", `1.5`},
		{"true", `true`},
		{"false", `false`},
		{"object", `{}`},
		{"array", `[]`},
		{"array of string", `['x']`},
	} {
		add(v.label, v.js)
	}
	prefix := ""
	if p.Check != nil && p.Check("http://x/") == nil {
		prefix = "http://x/" // over-long, but otherwise valid
	}
	add(fmt.Sprintf("over-long string (%d bytes)", p.Limit()+1),
		fmt.Sprintf("%s + 'a'.repeat(%d)", jsStr(prefix), p.Limit()+1-len(prefix)))
	if p.NonEmpty {
		add("empty string", `''`)
	}
	if p.NoNUL {
		add("NUL", `'a\0b'`)
	}
	if len(p.Enum) > 0 {
		first := p.Enum[0]
		for _, s := range []string{
			"", strings.ToLower(first), strings.ToUpper(first), " " + first, first + " ",
			first + "\x00", "x" + first, strings.Join(p.Enum, ","),
		} {
			if !slices.Contains(p.Enum, s) {
				add(fmt.Sprintf("not one of %q: %q", p.Enum, s), jsStr(s))
			}
		}
	}
	if p.Check != nil {
		for _, s := range []string{
			"", "x", "/etc/passwd", "../../etc/passwd", "file:///etc/passwd", "ftp://example.com/",
			"http://", "http:///path", "javascript:alert(1)", "//example.com/", "example.com", "gopher://x/",
			" http://example.com/", "http://exa mple.com/", "http://[::1/", "\x00", "data:text/plain,x",
			"a,b", "a:b", "{a}", `"a"`, "'a'", " a", "a ",
		} {
			if p.Check(s) != nil {
				add(fmt.Sprintf("failing its check: %q", s), jsStr(s))
			}
		}
	}
}

func badStringLists(p schema.Param, add func(label, js string)) {
	for _, v := range []jsVal{
		{"string", `'python3 worker.py'`},
		{"number", `10`},
		{"true", `true`},
		{"object", `{}`},
		{"array-like object", `{ 0: 'python3', length: 1 }`},
		{"number item", `['python3', 3]`},
		{"null item", `['python3', null]`},
		{"array item", `[['python3']]`},
		{"object item", `[{}]`},
		{"function item", `[() => 1]`},
		{"Symbol item", `[Symbol('sh')]`},
		{"undefined item", `['python3', undefined]`},
		{"hole", `['python3', , 'x']`},
		{"over-long string", longString},
		{"over-long first item", fmt.Sprintf(`['/' + 'x'.repeat(%d)]`, p.Limit())},
		{"over-long item", fmt.Sprintf(`['python3', 'x'.repeat(%d)]`, p.Limit()+1)},
	} {
		add(v.label, v.js)
	}
	if p.NonEmpty {
		add("empty array", `[]`)
	}
	if p.NoNUL {
		add("NUL in first item", `['sh\0']`)
		add("NUL in an item", `['python3', 'a\0b']`)
	}
	if p.Check != nil && p.Check([]string{""}) != nil {
		add("empty first item", `['']`)
	}
}

func badStringMaps(p schema.Param, add func(label, js string)) {
	for _, v := range []jsVal{
		{"string", `'A=1'`},
		{"number", `10`},
		{"true", `true`},
		{"array", `[]`},
		{"array of pairs", `[['A', '1']]`},
		{"over-long string", longString},
		{"object value", `{ A: {} }`},
		{"array value", `{ A: [] }`},
		{"null value", `{ A: null }`},
		{"function value", `{ A: () => 1 }`},
		{"Symbol value", `{ A: Symbol('x') }`},
		{"NaN value", `{ A: NaN }`},
		{"Infinity value", `{ A: Infinity }`},
		{"BigInt value", `{ A: 1n }`},
		{"Date value", `{ A: new Date(0) }`},
	} {
		add(v.label, v.js)
	}
	if !p.Scalars {
		add("number value", `{ A: 1 }`)
		add("boolean value", `{ A: true }`)
	}
	if p.NoNUL {
		add("value with NUL", `{ A: 'a\0b' }`)
	}
	if p.Check == nil {
		return
	}
	// Entries its check refuses: names and lengths that may be wrong here.
	keys := []jsVal{
		{"A=B", `'A=B'`},
		{"A B", `'A B'`},
		{"1A", `'1A'`},
		{"", `''`},
		{"A\x00", `'A\0'`},
		{strings.Repeat("K", 131072), `'K'.repeat(131072)`},
		{ipc.WorkerEnv, jsStr(ipc.WorkerEnv)},
	}
	for _, k := range reservedTags {
		keys = append(keys, jsVal{k, jsStr(k)})
	}
	for _, k := range keys {
		if p.Check(map[string]string{k.label: "x"}) != nil {
			add(fmt.Sprintf("key %.20q", k.label), fmt.Sprintf("{ [%s]: 'x' }", k.js))
		}
	}
	if p.Check(map[string]string{"A": "x", ipc.WorkerEnv: "1", "B": "y"}) != nil {
		add("a refused key among others", fmt.Sprintf("{ A: 'x', %s: '1', B: 'y' }", ipc.WorkerEnv))
	}
	for _, n := range []int{131072, 200000} { // an entry (name=value) over MAX_ARG_STRLEN
		if p.Check(map[string]string{"A": strings.Repeat("x", n)}) != nil {
			add(fmt.Sprintf("value of %d bytes", n), fmt.Sprintf("{ A: 'x'.repeat(%d) }", n))
			break
		}
	}
}

func badObjects(p schema.Param, add func(label, js string)) {
	for _, v := range []jsVal{
		{"string", `'x'`},
		{"number", `1`},
		{"true", `true`},
		{"array", `['x']`},
		{"function", `() => 'noop'`},
		{"over-long string", longString},
	} {
		add(v.label, v.js)
	}
	valid := map[string]string{}
	for _, f := range p.Fields {
		if f.Required {
			valid[f.Name] = "'noop'"
		}
	}
	object := func(name, js string) string {
		var parts []string
		for _, f := range p.Fields {
			if f.Name == name {
				parts = append(parts, f.Name+": "+js)
			} else if v, ok := valid[f.Name]; ok {
				parts = append(parts, f.Name+": "+v)
			}
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	if len(valid) > 0 {
		add("no required key", `{}`)
	}
	add("unknown key", strings.Replace(object("", ""), "{ ", "{ bogus: 1, ", 1))
	for _, f := range p.Fields {
		for _, v := range []jsVal{{"number", `1`}, {"string", `'x'`}, {"array", `[]`}, {"true", `true`}} {
			if _, err := f.Value(jsonValue(v.js)); err != nil {
				add(fmt.Sprintf("%s %s", f.Name, v.label), object(f.Name, v.js))
			}
		}
		if f.NonEmpty {
			add(fmt.Sprintf("%s empty", f.Name), object(f.Name, `''`))
		}
	}
}

// jsonValue is a JSON literal (which the jsVals it is used on are) as Go reads it.
func jsonValue(js string) any {
	var v any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(js, "'", `"`)), &v); err != nil {
		panic(err)
	}
	return v
}

// badAny tries an Any param that has Parse with values of every JSON kind.
func badAny(p schema.Param, add func(label, js string)) {
	if p.Parse == nil {
		return // read by the JS face: its cases are the JS face's (signal)
	}
	for _, v := range []jsVal{
		{"zero", `0`},
		{"negative", `-1`},
		{"1e300", `1e300`},
		{"word", `'soon'`},
		{"empty string", `''`},
		{"negative duration", `'-1s'`},
		{"zero duration", `'0s'`},
		{"true", `true`},
		{"object", `{}`},
		{"array", `[]`},
		{"over-long string", longString},
	} {
		if v.js == longString {
			add(v.label, v.js)
			continue
		}
		if _, err := p.Parse(jsonValue(v.js)); err != nil {
			add(v.label, v.js)
		}
	}
}

// extraBadOptions are bad values that bind (their shape is right) and that
// the JS face refuses after binding.
//
//nolint:gochecknoglobals // a test table
var extraBadOptions = map[string][]jsVal{
	"init": {
		{"unknown workload", `{ workload: 'no.such' }`},
		{"bad param", `{ workload: 'cpu.primes', params: { limit: -1 } }`},
		{"unknown param", `{ workload: 'cpu.primes', params: { limti: 10 } }`},
	},
	"cwd": {{"not a directory", `'/dev/null'`}, {"missing", `'/no/such/dir'`}},
}

// validOption is a valid value of an option, by its kind.
func validOption(p schema.Param) string {
	switch p.Type {
	case schema.Int, schema.Number:
		return jsNum(max(p.Min, 1))
	case schema.Duration:
		return `'5s'`
	case schema.Strings:
		return `['python3', 'w.py']`
	case schema.StringMap:
		return `{ A: '1' }`
	case schema.Bool:
		return `true`
	case schema.String, schema.Object, schema.Any:
	}
	return `'/tmp'`
}

// validParam is a valid value of p, for the params a case does not spoil.
func validParam(t *testing.T, p workload.Param) string {
	if p.Default != nil {
		switch d := p.Default.(type) {
		case time.Duration:
			return jsStr(d.String())
		case string:
			return jsStr(d)
		case int64:
			return strconv.FormatInt(d, 10)
		case float64:
			return jsNum(d)
		case bool:
			return strconv.FormatBool(d)
		}
	}
	switch p.Type {
	case workload.String:
		for _, s := range append(append([]string{}, p.Enum...), "http://127.0.0.1:1/", "x") {
			if p.Check == nil || p.Check(s) == nil {
				return jsStr(s)
			}
		}
	case workload.Int, workload.Number, workload.Duration:
		return jsNum(p.Min)
	case workload.Bool:
		return "false"
	case schema.Strings, schema.StringMap, schema.Object, schema.Any: // no workload has one yet
	}
	require.FailNow(t, "no valid value for param "+p.Name)
	return ""
}

// A badCase is one call that must fail.
type badCase struct {
	what    string // for failure messages
	call    string // a JavaScript function of the pool, p => ..., or () => ... for constructors
	async   bool   // run and map reject; the others throw
	errName string // InvalidArgumentError unless set
	// needles: the message must contain, for each group, one of its strings.
	needles [][]string
	// check replaces the default check that the pool still works.
	check string
	// shared: run also against the process pool.
	shared bool
}

func oneOf(s ...string) []string { return s }

// paramsObject is a params object literal with base's entries and, when
// kv holds a key and a value, that entry.
func paramsObject(base map[string]string, order []string, kv ...string) string {
	var parts []string
	for _, k := range order {
		if len(kv) == 0 || k != kv[0] {
			parts = append(parts, jsStr(k)+": "+base[k])
		}
	}
	if len(kv) == 2 {
		parts = append(parts, jsStr(kv[0])+": ("+kv[1]+")")
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// callOpts bounds any task a bad case might start by mistake.
const callOpts = `{ timeout: 2000 }`

// methodCases are the bad calls of run, runSync, map and resize.
func methodCases(t *testing.T) []badCase {
	var cases []badCase
	methods := []struct {
		name  string
		async bool
	}{{"runSync", false}, {"run", true}, {"map", true}, {"mapSettled", true}, {"asCompleted", true}}
	// call is p.<method>(name, params, opts); the map-like methods get
	// params at index 3 of five, the others valid (and asCompleted a
	// callback before opts).
	call := func(method, name, params, valid, opts string) string {
		switch method {
		case "map", "mapSettled":
			return fmt.Sprintf("p => p.%s(%s, [%s, %s, %s, %s, %s], %s)", method, name, valid, valid, valid, params, valid, opts)
		case "asCompleted":
			return fmt.Sprintf("p => p.asCompleted(%s, [%s, %s, %s, %s, %s], () => {}, %s)", name, valid, valid, valid, params, valid, opts)
		}
		return fmt.Sprintf("p => p.%s(%s, %s, %s)", method, name, params, opts)
	}

	specs := workload.Default.List()
	require.NotEmpty(t, specs)
	for si, spec := range specs {
		base := map[string]string{}
		var order []string
		for _, p := range spec.Params {
			if p.Required {
				base[p.Name] = validParam(t, p)
				order = append(order, p.Name)
			}
		}
		valid := paramsObject(base, order)
		name := jsStr(spec.Name)
		add := func(what, params string, heavy bool, needles ...[]string) {
			for mi, m := range methods {
				if heavy && m.name != "runSync" {
					continue
				}
				where := [][]string{{spec.Name}}
				if m.name == "map" {
					where = append(where, oneOf("paramsArray[3]"))
				}
				cases = append(cases, badCase{
					what:    fmt.Sprintf("%s(%s, %s)", m.name, spec.Name, what),
					call:    call(m.name, name, params, valid, callOpts),
					async:   m.async,
					needles: append(where, needles...),
					shared:  (si+mi+len(cases))%5 == 0,
				})
			}
		}
		for _, p := range spec.Params {
			quoted := jsStr(p.Name)
			for _, v := range badValues(p) {
				add(fmt.Sprintf("%s: %s", p.Name, v.label), paramsObject(base, order, p.Name, v.js), v.heavy(),
					oneOf(quoted, "params."+p.Name, "paramsArray[3]."+p.Name))
			}
			if p.Required {
				add(fmt.Sprintf("%s missing", p.Name), paramsObject(base, order, p.Name, "undefined"), false, oneOf(quoted), oneOf("required"))
				add(fmt.Sprintf("%s missing (no params)", p.Name), "{}", false, oneOf(quoted), oneOf("required"))
			}
		}
		// Unknown keys, including ones that look like a path for io.file.
		extra := []jsVal{
			{"bogus", `1`},
			{"", `1`},
			{"__proto__", `{}`},
			{"constructor", `'x'`},
			{"toString", `'x'`},
			{"path", `'../../etc/passwd'`},
			{"file", `'/etc/passwd'`},
			{"dir", `'/'`},
			{"name", `'../x'`},
			{"filename", `'/tmp/x'`},
		}
		for _, p := range spec.Params {
			if up := strings.ToUpper(p.Name); up != p.Name {
				extra = append(extra, jsVal{up, validParam(t, p)})
			}
		}
		for _, e := range extra {
			params := paramsObject(base, order, e.label, e.js)
			if e.label == "__proto__" {
				// An own property named __proto__, as JSON.parse makes it.
				params = fmt.Sprintf(`Object.assign(JSON.parse('{"__proto__": {"limit": 5}}'), %s)`, valid)
			}
			add(fmt.Sprintf("unknown key %q", e.label), params, false, oneOf(jsStr(e.label)), oneOf("unknown param"))
		}
		// params that are not an object (for two workloads: the path is the same).
		if spec.Name == "cpu.primes" || spec.Name == "io.http" {
			for _, v := range append(notJSONExcept("null"), // null is no params
				jsVal{"array", `[]`}, jsVal{"array of params", `[{}]`}, jsVal{"string", `'{}'`}, jsVal{"number", `5`},
				jsVal{"true", `true`}, jsVal{"over-long string", `'x'.repeat(100000)`}) {
				add("params "+v.label, v.js, false, oneOf("params", "paramsArray[3]"))
			}
		}
	}

	// Per-call opts.
	for _, m := range methods {
		valid := `{ limit: 10 }`
		add := func(what, opts string, needles ...[]string) {
			cases = append(cases, badCase{
				what:    fmt.Sprintf("%s(cpu.primes, {limit: 10}, %s)", m.name, what),
				call:    call(m.name, `'cpu.primes'`, valid, valid, opts),
				async:   m.async,
				needles: needles,
				shared:  len(cases)%4 == 0,
			})
		}
		for _, p := range callSchemaOf(m.name).Params {
			for _, v := range badValues(p) {
				add(p.Name+": "+v.label, fmt.Sprintf("{ %s: (%s) }", p.Name, v.js), oneOf(jsStr(p.Name), "opts."+p.Name))
			}
		}
		if !slices.Contains(callSchemaOf(m.name).Names(), "chunkSize") { // map's only
			add("chunkSize", "{ chunkSize: 2 }", oneOf(`"chunkSize"`), oneOf("unknown option"))
		}
		for _, k := range []string{"timeot", "Timeout", "TIMEOUT", "taskTimeout", "", "__proto__x", "Signal", "abort", "chunksize"} {
			add(fmt.Sprintf("unknown opt %q", k), fmt.Sprintf("{ %s: 100 }", jsStr(k)), oneOf(jsStr(k)), oneOf("unknown option"))
		}
		for _, v := range append(notJSONExcept("null"),
			jsVal{"array", `[]`}, jsVal{"string", `'1s'`}, jsVal{"number", `1000`}, jsVal{"true", `true`}) {
			add("opts "+v.label, v.js, oneOf("opts"))
		}
		for _, v := range []jsVal{
			{"number", `100`},
			{"string", `'abort'`},
			{"true", `true`},
			{"plain object", `{}`},
			{"AbortController", `new concurrency.AbortController()`},
			{"function", `() => {}`},
			{"look-alike without listeners", `{ aborted: false }`},
			{"aborted not boolean", `{ aborted: 0, addEventListener() {}, removeEventListener() {} }`},
			{"array", `[]`},
			{"Symbol", `Symbol('s')`},
		} {
			add("signal: "+v.label, "{ signal: ("+v.js+") }", oneOf(`"signal"`), oneOf("AbortSignal"))
		}
	}

	// The workload argument.
	for _, m := range methods {
		for _, v := range []jsVal{
			{"number", `42`},
			{"undefined", `undefined`},
			{"empty string", `''`},
			{"null", `null`},
			{"true", `true`},
			{"object", `{}`},
			{"array", `['noop']`},
			{"function", `() => 'noop'`},
			{"Symbol", `Symbol('noop')`},
			{"String object", `new String('noop')`},
			{"BigInt", `1n`},
			{"NaN", `NaN`},
			{"Date", `new Date(0)`},
		} {
			params, valid := `{}`, `{}`
			cases = append(cases, badCase{
				what:    fmt.Sprintf("%s(workload %s)", m.name, v.label),
				call:    call(m.name, v.js, params, valid, callOpts),
				async:   m.async,
				needles: [][]string{oneOf(m.name + "(workload")},
				shared:  true,
			})
		}
		for _, n := range []string{
			"cpu.prime", "CPU.PRIMES", "Noop", "noop ", " noop", "noop\x00", "../noop", "./noop",
			"/bin/sh", "noop; rm -rf /", "$(noop)", "cpu.*", "io.file/../noop", "x" + strings.Repeat("y", 10000), "\u00e9", "\ud7ff",
		} {
			cases = append(cases, badCase{
				what:    fmt.Sprintf("%s(unknown workload %.20q)", m.name, n),
				call:    call(m.name, jsStr(n), `{}`, `{}`, callOpts),
				async:   m.async,
				errName: "UnknownWorkloadError",
				needles: [][]string{oneOf(`unknown workload ` + strconv.Quote(n)), oneOf("available: ")},
				shared:  len(cases)%3 == 0,
			})
		}
	}

	// asCompleted's callback.
	for _, v := range []jsVal{{"undefined", `undefined`}, {"null", `null`}, {"object", `{}`}, {"string", `'f'`}, {"number", `1`}, {"opts", `{ timeout: 2000 }`}} {
		cases = append(cases, badCase{
			what:    "asCompleted(noop, [{}], callback " + v.label + ")",
			call:    fmt.Sprintf("p => p.asCompleted('noop', [{}], %s)", v.js),
			async:   true,
			needles: [][]string{oneOf("callback must be a function")},
			shared:  true,
		})
	}
	// close's opts: every option's bad values (with drain: true, so that
	// timeout's are only what is wrong), and what binds but is still wrong.
	closeVals := []jsVal{
		{"unknown", `{ wait: true }`},
		{"timeout without drain", `{ timeout: '1s' }`},
		{"string", `'drain'`},
		{"array", `[]`},
	}
	for _, p := range closeSchema.Params {
		for _, v := range badValues(p) {
			closeVals = append(closeVals, jsVal{p.Name + ": " + v.label, fmt.Sprintf("{ drain: true, %s: (%s) }", p.Name, v.js)})
			if p.Name == "drain" {
				closeVals[len(closeVals)-1].js = fmt.Sprintf("{ drain: (%s) }", v.js)
			}
		}
	}
	for i, v := range closeVals {
		cases = append(cases, badCase{
			what:    "close(" + v.label + ")",
			call:    fmt.Sprintf("p => p.close(%s)", v.js),
			async:   true,
			needles: [][]string{oneOf("close(")},
			shared:  i%4 == 0,
		})
	}

	// map's paramsArray.
	for _, v := range []jsVal{
		{"object", `{}`},
		{"array-like", `{ 0: {}, length: 1 }`},
		{"string", `'[{}]'`},
		{"number", `5`},
		{"undefined", `undefined`},
		{"null", `null`},
		{"true", `true`},
		{"function", `() => [{}]`},
		{"Symbol", `Symbol('x')`},
		{"Map", `new Map([[0, {}]])`},
		{"Set", `new Set([{}])`},
		{"typed array", `new Uint8Array(3)`},
		{"BigInt", `3n`},
		{"too long", `new Array(1000001)`},
		{"Proxy of array", `new Proxy([{}], {})`},
	} {
		cases = append(cases, badCase{
			what:    "map(noop, paramsArray " + v.label + ")",
			call:    fmt.Sprintf("p => p.map('noop', %s, %s)", v.js, callOpts),
			async:   true,
			needles: [][]string{oneOf("paramsArray")},
			shared:  true,
		})
	}
	// map's paramsArray with a bad element at index 3 (the params cases
	// above put bad params objects there; these are not objects at all).
	for _, v := range append(notJSONExcept("null"),
		jsVal{"number", `5`}, jsVal{"string", `'x'`}, jsVal{"array", `[]`}, jsVal{"true", `true`}) {
		cases = append(cases, badCase{
			what:    "map(cpu.primes, paramsArray[3] " + v.label + ")",
			call:    fmt.Sprintf("p => p.map('cpu.primes', [{}, {}, {}, %s, {}], %s)", v.js, callOpts),
			async:   true,
			needles: [][]string{oneOf("paramsArray[3]")},
			shared:  len(cases)%3 == 0,
		})
	}

	// resize: the bad values of pool.WorkersParam, which it reads, and
	// what only a call can pass.
	resizeVals := append(badValues(pool.WorkersParam), []jsVal{
		{"no argument", ``},
		{"undefined", `undefined`},
		{"-0", `-0`},
		{"Date", `new Date(8)`},
		{"BigInt", `8n`},
		{"numeric string", `'8'`},
		{"over-long numeric string", `'8'.repeat(100000)`},
	}...)
	for i, v := range resizeVals {
		cases = append(cases, badCase{
			what:    "resize(" + v.label + ")",
			call:    fmt.Sprintf("p => p.resize(%s)", v.js),
			needles: [][]string{oneOf("resize(workers)"), oneOf("workers " + pool.WorkersParam.Describe())},
			shared:  i%3 == 0,
		})
	}
	return cases
}

// constructorCases are bad `new ThreadPool(...)` and `new ProcessPool(...)`;
// each uses a name of its own, so an option accepted by mistake shows as a
// new pool rather than as a clash with another pool's options.
func constructorCases() []badCase {
	var cases []badCase
	n := 0
	name := func() string { n++; return jsStr(fmt.Sprintf("bad-%d", n)) }
	for _, kind := range []pool.Kind{pool.Thread, pool.Process} {
		ctor := poolCtor(kind) + "Pool"
		for _, p := range poolSchemas[kind].Params {
			opt := p.Name
			vals := append(badValues(p), extraBadOptions[opt]...)
			for _, v := range vals {
				opts := fmt.Sprintf("{ name: %s, %s: (%s) }", name(), opt, v.js)
				if opt == "name" {
					opts = fmt.Sprintf("{ name: (%s) }", v.js)
				}
				cases = append(cases, badCase{
					what:    fmt.Sprintf("new %s({%s: %s})", ctor, opt, v.label),
					call:    fmt.Sprintf("() => new concurrency.%s(%s)", ctor, opts),
					needles: [][]string{oneOf(jsStr(opt), "options."+opt)},
				})
			}
		}
		for _, key := range []string{"wrokers", "Workers", "WORKERS", "timeout", "maxTasks", "", "constructor", "__proto__", "x" + strings.Repeat("y", 1000)} {
			opts := fmt.Sprintf("{ name: %s, %s: 4 }", name(), jsStr(key))
			if key == "__proto__" {
				opts = fmt.Sprintf(`Object.assign(JSON.parse('{"__proto__": {"workers": 4}}'), { name: %s })`, name())
			}
			cases = append(cases, badCase{
				what:    fmt.Sprintf("new %s({%.20q: 4})", ctor, key),
				call:    fmt.Sprintf("() => new concurrency.%s(%s)", ctor, opts),
				needles: [][]string{oneOf(jsStr(key)), oneOf("unknown option")},
			})
		}
		for _, v := range append(notJSONExcept("null"),
			jsVal{"number", `4`}, jsVal{"string", `'workers: 4'`}, jsVal{"true", `true`}, jsVal{"array", `[{ workers: 4 }]`}) {
			cases = append(cases, badCase{
				what:    fmt.Sprintf("new %s(%s)", ctor, v.label),
				call:    fmt.Sprintf("() => new concurrency.%s(%s)", ctor, v.js),
				needles: [][]string{oneOf("options")},
			})
		}
	}
	for _, p := range processParams {
		opt := p.Name
		cases = append(cases, badCase{
			what:    fmt.Sprintf("new ThreadPool({%s}) (process only)", opt),
			call:    fmt.Sprintf("() => new concurrency.ThreadPool({ name: %s, %s: (%s) })", name(), opt, validOption(p)),
			needles: [][]string{oneOf(jsStr(opt)), oneOf("ProcessPool only")},
		})
	}
	// Bad options under the name of a pool that exists: the options are
	// what is wrong, not the clash, and the pool stays as it was.
	for _, c := range []struct{ ctor, opts, opt string }{
		{"ThreadPool", `{ name: 'bi-thread', workers: 0 }`, "workers"},
		{"ThreadPool", `{ name: 'bi-thread', workers: 2, maxQueue: -1 }`, "maxQueue"},
		{"ThreadPool", `{ name: 'bi-thread', workers: 2, taskTimeout: () => 1 }`, "taskTimeout"},
		{"ProcessPool", `{ name: 'bi-proc', workers: 1, env: { XK6_CONCURRENCY_WORKER: '1' } }`, "env"},
		{"ProcessPool", `{ name: 'bi-proc', workers: 1, command: 'sh -c true' }`, "command"},
		{"ProcessPool", `{ name: 'bi-thread', workers: 2, concurrency: 0 }`, "concurrency"},
	} {
		cases = append(cases, badCase{
			what:    fmt.Sprintf("new %s(%s)", c.ctor, c.opts),
			call:    fmt.Sprintf("() => new concurrency.%s(%s)", c.ctor, c.opts),
			needles: [][]string{oneOf(jsStr(c.opt), "options."+c.opt)},
		})
	}
	return cases
}

// harness runs cases against the pool p (a global of the VU) and sets the
// global `result` to one outcome per case: how the call ended, whether it
// became a task or changed the pool, and whether the pool still works.
func harness(p string, cases []badCase, inVU bool) string {
	var b strings.Builder
	b.WriteString("globalThis.result = [];\n{\nconst cases = [\n")
	for i, c := range cases {
		check := c.check
		if check == "" {
			check = "null"
		}
		fmt.Fprintf(&b, "  { i: %d, async: %t, call: %s, check: %s },\n", i, c.async, c.call, check)
	}
	b.WriteString("];\n")
	fmt.Fprintf(&b, "const pool_ = %s;\n", p)
	b.WriteString(`
const outcome = (how, e) => ({ how, name: e && e.name, message: String(e && e.message), isError: e instanceof Error });
const works = () => {
	if (!` + strconv.FormatBool(inVU) + `) return 'ok';
	const primes = pool_.runSync('cpu.primes', { limit: 10 });
	if (primes !== 4) return 'cpu.primes {limit: 10} = ' + primes;
	const noop = pool_.runSync('noop');
	if (noop !== null) return 'noop = ' + noop;
	return 'ok';
};
const one = async (c) => {
	const before = pool_.stats().submitted, workers = pool_.workers, t0 = Date.now();
	let r;
	try {
		const v = c.call(pool_);
		if (!c.async) r = { how: 'returned' };
		else if (!(v instanceof Promise)) r = { how: 'returned a non-promise' };
		else {
			try { await v; r = { how: 'resolved' }; } catch (e) { r = outcome('rejected', e); }
		}
	} catch (e) { r = outcome('threw', e); }
	r.ms = Date.now() - t0;
	r.tasks = pool_.stats().submitted - before;
	r.workers = pool_.workers === workers ? 'same' : workers + ' -> ' + pool_.workers;
	try { r.works = c.check ? c.check(pool_) : works(); } catch (e) { r.works = 'threw ' + e.name + ': ' + e.message; }
	return r;
};
`)
	if inVU {
		b.WriteString("(async () => { for (const c of cases) result.push(await one(c)); })();\n")
	} else {
		// The init context has no event loop: constructors are synchronous.
		b.WriteString(`for (const c of cases) { one(c).then((r) => result.push(r)); }` + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// reportCases are bad options of report.text and report.html.
func reportCases() []badCase {
	var cases []badCase
	for _, fn := range []string{"text", "html"} {
		for _, p := range report.OptionsSchema.Params {
			for _, v := range badValues(p) {
				cases = append(cases, badCase{
					what:    fmt.Sprintf("report.%s({%s: %s})", fn, p.Name, v.label),
					call:    fmt.Sprintf("() => concurrency.report.%s({ metrics: {} }, { %s: (%s) })", fn, p.Name, v.js),
					needles: [][]string{oneOf(jsStr(p.Name), "opts."+p.Name), oneOf("report." + fn + "()")},
				})
			}
		}
	}
	return cases
}

//nolint:gochecknoglobals // a test flag, as go test -update
var update = flag.Bool("update", false, "rewrite testdata/badinput.golden from this run's outcomes")

const goldenPath = "testdata/badinput.golden"

// golden is the file of expected outcomes: one line per case, keyed by where
// it ran and what it is.
type golden struct {
	want map[string]string // key: context and case
	got  []string          // this run's lines, in order
	seen map[string]int
}

func readGolden(t *testing.T) *golden {
	t.Helper()
	g := &golden{want: map[string]string{}, seen: map[string]int{}}
	if *update {
		return g
	}
	b, err := os.ReadFile(goldenPath)
	require.NoError(t, err, "run go test -run TestBadInput -update to write it")
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		require.Len(t, parts, 3, "golden line %q", line)
		g.want[parts[0]+"\t"+parts[1]] = line
	}
	return g
}

// line is a case's outcome as the golden file shows it: context, case,
// input, and how it ended (threw or rejected, the error's class and
// message). Long inputs and messages are cut, so that the file stays readable.
func (g *golden) line(where string, c badCase, r map[string]any) (key, line string) {
	what := c.what
	if n := g.seen[where+what]; n > 0 {
		what = fmt.Sprintf("%s #%d", what, n+1)
	}
	g.seen[where+c.what]++
	key = where + "\t" + what
	line = fmt.Sprintf("%s\t%s\t%v %v: %s", key, cut(c.call, 120), r["how"], r["name"], cut(fmt.Sprint(r["message"]), 300))
	g.got = append(g.got, line)
	return key, line
}

// cut shortens s to n bytes, on one line.
func cut(s string, n int) string {
	s = strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// write rewrites the golden file from this run (-update), or checks that it
// has no line this run did not make.
func (g *golden) write(t *testing.T) {
	t.Helper()
	if !*update {
		for key := range g.want {
			assert.True(t, slices.ContainsFunc(g.got, func(l string) bool { return strings.HasPrefix(l, key+"\t") }),
				"%s: no such case any more; run go test -run TestBadInput -update", key)
		}
		return
	}
	head := "# Generated by TestBadInput (go test ./concurrency/ -run TestBadInput -update); do not edit.\n" +
		"# Every bad input the test tries: where it ran, the case, the call, and how it ended.\n" +
		"# context\tcase\tcall\toutcome\n"
	require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
	require.NoError(t, os.WriteFile(goldenPath, []byte(head+strings.Join(g.got, "\n")+"\n"), 0o600))
}

// checkOutcomes checks each outcome of the harness, as a subtest of its own
// named by the case: it must have thrown or rejected the right error, whose
// message names what was wrong, without a task or a change to the pool, and
// it must be as the golden file says.
func checkOutcomes(t *testing.T, where string, cases []badCase, got []any, g *golden) {
	t.Helper()
	require.Len(t, got, len(cases), "outcomes in %s", where)
	for i, c := range cases {
		r, _ := got[i].(map[string]any)
		key, line := g.line(where, c, r)
		t.Run(where+"/"+c.what, func(t *testing.T) {
			t.Parallel()
			for _, p := range outcomeProblems(c, r) {
				assert.Fail(t, p, "call: %.300s\n\tmessage: %.300s", c.call, r["message"])
			}
			if !*update {
				assert.Equal(t, g.want[key], line, "outcome differs from %s (go test -run TestBadInput -update rewrites it)", goldenPath)
			}
		})
	}
}

// outcomeProblems says what is wrong with the outcome r of case c.
func outcomeProblems(c badCase, r map[string]any) []string {
	var problems []string
	wantHow := "threw"
	if c.async {
		wantHow = "rejected"
	}
	wantName := c.errName
	if wantName == "" {
		wantName = "InvalidArgumentError"
	}
	msg, _ := r["message"].(string)
	if r["how"] != wantHow {
		problems = append(problems, fmt.Sprintf("%v, want %s", r["how"], wantHow))
	}
	if r["name"] != wantName || r["isError"] != true {
		problems = append(problems, fmt.Sprintf("error %v (an Error: %v), want %s", r["name"], r["isError"], wantName))
	}
	for _, group := range c.needles {
		if !slices.ContainsFunc(group, func(s string) bool { return strings.Contains(msg, s) }) {
			problems = append(problems, fmt.Sprintf("message does not name %q", group))
		}
	}
	if strings.Contains(msg, "already exists") {
		problems = append(problems, "message is about another pool, not the bad option")
	}
	if n, _ := r["tasks"].(int64); n != 0 {
		problems = append(problems, fmt.Sprintf("%d tasks submitted", n))
	}
	if r["workers"] != "same" {
		problems = append(problems, fmt.Sprintf("workers changed: %v", r["workers"]))
	}
	if r["works"] != "ok" {
		problems = append(problems, fmt.Sprintf("the pool no longer works: %v", r["works"]))
	}
	return problems
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	vu.init(`
		const pool = new concurrency.ThreadPool({ name: 'bi-thread', workers: 2 });
		const procs = new concurrency.ProcessPool({ name: 'bi-proc', workers: 1 });
	`)
	g := readGolden(t)

	ctors := constructorCases()
	vu.init(harness("pool", ctors, false))
	checkOutcomes(t, "init", ctors, vu.rt.VU.Runtime().Get("result").Export().([]any), g)
	require.Len(t, root.pools, 2, "a bad constructor call made a pool")

	vu.toVU()
	calls := append(methodCases(t), reportCases()...)
	got := vu.run(harness("pool", calls, true)).Export().([]any)
	checkOutcomes(t, "thread", calls, got, g)

	var shared []badCase
	for _, c := range calls {
		if c.shared {
			shared = append(shared, c)
		}
	}
	got = vu.run(harness("procs", shared, true)).Export().([]any)
	checkOutcomes(t, "process", shared, got, g)
	assert.EqualValues(t, 1, root.pools["bi-proc"].pool.Stats().Live, "the process pool's worker")
	assert.EqualValues(t, 0, root.pools["bi-proc"].pool.Stats().Restarts, "process pool restarts")
	g.write(t)

	n := len(ctors) + len(calls)
	t.Logf("bad inputs tried: %d (%d constructor calls, %d method calls; %d of them on a process pool too)",
		n, len(ctors), len(calls), len(shared))
	assert.Greater(t, n, 500)
}

// TestUndefinedIsAbsent: an option or param that is undefined is left out,
// as JSON.stringify leaves it out, so it takes its default. (These are not
// bad inputs; they show where undefined stands.)
func TestUndefinedIsAbsent(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	var code strings.Builder
	code.WriteString("globalThis.result = [];\n")
	for _, kind := range []pool.Kind{pool.Thread, pool.Process} {
		ctor := poolCtor(kind) + "Pool"
		for _, opt := range poolSchemas[kind].Names() {
			name := jsStr(fmt.Sprintf("undefined-%s-%s", kind, opt))
			if opt == "name" {
				name = "undefined"
			}
			fmt.Fprintf(&code, "try { const p = new concurrency.%s({ name: %s, %s: undefined }); result.push([%s, p.name]); } catch (e) { result.push([%s, e.name + ': ' + e.message]); }\n",
				ctor, name, opt, jsStr(ctor+" "+opt), jsStr(ctor+" "+opt))
		}
	}
	vu.init(code.String())
	n := int64(root.numCPU)
	for _, r := range vu.rt.VU.Runtime().Get("result").Export().([]any) {
		r := r.([]any)
		what, got := r[0].(string), r[1].(string)
		switch {
		case strings.HasSuffix(what, " name"):
			kind := map[bool]string{true: "thread", false: "process"}[strings.HasPrefix(what, "Thread")]
			assert.Equal(t, fmt.Sprintf("%s-%d", kind, n), got, what)
		default:
			assert.True(t, strings.HasPrefix(got, "undefined-"), "%s: %s", what, got)
		}
	}

	// Params: the process pool runs them (its worker cleans up io.file's
	// directory when it exits); a call may fail for other reasons (io.http
	// cannot connect), but not for the undefined param.
	vu.init(`const procs = new concurrency.ProcessPool({ name: 'undefined-params', workers: 1 });`)
	vu.toVU()
	code.Reset()
	code.WriteString("globalThis.result = [];\n")
	for _, spec := range workload.Default.List() {
		base := map[string]string{}
		var order []string
		for _, p := range spec.Params {
			if p.Required {
				base[p.Name] = validParam(t, p)
				order = append(order, p.Name)
			}
		}
		for _, p := range spec.Params {
			params := paramsObject(base, order, p.Name, "undefined")
			fmt.Fprintf(&code, "try { procs.runSync(%s, %s, { timeout: 5000 }); result.push(['%s %s', 'ok']); } catch (e) { result.push(['%s %s', e.name + ': ' + e.message]); }\n",
				jsStr(spec.Name), params, spec.Name, p.Name, spec.Name, p.Name)
		}
	}
	tried := 0
	for _, r := range vu.run(code.String()).Export().([]any) {
		r := r.([]any)
		what, got := r[0].(string), r[1].(string)
		tried++
		if strings.HasSuffix(what, " url") { // required
			assert.Contains(t, got, `InvalidArgumentError: io.http: param "url" is required`, what)
			continue
		}
		assert.False(t, strings.HasPrefix(got, "InvalidArgumentError"), "%s: %s", what, got)
	}
	assert.Positive(t, tried)
}

// pyWorker is a worker in Python that speaks the protocol (ipc/PROTOCOL.md)
// and offers two workloads: argv, its own arguments, and env, the
// environment variables named in params.names.
const pyWorker = `
import json, os, struct, sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
def send(m):
    b = json.dumps(m).encode()
    out.write(struct.pack(">I", len(b)) + b)
    out.flush()
send({"type": "hello", "protocol": 1, "pid": os.getpid(), "workloads": [
    {"name": "argv", "kind": "io"}, {"name": "env", "kind": "io"}]})
while True:
    h = inp.read(4)
    if len(h) < 4:
        break
    m = json.loads(inp.read(struct.unpack(">I", h)[0]))
    if m.get("type") != "run":
        continue
    if m["workload"] == "argv":
        v = sys.argv[1:]
    else:
        v = {k: os.environ.get(k) for k in (m.get("params") or {}).get("names", [])}
    send({"type": "result", "id": m["id"], "value": v, "run_ns": 0})
`

// TestWorkerCommandIsArgv: a worker command is an argv array, run without a
// shell: shell syntax in it is passed on literally, and a program "name"
// holding a command line is a file that does not exist.
func TestWorkerCommandIsArgv(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned-"+rand.Text())
	keep := filepath.Join(dir, "keep")
	require.NoError(t, os.WriteFile(keep, []byte("keep"), 0o600))
	args := []string{
		"; touch " + pwned, "$(touch " + pwned + ")", "`touch " + pwned + "`", "&& touch " + pwned,
		"|| touch " + pwned, "| tee " + pwned, "> " + pwned, "; rm -rf " + keep, "$(rm -rf " + keep + ")",
		"$HOME", "${PATH}", "~", "*", "?", "[a-z]", "it's \"quoted\"", `back\slash`, "a\nb", "tab\there", "",
		"--", "-c", "-", "\u00e9\u4e16", "%s%n",
	}
	argv, err := json.Marshal(append([]string{python, "-c", pyWorker}, args...))
	require.NoError(t, err)

	_, vu := newRootVU(t)
	vu.init(fmt.Sprintf(`
		const literal = new concurrency.ProcessPool({ name: 'argv', workers: 1, command: %s });
		const line = new concurrency.ProcessPool({ name: 'line', workers: 1, command: [%s] });
		const lines = new concurrency.ProcessPool({ name: 'lines', workers: 1, command: ['sh -c', 'touch ' + %s] });
		const shell = new concurrency.ProcessPool({ name: 'sh', workers: 1, command: ['sh', '-c', 'echo got $((1+1)) >&2; exit 3'] });
	`, argv, jsStr("/bin/echo hello; touch "+pwned), jsStr(pwned)))
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		const fails = (f) => { try { return ['returned', f()]; } catch (e) { return [e.name, e.message]; } };
		result.argv = literal.runSync('argv');
		result.line = fails(() => line.runSync('noop'));
		result.lines = fails(() => lines.runSync('noop'));
		result.shell = fails(() => shell.runSync('noop'));
	`).Export().(map[string]any)

	t.Logf("a command line as the program: %v", got["line"])
	t.Logf("sh -c: %v", got["shell"])
	// Python got every argument as it was given.
	gotArgs, _ := got["argv"].([]any)
	require.Len(t, gotArgs, len(args), "argv: %v", got["argv"])
	for i, a := range args {
		assert.Equal(t, a, gotArgs[i], "argument %d", i)
	}
	// A command line as the program: no such file, and nothing ran.
	line := got["line"].([]any)
	assert.Equal(t, "WorkerCrashedError", line[0])
	assert.Contains(t, line[1], "does not exist")
	assert.Contains(t, line[1], "/bin/echo hello; touch "+pwned, "the program is named as given")
	lines := got["lines"].([]any)
	assert.Equal(t, "WorkerCrashedError", lines[0])
	assert.Contains(t, lines[1], `"sh -c"`)
	// sh -c runs a shell, which is what that argv asks for: it ran, printed
	// to stderr and exited 3.
	shell := got["shell"].([]any)
	assert.Equal(t, "WorkerCrashedError", shell[0])
	assert.Contains(t, shell[1], "got 2")
	assert.Contains(t, shell[1], "3")

	_, err = os.Stat(pwned)
	require.ErrorIs(t, err, os.ErrNotExist, "%s exists: a shell ran the command", pwned)
	b, err := os.ReadFile(keep)
	require.NoError(t, err, "a shell removed %s", keep)
	assert.Equal(t, "keep", string(b))
}

// TestWorkerMarkerCannotBeSet: env cannot set XK6_CONCURRENCY_WORKER (the
// bad-input table has those cases). Only that exact name is reserved: on
// Linux other spellings are other variables, which reach the worker as set
// while the marker stays the pool's pid.
func TestWorkerMarkerCannotBeSet(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed (scripts/deps.sh installs it)")
	}
	variants := map[string]string{
		"xk6_concurrency_worker":  "lower",
		"Xk6_Concurrency_Worker":  "mixed",
		"XK6_CONCURRENCY_WORKER_": "suffix",
		"XK6_CONCURRENCY_WORKERS": "plural",
		"_XK6_CONCURRENCY_WORKER": "prefix",
	}
	env, err := json.Marshal(variants)
	require.NoError(t, err)
	names := append(make([]string, 0, 1+len(variants)), ipc.WorkerEnv)
	for k := range variants {
		names = append(names, k)
	}
	namesJS, err := json.Marshal(names)
	require.NoError(t, err)
	argv, err := json.Marshal([]string{python, "-c", pyWorker})
	require.NoError(t, err)

	_, vu := newRootVU(t)
	vu.init(fmt.Sprintf(`
		const py = new concurrency.ProcessPool({ name: 'marker-py', workers: 1, command: %s, env: %s });
		const k6 = new concurrency.ProcessPool({ name: 'marker-k6', workers: 1, env: %s });
		globalThis.rejected = [];
		try { new concurrency.ProcessPool({ name: 'marker-bad', env: { XK6_CONCURRENCY_WORKER: String(1) } }); }
		catch (e) { rejected.push(e.name + ': ' + e.message); }
	`, argv, env, env))
	rejected := vu.rt.VU.Runtime().Get("rejected").Export().([]any)
	require.Len(t, rejected, 1)
	assert.Contains(t, rejected[0], `InvalidArgumentError: new ProcessPool(): option "env" cannot set XK6_CONCURRENCY_WORKER`)
	vu.toVU()
	got := vu.run(fmt.Sprintf(`
		globalThis.result = { env: py.runSync('env', { names: %s }), primes: k6.runSync('cpu.primes', { limit: 10 }) };
	`, namesJS)).Export().(map[string]any)
	seen := got["env"].(map[string]any)
	assert.Equal(t, strconv.Itoa(os.Getpid()), seen[ipc.WorkerEnv], "the marker is the pool's pid")
	for k, v := range variants {
		assert.Equal(t, v, seen[k], k)
	}
	assert.EqualValues(t, 4, got["primes"], "the default worker starts with those variables set")
}

// TestHugeSparseArray: an array that claims more items than a value may have
// is rejected from its length, before any item is read (a sparse array of
// 2^32-1 items used to stall the VU while a million holes were read).
func TestHugeSparseArray(t *testing.T) {
	t.Parallel()
	_, vu := newRootVU(t)
	vu.init(`const pool = new concurrency.ThreadPool({ name: 'sparse', workers: 1 });`)
	vu.toVU()
	got := vu.run(`
		globalThis.result = {};
		let reads = 0;
		const sparse = [];
		sparse.length = 4294967295;
		Object.defineProperty(sparse, 0, { get() { reads++; return 1; }, enumerable: true });
		try { pool.runSync('noop', { a: sparse }); result.how = 'returned'; }
		catch (e) { result.how = e.name + ': ' + e.message; }
		result.reads = reads;
		result.after = pool.runSync('cpu.primes', { limit: 10 });
	`).Export().(map[string]any)
	assert.Equal(t, "InvalidArgumentError: noop: params.a makes the value too large (over 1048576 items)", got["how"])
	assert.EqualValues(t, 0, got["reads"], "items read before the array was rejected")
	assert.EqualValues(t, 4, got["after"])
}

// TestOptionLimitsAreInclusive: values at the limits the bad-input table
// goes past are accepted.
func TestOptionLimitsAreInclusive(t *testing.T) {
	t.Parallel()
	root, vu := newRootVU(t)
	// cwd must exist: a directory whose path has exactly maxPathLen bytes.
	longDir := t.TempDir()
	for left := maxPathLen - len(longDir); left > 0; left = maxPathLen - len(longDir) {
		n := min(200, left-1)
		if left-n-1 == 1 { // a last part of 0 bytes: make this one shorter
			n--
		}
		longDir += "/" + strings.Repeat("d", n)
	}
	require.NoError(t, os.MkdirAll(longDir, 0o755))
	vu.init(fmt.Sprintf(`
		new concurrency.ThreadPool({ name: 'n'.repeat(200), workers: %d, maxQueue: %d, taskTimeout: 0 });
		new concurrency.ProcessPool({ name: 'limits', workers: 1, maxQueue: 0, maxTasksPerWorker: %d, concurrency: %d,
			startTimeout: 1e-6, cwd: %q, command: ['/' + 'p'.repeat(%d), 'a'.repeat(%d)],
			env: { A: 'v'.repeat(%d), ['K'.repeat(%d)]: '' } });
	`, pool.MaxWorkers, pool.MaxQueueLimit, math.MaxInt32, pool.MaxConcurrency,
		longDir, maxArgLen-1, maxArgLen, maxArgLen-2, maxArgLen-1))
	assert.Len(t, root.pools, 2)
}
