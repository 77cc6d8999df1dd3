package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batch: a worker whose hello lists "batch" reads several runs in one
// frame, in order, each as if it came alone: mixed with lone runs, a bad run
// of a batch fails as a lone one does while the others succeed, and a
// worker that dies mid-batch never ran the runs that waited behind the one it
// ran. It sends results in batch frames only to a pool whose hello lists
// "batch". A worker without the feature never gets a batch.
func (s *suite) batch(t *testing.T) {
	w := s.start(t, 1)
	if !w.Has(ipc.FeatureBatch) {
		t.Skipf("the worker's hello does not list the optional feature %q", ipc.FeatureBatch)
	}
	t.Run("mixed", s.batchMixed)
	t.Run("bad_request", s.batchBadRequest)
	t.Run("crash", s.batchCrash)
	t.Run("no_batch_to_a_pool_without_it", s.batchNotNegotiated)
}

// runJSON is a run message's JSON.
func runJSON(id int, workload, params string) string {
	if params == "" {
		params = "{}"
	}
	return fmt.Sprintf(`{"type":"run","id":%d,"workload":%q,"params":%s}`, id, workload, params)
}

// batchJSON is a batch message of the runs.
func batchJSON(runs ...string) string {
	return `{"type":"batch","requests":[` + strings.Join(runs, ",") + `]}`
}

// results reads n results and returns them by id; each id must come once.
func (r *rawWorker) results(n int, within time.Duration) map[uint64]rawResult {
	r.t.Helper()
	got := make(map[uint64]rawResult, n)
	for range n {
		res := r.result(within)
		assert.NotContains(r.t, got, res.ID, "a second result for id %d: %s", res.ID, res.raw)
		got[res.ID] = res
	}
	return got
}

func (s *suite) batchMixed(t *testing.T) {
	r := s.startRaw(t)
	r.handshakeBatch(2, ipc.DefaultMaxFrame)
	r.send(runJSON(1, s.o.Noop, ""))
	runs := make([]string, 0, 10)
	for id := 2; id <= 11; id++ {
		runs = append(runs, runJSON(id, s.o.Sleep, `{"duration":"1ms"}`))
	}
	r.send(batchJSON(runs...))
	r.send(runJSON(12, s.o.Noop, ""))
	r.send(batchJSON(runJSON(13, s.o.Noop, "")))
	got := r.results(13, settle)
	for id := uint64(1); id <= 13; id++ {
		if assert.Contains(t, got, id, "no result for run %d", id) {
			assert.Nil(t, got[id].Error, "run %d failed: %s", id, got[id].raw)
		}
	}
	r.closeInput()
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout()
}

func (s *suite) batchBadRequest(t *testing.T) {
	r := s.startRaw(t)
	r.handshakeBatch(1, ipc.DefaultMaxFrame)
	const unknown = "conformance.no-such-workload"
	r.send(runJSON(1, s.o.Sleep, `{"duration":"soon"}`))
	lone := r.result(settle)
	r.send(batchJSON(
		runJSON(2, s.o.Noop, ""),
		runJSON(3, s.o.Sleep, `{"duration":"soon"}`),
		runJSON(4, unknown, ""),
		runJSON(5, s.o.Noop, `[1,2]`),
		runJSON(6, s.o.Sleep, `{"duration":"1ms"}`),
	))
	got := r.results(5, settle)
	assert.NotNil(t, lone.Error, "a bad run alone got %s", lone.raw)
	assert.Equal(t, lone.Error, got[3].Error, "a bad run in a batch got %s; alone it got %s", got[3].raw, lone.raw)
	if res := got[4]; assert.NotNil(t, res.Error, "an unknown workload in a batch got %s, want an UnknownWorkloadError",
		res.raw) {
		assert.Equal(t, string(taskerr.UnknownWorkload), res.Error.Name, "an unknown workload in a batch got %s", res.raw)
	}
	if res := got[5]; assert.NotNil(t, res.Error, "params [1,2] in a batch got %s, want an InvalidArgumentError",
		res.raw) {
		assert.Equal(t, string(taskerr.InvalidArgument), res.Error.Name, "params [1,2] in a batch got %s", res.raw)
	}
	for _, id := range []uint64{2, 6} {
		assert.Contains(t, got, id, "run %d, beside the bad ones in its batch, got no result", id)
		assert.Nil(t, got[id].Error, "run %d, beside the bad ones in its batch, got %s", id, got[id].raw)
	}
	r.closeInput()
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout()
}

