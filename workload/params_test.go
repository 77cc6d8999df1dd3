package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want time.Duration
	}{
		{"10ms", 10 * time.Millisecond},
		{"1.5s", 1500 * time.Millisecond},
		{"2m", 2 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"250us", 250 * time.Microsecond},
		{"100", 100 * time.Millisecond},
		{"0.5", 500 * time.Microsecond},
		{"0", 0},
		{"0s", 0},
		{100.0, 100 * time.Millisecond},
		{0.5, 500 * time.Microsecond},
		{0.0, 0},
		{int64(7), 7 * time.Millisecond},
		{42, 42 * time.Millisecond},
		{json.Number("250"), 250 * time.Millisecond},
		{3 * time.Second, 3 * time.Second},
		{86400000.0, 24 * time.Hour},
	} {
		got, err := ParseDuration(tc.in)
		if assert.NoError(t, err, "ParseDuration(%#v)", tc.in) {
			assert.Equal(t, tc.want, got, "ParseDuration(%#v)", tc.in)
		}
	}
	for _, in := range []any{
		-1.0, -0.001, "-1", "-1s", "-1ms", math.NaN(), math.Inf(1), math.Inf(-1), "NaN", "Inf", "-Inf", "Infinity",
		"abc", "", "10 ms", "1.5.s", "ms", true, false, nil, 1e300, "1e300", 1e13, "3000000h",
		map[string]any{},
		[]any{10.0},
		json.Number("x"), -time.Second,
	} {
		got, err := ParseDuration(in)
		assert.Error(t, err, "ParseDuration(%#v) = %v, want an error", in, got)
	}
}

// bindCase is one value for one param, or a set of params.
type bindCase struct {
	workload string
	param    string // the param the error must name
	params   map[string]any
}

// withBase adds the params a workload requires, so that a case is about one param.
func withBase(workload string, params map[string]any) map[string]any {
	out := map[string]any{}
	if workload == "io.http" {
		out["url"] = "http://127.0.0.1/"
	}
	maps.Copy(out, params)
	return out
}

// badValues are values that no param of this type and bounds accepts.
func badValues(p Param) []any {
	common := []any{nil, map[string]any{"a": 1.0}, []any{1.0}, []any{}, struct{}{}}
	switch p.Type {
	case Int:
		bad := append(slices.Clone(common), "5", "", true, false, math.NaN(), math.Inf(1), math.Inf(-1),
			1.5, p.Min+0.5, -1.0, -1e300, 1e300, p.Max+1, p.Min-1, float64(math.MaxInt64), math.SmallestNonzeroFloat64)
		if p.Min > 0 {
			bad = append(bad, 0.0)
		}
		return bad
	case Duration:
		bad := append(slices.Clone(common), "abc", "10 ms", true, math.NaN(), math.Inf(1), math.Inf(-1),
			-1.0, "-1s", "-1", 1e300, "1e300", p.Max+1, fmt.Sprintf("%vms", p.Max+1), "25h", "3000000h")
		if p.Min > 0 {
			bad = append(bad, 0.0, "0s", p.Min/2)
		}
		return bad
	case String:
		maxLen := p.Limit()
		bad := append(slices.Clone(common), 5.0, 0.0, true, strings.Repeat("x", maxLen+1))
		if len(p.Enum) > 0 {
			flipped := strings.ToLower(p.Enum[0])
			if flipped == p.Enum[0] {
				flipped = strings.ToUpper(p.Enum[0])
			}
			bad = append(bad, "", "nope", flipped, " "+p.Enum[0], p.Enum[0]+"\x00")
		}
		return bad
	default:
		panic("badValues: extend for type " + p.Type)
	}
}

// goodValues are values that a param accepts, as JavaScript and JSON give them.
func goodValues(p Param) []any {
	switch p.Type {
	case Int:
		return []any{p.Min, p.Max, math.Floor((p.Min + p.Max) / 2), json.Number(fmt.Sprint(int64(p.Min))), int64(p.Max)}
	case Duration:
		return []any{p.Min, p.Max, fmt.Sprintf("%vms", p.Min), time.Duration(p.Max * float64(time.Millisecond)).String(), "1s", 1000.0}
	case String:
		if len(p.Enum) > 0 {
			vals := make([]any, len(p.Enum))
			for i, v := range p.Enum {
				vals[i] = v
			}
			return vals
		}
		if p.Name == "url" {
			return []any{"http://example.com/", "https://example.com:8443/a?b=c"}
		}
		return []any{"", "hello", strings.Repeat("y", p.MaxLen)}
	default:
		panic("goodValues: extend for type " + p.Type)
	}
}

