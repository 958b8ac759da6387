package detect

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"
)

// Event is one detection decision, in emission order (Seq increases by one
// per event of a Detector).
type Event struct {
	Seq     uint64
	Time    time.Time // the window end (or the clock for manual changes)
	Kind    string    // "episode_start", "episode_end", "level_change", "decision_summary"
	Episode *Episode  // a copy: the episode concerned, if any
	Level   Level     // the effective level after the event
	Reason  string    // why: "rate_above_baseline", "surge", "sustained", "cool_down", "manual_on", ...
	Fields  map[string]any
}

// Sink receives events. Emit is called with the detector's lock held and
// must not block; it must not call back into the Detector.
type Sink interface{ Emit(Event) }

// ChannelSink buffers events in a bounded channel and drops (and counts)
// them when it is full.
type ChannelSink struct {
	ch      chan Event
	dropped atomic.Uint64
}

// NewChannelSink returns a sink buffering up to n events (at least 1).
func NewChannelSink(n int) *ChannelSink {
	return &ChannelSink{ch: make(chan Event, max(n, 1))}
}

// Emit queues e, or drops it if the buffer is full.
func (s *ChannelSink) Emit(e Event) {
	select {
	case s.ch <- e:
	default:
		s.dropped.Add(1)
	}
}

// Events is the channel to read events from.
func (s *ChannelSink) Events() <-chan Event { return s.ch }

// Dropped is the number of events dropped because the buffer was full.
func (s *ChannelSink) Dropped() uint64 { return s.dropped.Load() }

// Forward passes the buffered events to to (which may be slow, a SlogSink
// writing to a file, the evidence log) until ctx is done.
func (s *ChannelSink) Forward(ctx context.Context, to Sink) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.ch:
			to.Emit(e)
		}
	}
}

// SlogSink writes each event as a structured slog record with message
// "shield.<kind>": warnings for episode starts and level rises, info
// otherwise. Writing may block on the handler's output: put it behind a
// ChannelSink (Forward) unless the handler is in memory.
type SlogSink struct {
	Logger *slog.Logger // nil: slog.Default()
}

// Emit logs e.
func (s SlogSink) Emit(e Event) {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	lvl := slog.LevelInfo
	switch e.Kind {
	case "episode_start":
		lvl = slog.LevelWarn
	case "level_change":
		if from, ok := e.Fields["from"].(Level); ok && e.Level > from {
			lvl = slog.LevelWarn
		}
	}
	attrs := make([]slog.Attr, 0, 6+len(e.Fields))
	attrs = append(attrs,
		slog.Uint64("seq", e.Seq),
		slog.Time("event_time", e.Time.UTC()),
		slog.String("shield_level", e.Level.String()))
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if ep := e.Episode; ep != nil {
		g := []any{
			slog.String("id", ep.ID),
			slog.Time("start", ep.Start.UTC()),
			slog.Float64("peak_rate", ep.PeakRate),
			slog.Uint64("requests", ep.Requests),
			slog.String("max_level", ep.MaxLevel.String()),
			slog.Float64("baseline", ep.Baseline),
			slog.Any("top_sources", ep.TopSources),
			slog.Any("top_prefixes", ep.TopPrefixes),
			slog.Any("top_nets", ep.TopNets),
			slog.Any("top_paths", ep.TopPaths),
			slog.Any("top_agents", ep.TopAgents),
		}
		if !ep.End.IsZero() {
			g = append(g, slog.Time("end", ep.End.UTC()))
		}
		attrs = append(attrs, slog.Group("episode", g...))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		attrs = append(attrs, slog.Any(k, e.Fields[k]))
	}
	l.LogAttrs(context.Background(), lvl, "shield."+e.Kind, attrs...)
}
