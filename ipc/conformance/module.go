package conformance

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moduleMain and moduleSources are the module the "module" check sends: a
// sync export, an async one that imports a local file, and one that throws.
const moduleMain = "/conformance/tasks.js"

//nolint:gochecknoglobals // a constant table
var moduleSources = map[string]string{
	moduleMain: "import { twice } from './lib/twice.js';\n" +
		"export function add(p) { return p.a + p.b; }\n" +
		"export async function later(p) { await new Promise((r) => setTimeout(r, 1)); return twice(p.x); }\n" +
		"export function boom() { throw new Error('boom'); }\n",
	"/conformance/lib/twice.js": "export function twice(x) { return [x, x]; }\n",
}

// module: a worker that lists the "module" feature in its hello loads the
// module of the pool's hello and serves its exports beside its workloads; a
// worker that does not ignores the field (PROTOCOL.md, "module").
func (s *suite) module(t *testing.T) {
	r := s.startRaw(t)
	f := r.next(s.o.StartTimeout, "the worker's hello")
	var h struct {
		Features []string `json:"features"`
	}
	require.NoError(t, json.Unmarshal(f.raw, &h), "the worker's hello")
	wire, err := json.Marshal(map[string]any{"main": moduleMain, "sources": moduleSources})
	require.NoError(t, err, "the module")
	if !slices.Contains(h.Features, ipc.FeatureModule) {
		// The field is ignored: the worker serves as before.
		r.send(fmt.Sprintf(`{"type":"hello","protocol":1,"concurrency":1,"max_frame":%d,"module":%s}`,
			ipc.DefaultMaxFrame, wire))
		r.send(fmt.Sprintf(`{"type":"run","id":1,"workload":%q}`, s.o.Noop))
		res := r.result(settle)
		require.Equal(t, uint64(1), res.ID,
			"a worker without the module feature must ignore the hello's module field; %s failed: %s", s.o.Noop, res.raw)
		require.Nil(t, res.Error,
			"a worker without the module feature must ignore the hello's module field; %s failed: %s", s.o.Noop, res.raw)
		return
	}
	r.closeInput()
	w, err := ipc.Start(ipc.Config{Argv: s.argv, Dir: s.o.Dir, Env: s.o.Env, Module: wire, StartTimeout: s.o.StartTimeout})
	require.NoError(t, err, "starting %v with a module", s.argv)
	t.Cleanup(func() { w.Close(time.Second) })
	s.checkModuleCalls(t, w)
}

// checkModuleCalls calls the module's exports on w, a worker that loaded
// it, beside its own noop workload: a sync and an async export answer, a
// throwing one fails as a Workload error naming where it threw, and a name
// neither offers is an UnknownWorkload error.
func (s *suite) checkModuleCalls(t *testing.T, w *ipc.Worker) {
	for _, tc := range []struct {
		workload, params, value string
		code                    taskerr.Code
		message                 string
	}{
		{"add", `{"a":2,"b":3}`, "5", "", ""},
		{"later", `{"x":"y"}`, `["y","y"]`, "", ""},
		{"boom", "", "", taskerr.Workload, "boom: Error: boom at " + moduleMain + ":4:"},
		{"nope", "", "", taskerr.UnknownWorkload, "nope"},
		{s.o.Noop, "", "null", "", ""},
	} {
		var params []byte
		if tc.params != "" {
			params = []byte(tc.params)
		}
		res := call(t, w, ipc.Request{Workload: tc.workload, Params: params}, settle)
		if tc.code != "" {
			if assert.NotNil(t, res.Err, "%s(%s) = %s; want a %s containing %q", tc.workload, tc.params, res.Value, tc.code,
				tc.message) {
				assert.Equal(t, tc.code, res.Err.Code, "%s(%s): %v", tc.workload, tc.params, res.Err)
				assert.Contains(t, res.Err.Message, tc.message, "%s(%s)", tc.workload, tc.params)
			}
		} else if assert.Nil(t, res.Err, "%s(%s) failed", tc.workload, tc.params) &&
			(tc.value != "null" || res.Value != nil) { // a missing value is null
			assert.Equal(t, tc.value, string(res.Value), "%s(%s)", tc.workload, tc.params)
		}
	}
}
