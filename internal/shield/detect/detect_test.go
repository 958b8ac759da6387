package detect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2021, 4, 6, 7, 0, 0, 0, time.UTC)

// recorder is a Sink keeping every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Emit(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) kind(k string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func testConfig(s Sink) Config {
	return Config{
		TopK:             64,
		Window:           time.Second,
		BaselineHalfLife: time.Minute,
		EnterFactor:      3,
		ExitFactor:       1.5,
		MinRate:          20,
		EnterAfter:       3 * time.Second,
		ExitAfter:        10 * time.Second,
		CoolDown:         15 * time.Second,
		Warmup:           10 * time.Second,
		SurgeFactor:      100, // climb by EnterAfter only, unless a test says otherwise
		Shards:           4,
		Sink:             s,
	}
}

// source generates the i-th request of a second.
type source struct {
	rate int
	gen  func(i int) Request
}

// sim drives a detector with a fake clock.
type sim struct {
	d        *Detector
	now      time.Time
	autoTick bool // let Observe close the windows instead of calling Tick
}

// run plays secs seconds of the sources, their requests spread evenly over
// each second, calling Tick at every second's end unless autoTick.
func (s *sim) run(secs int, srcs ...source) {
	total := 0
	for _, src := range srcs {
		total += src.rate
	}
	for range secs {
		n := 0
		for _, src := range srcs {
			for i := range src.rate {
				r := src.gen(i)
				r.Time = s.now.Add(time.Duration(n) * time.Second / time.Duration(total))
				if r.Outcome == "" {
					r.Outcome = "admitted"
					if s.d.IsBlocked(r.Addr) {
						r.Outcome = "blocked"
					}
				}
				s.d.Observe(r)
				n++
			}
		}
		s.now = s.now.Add(time.Second)
		if !s.autoTick {
			s.d.Tick(s.now)
		}
	}
}

var legitPaths = []string{"/", "/homework", "/timetable", "/messages", "/grades", "/documents", "/news", "/api/homework/today"}

// legit is legitimate traffic from visitors without a session (the login
// page, public pages: what the detector's rate counts) from a pool of 2,000
// addresses scattered over 10.0.0.0/8.
func legit(rate int, seed uint64) source { return legitAs(rate, seed, "anonymous") }

// legitAs is legit traffic of the given class.
func legitAs(rate int, seed uint64, class string) source {
	r := rand.New(rand.NewPCG(seed, 1))
	pool := make([]netip.Addr, 2000)
	for i := range pool {
		pool[i] = netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
	}
	return source{rate, func(i int) Request {
		return Request{
			Addr:      pool[r.IntN(len(pool))],
			Path:      legitPaths[r.IntN(len(legitPaths))],
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/88.0",
			Class:     class,
		}
	}}
}

// flood is anonymous traffic from addrs with the given weights.
func flood(addrs []string, weights []int) source {
	var expanded []netip.Addr
	for i, a := range addrs {
		for range weights[i] {
			expanded = append(expanded, netip.MustParseAddr(a))
		}
	}
	return source{len(expanded), func(i int) Request {
		return Request{Addr: expanded[i], Path: "/login", UserAgent: "python-requests/2.25.1", Class: "anonymous"}
	}}
}

// within reports whether n is in [Count-Err, Count], as Space-Saving
// guarantees.
func within(t Talker, n uint64) bool { return t.Count-t.Err <= n && n <= t.Count }

func keys(ts []Talker) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Key
	}
	return out
}

func levelChanges(r *recorder) []Level {
	var out []Level
	for _, e := range r.kind("level_change") {
		out = append(out, e.Level)
	}
	return out
}

