// blocklist_test.go covers the partners' blocklist in a running Préau: an
// operator imports a partner's STIX bundle on the operator page; an
// anonymous request from a listed address gets the shield's blocked
// answer, a signed-in pupil from the same address is served; indicators
// that are expired, revoked or name private networks are skipped and said
// so; the list shows each entry's provenance, survives a restart and an
// entry can be removed; an entry past its expiry no longer blocks; the
// import and the removal are in the audit log. Client addresses come from
// X-Forwarded-For, trusted from 127.0.0.1, since the listed addresses must
// be public.
package apptest_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"preau/internal/apptest"
)

// partnerBundle is a partner CERT's STIX 2.1 bundle: an identity, a live
// indicator without valid_until, a revoked one, an expired one and one for
// a private network.
func partnerBundle(now time.Time) []byte {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	from := ts(now.Add(-2 * time.Hour))
	ind := func(id, pattern, extra string) string {
		return `{"type":"indicator","spec_version":"2.1","id":"indicator--` + id + `","created":"` + from + `","modified":"` + from + `",
			"created_by_ref":"identity--6a0e5c7b-3a43-4bb0-9d32-5d0c7a1b2c3d","pattern":"` + pattern + `","pattern_type":"stix",
			"valid_from":"` + from + `","confidence":85` + extra + `}`
	}
	return []byte(`{"type":"bundle","id":"bundle--0d4c0d1e-7b5a-4c45-9c7e-3f3b6d2e1a90","objects":[
		{"type":"identity","spec_version":"2.1","id":"identity--6a0e5c7b-3a43-4bb0-9d32-5d0c7a1b2c3d","created":"` + from + `","modified":"` + from + `","name":"CERT Académie","identity_class":"organization"},
		` + ind("5b0b2b0e-1d8e-4c1f-8f4e-6a7d3c2b1a01", "[ipv4-addr:value = '203.0.113.9']", "") + `,
		` + ind("5b0b2b0e-1d8e-4c1f-8f4e-6a7d3c2b1a02", "[ipv4-addr:value = '198.51.100.20']", `,"revoked":true`) + `,
		` + ind("5b0b2b0e-1d8e-4c1f-8f4e-6a7d3c2b1a03", "[ipv4-addr:value = '198.51.100.30']", `,"valid_until":"`+ts(now.Add(-time.Hour))+`"`) + `,
		` + ind("5b0b2b0e-1d8e-4c1f-8f4e-6a7d3c2b1a04", "[ipv4-addr:value = '10.1.2.3']", "") + `
	]}`)
}

// bundleUpload is the multipart body of the import form.
func bundleUpload(t *testing.T, partner, file string, data []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("partner", partner)
	w, err := mw.CreateFormFile("bundle", file)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func TestPartnerBlocklist(t *testing.T) {
	dir := t.TempDir()
	// An entry past its expiry, as the list file keeps it until the next
	// change: it must not block.
	expired := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if err := os.WriteFile(filepath.Join(dir, "blocklist.json"), []byte(`{"entries":[{"id":"0000000000000001","prefix":"198.51.100.0/24",
		"expires":"`+expired+`","partner":"ancien","file":"old.json","imported":"2026-01-01T00:00:00Z","imported_by":"admin",
		"indicator":"indicator--00000000-0000-4000-8000-000000000001","confidence":-1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--trusted-proxies", "127.0.0.1/32"}
	s := apptest.Start(t, "demo", dir, flags...)
	from := func(client *http.Client, addr string) (int, string) {
		t.Helper()
		if client == nil {
			client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		resp, body := fetch(t, client, "GET", s.URL+"/", map[string]string{"X-Forwarded-For": addr}, nil)
		return resp.StatusCode, string(body)
	}
	if code, _ := from(nil, "198.51.100.7"); code == http.StatusForbidden {
		t.Error("an expired entry blocks")
	}

	admin := s.LoginHTML(t, "admin", "demo")
	ct, body := bundleUpload(t, "", "cert-academie-2026-03.json", partnerBundle(time.Now()))
	code, page, _ := admin.PostMultipart("/admin/shield/blocklist", ct, bytes.NewReader(body))
	if code != http.StatusOK || !strings.Contains(page, "1 préfixe importé") || !strings.Contains(page, "3 indicateurs écartés") ||
		!strings.Contains(page, "revoked") || !strings.Contains(page, "expired") || !strings.Contains(page, "not a public unicast address") {
		t.Fatalf("import: %d %s", code, page)
	}
	for _, want := range []string{"203.0.113.9/32", "CERT Académie", "cert-academie-2026-03.json",
		"indicator--5b0b2b0e-1d8e-4c1f-8f4e-6a7d3c2b1a01", "85 / 100", "jamais bloqués"} {
		if !strings.Contains(page, want) {
			t.Errorf("the blocklist page does not show %q", want)
		}
	}

	code, refusal := from(nil, "203.0.113.9")
	if code != http.StatusForbidden || !strings.Contains(refusal, "temporairement bloqué") {
		t.Errorf("anonymous visitor from a listed address: %d", code)
	}
	if code, _ := from(nil, "203.0.113.10"); code == http.StatusForbidden {
		t.Error("an address next to the listed one is blocked")
	}
	eleve := s.LoginHTML(t, "eleve", "demo")
	if code, _ := from(eleve.Client, "203.0.113.9"); code != http.StatusOK {
		t.Errorf("signed-in pupil from a listed address: %d, want 200", code)
	}

	// A malformed bundle imports nothing and says why.
	ct, body = bundleUpload(t, "CERT", "broken.json", []byte(`{"type":"bundle","objects":[{"type":"indicator","id":"indicator--x"}]}`))
	if code, page, _ := admin.PostMultipart("/admin/shield/blocklist", ct, bytes.NewReader(body)); code != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "indicator--x") {
		t.Errorf("malformed bundle: %d", code)
	}

	// The list survives a restart.
	s.Stop(t)
	s = apptest.Start(t, "demo", dir, flags...)
	if code, _ := from(nil, "203.0.113.9"); code != http.StatusForbidden {
		t.Errorf("after a restart, the listed address: %d, want 403", code)
	}
	admin = s.LoginHTML(t, "admin", "demo")
	_, page = admin.Get("/admin/shield/blocklist")
	m := regexp.MustCompile(`action="/admin/shield/blocklist/([0-9a-f]+)/remove"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no remove button on the blocklist page")
	}
	if code, _, hdr := admin.Post("/admin/shield/blocklist/"+m[1]+"/remove", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("remove: %d %v", code, hdr)
	}
	if code, _ := from(nil, "203.0.113.9"); code == http.StatusForbidden {
		t.Error("a removed entry still blocks")
	}

	s.Stop(t)
	actions := map[string]map[string]any{}
	for _, r := range journalRecords(t, filepath.Join(dir, "evidence"), "events") {
		if r["kind"] == "audit" {
			actions[fmt.Sprint(r["action"])] = r["details"].(map[string]any)
		}
	}
	imp, rm := actions["blocklist.import"], actions["blocklist.remove"]
	if imp == nil || imp["partner"] != "CERT Académie" || imp["file"] != "cert-academie-2026-03.json" || imp["prefixes"] != float64(1) {
		t.Errorf("import audit record: %v", imp)
	}
	if rm == nil || rm["prefix"] != "203.0.113.9/32" {
		t.Errorf("removal audit record: %v", rm)
	}
}
