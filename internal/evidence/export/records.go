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
	MaxLevel    string
	TopSources  []Count
	TopPrefixes []Count
	TopNets     []Count
	TopPaths    []Count
	TopAgents   []Count
}

// Open reports whether no episode_end record was found.
func (e Episode) Open() bool { return e.End.IsZero() }

// episodeJSON is the "episode" object of episode_start and episode_end.
type episodeJSON struct {
	ID          string          `json:"id"`
	Start       time.Time       `json:"start"`
	End         *time.Time      `json:"end"`
	PeakRate    float64         `json:"peak_rate"`
	Requests    int64           `json:"requests"`
	Baseline    float64         `json:"baseline"`
	MaxLevel    json.RawMessage `json:"max_level"`
	TopSources  []Count         `json:"top_sources"`
	TopPrefixes []Count         `json:"top_prefixes"`
	TopNets     []Count         `json:"top_nets"`
	TopPaths    []Count         `json:"top_paths"`
	TopAgents   []Count         `json:"top_agents"`
}

func (e episodeJSON) episode() Episode {
	ep := Episode{
		ID: e.ID, Start: e.Start.UTC(), PeakRate: e.PeakRate, Requests: e.Requests, Baseline: e.Baseline,
		MaxLevel: rawString(e.MaxLevel), TopSources: e.TopSources, TopPrefixes: e.TopPrefixes,
		TopNets: e.TopNets, TopPaths: e.TopPaths, TopAgents: e.TopAgents,
	}
	if e.End != nil {
		ep.End = e.End.UTC()
	}
	return ep
}

// record is the union of the fields Export reads from any record kind.
// Fields a kind does not have stay zero.
type record struct {
	V       int             `json:"v"`
	Kind    string          `json:"kind"`
	Time    time.Time       `json:"time"`
	Episode json.RawMessage `json:"episode"` // object in episode_start/end, id string elsewhere
	Level   json.RawMessage `json:"level"`
	Reason  string          `json:"reason"`

	// decision_summary
	Since    time.Time        `json:"since"`
	Until    time.Time        `json:"until"`
	Requests int64            `json:"requests"`
	Rate     float64          `json:"rate"`
	Outcomes map[string]int64 `json:"outcomes"`
	Classes  map[string]int64 `json:"classes"`

	// source_minute and request
	Minute time.Time `json:"minute"`
	Addr   string    `json:"addr"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`

	// clock
	Source       string `json:"source"`
	Synchronized *bool  `json:"synchronized"`

	// audit
	Actor  string `json:"actor"`
	Action string `json:"action"`
}

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
