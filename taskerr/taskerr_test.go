package taskerr

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestErrorsIs: each class has a sentinel that errors.Is matches through
// wrapping, and that matches no other class; From keeps the class of what it
// classifies.
func TestErrorsIs(t *testing.T) {
	t.Parallel()
	for _, code := range Codes {
		t.Run(string(code), func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("submitting: %w", New(code, "what went wrong"))
			sentinel := Sentinel(code)
			if sentinel.Code != code || sentinel.Message != "" || sentinel != Sentinel(code) {
				t.Fatalf("Sentinel(%s) = %#v, want one *Error of that class with no message", code, sentinel)
			}
			if !errors.Is(err, sentinel) {
				t.Fatalf("errors.Is(%v, the sentinel of %s) = false", err, code)
			}
			for _, other := range Codes {
				if other != code && errors.Is(err, Sentinel(other)) {
					t.Errorf("errors.Is(%s error, the sentinel of %s) = true", code, other)
				}
			}
			if errors.Is(err, New(code, "another message")) {
				t.Errorf("a %s error matches another error of its class with a message: only sentinels match by class", code)
			}
		})
	}
	if !errors.Is(From(context.DeadlineExceeded), ErrTimeout) {
		t.Error("From(context.DeadlineExceeded) is not a Timeout")
	}
	if !errors.Is(From(errors.New("boom")), ErrWorkload) {
		t.Error("From(an unclassified error) is not a Workload failure")
	}
}
