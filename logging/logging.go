package logging

import (
	"context"
	"io"
	"log/slog"
	"slices"
)

// AreaKey is the attribute that names a logger's area.
const AreaKey = "area"

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("json" or "text"), with debug output for the given
// areas ("*" for all).
func New(w io.Writer, level, format string, debugAreas []string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var inner slog.Handler
	if format == "text" {
		inner = slog.NewTextHandler(w, opts)
	} else {
		inner = slog.NewJSONHandler(w, opts)
	}
	return slog.New(&areaHandler{
		inner: inner,
		level: parseLevel(level),
		all:   slices.Contains(debugAreas, "*"),
		areas: debugAreas,
	})
}

// Area returns l tagged with an area, whose debug lines GATEHOUSE_DEBUG can
// turn on.
func Area(l *slog.Logger, area string) *slog.Logger { return l.With(AreaKey, area) }

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

type areaHandler struct {
	inner slog.Handler
	level slog.Level
	all   bool
	areas []string
	area  string
}

func (h *areaHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l >= h.level {
		return true
	}
	return l >= slog.LevelDebug && h.area != "" && (h.all || slices.Contains(h.areas, h.area))
}

func (h *areaHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *areaHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	for _, a := range attrs {
		if a.Key == AreaKey {
			c.area = a.Value.String()
		}
	}
	return &c
}

func (h *areaHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	return &c
}
