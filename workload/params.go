package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// Type is the type of a param's value.
type Type string

// The param types. Numbers arrive as float64 (from JavaScript or JSON); an Int
// must hold an integral value. A Duration is a Go/k6 duration string ("10ms",
// "1.5s") or a number of milliseconds.
const (
	Int      Type = "int"
	Number   Type = "number"
	String   Type = "string"
	Bool     Type = "bool"
	Duration Type = "duration"
)

// Param declares one param of a workload. Min and Max bound Int and Number
// values, and Duration values in milliseconds; both zero means unbounded.
// Default is the value used when the param is not given, in the param's Go
// type (int64, float64, string, bool, time.Duration).
type Param struct {
	Name     string
	Type     Type
	Doc      string
	Required bool
	Default  any
	Min, Max float64
	// Enum lists the allowed values of a String param.
	Enum []string
	// MaxLen bounds the length of a String param (0: 1 MiB).
	MaxLen int
	// Check, when set, further validates a value that has the param's type and
	// is within its bounds. It gets the value in the param's Go type (as for
	// Default) and its error says what a valid value is, as in "must be an
	// http or https URL"; Bind reports it as InvalidArgument naming the param.
	Check func(v any) error
}

const defaultMaxLen = 1 << 20

// maxExactInt is the largest integer that a float64 (a JavaScript number)
// holds exactly; an Int beyond it is not a usable int64.
const maxExactInt = 1 << 53

// ParamInfo is a param's entry in the catalogue.
type ParamInfo struct {
	Type        Type     `json:"type"`
	Description string   `json:"description"`
	Required    bool     `json:"required"`
	Default     any      `json:"default,omitempty"`
	Min         any      `json:"min,omitempty"`
	Max         any      `json:"max,omitempty"`
	Values      []string `json:"values,omitempty"`
}

func (p Param) info() ParamInfo {
	info := ParamInfo{Type: p.Type, Description: p.Doc, Required: p.Required, Values: p.Enum}
	if p.Default != nil {
		info.Default = p.Default
		if d, ok := p.Default.(time.Duration); ok {
			info.Default = d.String()
		}
	}
	if p.Min != 0 || p.Max != 0 {
		info.Min, info.Max = p.Min, p.Max
		if p.Type == Duration {
			info.Min, info.Max = msDuration(p.Min).String(), msDuration(p.Max).String()
		}
	}
	return info
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// checkParams catches registration mistakes: duplicate names, unknown types,
// and defaults of the wrong Go type.
func (s *Spec) checkParams() error {
	seen := make(map[string]bool, len(s.Params))
	for _, p := range s.Params {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("workload %s: param name %q is empty or repeated", s.Name, p.Name)
		}
		seen[p.Name] = true
		if p.Default == nil {
			if err := checkType(p.Type); err != nil {
				return fmt.Errorf("workload %s: param %s: %w", s.Name, p.Name, err)
			}
			continue
		}
		if _, err := p.convert(p.Default); err != nil {
			return fmt.Errorf("workload %s: param %s: default %v: %w", s.Name, p.Name, p.Default, err)
		}
	}
	return nil
}

// value holds one bound param without boxing it in an interface.
type value struct {
	num float64 // Int, Number (Int values are integral), Duration in nanoseconds
	str string
	set bool // given by the caller rather than defaulted
}

// Args are a task's validated params, ready for the workload's function.
// Accessors panic when asked for a param the workload did not declare, or as
// another type: that is a bug in the workload, and Spec.Run turns the panic
// into a Workload error.
type Args struct {
	spec *Spec
	vals []value
	raw  map[string]any
}

