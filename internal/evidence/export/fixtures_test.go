package export

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"preau/internal/evidence/attrib"
	"preau/internal/evidence/journal"
)

// evidence builds an evidence directory of monthly journal segments.
type evidence struct {
	tb  testing.TB
	dir string
	js  map[string]*journal.Journal
}

func newEvidence(tb testing.TB) *evidence {
	tb.Helper()
	ev := &evidence{tb: tb, dir: filepath.Join(tb.TempDir(), "evidence"), js: map[string]*journal.Journal{}}
	tb.Cleanup(ev.close)
	return ev
}

var quiet = slog.New(slog.DiscardHandler)

func (ev *evidence) journal(stream, seg string) *journal.Journal {
	ev.tb.Helper()
	key := stream + "/" + seg
	if j := ev.js[key]; j != nil {
		return j
	}
	j, err := journal.Open(filepath.Join(ev.dir, stream, seg), journal.Options{Origin: "test.preau/" + stream + "-" + seg, Logger: quiet})
	if err != nil {
		ev.tb.Fatal(err)
	}
	ev.js[key] = j
	return j
}

// add appends a record of kind at t to the segment of t's month.
func (ev *evidence) add(stream, kind string, t time.Time, fields map[string]any) {
	ev.tb.Helper()
	rec := map[string]any{"v": 1, "kind": kind, "time": t.UTC().Format(time.RFC3339Nano)}
	for k, v := range fields {
		rec[k] = v
	}
	b, err := json.Marshal(rec)
	if err != nil {
		ev.tb.Fatal(err)
	}
	if _, err := ev.journal(stream, t.UTC().Format("2006-01")).Append(b); err != nil {
		ev.tb.Fatal(err)
	}
}

func (ev *evidence) checkpoint(stream, seg string) {
	ev.tb.Helper()
	if _, err := ev.journal(stream, seg).Checkpoint(); err != nil {
		ev.tb.Fatal(err)
	}
}

