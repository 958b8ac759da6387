package browsertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"preau/internal/apptest"
	"preau/internal/demo"
)

const (
	// chromiumPath is Debian's Chromium; CI installs the same package.
	chromiumPath = "/usr/bin/chromium"
	// requireEnv makes a missing browser a failure instead of a skip.
	requireEnv = "PREAU_REQUIRE_BROWSER"
	// testTimeout bounds a whole test, browser start included. It is a
	// safety net against a hung browser, not a performance assertion.
	testTimeout = 2 * time.Minute
	// shotDir receives the screenshots, outside the repository.
	shotDir = "/tmp/preau-shots"
)

// The demo school: see internal/demo.
const (
	dmTitle     = "Devoir maison n° 3 : fractions"
	studentName = "Léa Moreau"
)

// env is one test's running Préau and its browser.
type env struct {
	srv *apptest.Server
	// browser is the chromedp context of the browser's first tab; new
	// browser contexts (separate cookie jars) are made from it.
	browser context.Context
}

// start boots the demo school and a headless Chromium, both stopped at the
// end of the test. It skips the test when Chromium is not installed, or
// fails it if PREAU_REQUIRE_BROWSER=1. Flags are those of `preau demo`.
func start(t *testing.T, flags ...string) *env {
	t.Helper()
	return startWith(t, browserOptions{}, flags...)
}

// browserOptions adapt the browser to what a test needs.
type browserOptions struct {
	// flags are extra Chromium command-line switches, name to value (true
	// for a switch without a value).
	flags map[string]any
	// timeout replaces testTimeout (tests with several people and media).
	timeout time.Duration
}

// startWith is start with a browser adapted by o.
func startWith(t *testing.T, o browserOptions, flags ...string) *env {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("browser tests need Chromium at %s (Debian: apt-get install chromium): %v", chromiumPath, err)
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s; %s=1 requires it", msg, requireEnv)
		}
		t.Skip(msg)
	}
	srv := apptest.StartDemo(t, flags...)

	timeout := testTimeout
	if o.timeout > 0 {
		timeout = o.timeout
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	for name, value := range o.flags {
		opts = append(opts, chromedp.Flag(name, value))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, so that it has left its profile
		// directory before t.TempDir removes it.
		if err := chromedp.Cancel(browser); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing the browser: %v", err)
		}
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return &env{srv: srv, browser: browser}
}

// session opens a tab in a new browser context: a person with an empty
// cookie jar and cache. It is closed at the end of t.
func (e *env) session(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return ctx
}

// url makes an absolute address on the server under test.
func (e *env) url(path string) string { return e.srv.URL + path }

// open navigates to path and requires a 200.
func (e *env) open(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.url(path)))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	if resp.Status != 200 {
		t.Fatalf("opening %s: status %d", path, resp.Status)
	}
}

// follow clicks the element sel (a link or a submit button), waits for the
// page it leads to, and requires that page to answer 200 (after redirects).
func follow[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("clicking %v: %v", sel, err)
	}
	if resp == nil {
		t.Fatalf("clicking %v: no page loaded", sel)
	}
	if resp.Status != 200 {
		t.Fatalf("clicking %v: %s answered %d", sel, resp.URL, resp.Status)
	}
}

// login signs in through the login form, as a person types it, and checks
// that it lands on the home page.
func (e *env) login(t *testing.T, ctx context.Context, login string) {
	t.Helper()
	e.open(t, ctx, "/login")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("login"), login),
		chromedp.SendKeys(chromedp.ID("password"), demo.Password),
	); err != nil {
		t.Fatalf("filling the login form: %v", err)
	}
	follow(t, ctx, chromedp.CSS(`form[action="/login"] button[type=submit]`))
	if got := path(t, ctx); got != "/" {
		t.Fatalf("after logging in as %s: at %s, want /", login, got)
	}
}

// path is the path (and query) of the current page.
func path(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("reading the location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("location %q: %v", loc, err)
	}
	return u.RequestURI()
}

// text is the rendered text (innerText) of the first element matching sel.
func text[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel, chromedp.NodeReady))
	if err != nil {
		t.Fatalf("reading the text of %v: %v", sel, err)
	}
	return s
}

// contains requires every want in got, naming where got comes from.
func contains(t *testing.T, where, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q not found in:\n%s", where, w, got)
		}
	}
}

// attr is an attribute of the first element matching sel ("" when absent).
func attr[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S, name string) string {
	t.Helper()
	r, err := chromedp.Run(ctx, chromedp.AttributeValue(sel, name, chromedp.NodeReady))
	if err != nil {
		t.Fatalf("reading %s of %v: %v", name, sel, err)
	}
	return r.Value
}

// setHeaders adds headers to every request of the tab.
func setHeaders(t *testing.T, ctx context.Context, h map[string]any) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
		t.Fatalf("setting request headers: %v", err)
	}
}

// screenshot saves a full-page PNG of the current page in shotDir.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(shotDir, name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
}

// french makes the tab ask for French, as a browser set up in France does
// (the default headless profile asks for en-US).
func french(t *testing.T, ctx context.Context) {
	t.Helper()
	setHeaders(t, ctx, map[string]any{"Accept-Language": "fr-FR,fr;q=0.9"})
}

// handIn is a file a pupil hands in.
type handIn struct {
	Path, Name, SHA256 string
	Content            string
}

// newHandIn writes a small file under t.TempDir and computes its SHA-256.
func newHandIn(t *testing.T, name, content string) handIn {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return handIn{Path: p, Name: name, SHA256: hex.EncodeToString(sum[:]), Content: content}
}

// fetchText downloads a same-origin address with the page's cookies and
// returns its body (and fails on a non-200 answer).
func fetchText(t *testing.T, ctx context.Context, href string) string {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, {credentials: "same-origin"}).then(r => r.ok ? r.text() : Promise.reject(new Error("status " + r.status)))`, href)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetching %s: %v", href, err)
	}
	return s
}

// lastID is the number after prefix in the current path, e.g. 12 for
// /submissions/12?new=1 and prefix "/submissions/".
func lastID(t *testing.T, ctx context.Context, prefix string) string {
	t.Helper()
	p := path(t, ctx)
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok {
		t.Fatalf("at %s, want %s…", p, prefix)
	}
	id, _, _ := strings.Cut(rest, "/")
	id, _, _ = strings.Cut(id, "?")
	if id == "" || strings.Trim(id, "0123456789") != "" {
		t.Fatalf("at %s: no id after %s", p, prefix)
	}
	return id
}
