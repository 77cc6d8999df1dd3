package taskerr

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestErrorsIs: a Code is the sentinel of its class, through wrapping, and
// matches no other class; From keeps the class of what it classifies.
func TestErrorsIs(t *testing.T) {
	t.Parallel()
	for _, code := range Codes {
		t.Run(string(code), func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("submitting: %w", New(code, "what went wrong"))
			if !errors.Is(err, code) {
				t.Fatalf("errors.Is(%v, %s) = false", err, code)
			}
			for _, other := range Codes {
				if other != code && errors.Is(err, other) {
					t.Errorf("errors.Is(%s error, %s) = true", code, other)
				}
			}
			if errors.Is(errors.New(string(code)), code) {
				t.Errorf("a plain error with the class's text matches %s", code)
			}
		})
	}
	if !errors.Is(From(context.DeadlineExceeded), Timeout) {
		t.Error("From(context.DeadlineExceeded) is not a Timeout")
	}
	if !errors.Is(From(errors.New("boom")), Workload) {
		t.Error("From(an unclassified error) is not a Workload failure")
	}
}
