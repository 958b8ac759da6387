package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"preau/internal/evidence/record"
	"preau/internal/shield/detect"
)

const testEpisode = "ep-20250406T071500Z-1"

// recordEpisode has the evidence recorder record a flood episode, as the
// shield reports one, in DATA/evidence, and returns DATA.
func recordEpisode(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	start := time.Date(2025, 4, 6, 7, 15, 0, 0, time.UTC)
	now := start.Add(-time.Hour)
	r, err := record.Open(record.Config{Dir: filepath.Join(data, "evidence"), SampleEvery: 1, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler), Origin: "test.preau/evidence"})
	if err != nil {
		t.Fatal(err)
	}
	top := []detect.Talker{{Key: "45.83.64.17", Count: 80}, {Key: "45.83.64.18", Count: 40}, {Key: "2a01:4f8::9", Count: 20}, {Key: "91.198.174.192", Count: 10}}
	ep := detect.Episode{ID: testEpisode, Start: start, PeakRate: 150, Requests: 150, Baseline: 3, MaxLevel: detect.Normal, TopSources: top[:1]}
	r.Emit(detect.Event{Seq: 1, Time: start.Add(5 * time.Second), Kind: "episode_start", Episode: &ep, Reason: "rate_above_baseline",
		Fields: map[string]any{"rate": 150.0, "baseline": 3.0, "threshold": 50.0}})
	r.Emit(detect.Event{Seq: 2, Time: start.Add(5 * time.Second), Kind: "level_change", Episode: &ep, Level: detect.Challenge, Reason: "surge",
		Fields: map[string]any{"from": detect.Normal, "to": detect.Challenge, "auto": detect.Challenge, "manual": false}})
	seq := uint64(2)
	for s := start.Add(5 * time.Second); s.Before(start.Add(10 * time.Second)); s = s.Add(time.Second) {
		outcomes := map[string]uint64{}
		for i, t := range top {
			for k := range t.Count / 10 {
				at := s.Add(time.Duration(i*100+int(k)) * time.Millisecond)
				r.Request(record.RequestSample{Time: at, Addr: netip.MustParseAddr(t.Key), Port: 40000, Method: "POST", Path: "/login",
					Status: 403, Bytes: 90, Agent: "curl/8.0", Class: "anonymous", Outcome: "challenged"})
				outcomes["challenged"]++
			}
		}
		seq++
		r.Emit(detect.Event{Seq: seq, Time: s.Add(time.Second), Kind: "decision_summary", Level: detect.Challenge,
			Fields: map[string]any{"since": s, "until": s.Add(time.Second), "requests": uint64(15), "rate": 15.0, "auto": detect.Challenge,
				"outcomes": outcomes, "classes": map[string]uint64{"anonymous": 15}, "episode_id": ep.ID, "top_sources": top}})
	}
	end := ep
	end.End, end.MaxLevel, end.TopSources = start.Add(10*time.Second), detect.Challenge, top
	r.Emit(detect.Event{Seq: seq + 1, Time: start.Add(40 * time.Second), Kind: "episode_end", Episode: &end, Level: detect.Challenge,
		Reason: "rate_back_to_baseline", Fields: map[string]any{"rate": 1.0}})
	now = start.Add(time.Minute)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEvidenceEpisodes(t *testing.T) {
	data := recordEpisode(t)
	code, out, errOut := run(t, "", "evidence", "episodes", "--data", data)
	if code != 0 {
		t.Fatalf("episodes: exit %d, %s", code, errOut)
	}
	t.Logf("preau evidence episodes:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], testEpisode+" ") {
		t.Fatalf("episodes table:\n%s", out)
	}
	for _, want := range []string{"2025-04-06 07:15:00", "2025-04-06 07:15:10", "150.0", "challenge", "45.83.64.17 (80), 45.83.64.18 (40), 2a01:4f8::9 (20), +1"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("episode line lacks %q: %s", want, lines[1])
		}
	}

	code, out, errOut = run(t, "", "evidence", "episodes", "--json", "--evidence-dir", filepath.Join(data, "evidence"))
	var eps []episodeJSON
	if code != 0 || json.Unmarshal([]byte(out), &eps) != nil {
		t.Fatalf("episodes --json: exit %d, %q %s", code, out, errOut)
	}
	if len(eps) != 1 || eps[0].ID != testEpisode || eps[0].End == nil || eps[0].MaxLevel != "challenge" || len(eps[0].TopSources) != 4 {
		t.Errorf("episodes --json: %+v", eps)
	}

	if code, _, errOut := run(t, "", "evidence", "episodes", "--data", t.TempDir()); code != 1 || !strings.Contains(errOut, "no evidence directory at") {
		t.Errorf("episodes without evidence: exit %d, %q", code, errOut)
	}
	if code, _, errOut := run(t, "", "evidence", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown evidence command") {
		t.Errorf("unknown evidence command: exit %d, %q", code, errOut)
	}
}