func TestFloodFromFewAddresses(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("autoTick=%v", auto), func(t *testing.T) {
			rec := &recorder{}
			d := New(testConfig(rec))
			s := &sim{d: d, now: t0, autoTick: auto}
			base := legit(100, 1)

			s.run(120, base)
			if got := d.Snapshot().Baseline; math.Abs(got-100) > 1 {
				t.Fatalf("baseline after steady traffic = %v, want 100", got)
			}
			floodStart := s.now
			atk := flood([]string{"203.0.113.5", "203.0.113.6", "203.0.113.7", "198.51.100.9"}, []int{300, 300, 300, 100})
			s.run(30, base, atk)
			mid := d.Snapshot()
			s.run(30, base, atk)
			floodEnd := s.now
			s.run(180, base)
			if auto { // close the last window
				d.Tick(s.now)
			}

			// During the flood.
			if mid.Level != BlockTopPrefixes || mid.Episode == nil || !mid.BaselineFrozen {
				t.Fatalf("mid-flood: level %v, episode %v, frozen %v", mid.Level, mid.Episode, mid.BaselineFrozen)
			}
			if math.Abs(mid.Baseline-100) > 1 {
				t.Errorf("baseline learnt from the flood: %v", mid.Baseline)
			}
			if got := keys(mid.TopAddrs[:4]); !strings.HasPrefix(got[0], "203.0.113.") || !strings.HasPrefix(got[1], "203.0.113.") ||
				!strings.HasPrefix(got[2], "203.0.113.") || got[3] != "198.51.100.9" || !within(mid.TopAddrs[0], 300) {
				t.Errorf("mid-flood top addresses %v", mid.TopAddrs[:4])
			}
			if got := keys(mid.TopPrefixes[:2]); got[0] != "203.0.113.0/24" || got[1] != "198.51.100.0/24" {
				t.Errorf("mid-flood top prefixes %v", got)
			}
			wantBlocked := map[string]bool{"203.0.113.0/24": true, "198.51.100.0/24": true}
			if len(mid.Blocked) != 2 || !wantBlocked[mid.Blocked[0].String()] || !wantBlocked[mid.Blocked[1].String()] {
				t.Errorf("blocked %v, want the two flooding /24s only", mid.Blocked)
			}
			if mid.Rates.Blocked < 999 {
				t.Errorf("blocked rate %v: the shield's IsBlocked did not block the flood", mid.Rates.Blocked)
			}

			// The episode.
			starts, ends := rec.kind("episode_start"), rec.kind("episode_end")
			if len(starts) != 1 || len(ends) != 1 {
				t.Fatalf("%d starts, %d ends, want 1 and 1", len(starts), len(ends))
			}
			ep := ends[0].Episode
			if ep.ID != starts[0].Episode.ID {
				t.Errorf("episode ids %q and %q", starts[0].Episode.ID, ep.ID)
			}
			if !ep.Start.Equal(floodStart) || !ep.End.Equal(floodEnd) {
				t.Errorf("episode %v – %v, want %v – %v", ep.Start, ep.End, floodStart, floodEnd)
			}
			if ep.PeakRate != 1100 {
				t.Errorf("peak %v, want 1100", ep.PeakRate)
			}
			if ep.Requests != 60*1100 {
				t.Errorf("requests %d, want %d", ep.Requests, 60*1100)
			}
			if ep.MaxLevel != BlockTopPrefixes {
				t.Errorf("max level %v", ep.MaxLevel)
			}
			want := map[string]bool{"203.0.113.5": true, "203.0.113.6": true, "203.0.113.7": true}
			for _, k := range keys(ep.TopSources[:3]) {
				if !want[k] {
					t.Errorf("top sources %v", keys(ep.TopSources))
				}
			}
			if ep.TopSources[3].Key != "198.51.100.9" || ep.TopSources[0].Count < 300*60 || ep.TopSources[3].Count-ep.TopSources[3].Err > 100*60 {
				t.Errorf("top sources %+v", ep.TopSources[:4])
			}
			if ep.TopPrefixes[0].Key != "203.0.113.0/24" || ep.TopPrefixes[1].Key != "198.51.100.0/24" {
				t.Errorf("top prefixes %v", keys(ep.TopPrefixes))
			}
			if ep.TopPaths[0].Key != "/login" || ep.TopAgents[0].Key != "python-requests/2.25.1" {
				t.Errorf("top path %v, agent %v", ep.TopPaths[0], ep.TopAgents[0])
			}

			// The ladder: up one level at a time, then down one at a time.
			want2 := []Level{TightenBuckets, Challenge, WaitingRoom, BlockTopPrefixes, WaitingRoom, Challenge, TightenBuckets, Normal}
			if got := levelChanges(rec); fmt.Sprint(got) != fmt.Sprint(want2) {
				t.Errorf("level changes %v, want %v", got, want2)
			}
			lc := rec.kind("level_change")
			// Climb: the episode starts after EnterAfter (3 s), then one step per 3 s.
			if got := lc[3].Time.Sub(floodStart); got != 12*time.Second {
				t.Errorf("reached BlockTopPrefixes %v after the flood started, want 12s", got)
			}
			// Descent: one step per CoolDown (15 s) once the rate is back.
			for i := 4; i < 8; i++ {
				if got := lc[i].Time.Sub(floodEnd); got != time.Duration(i-3)*15*time.Second {
					t.Errorf("step down %d at +%v, want +%v", i-3, got, time.Duration(i-3)*15*time.Second)
				}
			}
			if d.Level() != Normal || len(d.BlockedPrefixes()) != 0 {
				t.Errorf("after cool-down: level %v, blocked %v", d.Level(), d.BlockedPrefixes())
			}
			sn := d.Snapshot()
			if sn.LastEpisode == nil || sn.LastEpisode.ID != ep.ID || sn.Episode != nil || sn.Episodes != 1 {
				t.Errorf("snapshot episodes: last %v, open %v, count %d", sn.LastEpisode, sn.Episode, sn.Episodes)
			}
			if len(sn.History) != 360 || sn.History[359].Total != 100 || sn.History[150].Total != 1100 {
				t.Errorf("history: %d points", len(sn.History))
			}
		})
	}
}

