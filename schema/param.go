// Package schema declares what a script may pass in, and binds it: a
// workload's params, a pool's options, a call's opts, a report's options.
// A Schema is a list of Params, each with a type and its limits; Bind checks
// an object (decoded from JavaScript or JSON) against it, applies defaults,
// rejects unknown keys and returns the values in Go types. Every error is an
// InvalidArgument *taskerr.Error that names the schema's owner, the param
// and what a valid value is, as in
//
//	cpu.primes: param "limit" must be an integer from 2 to 2147483647, got -1
//
// The same declarations drive the bad-input tests and the docs tests, so a
// limit is written once. The package knows nothing of k6 or of pools; package
// workload re-exports Param and its types for the workloads' authors.
package schema

import (
	"encoding/json"
	"fmt"
	"math"
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
	// Strings is an array of strings, such as an argv.
	Strings Type = "strings"
	// StringMap is an object of string values, such as an environment or
	// k6 tags.
	StringMap Type = "stringmap"
	// Object is an object: with Fields, bound by its own schema (Args);
	// without, any JSON object (map[string]any).
	Object Type = "object"
	// Any is a value that the schema does not read: Parse converts and
	// checks it, or, without Parse, it is passed through as given (a
	// JavaScript-only value such as an AbortSignal, read by the JS face).
	Any Type = "any"
)

// Param declares one param (or option) of a schema. Min and Max bound Int and
// Number values, and Duration values in milliseconds; both zero means
// unbounded. Default is the value used when the param is not given, in the
// param's Go type (int64, float64, string, bool, time.Duration).
type Param struct {
	Name     string
	Type     Type
	Doc      string
	Required bool
	Default  any
	Min, Max float64
	// Enum lists the allowed values of a String param.
	Enum []string
	// MaxLen bounds the length of a String param, and of each item of a
	// Strings param (0: 1 MiB).
	MaxLen int
	// NonEmpty refuses "" for a String param, and [] for a Strings param.
	NonEmpty bool
	// NoNUL refuses a NUL byte in a String, in an item of a Strings and in a
	// value of a StringMap: such strings become C strings (argv, environment,
	// paths), which end at the first NUL.
	NoNUL bool
	// Positive refuses zero for a Duration or a Number.
	Positive bool
	// Scalars lets a StringMap take numbers and booleans too, converted to
	// their JavaScript string form (10, 1.5, true), as a shell would have them.
	Scalars bool
	// Nullable takes null as absent.
	Nullable bool
	// Fields is the schema of an Object param's keys.
	Fields []Param
	// Want, when set, is what errors say a valid value is, in place of the
	// text made from the type and limits ("must be a directory path").
	Want string
	// Parse converts and checks an Any param's value. Its error says what a
	// valid value is ("must be ..."), or what is wrong.
	Parse func(v any) (any, error)
	// Check, when set, further validates a value that has the param's type and
	// is within its bounds. It gets the value in the param's Go type (as for
	// Default; []string for Strings, map[string]string for StringMap) and its
	// error says what a valid value is, as in "must be an http or https URL",
	// or what is wrong, as in "cannot set X"; Bind reports it as
	// InvalidArgument naming the param.
	Check func(v any) error
}

const defaultMaxLen = 1 << 20

// maxExactInt is the largest integer that a float64 (a JavaScript number)
// holds exactly; an Int beyond it is not a usable int64.
const maxExactInt = 1 << 53

// ParamInfo is a param's entry in a catalogue.
type ParamInfo struct {
	Type        Type     `json:"type"`
	Description string   `json:"description"`
	Required    bool     `json:"required"`
	Default     any      `json:"default,omitempty"`
	Min         any      `json:"min,omitempty"`
	Max         any      `json:"max,omitempty"`
	Values      []string `json:"values,omitempty"`
}

// Info describes the param for a catalogue.
func (p *Param) Info() ParamInfo {
	info := ParamInfo{Type: p.Type, Description: p.Doc, Required: p.Required, Values: p.Enum}
	if p.Default != nil {
		info.Default = p.Default
		if d, ok := p.Default.(time.Duration); ok {
			info.Default = d.String()
		}
	}
	if p.Bounded() {
		info.Min, info.Max = p.Min, p.Max
		if p.Type == Duration {
			info.Min, info.Max = msDuration(p.Min).String(), msDuration(p.Max).String()
		}
	}
	return info
}

// Bounded reports whether Min and Max bound the param.
func (p *Param) Bounded() bool { return p.Min != 0 || p.Max != 0 }

// Limit is the longest valid string of a String param, or item of a Strings.
func (p *Param) Limit() int {
	if p.MaxLen == 0 {
		return defaultMaxLen
	}
	return p.MaxLen
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// Describe says what a valid value looks like, as the tail of an error:
// "must be an integer from 1 to 1024".
func (p *Param) Describe() string {
	if p.Want != "" {
		return p.Want
	}
	switch p.Type {
	case Int, Number:
		what := map[Type]string{Int: "an integer", Number: "a finite number"}[p.Type]
		if p.Positive {
			what = map[Type]string{Int: "a positive integer", Number: "a positive number"}[p.Type]
		}
		if p.Bounded() {
			return fmt.Sprintf("must be %s from %s to %s", what, taskerr.Describe(p.Min), taskerr.Describe(p.Max))
		}
		if p.Type == Int {
			return "must be " + what + " of magnitude at most 2^53"
		}
		return "must be " + what
	case Duration:
		what := "a duration"
		if p.Positive {
			what = "a positive duration"
		}
		if p.Bounded() {
			return fmt.Sprintf("must be %s (like \"10ms\", or a number of ms) from %s to %s",
				what, msDuration(p.Min), msDuration(p.Max))
		}
		return "must be " + what + " (like \"10ms\", or a number of ms)"
	case String:
		return p.describeString()
	case Bool:
		return "must be true or false"
	case Strings:
		if p.NonEmpty {
			return "must be a non-empty array of strings"
		}
		return "must be an array of strings"
	case StringMap:
		if p.Scalars {
			return "must be an object of string, number or boolean values"
		}
		return "must be an object of string values"
	case Object:
		if len(p.Fields) > 0 {
			return "must be an object { " + fieldList(p.Fields) + " }"
		}
		return "must be an object"
	case Any:
	}
	return "must be a " + string(p.Type)
}

func (p *Param) describeString() string {
	if len(p.Enum) > 0 {
		return fmt.Sprintf("must be one of %q", p.Enum)
	}
	what := "a string"
	if p.NonEmpty {
		what = "a non-empty string"
	}
	if p.MaxLen > 0 {
		return fmt.Sprintf("must be %s of at most %d bytes", what, p.MaxLen)
	}
	return "must be " + what
}

// fieldList is "workload, params?": an object's keys, optional ones marked.
func fieldList(fields []Param) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
		if !f.Required {
			names[i] += "?"
		}
	}
	return strings.Join(names, ", ")
}

func checkType(t Type) error {
	switch t {
	case Int, Number, String, Bool, Duration, Strings, StringMap, Object, Any:
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
