package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"preau/internal/evidence/journal"
)

// Stream names.
const (
	Events   = "events"
	Sources  = "sources"
	Requests = "requests"
)

var streamNames = [...]string{Events, Sources, Requests}

// DefaultRetention is the retention of each stream when Config.Retention
// does not name it (see the package documentation for why).
var DefaultRetention = map[string]time.Duration{
	Events:   365 * 24 * time.Hour,
	Sources:  365 * 24 * time.Hour,
	Requests: 90 * 24 * time.Hour,
}

// segmentsLog is the file, in each stream's directory, that keeps the final
// checkpoint of every segment retention removed.
const segmentsLog = "segments.log"

// appendChunk bounds the records of one journal append, to stay well under
// the journal's batch limit with the largest aggregates.
const appendChunk = 1000

var monthDir = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)

// A Segment is one month of one stream: a journal directory.
type Segment struct {
	Stream string
	Month  string // "YYYY-MM", UTC
	Dir    string
}

// stream is one stream's directory and its open segment.
type stream struct {
	name      string
	dir       string
	retention time.Duration
	rec       *Recorder

	// mu is held for reading while appending to or checkpointing seg, and
	// for writing while seg is replaced.
	mu     sync.RWMutex
	seg    *segment
	closed bool

	// dirMu is held while a segment other than seg is open (sealing,
	// retention, scans): a journal directory can be open only once at a
	// time. Lock order: mu before dirMu; never mu while holding dirMu.
	dirMu sync.Mutex

	appended, dropped, errors atomic.Uint64
}

type segment struct {
	month string
	j     *journal.Journal
	dirty atomic.Bool // appended to since the last checkpoint
}

func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }

func (s *stream) origin(month string) string { return s.rec.origin + "/" + s.name + "/" + month }

func (s *stream) journalOptions(origin string) journal.Options {
	return journal.Options{Origin: origin, Now: s.rec.now, ClockSource: s.rec.clockSource, Logger: s.rec.log}
}

// append writes recs to the segment of the current month, rolling over
// first if the month changed. Failures are counted and logged here, so that
// the writer can go on; the error is for Audit.
func (s *stream) append(recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	n, err := s.appendOnce(recs)
	s.appended.Add(uint64(n))
	if err != nil {
		s.errors.Add(uint64(len(recs) - n))
		s.rec.log.Error("evidence record: append failed", "stream", s.name, "records", len(recs)-n, "err", err)
		return err
	}
	return nil
}

// appendOnce returns how many records were appended: all of them, or the
// chunks before the one that failed.
func (s *stream) appendOnce(recs [][]byte) (int, error) {
	month := monthOf(s.rec.now())
	for {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return 0, fmt.Errorf("record: %s: %w", s.name, ErrClosed)
		}
		// A clock stepping back into the previous month keeps the current
		// segment: segments only move forward.
		if seg := s.seg; seg != nil && seg.month >= month {
			n := 0
			var err error
			for c := range slices.Chunk(recs, appendChunk) {
				if _, err = seg.j.Append(c...); err != nil {
					break
				}
				n += len(c)
				seg.dirty.Store(true)
			}
			s.mu.RUnlock()
			if err != nil {
				return n, fmt.Errorf("record: %s %s: %w", s.name, seg.month, err)
			}
			return n, nil
		}
		s.mu.RUnlock()

		s.mu.Lock()
		err := s.roll(month)
		s.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
}

// roll makes month's segment the open one, sealing the previous. Called
// with s.mu held.
func (s *stream) roll(month string) error {
	if s.closed {
		return fmt.Errorf("record: %s: %w", s.name, ErrClosed)
	}
	if s.seg != nil && s.seg.month >= month {
		return nil
	}
	if s.seg != nil {
		if err := s.sealOpen(); err != nil {
			// The old segment stays as it is; its unsigned tail is signed
			// when it is next opened (retention or the next start).
			s.rec.log.Error("evidence record: seal segment", "stream", s.name, "month", s.seg.month, "err", err)
		}
		s.seg = nil
	} else if err := s.sealStale(month); err != nil {
		s.rec.log.Error("evidence record: seal previous segment", "stream", s.name, "err", err)
	}
	dir := filepath.Join(s.dir, month)
	origin := ""
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		origin = s.origin(month) // an existing journal keeps the origin it was created with
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("record: %s: %w", s.name, err)
	}
	s.dirMu.Lock()
	j, err := journal.Open(dir, s.journalOptions(origin))
	s.dirMu.Unlock()
	if err != nil {
		return fmt.Errorf("record: %s: open segment %s: %w", s.name, month, err)
	}
	s.seg = &segment{month: month, j: j}
	s.rec.log.Info("evidence segment opened", "stream", s.name, "month", month, "records", j.Size())
	return nil
}

