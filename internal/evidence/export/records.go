package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"preau/internal/shield/detect"
)

// The streams of an evidence directory, in the order a package lists them.
const (
	StreamEvents   = "events"
	StreamSources  = "sources"
	StreamRequests = "requests"
)

var streams = []string{StreamEvents, StreamSources, StreamRequests}

// Record kinds of the recorder's schema (version 1).
const (
	kindEpisodeStart    = "episode_start"
	kindEpisodeEnd      = "episode_end"
	kindLevelChange     = "level_change"
	kindDecisionSummary = "decision_summary"
	kindAudit           = "audit"
	kindClock           = "clock"
	kindSourceMinute    = "source_minute"
	kindRequest         = "request"
)

// Count is one entry of a recorded top-N list: a key (an address, a prefix,
// a path, an agent) with its estimated count and the estimate's error bound.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Err   int64  `json:"err,omitempty"`
}

// Episode is an attack episode as the events stream describes it.
type Episode struct {
	ID          string
	Start       time.Time // UTC
	End         time.Time // UTC; zero while the episode is open
	PeakRate    float64   // requests/s
	Requests    int64
	Baseline    float64
	MaxLevel    string // the detector's level name, e.g. "challenge"
	TopSources  []Count
	TopPrefixes []Count
	TopNets     []Count
	TopPaths    []Count
	TopAgents   []Count

	// Unsigned is set by ListEpisodes when some of the episode's events
	// records are newer than the latest signed checkpoint of their segment
	// (at most a minute old while Préau runs): an export now leaves them out.
	// An episode known only from such records has nothing else filled in
	// but ID and, when its start record is among them, the episode object
	// that record holds.
	Unsigned bool
}

// Open reports whether no episode_end record was found.
func (e Episode) Open() bool { return e.End.IsZero() }

// number is a JSON number that the recorder writes as the string "NaN",
// "+Inf" or "-Inf" when it is not finite (a rate divided by zero must not
// lose a record). Non-finite values read as 0: nothing downstream (CSV,
// STIX, metadata.json) can carry them, and the detector's rates are finite.
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN", "+Inf", "-Inf":
			*n = 0
			return nil
		}
		return fmt.Errorf("number %q is neither a number nor NaN or ±Inf", s)
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = number(f)
	return nil
}

// episodeJSON is the "episode" object of episode_start and episode_end
// records (record.episodeJSON in the recorder).
type episodeJSON struct {
	ID          string          `json:"id"`
	Start       time.Time       `json:"start"`
	End         *time.Time      `json:"end"` // absent while the episode is open
	PeakRate    number          `json:"peak_rate"`
	Requests    int64           `json:"requests"`
	Baseline    number          `json:"baseline"`
	MaxLevel    json.RawMessage `json:"max_level"`
	TopSources  []Count         `json:"top_sources"`
	TopPrefixes []Count         `json:"top_prefixes"`
	TopNets     []Count         `json:"top_nets"`
	TopPaths    []Count         `json:"top_paths"`
	TopAgents   []Count         `json:"top_agents"`
}

func (e episodeJSON) episode() Episode {
	ep := Episode{
		ID: e.ID, Start: e.Start.UTC(), PeakRate: float64(e.PeakRate), Requests: e.Requests, Baseline: float64(e.Baseline),
		MaxLevel: rawString(e.MaxLevel), TopSources: e.TopSources, TopPrefixes: e.TopPrefixes,
		TopNets: e.TopNets, TopPaths: e.TopPaths, TopAgents: e.TopAgents,
	}
	if e.End != nil {
		ep.End = e.End.UTC()
	}
	return ep
}

// record is the union of the top-level fields Export reads from any record
// kind of the recorder's schema (see package record). Fields a kind does
// not have stay zero.
type record struct {
	V       int             `json:"v"`
	Kind    string          `json:"kind"`
	Time    time.Time       `json:"time"`
	Episode json.RawMessage `json:"episode"` // object in episode_start/end, id string elsewhere
	Level   json.RawMessage `json:"level"`   // the level's name
	Reason  string          `json:"reason"`
	// The detector's event fields; only a decision_summary's are read, and
	// only when needed (see summary), so that a field of an unexpected
	// type in another kind cannot make a record unreadable.
	Fields json.RawMessage `json:"fields"`

	// source_minute (Addr also in request)
	Minute   time.Time `json:"minute"`
	Addr     string    `json:"addr"`
	Requests int64     `json:"requests"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`

	// clock
	ClockSource string `json:"clock_source"`
	TimeSync    string `json:"time_sync"` // "yes", "no" or "unknown"
	SyncSource  string `json:"sync_source"`
	MaxErrorUS  *int64 `json:"max_error_us"`
	EstErrorUS  *int64 `json:"est_error_us"`
	Host        string `json:"host"`

	// audit
	Actor  string `json:"actor"`
	Action string `json:"action"`
}

