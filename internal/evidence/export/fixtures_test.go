package export

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"preau/internal/evidence/attrib"
	recorder "preau/internal/evidence/record"
	"preau/internal/shield/detect"
)

// The evidence the tests export is written by the real recorder (package
// record), from detector events built as internal/shield/detect builds them
// (same kinds, reasons, field names and Go types) and requests as the
// shield reports them, so that export reads what Préau writes.

var quiet = slog.New(slog.DiscardHandler)

// fakeClock is a settable clock for the recorder.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

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

// recording drives a recorder.Recorder the way the shield does: detector
// events through Emit, every request through Request (1 request in 1 is
// sampled, so that counts are exact). It counts what the streams should
// hold, so that a test can wait for Run to write it.
type recording struct {
	tb     testing.TB
	r      *recorder.Recorder
	clock  *fakeClock
	seq    uint64
	level  detect.Level
	events uint64 // events records expected: clock record, audits, events
	reqs   uint64 // request records expected
	live   bool   // an episode is open, so requests are recorded
	stop   context.CancelFunc
	done   chan struct{}
}

// startRecording opens a recorder on dir at the clock's time; with run,
// Run writes in the background as the shield's recorder does.
func startRecording(tb testing.TB, dir string, clock *fakeClock, run bool) *recording {
	tb.Helper()
	r, err := recorder.Open(recorder.Config{Dir: dir, SampleEvery: 1, Now: clock.Now, ClockSource: "system (NTP-synchronised: yes)",
		Logger: quiet, Origin: "test.preau/evidence", QueueSize: 1 << 14})
	if err != nil {
		tb.Fatal(err)
	}
	x := &recording{tb: tb, r: r, clock: clock, events: 1}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		x.stop, x.done = cancel, make(chan struct{})
		go func() { defer close(x.done); r.Run(ctx) }()
	}
	tb.Cleanup(x.close)
	return x
}

// emit passes an event to the recorder with the detector's sequence number
// and effective level.
func (x *recording) emit(ev detect.Event) {
	x.seq++
	ev.Seq = x.seq
	if ev.Kind == "level_change" {
		x.level = ev.Fields["to"].(detect.Level)
	}
	ev.Level = x.level
	switch ev.Kind {
	case "episode_start":
		x.live = true
	case "episode_end":
		x.live = false
	}
	x.r.Emit(ev)
	x.events++
}

func (x *recording) request(s recorder.RequestSample) {
	x.r.Request(s)
	if x.live {
		x.reqs++
	}
}

func (x *recording) audit(actor, action string, details map[string]any) {
	x.tb.Helper()
	if err := x.r.Audit(actor, action, details); err != nil {
		x.tb.Fatal(err)
	}
	x.events++
}

