package record

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"preau/internal/evidence/journal"
	"preau/internal/shield/detect"
)

var t0 = time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)

const testOrigin = "test.preau/evidence"

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// mustOpen opens a recorder in dir with the clock and test defaults; opts
// adjust the config.
func mustOpen(tb testing.TB, dir string, clock *fakeClock, opts ...func(*Config)) *Recorder {
	tb.Helper()
	cfg := Config{
		Dir:         dir,
		Now:         clock.Now,
		ClockSource: "fake",
		Logger:      slog.New(slog.DiscardHandler),
		Origin:      testOrigin,
	}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func mustClose(tb testing.TB, r *Recorder) {
	tb.Helper()
	if err := r.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
}

// readStream opens every segment of a stream (the recorder must be closed
// or be done with them), checks that it opens cleanly, that its latest
// checkpoint covers every record and verifies with the segment's key, and
// returns the records decoded, oldest first.
func readStream(tb testing.TB, dir, stream string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, raw := range readRaw(tb, dir, stream) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			tb.Fatalf("%s: record %s does not decode: %v", stream, raw, err)
		}
		out = append(out, m)
	}
	return out
}

func readRaw(tb testing.TB, dir, stream string) [][]byte {
	tb.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, stream))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		segDir := filepath.Join(dir, stream, e.Name())
		j, err := journal.Open(segDir, journal.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			tb.Fatalf("segment %s does not open: %v", segDir, err)
		}
		cp, ok := j.Latest()
		if !ok || cp.Tree.N != j.Size() {
			tb.Errorf("segment %s: %d records but latest checkpoint (present: %v) covers %d", segDir, j.Size(), ok, cp.Tree.N)
		}
		if want := testOrigin + "/" + stream + "/" + e.Name(); j.Origin() != want {
			tb.Errorf("segment %s: origin %q, want %q", segDir, j.Origin(), want)
		}
		if _, err := journal.VerifyCheckpoint(cp.Signed, j.VerifierKey()); err != nil {
			tb.Errorf("segment %s: checkpoint does not verify: %v", segDir, err)
		}
		if err := j.Scan(0, j.Size(), func(_ int64, rec []byte) error {
			out = append(out, bytes.Clone(rec))
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
		if err := j.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

func ofKind(recs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["kind"] == kind {
			out = append(out, r)
		}
	}
	return out
}

func kinds(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["kind"].(string))
	}
	return out
}

func testEpisode(id string, start time.Time) *detect.Episode {
	return &detect.Episode{
		ID: id, Start: start, PeakRate: 420.5, Requests: 1000, Baseline: 12.5, MaxLevel: detect.Challenge,
		TopSources: []detect.Talker{{Key: "203.0.113.7", Count: 600, Err: 2}},
	}
}

func startEvent(ep *detect.Episode, at time.Time) detect.Event {
	return detect.Event{Seq: 1, Time: at, Kind: "episode_start", Episode: ep, Level: detect.Normal, Reason: "rate_above_baseline",
		Fields: map[string]any{"rate": 420.5, "baseline": 12.5, "threshold": 37.5}}
}

func endEvent(ep *detect.Episode, at time.Time) detect.Event {
	e := *ep
	e.End = at.Add(-10 * time.Second)
	return detect.Event{Seq: 9, Time: at, Kind: "episode_end", Episode: &e, Level: detect.TightenBuckets, Reason: "rate_back_to_baseline",
		Fields: map[string]any{"rate": 3.0, "baseline": 12.5, "threshold": 18.75}}
}

// source is a synthetic client sending n requests in a minute.
type source struct {
	addr      string
	outcome   string
	path      string
	agent     string
	perMinute [2]int
}

