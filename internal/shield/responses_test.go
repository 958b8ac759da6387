package shield

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The refusal answers are rendered once; the page's "try again" link is
// the address asked for, escaped, and never leaves the site.
func TestRefusalPagesAreEscapedAndStayOnSite(t *testing.T) {
	s, _, _ := newShield(t, Config{Stylesheet: "/static/preau.css"})
	cases := []struct{ target, href string }{
		{"/homework?week=2026-W49&x=1", `href="/homework?week=2026-W49&amp;x=1"`},
		{`/search?q="><script>alert(1)</script>`, `href="/search?q=&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`},
		{"//evil.example/", `href="/"`},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "http://preau.test/", nil)
		r.RequestURI, r.URL.Path, r.URL.RawQuery = c.target, "", ""
		if p, q, ok := strings.Cut(c.target, "?"); ok {
			r.URL.Path, r.URL.RawQuery = p, q
		} else {
			r.URL.Path = c.target
		}
		r.Header.Set("Accept-Language", "en-GB")
		w := httptest.NewRecorder()
		s.refuse(w, r, http.StatusTooManyRequests, "limited", 0)
		body := w.Body.String()
		if w.Code != http.StatusTooManyRequests || !strings.Contains(body, `lang="en"`) || !strings.Contains(body, "Too many requests") ||
			!strings.Contains(body, `href="/static/preau.css"`) || strings.Contains(body, "<script>") {
			t.Errorf("%s: %d\n%s", c.target, w.Code, body)
		}
		if !strings.Contains(body, c.href) {
			t.Errorf("%s: want %s in\n%s", c.target, c.href, body)
		}
	}
	r := httptest.NewRequest("GET", "/api/v1/homework", nil)
	w := httptest.NewRecorder()
	s.refuse(w, r, http.StatusServiceUnavailable, "busy", 0)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != "shield_busy" || !strings.Contains(e.Error.Message, "très demandé") ||
		w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("JSON refusal: %v %q %v", err, w.Body.String(), w.Header())
	}
}

// A handler that turns its request into a long-lived connection (a live
// class's WebSocket) gives its admission slot back with Detach, through
// the writers that wrap the shield's.
func TestDetachGivesTheAdmissionSlotBack(t *testing.T) {
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var during, after int
	var detached bool
	h := s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during = inFlight(s)
		detached = Detach(&wrapped{w})
		after = inFlight(s)
	}))
	r := httptest.NewRequest("GET", "/live/1/ws", nil)
	r.AddCookie(&http.Cookie{Name: "preau_session", Value: "student-token"})
	h.ServeHTTP(httptest.NewRecorder(), r)
	if during != 1 || !detached || after != 0 {
		t.Errorf("in flight %d while serving, detached %v, %d after Detach", during, detached, after)
	}
	if n := inFlight(s); n != 0 {
		t.Errorf("%d in flight after the request", n)
	}
	if Detach(httptest.NewRecorder()) {
		t.Error("Detach of a writer that did not go through the shield")
	}
}

// wrapped is a middleware's writer, with Unwrap.
type wrapped struct{ http.ResponseWriter }

func (w *wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func inFlight(s *Shield) int {
	n := 0
	for _, x := range s.Admission().Stats().InFlight {
		n += x
	}
	return n
}