func TestFloodFromOneSlash16(t *testing.T) {
	rec := &recorder{}
	c := testConfig(rec)
	c.SurgeFactor = 0 // default: 3×EnterFactor
	d := New(c)
	s := &sim{d: d, now: t0}
	base := legit(100, 2)
	s.run(60, base)

	rnd := rand.New(rand.NewPCG(9, 9))
	atk := source{2000, func(i int) Request {
		n := rnd.IntN(10_000)
		return Request{Addr: netip.AddrFrom4([4]byte{172, 16, byte(n / 256), byte(n % 256)}), Path: "/", UserAgent: "Mozilla/5.0", Class: "anonymous"}
	}}
	atkStart := s.now
	s.run(30, base, atk)
	mid := d.Snapshot()
	s.run(60, base)

	if got := mid.TopNets[0]; got.Key != "172.16.0.0/16" || got.Count-got.Err < 2000 {
		t.Errorf("top network %+v, want 172.16.0.0/16 with ≥ 2000", got)
	}
	for _, p := range mid.TopPrefixes[:20] {
		if !strings.HasPrefix(p.Key, "172.16.") {
			t.Errorf("top prefixes %v: want the flooding /16's /24s first", keys(mid.TopPrefixes[:20]))
			break
		}
	}
	// No single address stands out: the guaranteed count of the top address
	// is tiny.
	if a := mid.TopAddrs[0]; a.Count-a.Err > 3 {
		t.Errorf("top address %+v looks like a heavy hitter", a)
	}
	if len(mid.Blocked) != 1 || mid.Blocked[0] != netip.MustParsePrefix("172.16.0.0/16") {
		t.Errorf("blocked %v, want [172.16.0.0/16]", mid.Blocked)
	}
	// Surge: 21× the baseline opens the episode with the first window,
	// goes straight to the challenge, then climbs one level per window.
	lc := rec.kind("level_change")
	if len(lc) < 3 || lc[0].Level != Challenge || lc[0].Reason != "surge" || lc[0].Time.Sub(atkStart) != time.Second ||
		lc[2].Level != BlockTopPrefixes || lc[2].Time.Sub(lc[0].Time) != 2*time.Second {
		t.Errorf("ladder %v", levelChanges(rec))
	}
	if st := rec.kind("episode_start"); len(st) != 1 || !st[0].Time.Equal(lc[0].Time) {
		t.Errorf("episode start %v, want at the first surge window's end %v", st, lc[0].Time)
	}
	ends := rec.kind("episode_end")
	if len(ends) != 1 {
		t.Fatalf("%d episode ends", len(ends))
	}
	ep := ends[0].Episode
	if ep.TopNets[0].Key != "172.16.0.0/16" || !strings.HasPrefix(ep.TopPrefixes[0].Key, "172.16.") {
		t.Errorf("episode nets %v prefixes %v", keys(ep.TopNets), keys(ep.TopPrefixes))
	}
	if ep.Requests != 30*2100 || ep.PeakRate != 2100 {
		t.Errorf("episode requests %d peak %v", ep.Requests, ep.PeakRate)
	}
}

