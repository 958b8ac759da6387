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

	"preau/internal/shield/detect"
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

// csvRow is the sources.csv row of a source of the scenario, attributed
// with testAttributor or not.
func csvRow(sc scenario, addr string, attributed bool) string {
	s := sc.truth.sources[addr]
	row := fmtTime(s.first) + "," + fmtTime(s.last) + "," + itoa(s.requests)
	if !attributed {
		return addr + "," + row + ",,,,,"
	}
	switch addr {
	case sc.addrs[0]:
		return addr + "," + row + ",64500,Example Hosting Cloud,NL,hosting,0.70"
	}
	return addr + "," + row
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
	if !e.Start.Equal(sc.start) || !e.End.Equal(sc.end) || e.Open() || e.Unsigned || e.MaxLevel != "waiting_room" ||
		len(e.TopSources) != 3 || e.TopSources[0].Key != sc.addrs[0] {
		t.Errorf("episode %+v", e)
	}
	if e.Requests != 420 || e.PeakRate != 6 {
		t.Errorf("requests %d peak %v, want 420 and 6", e.Requests, e.PeakRate)
	}
}

func TestExportedPackageVerifiesAndHoldsOnlyTheEpisode(t *testing.T) {
	sc := buildScenario(t)
	var progress [][2]int64
	out, sum := mustExport(t, sc, func(o *Options) {
		o.Progress = func(done, total int64) { progress = append(progress, [2]int64{done, total}) }
	})
	mustVerify(t, out)

	if sum.Entries[StreamRequests] != sc.truth.requests {
		t.Errorf("exported %d request records, want %d", sum.Entries[StreamRequests], sc.truth.requests)
	}
	if sum.Sources != len(sc.truth.sources) || sum.TotalLeftOut() != 0 || len(sum.Warnings) != 0 || len(sum.SignerFingerprint) != 64 {
		t.Errorf("%d sources (want %d), %d left out, warnings %q, fingerprint %q", sum.Sources, len(sc.truth.sources),
			sum.TotalLeftOut(), sum.Warnings, sum.SignerFingerprint)
	}
	if len(progress) == 0 || progress[len(progress)-1][0] != progress[len(progress)-1][1] {
		t.Errorf("progress %v does not end complete", progress)
	}
	// Two months of events and requests; the per-minute aggregates are all
	// written in April, a few seconds after their minute.
	var segs []string
	for _, c := range sum.Checkpoints {
		segs = append(segs, label(c.Stream, c.Segment))
		if c.TreeSize < c.Entries || c.Time.IsZero() {
			t.Errorf("checkpoint %+v", c)
		}
	}
	if want := []string{"events-2025-03", "events-2025-04", "sources-2025-04", "requests-2025-03", "requests-2025-04"}; !slices.Equal(segs, want) {
		t.Errorf("checkpoints %v, want %v", segs, want)
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
	// one after), the audit during it (not the one before), the ladder's
	// two steps up (not the cool-down after the end).
	if kinds[kindClock] != 1 || kinds[kindAudit] != 1 || kinds[kindDecisionSummary] != sc.truth.summaries ||
		kinds[kindEpisodeStart] != 1 || kinds[kindEpisodeEnd] != 1 || kinds[kindLevelChange] != 2 {
		t.Errorf("event kinds %v, want %d decision summaries", kinds, sc.truth.summaries)
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
	if c := md.Clock[0]; c.Source != "system (NTP-synchronised: yes)" || !c.Time.Equal(time.Date(2025, 3, 31, 22, 59, 0, 0, time.UTC)) || c.TimeSync == "" {
		t.Errorf("clock record %+v", c)
	}
	if md.Timeline.timelineTotals != sc.truth.timeline || md.Counts.DecisionSummaries != int64(sc.truth.summaries) {
		t.Errorf("timeline %+v from %d summaries, want %+v from %d", md.Timeline, md.Counts.DecisionSummaries, sc.truth.timeline, sc.truth.summaries)
	}

	csvb, _ := os.ReadFile(filepath.Join(out, fileSourcesCSV))
	if want := csvRow(sc, sc.addrs[0], true); !bytes.Contains(csvb, []byte(want+"\n")) {
		t.Errorf("sources.csv lacks the attributed first source %q:\n%s", want, csvb)
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
		for _, a := range append(append(slices.Clone(sc.addrs), sc.member), sc.otherAddrs...) {
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
	want := p + strings.TrimPrefix(csvRow(sc, sc.addrs[0], true), sc.addrs[0])
	if !bytes.Contains(csvb, []byte(want)) {
		t.Errorf("sources.csv lacks %q with its ASN and country:\n%s", want, csvb)
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
	if want := csvRow(sc, sc.addrs[0], false); !bytes.Contains(csvb, []byte(want+"\n")) {
		t.Errorf("sources.csv lacks %q:\n%s", want, csvb)
	}
}

// TestManifestChecksWithStandardTools runs the commands the READMEs give,
// exactly as written there, with the system's sha256sum and openssl.
func TestManifestChecksWithStandardTools(t *testing.T) {
	sc := buildScenario(t)
	out, _ := mustExport(t, sc, nil)
	sha := []string{"sha256sum", "-c", "MANIFEST.sha256"}
	ossl := []string{"openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "signer.pem", "-rawin", "-in", "MANIFEST.sha256", "-sigfile", "MANIFEST.sha256.sig"}
	for _, readme := range []string{fileReadmeFR, fileReadmeEN} {
		rb, _ := os.ReadFile(filepath.Join(out, readme))
		for _, cmd := range [][]string{sha, ossl, {"preau", "evidence", "verify"}} {
			if !strings.Contains(string(rb), "    "+strings.Join(cmd, " ")) {
				t.Errorf("%s does not give the command %q", readme, strings.Join(cmd, " "))
			}
		}
	}
	run := func(args []string) (string, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = out
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	var missing []string
	if _, err := exec.LookPath("sha256sum"); err != nil {
		missing = append(missing, "sha256sum (GNU coreutils)")
	} else {
		b, err := run(sha)
		if err != nil || strings.Count(b, ": OK\n") != strings.Count(readFile(t, out, fileManifest), "\n") {
			t.Errorf("sha256sum -c: %v\n%s", err, b)
		}
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		missing = append(missing, "openssl (3.0 or later)")
	} else {
		// pkeyutl -rawin, which Ed25519 needs, came with OpenSSL 3.0.
		if b, err := run([]string{"openssl", "version"}); err != nil || !strings.HasPrefix(b, "OpenSSL ") || strings.HasPrefix(b, "OpenSSL 1.") {
			missing = append(missing, "openssl 3.0 or later (found "+strings.TrimSpace(b)+")")
		} else if b, err := run(ossl); err != nil || !strings.Contains(b, "Signature Verified Successfully") {
			t.Errorf("openssl: %v\n%s", err, b)
		}
	}

	// A changed file must fail the commands, not only preau evidence verify.
	manifest := readFile(t, out, fileManifest)
	if len(missing) < 2 {
		os.WriteFile(filepath.Join(out, fileSourcesCSV), []byte("x"), 0o600)
		if _, err := exec.LookPath("sha256sum"); err == nil {
			if b, err := run(sha); err == nil || !strings.Contains(b, "sources.csv: FAILED") {
				t.Errorf("sha256sum -c accepts a changed sources.csv:\n%s", b)
			}
		}
		os.WriteFile(filepath.Join(out, fileManifest), []byte(strings.Replace(manifest, "sources.csv", "sources.csv ", 1)), 0o600)
		if _, err := exec.LookPath("openssl"); err == nil && !slices.ContainsFunc(missing, func(m string) bool { return strings.HasPrefix(m, "openssl") }) {
			if b, err := run(ossl); err == nil || strings.Contains(b, "Signature Verified Successfully") {
				t.Errorf("openssl accepts a changed manifest:\n%s", b)
			}
		}
	}
	if len(missing) > 0 {
		t.Skipf("the README's commands could not all be run: not installed: %s", strings.Join(missing, ", "))
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenEpisodeExports(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evidence")
	start := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: start}
	x := startRecording(t, dir, clock, false)
	ep := detect.Episode{ID: "ep-20250501T100000Z-1", Start: start, PeakRate: 3, Baseline: 1, MaxLevel: detect.Normal,
		TopSources: []detect.Talker{{Key: "45.83.64.17", Count: 9}}}
	x.emit(episodeStart(ep, 3))
	x.emit(levelChange(&ep, start.Add(5*time.Second), detect.Normal, detect.TightenBuckets, "episode_start", 3))
	for s := start.Add(5 * time.Second); s.Before(start.Add(8 * time.Second)); s = s.Add(time.Second) {
		c := counts{total: 3, suspect: 3, outcomes: map[string]uint64{"admitted": 3}, classes: map[string]uint64{"anonymous": 3}}
		x.emit(summaryEvent(s, s.Add(time.Second), c, 3, ep.ID, ep.TopSources, nil))
	}
	clock.Set(start.Add(9 * time.Second))
	x.close() // no episode_end: the process stopped during the episode

	out := filepath.Join(t.TempDir(), "p")
	sum, err := Export(t.Context(), Options{Dir: dir, EpisodeID: ep.ID, TLP: "red", Out: out, Now: fixedNow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, out)
	// Without requests there are no per-minute aggregates: sources.csv
	// falls back to the episode's top sources.
	if e := sum.Episode; !e.Open() || sum.Sources != 1 || e.Requests != 9 || e.PeakRate != 3 || e.MaxLevel != "tighten_buckets" {
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
