package concurrency

import (
	"log/slog"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlogToLogrus: the engine's slog records reach k6's logger at their
// level, with their attributes, groups as dotted keys; logrus's level decides.
func TestSlogToLogrus(t *testing.T) {
	t.Parallel()
	logger, hook := test.NewNullLogger()
	logger.SetLevel(logrus.InfoLevel)
	log := newSlogLogger(logger.WithField("pool", "p1"))

	log.With("worker", 3).WithGroup("task").Warn("restarted", "id", 7, slog.Group("why", "code", "crash"), slog.Attr{})
	log.Error("failed", "n", 1)
	log.Debug("hidden below info")

	entries := hook.AllEntries()
	require.Len(t, entries, 2)
	assert.Equal(t, logrus.WarnLevel, entries[0].Level)
	assert.Equal(t, "restarted", entries[0].Message)
	assert.Equal(t, logrus.Fields{"pool": "p1", "worker": int64(3), "task.id": int64(7), "task.why.code": "crash"}, entries[0].Data)
	assert.Equal(t, logrus.ErrorLevel, entries[1].Level)
	assert.Equal(t, logrus.Fields{"pool": "p1", "n": int64(1)}, entries[1].Data)
}
