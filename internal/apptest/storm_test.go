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
	s := apptest.StartDemo(t, "--size", "2x5", "--allowlist", "127.0.0.1/32")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"storm", "--target", s.URL, "--scenario", "mixed", "--demo-size", "2x5",
		"--students", "6", "--ramp", "1s", "--duration", "3s", "--rate", "80", "--sources", "rotating", "--out", out},
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
		AttackSent int `json:"attack_sent"`
		Classes    []struct {
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
		if c.Class == "login" && c.SuccessRate < 1 {
			t.Errorf("students' logins: %+v", c)
		}
	}
	if !seen["login"] || !seen["attack"] {
		t.Errorf("classes: %+v", rep.Classes)
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
	s := apptest.StartDemo(t, "--size", "2x5", "--allowlist", "127.0.0.1/32")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"storm", "--target", s.URL, "--scenario", "sweep", "--demo-size", "2x5",
		"--students", "4", "--multiples", "0,1", "--step", "1s", "--sources", "few", "--out", out},
		strings.NewReader(""), &stdout, &stderr, nil)
	if code != 0 {
		t.Fatalf("storm exited %d: %s", code, stderr.String())
	}
	var rep struct {
		Capacity float64 `json:"capacity_rps"`
		Points   []struct {
			Multiple float64 `json:"multiple"`
		} `json:"points"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Capacity <= 0 || len(rep.Points) != 2 || rep.Points[1].Multiple != 1 {
		t.Errorf("sweep report: %+v", rep)
	}
	svg, _ := os.ReadFile(filepath.Join(out, "report.svg"))
	if !strings.Contains(string(svg), "<polyline") {
		t.Error("the sweep chart has no line")
	}
}
