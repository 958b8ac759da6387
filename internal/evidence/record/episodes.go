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
}

// scanned is the part of an events record Episodes reads. Episode is an
// object in episode_start and episode_end records and an id otherwise.
type scanned struct {
	Kind    string          `json:"kind"`
	Episode json.RawMessage `json:"episode"`
	Fields  struct {
		EpisodeID  string       `json:"episode_id"`
		TopSources []talkerJSON `json:"top_sources"`
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
	}
	return out, nil
}

func talkersFrom(ts []talkerJSON) []detect.Talker {
	out := make([]detect.Talker, len(ts))
	for i, t := range ts {
		out[i] = detect.Talker{Key: t.Key, Count: t.Count, Err: t.Err}
	}
	return out
}
