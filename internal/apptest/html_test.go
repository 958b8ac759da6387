// HTML front end behaviour that the API tests do not reach: the post-login
// redirect ("next") stays on this site whatever the visitor was given,
// including the tricks browsers normalise (a tab or newline inside "/\t/host"
// is dropped, a backslash counts as a slash); an anonymous visitor is sent to
// the login page and back; pages are in English with Accept-Language: en;
// a scheduled homework appears on no pupil's or parent's page before its
// publication time.
package apptest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// loginRedirect signs in through the form with next and returns the raw
// Location header (not parsed: Go's client refuses some the server sends).
func loginRedirect(t *testing.T, s *school, next string) (int, string) {
	t.Helper()
	form := url.Values{"login": {"eleve"}, "password": {demoPassword}, "next": {next}}
	req, err := http.NewRequest("POST", s.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// browserTarget resolves a Location the way a browser's URL parser does:
// tabs and newlines are removed, backslashes are slashes in http(s) URLs.
func browserTarget(t *testing.T, base, location string) *url.URL {
	t.Helper()
	loc := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(location)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", location, err)
	}
	return mustURL(t, base).ResolveReference(u)
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	s := newSchool(t)
	host := mustURL(t, s.URL).Host
	check := func(t *testing.T, next, wantPath string) {
		t.Helper()
		code, loc := loginRedirect(t, s, next)
		if code != http.StatusSeeOther {
			t.Fatalf("next=%q: login %d", next, code)
		}
		target := browserTarget(t, s.URL, loc)
		if target.Host != host {
			t.Errorf("next=%q: Location %q takes the browser to %s", next, loc, target)
		} else if wantPath != "" && target.Path != wantPath {
			t.Errorf("next=%q: Location %q, want %s", next, loc, wantPath)
		}
	}
	check(t, "/homework?view=week", "/homework")
	for _, next := range []string{"", "homework", "//evil.example/", "/\\evil.example/", "https://evil.example/", "\\\\evil.example", "/%2F/evil.example", "\t//evil.example/"} {
		check(t, next, "")
	}
	t.Run("tab and newline tricks", func(t *testing.T) {
		for _, next := range []string{"/\t/evil.example/", "/\t\\evil.example/", "/\n/evil.example/", "/\r\n/evil.example/"} {
			check(t, next, "")
		}
	})
	t.Run("the login page carries a safe next", func(t *testing.T) {
		resp, body := fetch(t, nil, "GET", s.URL+"/homework/new?x=1", nil, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/homework/new?x=1") {
			t.Fatalf("anonymous visit: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body = fetch(t, nil, "GET", s.URL+"/login?next="+url.QueryEscape("//evil.example"), nil, nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "evil.example") {
			t.Errorf("login page with a foreign next: %d, mentions evil.example: %t", resp.StatusCode, strings.Contains(string(body), "evil.example"))
		}
	})
}

func TestPagesInEnglish(t *testing.T) {
	s := newSchool(t)
	en := map[string]string{"Accept-Language": "en-GB,en;q=0.9"}
	resp, body := fetch(t, nil, "GET", s.URL+"/login", en, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Language") != "en" || !strings.Contains(string(body), `<html lang="en"`) {
		t.Errorf("login page in English: %d %q", resp.StatusCode, resp.Header.Get("Content-Language"))
	}
	resp, body = fetch(t, nil, "GET", s.URL+"/login", nil, nil)
	if resp.Header.Get("Content-Language") != "fr" || !strings.Contains(string(body), `<html lang="fr"`) {
		t.Errorf("login page by default: %q", resp.Header.Get("Content-Language"))
	}
	b := s.html(t, "eleve")
	resp, body = fetch(t, b.Client, "GET", s.URL+"/homework/987654321", en, nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "This page does not exist or is not available to you.") {
		t.Errorf("English 404 page: %d", resp.StatusCode)
	}
}

func TestScheduledHomeworkOnNoPupilPage(t *testing.T) {
	s := newSchool(t)
	const title = "Contrôle surprise"
	for _, c := range []struct {
		login string
		want  bool
	}{{"eleve", false}, {"parent", false}, {"prof", true}} {
		seen := false
		for _, path := range []string{"/", "/homework", "/homework?view=subject", "/homework?view=today"} {
			code, page := s.html(t, c.login).Get(path)
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d", c.login, path, code)
			}
			if strings.Contains(page, title) {
				seen = true
				if !c.want {
					t.Errorf("%s sees the scheduled homework on %s", c.login, path)
				}
			}
		}
		if c.want && !seen {
			t.Errorf("%s does not see his scheduled homework on any page", c.login)
		}
	}
}
