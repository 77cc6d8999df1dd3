package ipc

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeRunsAtMostConcurrency: with the hello's concurrency, the worker
// runs that many requests at once and starts the others in the order they
// came; a waiting request's timeout counts from its start; a cancel, or the
// end of the input, answers a waiting request without running it (run_ns 0).
//
//nolint:paralleltest // timing-sensitive: it checks the order requests run in by their run times
func TestServeRunsAtMostConcurrency(t *testing.T) {
	for _, conc := range []int{1, 2} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			s := serve(t).started()
			s.send(fmt.Sprintf(`{"type":"hello","protocol":1,"concurrency":%d,"max_frame":16777216}`, conc))
			// conc t.block runs of 1s (they ignore a cancel: a waiting
			// request that ran would show), then the waiting ones; 1s is
			// time enough for the cancel to come first on a loaded machine.
			for i := 1; i <= conc; i++ {
				s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.block","params":{"for":"1s"}}`, i))
			}
			waiting, cancelled := conc+1, conc+2
			s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.sleep","params":{"ms":50,"v":1},"timeout_ms":200}`, waiting))
			s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.block","params":{"for":"300ms"}}`, cancelled))
			s.send(fmt.Sprintf(`{"type":"cancel","id":%d}`, cancelled))
			m := s.next()
			require.Equal(t, uint64(cancelled), m.ID, "first answer %+v %+v, want the cancelled waiting request", m, m.Error)
			require.NotNil(t, m.Error, "first answer %+v, want the cancelled waiting request", m)
			require.Zero(t, m.RunNS, "first answer %+v %+v, want the waiting request not run", m, m.Error)
			require.Equal(t, "t.block: cancelled by the pool before it started", m.Error.Message, "first answer %+v", m)
			order := make([]uint64, 0, conc+1)
			results := map[uint64]Message{}
			for range conc + 1 {
				m := s.next()
				order = append(order, m.ID)
				results[m.ID] = m
			}
			assert.Equal(t, uint64(waiting), order[conc],
				"results in order %v: the waiting request %d ran alongside the %d running ones", order, waiting, conc)
			m = results[uint64(waiting)]
			assert.Nil(t, m.Error, "waiting request %+v: its timeout counts from its start", m)
			assert.LessOrEqual(t, time.Duration(m.RunNS), 150*time.Millisecond, "waiting request %+v: its run_ns counts from its start", m)

			for i := 1; i <= conc+1; i++ {
				s.send(fmt.Sprintf(`{"type":"run","id":%d,"workload":"t.block","params":{"for":"1s"}}`, 10+i))
			}
			time.Sleep(20 * time.Millisecond)
			_ = s.in.Close()
			results = map[uint64]Message{}
			for range conc + 1 {
				m := s.next()
				results[m.ID] = m
			}
			last := results[uint64(10+conc+1)]
			if assert.NotNil(t, last.Error, "the request waiting when the input ended: %+v", last) {
				assert.Equal(t, "t.block: cancelled because the worker is stopping: its input closed before it started", last.Error.Message,
					"the request waiting when the input ended: %+v", last)
			}
			assert.Zero(t, last.RunNS, "the request waiting when the input ended: %+v %+v", last, last.Error)
			for i := 1; i <= conc; i++ {
				assert.Nil(t, results[uint64(10+i)].Error, "running request %d", 10+i)
			}
		})
	}
}

// TestServeGoexitHandsOverTheQueue: a workload that ends its goroutine with
// runtime.Goexit is answered, and the request waiting behind it still runs.
//
//nolint:paralleltest // timing-sensitive: it checks the order requests run in by their run times
func TestServeGoexitHandsOverTheQueue(t *testing.T) {
	s := serve(t).started()
	s.send(`{"type":"hello","protocol":1,"concurrency":1,"max_frame":16777216}`)
	s.send(`{"type":"run","id":1,"workload":"hostile.throw","params":{"case":"exit"}}`)
	s.send(`{"type":"run","id":2,"workload":"t.sleep","params":{"ms":1,"v":2}}`)
	for range 2 {
		if m := s.next(); m.ID == 2 {
			assert.Nil(t, m.Error, "the request behind a goexit: %+v", m)
			assert.Equal(t, "2", string(m.Value), "the request behind a goexit: %+v", m)
		}
	}
}