// sealOpen signs the final checkpoint of the open segment and closes it.
// Called with s.mu held.
func (s *stream) sealOpen() error {
	seg := s.seg
	var errs []error
	if cp, ok := seg.j.Latest(); !ok || cp.Tree.N != seg.j.Size() {
		if _, err := seg.j.Checkpoint(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := seg.j.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("record: %s: seal %s: %w", s.name, seg.month, err)
	}
	return nil
}

// sealStale signs the final checkpoint of the latest segment before month if
// a crash left records after its last checkpoint. Every rollover seals the
// segment it closes, so only the latest one can need it. Called with s.mu
// held.
func (s *stream) sealStale(month string) error {
	segs, err := s.segments()
	if err != nil {
		return err
	}
	var last *Segment
	for i := range segs {
		if segs[i].Month < month {
			last = &segs[i]
		}
	}
	if last == nil {
		return nil
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	_, _, err = s.sealDir(last.Dir)
	return err
}

// sealDir opens a closed segment, signs a checkpoint if the latest does not
// cover every record, and closes it. Called with s.dirMu held.
func (s *stream) sealDir(dir string) (journal.Checkpoint, string, error) {
	j, err := journal.Open(dir, s.journalOptions(""))
	if err != nil {
		return journal.Checkpoint{}, "", err
	}
	cp, ok := j.Latest()
	if !ok || cp.Tree.N != j.Size() {
		if cp, err = j.Checkpoint(); err != nil {
			j.Close()
			return journal.Checkpoint{}, "", err
		}
	}
	vkey := j.VerifierKey()
	if err := j.Close(); err != nil {
		return journal.Checkpoint{}, "", err
	}
	return cp, vkey, nil
}

// checkpoint signs a checkpoint of the open segment if it was appended to
// since the last one.
func (s *stream) checkpoint() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seg := s.seg
	if seg == nil || !seg.dirty.Swap(false) {
		return nil
	}
	if _, err := seg.j.Checkpoint(); err != nil {
		seg.dirty.Store(true) // try again next minute
		return fmt.Errorf("record: %s %s: %w", s.name, seg.month, err)
	}
	return nil
}

// close seals the open segment; the stream then refuses appends.
func (s *stream) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.seg == nil {
		return nil
	}
	err := s.sealOpen()
	s.seg = nil
	return err
}

// segments lists the stream's segment directories, oldest first.
func (s *stream) segments() ([]Segment, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: %s: list segments: %w", s.name, err)
	}
	var out []Segment
	for _, e := range ents {
		if e.IsDir() && monthDir.MatchString(e.Name()) {
			out = append(out, Segment{Stream: s.name, Month: e.Name(), Dir: filepath.Join(s.dir, e.Name())})
		}
	}
	return out, nil // ReadDir sorts by name, which is by month
}

// removal is one line of segments.log.
type removal struct {
	Removed     string `json:"removed"` // when, RFC 3339 UTC
	Stream      string `json:"stream"`
	Month       string `json:"month"`
	Retention   string `json:"retention"`
	Records     int64  `json:"records"`
	Root        string `json:"root"`
	VerifierKey string `json:"verifier_key"`
	Checkpoint  string `json:"checkpoint"` // the final signed checkpoint note
}