func TestMorningRampIsNotAnAttack(t *testing.T) {
	rec := &recorder{}
	c := testConfig(rec)
	c.BaselineHalfLife = 90 * time.Second
	c.SurgeFactor = 0
	d := New(c)
	s := &sim{d: d, now: t0}
	noise := rand.New(rand.NewPCG(5, 6))
	base := legit(1, 3)
	const from, to, secs = 20.0, 1000.0, 900
	s.run(60, source{20, base.gen})
	for i := range secs {
		rate := from + (to-from)*float64(i)/secs
		rate *= 0.9 + 0.2*noise.Float64() // ±10 %
		s.run(1, source{int(rate), base.gen})
	}
	if n := len(rec.kind("episode_start")); n != 0 {
		t.Errorf("%d episodes during a gradual morning ramp", n)
	}
	if n := len(rec.kind("level_change")); n != 0 {
		t.Errorf("%d level changes during a gradual morning ramp", n)
	}
	if b := d.Snapshot().Baseline; b < 800 {
		t.Errorf("baseline %v did not follow the ramp to 1000", b)
	}
}

func TestHysteresisPreventsFlapping(t *testing.T) {
	rec := &recorder{}
	d := New(testConfig(rec))
	s := &sim{d: d, now: t0}
	base := legit(1, 4)
	at := func(rate int) source { return source{rate, base.gen} }
	s.run(60, at(100))

	// Bursts shorter than EnterAfter never start an episode.
	for range 10 {
		s.run(2, at(400))
		s.run(3, at(100))
	}
	if n := len(rec.kind("episode_start")); n != 0 {
		t.Fatalf("%d episodes from 2-second bursts", n)
	}

	// A flood, then a rate that crosses the entry threshold (300) back and
	// forth without going under the exit threshold (150).
	start := s.now
	s.run(10, at(400))
	for range 15 {
		s.run(2, at(280))
		s.run(2, at(320))
	}
	stop := s.now
	s.run(120, at(100))

	starts, ends := rec.kind("episode_start"), rec.kind("episode_end")
	if len(starts) != 1 || len(ends) != 1 {
		t.Fatalf("%d starts, %d ends: flapping", len(starts), len(ends))
	}
	if ep := ends[0].Episode; !ep.Start.Equal(start) || !ep.End.Equal(stop) {
		t.Errorf("episode %v – %v, want %v – %v", ep.Start, ep.End, start, stop)
	}
	// The level only goes up, then only down.
	lv := levelChanges(rec)
	peak := 0
	for i := 1; i < len(lv); i++ {
		if lv[i] > lv[i-1] && peak != 0 {
			t.Fatalf("level went down then up again: %v", lv)
		}
		if lv[i] < lv[i-1] && peak == 0 {
			peak = i
		}
	}
	if lv[len(lv)-1] != Normal {
		t.Errorf("final level %v", lv[len(lv)-1])
	}
}

