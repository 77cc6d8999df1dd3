package ipc

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendModule(t *testing.T) {
	t.Parallel()
	hello := `{"type":"hello","protocol":1,"concurrency":1,"max_frame":16777216}`
	for _, tc := range []struct {
		name   string
		module json.RawMessage
		want   string
	}{
		{"none", nil, hello},
		{"null", json.RawMessage("null"), hello},
		{
			"a module", json.RawMessage(`{"main":"/a.js","sources":{"/a.js":"export const x = 1;"}}`),
			`{"type":"hello","protocol":1,"concurrency":1,"max_frame":16777216,"module":{"main":"/a.js","sources":{"/a.js":"export const x = 1;"}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := appendModule(append(beginFrame(nil), hello...), tc.module)
			got := string(b[4:])
			require.Equal(t, tc.want, got)
			var m wireMsg
			require.NoError(t, m.parse([]byte(got)))
			if want := tc.module; len(want) > 0 && string(want) != "null" {
				require.Equal(t, string(want), string(m.module), "parsed module")
			}
		})
	}
}

func TestMissingFeature(t *testing.T) {
	t.Parallel()
	module := Config{Module: json.RawMessage(`{"main":"/a.js","sources":{}}`)}
	for _, tc := range []struct {
		name     string
		cfg      Config
		features []string
		missing  bool
	}{
		{"no module, no features", Config{}, nil, false},
		{"no module, features", Config{}, []string{FeatureModule}, false},
		{"a module, no features", module, nil, true},
		{"a module, other features", module, []string{"x"}, true},
		{"a module, the feature", module, []string{"x", FeatureModule}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := missingFeature(tc.cfg, tc.features)
			require.Equal(t, tc.missing, msg != "", "missingFeature = %q", msg)
			if tc.missing {
				require.Contains(t, msg, `does not load JavaScript modules: its hello does not list the "module" feature`,
					"the message does not say what is missing")
			}
		})
	}
}
