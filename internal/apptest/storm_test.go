// storm_test.go smoke-tests `preau storm` against a real demo: a short
// mixed run (students plus a rotating flood) writes the three reports, and
// non-loopback targets are refused without the ownership flag.
package apptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"preau/internal/apptest"
	"preau/internal/cli"
)

func TestStormMixedSmoke(t *testing.T) {
	s := apptest.StartDemo(t, "--size", "2x5")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"storm", "--target", s.URL, "--scenario", "mixed", "--demo-size", "2x5",
		"--students", "6", "--ramp", "1s", "--think", "100ms-300ms", "--duration", "3s", "--rate", "80", "--sources", "rotating", "--out", out},
		strings.NewReader(""), &stdout, &stderr, nil)
	if code != 0 {
		t.Fatalf("storm exited %d: %s", code, stderr.String())
	}
	for _, f := range []string{"report.json", "report.svg", "report.md"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	var rep struct {
		AttackSent    int `json:"attack_sent"`
		AttackReached int `json:"attack_reached_backend"`
		Classes       []struct {
			Class       string  `json:"class"`
			Requests    int     `json:"requests"`
			SuccessRate float64 `json:"success_rate"`
		} `json:"classes"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.AttackSent < 200 {
		t.Errorf("attack requests sent: %d", rep.AttackSent)
	}
	seen := map[string]bool{}
	for _, c := range rep.Classes {
		seen[c.Class] = true
		if (c.Class == "newcomer" || c.Class == "logged-in") && c.SuccessRate < 1 {
			t.Errorf("students: %+v", c)
		}
	}
	if !seen["newcomer"] || !seen["logged-in"] || !seen["attack"] {
		t.Errorf("classes: %+v", rep.Classes)
	}
	// 80 requests a second from rotating addresses, under the per-address
	// limits: the application served some of them, counted apart from the
	// students' pages.
	if rep.AttackReached <= 0 || rep.AttackReached > rep.AttackSent {
		t.Errorf("attack requests reaching the application: %d of %d", rep.AttackReached, rep.AttackSent)
	}
	if !strings.Contains(stdout.String(), "## Checks") {
		t.Errorf("no summary on stdout")
	}
}

func TestStormRefusesOtherPeoplesMachines(t *testing.T) {
	var stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"storm", "--target", "http://192.0.2.10", "--duration", "1s"},
		strings.NewReader(""), &bytes.Buffer{}, &stderr, nil)
	if code != 2 || !strings.Contains(stderr.String(), "--i-own-the-target") {
		t.Errorf("non-loopback target: exit %d, %q", code, stderr.String())
	}
}

func TestStormSweepSmoke(t *testing.T) {
	s := apptest.StartDemo(t, "--size", "2x5")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"storm", "--target", s.URL, "--scenario", "sweep", "--demo-size", "2x5",
		"--students", "4", "--think", "100ms-200ms", "--multiples", "0,1", "--step", "2s", "--sources", "few", "--out", out},
		strings.NewReader(""), &stdout, &stderr, nil)
	if code != 0 {
		t.Fatalf("storm exited %d: %s", code, stderr.String())
	}
	var rep struct {
		Capacity float64 `json:"capacity_rps"`
		Points   []struct {
			Multiple    float64            `json:"multiple"`
			Goodput     float64            `json:"goodput_rps"`
			AttackRate  float64            `json:"attack_rps"`
			AttackReach *float64           `json:"attack_reach"`
			SuccessRate map[string]float64 `json:"success_rate"`
		} `json:"points"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Capacity <= 0 || len(rep.Points) != 2 || rep.Points[1].Multiple != 1 {
		t.Fatalf("sweep report: %+v", rep)
	}
	if p := rep.Points[1]; p.Goodput <= 0 || p.AttackRate <= 0 || p.AttackReach == nil || p.SuccessRate["logged-in"] == 0 {
		t.Errorf("1× point: %+v", p)
	}
	svg, _ := os.ReadFile(filepath.Join(out, "report.svg"))
	if !strings.Contains(string(svg), "<polyline") {
		t.Error("the sweep chart has no line")
	}
}
