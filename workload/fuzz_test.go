package workload

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// FuzzBind binds arbitrary JSON objects against every registered workload:
// Bind never panics; what it accepts is within every param's declaration,
// and what it rejects is an InvalidArgumentError naming the workload.
func FuzzBind(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"limit":20000}`, `{"limit":2.5}`, `{"limit":"10"}`, `{"limit":-1}`, `{"limit":1e308}`,
		`{"n":78}`, `{"n":79}`, `{"bytes":0,"rounds":1}`, `{"bytes":67108865}`, `{"rounds":0}`,
		`{"duration":"10ms"}`, `{"duration":"-1s"}`, `{"duration":86400001}`, `{"duration":"24h0m0.001s"}`,
		`{"duration":"1e3"}`, `{"duration":null}`, `{"duration":[1]}`,
		`{"url":"http://127.0.0.1:1/","method":"GET","timeout":"1s"}`, `{"url":"ftp://x"}`, `{"url":""}`,
		`{"url":"http://x/","method":"get"}`, `{"url":"http://x/","timeout":0}`, `{"url":"http://x/","body":"x"}`,
		`{"op":"read","bytes":4096}`, `{"op":"delete"}`, `{"path":"/etc/passwd"}`, `{"op":"read","path":"../x"}`,
		`{"limit":9007199254740993}`, `{"limit":1e-400}`, `{"limit":-0}`, `{"":1}`, `{"limit":{"limit":1}}`,
		`{"n":64.0}`, `{"n":6.4e1}`, `{"n":"64"}`, `{"bytes":true}`,
	} {
		f.Add([]byte(s))
	}
	specs := Default.List()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(bytes.NewReader(data))
			if useNumber {
				dec.UseNumber() // json.Number, as toFloat also takes
			}
			var raw map[string]any
			if dec.Decode(&raw) != nil || raw == nil {
				return
			}
			for _, spec := range specs {
				args, err := spec.Bind(raw)
				if err != nil {
					var te *taskerr.Error
					require.ErrorAs(t, err, &te, "%s.Bind(%s) = %v (%T), want an InvalidArgumentError", spec.Name, data, err, err)
					require.Equal(t, taskerr.InvalidArgument, te.Code, "%s.Bind(%s) = %v, want an InvalidArgumentError", spec.Name, data, err)
					require.True(t, strings.HasPrefix(te.Message, spec.Name+": "), "%s.Bind(%s): message %q does not name the workload", spec.Name, data, te.Message)
					continue
				}
				checkBound(t, spec, raw, args, data)
			}
		}
	})
}

// checkBound checks the Args that Bind made from raw.
func checkBound(t *testing.T, spec *Spec, raw map[string]any, args Args, data []byte) {
	t.Helper()
	if spec.Raw {
		return
	}
	for key := range raw {
		require.True(t, slices.ContainsFunc(spec.Params, func(p Param) bool { return p.Name == key }),
			"%s.Bind(%s) accepted the unknown param %q", spec.Name, data, key)
	}
	inBounds := func(p Param, f float64) {
		require.False(t, math.IsNaN(f), "%s.Bind(%s): %s = %v", spec.Name, data, p.Name, f)
		require.False(t, math.IsInf(f, 0), "%s.Bind(%s): %s = %v", spec.Name, data, p.Name, f)
		if p.Min != 0 || p.Max != 0 {
			require.GreaterOrEqual(t, f, p.Min, "%s.Bind(%s): %s = %v, outside %v..%v", spec.Name, data, p.Name, f, p.Min, p.Max)
			require.LessOrEqual(t, f, p.Max, "%s.Bind(%s): %s = %v, outside %v..%v", spec.Name, data, p.Name, f, p.Min, p.Max)
		}
	}
	for _, p := range spec.Params {
		_, given := raw[p.Name]
		require.Equal(t, given, args.Has(p.Name), "%s.Bind(%s): Has(%s), given %v", spec.Name, data, p.Name, given)
		if p.Required {
			require.True(t, given, "%s.Bind(%s) accepted it without the required %s", spec.Name, data, p.Name)
		}
		var goValue any
		switch p.Type {
		case Int:
			n := args.Int(p.Name)
			f := args.Float(p.Name)
			require.InDelta(t, float64(n), f, 0, "%s.Bind(%s): %s = %d, as a float %v", spec.Name, data, p.Name, n, f)
			require.InDelta(t, math.Trunc(f), f, 0, "%s.Bind(%s): %s = %d, as a float %v", spec.Name, data, p.Name, n, f)
			require.LessOrEqual(t, math.Abs(f), float64(1<<53), "%s.Bind(%s): %s = %d, as a float %v", spec.Name, data, p.Name, n, f)
			inBounds(p, float64(n))
			goValue = n
		case Number:
			f := args.Float(p.Name)
			inBounds(p, f)
			goValue = f
		case Duration:
			d := args.Duration(p.Name)
			require.GreaterOrEqual(t, d, time.Duration(0), "%s.Bind(%s): %s = %v", spec.Name, data, p.Name, d)
			inBounds(p, float64(d)/float64(time.Millisecond))
			goValue = d
		case String:
			s := args.String(p.Name)
			require.LessOrEqual(t, len(s), p.Limit(), "%s.Bind(%s): %s = %.40q, not a valid value", spec.Name, data, p.Name, s)
			if len(p.Enum) > 0 {
				require.Contains(t, p.Enum, s, "%s.Bind(%s): %s = %.40q, not a valid value", spec.Name, data, p.Name, s)
			}
			goValue = s
		case Bool:
			goValue = args.Bool(p.Name)
		default:
			require.FailNow(t, "an untested param type", "%s: param %s has type %q", spec.Name, p.Name, p.Type)
		}
		if p.Check != nil && (given || p.Default != nil) {
			require.NoError(t, p.Check(goValue), "%s.Bind(%s): %s = %v fails its check", spec.Name, data, p.Name, goValue)
		}
		if !given && p.Default != nil {
			def, _ := p.Value(p.Default)
			require.Equal(t, def, goValue, "%s.Bind(%s): %s, want its default", spec.Name, data, p.Name)
		}
	}
}

// FuzzParseDuration parses arbitrary strings and numbers as durations: it
// never panics, a duration it returns is not negative, and the duration's
// String() parses back to it.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{
		"10ms", "1.5s", "2m", "1h30m", "0", "0s", "-0", "-1ms", "1e3", "0x10", "1_000",
		"NaN", "Inf", "-Inf", "+5", " 5", "5 ", "", "ms", "9223372036854775807ns", "9223372036854775808ns",
		"2562047h47m16.854775807s", "9999999999h", "1e400", ".5", "5.", "1µs", "1us", "1\u00b5s", "300000000000000",
	} {
		f.Add(s, 0.0)
	}
	for _, x := range []float64{
		0, math.Copysign(0, -1), 1, 1.5, 1e-7, 1e-300, 9.2e12, 9.223372036854775e12, 1e13, 1e300,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -1, math.Inf(1), math.Inf(-1), math.NaN(),
	} {
		f.Add("", x)
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		for _, v := range []any{s, x, json.Number(s), time.Duration(int64(x))} {
			d, err := ParseDuration(v)
			if err != nil {
				require.NotEmpty(t, err.Error(), "ParseDuration(%#v): an empty error", v)
				continue
			}
			require.GreaterOrEqual(t, d, time.Duration(0), "ParseDuration(%#v) = %v, a negative duration", v, d)
			back, err := ParseDuration(d.String())
			require.NoError(t, err, "ParseDuration(%#v) = %v (%d ns), whose String() does not parse", v, d, int64(d))
			require.Equal(t, d, back, "ParseDuration(%#v) = %v (%d ns), whose String() parses to %v (%d ns)", v, d, int64(d), back, int64(back))
			if f, ok := v.(float64); ok {
				// A number is milliseconds, to within a nanosecond.
				want := f * float64(time.Millisecond)
				require.InDelta(t, want, float64(d), 1+want*1e-15, "ParseDuration(%v) = %d ns, want about %v ns", f, int64(d), want)
			}
		}
	})
}