func TestEpisodeIsRecorded(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(t0)
	const every = 10
	r := mustOpen(t, dir, clock, func(c *Config) { c.SampleEvery = every })

	ep := testEpisode("ep-20240304T100000Z-1", t0)
	r.Emit(startEvent(ep, t0.Add(5*time.Second)))
	if got := r.Stats().Episode; got != ep.ID {
		t.Fatalf("Stats().Episode = %q after episode_start, want %q", got, ep.ID)
	}
	sources := []source{
		{"203.0.113.7", "blocked", "/login?user=alice", "curl/8.0", [2]int{30, 20}},
		{"198.51.100.1", "admitted", "/homework", "Mozilla/5.0", [2]int{12, 0}},
		{"2001:db8::1", "challenged", "/", "bot", [2]int{5, 7}},
	}
	total, floorSum := 0, 0
	for m := range 2 {
		for _, s := range sources {
			for i := range s.perMinute[m] {
				at := t0.Add(time.Duration(m)*time.Minute + 10*time.Second + time.Duration(i)*time.Second)
				r.Request(RequestSample{Time: at, Addr: netip.MustParseAddr(s.addr), Port: 40000, Method: "GET",
					Path: s.path, Status: 403, Bytes: 120, Agent: s.agent, Class: "anonymous", Outcome: s.outcome})
			}
			total += s.perMinute[m]
		}
	}
	for _, s := range sources {
		floorSum += (s.perMinute[0] + s.perMinute[1]) / every // lower bound whatever the shards
	}
	// One extra request of the third source with another path and outcome.
	r.Request(RequestSample{Time: t0.Add(time.Minute + 59*time.Second), Addr: netip.MustParseAddr("2001:db8::1"),
		Method: "POST", Path: "/api/login", Agent: "bot", Outcome: "shed"})
	total++

	r.Emit(detect.Event{Seq: 2, Time: t0.Add(20 * time.Second), Kind: "level_change", Episode: ep, Level: detect.Challenge, Reason: "surge",
		Fields: map[string]any{"from": detect.Normal, "to": detect.Challenge, "auto": detect.Challenge, "manual": false, "rate": 420.5}})
	r.Emit(detect.Event{Seq: 3, Time: t0.Add(30 * time.Second), Kind: "decision_summary", Level: detect.Challenge,
		Fields: map[string]any{
			"since": t0, "until": t0.Add(30 * time.Second), "requests": uint64(900), "rate": 30.0,
			"outcomes":         map[string]uint64{"blocked": 800, "admitted": 100},
			"blocked_prefixes": []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
			"episode_id":       ep.ID,
			"top_sources":      []detect.Talker{{Key: "203.0.113.7", Count: 700, Err: 1}},
		}})
	r.Emit(endEvent(ep, t0.Add(2*time.Minute+10*time.Second)))
	if got := r.Stats().Episode; got != "" {
		t.Errorf("Stats().Episode = %q after episode_end, want none", got)
	}
	// After the end, requests are not aggregated.
	r.Request(RequestSample{Time: t0.Add(2*time.Minute + 20*time.Second), Addr: netip.MustParseAddr("203.0.113.7"), Outcome: "admitted"})
	mustClose(t, r)

	events := readStream(t, dir, Events)
	if got, want := kinds(events), []string{"clock", "episode_start", "level_change", "decision_summary", "episode_end"}; !slices.Equal(got, want) {
		t.Fatalf("events kinds = %v, want %v", got, want)
	}
	start := events[1]
	if start["v"] != 1.0 || start["time"] != "2024-03-04T10:00:05Z" || start["level"] != "normal" || start["reason"] != "rate_above_baseline" {
		t.Errorf("episode_start = %v", start)
	}
	if e := start["episode"].(map[string]any); e["id"] != ep.ID || e["max_level"] != "challenge" || e["end"] != nil || e["start"] != "2024-03-04T10:00:00Z" {
		t.Errorf("episode_start episode = %v", e)
	}
	if f := start["fields"].(map[string]any); f["threshold"] != 37.5 {
		t.Errorf("episode_start fields = %v", f)
	}
	if lc := events[2]; lc["episode"] != ep.ID || lc["fields"].(map[string]any)["from"] != "normal" {
		t.Errorf("level_change = %v", lc)
	}
	ds := events[3]
	if ds["episode"] != ep.ID {
		t.Errorf("decision_summary episode = %v, want %s", ds["episode"], ep.ID)
	}
	dsf := ds["fields"].(map[string]any)
	if fmt.Sprint(dsf["blocked_prefixes"]) != "[203.0.113.0/24]" || dsf["since"] != "2024-03-04T10:00:00Z" ||
		fmt.Sprint(dsf["top_sources"]) != "[map[count:700 err:1 key:203.0.113.7]]" || fmt.Sprint(dsf["outcomes"]) != "map[admitted:100 blocked:800]" {
		t.Errorf("decision_summary fields = %v", dsf)
	}
	if e := events[4]["episode"].(map[string]any); e["end"] != "2024-03-04T10:02:00Z" {
		t.Errorf("episode_end episode = %v", e)
	}

	// Exact counts per source and minute, sorted by minute then address.
	type row struct {
		minute, addr string
		requests     float64
	}
	var got []row
	srcRecs := readStream(t, dir, Sources)
	for _, rec := range srcRecs {
		if rec["kind"] != "source_minute" || rec["episode"] != ep.ID {
			t.Errorf("sources record %v", rec)
		}
		got = append(got, row{rec["minute"].(string), rec["addr"].(string), rec["requests"].(float64)})
	}
	want := []row{
		{"2024-03-04T10:00:00Z", "198.51.100.1", 12},
		{"2024-03-04T10:00:00Z", "203.0.113.7", 30},
		{"2024-03-04T10:00:00Z", "2001:db8::1", 5},
		{"2024-03-04T10:01:00Z", "203.0.113.7", 20},
		{"2024-03-04T10:01:00Z", "2001:db8::1", 8},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("source_minute rows =\n%v\nwant\n%v", got, want)
	}
	a := srcRecs[1] // 203.0.113.7, minute 0
	if fmt.Sprint(a["outcomes"]) != "map[blocked:30]" || fmt.Sprint(a["paths"]) != "map[/login:30]" || a["agent"] != "curl/8.0" ||
		a["first"] != "2024-03-04T10:00:10Z" || a["last"] != "2024-03-04T10:00:39Z" {
		t.Errorf("source_minute of 203.0.113.7 = %v", a)
	}
	c := srcRecs[4] // 2001:db8::1, minute 1
	if fmt.Sprint(c["outcomes"]) != "map[challenged:7 shed:1]" || fmt.Sprint(c["paths"]) != "map[/:7 /api/login:1]" || c["last"] != "2024-03-04T10:01:59Z" {
		t.Errorf("source_minute of 2001:db8::1 = %v", c)
	}

	reqs := readStream(t, dir, Requests)
	if n := len(reqs); n < floorSum || n > total/every {
		t.Errorf("%d request records for %d requests; want between %d and %d (1 in %d per shard)", n, total, floorSum, total/every, every)
	}
	for _, q := range reqs {
		if q["kind"] != "request" || q["episode"] != ep.ID || strings.Contains(q["path"].(string), "?") {
			t.Errorf("request record %v", q)
		}
	}

	st := r.Stats()
	if st.Streams[Sources].Appended != 5 || st.Streams[Events].Appended != 5 || st.Streams[Requests].Appended != uint64(len(reqs)) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestRecordSchema(t *testing.T) {
	ep := testEpisode("ep-20240304T100000Z-1", t0)
	start := startEvent(ep, t0.Add(5*time.Second))
	for _, tc := range []struct {
		name string
		rec  any
		want string
	}{
		{"episode_start", eventRecordOf(start),
			`{"v":1,"kind":"episode_start","time":"2024-03-04T10:00:05Z","seq":1,"episode":{"id":"ep-20240304T100000Z-1","start":"2024-03-04T10:00:00Z","peak_rate":420.5,"requests":1000,"baseline":12.5,"max_level":"challenge","top_sources":[{"key":"203.0.113.7","count":600,"err":2}],"top_prefixes":[],"top_nets":[],"top_paths":[],"top_agents":[]},"level":"normal","reason":"rate_above_baseline","fields":{"baseline":12.5,"rate":420.5,"threshold":37.5}}`},
		{"level_change", eventRecordOf(detect.Event{Seq: 2, Time: t0, Kind: "level_change", Episode: ep, Level: detect.Challenge, Reason: "manual_on",
			Fields: map[string]any{"from": detect.Normal, "to": detect.Challenge, "manual": true, "rate": math.Inf(1)}}),
			`{"v":1,"kind":"level_change","time":"2024-03-04T10:00:00Z","seq":2,"episode":"ep-20240304T100000Z-1","level":"challenge","reason":"manual_on","fields":{"from":"normal","manual":true,"rate":"+Inf","to":"challenge"}}`},
		{"decision_summary", eventRecordOf(detect.Event{Seq: 3, Time: t0, Kind: "decision_summary", Level: detect.Normal,
			Fields: map[string]any{"since": t0.Add(-time.Minute).In(time.FixedZone("CET", 3600)), "until": t0, "requests": uint64(60),
				"classes": map[string]uint64{"member": 60}, "blocked_prefixes": []netip.Prefix{netip.MustParsePrefix("2001:db8::/56")}}}),
			`{"v":1,"kind":"decision_summary","time":"2024-03-04T10:00:00Z","seq":3,"level":"normal","fields":{"blocked_prefixes":["2001:db8::/56"],"classes":{"member":60},"requests":60,"since":"2024-03-04T09:59:00Z","until":"2024-03-04T10:00:00Z"}}`},
		{"request", requestRecordOf(sampled{episode: ep.ID, s: RequestSample{Time: t0, Addr: netip.MustParseAddr("203.0.113.7"), Port: 51234,
			Method: "GET", Path: "/search?q=<secret>&x=1", Status: 429, Bytes: 17, Agent: "curl/8.0", Class: "anonymous", Outcome: "limited"}}),
			`{"v":1,"kind":"request","time":"2024-03-04T10:00:00Z","episode":"ep-20240304T100000Z-1","addr":"203.0.113.7","port":51234,"method":"GET","path":"/search","status":429,"bytes":17,"agent":"curl/8.0","class":"anonymous","outcome":"limited"}`},
		{"audit", auditRecord{header: newHeader("audit", t0), Actor: "admin", Action: "shield.manual_on", Details: fieldsOf(map[string]any{"level": detect.WaitingRoom, "note": "<b>"})},
			`{"v":1,"kind":"audit","time":"2024-03-04T10:00:00Z","actor":"admin","action":"shield.manual_on","details":{"level":"waiting_room","note":"<b>"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := marshal(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("record =\n%s\nwant\n%s", b, tc.want)
			}
		})
	}
}

func TestSourceMinuteSchema(t *testing.T) {
	ep := newEpisodeState("ep-1", 1000, 10, new(atomic.Uint64))
	for i := range 3 {
		ep.observe(&RequestSample{Time: t0.Add(time.Duration(i) * time.Second), Addr: netip.MustParseAddr("192.0.2.1"),
			Path: "/a", Agent: strings.Repeat("é", 150), Outcome: "blocked"})
	}
	recs := ep.records(ep.take(0, true), t0.Add(time.Minute+5*time.Second))
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	b, err := marshal(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	agent := strings.Repeat("é", 100) // 200 bytes: truncated on a character boundary
	want := `{"v":1,"kind":"source_minute","time":"2024-03-04T10:01:05Z","minute":"2024-03-04T10:00:00Z","episode":"ep-1","addr":"192.0.2.1","requests":3,"outcomes":{"blocked":3},"paths":{"/a":3},"agent":"` + agent + `","first":"2024-03-04T10:00:00Z","last":"2024-03-04T10:00:02Z"}`
	if string(b) != want {
		t.Errorf("record =\n%s\nwant\n%s", b, want)
	}
	// After take(all), the episode's shards refuse requests.
	if _, dropped := ep.observe(&RequestSample{Time: t0, Addr: netip.MustParseAddr("192.0.2.1")}); !dropped {
		t.Error("request after the final take was counted")
	}
}

func TestAggregateBounds(t *testing.T) {
	ep := newEpisodeState("ep-1", 1000, 10, new(atomic.Uint64))
	addr := netip.MustParseAddr("192.0.2.1")
	for i := range 100 {
		ep.observe(&RequestSample{Time: t0, Addr: addr, Path: fmt.Sprintf("/p%d", i%40), Agent: fmt.Sprintf("agent-%d", i%10),
			Outcome: fmt.Sprintf("o%d", i%10)})
	}
	// A late heavy agent and path still come out on top.
	for range 50 {
		ep.observe(&RequestSample{Time: t0, Addr: addr, Path: "/p1", Agent: "heavy", Outcome: "o0"})
	}
	recs := ep.records(ep.take(0, true), t0)
	r := recs[0]
	if r.Requests != 150 || r.Agent != "heavy" || len(r.Paths) != topPaths || r.Paths["/p1"] != 53 || r.Paths[otherKey] != 8*2 {
		t.Errorf("aggregate = %+v", r)
	}
	var sum uint64
	for _, n := range r.Outcomes {
		sum += n
	}
	if sum != 150 || len(r.Outcomes) != aggOutcomes || r.Outcomes[otherKey] != 3*10 || r.Outcomes["o0"] != 60 {
		t.Errorf("outcomes = %v", r.Outcomes)
	}
}

func TestAuditIsDurable(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0))
	if err := r.Audit("mme.durand", "shield.manual_on", map[string]any{"level": detect.WaitingRoom, "until": t0.Add(time.Hour)}); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	// No Run, no Close: the record is already in the segment's file.
	raw, err := os.ReadFile(filepath.Join(dir, Events, "2024-03", "records.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"action":"shield.manual_on"`)) {
		t.Fatalf("audit record not in records.dat after Audit returned")
	}
	mustClose(t, r)
	audits := ofKind(readStream(t, dir, Events), "audit")
	if len(audits) != 1 || audits[0]["actor"] != "mme.durand" || fmt.Sprint(audits[0]["details"]) != "map[level:waiting_room until:2024-03-04T11:00:00Z]" {
		t.Errorf("audit records = %v", audits)
	}
	if err := r.Audit("x", "y", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Audit after Close = %v, want ErrClosed", err)
	}
}

func TestMonthRollover(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(time.Date(2024, 1, 31, 23, 59, 50, 0, time.UTC))
	r := mustOpen(t, dir, clock)
	if err := r.Audit("a", "before", nil); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2024, 2, 1, 0, 0, 5, 0, time.UTC))
	if err := r.Audit("a", "after", nil); err != nil {
		t.Fatal(err)
	}
	segs, err := r.Segments(Events)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Month != "2024-01" || segs[1].Month != "2024-02" || segs[0].Dir != filepath.Join(dir, Events, "2024-01") {
		t.Fatalf("Segments = %+v", segs)
	}
	// The January segment is closed (it opens while the recorder runs) and
	// its final checkpoint covers both its records.
	j, err := journal.Open(segs[0].Dir, journal.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("old segment: %v", err)
	}
	cp, ok := j.Latest()
	if !ok || cp.Tree.N != 2 || j.Size() != 2 {
		t.Errorf("old segment: %d records, checkpoint %v of %d", j.Size(), ok, cp.Tree.N)
	}
	j.Close()
	mustClose(t, r)
	recs := readStream(t, dir, Events)
	if got := kinds(recs); !slices.Equal(got, []string{"clock", "audit", "audit"}) {
		t.Errorf("kinds = %v", got)
	}
	if _, err := r.Segments("nope"); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("Segments(nope) = %v, want ErrUnknownStream", err)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC))
	r := mustOpen(t, dir, clock, func(c *Config) { c.SampleEvery = 1 })
	ep := testEpisode("ep-1", clock.Now())
	r.Emit(startEvent(ep, clock.Now()))
	r.Request(RequestSample{Time: clock.Now(), Addr: netip.MustParseAddr("192.0.2.1"), Path: "/", Outcome: "blocked"})
	r.Emit(endEvent(ep, clock.Now().Add(time.Minute)))
	mustClose(t, r)
	oldReqs := readRaw(t, dir, Requests)
	if len(oldReqs) != 1 {
		t.Fatalf("%d request records, want 1", len(oldReqs))
	}

	// June: January's requests ended more than 90 days ago, its events and
	// sources less than 365.
	clock.Set(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	r = mustOpen(t, dir, clock)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	waitFor(t, "the requests segment removed", func() bool {
		segs, err := r.Segments(Requests)
		return err == nil && len(segs) == 0
	})
	cancel()
	<-done
	mustClose(t, r)

	for _, s := range []string{Events, Sources} {
		segs, _ := r.Segments(s)
		if len(segs) == 0 || segs[0].Month != "2024-01" {
			t.Errorf("%s segments = %v; January must be kept", s, segs)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, Requests, segmentsLog))
	if err != nil {
		t.Fatal(err)
	}
	var rm removal
	if err := json.Unmarshal(b, &rm); err != nil || bytes.Count(b, []byte{'\n'}) != 1 {
		t.Fatalf("segments.log = %s (%v)", b, err)
	}
	cp, err := journal.VerifyCheckpoint([]byte(rm.Checkpoint), rm.VerifierKey)
	if err != nil {
		t.Fatalf("removed segment's checkpoint does not verify: %v", err)
	}
	if rm.Month != "2024-01" || rm.Records != 1 || cp.Tree.N != 1 || cp.Origin != testOrigin+"/requests/2024-01" {
		t.Errorf("removal = %+v, checkpoint %+v", rm, cp)
	}
	var removed []map[string]any
	for _, a := range ofKind(readStream(t, dir, Events), "audit") {
		if a["action"] == "evidence.segment_removed" {
			removed = append(removed, a)
		}
	}
	if len(removed) != 1 || removed[0]["actor"] != "preau" || removed[0]["details"].(map[string]any)["checkpoint"] != rm.Checkpoint {
		t.Errorf("segment_removed audit records = %v", removed)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; it asserts nothing about how long it took.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunFlushesMinutesAndSignsCheckpoints(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(t0.Add(10 * time.Second))
	r := mustOpen(t, dir, clock)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	ep := testEpisode("ep-1", t0)
	r.Emit(startEvent(ep, t0.Add(10*time.Second)))
	for i := range 7 {
		r.Request(RequestSample{Time: t0.Add(time.Duration(10+i) * time.Second), Addr: netip.MustParseAddr("192.0.2.1"), Outcome: "blocked"})
	}
	waitFor(t, "the episode_start record", func() bool { return r.Stats().Streams[Events].Appended == 2 })
	if n := r.Stats().Streams[Sources].Appended; n != 0 {
		t.Fatalf("%d source records written before the minute ended", n)
	}
	// The minute ended, plus the grace: Run writes it without an episode end.
	clock.Set(t0.Add(time.Minute + grace + time.Second))
	waitFor(t, "the first minute's aggregate", func() bool { return r.Stats().Streams[Sources].Appended == 1 })
	// And signs a checkpoint of the segments appended to.
	cpFile := filepath.Join(dir, Sources, "2024-03", "checkpoint")
	waitFor(t, "a checkpoint of the sources segment", func() bool {
		b, err := os.ReadFile(cpFile)
		if err != nil {
			return false
		}
		pub, err := os.ReadFile(filepath.Join(dir, Sources, "2024-03", "signing.pub"))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := journal.VerifyCheckpoint(b, strings.TrimSpace(string(pub)))
		return err == nil && cp.Tree.N == 1
	})
}

func TestNothingRecordedOutsideEpisodes(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0), func(c *Config) { c.SampleEvery = 1 })
	for range 100 {
		r.Request(RequestSample{Time: t0, Addr: netip.MustParseAddr("192.0.2.1"), Outcome: "admitted"})
	}
	r.Emit(detect.Event{Seq: 1, Time: t0, Kind: "decision_summary"})
	mustClose(t, r)
	for _, s := range []string{Sources, Requests} {
		if segs, _ := r.Segments(s); len(segs) != 0 {
			t.Errorf("%s segments %v outside episodes", s, segs)
		}
		if st := r.Stats().Streams[s]; st != (StreamStats{}) {
			t.Errorf("%s stats %+v outside episodes", s, st)
		}
	}
}

