package challenge

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = "192.0.2.10:4321"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func post(t *testing.T, h http.Handler, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", DefaultBasePath, strings.NewReader(form.Encode()))
	r.RemoteAddr = "192.0.2.10:4321"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var (
	tokenRE      = regexp.MustCompile(`name="token" value="([^"]+)"`)
	difficultyRE = regexp.MustCompile(`data-difficulty="(\d+)"`)
)

func lowDifficulty(c *Config) { c.DifficultyFor = func(*http.Request) int { return 8 } }

func TestPageHasNoInlineCode(t *testing.T) {
	c := newTest(t)
	w := get(t, c, DefaultBasePath+"?next=/homework")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	if len(body) > 4096 {
		t.Errorf("page is %d bytes; keep it tiny", len(body))
	}
	for _, want := range []string{
		`<html lang="fr">`,
		`<script src="` + c.SolverURL() + `" defer></script>`,
		`data-worker="` + c.WorkerURL() + `"`,
		`role="status"`,
		`<label for="preau-pow-progress">`,
		`<noscript><p>`,
		`href="/_shield/wait?next=%2Fhomework"`,
		`name="next" value="/homework"`,
		`method="post" action="/_shield/challenge"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Every <script> has a src and an empty body; no style, no handlers.
	for _, m := range regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script: %q", m[0])
		}
	}
	if n := strings.Count(body, "<script"); n != 1 {
		t.Errorf("%d script tags", n)
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`).MatchString(body) {
		t.Error("inline style or event handler")
	}
	if !strings.HasPrefix(c.SolverURL(), DefaultBasePath+"/solver.") {
		t.Errorf("solver URL %s", c.SolverURL())
	}
	h := w.Header()
	if h.Get("Cache-Control") != "no-store" || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("headers %v", h)
	}
	if d, _ := strconv.Atoi(difficultyRE.FindStringSubmatch(body)[1]); d != Difficulty(0.5, 0.5) {
		t.Errorf("default difficulty %d", d)
	}
}

func TestPageLanguage(t *testing.T) {
	c := newTest(t)
	for _, tt := range []struct{ accept, want string }{
		{"", "fr"},
		{"en-GB,en;q=0.9", "en"},
		{"fr-FR,fr;q=0.9,en;q=0.8", "fr"},
		{"de, en;q=0.5", "en"},
		{"en;q=0.3, fr;q=0.7", "fr"},
	} {
		body := get(t, c, DefaultBasePath, "Accept-Language", tt.accept).Body.String()
		if !strings.Contains(body, `<html lang="`+tt.want+`">`) {
			t.Errorf("Accept-Language %q: want %s", tt.accept, tt.want)
		}
	}
	en := get(t, c, DefaultBasePath, "Accept-Language", "en").Body.String()
	if !strings.Contains(en, messages["en"]["noscript"]) {
		t.Error("English page not translated")
	}
}

func TestMessagesComplete(t *testing.T) {
	for k := range messages["fr"] {
		if messages["en"][k] == "" {
			t.Errorf("en lacks %s", k)
		}
	}
	for k := range messages["en"] {
		if messages["fr"][k] == "" {
			t.Errorf("fr lacks %s", k)
		}
	}
}