func TestEventsInOrderAndSinkNeverBlocks(t *testing.T) {
	// A tiny buffer nobody reads: the detector must go on and count drops.
	cs := NewChannelSink(4)
	rec := &recorder{}
	both := multi{cs, rec}
	d := New(testConfig(both))
	s := &sim{d: d, now: t0}
	base := legit(100, 5)
	s.run(60, base)
	s.run(30, base, flood([]string{"192.0.2.1"}, []int{1000}))
	s.run(120, base)

	if cs.Dropped() == 0 || len(cs.Events()) != 4 {
		t.Errorf("dropped %d, buffered %d", cs.Dropped(), len(cs.Events()))
	}
	if got := uint64(len(rec.events)); got != cs.Dropped()+4 {
		t.Errorf("%d events emitted, %d dropped + 4 buffered", got, cs.Dropped())
	}
	for i := range 4 {
		if e := <-cs.Events(); e.Seq != uint64(i+1) {
			t.Errorf("buffered event %d has seq %d", i, e.Seq)
		}
	}

	// Order: seq increases by one, time never goes back, an episode starts
	// before its level changes and summaries and ends after them.
	var open string
	var started, ended int
	for i, e := range rec.events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		if i > 0 && e.Time.Before(rec.events[i-1].Time) {
			t.Fatalf("event %d goes back in time", i)
		}
		switch e.Kind {
		case "episode_start":
			started++
			open = e.Episode.ID
		case "episode_end":
			ended++
			if e.Episode.ID != open {
				t.Errorf("end of %q while %q is open", e.Episode.ID, open)
			}
			open = ""
		case "level_change":
			if e.Level > Normal && e.Fields["from"].(Level) < e.Level && open == "" {
				t.Errorf("level raised outside an episode: %+v", e)
			}
		case "decision_summary":
			if id, ok := e.Fields["episode_id"]; ok && id != open {
				t.Errorf("summary for %v while %q is open", id, open)
			}
		default:
			t.Errorf("unknown kind %q", e.Kind)
		}
	}
	if started != 1 || ended != 1 {
		t.Errorf("%d starts, %d ends", started, ended)
	}
}

type multi []Sink

func (m multi) Emit(e Event) {
	for _, s := range m {
		s.Emit(e)
	}
}

func TestSlogSink(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	d := New(testConfig(SlogSink{Logger: log}))
	s := &sim{d: d, now: t0}
	base := legit(50, 6)
	s.run(30, base)
	s.run(10, base, flood([]string{"192.0.2.1"}, []int{500}))

	var sawStart bool
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		if rec["msg"] == "shield.episode_start" {
			sawStart = true
			ep, _ := rec["episode"].(map[string]any)
			if rec["level"] != "WARN" || ep == nil || !strings.HasPrefix(ep["id"].(string), "ep-20210406T") {
				t.Errorf("episode_start record %s", sc.Bytes())
			}
			srcs, _ := ep["top_sources"].([]any)
			if len(srcs) == 0 || srcs[0].(map[string]any)["Key"] != "192.0.2.1" {
				t.Errorf("top sources in record: %v", ep["top_sources"])
			}
		}
	}
	if !sawStart {
		t.Errorf("no episode_start record in %s", buf.String())
	}
}

func TestManualFloor(t *testing.T) {
	rec := &recorder{}
	c := testConfig(rec)
	c.Now = func() time.Time { return t0 }
	d := New(c)
	d.SetManual(WaitingRoom, true)
	if d.Level() != WaitingRoom {
		t.Fatalf("level %v", d.Level())
	}
	s := &sim{d: d, now: t0}
	s.run(30, legit(100, 7))
	if d.Level() != WaitingRoom {
		t.Errorf("the ladder cooled down below the manual floor: %v", d.Level())
	}
	d.SetManual(Normal, false)
	if d.Level() != Normal {
		t.Errorf("level %v after the switch is off", d.Level())
	}
	lc := rec.kind("level_change")
	if len(lc) != 2 || lc[0].Reason != "manual_on" || lc[1].Reason != "manual_off" || lc[1].Level != Normal {
		t.Errorf("events %+v", lc)
	}
	snap := d.Snapshot()
	if snap.Manual || snap.Level != Normal {
		t.Errorf("snapshot %v %v", snap.Manual, snap.Level)
	}
}

