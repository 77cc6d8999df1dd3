package taskerr

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{"x", `"x"`},
		{strings.Repeat("a", 41), "a string of 41 bytes"},
		{true, "true"},
		{map[string]any{}, "an object"},
		{[]any{1}, "an array"},
		{1e9, "1000000000"},
		{-0.5, "-0.5"},
		{1e300, "1e+300"},
		{1e-7, "1e-07"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
		{int64(-3), "-3"},
		{7, "7"},
		{json.Number("12.5"), "12.5"},
		{struct{}{}, "struct {}"},
	} {
		assert.Equal(t, c.want, Describe(c.v), "Describe(%#v)", c.v)
	}
}
