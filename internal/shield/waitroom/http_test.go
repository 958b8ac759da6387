package waitroom

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// visit sends one request to the room, carrying cookies, and returns the
// response with its body read.
func visit(t *testing.T, r *Room, target string, cookies []*http.Cookie, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	res := w.Result()
	return res, w.Body.String()
}

func cookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func retryAfter(t *testing.T, res *http.Response) int {
	t.Helper()
	n, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || n < 5 || n > 30 {
		t.Fatalf("Retry-After %q, want 5 to 30 seconds", res.Header.Get("Retry-After"))
	}
	return n
}

var eventHandler = regexp.MustCompile(`\son[a-z]+\s*=`)

var metaRefresh = regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+)">`)

func checkPage(t *testing.T, body, lang string) {
	t.Helper()
	for _, want := range []string{`<html lang="` + lang + `">`, `role="status"`, `aria-live="polite"`,
		`<main id="main"`, `<h1>`, `class="skip" href="#main"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	low := strings.ToLower(body)
	for _, bad := range []string{"<script", "<style", " style=", "javascript:"} {
		if strings.Contains(low, bad) {
			t.Errorf("page contains %q (CSP forbids inline script and style)", bad)
		}
	}
	if eventHandler.MatchString(low) {
		t.Error("page has an inline event handler")
	}
}

func TestQueuePageFrench(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{Stylesheet: "/static/preau.css"})
	queue(r, c, 30) // people ahead
	res, body := visit(t, r, "/homework?week=36", nil, nil)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", res.StatusCode)
	}
	n := retryAfter(t, res)
	m := metaRefresh.FindStringSubmatch(body)
	if m == nil || m[1] != strconv.Itoa(n) {
		t.Errorf("meta refresh %v, want content=%d like Retry-After", m, n)
	}
	checkPage(t, body, "fr")
	for _, want := range []string{"Salle d&#39;attente", "Personnes devant vous", `<dd class="mark">30</dd>`,
		`href="/homework?week=36"`, `href="/homework?week=36&amp;waitroom=manual"`, `<link rel="stylesheet" href="/static/preau.css">`,
		"en cours de calcul", "gardée pendant 2 minutes"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if res.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("headers %v", res.Header)
	}
	ck := cookie(res, TicketCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" || ck.MaxAge != 120 {
		t.Fatalf("ticket cookie %+v", ck)
	}
	if _, err := r.Parse(ck.Value); err != nil {
		t.Errorf("cookie holds no valid ticket: %v", err)
	}
}

func TestQueuePageEnglishAndSecure(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{Secure: true})
	res, body := visit(t, r, "/", nil, map[string]string{"Accept-Language": "de;q=1, en-GB;q=0.8, fr;q=0.5"})
	checkPage(t, body, "en")
	if !strings.Contains(body, "Waiting room") || !strings.Contains(body, "People ahead of you") {
		t.Error("page not in English")
	}
	if strings.Contains(body, `rel="stylesheet"`) {
		t.Error("stylesheet linked though none configured")
	}
	if ck := cookie(res, TicketCookie); ck == nil || !ck.Secure {
		t.Errorf("cookie not Secure: %+v", ck)
	}
	// Préau's own language choice wins over the browser's.
	_, body = visit(t, r, "/", []*http.Cookie{{Name: "lang", Value: "fr"}}, map[string]string{"Accept-Language": "en"})
	checkPage(t, body, "fr")
}

func TestQueueJSON(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	queue(r, c, 12)
	c.Advance(time.Second)
	r.Admit(2)
	c.Advance(time.Second)
	r.Admit(2) // 2 a second measured
	res, body := visit(t, r, "/api/homework", nil, map[string]string{"Accept": "application/json"})
	if res.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	n := retryAfter(t, res)
	var a struct {
		Position   *int `json:"position"`
		ETASeconds *int `json:"eta_seconds"`
		RetryAfter *int `json:"retry_after"`
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	// 4.5 s at 2 a second, but never before the next refresh (5–6 s,
	// jittered).
	eta := max(5, n)
	if a.Position == nil || *a.Position != 8 || a.ETASeconds == nil || *a.ETASeconds != eta || a.RetryAfter == nil || *a.RetryAfter != n {
		t.Errorf("JSON %s, want position 8, eta %d s and retry_after %d", body, eta, n)
	}
	if p, e := res.Header.Get(PositionHeader), res.Header.Get(ETAHeader); p != "8" || e != strconv.Itoa(eta) {
		t.Errorf("headers position %q ETA %q, want 8 and %d", p, e, eta)
	}
	// Without a measured rate the ETA is null, not a made-up number.
	r2 := newRoom(t, testKey, c, Config{})
	res, body = visit(t, r2, "/", nil, map[string]string{"Accept": "application/json, text/plain;q=0.5"})
	if !strings.Contains(body, `"eta_seconds":null`) {
		t.Errorf("JSON %s, want eta_seconds null", body)
	}
	if _, ok := res.Header[ETAHeader]; ok || res.Header.Get(PositionHeader) != "0" {
		t.Errorf("headers %v, want a position and no ETA", res.Header)
	}
}

func TestWantsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                  false,
		"*/*":                               false,
		"application/json":                  true,
		"application/json, */*":             true,
		"text/html,application/json;q=0.9":  false,
		"text/html;q=0.5, application/json": true,
		"application/json;q=0, */*":         false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
	} {
		if got := wantsJSON(accept); got != want {
			t.Errorf("wantsJSON(%q) = %v", accept, got)
		}
	}
}

func TestAdmissionGivesPassAndRedirects(t *testing.T) {
	c := &clock{t: t0.Add(time.Hour)}
	r := newRoom(t, testKey, c, Config{})
	res, _ := visit(t, r, "/homework?week=36", nil, nil)
	ticket := cookie(res, TicketCookie)
	c.Advance(10 * time.Second)
	res, _ = visit(t, r, "/homework?week=36", []*http.Cookie{ticket}, nil) // counted now
	ticket = cookie(res, TicketCookie)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d before Admit", res.StatusCode)
	}
	r.Admit(1)
	c.Advance(10 * time.Second)
	res, _ = visit(t, r, "/homework?week=36&waitroom=manual", []*http.Cookie{ticket}, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/homework?week=36" {
		t.Fatalf("status %d location %q, want 303 to /homework?week=36", res.StatusCode, res.Header.Get("Location"))
	}
	pass := cookie(res, PassCookie)
	if pass == nil || !pass.HttpOnly || pass.SameSite != http.SameSiteLaxMode || pass.MaxAge != int(DefaultPassTTL/time.Second) {
		t.Fatalf("pass cookie %+v", pass)
	}
	p, err := r.ParsePass(pass.Value)
	if err != nil {
		t.Fatal(err)
	}
	if tk, _ := r.Parse(ticket.Value); p.ID != tk.ID {
		t.Error("pass not bound to the ticket")
	}
	if del := cookie(res, TicketCookie); del == nil || del.MaxAge >= 0 {
		t.Errorf("ticket cookie not removed: %+v", del)
	}
	// JSON clients get 200 and where to go.
	res, body := visit(t, r, "/x", []*http.Cookie{ticket}, map[string]string{"Accept": "application/json"})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `"admitted":true`) || !strings.Contains(body, `"next":"/x"`) {
		t.Errorf("JSON admission: %d %s", res.StatusCode, body)
	}
	// A third copy still passes (two tabs), a fourth is a replay: back of the queue.
	visit(t, r, "/x", []*http.Cookie{ticket}, nil)
	res, _ = visit(t, r, "/x", []*http.Cookie{ticket}, nil)
	if res.StatusCode != http.StatusServiceUnavailable || cookie(res, PassCookie) != nil {
		t.Fatalf("replayed ticket: status %d", res.StatusCode)
	}
	fresh, err := r.Parse(cookie(res, TicketCookie).Value)
	if err != nil || fresh.ID == p.ID || !fresh.Arrival.Equal(c.Now()) {
		t.Errorf("replayed ticket not replaced by a new one: %+v %v", fresh, err)
	}
	if s := r.Stats(c.Now()); s.Admitted != 3 || s.Replayed != 1 || s.Issued != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestOnlyLocalRedirects(t *testing.T) {
	for target, want := range map[string]string{
		"/a/b?c=d":                      "/a/b?c=d",
		"//evil.example/x":              "/",
		"/%2F%2Fevil.example":           "/%2F%2Fevil.example",
		"/ok?waitroom=manual&x=1":       "/ok?x=1",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := localTarget(u); got != want {
			t.Errorf("localTarget(%q) = %q, want %q", target, got, want)
		}
	}
	for _, p := range []string{"", "x", "//x", "/\\x", "/a\x00", "/a\r\nLocation: x"} {
		if safeLocalPath(p) {
			t.Errorf("safeLocalPath(%q) = true", p)
		}
	}
	// Absolute-form request targets keep only their path.
	u, _ := url.ParseRequestURI("http://evil.example/p?q=1")
	if got, _ := localTarget(u); got != "/p?q=1" {
		t.Errorf("absolute target gave %q", got)
	}
}

func TestManualRefreshMode(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	res, body := visit(t, r, "/homework?waitroom=manual", nil, nil)
	if metaRefresh.MatchString(body) {
		t.Error("meta refresh present though the user stopped it")
	}
	retryAfter(t, res) // still present for clients
	for _, want := range []string{`href="/homework?waitroom=manual"`, `href="/homework">Reprendre`, "Actualisation automatique arrêtée"} {
		if !strings.Contains(body, want) {
			t.Errorf("manual page lacks %q", want)
		}
	}
}

func TestBadCookiesGetNewTicketsAndAreCounted(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	other := newRoom(t, []byte("another key, also 32 bytes long!"), c, Config{})
	old := r.Issue(c.Now())
	c.Advance(3 * time.Minute)
	for _, v := range []string{"garbage", other.Issue(c.Now()).String(), old.String()} {
		res, body := visit(t, r, "/", []*http.Cookie{{Name: TicketCookie, Value: v}}, nil)
		if res.StatusCode != http.StatusServiceUnavailable || !metaRefresh.MatchString(body) {
			t.Errorf("cookie %q: status %d", v, res.StatusCode)
		}
		if tk, err := r.Parse(cookie(res, TicketCookie).Value); err != nil || !tk.Arrival.Equal(c.Now()) {
			t.Errorf("cookie %q not replaced by a fresh ticket", v)
		}
	}
	if s := r.Stats(c.Now()); s.Malformed != 1 || s.BadMAC != 1 || s.Expired != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestRetrySecondsFollowETA(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	for range 200 {
		if n := r.retrySeconds(-1); n < 8 || n > 12 {
			t.Fatalf("unknown ETA: %d s", n)
		}
		if n := r.retrySeconds(time.Second); n < 5 || n > 6 {
			t.Fatalf("ETA 1 s: %d s", n)
		}
		if n := r.retrySeconds(time.Hour); n < 24 || n > 30 {
			t.Fatalf("ETA 1 h: %d s", n)
		}
	}
}

// The wait announced is never shorter than the refresh that must come
// before anyone gets in.
func TestETANeverBeforeTheNextRefresh(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	r.SetETAHint(1000) // a few milliseconds of queue
	res, _ := visit(t, r, "/", nil, nil)
	eta, _ := strconv.Atoi(res.Header.Get(ETAHeader))
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusServiceUnavailable || retry < 5 || eta < retry {
		t.Errorf("status %d: ETA %d s before the refresh in %d s", res.StatusCode, eta, retry)
	}
}

func BenchmarkServeHTTP(b *testing.B) {
	c := &clock{t: t0}
	r := newRoom(b, testKey, c, Config{})
	req := httptest.NewRequest("GET", "/homework", nil)
	req.AddCookie(&http.Cookie{Name: TicketCookie, Value: r.Issue(c.Now()).String()})
	b.ReportAllocs()
	for b.Loop() {
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func TestCataloguesMatch(t *testing.T) {
	for lang, m := range messages {
		for key := range messages["fr"] {
			if m[key] == "" {
				t.Errorf("%s lacks %q", lang, key)
			}
		}
		if len(m) != len(messages["fr"]) {
			t.Errorf("%s has %d messages, fr %d", lang, len(m), len(messages["fr"]))
		}
		if got := roundDuration(lang, 95*time.Minute); !strings.Contains(got, "1 h 35") {
			t.Errorf("%s: 95 min as %q", lang, got)
		}
	}
}
