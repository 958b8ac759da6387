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
	segments    []string // events segments holding its signed records, oldest first
	clockBefore *position
	lastTime    time.Time // time of its latest signed record
	summaryPeak float64
	summaryReqs int64
	haveStart   bool
	haveEnd     bool
	signed      bool  // some of its records are covered by a signed checkpoint
	unsigned    int64 // its records newer than their segment's latest checkpoint
}

// openSegment opens a segment's journal read-only: it takes no lock, so it
// works while a running Préau holds the segment open, writes nothing, and
// serves only the records the segment's latest signed checkpoint covers.
func openSegment(dir, stream, seg string, log *slog.Logger) (*journal.Journal, error) {
	j, err := journal.OpenReadOnly(filepath.Join(dir, stream, seg), journal.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("export: segment %s/%s: %w", stream, seg, err)
	}
	return j, nil
}

// scanEpisodes reads the events stream and returns every episode it
// describes. When target is not "", only that episode is kept, and the
// position of the last clock record before it started is noted.
//
// Only records covered by a signed checkpoint describe an episode. The
// records after each segment's latest checkpoint are then peeked at, without
// any guarantee, to count the episodes' records an export would leave out
// and to name episodes that started since. A tail that cannot be read (a
// crash tore it) is reported in the warnings, not as an error: the signed
// records are intact.
func scanEpisodes(ctx context.Context, dir, target string, log *slog.Logger) (map[string]*episodeScan, []string, error) {
	segs, err := segments(dir, StreamEvents)
	if err != nil {
		return nil, nil, err
	}
	eps := map[string]*episodeScan{}
	var warnings []string
	var lastClock *position
	var qid []byte
	if target != "" {
		qid = quotedID(target)
	}
	// decode returns the record and its episode, or ok false when the
	// record is not one of the wanted episode's.
	decode := func(b []byte) (r record, id string, obj *episodeJSON, ok bool) {
		if qid != nil && !bytes.Contains(b, qid) {
			return r, "", nil, false
		}
		if json.Unmarshal(b, &r) != nil {
			return r, "", nil, false // not ours to judge here; the journal's integrity checks are
		}
		id, obj, err := r.episodeID()
		if err != nil || id == "" || (target != "" && id != target) {
			return r, "", nil, false
		}
		return r, id, obj, true
	}
	get := func(id string) *episodeScan {
		s := eps[id]
		if s == nil {
			s = &episodeScan{ep: Episode{ID: id}}
			eps[id] = s
		}
		return s
	}
	for _, seg := range segs {
		j, err := openSegment(dir, StreamEvents, seg, log)
		if err != nil {
			return nil, nil, err
		}
		err = j.Scan(0, j.Size(), func(i int64, b []byte) error {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if bytes.Contains(b, []byte(`"clock"`)) {
				var r record
				if json.Unmarshal(b, &r) == nil && r.Kind == kindClock {
					lastClock = &position{seg, i}
					return nil
				}
			}
			r, id, obj, ok := decode(b)
			if !ok {
				return nil
			}
			s := get(id)
			s.signed = true
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
					s.haveStart = true
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
				if lv := rawString(r.Level); !s.haveEnd && levelAbove(lv, s.ep.MaxLevel) {
					s.ep.MaxLevel = lv
				}
			case kindDecisionSummary:
				if sum, ok := r.summary(); ok {
					s.summaryPeak = max(s.summaryPeak, float64(sum.Rate))
					for _, c := range suspectClasses {
						s.summaryReqs += sum.Classes[c]
					}
				}
			}
			return nil
		})
		if err == nil {
			err = j.ScanUncovered(func(_ int64, b []byte) error {
				r, id, obj, ok := decode(b)
				if !ok {
					return nil
				}
				s := get(id)
				s.unsigned++
				if !s.signed && !s.haveStart && r.Kind == kindEpisodeStart && obj != nil {
					s.ep = obj.episode()
					s.haveStart = true
				}
				return nil
			})
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("events/%s: the records after the latest signed checkpoint could not be read (%v); the signed records are intact", seg, err))
				err = nil
			}
		}
		if cerr := j.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, fmt.Errorf("export: scan events/%s: %w", seg, err)
		}
	}
	for _, s := range eps {
		if !s.signed {
			continue
		}
		if s.ep.Start.IsZero() {
			// Records of an episode whose start was not kept (an older,
			// pruned segment): its first record is the best start we have.
			s.ep.Start = s.lastTime
		}
		if !s.haveEnd {
			// While open, the start record's figures are those of the first
			// seconds; the decision summaries tell the rest: the detector's
			// peak rate and request count are of suspect traffic too.
			s.ep.End = time.Time{}
			s.ep.PeakRate = max(s.ep.PeakRate, s.summaryPeak)
			s.ep.Requests = max(s.ep.Requests, s.summaryReqs)
		}
	}
	return eps, warnings, nil
}

// ListEpisodes returns the episodes the events stream of the evidence
// directory dir describes, oldest first. It opens the segments read-only
// (see OpenReadOnly in package journal), so it works while Préau runs, and
// describes each episode from the records covered by a signed checkpoint.
// Episodes with newer records are marked Unsigned; an episode known only
// from such records is listed too, marked Unsigned, with what its start
// record says.
func ListEpisodes(dir string) ([]Episode, error) {
	// Opening a segment is routine here; only failures matter.
	eps, _, err := scanEpisodes(context.Background(), dir, "", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	out := make([]Episode, 0, len(eps))
	for _, s := range eps {
		ep := s.ep
		ep.Unsigned = s.unsigned > 0
		out = append(out, ep)
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