func TestGapAfterIdle(t *testing.T) {
	rec := &recorder{}
	d := New(testConfig(rec))
	s := &sim{d: d, now: t0}
	base := legit(100, 8)
	s.run(60, base)
	s.run(20, base, flood([]string{"192.0.2.7"}, []int{900}))
	// The process is idle (or the ticker stalls) for a day.
	d.Tick(s.now.Add(24 * time.Hour))
	if n := len(rec.kind("episode_end")); n != 1 {
		t.Errorf("%d episode ends after the gap", n)
	}
	if d.Level() != Normal {
		t.Errorf("level %v after a day of silence", d.Level())
	}
	snap := d.Snapshot()
	if !snap.Time.Equal(s.now.Add(24 * time.Hour)) {
		t.Errorf("snapshot time %v", snap.Time)
	}
}

// TestConcurrent runs Observe from several goroutines with Tick, Snapshot,
// SetManual and BlockedPrefixes (for go test -race) and checks that no
// request is lost.
func TestConcurrent(t *testing.T) {
	cs := NewChannelSink(16)
	c := testConfig(cs)
	c.History = 1000
	d := New(c)
	const workers, per = 4, 20_000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				d.Observe(Request{
					Time:    t0.Add(time.Duration(i) * time.Millisecond),
					Addr:    netip.AddrFrom4([4]byte{10, byte(w), byte(i >> 8), byte(i)}),
					Path:    legitPaths[i%len(legitPaths)],
					Class:   "anonymous",
					Outcome: "admitted",
				})
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			switch i % 4 {
			case 0:
				d.Tick(t0.Add(time.Duration(i) * 100 * time.Millisecond))
			case 1:
				_ = d.Snapshot()
			case 2:
				d.SetManual(BlockTopPrefixes, i%8 == 2)
			case 3:
				_ = d.BlockedPrefixes()
				_ = d.IsBlocked(netip.MustParseAddr("10.0.0.1"))
			}
		}
	}()
	go func() {
		for range cs.Events() {
		}
	}()
	wg.Wait()
	<-done
	d.Tick(t0.Add(time.Minute)) // past every window, within History
	var total float64
	for _, p := range d.Snapshot().History {
		total += p.Total
	}
	if total != workers*per {
		t.Errorf("history counts %v requests, want %d", total, workers*per)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	d := New(testConfig(nil))
	d.Tick(t0)
	reqs := make([]Request, 1000)
	for i := range reqs {
		reqs[i] = Request{
			Time:      t0.Add(time.Duration(i) * time.Microsecond),
			Addr:      netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}),
			Path:      legitPaths[i%len(legitPaths)],
			UserAgent: "Mozilla/5.0",
			Class:     "anonymous",
			Outcome:   "admitted",
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(5000, func() {
		d.Observe(reqs[i%len(reqs)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Observe allocates %v times per call", allocs)
	}
}

func TestBlockListIsCappedAndIPv6(t *testing.T) {
	rec := &recorder{}
	c := testConfig(rec)
	c.MaxBlocked = 3
	c.SurgeFactor = 0
	d := New(c)
	s := &sim{d: d, now: t0}
	base := legit(100, 10)
	s.run(30, base)
	var addrs []string
	var weights []int
	for i := range 6 {
		addrs = append(addrs, fmt.Sprintf("2001:db8:0:%x00::%x", i+1, i+1))
		weights = append(weights, 300)
	}
	s.run(20, base, flood(addrs, weights))
	snap := d.Snapshot()
	if snap.Level != BlockTopPrefixes || len(snap.Blocked) != 3 {
		t.Fatalf("level %v, blocked %v: want 3 (MaxBlocked)", snap.Level, snap.Blocked)
	}
	for _, p := range snap.Blocked {
		if p.Bits() != 56 || !netip.MustParsePrefix("2001:db8::/48").Contains(p.Addr()) {
			t.Errorf("blocked %v, want /56s of 2001:db8::/48", p)
		}
	}
	if !d.IsBlocked(snap.Blocked[0].Addr().Next()) || d.IsBlocked(netip.MustParseAddr("10.1.2.3")) {
		t.Errorf("IsBlocked disagrees with %v", snap.Blocked)
	}
	if got := snap.TopNets[0]; got.Key != "2001:db8::/48" || !within(got, 1800) {
		t.Errorf("top network %+v", got)
	}
}

func TestChannelSinkForward(t *testing.T) {
	cs := NewChannelSink(8)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cs.Forward(ctx, rec); close(done) }()
	for i := range 5 {
		cs.Emit(Event{Seq: uint64(i + 1)})
	}
	for {
		rec.mu.Lock()
		n := len(rec.events)
		rec.mu.Unlock()
		if n == 5 {
			break
		}
		runtime.Gosched()
	}
	cancel()
	<-done
	for i, e := range rec.events {
		if e.Seq != uint64(i+1) {
			t.Errorf("forwarded out of order: %d at %d", e.Seq, i)
		}
	}
}

// Signed-in students reading at full speed are not what the detector
// learns from: after two minutes of 10,000 member requests a second, an
// anonymous flood of 2,000 a second (a fifth of the members' load) is still
// an attack, detected in its first window.
func TestSignedInLoadDoesNotTeachTheBaseline(t *testing.T) {
	rec := &recorder{}
	d := New(testConfig(rec))
	s := &sim{d: d, now: t0}
	members, visitors := legitAs(10_000, 7, "member"), legit(20, 8)
	s.run(120, members, visitors)
	if b := d.Snapshot().Baseline; math.Abs(b-20) > 1 {
		t.Fatalf("baseline %v after members at 10,000/s and visitors at 20/s, want 20", b)
	}
	if n := len(rec.kind("episode_start")); n != 0 {
		t.Fatalf("%d episodes from signed-in load", n)
	}
	rnd := rand.New(rand.NewPCG(3, 3))
	atk := source{2000, func(int) Request {
		n := rnd.IntN(10_000)
		return Request{Addr: netip.AddrFrom4([4]byte{127, byte(1 + n/256), byte(n % 256), 1}), Path: "/login", UserAgent: "Go-http-client/1.1", Class: "anonymous"}
	}}
	atkStart := s.now
	s.run(3, members, visitors, atk)
	lc := rec.kind("level_change")
	if len(lc) == 0 || lc[0].Level != Challenge || lc[0].Time.Sub(atkStart) != time.Second {
		t.Fatalf("ladder %v, want the challenge after the flood's first window", levelChanges(rec))
	}
	if d.Level() < Challenge {
		t.Errorf("level %v during the flood", d.Level())
	}
}

// After a flood, while the ladder cools down at its top level, a school's
// network signing in again sends most of the (now small) anonymous
// traffic: it must not be blocked for it.
func TestNoBlockAfterTheFlood(t *testing.T) {
	rec := &recorder{}
	d := New(testConfig(rec))
	s := &sim{d: d, now: t0}
	base := legit(20, 11)
	s.run(60, base)
	rnd := rand.New(rand.NewPCG(4, 4))
	atk := source{3000, func(int) Request {
		n := rnd.IntN(10_000)
		return Request{Addr: netip.AddrFrom4([4]byte{172, 16, byte(n / 256), byte(n % 256)}), Path: "/", UserAgent: "x", Class: "anonymous"}
	}}
	s.run(10, base, atk)
	if d.Level() != BlockTopPrefixes {
		t.Fatalf("level %v during the flood", d.Level())
	}
	school := source{15, func(i int) Request {
		return Request{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), Path: "/login", UserAgent: "Mozilla/5.0", Class: "anonymous"}
	}}
	s.run(10, base, school) // under CoolDown (15 s)
	if d.Level() != BlockTopPrefixes {
		t.Fatalf("level %v: the cool-down should still hold", d.Level())
	}
	if d.IsBlocked(netip.MustParseAddr("192.0.2.7")) {
		t.Errorf("the school's network was blocked after the flood: %v", d.BlockedPrefixes())
	}
	if !d.IsBlocked(netip.MustParseAddr("172.16.3.4")) {
		t.Errorf("the flooding network is no longer blocked: %v", d.BlockedPrefixes())
	}
}
