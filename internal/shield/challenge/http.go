package challenge

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed static/solver.js
	solverJS []byte
	//go:embed static/worker.js
	workerJS []byte

	page = template.Must(template.New("page").Parse(pageHTML))
)

// messages is the package's own small translation table (fr is the
// default). Keys starting with "err." describe Verify's errors.
var messages = map[string]map[string]string{
	"fr": {
		"title":         "Vérification",
		"failed_title":  "Vérification refusée",
		"intro":         "Préau est très sollicité en ce moment. Votre navigateur fait un petit calcul, de quelques secondes au plus, pour montrer qu'il n'est pas un robot d'attaque ; vous serez ensuite redirigé automatiquement.",
		"progress":      "Progression du calcul",
		"working":       "Calcul en cours…",
		"done":          "Vérification réussie, redirection…",
		"js_failed":     "Le calcul n'a pas pu être lancé dans ce navigateur. Vous pouvez entrer par la salle d'attente.",
		"continue":      "Continuer",
		"noscript":      "JavaScript est désactivé : entrez sans calcul par la salle d'attente.",
		"slow":          "Cela prend trop de temps ?",
		"waiting_room":  "Entrer par la salle d'attente",
		"retry":         "Recommencer la vérification",
		"or_wait":       "Ou, sans calcul :",
		"err.malformed": "La réponse envoyée est incomplète ou illisible.",
		"err.mac":       "Cette vérification n'a pas été émise par ce serveur, ou elle a été modifiée.",
		"err.expired":   "Cette vérification a expiré. Recommencez : cela ne prend que quelques secondes.",
		"err.network":   "Cette vérification a été émise pour un autre réseau. Cela arrive quand la connexion change (Wi-Fi, 4G) : recommencez.",
		"err.work":      "Le calcul envoyé est incorrect. Recommencez.",
		"err.replayed":  "Cette vérification a déjà été utilisée. Recommencez pour en obtenir une nouvelle.",
	},
	"en": {
		"title":         "Checking your browser",
		"failed_title":  "Check refused",
		"intro":         "Préau is very busy right now. Your browser is doing a small computation, a few seconds at most, to show it is not an attack robot; you will then be taken to your page automatically.",
		"progress":      "Computation progress",
		"working":       "Computing…",
		"done":          "Check passed, redirecting…",
		"js_failed":     "The computation could not start in this browser. You can come in through the waiting room.",
		"continue":      "Continue",
		"noscript":      "JavaScript is off: come in without any computation through the waiting room.",
		"slow":          "Taking too long?",
		"waiting_room":  "Come in through the waiting room",
		"retry":         "Start the check again",
		"or_wait":       "Or, without any computation:",
		"err.malformed": "The answer sent is incomplete or unreadable.",
		"err.mac":       "This check was not issued by this server, or it was altered.",
		"err.expired":   "This check has expired. Start again: it only takes a few seconds.",
		"err.network":   "This check was issued for another network. This happens when your connection changes (Wi-Fi, mobile data): start again.",
		"err.work":      "The computation sent is wrong. Start again.",
		"err.replayed":  "This check has already been used. Start again to get a new one.",
	},
}

// errorKey returns the messages key describing err.
func errorKey(err error) string {
	switch {
	case errors.Is(err, ErrBadMAC):
		return "err.mac"
	case errors.Is(err, ErrExpired):
		return "err.expired"
	case errors.Is(err, ErrWrongNetwork):
		return "err.network"
	case errors.Is(err, ErrInsufficientWork):
		return "err.work"
	case errors.Is(err, ErrReplayed):
		return "err.replayed"
	}
	return "err.malformed"
}

// asset is one embedded script, served under a content-hashed name.
type asset struct {
	name     string // e.g. solver.0123456789ab.js
	plain    string // solver.js
	body, gz []byte
	etag     string
}

type assets struct{ solver, worker *asset }

func newAsset(base string, body []byte) (*asset, error) {
	sum := sha256.Sum256(body)
	v := hex.EncodeToString(sum[:6])
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(body)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &asset{
		name:  base + "." + v + ".js",
		plain: base + ".js",
		body:  body,
		gz:    gz.Bytes(),
		etag:  `"` + v + `"`,
	}, nil
}

func loadAssets() (*assets, error) {
	s, err := newAsset("solver", solverJS)
	if err != nil {
		return nil, err
	}
	w, err := newAsset("worker", workerJS)
	if err != nil {
		return nil, err
	}
	return &assets{solver: s, worker: w}, nil
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request, immutable bool) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// SolverURL is the content-hashed address of the page's script.
func (c *Challenger) SolverURL() string { return c.solverURL }

// WorkerURL is the content-hashed address of the Web Worker script.
func (c *Challenger) WorkerURL() string { return c.workerURL }