// TestBindRejects binds bad values to every param of every built-in: each
// must be an InvalidArgumentError that names the workload and the param.
func TestBindRejects(t *testing.T) {
	t.Parallel()
	var cases []bindCase
	for _, spec := range Default.List() {
		for _, p := range spec.Params {
			for _, v := range badValues(p) {
				cases = append(cases, bindCase{spec.Name, p.Name, withBase(spec.Name, map[string]any{p.Name: v})})
			}
			if p.Required {
				params := withBase(spec.Name, nil)
				delete(params, p.Name)
				cases = append(cases, bindCase{spec.Name, p.Name, params})
			}
		}
		for _, key := range []string{"path", "dir", "file", "extra", "", "LIMIT", "__proto__"} {
			cases = append(cases, bindCase{spec.Name, key, withBase(spec.Name, map[string]any{key: 1.0})})
		}
	}
	cases = append(cases,
		bindCase{"io.http", "url", map[string]any{"url": "ftp://example.com/"}},
		bindCase{"io.http", "url", map[string]any{"url": "file:///etc/passwd"}},
		bindCase{"io.http", "timeout", map[string]any{"url": "http://example.com/", "timeout": "0ms"}},
		bindCase{"io.http", "method", map[string]any{"url": "http://example.com/", "method": "CONNECT"}},
		bindCase{"io.http", "method", map[string]any{"url": "http://example.com/", "method": "TRACE"}},
		bindCase{"io.file", "op", map[string]any{"op": "delete"}},
		bindCase{"io.file", "bytes", map[string]any{"bytes": float64(256<<20 + 1)}},
		bindCase{"cpu.fib", "n", map[string]any{"n": 79.0}},
		bindCase{"cpu.primes", "limit", map[string]any{"limit": 1.0}},
		bindCase{"cpu.primes", "limit", map[string]any{"limit": 0.0}},
		bindCase{"cpu.primes", "limit", map[string]any{"limit": 2147483648.0}},
		bindCase{"cpu.sha256", "rounds", map[string]any{"rounds": 0.0}},
		bindCase{"cpu.sha256", "bytes", map[string]any{"bytes": float64(64<<20 + 1)}},
		bindCase{"cpu.matmul", "n", map[string]any{"n": 0.0}},
		bindCase{"cpu.matmul", "n", map[string]any{"n": 1025.0}},
		bindCase{"cpu.spin", "duration", map[string]any{"duration": "24h0m0.001s"}},
		bindCase{"io.sleep", "duration", map[string]any{"duration": "-0.5ms"}},
	)
	for _, tc := range cases {
		spec, err := Default.Lookup(tc.workload)
		require.NoError(t, err)
		_, err = spec.Bind(tc.params)
		var te *taskerr.Error
		if assert.ErrorAs(t, err, &te, "%s.Bind(%.80v), want a *taskerr.Error", tc.workload, tc.params) &&
			// unwrapped, as JavaScript needs it
			assert.Same(t, te, err, "%s.Bind(%.80v) = %v, want a *taskerr.Error itself, not wrapped", tc.workload, tc.params, err) {
			assert.Equal(t, taskerr.InvalidArgument, te.Code, "%s.Bind(%.80v): code", tc.workload, tc.params)
			assert.True(t, strings.HasPrefix(te.Message, tc.workload+": "),
				"%s.Bind(%.80v): message %q should name the workload", tc.workload, tc.params, te.Message)
			assert.Contains(t, te.Message, fmt.Sprintf("%q", tc.param),
				"%s.Bind(%.80v): the message should name the param %q", tc.workload, tc.params, tc.param)
			assert.LessOrEqual(t, len(te.Message), 300, "%s.Bind: message of %d bytes: %.100q...", tc.workload, len(te.Message), te.Message)
		}
	}
	t.Logf("%d bad params rejected", len(cases))
}

