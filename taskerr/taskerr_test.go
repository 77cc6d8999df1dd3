package taskerr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
			require.Equal(t, &Error{Code: code}, sentinel, "Sentinel(%s), want an *Error of that class with no message", code)
			require.Same(t, sentinel, Sentinel(code), "Sentinel(%s), want one *Error", code)
			require.ErrorIs(t, err, sentinel, "the sentinel of %s", code)
			for _, other := range Codes {
				if other != code {
					require.NotErrorIs(t, err, Sentinel(other), "a %s error matches the sentinel of %s", code, other)
				}
			}
			assert.NotErrorIs(t, err, New(code, "another message"),
				"a %s error matches another error of its class with a message: only sentinels match by class", code)
		})
	}
	require.ErrorIs(t, From(context.DeadlineExceeded), ErrTimeout, "From(context.DeadlineExceeded) is not a Timeout")
	assert.ErrorIs(t, From(errors.New("boom")), ErrWorkload, "From(an unclassified error) is not a Workload failure")
}