// batchCrash: through the pool's side, a batch on a worker with concurrency
// 1 whose second run lasts an hour: the runs behind it wait, and when the
// worker dies every call of the batch settles once; the ones that waited
// were never answered, so they never ran (a pool sends them elsewhere).
func (s *suite) batchCrash(t *testing.T) {
	w := s.start(t, 1)
	reqs := []ipc.Request{
		{Workload: s.o.Noop},
		{Workload: s.o.Sleep, Params: sleepParams(time.Hour)},
		{Workload: s.o.Noop},
		{Workload: s.o.Noop},
	}
	calls := make([]*ipc.Call, len(reqs))
	var order []int
	for i := range reqs {
		calls[i] = ipc.NewCall()
		reqs[i].OnWrite = func() { order = append(order, i) }
	}
	for i, err := range w.SendBatch(calls, reqs) {
		require.NoError(t, err, "sending run %d of the batch", i)
	}
	assert.Equal(t, []int{0, 1, 2, 3}, order, "the order the batch's runs were written in")
	first := await(t, calls[0], s.o.Noop, settle)
	require.Nil(t, first.Err, "the batch's first run failed")
	time.Sleep(100 * time.Millisecond) // room to run what it must not run
	for i, c := range calls[2:] {
		select {
		case <-c.Done():
			assert.Fail(t, "a run was answered while the one ahead of it runs (concurrency 1)",
				"run %d of the batch: %+v", i+2, c.Response)
		default:
		}
	}
	w.Kill("the conformance suite crashes it mid-batch")
	for i, c := range calls[1:] {
		res := await(t, c, reqs[i+1].Workload, settle)
		if assert.NotNil(t, res.Err, "run %d of the batch, in flight when the worker died: got %+v, want WorkerCrashedError",
			i+1, res) {
			assert.Equal(t, taskerr.WorkerCrashed, res.Err.Code, "run %d of the batch, in flight when the worker died: got %+v",
				i+1, res)
		}
		select {
		case <-c.Done():
			assert.Fail(t, "a run of the batch settled twice", "run %d", i+1)
		default:
		}
	}
}

// batchNotNegotiated: to a pool whose hello does not list "batch", every
// result of a batch comes in a frame of its own.
func (s *suite) batchNotNegotiated(t *testing.T) {
	r := s.startRaw(t)
	r.handshake(1, ipc.DefaultMaxFrame)
	runs := make([]string, 0, 8)
	for id := 1; id <= 8; id++ {
		runs = append(runs, runJSON(id, s.o.Noop, ""))
	}
	r.send(batchJSON(runs...))
	for id, res := range r.results(8, settle) {
		assert.Nil(t, res.Error, "run %d failed: %s", id, res.raw)
	}
	r.closeInput()
	assert.Equal(t, 0, r.wait(), "exit status after its input ended")
	r.cleanStdout() // a batch frame would be a readErr: the pool did not list the feature
}

// handshakeBatch is handshake with a pool hello that lists "batch".
func (r *rawWorker) handshakeBatch(concurrency, maxFrame int) {
	r.t.Helper()
	f := r.next(10*time.Second, "the worker's hello")
	require.Equal(r.t, "hello", f.typ, "the first frame is not a hello: %s", f.raw)
	r.acceptsBatch.Store(true)
	r.send(fmt.Sprintf(`{"type":"hello","protocol":1,"concurrency":%d,"max_frame":%d,"features":[%q]}`,
		concurrency, maxFrame, ipc.FeatureBatch))
}

// batchResults passes on the results of a batch frame from the worker, or
// says what is wrong with it.
func (r *rawWorker) batchResults(b []byte) error {
	if !r.acceptsBatch.Load() {
		return fmt.Errorf("stdout has a batch frame, and the pool's hello did not list %q: %q", ipc.FeatureBatch, clip(b))
	}
	var m struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &m); err != nil || len(m.Results) == 0 {
		return fmt.Errorf("stdout has a batch frame without results: %q", clip(b))
	}
	r.batches++
	for _, item := range m.Results {
		var it struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(item, &it) != nil || it.Type != "result" {
			return fmt.Errorf("stdout has a batch frame holding something else than results: %q", clip(b))
		}
		r.frames <- rawFrame{raw: item, typ: it.Type, batch: r.batches}
	}
	return nil
}