// TestBindAccepts binds good values to every param of every built-in.
func TestBindAccepts(t *testing.T) {
	t.Parallel()
	n := 0
	for _, spec := range Default.List() {
		for _, p := range spec.Params {
			for _, v := range goodValues(p) {
				n++
				params := withBase(spec.Name, map[string]any{p.Name: v})
				args, err := spec.Bind(params)
				if assert.NoError(t, err, "%s.Bind({%s: %.40v})", spec.Name, p.Name, v) {
					assert.True(t, args.Has(p.Name), "%s.Bind({%s: %.40v}): Has is false", spec.Name, p.Name, v)
					assert.Len(t, args.Raw(), len(params), "%s: Raw() = %v, want the params given", spec.Name, args.Raw())
					switch p.Type {
					case Int:
						want, _ := p.Value(v)
						assert.Equal(t, want, args.Int(p.Name), "%s.Bind({%s: %v}): Int", spec.Name, p.Name, v)
					case Duration:
						want, _ := ParseDuration(v)
						assert.Equal(t, want, args.Duration(p.Name), "%s.Bind({%s: %v}): Duration", spec.Name, p.Name, v)
					case String:
						assert.Equal(t, v, args.String(p.Name), "%s.Bind({%s: %.40v}): String", spec.Name, p.Name, v)
					default: // no built-in has a Number or Bool param
					}
				}
			}
		}
	}
	t.Logf("%d good params bound", n)
}

// TestBindTypes covers the param types and shapes the built-ins do not use.
func TestBindTypes(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	err := r.Add("types", CPU, func(context.Context, Args) (any, error) { return nil, nil },
		WithParams(
			Param{Name: "i", Type: Int, Doc: "unbounded int"},
			Param{Name: "f", Type: Number, Doc: "unbounded number"},
			Param{Name: "g", Type: Number, Doc: "bounded number", Min: -1, Max: 1},
			Param{Name: "b", Type: Bool, Doc: "a flag", Default: true},
			Param{Name: "d", Type: Duration, Doc: "unbounded duration"},
			Param{Name: "s", Type: String, Doc: "free text"},
			Param{Name: "even", Type: Int, Doc: "an even number", Check: func(v any) error {
				if v.(int64)%2 != 0 {
					return errors.New("must be even")
				}
				return nil
			}},
		))
	require.NoError(t, err)
	spec, _ := r.Lookup("types")

	_, err = spec.Bind(map[string]any{
		"i": float64(1 << 53), "f": 1e300, "g": -0.25, "b": false, "d": "3000000h", "s": "", "even": -4.0,
	})
	require.Error(t, err, "a duration of 3000000h bound")
	args, err := spec.Bind(map[string]any{
		"i": -float64(1 << 53), "f": -1e300, "g": 0.5, "b": false, "d": "2540400h", "s": "x", "even": -4.0,
	})
	require.NoError(t, err)
	assert.Equal(t, int64(-1<<53), args.Int("i"), "bound i")
	assert.InDelta(t, -1e300, args.Float("f"), 0, "bound f")
	assert.InDelta(t, 0.5, args.Float("g"), 0, "bound g")
	assert.False(t, args.Bool("b"), "bound b")
	assert.Equal(t, 2540400*time.Hour, args.Duration("d"), "bound d")
	assert.Equal(t, "x", args.String("s"), "bound s")
	assert.Equal(t, int64(-4), args.Int("even"), "bound even")
	assert.InDelta(t, -(1 << 53), args.Float("i"), 0, "bound i, as a float")
	defaults, _ := spec.Bind(nil)
	assert.True(t, defaults.Bool("b"), "defaults: b")
	assert.Zero(t, defaults.Int("i"), "defaults: i")
	assert.Empty(t, defaults.String("s"), "defaults: s")
	assert.False(t, defaults.Has("b"), "defaults: Has(b)")
	for _, tc := range []struct {
		key string
		val any
	}{
		{"i", 1e300},
		{"i", float64(1<<53) * 2},
		{"i", -1e19},
		{"i", 0.5},
		{"f", math.NaN()},
		{"f", math.Inf(1)},
		{"f", "1"},
		{"g", 1.5},
		{"g", -2.0},
		{"b", "true"},
		{"b", 1.0},
		{"b", nil},
		{"d", -1.0},
		{"d", math.Inf(1)},
		{"s", 5.0},
		{"s", strings.Repeat("s", (&Param{}).Limit()+1)},
		{"even", 3.0},
		{"even", 2.5},
	} {
		_, err := spec.Bind(map[string]any{tc.key: tc.val})
		if assert.Equal(t, taskerr.InvalidArgument, taskerr.CodeOf(err), "Bind({%s: %.40v}) = %v, want an InvalidArgumentError", tc.key, tc.val, err) {
			assert.ErrorContains(t, err, `"`+tc.key+`"`, "Bind({%s: %.40v}): the error should name it", tc.key, tc.val)
		}
	}
	_, err = spec.Bind(map[string]any{"even": 3.0})
	assert.EqualError(t, err, `types: param "even" must be even, got 3`, "Check's error")
}
