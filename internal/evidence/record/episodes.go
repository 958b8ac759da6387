package record

import (
	"encoding/json"
	"time"

	"preau/internal/shield/detect"
)

// EpisodeSummary is an episode as the events stream tells it.
type EpisodeSummary struct {
	ID         string
	Start      time.Time
	End        time.Time // zero if no episode_end was recorded (open, or the process stopped)
	PeakRate   float64
	Requests   uint64
	MaxLevel   string
	TopSources []detect.Talker // from episode_end, or the latest record while open
	// Timeline is the episode's traffic from its decision summaries, one
	// point per window (a second) merged into at most MaxTimeline points:
	// requests per second, admitted, shed, and refused in any other way.
	Timeline []detect.Point
}

// MaxTimeline bounds an episode's timeline: longer episodes are drawn with
// wider points, so that a week-long attack costs what a short one does.
const MaxTimeline = 240

// scanned is the part of an events record Episodes reads. Episode is an
// object in episode_start and episode_end records and an id otherwise.
type scanned struct {
	Kind    string          `json:"kind"`
	Episode json.RawMessage `json:"episode"`
	Fields  struct {
		EpisodeID  string            `json:"episode_id"`
		TopSources []talkerJSON      `json:"top_sources"`
		Since      time.Time         `json:"since"`
		Until      time.Time         `json:"until"`
		Outcomes   map[string]uint64 `json:"outcomes"`
	} `json:"fields"`
}

type scannedEpisode struct {
	ID         string       `json:"id"`
	Start      time.Time    `json:"start"`
	End        time.Time    `json:"end"`
	PeakRate   any          `json:"peak_rate"`
	Requests   uint64       `json:"requests"`
	MaxLevel   string       `json:"max_level"`
	TopSources []talkerJSON `json:"top_sources"`
}

// Episodes reads the events stream and returns the episodes it records, in
// the order they started. A record that does not decode is skipped: the
// journals' integrity is checked by the journal package, not here.
func (r *Recorder) Episodes() ([]EpisodeSummary, error) {
	var order []string
	byID := make(map[string]*EpisodeSummary)
	timelines := make(map[string]*timeline)
	get := func(id string) *EpisodeSummary {
		e, ok := byID[id]
		if !ok {
			e = &EpisodeSummary{ID: id}
			byID[id] = e
			order = append(order, id)
		}
		return e
	}
	err := r.events.scan(func(rec []byte) error {
		var s scanned
		if json.Unmarshal(rec, &s) != nil {
			return nil
		}
		switch s.Kind {
		case "episode_start", "episode_end":
			var ep scannedEpisode
			if json.Unmarshal(s.Episode, &ep) != nil || ep.ID == "" {
				return nil
			}
			e := get(ep.ID)
			e.Start, e.End = ep.Start, ep.End
			if f, ok := ep.PeakRate.(float64); ok {
				e.PeakRate = f
			}
			e.Requests, e.MaxLevel = ep.Requests, ep.MaxLevel
			if len(ep.TopSources) > 0 || s.Kind == "episode_end" {
				e.TopSources = talkersFrom(ep.TopSources)
			}
		case "decision_summary", "level_change":
			var id string
			if json.Unmarshal(s.Episode, &id) != nil || id == "" {
				return nil
			}
			e, ok := byID[id]
			if !ok || !e.End.IsZero() {
				return nil // the end record's summary is final
			}
			if s.Kind == "decision_summary" {
				tl := timelines[id]
				if tl == nil {
					tl = &timeline{start: e.Start}
					timelines[id] = tl
				}
				tl.add(s.Fields.Since, s.Fields.Until, s.Fields.Outcomes)
			}
			if len(s.Fields.TopSources) > 0 {
				e.TopSources = talkersFrom(s.Fields.TopSources)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]EpisodeSummary, len(order))
	for i, id := range order {
		out[i] = *byID[id]
		if tl := timelines[id]; tl != nil {
			out[i].Timeline = tl.points()
		}
	}
	return out, nil
}

// timeline accumulates an episode's decision summaries into points of
// equal width: one second at first, twice as wide each time the episode
// outgrows MaxTimeline points.
type timeline struct {
	start time.Time
	width time.Duration
	sums  []detect.Point // request counts, not rates, until points()
}

// add counts one decision summary in the point where it starts. The first
// summary of an episode covers the calm time before it: it is counted
// from the episode's start.
func (t *timeline) add(since, until time.Time, outcomes map[string]uint64) {
	if until.IsZero() || until.Before(t.start) {
		return
	}
	if since.Before(t.start) {
		since = t.start
	}
	if t.width == 0 {
		t.width = time.Second
	}
	i := int(since.Sub(t.start) / t.width)
	for i >= MaxTimeline {
		merged := make([]detect.Point, (len(t.sums)+1)/2, MaxTimeline)
		for j, p := range t.sums {
			m := &merged[j/2]
			m.Total, m.Admitted, m.Shed, m.Blocked = m.Total+p.Total, m.Admitted+p.Admitted, m.Shed+p.Shed, m.Blocked+p.Blocked
		}
		t.sums, t.width = merged, t.width*2
		i = int(since.Sub(t.start) / t.width)
	}
	for len(t.sums) <= i {
		t.sums = append(t.sums, detect.Point{})
	}
	var total uint64
	for _, n := range outcomes {
		total += n
	}
	p := &t.sums[i]
	p.Total += float64(total)
	p.Admitted += float64(outcomes["admitted"])
	p.Shed += float64(outcomes["shed"])
	p.Blocked += float64(outcomes["blocked"] + outcomes["limited"] + outcomes["challenged"] + outcomes["queued"])
}

// points returns the timeline as requests per second.
func (t *timeline) points() []detect.Point {
	out := make([]detect.Point, len(t.sums))
	secs := t.width.Seconds()
	for i, p := range t.sums {
		out[i] = detect.Point{Time: t.start.Add(time.Duration(i) * t.width), Total: p.Total / secs, Admitted: p.Admitted / secs,
			Shed: p.Shed / secs, Blocked: p.Blocked / secs}
	}
	return out
}

func talkersFrom(ts []talkerJSON) []detect.Talker {
	out := make([]detect.Talker, len(ts))
	for i, t := range ts {
		out[i] = detect.Talker{Key: t.Key, Count: t.Count, Err: t.Err}
	}
	return out
}
