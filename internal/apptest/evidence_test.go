// evidence_test.go covers the evidence recorder inside a running Préau: an
// attack episode (driven through the real shield's detector with synthetic
// traffic on a clock an hour ahead, so that nothing waits for a real
// flood's warm-up) reaches the journals with the detector's events, the
// per-minute aggregates and the sampled requests the shield handled while
// it was open; an operator's action lands in the audit log; /readyz fails
// when the evidence directory cannot be written; the recorder's counters
// are in /metrics.
package apptest_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"preau/internal/app"
	"preau/internal/apptest"
	"preau/internal/evidence/journal"
	"preau/internal/shield/detect"
)

// attackSources are the flood's addresses: documentation networks, public
// as far as the evidence code is concerned.
var attackSources = func() []netip.Addr {
	var out []netip.Addr
	for i := 1; i <= 10; i++ {
		out = append(out, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
	}
	return out
}()

// floodClock drives a detector on synthetic time, an hour ahead of the
// real clock: the shield's own ticker (real time) then never closes a
// window, and requests the test sends for real are counted in the current
// synthetic window.
type floodClock struct {
	det *detect.Detector
	now time.Time
}

func newFloodClock(a *app.App) *floodClock {
	c := &floodClock{det: a.Shield.Detector(), now: time.Now().Add(time.Hour).Truncate(time.Second)}
	c.det.Tick(c.now)
	// Calm windows past the detector's warm-up, in case the shield's
	// ticker had not started it before the first Tick above.
	c.windows(31, 0)
	return c
}

// windows closes n one-second windows, each with perWindow anonymous
// requests spread over attackSources (0 for calm windows).
func (c *floodClock) windows(n, perWindow int) {
	for range n {
		for i := range perWindow {
			c.det.Observe(detect.Request{Time: c.now.Add(time.Duration(i) * time.Millisecond), Addr: attackSources[i%len(attackSources)],
				Path: "POST /login", UserAgent: "flood/1.0", Class: "anonymous", Outcome: "limited"})
		}
		c.now = c.now.Add(time.Second)
		c.det.Tick(c.now)
	}
}

// startEpisode floods until the detector opens an episode and returns it.
func (c *floodClock) startEpisode(t *testing.T) *detect.Episode {
	t.Helper()
	for range 20 {
		c.windows(1, 400)
		if ep := c.det.Snapshot().Episode; ep != nil {
			return ep
		}
	}
	t.Fatal("no episode after 20 s of flood")
	return nil
}

// endEpisode keeps the synthetic traffic calm until the episode ends.
func (c *floodClock) endEpisode(t *testing.T) *detect.Episode {
	t.Helper()
	for range 120 {
		c.windows(1, 0)
		if s := c.det.Snapshot(); s.Episode == nil && s.LastEpisode != nil {
			return s.LastEpisode
		}
	}
	t.Fatal("the episode did not end after two calm minutes")
	return nil
}

// journalRecords reads every record of a stream from the evidence
// directory of a stopped server, decoded as JSON objects.
func journalRecords(t *testing.T, evidenceDir, stream string) []map[string]any {
	t.Helper()
	months, err := os.ReadDir(filepath.Join(evidenceDir, stream))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range months {
		if !m.IsDir() {
			continue
		}
		j, err := journal.Open(filepath.Join(evidenceDir, stream, m.Name()), journal.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("open %s/%s: %v", stream, m.Name(), err)
		}
		err = j.Scan(0, j.Size(), func(_ int64, rec []byte) error {
			var v map[string]any
			if err := json.Unmarshal(rec, &v); err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
		j.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestEvidenceRecordsEpisodeRequestsAndAudit(t *testing.T) {
	dir := t.TempDir()
	s, a := apptest.StartApp(t, dir, "--evidence-sample-every", "1")
	admin := s.LoginHTML(t, "admin", "demo")
	if code, _, _ := admin.Post("/admin/shield", url.Values{"attack": {"on"}}); code != http.StatusSeeOther {
		t.Fatalf("attack mode on: %d", code)
	}
	admin.Post("/admin/shield", url.Values{"attack": {"off"}})

	clock := newFloodClock(a)
	ep := clock.startEpisode(t)
	if got := a.Recorder.Stats().Episode; got != ep.ID {
		t.Fatalf("recorder's open episode %q, detector's %q", got, ep.ID)
	}
	// Requests the shield handles during the episode: an anonymous visitor
	// (sent to the challenge at this level) and the signed-in admin.
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 3 {
		resp, err := anon.Get(s.URL + "/login?user=secret")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if code, _ := admin.Get("/admin"); code != http.StatusOK {
		t.Fatalf("admin during the episode: %d", code)
	}
	ended := clock.endEpisode(t)
	s.Stop(t)

	evidence := filepath.Join(dir, "evidence")
	kinds := map[string]int{}
	var audits []map[string]any
	for _, r := range journalRecords(t, evidence, "events") {
		kinds[r["kind"].(string)]++
		if r["kind"] == "audit" {
			audits = append(audits, r)
		}
		if r["kind"] == "episode_end" {
			if id := r["episode"].(map[string]any)["id"]; id != ended.ID {
				t.Errorf("episode_end of %v, want %s", id, ended.ID)
			}
		}
	}
	for _, k := range []string{"clock", "episode_start", "episode_end", "level_change", "decision_summary", "audit"} {
		if kinds[k] == 0 {
			t.Errorf("no %s record in the events stream (kinds: %v)", k, kinds)
		}
	}
	var onOff []any
	for _, r := range audits {
		if r["action"] == "shield.attack_mode" {
			if r["actor"] != "admin" {
				t.Errorf("audit actor %v, want admin", r["actor"])
			}
			onOff = append(onOff, r["details"].(map[string]any)["on"])
		}
	}
	if len(onOff) != 2 || onOff[0] != true || onOff[1] != false {
		t.Errorf("attack mode audit records: %v", onOff)
	}

	var login, adminPage bool
	for _, r := range journalRecords(t, evidence, "requests") {
		if r["episode"] != ep.ID || r["addr"] != "127.0.0.1" || r["method"] != "GET" || r["port"].(float64) == 0 ||
			!strings.HasPrefix(r["agent"].(string), "Go-http-client/") || !strings.HasSuffix(r["time"].(string), "Z") {
			t.Errorf("request record %v", r)
			continue
		}
		switch r["path"] {
		case "/login":
			login = true
			if r["status"].(float64) != http.StatusSeeOther || r["class"] != "anonymous" || r["outcome"] != "challenged" {
				t.Errorf("anonymous request during the episode recorded as %v", r)
			}
		case "/admin":
			adminPage = true
			if r["status"].(float64) != http.StatusOK || r["bytes"].(float64) == 0 || r["class"] != "staff" || r["outcome"] != "admitted" {
				t.Errorf("admin page during the episode recorded as %v", r)
			}
		case "/login?user=secret":
			t.Errorf("query string recorded: %v", r)
		}
	}
	if !login || !adminPage {
		t.Errorf("sampled requests: anonymous %v, admin %v", login, adminPage)
	}
	var minutes int
	for _, r := range journalRecords(t, evidence, "sources") {
		if r["kind"] == "source_minute" && r["episode"] == ep.ID && r["addr"] == "127.0.0.1" {
			minutes++
		}
	}
	if minutes == 0 {
		t.Error("no per-minute aggregate of the episode's requests")
	}
}

func TestReadinessFailsWhenEvidenceCannotBeWritten(t *testing.T) {
	evidence := filepath.Join(t.TempDir(), "evidence")
	s := apptest.StartDemo(t, "--evidence-dir", evidence)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}
	if _, metrics := get("/metrics"); !strings.Contains(metrics, `preau_evidence_records_appended_total{stream="events"}`) ||
		!strings.Contains(metrics, "preau_evidence_episode_open 0") {
		t.Error("/metrics lacks the evidence recorder's counters")
	}
	// The directory gone and a file in its place: nothing can be created
	// there (a full or read-only disk looks the same to the recorder).
	moved := evidence + ".moved"
	if err := os.Rename(evidence, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(evidence, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "evidence") {
		t.Errorf("/readyz with an unwritable evidence directory: %d %q", code, body)
	}
	os.Remove(evidence)
	if err := os.Rename(moved, evidence); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz once the directory is back: %d", code)
	}
}
