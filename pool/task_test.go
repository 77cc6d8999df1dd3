package pool

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestTaskSizeClass: a Task stays in the 320-byte allocation size class, one
// of the four allocations of a thread-pool task. One field more (328 bytes)
// moved it to the 352-byte class, and BenchmarkThreadNoop's B/op with it.
func TestTaskSizeClass(t *testing.T) {
	t.Parallel()
	assert.LessOrEqual(t, unsafe.Sizeof(Task{}), uintptr(320))
}
