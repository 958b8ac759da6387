// Operations and response hygiene: security headers on HTML pages, API
// answers, errors, files and static assets (a CSP without 'unsafe-inline'
// and with frame-ancestors 'none', X-Content-Type-Options: nosniff, no HSTS
// over plain HTTP); private pages not cacheable; /healthz, /readyz and
// /metrics answering 200, with preau_http_requests_total labelled by route
// pattern (route="GET /api/v1/homework/{id}", never the raw path).
package apptest_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	s := newSchool(t)
	b := s.html(t, "eleve")
	token := s.api(t, "eleve").Token
	maths := findHomework(t, s.api(t, "eleve"), "Devoir maison n° 3 : fractions")
	code, sub, _ := submit(t, s.Server, s.api(t, "eleve"), maths.ID, "", upload{"page.html", "text/html", []byte("<script>alert(1)</script>")})
	if code != http.StatusCreated {
		t.Fatalf("submit: %d", code)
	}
	bearer := map[string]string{"Authorization": "Bearer " + token}
	for _, c := range []struct {
		name    string
		client  *http.Client
		path    string
		hdr     map[string]string
		status  int
		private bool
	}{
		{"login page", nil, "/login", nil, http.StatusOK, false},
		{"home page", b.Client, "/", nil, http.StatusOK, true},
		{"HTML 404", b.Client, "/homework/987654321", nil, http.StatusNotFound, true},
		{"uploaded HTML file", b.Client, "/submissions/" + id(sub.ID) + "/files/" + sub.Files[0].SHA256, nil, http.StatusOK, true},
		{"static asset", nil, "/static/preau.css", nil, http.StatusOK, false},
		{"API answer", nil, "/api/v1/me", bearer, http.StatusOK, true},
		{"API 404", nil, "/api/v1/homework/abc", bearer, http.StatusNotFound, false},
		{"API 401", nil, "/api/v1/me", nil, http.StatusUnauthorized, false},
		{"health", nil, "/healthz", nil, http.StatusOK, false},
	} {
		resp, body := fetch(t, c.client, "GET", s.URL+c.path, c.hdr, nil)
		if c.status != 0 && resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
		}
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", c.name, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", c.name, h.Get("X-Content-Type-Options"))
		}
		if hsts := h.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("%s: HSTS %q over plain HTTP", c.name, hsts)
		}
		if c.private && !strings.Contains(h.Get("Cache-Control"), "private") {
			t.Errorf("%s: Cache-Control %q, want private", c.name, h.Get("Cache-Control"))
		}
		if c.name != "uploaded HTML file" && strings.Contains(string(body), "<script>") {
			t.Errorf("%s: inline script in the page", c.name)
		}
	}
	// An uploaded HTML file is a download, never a page of this origin.
	resp, _ := fetch(t, b.Client, "GET", s.URL+"/submissions/"+id(sub.ID)+"/files/"+sub.Files[0].SHA256, nil, nil)
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("uploaded HTML served with Content-Disposition %q", cd)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	s := newSchool(t)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		resp, body := fetch(t, nil, "GET", s.URL+path, nil, nil)
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != want {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	a := s.api(t, "eleve")
	if code := a.Do("GET", "/api/v1/homework", nil, nil); code != http.StatusOK {
		t.Fatalf("homework: %d", code)
	}
	a.Do("GET", "/api/v1/homework/424242", nil, nil)
	a.Do("GET", "/api/v1/homework/434343", nil, nil)

	resp, body := fetch(t, nil, "GET", s.URL+"/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	var list, byID []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "preau_http_requests_total{") {
			continue
		}
		if strings.Contains(line, `route="GET /api/v1/homework"`) && strings.Contains(line, `status="200"`) {
			list = append(list, line)
		}
		if strings.Contains(line, `route="GET /api/v1/homework/{id}"`) && strings.Contains(line, `status="404"`) {
			byID = append(byID, line)
		}
		if strings.Contains(line, "424242") || strings.Contains(line, "434343") {
			t.Errorf("raw path in a metric label: %s", line)
		}
	}
	if len(list) != 1 || !strings.HasSuffix(list[0], " 1") {
		t.Errorf("preau_http_requests_total for GET /api/v1/homework: %q", list)
	}
	if len(byID) != 1 || !strings.HasSuffix(byID[0], " 2") {
		t.Errorf("preau_http_requests_total for GET /api/v1/homework/{id}: %q", byID)
	}
	for _, name := range []string{"preau_http_request_duration_seconds_bucket", "preau_http_requests_in_flight", "go_goroutines"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