// Bind validates a task's params against the workload's declaration, applies
// defaults and rejects unknown keys. Errors are InvalidArgument and name the
// workload, the param and what was wrong with it.
func (s *Spec) Bind(raw map[string]any) (Args, error) {
	args := Args{spec: s, raw: raw}
	if s.Raw {
		return args, nil
	}
	for key := range raw {
		if s.param(key) < 0 {
			return Args{}, s.invalid("unknown param %q (%s)", key, s.paramList())
		}
	}
	args.vals = make([]value, len(s.Params))
	for i, p := range s.Params {
		given, ok := raw[p.Name]
		if !ok {
			if p.Required {
				return Args{}, s.invalid("param %q is required (%s)", p.Name, p.describe())
			}
			if p.Default != nil {
				args.vals[i], _ = p.convert(p.Default)
				args.vals[i].set = false
			}
			continue
		}
		v, err := p.convert(given)
		if err != nil {
			return Args{}, s.invalid("param %q %s, got %s", p.Name, err.Error(), taskerr.Describe(given))
		}
		v.set = true
		args.vals[i] = v
	}
	return args, nil
}

func (s *Spec) invalid(format string, a ...any) error {
	return taskerr.New(taskerr.InvalidArgument, s.Name+": "+format, a...)
}

func (s *Spec) param(name string) int {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return i
		}
	}
	return -1
}

func (s *Spec) paramList() string {
	if len(s.Params) == 0 {
		return "it takes no params"
	}
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	slices.Sort(names)
	return "params: " + strings.Join(names, ", ")
}

// describe says what a valid value looks like, as the tail of an error.
func (p Param) describe() string {
	switch p.Type {
	case Int, Number:
		what := map[Type]string{Int: "an integer", Number: "a finite number"}[p.Type]
		if p.Min != 0 || p.Max != 0 {
			return fmt.Sprintf("must be %s from %s to %s", what, taskerr.Describe(p.Min), taskerr.Describe(p.Max))
		}
		if p.Type == Int {
			return "must be an integer of magnitude at most 2^53"
		}
		return "must be " + what
	case Duration:
		if p.Min != 0 || p.Max != 0 {
			return fmt.Sprintf("must be a duration (like \"10ms\", or a number of ms) from %s to %s",
				msDuration(p.Min), msDuration(p.Max))
		}
		return "must be a duration (like \"10ms\", or a number of ms)"
	case String:
		if len(p.Enum) > 0 {
			return fmt.Sprintf("must be one of %q", p.Enum)
		}
		if p.MaxLen > 0 {
			return fmt.Sprintf("must be a string of at most %d bytes", p.MaxLen)
		}
		return "must be a string"
	default:
		return "must be a " + string(p.Type)
	}
}

type paramError string

func (e paramError) Error() string { return string(e) }

// convert turns a caller's value (from JavaScript, JSON or Go) into a bound
// value, and applies the param's Check.
func (p Param) convert(v any) (value, error) {
	val, err := p.convertType(v)
	if errors.Is(err, errBadValue) {
		// Described only now: Bind is on every task's path and must not
		// format a message for a good value.
		return value{}, paramError(p.describe())
	}
	if err != nil || p.Check == nil {
		return val, err
	}
	if err := p.Check(p.goValue(val)); err != nil {
		return value{}, paramError(err.Error())
	}
	return val, nil
}

// goValue is a bound value in the param's Go type.
func (p Param) goValue(v value) any {
	switch p.Type {
	case Int:
		return int64(v.num)
	case String:
		return v.str
	case Bool:
		return v.num != 0
	case Duration:
		return time.Duration(v.num)
	default: // Number
		return v.num
	}
}

// errBadValue is convertType's word for a value that does not fit the param.
const errBadValue = paramError("bad value")