func TestMaxSourcesOverflowGoesToOther(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0), func(c *Config) { c.MaxSources = 2; c.SampleEvery = 1000 })
	ep := testEpisode("ep-1", t0)
	r.Emit(startEvent(ep, t0))
	for i := range 5 {
		for range 2 {
			r.Request(RequestSample{Time: t0.Add(time.Second), Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), Path: "/", Outcome: "blocked"})
		}
	}
	// The next minute has its own MaxSources places.
	r.Request(RequestSample{Time: t0.Add(time.Minute), Addr: netip.MustParseAddr("192.0.2.5"), Outcome: "blocked"})
	r.Emit(endEvent(ep, t0.Add(2*time.Minute)))
	mustClose(t, r)

	var got []string
	for _, rec := range readStream(t, dir, Sources) {
		got = append(got, fmt.Sprintf("%s %s %v", rec["minute"].(string)[14:16], rec["addr"], rec["requests"]))
	}
	want := []string{"00 192.0.2.1 2", "00 192.0.2.2 2", "00 other 6", "01 192.0.2.5 1"}
	if !slices.Equal(got, want) {
		t.Errorf("source_minute records = %q, want %q", got, want)
	}
	if o := r.Stats().Overflow; o != 6 {
		t.Errorf("Stats().Overflow = %d, want 6", o)
	}
}

func TestEmitNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0), func(c *Config) { c.QueueSize = 4 })
	// Nothing reads the queue: Run is not running.
	for i := range 10 {
		r.Emit(detect.Event{Seq: uint64(i + 1), Time: t0, Kind: "level_change", Level: detect.Challenge})
	}
	if d := r.Stats().Streams[Events].Dropped; d != 6 {
		t.Errorf("dropped %d events, want 6", d)
	}
	mustClose(t, r) // writes the 4 queued
	recs := readStream(t, dir, Events)
	if got := kinds(recs); !slices.Equal(got, []string{"clock", "level_change", "level_change", "level_change", "level_change"}) {
		t.Errorf("kinds = %v", got)
	}
	r.Emit(detect.Event{Kind: "level_change"}) // after Close: dropped, no panic
	if d := r.Stats().Streams[Events].Dropped; d != 7 {
		t.Errorf("dropped %d events after Close, want 7", d)
	}
}

func TestSampledRequestsDropWhenQueueFull(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0), func(c *Config) { c.QueueSize = 3; c.SampleEvery = 1 })
	r.Emit(startEvent(testEpisode("ep-1", t0), t0))
	for range 10 {
		r.Request(RequestSample{Time: t0, Addr: netip.MustParseAddr("192.0.2.1"), Outcome: "blocked"})
	}
	mustClose(t, r)
	st := r.Stats().Streams[Requests]
	if st.Appended != 3 || st.Dropped != 7 {
		t.Errorf("requests stats %+v, want 3 appended and 7 dropped", st)
	}
	// Every request is still in the aggregate.
	if src := readStream(t, dir, Sources); len(src) != 1 || src[0]["requests"] != 10.0 {
		t.Errorf("sources = %v", src)
	}
}

