// Sessions: API logout kills the token; HTML logout kills the cookie's
// session; "log out everywhere" (POST /account/logout-everywhere) kills every
// browser session and API token of the user and no one else's; the session
// cookie is HttpOnly, SameSite=Lax, Secure (127.0.0.1 is loopback, which
// browsers treat as secure) and Path=/.
package apptest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"preau/internal/apptest"
)

func TestSessions(t *testing.T) {
	s := newSchool(t)

	t.Run("API logout", func(t *testing.T) {
		a := s.LoginAPI(t, "eleve", demoPassword)
		other := s.LoginAPI(t, "eleve", demoPassword)
		if code := a.Do("GET", "/api/v1/me", nil, nil); code != http.StatusOK {
			t.Fatalf("me: %d", code)
		}
		if code := a.Do("POST", "/api/v1/logout", nil, nil); code != http.StatusNoContent {
			t.Fatalf("logout: %d", code)
		}
		if code := a.Do("GET", "/api/v1/me", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("me after logout: %d, want 401", code)
		}
		if code := a.Do("POST", "/api/v1/logout", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("second logout: %d, want 401", code)
		}
		if code := other.Do("GET", "/api/v1/me", nil, nil); code != http.StatusOK {
			t.Errorf("another token of the same user after logout: %d, want 200", code)
		}
	})

	t.Run("HTML logout", func(t *testing.T) {
		b := s.LoginHTML(t, "parent", demoPassword)
		jar := b.Client.Jar.Cookies(mustURL(t, s.URL))
		code, _, hdr := b.Post("/logout", url.Values{})
		if code != http.StatusSeeOther || hdr.Get("Location") != "/login" {
			t.Fatalf("logout: %d %q", code, hdr.Get("Location"))
		}
		if code, _ := b.Get("/"); code != http.StatusSeeOther {
			t.Errorf("home after logout: %d, want a redirect to /login", code)
		}
		// The old cookie, replayed, is dead too.
		replay := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", s.URL+"/account", nil)
		for _, c := range jar {
			req.AddCookie(c)
		}
		resp, err := replay.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("replayed cookie after logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("log out everywhere", func(t *testing.T) {
		token := s.LoginAPI(t, "prof", demoPassword)
		phone := s.LoginHTML(t, "prof", demoPassword)
		laptop := s.LoginHTML(t, "prof", demoPassword)
		bystander := s.LoginAPI(t, "eleve", demoPassword)
		for name, br := range map[string]*apptest.Browser{"phone": phone, "laptop": laptop} {
			if code, _ := br.Get("/account"); code != http.StatusOK {
				t.Fatalf("%s before: %d", name, code)
			}
		}
		code, _, hdr := laptop.Post("/account/logout-everywhere", url.Values{})
		if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
			t.Fatalf("logout everywhere: %d %q", code, hdr.Get("Location"))
		}
		if code := token.Do("GET", "/api/v1/me", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("API token after logout everywhere: %d, want 401", code)
		}
		if code, _ := phone.Get("/account"); code != http.StatusSeeOther {
			t.Errorf("other browser after logout everywhere: %d, want a redirect to /login", code)
		}
		if code, _ := laptop.Get("/account"); code != http.StatusSeeOther {
			t.Errorf("same browser after logout everywhere: %d, want a redirect to /login", code)
		}
		if code := bystander.Do("GET", "/api/v1/me", nil, nil); code != http.StatusOK {
			t.Errorf("another user's token: %d, want 200", code)
		}
		// prof can sign in again.
		if code := s.LoginAPI(t, "prof", demoPassword).Do("GET", "/api/v1/me", nil, nil); code != http.StatusOK {
			t.Errorf("new login after logout everywhere: %d", code)
		}
	})

	t.Run("logout everywhere needs the CSRF token", func(t *testing.T) {
		b := s.LoginHTML(t, "latin", demoPassword)
		resp, _ := fetch(t, b.Client, "POST", s.URL+"/account/logout-everywhere",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}, strings.NewReader(""))
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("without token: %d, want 403", resp.StatusCode)
		}
		if code, _ := b.Get("/account"); code != http.StatusOK {
			t.Errorf("session after a refused logout: %d, want 200", code)
		}
	})

	t.Run("session cookie attributes", func(t *testing.T) {
		resp, _ := fetch(t, nil, "POST", s.URL+"/login",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
			strings.NewReader(url.Values{"login": {"eleve"}, "password": {demoPassword}}.Encode()))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "preau_session" {
				session = c
			}
		}
		if session == nil {
			t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
		}
		if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || len(session.Value) < 40 {
			t.Errorf("session cookie %q: HttpOnly=%t Secure=%t SameSite=%v Path=%q", resp.Header.Get("Set-Cookie"),
				session.HttpOnly, session.Secure, session.SameSite, session.Path)
		}
	})
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestIdleSessionsExpire runs a server whose sessions expire after one
// second without use, and leaves a token and a cookie unused for longer.
func TestIdleSessionsExpire(t *testing.T) {
	s := newSchool(t, "--session-idle", "1s")
	token := s.LoginAPI(t, "eleve", demoPassword)
	resp, _ := fetch(t, nil, "POST", s.URL+"/login",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
		strings.NewReader(url.Values{"login": {"parent"}, "password": {demoPassword}}.Encode()))
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) == 0 {
		t.Fatalf("login: %d %v", resp.StatusCode, cookies)
	}
	time.Sleep(2500 * time.Millisecond)
	if code := token.Do("GET", "/api/v1/me", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("token idle for longer than --session-idle: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", s.URL+"/account", nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("cookie idle for longer than --session-idle: %d %q, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}
