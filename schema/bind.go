package schema

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// Schema is what an object a script passes in may hold: a workload's params,
// or the options of a constructor or a method.
type Schema struct {
	// Name starts every error: a workload's name, or "new ProcessPool()".
	Name string
	// Noun is what errors call an entry: "param" (when empty) or "option".
	Noun string
	// Params are the accepted keys; Bind rejects any other.
	Params []Param
	// Raw, when true, skips validation: Bind hands the caller's object on
	// untouched (Args.Raw), and whoever reads it validates it.
	Raw bool
}

func (s *Schema) noun() string {
	if s.Noun == "" {
		return "param"
	}
	return s.Noun
}

// Names are the params' names, in declaration order.
func (s *Schema) Names() []string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return names
}

// Param returns the named param.
func (s *Schema) Param(name string) (Param, bool) {
	if i := s.index(name); i >= 0 {
		return s.Params[i], true
	}
	return Param{}, false
}

// Check catches declaration mistakes: duplicate names, unknown types, and
// defaults of the wrong Go type.
func (s *Schema) Check() error { return checkParams(s.Params) }

func checkParams(params []Param) error {
	seen := make(map[string]bool, len(params))
	for i := range params {
		p := &params[i]
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("param name %q is empty or repeated", p.Name)
		}
		seen[p.Name] = true
		if err := checkType(p.Type); err != nil {
			return fmt.Errorf("param %s: %w", p.Name, err)
		}
		if err := checkParams(p.Fields); err != nil {
			return fmt.Errorf("param %s: %w", p.Name, err)
		}
		if p.Default == nil {
			continue
		}
		if _, err := p.convert(p.Default); err != nil {
			return fmt.Errorf("param %s: default %v: %w", p.Name, p.Default, err)
		}
	}
	return nil
}

// value is one converted param.
type value struct {
	slot
	any any // Strings, StringMap, Object, Any
}

// slot holds one bound param; numbers and strings without boxing them in an
// interface, and in 32 bytes, since a workload's params are bound on every
// task's path. The other kinds' values are in Args.ext.
type slot struct {
	num float64 // Int, Number (Int values are integral), Bool (1: true), Duration in nanoseconds
	str string
	set bool // given by the caller rather than defaulted
}

// Args are an object's validated params, in Go types. Accessors panic when
// asked for a param the schema does not declare, or as another type: that is
// a bug in the reader (Spec.Run turns a workload's panic into an error).
type Args struct {
	s    *Schema
	vals []slot
	ext  *[]any // by param, for the kinds that slot does not hold; nil when there are none (a pointer: a Task holds Args)
	raw  map[string]any
}

// Bind validates raw against the schema, applies defaults and rejects unknown
// keys. Errors are InvalidArgument and name the schema, the param and what
// was wrong with it.
func (s *Schema) Bind(raw map[string]any) (Args, error) {
	args, err := s.bind(raw)
	if err != nil {
		return Args{}, taskerr.New(taskerr.InvalidArgument, "%s: %s", s.Name, err.top(s.noun()))
	}
	return args, nil
}

// bindError is what was wrong with one key of an object.
type bindError struct {
	key     string
	unknown string // the known keys, when key is unknown
	reason  string // "must be ...", "is required (...)", or what is wrong
	given   any
	hasVal  bool // given is the caller's value, shown after a "must" reason
}

// top formats e for a schema's own object: `param "x" must be ..., got 5`.
func (e *bindError) top(noun string) string {
	if e.unknown != "" {
		return fmt.Sprintf("unknown %s %q (%s)", noun, e.key, e.unknown)
	}
	return fmt.Sprintf("%s %q %s", noun, e.key, e.tail())
}

// nested formats e for an object inside a param: `key "x" must be ...`.
func (e *bindError) nested() string {
	if e.unknown != "" {
		return fmt.Sprintf("has unknown key %q (%s)", e.key, e.unknown)
	}
	return fmt.Sprintf("key %q %s", e.key, e.tail())
}

func (e *bindError) tail() string {
	if e.hasVal && strings.HasPrefix(e.reason, "must ") {
		return e.reason + ", got " + taskerr.Describe(e.given)
	}
	return e.reason
}

