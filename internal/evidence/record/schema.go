package record

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"preau/internal/shield/detect"
)

// schemaVersion is the "v" of every record. It changes only when a key
// changes meaning, so that old journals stay readable.
const schemaVersion = 1

// Truncation limits, in bytes. Attackers choose paths and user agents: a
// bound keeps one request from filling a record or the memory of an
// aggregate.
const (
	maxPath   = 512
	maxAgent  = 200
	maxMethod = 32
)

// header holds the fields every record starts with.
type header struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	Time string `json:"time"`
}

func newHeader(kind string, t time.Time) header {
	return header{V: schemaVersion, Kind: kind, Time: fmtTime(t)}
}

// episodeRecord is an episode_start or episode_end record.
type episodeRecord struct {
	header
	Seq     uint64         `json:"seq"`
	Episode episodeJSON    `json:"episode"`
	Level   string         `json:"level"`
	Reason  string         `json:"reason,omitempty"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// eventRecord is a level_change or decision_summary record; Episode is the
// id of the open episode, if any.
type eventRecord struct {
	header
	Seq     uint64         `json:"seq"`
	Episode string         `json:"episode,omitempty"`
	Level   string         `json:"level"`
	Reason  string         `json:"reason,omitempty"`
	Fields  map[string]any `json:"fields,omitempty"`
}

type episodeJSON struct {
	ID          string       `json:"id"`
	Start       string       `json:"start"`
	End         string       `json:"end,omitempty"`
	PeakRate    number       `json:"peak_rate"`
	Requests    uint64       `json:"requests"`
	Baseline    number       `json:"baseline"`
	MaxLevel    string       `json:"max_level"`
	TopSources  []talkerJSON `json:"top_sources"`
	TopPrefixes []talkerJSON `json:"top_prefixes"`
	TopNets     []talkerJSON `json:"top_nets"`
	TopPaths    []talkerJSON `json:"top_paths"`
	TopAgents   []talkerJSON `json:"top_agents"`
}

type talkerJSON struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
	Err   uint64 `json:"err"`
}

// sourceMinuteRecord aggregates one source's requests over one minute of an
// episode.
type sourceMinuteRecord struct {
	header
	Minute   string            `json:"minute"`
	Episode  string            `json:"episode"`
	Addr     string            `json:"addr"`
	Requests uint64            `json:"requests"`
	Outcomes map[string]uint64 `json:"outcomes"`
	Paths    map[string]uint64 `json:"paths"`
	Agent    string            `json:"agent"`
	First    string            `json:"first"`
	Last     string            `json:"last"`
}

// requestRecord is one sampled request; its header time is the request's.
type requestRecord struct {
	header
	Episode string `json:"episode"`
	Addr    string `json:"addr"`
	Port    uint16 `json:"port"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Status  int    `json:"status"`
	Bytes   int64  `json:"bytes"`
	Agent   string `json:"agent"`
	Class   string `json:"class"`
	Outcome string `json:"outcome"`
}

type auditRecord struct {
	header
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Details map[string]any `json:"details"`
}

// clockRecord tells investigators how far the times of the records that
// follow can be trusted.
type clockRecord struct {
	header
	ClockSource string `json:"clock_source"`
	TimeSync    string `json:"time_sync"`             // "yes", "no" or "unknown"
	SyncSource  string `json:"sync_source,omitempty"` // how TimeSync was found out
	MaxErrorUS  *int64 `json:"max_error_us,omitempty"`
	EstErrorUS  *int64 `json:"est_error_us,omitempty"`
	Host        string `json:"host,omitempty"`
	PID         int    `json:"pid"`
}

// number is a float64 that encodes NaN and ±Inf as strings, which
// encoding/json refuses: a record must never fail to encode because a rate
// divided by zero.
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(f)
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func episodeOf(ep *detect.Episode) episodeJSON {
	e := episodeJSON{
		ID:          ep.ID,
		Start:       fmtTime(ep.Start),
		PeakRate:    number(ep.PeakRate),
		Requests:    ep.Requests,
		Baseline:    number(ep.Baseline),
		MaxLevel:    ep.MaxLevel.String(),
		TopSources:  talkersOf(ep.TopSources),
		TopPrefixes: talkersOf(ep.TopPrefixes),
		TopNets:     talkersOf(ep.TopNets),
		TopPaths:    talkersOf(ep.TopPaths),
		TopAgents:   talkersOf(ep.TopAgents),
	}
	if !ep.End.IsZero() {
		e.End = fmtTime(ep.End)
	}
	return e
}

// talkersOf never returns nil, so that an empty list encodes as [] and
// readers need not tell null from empty.
func talkersOf(ts []detect.Talker) []talkerJSON {
	out := make([]talkerJSON, len(ts))
	for i, t := range ts {
		out[i] = talkerJSON{Key: t.Key, Count: t.Count, Err: t.Err}
	}
	return out
}

// fieldsOf converts an event's or an audit entry's fields to values that
// encode as plain JSON. A value that still does not encode is kept as its
// fmt %v text rather than losing the record.
func fieldsOf(f map[string]any) map[string]any {
	if len(f) == 0 {
		return nil
	}
	out := make(map[string]any, len(f))
	for k, v := range f {
		c := jsonValue(v, 0)
		if _, err := json.Marshal(c); err != nil {
			c = fmt.Sprintf("%v", v)
		}
		out[k] = c
	}
	return out
}

// maxDepth bounds the recursion of jsonValue on nested maps and slices.
const maxDepth = 8

func jsonValue(v any, depth int) any {
	switch x := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	case float64:
		return number(x)
	case float32:
		return number(x)
	case time.Time:
		return fmtTime(x)
	case time.Duration:
		return x.String()
	case detect.Level:
		return x.String()
	case netip.Addr:
		return x.String()
	case netip.Prefix:
		return x.String()
	case netip.AddrPort:
		return x.String()
	case detect.Talker:
		return talkerJSON{Key: x.Key, Count: x.Count, Err: x.Err}
	case []detect.Talker:
		return talkersOf(x)
	case *detect.Episode:
		if x == nil {
			return nil
		}
		return episodeOf(x)
	case error:
		return x.Error()
	case json.Marshaler:
		return x
	case encoding.TextMarshaler:
		return x
	case fmt.Stringer:
		return x.String()
	}
	if depth >= maxDepth {
		return fmt.Sprintf("%v", v)
	}
	// Slices and maps of the types above ([]netip.Prefix, map[string]uint64,
	// map[string]any ...), by reflection since their element types vary.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = jsonValue(rv.Index(i).Interface(), depth+1)
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[fmt.Sprint(jsonValue(iter.Key().Interface(), depth+1))] = jsonValue(iter.Value().Interface(), depth+1)
		}
		return out
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return jsonValue(rv.Elem().Interface(), depth+1)
	}
	return v
}

// marshal encodes a record as one line of compact JSON without the HTML
// escaping of json.Marshal, so that paths read as sent ("<", "&" stay).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cleanPath strips the query (it can carry tokens and personal data that
// the route does not need) and truncates.
func cleanPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return truncate(p, maxPath)
}
