package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustVerify(t *testing.T, dir string) {
	t.Helper()
	probs, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Error(p)
	}
}

// readEntries returns the records of entries.jsonl by stream.
func readEntries(t *testing.T, dir string) map[string][]record {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, fileEntries))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]record{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxLine)
	for sc.Scan() {
		var e entryLine
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		var r record
		if err := json.Unmarshal([]byte(*e.Record), &r); err != nil {
			t.Fatal(err)
		}
		out[e.Stream] = append(out[e.Stream], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestListEpisodesReturnsAllInOrder(t *testing.T) {
	sc := buildScenario(t)
	eps, err := ListEpisodes(sc.dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range eps {
		ids = append(ids, e.ID)
	}
	if want := []string{sc.before, sc.id, sc.after}; !slices.Equal(ids, want) {
		t.Fatalf("episodes %v, want %v", ids, want)
	}
	e := eps[1]
	if !e.Start.Equal(sc.start) || !e.End.Equal(sc.end) || e.Open() || e.MaxLevel != "2" || len(e.TopSources) != 3 || e.TopSources[0].Key != sc.addrs[0] {
		t.Errorf("episode %+v", e)
	}
	if e.Requests != 280 || e.PeakRate != 4 {
		t.Errorf("requests %d peak %v, want 280 and 4", e.Requests, e.PeakRate)
	}
}

func TestExportedPackageVerifiesAndHoldsOnlyTheEpisode(t *testing.T) {
	sc := buildScenario(t)
	var progress [][2]int64
	out, sum := mustExport(t, sc, func(o *Options) {
		o.Progress = func(done, total int64) { progress = append(progress, [2]int64{done, total}) }
	})
	mustVerify(t, out)

	if sum.Entries[StreamRequests] != sc.requests {
		t.Errorf("exported %d request records, want %d", sum.Entries[StreamRequests], sc.requests)
	}
	if sum.Sources != len(sc.perAddr) {
		t.Errorf("%d sources, want %d", sum.Sources, len(sc.perAddr))
	}
	if len(progress) == 0 || progress[len(progress)-1][0] != progress[len(progress)-1][1] {
		t.Errorf("progress %v does not end complete", progress)
	}
	// Two months of events and requests (the per-minute aggregates are all
	// written in April); March events had a covering checkpoint.
	signed := map[string]bool{}
	for _, c := range sum.Checkpoints {
		signed[label(c.Stream, c.Segment)] = c.Signed
	}
	want := map[string]bool{"events-2025-03": false, "events-2025-04": true, "sources-2025-04": true,
		"requests-2025-03": true, "requests-2025-04": true}
	if len(signed) != len(want) {
		t.Errorf("checkpoints %v, want %v", signed, want)
	}
	for k, v := range want {
		if s, ok := signed[k]; !ok || s != v {
			t.Errorf("checkpoint %s: signed=%v present=%v, want signed=%v", k, s, ok, v)
		}
	}

	recs := readEntries(t, out)
	for stream, rs := range recs {
		for _, r := range rs {
			id, _, _ := r.episodeID()
			switch {
			case id == sc.id:
			case stream == StreamEvents && (r.Kind == kindClock || r.Kind == kindAudit) && id == "":
				if r.Time.After(sc.end) {
					t.Errorf("context record %s at %s is after the episode", r.Kind, r.Time)
				}
			default:
				t.Errorf("%s record %s of episode %q exported", stream, r.Kind, id)
			}
		}
	}
	kinds := map[string]int{}
	for _, r := range recs[StreamEvents] {
		kinds[r.Kind]++
	}
	// The clock before the episode (not the one of the day before, nor the
	// one after), the audit during it (not the one before).
	if kinds[kindClock] != 1 || kinds[kindAudit] != 1 || kinds[kindDecisionSummary] != 70 || kinds[kindEpisodeStart] != 1 || kinds[kindEpisodeEnd] != 1 || kinds[kindLevelChange] != 1 {
		t.Errorf("event kinds %v", kinds)
	}

	var md metadata
	b, _ := os.ReadFile(filepath.Join(out, fileMetadata))
	if err := json.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	if md.Episode.Kind != "login_flood" || md.TLP != "amber" || md.Case != "PV-2025-000123" || !md.Raw || md.Pseudonym.Enabled ||
		!md.Attrib.Enabled || len(md.Attrib.Datasets) != 2 || len(md.Clock) != 1 || md.Version != "v0.test" {
		t.Errorf("metadata %+v", md)
	}

	csvb, _ := os.ReadFile(filepath.Join(out, fileSourcesCSV))
	if !bytes.Contains(csvb, []byte("45.83.64.17,2025-03-31T23:59:30Z,2025-04-01T00:00:59Z,20,64500,Example Hosting Cloud,NL,hosting,0.70")) {
		t.Errorf("sources.csv lacks the attributed first source:\n%s", csvb)
	}
}

func TestReportIsSelfContainedAndAccessible(t *testing.T) {
	sc := buildScenario(t)
	out, _ := mustExport(t, sc, nil)
	b, err := os.ReadFile(filepath.Join(out, fileReport))
	if err != nil {
		t.Fatal(err)
	}
	h := string(b)
	for _, want := range []string{`<html lang="fr">`, "<title>", "<h1>", "<h2", "<caption>", `role="img"`, "<svg", "<title id=\"chart-title\">",
		"<desc id=\"chart-desc\">", "<polyline", "Légitimes / Legitimate", "Attaque admise", "Bloquées ou refusées", "AS64500", "NL", "TLP:AMBER"} {
		if !strings.Contains(h, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "<link"} {
		if strings.Contains(strings.ToLower(h), bad) {
			t.Errorf("report contains %q", bad)
		}
	}
}

func TestExportWithoutRawLeavesOutRequests(t *testing.T) {
	sc := buildScenario(t)
	out, sum := mustExport(t, sc, func(o *Options) { o.Raw = false })
	mustVerify(t, out)
	if n := sum.Entries[StreamRequests]; n != 0 {
		t.Errorf("%d request entries exported", n)
	}
	recs := readEntries(t, out)
	if len(recs[StreamRequests]) != 0 {
		t.Errorf("entries hold %d request records", len(recs[StreamRequests]))
	}
	for _, r := range recs[StreamEvents] {
		if r.Kind == kindRequest {
			t.Error("a request record in the events stream")
		}
	}
	if _, err := os.Stat(filepath.Join(out, checkpointFile(StreamRequests, "2025-03"))); err == nil {
		t.Error("requests checkpoint in a package without raw records")
	}
}

func TestPseudonymisedExportHidesAddresses(t *testing.T) {
	sc := buildScenario(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	out, _ := mustExport(t, sc, func(o *Options) { o.Pseudonymise = key })
	mustVerify(t, out)
	if _, err := os.Stat(filepath.Join(out, fileEntries)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("entries.jsonl present in a pseudonymised package: %v", err)
	}
	err := filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, a := range append(slices.Clone(sc.addrs), sc.otherAddrs...) {
			if bytes.Contains(b, []byte(a)) {
				t.Errorf("%s contains address %s", p, a)
			}
		}
		if bytes.Contains(b, []byte("45.83.64.0/24")) {
			t.Errorf("%s contains the blocked prefix", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	csvb, _ := os.ReadFile(filepath.Join(out, fileSourcesCSV))
	p := pseudonym(key, sc.addrs[0])
	if !bytes.Contains(csvb, []byte(p+",2025-03-31T23:59:30Z,2025-04-01T00:00:59Z,20,64500,Example Hosting Cloud,NL,hosting,0.70")) {
		t.Errorf("sources.csv lacks %s with its ASN and country:\n%s", p, csvb)
	}
	a, _ := pseudonymAddr(p)
	stixb, _ := os.ReadFile(filepath.Join(out, fileSTIX))
	if !bytes.Contains(stixb, []byte(a.String())) {
		t.Errorf("STIX bundle lacks %s", a)
	}
}

func TestExportRefusesBadRequests(t *testing.T) {
	sc := buildScenario(t)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	for name, tc := range map[string]struct {
		edit func(*Options)
		want error
	}{
		"unknown episode":  {func(o *Options) { o.EpisodeID = "nope" }, ErrEpisodeNotFound},
		"output not empty": {func(o *Options) { o.Out = full }, ErrOutNotEmpty},
		"bad TLP":          {func(o *Options) { o.TLP = "purple" }, ErrInvalidOptions},
		"short key":        {func(o *Options) { o.Pseudonymise = []byte("k") }, ErrInvalidOptions},
	} {
		t.Run(name, func(t *testing.T) {
			o := Options{Dir: sc.dir, EpisodeID: sc.id, TLP: "green", Out: filepath.Join(t.TempDir(), "p"), Logger: quiet}
			tc.edit(&o)
			if _, err := Export(t.Context(), o); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if o.Out != full {
				if _, err := os.Stat(o.Out); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("output left behind: %v", err)
				}
			}
		})
	}
}

func TestExportIntoEmptyDirectoryWithoutAttribution(t *testing.T) {
	sc := buildScenario(t)
	empty := t.TempDir()
	out, _ := mustExport(t, sc, func(o *Options) { o.Out = empty; o.Attributor = nil; o.TLP = "clear" })
	mustVerify(t, out)
	b, _ := os.ReadFile(filepath.Join(out, fileMetadata))
	if !bytes.Contains(b, []byte(`"no attribution datasets were configured`)) {
		t.Error("metadata does not say attribution is off")
	}
	csvb, _ := os.ReadFile(filepath.Join(out, fileSourcesCSV))
	if !bytes.Contains(csvb, []byte("45.83.64.17,2025-03-31T23:59:30Z,2025-04-01T00:00:59Z,20,,,,,\n")) {
		t.Errorf("attribution columns not empty:\n%s", csvb)
	}
}

func TestManifestChecksWithStandardTools(t *testing.T) {
	sc := buildScenario(t)
	out, _ := mustExport(t, sc, nil)
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "-c", "--quiet", "MANIFEST.sha256")
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, b)
		}
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	// The exact command the READMEs give.
	cmd := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signer.pem", "-rawin", "-in", "MANIFEST.sha256", "-sigfile", "MANIFEST.sha256.sig")
	cmd.Dir = out
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "Signature Verified Successfully") {
		t.Fatalf("openssl: %v\n%s", err, b)
	}
	for _, readme := range []string{fileReadmeFR, fileReadmeEN} {
		rb, _ := os.ReadFile(filepath.Join(out, readme))
		if !strings.Contains(string(rb), strings.Join(cmd.Args, " ")) || !strings.Contains(string(rb), "sha256sum -c MANIFEST.sha256") ||
			!strings.Contains(string(rb), "preau evidence verify") {
			t.Errorf("%s does not give the verification commands", readme)
		}
	}
	// And a changed manifest must fail.
	os.WriteFile(filepath.Join(out, fileManifest), []byte("x"), 0o600)
	if err := cmd.Run(); err == nil {
		t.Error("openssl accepts a changed manifest")
	}
}

func TestOpenEpisodeExports(t *testing.T) {
	ev := newEvidence(t)
	start := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	ev.add(StreamEvents, kindEpisodeStart, start, map[string]any{"episode": episodeObj("open-1", start, time.Time{}, 0, 0, 1,
		[]Count{{Key: "45.83.64.17", Count: 9}}, nil)})
	for s := start; s.Before(start.Add(3 * time.Second)); s = s.Add(time.Second) {
		ev.add(StreamEvents, kindDecisionSummary, s.Add(time.Second), map[string]any{"episode": "open-1", "since": ts(s), "until": ts(s.Add(time.Second)),
			"requests": 3, "rate": 3.0, "outcomes": map[string]int64{"admitted": 3}, "classes": map[string]int64{"anonymous": 3}})
	}
	ev.close()
	out := filepath.Join(t.TempDir(), "p")
	sum, err := Export(t.Context(), Options{Dir: ev.dir, EpisodeID: "open-1", TLP: "red", Out: out, Now: fixedNow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, out)
	if !sum.Episode.Open() || sum.Sources != 1 || sum.Episode.Requests != 9 {
		t.Errorf("summary %+v", sum)
	}
}

func TestCancelledExportLeavesNothing(t *testing.T) {
	sc := buildScenario(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out := filepath.Join(t.TempDir(), "p")
	_, err := Export(ctx, Options{Dir: sc.dir, EpisodeID: sc.id, TLP: "green", Out: out, Logger: quiet})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestLoginFloodDetection(t *testing.T) {
	for key, want := range map[string]bool{
		"POST /login/index.php": true, "/cas/login": true, "GET /login": false, "POST /search": false, "POST /j_security_check": true, "GET /": false,
	} {
		if got := loginPath(key); got != want {
			t.Errorf("loginPath(%q) = %v, want %v", key, got, want)
		}
	}
}
