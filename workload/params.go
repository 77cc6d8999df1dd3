package workload

import (
	"fmt"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/schema"
)

// Type is the type of a param's value (package schema's, re-exported).
type Type = schema.Type

// The param types. Numbers arrive as float64 (from JavaScript or JSON); an Int
// must hold an integral value. A Duration is a Go/k6 duration string ("10ms",
// "1.5s") or a number of milliseconds.
const (
	Int      = schema.Int
	Number   = schema.Number
	String   = schema.String
	Bool     = schema.Bool
	Duration = schema.Duration
)

// Param declares one param of a workload (package schema's, re-exported).
// Min and Max bound Int and Number values, and Duration values in
// milliseconds; both zero means unbounded. Default is the value used when the
// param is not given, in the param's Go type (int64, float64, string, bool,
// time.Duration).
type Param = schema.Param

// ParamInfo is a param's entry in the catalogue.
type ParamInfo = schema.ParamInfo

// Args are a task's validated params, ready for the workload's function.
// Accessors panic when asked for a param the workload did not declare, or as
// another type: that is a bug in the workload, and Spec.Run turns the panic
// into a Workload error.
type Args = schema.Args

// checkParams catches registration mistakes: duplicate names, unknown types,
// and defaults of the wrong Go type. It also makes the schema Bind uses.
func (s *Spec) checkParams() error {
	sch := s.newSchema()
	if err := sch.Check(); err != nil {
		return fmt.Errorf("workload %s: %w", s.Name, err)
	}
	s.schema = sch
	return nil
}

func (s *Spec) newSchema() *schema.Schema {
	return &schema.Schema{Name: s.Name, Noun: "param", Params: s.Params, Raw: s.Raw}
}

// Bind validates a task's params against the workload's declaration, applies
// defaults and rejects unknown keys. Errors are InvalidArgument and name the
// workload, the param and what was wrong with it.
func (s *Spec) Bind(raw map[string]any) (Args, error) {
	sch := s.schema
	if sch == nil { // a Spec made by hand rather than registered
		sch = s.newSchema()
	}
	return sch.Bind(raw)
}

// ParseDuration reads a duration the way k6 options do: a string such as
// "10ms", "1.5s" or "2m" (Go syntax), or a number, or numeric string, of
// milliseconds. Negative, non-finite and overflowing durations are errors.
func ParseDuration(v any) (time.Duration, error) { return schema.ParseDuration(v) }
