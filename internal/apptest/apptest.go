// Package apptest boots the whole preau program in-process for tests: the
// real command line (cli.Main), a real listener on 127.0.0.1:0, a real
// SQLite database in a temporary directory. Helpers log in through the
// JSON API or the HTML forms exactly as clients do.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"preau/internal/app"
	"preau/internal/cli"
	"preau/internal/config"
	"preau/internal/demo"
)

// Server is a running preau.
type Server struct {
	URL    string
	Data   string
	Stdout *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// LiveFlags put the live classes' media ports on free loopback ports, so
// that tests run side by side (the defaults are fixed ports).
var LiveFlags = []string{"--live-udp", "127.0.0.1:0", "--turn-udp", "127.0.0.1:0", "--turn-tcp", "127.0.0.1:0"}

// StartDemo runs `preau demo` on a free port with a fresh data directory and
// stops it at the end of the test. Extra flags are appended.
func StartDemo(tb testing.TB, flags ...string) *Server {
	tb.Helper()
	return Start(tb, "demo", tb.TempDir(), flags...)
}

// Start runs `preau CMD` (serve or demo) with --data dir on a free port.
func Start(tb testing.TB, cmd, dir string, flags ...string) *Server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Data: dir, Stdout: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	ready := make(chan string, 1)
	args := append(append([]string{cmd, "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn"}, LiveFlags...), flags...)
	stderr := &syncBuffer{}
	go func() { s.done <- cli.Main(ctx, args, strings.NewReader(""), s.Stdout, stderr, ready) }()
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case code := <-s.done:
		cancel()
		tb.Fatalf("preau %s exited with %d before listening: %s", cmd, code, stderr.String())
	case <-time.After(2 * time.Minute):
		cancel()
		tb.Fatal("preau did not start within 2 minutes")
	}
	tb.Cleanup(func() { s.Stop(tb) })
	return s
}

// StartApp builds Préau in-process with app.Open on dir, seeds the small
// demo school (as `preau demo` does) unless dir already holds one, and
// serves it on a free port until the test ends. It returns the App too, for
// tests that reach into its components: driving the shield's detector with
// synthetic traffic, reading the evidence recorder. Flags are those of
// `preau demo`.
func StartApp(tb testing.TB, dir string, flags ...string) (*Server, *app.App) {
	tb.Helper()
	fs := flag.NewFlagSet("apptest", flag.ContinueOnError)
	cfg, finish := config.Flags(fs)
	if err := fs.Parse(append(append([]string{"--addr", "127.0.0.1:0", "--data", dir}, LiveFlags...), flags...)); err != nil {
		tb.Fatal(err)
	}
	if err := finish(); err != nil {
		tb.Fatal(err)
	}
	stderr := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, log, true)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	schools, err := a.Store.Schools(ctx)
	if err == nil && len(schools) == 0 {
		_, err = demo.Seed(ctx, a.Store, a.Auth.Hasher(), demo.Small, a.Service.Now(), cfg.Location())
	}
	if err != nil {
		cancel()
		a.Close()
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		cancel()
		a.Close()
		tb.Fatal(err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), Data: dir, Stdout: stderr, cancel: cancel, done: make(chan int, 1)}
	go func() {
		if err := a.Serve(ctx, ln); err != nil {
			stderr.Write([]byte("serve: " + err.Error() + "\n"))
			s.done <- 1
			return
		}
		s.done <- 0
	}()
	tb.Cleanup(func() { s.Stop(tb) })
	return s, a
}

// Stop shuts the server down gracefully and checks it exited cleanly.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if code := <-s.done; code != 0 {
		tb.Errorf("preau exited with code %d", code)
	}
}

// API is a JSON API client holding a bearer token.
type API struct {
	tb    testing.TB
	base  string
	Token string
}

