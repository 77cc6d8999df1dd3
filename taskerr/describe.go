package taskerr

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Describe names a bad value in an error message without dumping a large
// one: null, a quoted short string, a number as JavaScript prints it, "an
// array", "an object", or the Go type of anything else.
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			return fmt.Sprintf("a string of %d bytes", len(x))
		}
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case float64:
		return formatNumber(x)
	case float32:
		return formatNumber(float64(x))
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case json.Number:
		return x.String()
	}
	return fmt.Sprintf("%T", v)
}

// formatNumber prints a number as JavaScript does: NaN, Infinity, plain
// digits, or an exponent for very large and very small magnitudes (1e+300
// rather than 301 digits).
func formatNumber(f float64) string {
	switch a := math.Abs(f); {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case a != 0 && (a < 1e-6 || a >= 1e21):
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