func TestConcurrentRequestsAreAllCounted(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0), func(c *Config) { c.SampleEvery = 50 })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Emit(startEvent(testEpisode("ep-1", t0), t0))

	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.Request(RequestSample{Time: t0.Add(time.Duration(i%120) * time.Second),
					Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(w*7 + i%3)}), Path: "/", Outcome: "blocked"})
				if i%100 == 0 {
					r.Emit(detect.Event{Time: t0, Kind: "decision_summary", Fields: map[string]any{"episode_id": "ep-1"}})
					r.Stats()
				}
			}
		})
	}
	wg.Wait()
	cancel()
	<-done
	mustClose(t, r)
	var sum float64
	for _, rec := range readStream(t, dir, Sources) {
		sum += rec["requests"].(float64)
	}
	if sum != workers*each {
		t.Errorf("aggregates count %v requests, want %d", sum, workers*each)
	}
	eps, err := r.Episodes()
	if err != nil || len(eps) != 1 || eps[0].ID != "ep-1" || !eps[0].End.IsZero() {
		t.Errorf("Episodes = %+v, %v", eps, err)
	}
}

func TestEpisodes(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(t0)
	r := mustOpen(t, dir, clock)
	ep1 := testEpisode("ep-1", t0)
	r.Emit(startEvent(ep1, t0))
	r.Emit(endEvent(ep1, t0.Add(3*time.Minute)))
	ep2 := testEpisode("ep-2", t0.Add(time.Hour))
	r.Emit(startEvent(ep2, t0.Add(time.Hour)))
	r.Emit(detect.Event{Time: t0.Add(time.Hour + time.Second), Kind: "decision_summary",
		Fields: map[string]any{"episode_id": "ep-2", "top_sources": []detect.Talker{{Key: "192.0.2.99", Count: 5}}}})
	mustClose(t, r) // writes the queued events

	r = mustOpen(t, dir, clock)
	eps, err := r.Episodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 {
		t.Fatalf("Episodes = %+v", eps)
	}
	e1, e2 := eps[0], eps[1]
	if e1.ID != "ep-1" || !e1.Start.Equal(t0) || !e1.End.Equal(t0.Add(3*time.Minute-10*time.Second)) || e1.PeakRate != 420.5 ||
		e1.Requests != 1000 || e1.MaxLevel != "challenge" || len(e1.TopSources) != 1 || e1.TopSources[0].Key != "203.0.113.7" {
		t.Errorf("episode 1 = %+v", e1)
	}
	if e2.ID != "ep-2" || !e2.End.IsZero() || len(e2.TopSources) != 1 || e2.TopSources[0] != (detect.Talker{Key: "192.0.2.99", Count: 5}) {
		t.Errorf("episode 2 (open) = %+v", e2)
	}
}