func TestEvidenceExportThenVerify(t *testing.T) {
	data := recordEpisode(t)
	// A running Préau holds the evidence journals; export must not need
	// them to itself.
	held, err := record.Open(record.Config{Dir: filepath.Join(data, "evidence"), Logger: slog.New(slog.DiscardHandler), Origin: "test.preau/evidence",
		Now: func() time.Time { return time.Date(2025, 4, 6, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	pkg := filepath.Join(t.TempDir(), "PV-42")
	code, out, errOut := run(t, "", "evidence", "export", "--data", data, "--episode", testEpisode, "--case", "PV 2025/42",
		"--tlp", "AMBER", "--out", pkg, "--raw")
	if code != 0 {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("preau evidence export:\n%s%s", errOut, out)
	for _, want := range []string{"Exported episode " + testEpisode, "TLP:AMBER", "requests 75", "4 source addresses", "no attribution",
		"Signer key fingerprint (SHA-256): ", "preau evidence verify " + pkg + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("export output lacks %q", want)
		}
	}
	if !strings.Contains(errOut, "reading the evidence: ") || !strings.Contains(errOut, "(100%)\n") {
		t.Errorf("export progress: %q", errOut)
	}

	code, out, errOut = run(t, "", "evidence", "verify", pkg)
	if code != 0 || !strings.HasPrefix(out, "OK: "+pkg+" is intact") || !strings.Contains(out, "Episode "+testEpisode) {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("preau evidence verify:\n%s", out)

	// One byte of one record changed: verify names the file and fails.
	p := filepath.Join(pkg, "entries.jsonl")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `45.83.64.17`)
	b[i+len("45.83.64.1")] = '8'
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "", "evidence", "verify", pkg)
	if code != 1 || !strings.HasPrefix(out, "FAILED: "+pkg) || !strings.Contains(errOut, "failed verification") {
		t.Fatalf("verify of a changed package: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("preau evidence verify, one byte of entries.jsonl changed:\n%s%s", out, errOut)
	for _, want := range []string{"entries.jsonl: manifest-hash: ", "entries.jsonl: entry: ", "proofs.jsonl: inclusion-proof: "} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := run(t, "", "evidence", "verify"); code != 2 || !strings.Contains(errOut, "usage: preau evidence verify DIR") {
		t.Errorf("verify without DIR: exit %d, %q", code, errOut)
	}
}

func TestEvidenceExportRefusals(t *testing.T) {
	data := recordEpisode(t)
	base := []string{"evidence", "export", "--data", data}
	code, _, errOut := run(t, "", append(base, "--tlp", "amber")...)
	if code != 2 || !strings.Contains(errOut, "--episode, --case, --out required") {
		t.Errorf("missing flags: exit %d, %q", code, errOut)
	}
	args := append(base, "--episode", testEpisode, "--case", "X", "--out", filepath.Join(t.TempDir(), "p"))
	if code, _, errOut := run(t, "", append(args, "--tlp", "purple")...); code != 2 || !strings.Contains(errOut, `TLP "purple"`) {
		t.Errorf("bad TLP: exit %d, %q", code, errOut)
	}
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("short\n"), 0o600)
	if code, _, errOut := run(t, "", append(args, "--tlp", "red", "--pseudonymise-key-file", key)...); code != 2 || !strings.Contains(errOut, "at least 16") {
		t.Errorf("short key: exit %d, %q", code, errOut)
	}
	other := []string{"evidence", "export", "--data", data, "--episode", "ep-nope", "--case", "X", "--tlp", "red", "--out", filepath.Join(t.TempDir(), "p")}
	if code, _, errOut := run(t, "", other...); code != 1 || !strings.Contains(errOut, `episode "ep-nope" is not in`) {
		t.Errorf("unknown episode: exit %d, %q", code, errOut)
	}
}

// TestEvidenceExportWithIPData attributes the sources with a directory laid
// out as scripts/fetch-ip-data.sh leaves it, and pseudonymises them.
func TestEvidenceExportWithIPData(t *testing.T) {
	data := recordEpisode(t)
	ipdata := t.TempDir()
	files := map[string]string{
		"asn/asn-ipv4.csv": "45.83.64.0,45.83.67.255,64500,Example Hosting Cloud\n",
		"geo-whois-asn-country/geo-whois-asn-country-ipv4.csv": "45.83.64.0,45.83.67.255,NL\n",
	}
	list := "# package\tversion\tlicence\tsha256\tfile\n"
	for _, rel := range []string{"asn/asn-ipv4.csv", "geo-whois-asn-country/geo-whois-asn-country-ipv4.csv"} {
		os.MkdirAll(filepath.Join(ipdata, filepath.Dir(rel)), 0o755)
		os.WriteFile(filepath.Join(ipdata, rel), []byte(files[rel]), 0o644)
		sum := sha256.Sum256([]byte(files[rel]))
		pkg := "@ip-location-db/" + filepath.Dir(rel)
		list += fmt.Sprintf("%s\t2.3.2026061719\tCC0-1.0\t%s\t%s\n", pkg, hex.EncodeToString(sum[:]), rel)
	}
	os.WriteFile(filepath.Join(ipdata, "datasets.txt"), []byte(list), 0o644)
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600)

	pkg := filepath.Join(t.TempDir(), "p")
	code, out, errOut := run(t, "", "evidence", "export", "--data", data, "--episode", testEpisode, "--case", "X", "--tlp", "green",
		"--out", pkg, "--ip-data", ipdata, "--pseudonymise-key-file", key)
	if code != 0 || strings.Contains(out, "no attribution") || !strings.Contains(out, "addresses pseudonymised") {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}
	csv, _ := os.ReadFile(filepath.Join(pkg, "sources.csv"))
	if !strings.Contains(string(csv), ",64500,Example Hosting Cloud,NL,hosting,0.70") || strings.Contains(string(csv), "45.83.64.17") {
		t.Errorf("sources.csv:\n%s", csv)
	}
	if code, out, _ := run(t, "", "evidence", "verify", pkg); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}

	// A dataset changed after fetch-ip-data.sh listed it is refused.
	os.WriteFile(filepath.Join(ipdata, "asn/asn-ipv4.csv"), []byte("45.83.64.0,45.83.67.255,64501,Someone Else\n"), 0o644)
	code, _, errOut = run(t, "", "evidence", "export", "--data", data, "--episode", testEpisode, "--case", "X", "--tlp", "green",
		"--out", filepath.Join(t.TempDir(), "q"), "--ip-data", ipdata)
	if code != 1 || !strings.Contains(errOut, "datasets.txt lists") {
		t.Errorf("changed dataset: exit %d, %q", code, errOut)
	}
}
