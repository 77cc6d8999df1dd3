package pool

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// TestQueuedTaskGoesToAFreeWorkerNotAPrefetchSlot is issue 14's "never
// holds back a task whose worker is free", driven step by step: on 2
// workers of concurrency 1, one runs a long task, and the other's real slot
// is in hand (taken out of the free list by a dispatcher, or on its way back
// from a result: the window where it is free but not in the list). A task
// submitted then stays queued rather than wait in the busy worker's input
// (its prefetch slot); once the slot is let go it runs at once, on the free
// worker. With both workers busy, the next task is prefetched as before.
func TestQueuedTaskGoesToAFreeWorkerNotAPrefetchSlot(t *testing.T) {
	t.Parallel()
	p := slotPool(t, 2, 1)
	p.Start()
	require.Eventually(t, func() bool { return p.Stats().Live == 2 }, settleWithin, time.Millisecond, "%+v", p.Stats())

	long := submit(t, p, "io.sleep", map[string]any{"duration": "1h"})
	waitBusy(t, p, 1)

	// The free worker's real slot, taken as pump takes it.
	p.inHand.Add(1)
	var held *procSlot
	select {
	case sl := <-p.free:
		held = sl.(*procSlot)
	case <-time.After(settleWithin):
		require.FailNow(t, "the idle worker's slot never came back to the free list")
	}
	next, err := p.prepareTest("io.sleep", map[string]any{"duration": "1h"})
	require.NoError(t, err)
	nextDone := submitTask(p, next)
	assert.Equal(t, queued, next.state.Load(), "a real slot is in hand: the task is not sent to a prefetch slot")
	requireAccounted(t, p)

	// Let go, as pump does: back to the free list, then look at the queue.
	p.free <- held
	p.inHand.Add(-1)
	p.pump()
	waitBusy(t, p, 2)
	assert.Same(t, held.run, next.slot.run, "the task runs on the worker that was free")

	// Every real slot busy: a task waits in a worker's input, prefetched.
	third, err := p.prepareTest("noop", nil)
	require.NoError(t, err)
	thirdDone := submitTask(p, third)
	assert.Equal(t, sent, third.state.Load(), "with no real slot free, the task is prefetched")
	s := requireAccounted(t, p)
	assert.Equal(t, 1, s.Queued, "a prefetched task counts as queued: %+v", s)

	p.Close()
	for _, c := range []chan *Task{long, nextDone, thirdDone} {
		assert.Equal(t, taskerr.PoolClosed, code(await(t, c)))
	}
	requireAccounted(t, p)
}
