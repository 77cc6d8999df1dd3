package concurrency

import (
	"context"
	"log/slog"

	"github.com/sirupsen/logrus"
)

// The engine (package pool) logs through log/slog and knows nothing of k6;
// this handler bridges its records to k6's logger, so that they land in k6's
// log with their level and fields, as k6 v2 bridges its own slog records
// (internal/cmd/logrus_slog.go, which extensions cannot import).

// newSlogLogger returns a *slog.Logger whose records go to k6's logger.
func newSlogLogger(log logrus.FieldLogger) *slog.Logger {
	return slog.New(&logrusHandler{log: log})
}

// logrusHandler is a slog.Handler writing to a logrus.FieldLogger. Groups
// prefix their attributes' keys ("group.key").
type logrusHandler struct {
	log    logrus.FieldLogger
	prefix string // the open groups, "a.b.", or ""
}

// Enabled leaves the level check to logrus, which knows k6's --verbose.
func (h *logrusHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle writes one record at its level.
func (h *logrusHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make(logrus.Fields, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		addAttr(fields, h.prefix, a)
		return true
	})
	entry := h.log.WithFields(fields)
	switch {
	case r.Level >= slog.LevelError:
		entry.Error(r.Message)
	case r.Level >= slog.LevelWarn:
		entry.Warn(r.Message)
	case r.Level >= slog.LevelInfo:
		entry.Info(r.Message)
	default:
		entry.Debug(r.Message)
	}
	return nil
}

// WithAttrs returns a handler whose records carry attrs.
func (h *logrusHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make(logrus.Fields, len(attrs))
	for _, a := range attrs {
		addAttr(fields, h.prefix, a)
	}
	return &logrusHandler{log: h.log.WithFields(fields), prefix: h.prefix}
}

// WithGroup returns a handler whose attributes' keys start with name.
func (h *logrusHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &logrusHandler{log: h.log, prefix: h.prefix + name + "."}
}

// addAttr adds a to fields, flattening groups into dotted keys and dropping
// empty attributes, as slog's handlers do.
func addAttr(fields logrus.Fields, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			addAttr(fields, prefix, g)
		}
		return
	}
	fields[prefix+a.Key] = a.Value.Any()
}
