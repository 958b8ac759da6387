// episodes_test.go covers the operator's page of recorded episodes: the
// list, the export of an episode as a .tar.gz or .zip package that the
// offline verifier accepts (downloaded from a server that is recording,
// so the journals are open), the form's validation, the audit record of
// the export, and who may see the page: platform operators only — not
// pupils, parents or teachers, nor the admin of a second school hosted on
// the same server.
package apptest_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"preau/internal/apptest"
	"preau/internal/evidence/export"
)

// extract writes an archive's regular files under dir and returns the
// package's top directory.
func extract(t *testing.T, format string, body []byte, dir string) string {
	t.Helper()
	write := func(name string, r io.Reader) {
		if strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
			t.Fatalf("archive entry %q leaves the package", name)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var top string
	switch format {
	case "tar.gz":
		gz, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			top, _, _ = strings.Cut(h.Name, "/")
			write(h.Name, tr)
		}
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			top, _, _ = strings.Cut(f.Name, "/")
			write(f.Name, rc)
			rc.Close()
		}
	}
	return filepath.Join(dir, top)
}

func TestEpisodesPageExportsAVerifiablePackage(t *testing.T) {
	dir := t.TempDir()
	s, a := apptest.StartApp(t, dir)
	clock := newFloodClock(a)
	clock.startEpisode(t)
	ep := clock.endEpisode(t)
	// A restart signs the final checkpoints; the new process records
	// again, so the export below reads journals a running server holds.
	s.Stop(t)
	s, _ = apptest.StartApp(t, dir)
	admin := s.LoginHTML(t, "admin", "demo")

	code, page := admin.Get("/admin/shield/episodes")
	if code != http.StatusOK || !strings.Contains(page, ep.ID) || !strings.Contains(page, ep.TopSources[0].Key) ||
		!strings.Contains(page, "preau evidence verify") || !strings.Contains(page, "sha256sum -c MANIFEST.sha256") {
		t.Fatalf("episodes page: %d", code)
	}
	// The episode's traffic, drawn from its recorded decision summaries.
	if !strings.Contains(page, `<svg viewBox="0 0 600 180" role="img" aria-label="Requêtes par seconde pendant l&#39;épisode`) {
		t.Error("episodes page without the episode's traffic chart")
	}
	if !strings.Contains(page, `action="/admin/shield/episodes/`+ep.ID+`/export"`) || !strings.Contains(page, `name="csrf"`) {
		t.Error("episodes page without the export form")
	}

	exportPath := "/admin/shield/episodes/" + ep.ID + "/export"
	for _, format := range []string{"tar.gz", "zip"} {
		code, body, hdr := admin.Post(exportPath, url.Values{"case": {"PJ-2026-0412"}, "tlp": {"amber"}, "format": {format}})
		if code != http.StatusOK || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") ||
			!strings.HasSuffix(strings.Trim(hdr.Get("Content-Disposition"), `"`), "."+format) {
			t.Fatalf("export %s: %d %v %.300s", format, code, hdr, body)
		}
		pkg := extract(t, format, []byte(body), t.TempDir())
		problems, err := export.Verify(pkg)
		if err != nil || len(problems) > 0 {
			t.Errorf("%s package does not verify: %v %v", format, err, problems)
		}
		if fp := hdr.Get("X-Preau-Signer-Fingerprint"); fp == "" || !strings.Contains(page, fp) {
			t.Errorf("signer fingerprint %q not on the episodes page", fp)
		}
	}

	// Validation: a case reference is required, the TLP level must exist.
	code, page, _ = admin.Post(exportPath, url.Values{"case": {""}, "tlp": {"purple"}, "format": {"tar.gz"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "Indiquez la référence") || !strings.Contains(page, "Niveau TLP inconnu") {
		t.Errorf("invalid export form: %d", code)
	}
	if code, _, _ := admin.Post("/admin/shield/episodes/ep-nope/export", url.Values{"case": {"X"}, "tlp": {"amber"}, "format": {"zip"}}); code != http.StatusNotFound {
		t.Errorf("export of an unknown episode: %d", code)
	}
	// Without the session's CSRF token, nothing is exported.
	if code, _, _ := admin.Post(exportPath, url.Values{"csrf": {"forged"}, "case": {"X"}, "tlp": {"amber"}, "format": {"zip"}}); code != http.StatusForbidden {
		t.Errorf("export with a forged CSRF token: %d", code)
	}

	s.Stop(t)
	var exports int
	for _, r := range journalRecords(t, filepath.Join(dir, "evidence"), "events") {
		if r["kind"] == "audit" && r["action"] == "evidence.export" {
			d := r["details"].(map[string]any)
			if r["actor"] != "admin" || d["episode"] != ep.ID || d["case"] != "PJ-2026-0412" || d["tlp"] != "amber" {
				t.Errorf("export audit record %v", r)
			}
			exports++
		}
	}
	if exports != 2 {
		t.Errorf("%d export audit records, want 2", exports)
	}
}

// operatorProbes are the operator pages and actions; whoever may not use
// them gets the ordinary 404, as for any page they may not see.
var operatorProbes = []probe{
	htmlGet("/admin/shield"), htmlGet("/admin/shield/episodes"), htmlGet("/admin/shield/blocklist"),
	{method: "POST", path: "/admin/shield", body: url.Values{"attack": {"on"}}},
	{method: "POST", path: "/admin/shield/episodes/ep-x/export", body: url.Values{"case": {"X"}, "tlp": {"amber"}, "format": {"zip"}}},
	{method: "POST", path: "/admin/shield/blocklist/0123456789abcdef/remove"},
}

func TestOperatorPagesAreForOperatorsOnly(t *testing.T) {
	s := newSchool(t)
	for _, login := range []string{"eleve", "parent", "prof"} {
		for _, p := range operatorProbes {
			code, body := s.try(t, login, p)
			expectNotFound(t, login, p, code, body)
		}
	}
	for _, p := range operatorProbes[:3] {
		if code, _ := s.try(t, "admin", p); code != http.StatusOK {
			t.Errorf("admin of the only school: %s = %d", p, code)
		}
	}
	if _, page := s.html(t, "admin").Get("/admin"); !strings.Contains(page, `href="/admin/shield/episodes"`) {
		t.Error("the admin home page does not link to the operator pages")
	}

	// A second school on the same server: its admin is no operator, and
	// with no --operators list neither is the first school's any more.
	other := addSecondSchool(t, s)
	for _, login := range []string{other, "admin"} {
		for _, p := range operatorProbes {
			code, body := s.try(t, login, p)
			expectNotFound(t, login, p, code, body)
		}
	}
	if _, page := s.html(t, "admin").Get("/admin"); strings.Contains(page, `href="/admin/shield`) {
		t.Error("the admin home page links to operator pages the admin may not open")
	}
}

func TestOperatorsListNamesWhoRunsThePlatform(t *testing.T) {
	s := newSchool(t, "--operators", "admin")
	other := addSecondSchool(t, s)
	for _, p := range operatorProbes {
		code, body := s.try(t, other, p)
		expectNotFound(t, other, p, code, body)
	}
	for _, p := range operatorProbes[:3] {
		if code, _ := s.try(t, "admin", p); code != http.StatusOK {
			t.Errorf("listed operator: %s = %d", p, code)
		}
	}
}

// addSecondSchool creates another school on s's server with an admin, as
// TestSchoolsAreIsolated does, and returns the admin's login.
func addSecondSchool(t *testing.T, s *school) string {
	t.Helper()
	data := []string{"--data", s.Data, "--log-level", "error"}
	out := runCLI(t, "", append([]string{"school", "add", "--name", "Collège Voisin"}, data...)...)
	m := regexp.MustCompile(`school (\d+):`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("school add: %q", out)
	}
	runCLI(t, "direction-voisine\n", append([]string{"user", "add", "--login", "voisin.admin", "--name", "Direction voisine",
		"--role", "admin", "--school", m[1]}, data...)...)
	s.browsers["voisin.admin"] = s.LoginHTML(t, "voisin.admin", "direction-voisine")
	return "voisin.admin"
}