func TestSolveAndPass(t *testing.T) {
	c := newTest(t, lowDifficulty)
	body := get(t, c, DefaultBasePath+"?next="+url.QueryEscape("/homework?week=2")).Body.String()
	tok := tokenRE.FindStringSubmatch(body)[1]
	w := post(t, c, url.Values{"token": {tok}, "counter": {solve(t, tok, 8)}, "next": {"/homework?week=2"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/homework?week=2" {
		t.Fatalf("status %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	res := w.Result()
	var ck *http.Cookie
	for _, k := range res.Cookies() {
		if k.Name == CookieName {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != 3600 {
		t.Fatalf("cookie %+v", ck)
	}
	r := httptest.NewRequest("GET", "/homework", nil)
	r.RemoteAddr = "192.0.2.77:1"
	r.AddCookie(ck)
	p, err := c.PassFrom(r, t0)
	if err != nil {
		t.Fatalf("PassFrom: %v", err)
	}
	if !c.AllowPass(p, t0) {
		t.Fatal("fresh pass rate-limited")
	}
	if _, err := c.PassFrom(httptest.NewRequest("GET", "/", nil), t0); !errors.Is(err, ErrNoPass) {
		t.Fatalf("no cookie: %v", err)
	}
}

func TestAnswerRefused(t *testing.T) {
	c := newTest(t, lowDifficulty)
	tok := tokenRE.FindStringSubmatch(get(t, c, DefaultBasePath).Body.String())[1]
	good := solve(t, tok, 8)

	w := post(t, c, url.Values{"token": {tok}, "counter": {failing(tok, 8)}, "next": {"/x"}})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Le calcul envoyé est incorrect") {
		t.Fatalf("wrong work: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Set-Cookie") != "" {
		t.Fatal("cookie set on failure")
	}
	if post(t, c, url.Values{"token": {tok}, "counter": {good}}).Code != http.StatusSeeOther {
		t.Fatal("good answer refused")
	}
	w = post(t, c, url.Values{"token": {tok}, "counter": {good}, "next": {"/x"}}, "Accept-Language", "en")
	body := w.Body.String()
	if w.Code != http.StatusForbidden || !strings.Contains(body, "already been used") || !strings.Contains(body, `lang="en"`) {
		t.Fatalf("replay: %d %s", w.Code, body)
	}
	for _, want := range []string{`role="alert"`, `href="/_shield/challenge?next=%2Fx"`, `href="/_shield/wait?next=%2Fx"`} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("refusal page loads the solver")
	}
	w = post(t, c, url.Values{"token": {"garbage"}, "counter": {"1"}})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), messages["fr"]["err.malformed"]) {
		t.Fatalf("garbage: %d", w.Code)
	}
	// An oversized body is refused without being read whole.
	big := url.Values{"token": {strings.Repeat("A", 10000)}, "counter": {"1"}}
	if w := post(t, c, big); w.Code != http.StatusForbidden {
		t.Fatalf("big body: %d", w.Code)
	}
}

func TestNextIsLocal(t *testing.T) {
	c := newTest(t, lowDifficulty)
	for next, want := range map[string]string{
		"/homework":                     "/homework",
		"/a?b=c#d":                      "/a?b=c#d",
		"":                              "/",
		"//evil.example":                "/",
		"/\\evil.example":               "/",
		"https://evil.example/":         "/",
		"evil.example":                  "/",
		"/\tevil":                       "/",
		"/_shield/challenge":            "/",
		"/_shield/challenge/x.js":       "/",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		tok := c.Issue(v4, 0, t0)
		w := post(t, c, url.Values{"token": {tok}, "counter": {"0"}, "next": {next}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("next %q: %d Location %q, want %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
	if u := c.URL("https://evil.example"); u != DefaultBasePath {
		t.Errorf("URL = %s", u)
	}
}

func TestScripts(t *testing.T) {
	c := newTest(t)
	for _, u := range []string{c.SolverURL(), c.WorkerURL()} {
		w := get(t, c, u)
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" ||
			!strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
			t.Fatalf("%s: %d %v", u, w.Code, w.Header())
		}
		if !strings.HasPrefix(w.Body.String(), "/* Préau shield") {
			t.Fatalf("%s: body %.40q", u, w.Body.String())
		}
		gz := get(t, c, u, "Accept-Encoding", "gzip")
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if string(plain) != w.Body.String() || gz.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: gzip body differs", u)
		}
		if nm := get(t, c, u, "If-None-Match", w.Header().Get("ETag")); nm.Code != http.StatusNotModified {
			t.Fatalf("%s: If-None-Match: %d", u, nm.Code)
		}
	}
	if w := get(t, c, DefaultBasePath+"/worker.js"); w.Code != 200 || strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("unversioned worker.js: %d %v", w.Code, w.Header())
	}
	for _, u := range []string{DefaultBasePath + "/nope.js", DefaultBasePath + "/", "/elsewhere"} {
		if w := get(t, c, u); w.Code != 404 {
			t.Errorf("%s: %d", u, w.Code)
		}
	}
	r := httptest.NewRequest("PUT", DefaultBasePath, nil)
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") == "" {
		t.Fatalf("PUT: %d", w.Code)
	}
}
