package conformance

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/ipc"
	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
)

// StrayText is what hostile.stray's unhandled failure says; the worker must
// report it on stderr.
const StrayText = "conformance: a stray failure nobody handled"

// HostileCase is one case of a hostile workload: the worker gets
// {"case": Name} and must answer with a WorkloadError whose message holds
// every string of Want.
type HostileCase struct {
	Workload string // hostile.throw, hostile.return or hostile.async, without the prefix
	Name     string
	Does     string // what the workload does, for the worker's author
	Want     []string
}

// HostileCases are the cases every worker library must survive.
//
//nolint:gochecknoglobals,goconst,lll // a constant table, one case a line, shared with the ipc tests
var HostileCases = []HostileCase{
	{"hostile.throw", "unprintable", "throws an error whose text cannot be rendered (Python: __str__ raises; Node.js: throw Object.create(null); Go: panics with a value whose Error panics)", nil},
	{"hostile.throw", "unprintable_message", "fails with an error whose message cannot be read (Python: __str__ returns a non-string; Node.js: a Proxy that throws on every trap; Go: returns an error whose Error panics)", nil},
	{"hostile.throw", "not_an_error", "fails with something that is not an error (Python: a BaseException that is not an Exception; Node.js: throw undefined; Go: returns a typed nil error)", nil},
	{"hostile.throw", "huge_message", "fails with a message over the frame limit", []string{"frame limit"}},
	{"hostile.throw", "exit", "tries to end its thread (Python: SystemExit; Node.js: a promise rejected with Object.create(null); Go: runtime.Goexit)", nil},
	{"hostile.return", "nan", "returns NaN", []string{"NaN at value"}},
	{"hostile.return", "nested_nan", `returns {"a": [1, {"b": NaN}]}`, []string{"NaN at value.a[1].b"}},
	{"hostile.return", "nested_infinity", "returns [[-Infinity]]", []string{"-Infinity at value[0][0]"}},
	{"hostile.return", "cycle", `returns an object m with m["self"] = m`, []string{"cycle"}},
	{"hostile.return", "function", `returns {"f": a function}`, []string{"at value.f"}},
	{"hostile.return", "native", `returns {"c": a native value JSON has no type for} (Python: bytes; Node.js: a BigInt; Go: a channel)`, []string{"at value.c"}},
	{"hostile.return", "non_string_key", "returns a map with a non-string key (Python: {1: 'a'}; Node.js: new Map([[1, 'a']]); Go: map[any]any{1: \"a\"})", []string{"at value"}},
	{"hostile.return", "lone_surrogate", `returns {"s": "x<U+D800>y"} (Go: the CESU-8 bytes of U+D800)`, []string{"not valid Unicode", "at value.s"}},
	{"hostile.return", "deep", "returns arrays nested 100000 levels deep", []string{fmt.Sprintf("deeper than %d levels", ipc.MaxDepth)}},
	{"hostile.return", "huge", "returns a string of 20 MiB, over the frame limit", []string{"frame limit"}},
	{"hostile.return", "raising_encoder", `returns {"m": a value whose encoding fails with an unprintable error} (Python: a dict subclass whose items() raises; Node.js: toJSON throws Object.create(null); Go: MarshalJSON panics)`, nil},
	{"hostile.async", "value", `awaits, then returns {"awaited": true}`, nil},
	{"hostile.async", "throw", "awaits, then fails as hostile.throw's unprintable", nil},
}