// close closes the journals: Export opens them itself, and the journal's
// lock is exclusive.
func (ev *evidence) close() {
	for k, j := range ev.js {
		if err := j.Close(); err != nil {
			ev.tb.Error(err)
		}
		delete(ev.js, k)
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// episodeObj is an "episode" object as episode_start and episode_end hold.
func episodeObj(id string, start, end time.Time, peak float64, requests int64, level int, top []Count, paths []Count) map[string]any {
	m := map[string]any{"id": id, "start": ts(start), "peak_rate": peak, "requests": requests, "baseline": 4.5,
		"max_level": level, "top_sources": top, "top_prefixes": []Count{}, "top_nets": []Count{},
		"top_paths": paths, "top_agents": []Count{{Key: "curl/8.0", Count: requests}}}
	if !end.IsZero() {
		m["end"] = ts(end)
	}
	return m
}

// scenario describes the evidence built by buildScenario.
type scenario struct {
	dir        string
	id         string // the episode to export
	before     string // an unrelated episode before it
	after      string // an unrelated episode after it
	start, end time.Time
	addrs      []string // the episode's source addresses
	otherAddrs []string // addresses only in the unrelated episodes
	requests   int64    // request records of the episode
	perAddr    map[string]int64
}

// buildScenario records three episodes; the one to export crosses from
// March into April 2025, so its leaves span two segments of each stream.
// The March events segment has a checkpoint covering everything; the
// others have none, so an export must sign new ones.
func buildScenario(tb testing.TB) scenario {
	tb.Helper()
	ev := newEvidence(tb)
	sc := scenario{
		dir: ev.dir, id: "ep-20250331-2359", before: "ep-20250330-1000", after: "ep-20250401-0900",
		start:      time.Date(2025, 3, 31, 23, 59, 30, 0, time.UTC),
		end:        time.Date(2025, 4, 1, 0, 0, 40, 0, time.UTC),
		addrs:      []string{"45.83.64.17", "91.198.174.192", "2a01:4f8:c17:1::9"},
		otherAddrs: []string{"185.220.101.33", "77.88.55.60"},
		perAddr:    map[string]int64{},
	}
	day := time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)
	ev.add(StreamEvents, kindClock, day.Add(time.Hour), map[string]any{"source": "chrony", "synchronized": true})

	// An unrelated episode the day before.
	ev.unrelated(sc.before, day.Add(10*time.Hour), sc.otherAddrs)
	ev.add(StreamEvents, kindAudit, day.Add(12*time.Hour), map[string]any{"actor": "admin", "action": "login", "details": map[string]any{}})
	ev.add(StreamEvents, kindClock, sc.start.Add(-time.Hour), map[string]any{"source": "chrony", "synchronized": true})

	// The episode.
	top := []Count{{Key: sc.addrs[0], Count: 120}, {Key: sc.addrs[1], Count: 60}, {Key: sc.addrs[2], Count: 30}}
	paths := []Count{{Key: "POST /login/index.php", Count: 200}, {Key: "GET /", Count: 10}}
	ev.add(StreamEvents, kindEpisodeStart, sc.start, map[string]any{"episode": episodeObj(sc.id, sc.start, time.Time{}, 0, 0, 1, top[:1], paths[:1]),
		"level": 1, "reason": "rate above baseline"})
	var total int64
	var peak float64
	for s := sc.start; s.Before(sc.end); s = s.Add(time.Second) {
		n := int64(3)
		legit := int64(1)
		total += n + legit
		peak = max(peak, float64(n+legit))
		ev.add(StreamEvents, kindDecisionSummary, s.Add(time.Second), map[string]any{
			"episode": sc.id, "since": ts(s), "until": ts(s.Add(time.Second)), "requests": n + legit, "rate": float64(n + legit),
			"outcomes": map[string]int64{"admitted": legit + 1, "blocked": 1, "challenged": 1},
			"classes":  map[string]int64{"anonymous": n, "member": legit}, "blocked_prefixes": []string{"45.83.64.0/24"}})
		for k := int64(0); k < n; k++ {
			addr := sc.addrs[k]
			ev.add(StreamRequests, kindRequest, s.Add(time.Duration(k)*time.Millisecond), map[string]any{
				"episode": sc.id, "addr": addr, "port": 40000 + k, "method": "POST", "path": "/login/index.php",
				"status": 403, "bytes": 120, "agent": "curl/8.0", "class": "anonymous", "outcome": "blocked"})
			sc.requests++
		}
		if s.Equal(sc.start.Add(20 * time.Second)) {
			ev.add(StreamEvents, kindLevelChange, s, map[string]any{"episode": sc.id, "level": 2, "reason": "sustained"})
			ev.add(StreamEvents, kindAudit, s, map[string]any{"actor": "admin", "action": "block", "details": map[string]any{"prefix": "45.83.64.0/24"}})
		}
	}
	// Per-minute aggregates: 23:59 in March, 00:00 in April, and an
	// overflow aggregate.
	for _, m := range []time.Time{sc.start.Truncate(time.Minute), sc.start.Truncate(time.Minute).Add(time.Minute)} {
		for k, addr := range sc.addrs {
			req := int64(10 * (k + 1))
			first := m
			if first.Before(sc.start) {
				first = sc.start
			}
			ev.add(StreamSources, kindSourceMinute, m.Add(time.Minute), map[string]any{
				"minute": ts(m), "episode": sc.id, "addr": addr, "requests": req,
				"outcomes": map[string]int64{"blocked": req}, "paths": map[string]int64{"/login/index.php": req},
				"agent": "curl/8.0", "first": ts(first), "last": ts(m.Add(59 * time.Second))})
			sc.perAddr[addr] += req
		}
		ev.add(StreamSources, kindSourceMinute, m.Add(time.Minute), map[string]any{
			"minute": ts(m), "episode": sc.id, "addr": "other", "requests": 5, "outcomes": map[string]int64{"blocked": 5},
			"paths": map[string]int64{}, "agent": "", "first": ts(m), "last": ts(m.Add(59 * time.Second))})
		sc.perAddr["other"] += 5
	}
	ev.add(StreamEvents, kindEpisodeEnd, sc.end, map[string]any{"episode": episodeObj(sc.id, sc.start, sc.end, peak, total, 2, top, paths),
		"level": 0, "reason": "quiet"})
	ev.add(StreamEvents, kindClock, sc.end.Add(time.Hour), map[string]any{"source": "chrony", "synchronized": false})
	ev.checkpoint(StreamEvents, "2025-03")

	// An unrelated episode afterwards.
	ev.unrelated(sc.after, time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC), sc.otherAddrs)
	ev.close()
	return sc
}

// unrelated records a short episode from addrs.
func (ev *evidence) unrelated(id string, start time.Time, addrs []string) {
	end := start.Add(5 * time.Second)
	top := []Count{{Key: addrs[0], Count: 50}}
	ev.add(StreamEvents, kindEpisodeStart, start, map[string]any{"episode": episodeObj(id, start, time.Time{}, 0, 0, 1, top, nil), "level": 1, "reason": "x"})
	for s := start; s.Before(end); s = s.Add(time.Second) {
		ev.add(StreamEvents, kindDecisionSummary, s.Add(time.Second), map[string]any{"episode": id, "since": ts(s), "until": ts(s.Add(time.Second)),
			"requests": 10, "rate": 10.0, "outcomes": map[string]int64{"admitted": 10}, "classes": map[string]int64{"anonymous": 10}})
		for _, a := range addrs {
			ev.add(StreamRequests, kindRequest, s, map[string]any{"episode": id, "addr": a, "port": 1, "method": "GET", "path": "/",
				"status": 200, "bytes": 1, "agent": "x", "class": "anonymous", "outcome": "admitted"})
		}
	}
	for _, a := range addrs {
		ev.add(StreamSources, kindSourceMinute, end, map[string]any{"minute": ts(start.Truncate(time.Minute)), "episode": id, "addr": a,
			"requests": 5, "first": ts(start), "last": ts(end)})
	}
	ev.add(StreamEvents, kindEpisodeEnd, end, map[string]any{"episode": episodeObj(id, start, end, 10, 50, 1, top, nil), "level": 0, "reason": "quiet"})
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
