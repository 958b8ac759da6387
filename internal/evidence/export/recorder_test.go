package export

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"preau/internal/evidence/journal"
	recorder "preau/internal/evidence/record"
	"preau/internal/evidence/stix"
	"preau/internal/shield/detect"
)

// tee keeps a copy of the detector's events and passes them on, as the
// shield's sink chain does.
type tee struct {
	mu     sync.Mutex
	events []detect.Event
	to     detect.Sink
	live   bool // between episode_start and episode_end
}

func (t *tee) Emit(ev detect.Event) {
	t.mu.Lock()
	t.events = append(t.events, ev)
	switch ev.Kind {
	case "episode_start":
		t.live = true
	case "episode_end":
		t.live = false
	}
	t.mu.Unlock()
	t.to.Emit(ev)
}

func (t *tee) isLive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}

// TestRealDetectorEpisodeExports drives the shield's real detector with a
// flood and its real recorder with the same requests, then exports the
// episode the detector found and checks the package against the generated
// traffic, not against what export computed.
func TestRealDetectorEpisodeExports(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evidence")
	t0 := time.Date(2025, 9, 1, 7, 30, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	x := startRecording(t, dir, clock, false)
	sink := &tee{to: x.r}
	det := detect.New(detect.Config{Window: time.Second, BaselineHalfLife: time.Minute, MinRate: 20, EnterAfter: 3 * time.Second,
		ExitAfter: 10 * time.Second, CoolDown: 15 * time.Second, Warmup: 10 * time.Second, Shards: 4, Sink: sink, Now: clock.Now})
	det.Tick(t0)

	type key struct {
		sec            int64
		class, outcome string
	}
	bySecond := map[key]int64{} // every request, by second, class and outcome
	recorded := map[string]*sourceTruth{}
	var nRecorded int64
	member := func(i int) string { return fmt.Sprintf("192.0.2.%d", 10+i%10) }
	flooder := func(i int) string {
		if i%3 == 0 {
			return fmt.Sprintf("203.0.113.%d", 1+i%40)
		}
		return fmt.Sprintf("45.83.64.%d", 1+i%60)
	}
	send := func(at time.Time, addr, class, path string) {
		a := netip.MustParseAddr(addr)
		outcome := "admitted"
		if class == "anonymous" {
			switch lv := det.Level(); {
			case lv >= detect.BlockTopPrefixes && det.IsBlocked(a):
				outcome = "blocked"
			case lv >= detect.Challenge:
				outcome = "challenged"
			case lv == detect.TightenBuckets && at.Nanosecond()%2 == 0:
				outcome = "limited"
			}
		}
		det.Observe(detect.Request{Time: at, Addr: a, Path: "POST " + path, UserAgent: "bot/1.0", Class: class, Outcome: outcome})
		live := sink.isLive() // the recorder aggregates from the start event on
		x.r.Request(recorder.RequestSample{Time: at, Addr: a, Port: 50000, Method: "POST", Path: path, Status: 200, Bytes: 900,
			Agent: "bot/1.0", Class: class, Outcome: outcome})
		bySecond[key{at.Unix(), class, outcome}]++
		if live {
			s := recorded[addr]
			if s == nil {
				s = &sourceTruth{first: at}
				recorded[addr] = s
			}
			s.requests++
			s.last = at
			nRecorded++
		}
	}
	for i := range 90 {
		s := t0.Add(time.Duration(i) * time.Second)
		clock.Set(s)
		var reqs []func(time.Time)
		for k := range 10 {
			reqs = append(reqs, func(at time.Time) { send(at, member(k), "member", "/api/v1/homework") })
		}
		for k := range 2 {
			reqs = append(reqs, func(at time.Time) { send(at, fmt.Sprintf("198.51.100.%d", k), "anonymous", "/login") })
		}
		if i >= 20 && i < 50 {
			for k := range 300 {
				reqs = append(reqs, func(at time.Time) { send(at, flooder(k), "anonymous", "/login") })
			}
		}
		for k, f := range reqs {
			f(s.Add(time.Duration(k) * time.Second / time.Duration(len(reqs))))
		}
		clock.Set(s.Add(time.Second))
		det.Tick(s.Add(time.Second))
	}
	clock.Set(t0.Add(2 * time.Minute))
	x.close()

	// What the detector said.
	var start, end *detect.Episode
	var want timelineTotals
	var summaries int
	for _, ev := range sink.events {
		switch ev.Kind {
		case "episode_start":
			start = ev.Episode
		case "episode_end":
			end = ev.Episode
		case "decision_summary":
			if start == nil || ev.Fields["episode_id"] != start.ID {
				continue
			}
			summaries++
			since, until := ev.Fields["since"].(time.Time), ev.Fields["until"].(time.Time)
			for sec := since.Unix(); sec < until.Unix(); sec++ {
				var admitted, legit int64
				for _, o := range []string{"admitted", "blocked", "limited", "challenged"} {
					for _, c := range []string{"member", "anonymous"} {
						n := bySecond[key{sec, c, o}]
						switch {
						case o == "admitted":
							admitted += n
						default:
							want.Blocked += n
						}
						if c == "member" {
							legit += n
						}
					}
				}
				want.Legitimate += legit
				want.Attack += max(admitted-legit, 0)
			}
		}
	}
	if start == nil || end == nil || start.ID != end.ID || end.MaxLevel < detect.Challenge {
		t.Fatalf("the detector did not record a whole episode: start %+v, end %+v", start, end)
	}

	out := filepath.Join(t.TempDir(), "package")
	sum, err := Export(t.Context(), Options{Dir: dir, EpisodeID: start.ID, CaseRef: "2025/ENT/42", TLP: "amber+strict", Out: out,
		Raw: true, Version: "v0.test", Now: fixedNow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, out)

	var md metadata
	if err := json.Unmarshal([]byte(readFile(t, out, fileMetadata)), &md); err != nil {
		t.Fatal(err)
	}
	if e := md.Episode; e.ID != start.ID || !e.Start.Equal(end.Start) || !e.End.Equal(end.End) || e.Open ||
		e.MaxLevel != end.MaxLevel.String() || e.Requests != int64(end.Requests) || e.PeakRate != end.PeakRate {
		t.Errorf("metadata episode %+v, the detector's %+v", e, end)
	}
	if md.Timeline.timelineTotals != want || md.Counts.DecisionSummaries != int64(summaries) {
		t.Errorf("timeline %+v from %d summaries; the traffic of the detector's summaries was %+v from %d",
			md.Timeline.timelineTotals, md.Counts.DecisionSummaries, want, summaries)
	}
	if sum.Entries[StreamRequests] != nRecorded {
		t.Errorf("%d request entries, %d requests during the episode", sum.Entries[StreamRequests], nRecorded)
	}

	f, err := os.Open(filepath.Join(out, fileSourcesCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != len(recorded) {
		t.Errorf("sources.csv has %d rows, %d addresses sent requests during the episode", len(rows)-1, len(recorded))
	}
	for _, r := range rows[1:] {
		s := recorded[r[0]]
		if s == nil || r[1] != fmtTime(s.first) || r[2] != fmtTime(s.last) || r[3] != itoa(s.requests) {
			t.Errorf("sources.csv row %q; sent: %+v", r, s)
		}
	}

	b := []byte(readFile(t, out, fileSTIX))
	if probs := stix.Validate(b); len(probs) > 0 {
		t.Errorf("STIX bundle: %v", probs)
	}
	for _, a := range []string{flooder(0), flooder(1), member(0)} {
		if !strings.Contains(string(b), `"value": "`+a+`"`) {
			t.Errorf("STIX bundle lacks %s", a)
		}
	}
}

// waitCovered waits until the latest checkpoint of a segment covers every
// record in it, as the running recorder signs one each minute it appends.
func waitCovered(t *testing.T, dir, stream, seg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := journal.OpenReadOnly(filepath.Join(dir, stream, seg), journal.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		n := j.Uncovered()
		j.Close()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: %d records still after the latest checkpoint", stream, seg, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestExportWhilePreauRuns exports from an evidence directory whose
// current segments a running recorder holds open (and locked).
func TestExportWhilePreauRuns(t *testing.T) {
	sc := buildScenario(t)
	at := time.Date(2025, 4, 1, 9, 30, 0, 0, time.UTC)
	clock := &fakeClock{t: at}
	x := startRecording(t, sc.dir, clock, true)
	ep := detect.Episode{ID: "ep-20250401T092955Z-1", Start: at.Add(-5 * time.Second), PeakRate: 3, Baseline: 1, MaxLevel: detect.Normal,
		TopSources: []detect.Talker{{Key: "203.0.113.9", Count: 12}}}
	flood := []hit{{"203.0.113.9", "GET", "/", "x", "anonymous", "challenged", 200}, {"203.0.113.10", "GET", "/", "x", "anonymous", "challenged", 200}}
	seconds := func(from time.Time, n int) {
		for s := from; s.Before(from.Add(time.Duration(n) * time.Second)); s = s.Add(time.Second) {
			c := x.play(s, flood, nil)
			x.emit(summaryEvent(s, s.Add(time.Second), c, 2, ep.ID, ep.TopSources, nil))
		}
	}
	x.emit(episodeStart(ep, 3))
	seconds(at, 3)
	x.settle(0)

	// The new episode's records are not signed yet: listed, but not
	// exportable.
	eps, err := ListEpisodes(sc.dir)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(eps, func(e Episode) bool { return e.ID == ep.ID }); i < 0 || !eps[i].Unsigned || !eps[i].Start.Equal(ep.Start) {
		t.Errorf("episodes %+v: want %s listed as unsigned", eps, ep.ID)
	}
	if i := slices.IndexFunc(eps, func(e Episode) bool { return e.ID == sc.id }); i < 0 || eps[i].Unsigned {
		t.Errorf("episodes %+v: want %s listed as signed", eps, sc.id)
	}
	_, err = Export(t.Context(), Options{Dir: sc.dir, EpisodeID: ep.ID, TLP: "green", Out: filepath.Join(t.TempDir(), "p"), Logger: quiet})
	if !errors.Is(err, ErrNotYetSigned) {
		t.Errorf("export of an unsigned episode: %v, want ErrNotYetSigned", err)
	}

	// An older episode exports in full while the recorder runs.
	out, sum := mustExport(t, sc, nil)
	mustVerify(t, out)
	if sum.TotalLeftOut() != 0 || sum.Entries[StreamRequests] != sc.truth.requests {
		t.Errorf("older episode: %d left out, %d request entries (want 0 and %d)", sum.TotalLeftOut(), sum.Entries[StreamRequests], sc.truth.requests)
	}

	// A minute later the recorder has signed; two more seconds follow.
	clock.Set(at.Add(time.Minute))
	waitCovered(t, sc.dir, StreamEvents, "2025-04")
	waitCovered(t, sc.dir, StreamRequests, "2025-04")
	seconds(at.Add(3*time.Second), 2)
	x.settle(0)
	out = filepath.Join(t.TempDir(), "live")
	sum, err = Export(t.Context(), Options{Dir: sc.dir, EpisodeID: ep.ID, TLP: "green", Out: out, Raw: true, Now: fixedNow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, out)
	// In: the clock record of the recorder's start, episode_start and three
	// summaries; out: two summaries, and the requests of their seconds.
	if !sum.Episode.Open() || sum.LeftOut[StreamEvents] != 2 || sum.LeftOut[StreamRequests] != 4 ||
		sum.Entries[StreamEvents] != 5 || sum.Entries[StreamRequests] != 6 {
		t.Errorf("live export: open %v, entries %v, left out %v; want open, 5 events and 6 requests in, 2 and 4 out",
			sum.Episode.Open(), sum.Entries, sum.LeftOut)
	}
	var md metadata
	if err := json.Unmarshal([]byte(readFile(t, out, fileMetadata)), &md); err != nil {
		t.Fatal(err)
	}
	if md.LeftOut.Records[StreamEvents] != 2 || !strings.Contains(md.LeftOut.Note, "6 records of the episode") ||
		!strings.Contains(readFile(t, out, fileReadmeEN), "6 records of the episode are not included") {
		t.Errorf("metadata left_out %+v; README.en.md must say so too", md.LeftOut)
	}

	// Once the recorder stops, everything is signed and exported.
	x.close()
	sum, err = Export(t.Context(), Options{Dir: sc.dir, EpisodeID: ep.ID, TLP: "green", Out: filepath.Join(t.TempDir(), "all"), Raw: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if sum.TotalLeftOut() != 0 || sum.Entries[StreamEvents] != 7 || sum.Entries[StreamRequests] != 10 || sum.Entries[StreamSources] != 2 {
		t.Errorf("after stop: entries %v, left out %v", sum.Entries, sum.LeftOut)
	}
}