func TestClockRecord(t *testing.T) {
	dir := t.TempDir()
	r := mustOpen(t, dir, newClock(t0), func(c *Config) { c.ClockSource = "" })
	mustClose(t, r)
	recs := readStream(t, dir, Events)
	c := recs[0]
	sync, _ := c["time_sync"].(string)
	if c["kind"] != "clock" || c["time"] != "2024-03-04T10:00:00Z" || !slices.Contains([]string{"yes", "no", "unknown"}, sync) ||
		c["clock_source"] != "system (NTP-synchronised: "+sync+")" {
		t.Errorf("clock record = %v", c)
	}
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	_, err := Open(Config{
		Retention:   map[string]time.Duration{"logs": time.Hour, Requests: 0},
		SampleEvery: -1,
		Origin:      "has space",
	})
	if err == nil {
		t.Fatal("Open accepted a bad config")
	}
	for _, want := range []string{"Dir is empty", `stream "logs"`, `"requests" is 0s`, "SampleEvery", "origin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if !errors.Is(err, ErrUnknownStream) {
		t.Errorf("error %v does not wrap ErrUnknownStream", err)
	}
}

func TestFieldValuesAlwaysEncode(t *testing.T) {
	type odd struct{ C chan int }
	f := fieldsOf(map[string]any{
		"nan":     math.NaN(),
		"ch":      odd{C: make(chan int)},
		"dur":     90 * time.Second,
		"addrs":   []netip.Addr{netip.MustParseAddr("::1")},
		"err":     errors.New("boom"),
		"nested":  map[string]any{"at": t0, "lvl": []detect.Level{detect.Normal}},
		"nilsl":   []string(nil),
		"episode": testEpisode("ep-9", t0),
	})
	b, err := marshal(f)
	if err != nil {
		t.Fatalf("fields do not encode: %v", err)
	}
	for _, want := range []string{`"nan":"NaN"`, `"dur":"1m30s"`, `"addrs":["::1"]`, `"err":"boom"`,
		`"nested":{"at":"2024-03-04T10:00:00Z","lvl":["normal"]}`, `"nilsl":[]`, `"episode":{"id":"ep-9"`, `"ch":"{0x`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not contain %s", b, want)
		}
	}
}