func (s *Schema) bind(raw map[string]any) (Args, *bindError) {
	args := Args{s: s, raw: raw}
	if s.Raw {
		return args, nil
	}
	for key := range raw {
		if s.index(key) < 0 {
			return Args{}, &bindError{key: key, unknown: s.list()}
		}
	}
	args.vals = make([]slot, len(s.Params))
	for i := range s.Params {
		p := &s.Params[i] // not copied: Bind is on every task's path
		given, ok := raw[p.Name]
		if ok && given == nil && p.Nullable {
			ok = false
		}
		if !ok {
			if p.Required {
				return Args{}, &bindError{key: p.Name, reason: "is required (" + p.Describe() + ")"}
			}
			if p.Default != nil {
				v, _ := p.convert(p.Default)
				args.store(i, v)
			}
			continue
		}
		v, err := p.convert(given)
		if err != nil {
			return Args{}, &bindError{key: p.Name, reason: err.Error(), given: given, hasVal: true}
		}
		v.set = true
		args.store(i, v)
	}
	return args, nil
}

func (a *Args) store(i int, v value) {
	a.vals[i] = v.slot
	if v.any != nil {
		if a.ext == nil {
			ext := make([]any, len(a.vals))
			a.ext = &ext
		}
		(*a.ext)[i] = v.any
	}
}

func (s *Schema) index(name string) int {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return i
		}
	}
	return -1
}

// list is "params: a, b", sorted, for an unknown key's error.
func (s *Schema) list() string {
	if len(s.Params) == 0 {
		return "it takes no " + s.noun() + "s"
	}
	names := s.Names()
	slices.Sort(names)
	return s.noun() + "s: " + strings.Join(names, ", ")
}

type paramError string

func (e paramError) Error() string { return string(e) }

// errBadValue is convertType's word for a value that does not fit the param.
const errBadValue = paramError("bad value")

// Value converts and checks one value against p, as Bind does for a key: the
// value in p's Go type, or an error that says what a valid value is.
func (p *Param) Value(v any) (any, error) {
	val, err := p.convert(v)
	if err != nil {
		return nil, err
	}
	return p.goValue(val), nil
}

// convert turns a caller's value (from JavaScript, JSON or Go) into a bound
// value, and applies the param's Check.
func (p *Param) convert(v any) (value, error) {
	val, err := p.convertType(v)
	if errors.Is(err, errBadValue) {
		// Described only now: Bind is on every task's path and must not
		// format a message for a good value.
		return value{}, paramError(p.Describe())
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
func (p *Param) goValue(v value) any {
	switch p.Type {
	case Int:
		return int64(v.num)
	case String:
		return v.str
	case Bool:
		return v.num != 0
	case Duration:
		return time.Duration(v.num)
	case Number:
		return v.num
	case Strings, StringMap, Object, Any:
	}
	return v.any
}

func (p *Param) convertType(v any) (value, error) {
	switch p.Type {
	case Int, Number:
		return p.convertNumber(v)
	case Duration:
		return p.convertDuration(v)
	case String:
		s, ok := v.(string)
		if !ok || !p.goodString(s) || (len(p.Enum) > 0 && !slices.Contains(p.Enum, s)) {
			return value{}, errBadValue
		}
		return value{slot: slot{str: s}}, nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return value{}, errBadValue
		}
		if b {
			return value{slot: slot{num: 1}}, nil
		}
		return value{}, nil
	case Strings:
		return p.convertStrings(v)
	case StringMap:
		return p.convertStringMap(v)
	case Object:
		return p.convertObject(v)
	case Any:
		if p.Parse == nil {
			return value{any: v}, nil
		}
		x, err := p.Parse(v)
		if err != nil {
			return value{}, paramError(err.Error())
		}
		return value{any: x}, nil
	}
	return value{}, paramError("has unknown type " + string(p.Type))
}

func (p *Param) goodString(s string) bool {
	return len(s) <= p.Limit() && (!p.NonEmpty || s != "") && (!p.NoNUL || !strings.ContainsRune(s, 0))
}

// convertNumber is convertType for Int and Number.
func (p *Param) convertNumber(v any) (value, error) {
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) ||
		(p.Type == Int && (f != math.Trunc(f) || math.Abs(f) > maxExactInt)) {
		return value{}, errBadValue
	}
	if (p.Bounded() && (f < p.Min || f > p.Max)) || (p.Positive && f <= 0) {
		return value{}, errBadValue
	}
	return value{slot: slot{num: f}}, nil
}

func (p *Param) convertDuration(v any) (value, error) {
	d, err := ParseDuration(v)
	if err != nil {
		return value{}, errBadValue
	}
	ms := float64(d) / float64(time.Millisecond)
	if (p.Bounded() && (ms < p.Min || ms > p.Max)) || (p.Positive && d <= 0) {
		return value{}, errBadValue
	}
	return value{slot: slot{num: float64(d)}}, nil
}