// hostile: every hostile case is answered with a WorkloadError that says
// what went wrong, while a sibling task on the same worker succeeds, and the
// worker serves on. hostile.stray's failure is reported on stderr.
func (s *suite) hostile(t *testing.T) {
	p := s.o.HostilePrefix
	if _, ok := s.offers[p+"hostile.throw"]; !ok {
		t.Skipf("the worker does not offer %shostile.throw", p)
	}
	w, stderr := s.startLogged(t, s.argv, 2)
	pid := w.PID()
	for _, c := range HostileCases {
		name := p + c.Workload
		if _, ok := s.offers[name]; !ok {
			continue
		}
		t.Run(c.Workload+"/"+c.Name, func(t *testing.T) {
			sibling := send(t, w, ipc.Request{Workload: s.o.Sleep, Params: sleepParams(30 * time.Millisecond)})
			r := call(t, w, ipc.Request{Workload: name, Params: []byte(fmt.Sprintf(`{"case":%q}`, c.Name))}, 30*time.Second)
			if c.Workload == "hostile.async" && c.Name == "value" {
				assert.Nil(t, r.Err, "%s %s: want the value {\"awaited\":true}", name, c.Name)
				assert.Equal(t, `{"awaited":true}`, string(r.Value), "%s %s", name, c.Name)
			} else {
				checkHostile(t, name, c, r)
			}
			sr := await(t, sibling, s.o.Sleep, settle)
			assert.Nil(t, sr.Err, "a sibling task failed")
		})
	}
	if _, ok := s.offers[p+"hostile.stray"]; ok {
		t.Run("hostile.stray", func(t *testing.T) {
			r := call(t, w, ipc.Request{Workload: p + "hostile.stray"}, settle)
			assert.Nil(t, r.Err, "want the value \"ok\"")
			assert.Equal(t, `"ok"`, string(r.Value))
			alive(t, w, s.o.Noop)
			deadline := time.Now().Add(settle)
			for !strings.Contains(stderr.String(), StrayText) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			assert.Contains(t, stderr.String(), StrayText, "the stray failure is not reported on stderr")
		})
	}
	alive(t, w, s.o.Noop)
	assert.Equal(t, pid, w.PID(), "the worker was replaced")
}

func checkHostile(t *testing.T, name string, c HostileCase, r ipc.Response) {
	t.Helper()
	if !assert.NotNil(t, r.Err, "%s %s: got the value %s, want a WorkloadError", name, c.Name, clip(r.Value)) {
		return
	}
	first, _, _ := strings.Cut(r.Err.Message, "\n")
	t.Logf("%s: %s", r.Err.Code, clipText(first))
	assert.Equal(t, taskerr.Workload, r.Err.Code, "%s %s: got %s: %s, want a WorkloadError starting with %q", name, c.Name,
		r.Err.Code, clipText(r.Err.Message), name)
	assert.True(t, strings.HasPrefix(r.Err.Message, name), "%s %s: got %s: %s, want a WorkloadError starting with %q",
		name, c.Name, r.Err.Code, clipText(r.Err.Message), name)
	for _, want := range c.Want {
		assert.Contains(t, r.Err.Message, want, "%s %s: the message does not say it", name, c.Name)
	}
}

func clipText(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// depth: params nested ipc.MaxDepth levels deep come back unchanged through
// the echo; deeper ones are refused with InvalidArgumentError, and the
// worker serves on.
func (s *suite) depth(t *testing.T) {
	if _, ok := s.offers[s.o.Echo]; !ok {
		t.Skipf("the worker does not offer %q", s.o.Echo)
	}
	w := s.start(t, 1)
	nested := func(levels int) []byte { // {"a": [[...]]}: the params object is one level
		return []byte(`{"a":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`)
	}
	params := nested(ipc.MaxDepth)
	r := call(t, w, ipc.Request{Workload: s.o.Echo, Params: params}, settle)
	var sent, got any
	_ = json.Unmarshal(params, &sent)
	if assert.Nil(t, r.Err, "params %d levels deep: want them back", ipc.MaxDepth) &&
		assert.NoError(t, json.Unmarshal(r.Value, &got), "params %d levels deep: got %s; want them back", ipc.MaxDepth,
			clip(r.Value)) {
		// Not assert.Equal: its dump of 512 nested arrays says less than the clipped value.
		assert.True(t, reflect.DeepEqual(sent, got), "params %d levels deep: got %s; want them back", ipc.MaxDepth,
			clip(r.Value))
	}
	// One level more, and 20000 levels, deeper than some JSON parsers go:
	// the request is still answered.
	for _, levels := range []int{ipc.MaxDepth + 1, 20000} {
		r = call(t, w, ipc.Request{Workload: s.o.Echo, Params: nested(levels)}, settle)
		if assert.NotNil(t, r.Err, "params %d levels deep: got %s; want an InvalidArgumentError naming the limit", levels,
			clip(r.Value)) {
			assert.Equal(t, taskerr.InvalidArgument, r.Err.Code, "params %d levels deep: got %v", levels, r.Err)
			assert.Contains(t, r.Err.Message, fmt.Sprint(ipc.MaxDepth),
				"params %d levels deep: want an InvalidArgumentError naming the limit", levels)
		}
	}
	alive(t, w, s.o.Noop)
}
