package schema

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
)

// testSchema has one param of each kind that workloads do not use.
func testSchema() *Schema {
	return &Schema{Name: "new Thing()", Noun: "option", Params: []Param{
		{Name: "argv", Type: Strings, NonEmpty: true, NoNUL: true, MaxLen: 8},
		{Name: "env", Type: StringMap, Scalars: true, NoNUL: true, Check: func(v any) error {
			if _, ok := v.(map[string]string)["MARK"]; ok {
				return errors.New("cannot set MARK")
			}
			return nil
		}},
		{Name: "tags", Type: StringMap, Want: "must be an object of string tag values"},
		{Name: "init", Type: Object, Fields: []Param{
			{Name: "workload", Type: String, Required: true, NonEmpty: true},
			{Name: "params", Type: Object, Nullable: true},
		}},
		{Name: "signal", Type: Any, Nullable: true},
		{Name: "seconds", Type: Any, Parse: func(v any) (any, error) {
			if f, ok := v.(float64); ok && f > 0 {
				return f, nil
			}
			return nil, errors.New("must be a positive number of seconds")
		}},
		{Name: "grace", Type: Duration, Positive: true},
		{Name: "drain", Type: Bool},
		{Name: "cwd", Type: String, NonEmpty: true, NoNUL: true, MaxLen: 16, Want: "must be a directory path"},
	}}
}

func TestBindKinds(t *testing.T) {
	t.Parallel()
	s := testSchema()
	require.NoError(t, s.Check())
	token := struct{ id int }{7}
	args, err := s.Bind(map[string]any{
		"argv":    []any{"python3", "w.py", ""},
		"env":     map[string]any{"A": "x", "N": 1.5, "B": true},
		"tags":    map[string]any{"name": "login"},
		"init":    map[string]any{"workload": "noop", "params": nil},
		"signal":  token,
		"seconds": 2.5,
		"grace":   "1s",
		"drain":   true,
		"cwd":     "/tmp",
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"python3", "w.py", ""}, args.Strings("argv"))
	assert.Equal(t, map[string]string{"A": "x", "N": "1.5", "B": "true"}, args.StringMap("env"))
	assert.Equal(t, map[string]string{"name": "login"}, args.StringMap("tags"))
	in := args.Object("init")
	assert.Equal(t, "noop", in.String("workload"))
	assert.False(t, in.Has("params"), "null params are absent")
	assert.Nil(t, in.Map("params"))
	assert.Equal(t, token, args.Any("signal"), "an Any without Parse is passed through")
	assert.InDelta(t, 2.5, args.Any("seconds"), 0)
	assert.Equal(t, time.Second, args.Duration("grace"))
	assert.True(t, args.Bool("drain"))
	assert.Equal(t, "/tmp", args.String("cwd"))
	assert.Equal(t, []string{"argv", "env", "tags", "init", "signal", "seconds", "grace", "drain", "cwd"}, s.Names())

	empty, err := s.Bind(nil)
	require.NoError(t, err)
	assert.Nil(t, empty.Strings("argv"))
	assert.Nil(t, empty.StringMap("env"))
	assert.False(t, empty.Object("init").Has("workload"), "an absent object has no keys")
	assert.False(t, empty.Has("signal"))
}

func TestBindKindsRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"unknown", map[string]any{"bogus": 1.0}, `new Thing(): unknown option "bogus" (options: argv, cwd, drain, env, grace, init, seconds, signal, tags)`},
		{"argv not a list", map[string]any{"argv": "sh"}, `option "argv" must be a non-empty array of strings, got "sh"`},
		{"argv empty", map[string]any{"argv": []any{}}, `option "argv" must be a non-empty array of strings, got an array`},
		{"argv item", map[string]any{"argv": []any{"sh", 1.0}}, `option "argv" item 1 must be a string of at most 8 bytes, got 1`},
		{"argv NUL", map[string]any{"argv": []any{"s\x00h"}}, `option "argv" item 0 must be a string of at most 8 bytes, got "s\x00h"`},
		{"argv long", map[string]any{"argv": []any{"123456789"}}, `item 0 must be a string of at most 8 bytes`},
		{"env not an object", map[string]any{"env": []any{}}, `option "env" must be an object of string, number or boolean values, got an array`},
		{"env value", map[string]any{"env": map[string]any{"A": []any{}}}, `option "env" value of "A" must be a string, number or boolean, got an array`},
		{"env NUL", map[string]any{"env": map[string]any{"A": "a\x00"}}, `value of "A" must be a string, number or boolean without NUL bytes`},
		{"env check", map[string]any{"env": map[string]any{"MARK": "1"}}, `option "env" cannot set MARK`},
		{"tags want", map[string]any{"tags": 1.0}, `option "tags" must be an object of string tag values, got 1`},
		{"tags number", map[string]any{"tags": map[string]any{"name": 1.0}}, `option "tags" value of "name" must be a string, got 1`},
		{"init not an object", map[string]any{"init": "noop"}, `option "init" must be an object { workload, params? }, got "noop"`},
		{"init required", map[string]any{"init": map[string]any{}}, `option "init" key "workload" is required (must be a non-empty string)`},
		{"init unknown", map[string]any{"init": map[string]any{"workload": "x", "p": 1.0}}, `option "init" has unknown key "p" (keys: params, workload)`},
		{"init field", map[string]any{"init": map[string]any{"workload": ""}}, `option "init" key "workload" must be a non-empty string, got ""`},
		{"init params", map[string]any{"init": map[string]any{"workload": "x", "params": []any{}}}, `key "params" must be an object, got an array`},
		{"parse", map[string]any{"seconds": -1.0}, `option "seconds" must be a positive number of seconds, got -1`},
		{"positive", map[string]any{"grace": 0.0}, `option "grace" must be a positive duration (like "10ms", or a number of ms), got 0`},
		{"bool", map[string]any{"drain": "yes"}, `option "drain" must be true or false, got "yes"`},
		{"want", map[string]any{"cwd": ""}, `option "cwd" must be a directory path, got ""`},
		{"NUL", map[string]any{"cwd": "a\x00"}, `option "cwd" must be a directory path`},
		{"null", map[string]any{"drain": nil}, `option "drain" must be true or false, got null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := testSchema().Bind(tc.raw)
			var te *taskerr.Error
			require.ErrorAs(t, err, &te)
			assert.Equal(t, taskerr.InvalidArgument, te.Code)
			assert.Contains(t, te.Message, tc.want)
			assert.True(t, strings.HasPrefix(te.Message, "new Thing(): "), te.Message)
		})
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	p := Param{Name: "workers", Type: Int, Min: 1, Max: 4}
	v, err := p.Value(3)
	require.NoError(t, err)
	assert.Equal(t, int64(3), v)
	_, err = p.Value(5.0)
	require.EqualError(t, err, "must be an integer from 1 to 4")
	_, err = p.Value(nil)
	require.Error(t, err)
	d, err := (&Param{Type: Duration}).Value(1500 * time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, d)
}

func TestCheckDeclarations(t *testing.T) {
	t.Parallel()
	for name, params := range map[string][]Param{
		`param name "a" is empty or repeated`:       {{Name: "a", Type: Int}, {Name: "a", Type: Int}},
		`param b: unknown type "list"`:              {{Name: "b", Type: "list"}},
		`param c: default x: must be an integer`:    {{Name: "c", Type: Int, Default: "x"}},
		`param d: param e: unknown type "thing"`:    {{Name: "d", Type: Object, Fields: []Param{{Name: "e", Type: "thing"}}}},
		`param f: default [a]: must be a non-empty`: {{Name: "f", Type: Strings, NonEmpty: true, MaxLen: 0, Default: []string{"a"}, NoNUL: true, Check: func(any) error { return errors.New("must be a non-empty list") }}},
	} {
		err := (&Schema{Params: params}).Check()
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
	}
}

func TestRawSchema(t *testing.T) {
	t.Parallel()
	s := &Schema{Name: "echo", Raw: true}
	raw := map[string]any{"anything": []any{1.0}}
	args, err := s.Bind(raw)
	require.NoError(t, err)
	assert.Equal(t, raw, args.Raw())
	assert.False(t, args.Has("anything"))
	assert.PanicsWithValue(t, `echo reads param "anything" that it does not declare`, func() { args.Int("anything") })
}