// URL returns the challenge page's address for a visitor who wanted next
// (a local path; anything else becomes "/").
func (c *Challenger) URL(next string) string {
	next = c.safeNext(next)
	if next == "/" {
		return c.cfg.BasePath
	}
	return c.cfg.BasePath + "?next=" + url.QueryEscape(next)
}

func (c *Challenger) waitURL(next string) string {
	if next == "/" {
		return c.cfg.WaitingRoomURL
	}
	sep := "?"
	if strings.Contains(c.cfg.WaitingRoomURL, "?") {
		sep = "&"
	}
	return c.cfg.WaitingRoomURL + sep + "next=" + url.QueryEscape(next)
}

// safeNext returns s if it is a local path (one leading slash, no scheme,
// host, backslash or control character, and not the challenge itself),
// otherwise "/". It keeps the redirect after a pass from being an open
// redirect.
func (c *Challenger) safeNext(s string) string {
	if s == "" || len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, "//") {
		return "/"
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b == 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if u.Path == c.cfg.BasePath || strings.HasPrefix(u.Path, c.cfg.BasePath+"/") {
		return "/"
	}
	return s
}

// ServeHTTP serves the challenge page (GET, HEAD), checks answers (POST)
// and serves the scripts below BasePath. Mount it at BasePath and
// BasePath + "/".
func (c *Challenger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != c.cfg.BasePath {
		rest, ok := strings.CutPrefix(p, c.cfg.BasePath+"/")
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		for _, a := range []*asset{c.assets.solver, c.assets.worker} {
			if rest == a.name || rest == a.plain {
				a.serve(w, r, rest == a.name)
				return
			}
		}
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		c.servePage(w, r, c.safeNext(r.URL.Query().Get("next")), http.StatusOK, nil)
	case http.MethodPost:
		c.serveAnswer(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	}
}

type pageData struct {
	Lang, Title, CSS                    string
	SolverURL, WorkerURL, Action, Token string
	Next, WaitURL, RetryURL, Error      string
	Difficulty                          int
	T                                   map[string]string
}

// contentSecurityPolicy is used when no outer middleware has set one.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; " +
	"img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (c *Challenger) servePage(w http.ResponseWriter, r *http.Request, next string, status int, verr error) {
	lang := c.cfg.Lang(r)
	t, ok := messages[lang]
	if !ok {
		lang, t = "fr", messages["fr"]
	}
	d := pageData{
		Lang: lang, CSS: c.cfg.StylesheetURL, T: t,
		SolverURL: c.solverURL, WorkerURL: c.workerURL, Action: c.cfg.BasePath,
		Next: next, WaitURL: c.waitURL(next), RetryURL: c.URL(next),
		Title: t["title"],
	}
	if verr != nil {
		d.Error = t[errorKey(verr)]
		d.Title = t["failed_title"]
	} else {
		d.Difficulty = max(0, min(c.cfg.DifficultyFor(r), MaxDifficulty))
		d.Token = c.Issue(c.cfg.ClientAddr(r), d.Difficulty, c.cfg.Now())
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", lang)
	h.Set("X-Robots-Tag", "noindex")
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", contentSecurityPolicy)
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// maxForm bounds the answer's body: token, counter and next fit in 3 KB.
const maxForm = 4 << 10

func (c *Challenger) serveAnswer(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.servePage(w, r, "/", http.StatusForbidden, ErrMalformed)
		return
	}
	next := c.safeNext(r.PostForm.Get("next"))
	client := c.cfg.ClientAddr(r)
	now := c.cfg.Now()
	if err := c.Verify(r.PostForm.Get("token"), r.PostForm.Get("counter"), client, now); err != nil {
		c.servePage(w, r, next, http.StatusForbidden, err)
		return
	}
	value, pass := c.IssuePass(client, now)
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     "/",
		Expires:  pass.Expires,
		MaxAge:   int(c.passTTL),
		HttpOnly: true,
		Secure:   c.cfg.SecureCookie || r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", next)
	w.WriteHeader(http.StatusSeeOther)
}

// PassFrom returns the valid pass carried by r's cookie, for the request's
// client address (Config.ClientAddr) at now; ErrNoPass if there is none.
func (c *Challenger) PassFrom(r *http.Request, now time.Time) (Pass, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return Pass{}, ErrNoPass
	}
	return c.ParsePass(ck.Value, c.cfg.ClientAddr(r), now)
}

// peerAddr is the TCP peer of r, the default Config.ClientAddr.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// acceptLanguage picks "en" when the browser ranks English above French,
// "fr" otherwise.
func acceptLanguage(r *http.Request) string {
	best, bestQ := "fr", -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		lang, _, _ := strings.Cut(tag, "-")
		if lang != "fr" && lang != "en" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}