func (p *Param) convertStrings(v any) (value, error) {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case []string: // a Go caller's, or a Default
		return p.convertStrings(anySlice(x))
	default:
		return value{}, errBadValue
	}
	if p.NonEmpty && len(list) == 0 {
		return value{}, errBadValue
	}
	out := make([]string, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok || len(s) > p.Limit() || (p.NoNUL && strings.ContainsRune(s, 0)) {
			return value{}, paramError(fmt.Sprintf("item %d must be a string of at most %d bytes, got %s",
				i, p.Limit(), taskerr.Describe(item)))
		}
		out[i] = s
	}
	return value{any: out}, nil
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func (p *Param) convertStringMap(v any) (value, error) {
	m, ok := v.(map[string]any)
	if !ok {
		if sm, ok := v.(map[string]string); ok { // a Go caller's, or a Default
			return value{any: sm}, nil
		}
		return value{}, errBadValue
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad entry is the same on every run
	out := make(map[string]string, len(m))
	for _, k := range keys {
		s, ok := p.scalar(m[k])
		if !ok || len(s) > p.Limit() || (p.NoNUL && strings.ContainsRune(s, 0)) {
			want := "a string"
			if p.Scalars {
				want = "a string, number or boolean"
			}
			if ok && len(s) > p.Limit() {
				want += fmt.Sprintf(" of at most %d bytes", p.Limit())
			}
			if ok && p.NoNUL && strings.ContainsRune(s, 0) {
				want += " without NUL bytes"
			}
			return value{}, paramError(fmt.Sprintf("value of %s must be %s, got %s", taskerr.Describe(k), want,
				taskerr.Describe(m[k])))
		}
		out[k] = s
	}
	return value{any: out}, nil
}

// scalar is a StringMap's value as a string.
func (p *Param) scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), p.Scalars && !math.IsNaN(x) && !math.IsInf(x, 0)
	case bool:
		return strconv.FormatBool(x), p.Scalars
	}
	return "", false
}

func (p *Param) convertObject(v any) (value, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return value{}, errBadValue
	}
	if len(p.Fields) == 0 {
		return value{any: m}, nil
	}
	inner := &Schema{Name: p.Name, Noun: "key", Params: p.Fields}
	args, err := inner.bind(m)
	if err != nil {
		return value{}, paramError(err.nested())
	}
	return value{any: args}, nil
}

func (a Args) at(name string, want ...Type) value {
	i := a.s.index(name)
	if i < 0 || a.vals == nil {
		panic(fmt.Sprintf("%s reads %s %q that it does not declare", a.s.Name, a.s.noun(), name))
	}
	if !slices.Contains(want, a.s.Params[i].Type) {
		panic(fmt.Sprintf("%s reads %s %q as %s, but it is declared %s",
			a.s.Name, a.s.noun(), name, typeNames(want), a.s.Params[i].Type))
	}
	v := value{slot: a.vals[i]}
	if a.ext != nil {
		v.any = (*a.ext)[i]
	}
	return v
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

// Strings returns a Strings param; nil when not given.
func (a Args) Strings(name string) []string {
	s, _ := a.at(name, Strings).any.([]string)
	return s
}

// StringMap returns a StringMap param; nil when not given.
func (a Args) StringMap(name string) map[string]string {
	m, _ := a.at(name, StringMap).any.(map[string]string)
	return m
}

// Object returns an Object param that has Fields, bound; the zero Args (Has
// false for every key) when not given.
func (a Args) Object(name string) Args {
	o, _ := a.at(name, Object).any.(Args)
	if o.s == nil {
		p := a.s.Params[a.s.index(name)]
		o = Args{s: &Schema{Name: name, Noun: "key", Params: p.Fields}}
	}
	return o
}

// Map returns an Object param without Fields; nil when not given.
func (a Args) Map(name string) map[string]any {
	m, _ := a.at(name, Object).any.(map[string]any)
	return m
}

// Any returns an Any param as given, or as its Parse returned it.
func (a Args) Any(name string) any { return a.at(name, Any).any }

// Has reports whether the caller gave the param (rather than it defaulting).
func (a Args) Has(name string) bool {
	i := a.s.index(name)
	return i >= 0 && a.vals != nil && a.vals[i].set
}

// Raw returns the object as the caller gave it.
func (a Args) Raw() map[string]any { return a.raw }
