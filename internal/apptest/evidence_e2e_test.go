// evidence_e2e_test.go is the evidence chain end to end, on the real
// binary and a real flood: `preau demo` with the shield, `preau storm`
// flooding it from 10,000 rotating loopback addresses, the detector
// opening and closing an episode, the server stopped (its last
// checkpoints signed), then `preau evidence episodes`, `export` and
// `verify` as an operator would run them — and verify failing, naming the
// file and the check, once one byte of the package is changed.
package apptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"preau/internal/cli"
)

// preauCmd runs the binary to completion and returns its exit code and
// outputs.
func preauCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(preauBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("preau %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

type recordedEpisode struct {
	ID         string     `json:"id"`
	End        *time.Time `json:"end"`
	Requests   int64      `json:"requests"`
	TopSources []struct {
		Key   string `json:"key"`
		Count int64  `json:"count"`
	} `json:"top_sources"`
}

func TestFloodIsRecordedExportedAndVerified(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a real server for several seconds")
	}
	dir := t.TempDir()
	// A detector that learns for 1 s and closes an episode after 2 calm
	// seconds, so that the test does not wait the production 30 s twice.
	p := startPreau(t, "demo", "--addr", "127.0.0.1:0", "--data", dir, "--detect-warmup", "1s", "--detect-exit-after", "2s",
		"--evidence-sample-every", "5")
	time.Sleep(1500 * time.Millisecond) // past the warm-up: a flood at start-up is not an episode by design

	// The flood: anonymous page loads from 10,000 addresses of
	// 127.42.0.0/16, a new connection and a new address for each.
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"storm", "--target", p.URL, "--scenario", "flood", "--rate", "400",
		"--duration", "4s", "--sources", "rotating", "--out", t.TempDir()}, strings.NewReader(""), &stdout, &stderr, nil)
	if code != 0 {
		t.Fatalf("storm exited %d: %s", code, stderr.String())
	}

	// The episode ends once the traffic has been calm for 2 s.
	evidenceDir := filepath.Join(dir, "evidence")
	var ep recordedEpisode
	deadline := time.Now().Add(time.Minute)
	for {
		code, out, errOut := preauCmd(t, "evidence", "episodes", "--json", "--evidence-dir", evidenceDir)
		var eps []recordedEpisode
		if code == 0 && json.Unmarshal([]byte(out), &eps) == nil && len(eps) > 0 && eps[0].End != nil {
			ep = eps[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended episode a minute after the flood: exit %d\n%s\n%s\nserver:\n%s", code, out, errOut, p.out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if ep.Requests < 100 || len(ep.TopSources) == 0 || !strings.HasPrefix(ep.TopSources[0].Key, "127.42.") {
		t.Errorf("episode %+v: want the flood's requests and 127.42.0.0/16 among its top sources", ep)
	}
	// SIGTERM: the server signs its journals' final checkpoints, which
	// cover the whole episode.
	p.stop(t)

	_, table, _ := preauCmd(t, "evidence", "episodes", "--data", dir)
	if !strings.Contains(table, ep.ID) {
		t.Errorf("episodes table lacks %s:\n%s", ep.ID, table)
	}
	pkg := filepath.Join(t.TempDir(), "PJ-2026-1206")
	code, out, errOut := preauCmd(t, "evidence", "export", "--data", dir, "--episode", ep.ID, "--case", "PJ 2026/1206",
		"--tlp", "amber", "--raw", "--out", pkg)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{"README.fr.md", "README.en.md", "metadata.json", "proofs.jsonl", "signer.pem", "entries.jsonl", "episodes.csv", "sources.csv", "stix-bundle.json",
		"MANIFEST.sha256", "MANIFEST.sha256.sig", "report.html"} {
		if _, err := os.Stat(filepath.Join(pkg, f)); err != nil {
			t.Errorf("package lacks %s: %v", f, err)
		}
	}
	code, out, errOut = preauCmd(t, "evidence", "verify", pkg)
	if code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
	}

	// One byte of a sampled request changed: verification fails and says
	// where.
	entries := filepath.Join(pkg, "entries.jsonl")
	b, err := os.ReadFile(entries)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"127.42.`))
	if i < 0 {
		t.Fatalf("no flood address in entries.jsonl")
	}
	b[i+len(`"127.4`)] ^= 1 // 127.42 → 127.43
	if err := os.WriteFile(entries, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = preauCmd(t, "evidence", "verify", pkg)
	if code != 1 || !strings.HasPrefix(out, "FAILED: ") || !strings.Contains(out, "entries.jsonl: manifest-hash: ") {
		t.Fatalf("verify of a changed package: exit %d\n%s\n%s", code, out, errOut)
	}
}
