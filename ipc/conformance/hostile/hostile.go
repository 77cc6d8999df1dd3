// Package hostile holds the Go worker's hostile workloads for the
// conformance suite (ipc/conformance): hostile.throw fails in ways that are
// hard to report, and hostile.return returns values that JSON cannot carry
// unchanged. A worker must answer each with a WorkloadError and keep
// serving. The Python and Node.js example workers offer the same two
// workloads, with the same cases, in their own languages.
package hostile

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/k6-concurrency/xk6-concurrency/workload"
)

// Huge is the size of the hostile values and messages that are over the
// protocol's default frame limit.
const Huge = 20 << 20

// Register adds hostile.throw and hostile.return to reg, with prefix before
// their names ("" or, say, "zz.").
func Register(reg *workload.Registry, prefix string) error {
	kase := workload.Param{Name: "case", Type: workload.String, Required: true}
	desc := workload.WithDescription("Fails in a way that is hard to report (the conformance suite's hostile checks).")
	if err := reg.Add(prefix+"hostile.throw", workload.CPU, throw, workload.WithParams(kase), desc); err != nil {
		return err
	}
	return reg.Add(prefix+"hostile.return", workload.CPU, ret, workload.WithParams(kase),
		workload.WithDescription("Returns a value JSON cannot carry unchanged (the conformance suite's hostile checks)."))
}

// unprintable panics when asked for its text.
type unprintable struct{}

func (unprintable) Error() string  { panic(unprintable{}) }
func (unprintable) String() string { panic(unprintable{}) }

// nilError has a pointer receiver that dereferences: a typed nil *nilError
// is a non-nil error whose Error panics.
type nilError struct{ text string }

func (e *nilError) Error() string { return e.text }

// badMarshaler panics when encoded.
type badMarshaler struct{}

func (badMarshaler) MarshalJSON() ([]byte, error) { panic(unprintable{}) }

func throw(_ context.Context, a workload.Args) (any, error) {
	switch c := a.String("case"); c {
	case "unprintable":
		panic(unprintable{})
	case "unprintable_message":
		return nil, unprintable{}
	case "not_an_error":
		var typedNil *nilError
		return nil, typedNil
	case "huge_message":
		return nil, errors.New(strings.Repeat("x", Huge))
	case "exit":
		runtime.Goexit()
		return nil, nil
	default:
		return nil, taskerr.New(taskerr.InvalidArgument, "param \"case\": no case %q", c)
	}
}

func ret(_ context.Context, a workload.Args) (any, error) {
	switch c := a.String("case"); c {
	case "nan":
		return math.NaN(), nil
	case "nested_nan":
		return map[string]any{"a": []any{1, map[string]any{"b": math.NaN()}}}, nil
	case "nested_infinity":
		return []any{[]any{math.Inf(-1)}}, nil
	case "cycle":
		m := map[string]any{}
		m["self"] = m
		return m, nil
	case "function":
		return map[string]any{"f": func() {}}, nil
	case "native":
		return map[string]any{"c": make(chan int)}, nil
	case "non_string_key":
		return map[any]any{1: "a"}, nil
	case "lone_surrogate":
		return map[string]any{"s": "x\xed\xa0\x80y"}, nil // U+D800 as CESU-8: not UTF-8
	case "deep":
		var v any = []any{}
		for range 100000 {
			v = []any{v}
		}
		return v, nil
	case "huge":
		return strings.Repeat("y", Huge), nil
	case "raising_encoder":
		return map[string]any{"m": badMarshaler{}}, nil
	default:
		return nil, taskerr.New(taskerr.InvalidArgument, "param \"case\": no case %q", c)
	}
}