// summary is the "fields" object of a decision_summary record: the
// detector's counts since the previous summary (one a second during an
// episode, one a minute when calm).
type summary struct {
	Since    time.Time        `json:"since"`
	Until    time.Time        `json:"until"`
	Requests int64            `json:"requests"`
	Rate     number           `json:"rate"` // suspect requests/s in the last window
	Outcomes map[string]int64 `json:"outcomes"`
	Classes  map[string]int64 `json:"classes"`
}

// summary decodes a decision_summary's fields; ok is false when they are
// missing or malformed.
func (r *record) summary() (s summary, ok bool) {
	if len(r.Fields) == 0 || json.Unmarshal(r.Fields, &s) != nil {
		return summary{}, false
	}
	return s, true
}

// suspectClasses are the classes whose requests the detector counts in an
// episode (anonymous visitors and pass holders carry no credential).
var suspectClasses = []string{"anonymous", "pass", "other"}

// episodeID returns the episode a record belongs to ("" for none) and, for
// episode_start and episode_end, the episode object.
func (r *record) episodeID() (string, *episodeJSON, error) {
	b := bytes.TrimSpace(r.Episode)
	switch {
	case len(b) == 0 || string(b) == "null":
		return "", nil, nil
	case b[0] == '"':
		var id string
		if err := json.Unmarshal(b, &id); err != nil {
			return "", nil, err
		}
		return id, nil, nil
	case b[0] == '{':
		var e episodeJSON
		if err := json.Unmarshal(b, &e); err != nil {
			return "", nil, err
		}
		return e.ID, &e, nil
	}
	return "", nil, fmt.Errorf("episode is neither a string nor an object")
}

// minRecord is what Export needs of a request record: the raw stream holds
// most of the leaves, so only these fields are decoded.
type minRecord struct {
	Kind    string          `json:"kind"`
	Time    time.Time       `json:"time"`
	Episode json.RawMessage `json:"episode"`
}

// levelRank orders the detector's level names.
var levelRank = func() map[string]int {
	m := map[string]int{}
	for l := detect.Normal; l <= detect.BlockTopPrefixes; l++ {
		m[l.String()] = int(l)
	}
	return m
}()

// levelAbove reports whether level a is higher than b. An unknown name
// only replaces "".
func levelAbove(a, b string) bool {
	if b == "" {
		return a != ""
	}
	ra, oka := levelRank[a]
	rb, okb := levelRank[b]
	return oka && okb && ra > rb
}

// rawString renders a JSON scalar (a level may be a name or a number) as
// text.
func rawString(b json.RawMessage) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var s string
	if b[0] == '"' && json.Unmarshal(b, &s) == nil {
		return s
	}
	return string(b)
}

var segmentName = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// segmentMonth parses a segment name, "YYYY-MM".
func segmentMonth(name string) (time.Time, bool) {
	if !segmentName.MatchString(name) {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01", name)
	return t, err == nil
}

// segments lists the segment names of a stream, oldest first: the
// directories named YYYY-MM that hold a journal. A missing stream has none.
func segments(dir, stream string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, stream))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export: list %s segments: %w", stream, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, ok := segmentMonth(e.Name()); !ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, stream, e.Name(), "records.dat")); err != nil {
			continue // not a journal (yet); never let Open create one
		}
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out, nil
}

// segmentRecords estimates the number of records in a segment from the
// size of its index (8 bytes per record after a 16-byte header, as the
// journal documents), for progress reports only.
func segmentRecords(dir, stream, seg string) int64 {
	fi, err := os.Stat(filepath.Join(dir, stream, seg, "index.dat"))
	if err != nil || fi.Size() < 16 {
		return 0
	}
	return (fi.Size() - 16) / 8
}

// label names a segment in a package: "<stream>-<YYYY-MM>".
func label(stream, seg string) string { return stream + "-" + seg }

// quotedID is the episode identifier as it appears inside a record, used to
// skip unrelated records without decoding them.
func quotedID(id string) []byte {
	b, _ := json.Marshal(id)
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
