package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"preau/internal/evidence/journal"
)

// position is a leaf's place in the evidence directory.
type position struct {
	segment string
	index   int64
}

// episodeScan is what a pass over the events stream learns of one episode.
type episodeScan struct {
	ep          Episode
	segments    []string // events segments holding its records, oldest first
	clockBefore *position
	lastTime    time.Time // time of its latest record
	summaryPeak float64
	summaryReqs int64
	haveEnd     bool
}

// openSegment opens a segment's journal. The journal package has no
// read-only mode: Open takes the segment's lock and fails while a running
// Préau holds it.
func openSegment(dir, stream, seg string, now func() time.Time, log *slog.Logger) (*journal.Journal, error) {
	j, err := journal.Open(filepath.Join(dir, stream, seg), journal.Options{Now: now, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("export: segment %s/%s: %w", stream, seg, err)
	}
	return j, nil
}

// scanEpisodes reads the events stream and returns every episode it
// describes. When target is not "", only that episode is kept, and the
// position of the last clock record before it started is noted.
func scanEpisodes(ctx context.Context, dir, target string, log *slog.Logger) (map[string]*episodeScan, error) {
	segs, err := segments(dir, StreamEvents)
	if err != nil {
		return nil, err
	}
	eps := map[string]*episodeScan{}
	var lastClock *position
	var qid []byte
	if target != "" {
		qid = quotedID(target)
	}
	for _, seg := range segs {
		j, err := openSegment(dir, StreamEvents, seg, nil, log)
		if err != nil {
			return nil, err
		}
		err = j.Scan(0, j.Size(), func(i int64, b []byte) error {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			isClock := bytes.Contains(b, []byte(kindClock))
			if qid != nil && !isClock && !bytes.Contains(b, qid) {
				return nil
			}
			var r record
			if err := json.Unmarshal(b, &r); err != nil {
				return nil // not ours to judge here; Verify of the journal does
			}
			if r.Kind == kindClock {
				lastClock = &position{seg, i}
				return nil
			}
			id, obj, err := r.episodeID()
			if err != nil || id == "" || (target != "" && id != target) {
				return nil
			}
			s := eps[id]
			if s == nil {
				s = &episodeScan{ep: Episode{ID: id}}
				eps[id] = s
			}
			if len(s.segments) == 0 || s.segments[len(s.segments)-1] != seg {
				s.segments = append(s.segments, seg)
			}
			if t := r.Time.UTC(); t.After(s.lastTime) {
				s.lastTime = t
			}
			switch r.Kind {
			case kindEpisodeStart:
				if obj != nil && !s.haveEnd {
					s.ep = obj.episode()
				}
				if s.clockBefore == nil && lastClock != nil {
					c := *lastClock
					s.clockBefore = &c
				}
			case kindEpisodeEnd:
				if obj != nil {
					s.ep = obj.episode()
					if s.ep.End.IsZero() {
						s.ep.End = r.Time.UTC()
					}
					s.haveEnd = true
				}
			case kindLevelChange:
				if lv := rawString(r.Level); lv != "" && !s.haveEnd && levelAbove(lv, s.ep.MaxLevel) {
					s.ep.MaxLevel = lv
				}
			case kindDecisionSummary:
				s.summaryPeak = max(s.summaryPeak, r.Rate)
				s.summaryReqs += r.Requests
			}
			return nil
		})
		if cerr := j.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("export: scan events/%s: %w", seg, err)
		}
	}
	for _, s := range eps {
		if s.ep.Start.IsZero() {
			// Records of an episode whose start was not kept (an older,
			// pruned segment): its first record is the best start we have.
			s.ep.Start = s.lastTime
		}
		if !s.haveEnd {
			s.ep.End = time.Time{}
			s.ep.PeakRate = max(s.ep.PeakRate, s.summaryPeak)
			s.ep.Requests = max(s.ep.Requests, s.summaryReqs)
		}
	}
	return eps, nil
}

// levelAbove reports whether level a is higher than b. Levels are numbers or
// names; numbers compare as numbers, anything else only replaces "".
func levelAbove(a, b string) bool {
	if b == "" {
		return true
	}
	var x, y float64
	if json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil {
		return x > y
	}
	return false
}

// ListEpisodes returns the episodes the events stream of the evidence
// directory dir describes, oldest first. It opens each events segment in
// turn and fails on one that a running Préau holds open.
func ListEpisodes(dir string) ([]Episode, error) {
	// Opening a segment is routine here; only failures matter.
	eps, err := scanEpisodes(context.Background(), dir, "", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	out := make([]Episode, 0, len(eps))
	for _, s := range eps {
		out = append(out, s.ep)
	}
	slices.SortFunc(out, func(a, b Episode) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