// LoginAPI signs in through POST /api/v1/login.
func (s *Server) LoginAPI(tb testing.TB, login, password string) *API {
	tb.Helper()
	a := &API{tb: tb, base: s.URL}
	var out struct {
		Token string `json:"token"`
	}
	if code := a.Do("POST", "/api/v1/login", map[string]string{"login": login, "password": password}, &out); code != http.StatusOK {
		tb.Fatalf("login %s: status %d", login, code)
	}
	a.Token = out.Token
	return a
}

// TryLoginAPI attempts a login and returns the status and token.
func (s *Server) TryLoginAPI(tb testing.TB, login, password string) (int, string, *API) {
	tb.Helper()
	a := &API{tb: tb, base: s.URL}
	var out struct {
		Token string `json:"token"`
	}
	code := a.Do("POST", "/api/v1/login", map[string]string{"login": login, "password": password}, &out)
	a.Token = out.Token
	return code, out.Token, a
}

// Do sends a JSON request (body nil for none) and decodes the JSON answer
// into out (nil to discard). It returns the status.
func (a *API) Do(method, path string, body, out any) int {
	a.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	return a.Send(req, out)
}

// For returns a copy of the client that reports failures to tb, so a client
// made in a test can be used inside its subtests (t.Run).
func (a *API) For(tb testing.TB) *API {
	c := *a
	c.tb = tb
	return &c
}

// Send sends a prepared request with the token and decodes the answer.
func (a *API) Send(req *http.Request, out any) int {
	a.tb.Helper()
	if a.Token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.tb.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			a.tb.Fatalf("%s %s: decode %q: %v", req.Method, req.URL.Path, b, err)
		}
	}
	return resp.StatusCode
}

// Browser is an HTML client with a cookie jar that submits forms with their
// CSRF token, as a browser would (same-origin requests).
type Browser struct {
	tb     testing.TB
	base   string
	Client *http.Client
	CSRF   string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// LoginHTML signs in through the login form.
func (s *Server) LoginHTML(tb testing.TB, login, password string) *Browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	b := &Browser{tb: tb, base: s.URL, Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	code, _, hdr := b.Post("/login", url.Values{"login": {login}, "password": {password}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		tb.Fatalf("login %s: status %d location %q", login, code, hdr.Get("Location"))
	}
	// The session cookie is Secure; Go's jar only returns Secure cookies
	// over https, so carry it by hand like a browser on loopback does.
	code, body := b.Get("/")
	if code != http.StatusOK {
		tb.Fatalf("home after login: %d", code)
	}
	if m := csrfRE.FindStringSubmatch(body); m != nil {
		b.CSRF = m[1]
	}
	return b
}

// For returns a copy of the browser (same cookies and CSRF token) that
// reports failures to tb, for use inside subtests.
func (b *Browser) For(tb testing.TB) *Browser {
	c := *b
	c.tb = tb
	return &c
}

func (b *Browser) do(req *http.Request) (int, string, http.Header) {
	b.tb.Helper()
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.Client.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.tb.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "preau_session" {
			u, _ := url.Parse(b.base)
			c.Secure = false
			b.Client.Jar.SetCookies(u, []*http.Cookie{c})
		}
	}
	return resp.StatusCode, string(body), resp.Header
}

// Get fetches a page.
func (b *Browser) Get(path string) (int, string) {
	b.tb.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.tb.Fatal(err)
	}
	code, body, _ := b.do(req)
	return code, body
}

// Post submits a urlencoded form, adding the CSRF token.
func (b *Browser) Post(path string, form url.Values) (int, string, http.Header) {
	b.tb.Helper()
	if b.CSRF != "" && form.Get("csrf") == "" {
		form.Set("csrf", b.CSRF)
	}
	req, err := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// PostMultipart submits a multipart body (built by the caller) with the
// CSRF token in the query string, as the upload forms do.
func (b *Browser) PostMultipart(path, contentType string, body io.Reader) (int, string, http.Header) {
	b.tb.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest("POST", b.base+path+sep+"csrf="+url.QueryEscape(b.CSRF), body)
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return b.do(req)
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
