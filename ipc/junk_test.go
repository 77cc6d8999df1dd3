package ipc

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/k6-concurrency/xk6-concurrency/taskerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJunkMessage: whatever a worker sends that is not a frame, the error
// names what it was: text is quoted (with a hint for JSON without its length
// prefix), other bytes are shown in hex.
func TestJunkMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("log line ", 20)
	cases := []struct {
		name, in, want string
	}{
		{
			"banner", "Starting worker v1.2\n\x00\x00\x00\x10{\"type\":\"hello\"}",
			`wrote text to its standard output, which is for protocol frames only (print to stderr instead): "Starting worker v1.2\n"...`,
		},
		{
			"json without prefix", `{"type":"hello","protocol":1}`,
			`wrote text to its standard output, which is for protocol frames only (print to stderr instead) (a JSON message without its 4-byte length prefix?): "{\"type\":\"hello\",\"protocol\":1}"`,
		},
		{"long text", long, `: "` + long[:64] + `"...`},
		{"text cut short", "ok", `wrote text to its standard output, which is for protocol frames only (print to stderr instead): "ok"`},
		{"utf-8 text", "Démarriage… prêt\n", `: "Démarriage… prêt\n"`},
		{"binary over the limit", "\xff\xff\xff\xff\x01\x02", "frame of 4294967295 bytes is over the 16777216-byte limit; the bytes it sent begin ff ff ff ff 01 02"},
		{"too small", "\x00\x00\x00\x01{", "frame of 1 bytes is too small (a frame holds a JSON object of at least 2 bytes); the bytes it sent begin 00 00 00 01 7b"},
		{"cut inside a real frame", "\x00\x00\x00\x10{\"ty", "truncated frame: the stream ended after 4 of 16 bytes (12 missing)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReader(strings.NewReader(tc.in))
			_, err := ReadFrame(br, nil, DefaultMaxFrame)
			var fe *FrameError
			require.ErrorAs(t, err, &fe, "ReadFrame")
			assert.Contains(t, junkMessage(fe, br), tc.want)
		})
	}
}

// TestWorkerBannerBeforeHello is the input: a worker that prints a
// banner on stdout before its hello is told so, with the banner, instead of
// "a frame of 1633906021 bytes".
func TestWorkerBannerBeforeHello(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, script, want string }{
		{"banner", `echo "Starting the worker"; exec "$0"`, `wrote text to its standard output, which is for protocol frames only (print to stderr instead): "Starting the worker\n"`},
		{"json without prefix", `printf '{"type":"hello"}'; exec "$0"`, `wrote text to its standard output, which is for protocol frames only (print to stderr instead) (a JSON message without its 4-byte length prefix?): "{\"type\":\"hello\"}"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := selfConfig()
			cfg.Argv = []string{"sh", "-c", tc.script, os.Args[0]}
			w, err := Start(cfg)
			if err == nil {
				w.Close(time.Second)
			}
			require.Error(t, err, "a worker that printed before its hello started")
			var e *taskerr.Error
			require.ErrorAs(t, err, &e, "%T", err)
			wantCrash(t, e, "broke the protocol: "+tc.want)
			assert.NotContains(t, e.Message, "frame of", "the message still speaks of a frame")
			assertReaped(t, pidIn(t, e.Message))
		})
	}
}