// sweep removes the segments whose month ended more than the retention
// before now, and returns what it removed.
func (s *stream) sweep(now time.Time) []removal {
	segs, err := s.segments()
	if err != nil {
		s.rec.log.Error("evidence retention", "stream", s.name, "err", err)
		return nil
	}
	var done []removal
	for _, seg := range segs {
		start, err := time.Parse("2006-01", seg.Month)
		if err != nil {
			continue
		}
		if !start.AddDate(0, 1, 0).Add(s.retention).Before(now) {
			continue
		}
		rm, err := s.remove(seg, now)
		if err != nil {
			s.rec.log.Error("evidence retention: segment kept", "stream", s.name, "month", seg.Month, "err", err)
			continue
		}
		s.rec.log.Info("evidence retention: segment removed", "stream", s.name, "month", seg.Month, "records", rm.Records)
		done = append(done, rm)
	}
	return done
}

func (s *stream) remove(seg Segment, now time.Time) (removal, error) {
	// The open segment is never old enough; if a clock stepped far back
	// made it so, it stays, and the journal's lock would refuse the open
	// below anyway.
	if s.isOpen(seg.Month) {
		return removal{}, fmt.Errorf("record: %s %s: segment is open", s.name, seg.Month)
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	cp, vkey, err := s.sealDir(seg.Dir)
	if err != nil {
		return removal{}, fmt.Errorf("record: %s %s: final checkpoint: %w", s.name, seg.Month, err)
	}
	rm := removal{
		Removed:     fmtTime(now),
		Stream:      s.name,
		Month:       seg.Month,
		Retention:   s.retention.String(),
		Records:     cp.Tree.N,
		Root:        cp.Tree.Hash.String(),
		VerifierKey: vkey,
		Checkpoint:  string(cp.Signed),
	}
	// The log line first: a crash between the two leaves a logged segment
	// still on disk, which the next sweep removes (logging it again), never
	// a segment gone without a trace.
	line, err := json.Marshal(rm)
	if err != nil {
		return removal{}, fmt.Errorf("record: %s: %w", s.name, err)
	}
	if err := appendSync(filepath.Join(s.dir, segmentsLog), append(line, '\n')); err != nil {
		return removal{}, fmt.Errorf("record: %s: %w", s.name, err)
	}
	if err := os.RemoveAll(seg.Dir); err != nil {
		return removal{}, fmt.Errorf("record: %s: remove %s: %w", s.name, seg.Month, err)
	}
	if err := syncDir(s.dir); err != nil {
		return removal{}, fmt.Errorf("record: %s: %w", s.name, err)
	}
	return rm, nil
}

// appendSync appends b to the file at path and fsyncs it (and its directory
// when the file is new).
func appendSync(path string, b []byte) error {
	_, statErr := os.Lstat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if statErr != nil {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// scan calls fn with every record of the stream, oldest segment first. The
// open segment is read through its journal, under s.mu for reading; the
// others are opened for the scan under dirMu, so that appends go on.
func (s *stream) scan(fn func(rec []byte) error) error {
	segs, err := s.segments()
	if err != nil {
		return err
	}
	each := func(_ int64, rec []byte) error { return fn(rec) }
	for _, seg := range segs {
		// Twice at most: a segment found closed may be opened by the
		// writer (at start-up) before the scan opens it.
		for try := 0; ; try++ {
			s.mu.RLock()
			if cur := s.seg; cur != nil && cur.month == seg.Month {
				err := cur.j.Scan(0, cur.j.Size(), each)
				s.mu.RUnlock()
				if err != nil {
					return fmt.Errorf("record: %s: scan %s: %w", s.name, seg.Month, err)
				}
				break
			}
			s.mu.RUnlock()

			s.dirMu.Lock()
			j, err := journal.Open(seg.Dir, s.journalOptions(""))
			if err == nil {
				err = j.Scan(0, j.Size(), each)
				if cerr := j.Close(); err == nil {
					err = cerr
				}
			}
			s.dirMu.Unlock()
			if err == nil {
				break
			}
			if try == 0 && s.isOpen(seg.Month) {
				continue
			}
			if _, serr := os.Stat(seg.Dir); errors.Is(serr, fs.ErrNotExist) {
				break // removed by retention meanwhile
			}
			return fmt.Errorf("record: %s: scan %s: %w", s.name, seg.Month, err)
		}
	}
	return nil
}

func (s *stream) isOpen(month string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seg != nil && s.seg.month == month
}