func (p Param) convertType(v any) (value, error) {
	const bad = errBadValue
	switch p.Type {
	case Int, Number:
		return p.convertNumber(v)
	case Duration:
		d, err := ParseDuration(v)
		if err != nil {
			return value{}, bad
		}
		ms := float64(d) / float64(time.Millisecond)
		if (p.Min != 0 || p.Max != 0) && (ms < p.Min || ms > p.Max) {
			return value{}, bad
		}
		return value{num: float64(d)}, nil
	case String:
		s, ok := v.(string)
		maxLen := p.MaxLen
		if maxLen == 0 {
			maxLen = defaultMaxLen
		}
		if !ok || len(s) > maxLen || (len(p.Enum) > 0 && !slices.Contains(p.Enum, s)) {
			return value{}, bad
		}
		return value{str: s}, nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return value{}, bad
		}
		if b {
			return value{num: 1}, nil
		}
		return value{}, nil
	}
	return value{}, paramError("has unknown type " + string(p.Type))
}

// convertNumber is convertType for Int and Number.
func (p Param) convertNumber(v any) (value, error) {
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) ||
		(p.Type == Int && (f != math.Trunc(f) || math.Abs(f) > maxExactInt)) {
		return value{}, errBadValue
	}
	if (p.Min != 0 || p.Max != 0) && (f < p.Min || f > p.Max) {
		return value{}, errBadValue
	}
	return value{num: f}, nil
}

func checkType(t Type) error {
	switch t {
	case Int, Number, String, Bool, Duration:
		return nil
	}
	return fmt.Errorf("unknown type %q", t)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case time.Duration:
		return float64(n), true
	}
	return 0, false
}

// ParseDuration reads a duration the way k6 options do: a string such as
// "10ms", "1.5s" or "2m" (Go syntax), or a number, or numeric string, of
// milliseconds. Negative, non-finite and overflowing durations are errors.
func ParseDuration(v any) (time.Duration, error) {
	var ms float64
	switch x := v.(type) {
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			ms = f
			break
		}
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (like \"10ms\" or \"1.5s\")", x)
		}
		if d < 0 {
			return 0, fmt.Errorf("%q is negative", x)
		}
		return d, nil
	default:
		f, ok := toFloat(v)
		if !ok {
			return 0, fmt.Errorf("%s is not a duration", taskerr.Describe(v))
		}
		if _, isDur := v.(time.Duration); isDur {
			ms = f / float64(time.Millisecond)
		} else {
			ms = f
		}
	}
	if math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 || ms*float64(time.Millisecond) >= math.MaxInt64 {
		return 0, fmt.Errorf("%s ms is not a duration from 0 to 292 years", taskerr.Describe(ms))
	}
	return msDuration(ms), nil
}

func (a Args) at(name string, want ...Type) value {
	i := a.spec.param(name)
	if i < 0 || a.vals == nil {
		panic(fmt.Sprintf("workload %s reads param %q that it does not declare", a.spec.Name, name))
	}
	if !slices.Contains(want, a.spec.Params[i].Type) {
		panic(fmt.Sprintf("workload %s reads param %q as %s, but it is declared %s",
			a.spec.Name, name, typeNames(want), a.spec.Params[i].Type))
	}
	return a.vals[i]
}

// typeNames formats types as "[int number]" without letting ts escape, so
// that the accessors' variadic argument is not allocated on every call.
func typeNames(ts []Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// Int returns an Int param.
func (a Args) Int(name string) int64 { return int64(a.at(name, Int).num) }

// Float returns a Number or Int param.
func (a Args) Float(name string) float64 { return a.at(name, Number, Int).num }

// String returns a String param.
func (a Args) String(name string) string { return a.at(name, String).str }

// Bool returns a Bool param.
func (a Args) Bool(name string) bool { return a.at(name, Bool).num != 0 }

// Duration returns a Duration param.
func (a Args) Duration(name string) time.Duration { return time.Duration(a.at(name, Duration).num) }

// Has reports whether the caller gave the param (rather than it defaulting).
func (a Args) Has(name string) bool {
	i := a.spec.param(name)
	return i >= 0 && a.vals != nil && a.vals[i].set
}

// Raw returns the params as the caller gave them.
func (a Args) Raw() map[string]any { return a.raw }