// settle waits until Run has written every event and sampled request, and
// at least sources source_minute records. It waits for a condition, not
// for a duration: the deadline only turns a hang into a failure.
func (x *recording) settle(sources uint64) {
	x.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := x.r.Stats()
		for name, s := range st.Streams {
			if s.Dropped > 0 || s.Errors > 0 {
				x.tb.Fatalf("stream %s: %d records dropped, %d lost to errors", name, s.Dropped, s.Errors)
			}
		}
		if st.Streams[recorder.Events].Appended == x.events && st.Streams[recorder.Requests].Appended == x.reqs &&
			st.Streams[recorder.Sources].Appended >= sources {
			return
		}
		if time.Now().After(deadline) {
			x.tb.Fatalf("recorder did not write everything: %+v; want %d events, %d requests, %d sources", st.Streams, x.events, x.reqs, sources)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// close stops Run and closes the recorder (final checkpoints).
func (x *recording) close() {
	if x.stop != nil {
		x.stop()
		<-x.done
		x.stop = nil
	}
	if err := x.r.Close(); err != nil {
		x.tb.Error(err)
	}
}

// Events as the detector emits them.

func episodeStart(ep detect.Episode, rate float64) detect.Event {
	return detect.Event{Time: ep.Start.Add(5 * time.Second), Kind: "episode_start", Episode: &ep, Reason: "rate_above_baseline",
		Fields: map[string]any{"rate": rate, "baseline": ep.Baseline, "threshold": 3 * max(ep.Baseline, 50.0/3)}}
}

func levelChange(ep *detect.Episode, at time.Time, from, to detect.Level, reason string, rate float64) detect.Event {
	ev := detect.Event{Time: at, Kind: "level_change", Reason: reason,
		Fields: map[string]any{"from": from, "to": to, "auto": to, "manual": false, "rate": rate, "baseline": 4.5}}
	if ep != nil {
		c := *ep
		ev.Episode = &c
	}
	return ev
}

func episodeEnd(ep detect.Episode, at time.Time, rate float64) detect.Event {
	return detect.Event{Time: at, Kind: "episode_end", Episode: &ep, Reason: "rate_back_to_baseline",
		Fields: map[string]any{"rate": rate, "baseline": ep.Baseline, "threshold": 1.5 * max(ep.Baseline, 50.0/3)}}
}

// hit is one request of a generated second.
type hit struct {
	addr, method, path, agent, class, outcome string
	status                                    int
}

// counts are a second's requests as a decision summary counts them.
type counts struct {
	total              uint64
	outcomes, classes  map[string]uint64
	suspect            uint64
	legit, att, refuse int64 // the report's series, computed independently of export
}

// play sends the hits of the second starting at s to the recorder, evenly
// spread over it, and notes them in the truth.
func (x *recording) play(s time.Time, hits []hit, truth *truth) counts {
	c := counts{outcomes: map[string]uint64{}, classes: map[string]uint64{}}
	var admitted, legit int64
	for i, h := range hits {
		at := s.Add(time.Duration(i) * time.Second / time.Duration(len(hits)))
		x.request(recorder.RequestSample{Time: at, Addr: netip.MustParseAddr(h.addr), Port: uint16(40000 + i), Method: h.method,
			Path: h.path + "?session=secret", Status: h.status, Bytes: 512, Agent: h.agent, Class: h.class, Outcome: h.outcome})
		c.total++
		c.outcomes[h.outcome]++
		c.classes[h.class]++
		switch h.class {
		case "anonymous", "pass":
			c.suspect++
		case "member", "staff", "allowlisted":
			legit++
		}
		switch h.outcome {
		case "admitted":
			admitted++
		case "blocked", "limited", "challenged", "queued", "shed":
			c.refuse++
		}
		if truth != nil && x.live {
			truth.saw(h.addr, at)
		}
	}
	c.legit, c.att = legit, max(admitted-legit, 0)
	return c
}

// summaryEvent is the decision_summary the detector emits at the end of [since,
// until) during an episode (epID set) or outside one.
func summaryEvent(since, until time.Time, c counts, rate float64, epID string, top []detect.Talker, blocked []netip.Prefix) detect.Event {
	f := map[string]any{"since": since, "until": until, "requests": c.total, "rate": rate, "baseline": 4.5,
		"auto": detect.Normal, "outcomes": c.outcomes, "classes": c.classes}
	if len(blocked) > 0 {
		f["blocked_prefixes"] = blocked
	}
	if epID != "" {
		f["episode_id"] = epID
		f["top_sources"] = top
		f["top_prefixes"] = []detect.Talker{}
		f["top_paths"] = []detect.Talker{{Key: "POST /login/index.php", Count: 3}}
	}
	return detect.Event{Time: until, Kind: "decision_summary", Fields: f}
}

// truth is what the generated traffic of an episode was, to check a
// package against.
type truth struct {
	sources   map[string]*sourceTruth
	timeline  timelineTotals
	summaries int
	requests  int64 // request records of the episode
}

type sourceTruth struct {
	requests    int64
	first, last time.Time
}

func (t *truth) saw(addr string, at time.Time) {
	s := t.sources[addr]
	if s == nil {
		s = &sourceTruth{first: at}
		t.sources[addr] = s
	}
	s.requests++
	s.last = at
	t.requests++
}

func (t *truth) summarised(c counts) {
	t.summaries++
	t.timeline.Legitimate += c.legit
	t.timeline.Attack += c.att
	t.timeline.Blocked += c.refuse
}

// scenario describes the evidence built by buildScenario.
type scenario struct {
	dir        string
	id         string // the episode to export
	before     string // an unrelated episode before it
	after      string // an unrelated episode after it
	start, end time.Time
	addrs      []string // the flood's source addresses
	member     string   // a signed-in pupil's address
	otherAddrs []string // addresses only in the unrelated episodes
	truth      truth
}

// buildScenario records three episodes; the one to export crosses from
// March into April 2025, so its leaves span two segments of events and
// requests. A first recorder records an episode on March 30 and is
// stopped; a second, running in the background as in Préau, is started on
// March 31 at 22:59 (its clock record is the last before the episode) and
// records the episode through midnight, then a cool-down; a third records
// an unrelated episode on April 1 at 09:00.
func buildScenario(tb testing.TB) scenario {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "evidence")
	sc := scenario{
		dir: dir, id: "ep-20250331T235925Z-1", before: "ep-20250330T095955Z-1", after: "ep-20250401T085955Z-1",
		start:      time.Date(2025, 3, 31, 23, 59, 25, 0, time.UTC),
		end:        time.Date(2025, 4, 1, 0, 0, 40, 0, time.UTC),
		addrs:      []string{"45.83.64.17", "91.198.174.192", "2a01:4f8:c17:1::9"},
		member:     "198.51.100.10",
		otherAddrs: []string{"185.220.101.33", "77.88.55.60"},
		truth:      truth{sources: map[string]*sourceTruth{}},
	}
	clock := &fakeClock{t: time.Date(2025, 3, 30, 9, 0, 0, 0, time.UTC)}

	x := startRecording(tb, dir, clock, false)
	unrelated(x, sc.before, time.Date(2025, 3, 30, 9, 59, 55, 0, time.UTC), sc.otherAddrs)
	clock.Set(time.Date(2025, 3, 30, 12, 0, 0, 0, time.UTC))
	x.audit("admin", "shield.manual_on", map[string]any{"level": detect.Challenge})
	clock.Set(time.Date(2025, 3, 30, 13, 0, 0, 0, time.UTC))
	x.close()

	clock.Set(time.Date(2025, 3, 31, 22, 59, 0, 0, time.UTC))
	x = startRecording(tb, dir, clock, true)
	flood := []hit{
		{sc.addrs[0], "POST", "/login/index.php", "python-requests/2.31", "anonymous", "blocked", 403},
		{sc.addrs[0], "POST", "/login/index.php", "python-requests/2.31", "anonymous", "blocked", 403},
		{sc.addrs[0], "POST", "/login/index.php", "python-requests/2.31", "anonymous", "blocked", 403},
		{sc.addrs[1], "GET", "/", "Mozilla/5.0", "anonymous", "challenged", 200},
		{sc.addrs[1], "GET", "/", "Mozilla/5.0", "anonymous", "challenged", 200},
		{sc.addrs[2], "GET", "/", "curl/8.0", "anonymous", "admitted", 200},
		{sc.member, "GET", "/homework", "Mozilla/5.0 (Android)", "member", "admitted", 200},
	}
	calm := flood[len(flood)-1:]
	top := []detect.Talker{{Key: sc.addrs[0], Count: 210}, {Key: sc.addrs[1], Count: 140}, {Key: sc.addrs[2], Count: 70}}
	blocked := []netip.Prefix{netip.MustParsePrefix("45.83.64.0/24")}
	ep := detect.Episode{ID: sc.id, Start: sc.start, PeakRate: 6, Requests: 30, Baseline: 4.5, MaxLevel: detect.Normal,
		TopSources: top[:1], TopPaths: []detect.Talker{{Key: "POST /login/index.php", Count: 15}}, TopAgents: []detect.Talker{}}
	second := func(s time.Time, hits []hit) {
		c := x.play(s, hits, &sc.truth)
		x.emit(summaryEvent(s, s.Add(time.Second), c, float64(c.suspect), sc.id, top, blocked))
		sc.truth.summarised(c)
	}

	// March: the episode starts and the ladder climbs; an operator acts.
	clock.Set(time.Date(2025, 3, 31, 23, 59, 59, 0, time.UTC))
	x.emit(episodeStart(ep, 6))
	x.emit(levelChange(&ep, sc.start.Add(5*time.Second), detect.Normal, detect.Challenge, "surge", 6))
	flooding := sc.start.Add(5 * time.Second)
	midnight := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	for s := flooding; s.Before(midnight); s = s.Add(time.Second) {
		second(s, flood)
	}
	x.audit("cpe", "shield.manual_on", map[string]any{"level": detect.WaitingRoom})
	x.settle(0)

	// April: the flood goes on for 40 s, then only pupils remain; the
	// detector ends the episode 30 s after the first cold window.
	clock.Set(midnight.Add(time.Minute))
	x.emit(levelChange(&ep, midnight, detect.Challenge, detect.WaitingRoom, "sustained", 6))
	for s := midnight; s.Before(midnight.Add(time.Minute)); s = s.Add(time.Second) {
		if s.Before(sc.end) {
			second(s, flood)
		} else {
			second(s, calm)
		}
	}
	x.settle(0)
	endAt := sc.end.Add(30 * time.Second)
	clock.Set(endAt)
	for s := midnight.Add(time.Minute); s.Before(endAt); s = s.Add(time.Second) {
		second(s, calm)
	}
	final := ep
	final.End, final.Requests, final.MaxLevel, final.TopSources = sc.end, 420, detect.WaitingRoom, top
	final.TopPaths = []detect.Talker{{Key: "POST /login/index.php", Count: 210}, {Key: "GET /", Count: 210}}
	x.emit(episodeEnd(final, endAt, 0))
	x.settle(uint64(2*len(sc.addrs) + 3)) // 23:59 and 00:00 for each source, and the pupil at 00:01

	// The cool-down, outside the episode.
	clock.Set(endAt.Add(time.Minute))
	x.emit(levelChange(nil, endAt.Add(time.Minute), detect.WaitingRoom, detect.Challenge, "cool_down", 1))
	c := x.play(endAt, calm, nil)
	x.emit(summaryEvent(endAt, endAt.Add(time.Minute), c, 0, "", nil, nil))
	x.settle(0)
	clock.Set(time.Date(2025, 4, 1, 1, 0, 0, 0, time.UTC))
	x.close()

	clock.Set(time.Date(2025, 4, 1, 8, 59, 0, 0, time.UTC))
	x = startRecording(tb, dir, clock, false)
	unrelated(x, sc.after, time.Date(2025, 4, 1, 8, 59, 55, 0, time.UTC), sc.otherAddrs)
	x.close()
	return sc
}

// unrelated records a short episode from addrs.
func unrelated(x *recording, id string, start time.Time, addrs []string) {
	top := []detect.Talker{{Key: addrs[0], Count: 10}}
	ep := detect.Episode{ID: id, Start: start, PeakRate: 4, Requests: 4, Baseline: 1, MaxLevel: detect.Normal, TopSources: top}
	x.emit(episodeStart(ep, 4))
	var hits []hit
	for _, a := range addrs {
		hits = append(hits, hit{a, "GET", "/", "x", "anonymous", "admitted", 200})
	}
	s := start.Add(5 * time.Second)
	for range 5 {
		c := x.play(s, hits, nil)
		x.emit(summaryEvent(s, s.Add(time.Second), c, float64(c.suspect), id, top, nil))
		s = s.Add(time.Second)
	}
	end := ep
	end.End, end.Requests, end.PeakRate = s, 10, 2
	x.emit(episodeEnd(end, s.Add(30*time.Second), 0))
}

// testAttributor loads small ASN and country CSV datasets covering the
// scenario's addresses.
func testAttributor(tb testing.TB) *attrib.Attributor {
	tb.Helper()
	dir := tb.TempDir()
	asn := filepath.Join(dir, "asn-ipv4.csv")
	country := filepath.Join(dir, "country-ipv4.csv")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write(asn, "45.83.64.0,45.83.67.255,64500,Example Hosting Cloud\n91.198.174.0,91.198.174.255,14907,Wikimedia Foundation\n")
	write(country, "45.83.64.0,45.83.67.255,NL\n91.198.174.0,91.198.174.255,NL\n")
	a, err := attrib.Load(attrib.Config{ASNFiles: []string{asn}, CountryFiles: []string{country}})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func fixedNow() time.Time { return time.Date(2025, 4, 2, 8, 0, 0, 0, time.UTC) }

// mustExport exports the scenario's episode into a new directory.
func mustExport(tb testing.TB, sc scenario, edit func(*Options)) (string, Summary) {
	tb.Helper()
	o := Options{
		Dir: sc.dir, EpisodeID: sc.id, CaseRef: "PV-2025-000123", TLP: "amber", Out: filepath.Join(tb.TempDir(), "package"),
		Raw: true, Attributor: testAttributor(tb), Producer: "Lycée Test — Préau", Version: "v0.test", Now: fixedNow, Logger: quiet,
	}
	if edit != nil {
		edit(&o)
	}
	s, err := Export(tb.Context(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return o.Out, s
}

// copyDir copies a package so that a test can damage the copy.
func copyDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "copy")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(t, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(t)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}
