package pool

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// prepareTest is Submit's validation without the options or the queueing:
// the tests that look at a task between the two set its fields, then submit.
func (p *Pool) prepareTest(name string, params map[string]any) (*Task, error) {
	return p.prepare(name, params, &submitOptions{}, 0)
}

// Submit and SubmitAll apply their options to every task, validate every
// call before queueing any, and say which call was invalid.
func TestSubmitOptions(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Name: "submit", Kind: Thread, Workers: 2})
	require.NoError(t, err)
	t.Cleanup(p.Close)

	t.Run("OnDone is required", func(t *testing.T) {
		t.Parallel()
		_, err := p.Submit("io.sleep", map[string]any{"duration": "1ms"})
		assert.Equal(t, taskerr.InvalidArgument, taskerr.From(err).Code)
	})
	t.Run("Submit", func(t *testing.T) {
		t.Parallel()
		done := make(chan *Task, 1)
		task, err := p.Submit("io.sleep", map[string]any{"duration": "5s"}, WithTimeout(50*time.Millisecond),
			OnDone(func(t *Task) { done <- t }))
		require.NoError(t, err)
		assert.Same(t, task, <-done)
		assert.Equal(t, taskerr.Timeout, task.Err.Code, "WithTimeout bounds the task")
	})
	t.Run("SubmitAll", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		seen := map[int]*Task{}
		var wg sync.WaitGroup
		wg.Add(3)
		calls := []Call{{Params: map[string]any{"duration": "1ms"}}, {Params: map[string]any{"duration": "2ms"}}, {}}
		tasks, err := p.SubmitAll("io.sleep", calls, WithChunkSize(2), OnEachDone(func(i int, t *Task) {
			mu.Lock()
			seen[i] = t
			mu.Unlock()
			wg.Done()
		}))
		require.NoError(t, err)
		wg.Wait()
		require.Len(t, tasks, 3)
		for i, task := range tasks {
			assert.Same(t, task, seen[i], "OnEachDone gets each task with its index")
			assert.Nil(t, task.Err)
		}
	})
	t.Run("SubmitAll with an invalid call", func(t *testing.T) {
		t.Parallel()
		p, err := New(Config{Name: "submit-invalid", Kind: Thread, Workers: 1})
		require.NoError(t, err)
		t.Cleanup(p.Close)
		calls := []Call{{Params: map[string]any{"duration": "1ms"}}, {Params: map[string]any{"duration": "soon"}}}
		_, err = p.SubmitAll("io.sleep", calls, OnDone(func(*Task) {}))
		var ce *CallError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 1, ce.Index)
		assert.Equal(t, taskerr.InvalidArgument, taskerr.From(errors.Unwrap(err)).Code)
		assert.Zero(t, p.Stats().Submitted, "no call was submitted")
	})
}
