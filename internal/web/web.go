// Package web is Préau's HTML front end: server-rendered pages that work
// without JavaScript, in French and English, accessible (landmarks, labels,
// skip link, visible focus) and light enough for an old phone.
//
// One file per area; handlers are methods on handler and follow the same
// shape: load → 404 if missing or hidden → validate → act → redirect (POST,
// redirect, GET), so a refresh never resubmits a form.
package web

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/evidence/record"
	"preau/internal/httpx"
	"preau/internal/i18n"
	"preau/internal/live"
	"preau/internal/shield"
	"preau/internal/workspace"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// SessionCookie is the name of the session cookie.
const SessionCookie = "preau_session"

// Config is what the front end needs from the server configuration.
type Config struct {
	SecureCookies  bool                 // set Secure on cookies (HTTPS, or loopback where browsers allow it)
	MaxUploadBytes int64                // whole request body of an upload
	MaxFiles       int                  // files per upload
	Location       *time.Location       // time zone pages are shown in
	ReceiptKey     []byte               // signs hand-in receipts
	Demo           bool                 // shows the demo banner
	Shield         *shield.Shield       // nil when the shield is off
	Gates          *shield.ProfileGates // profile hours, switchable by hand

	// The operator pages (shield, episodes, blocklist) act on the whole
	// platform, not one school. Operators are the admin logins allowed on
	// them; when empty, the admins of the only school, as long as the
	// server has only one.
	Operators    []string
	Audit        Auditor           // the administrators' audit log; nil logs only
	Evidence     *record.Recorder  // recorded episodes; nil when the recorder is off
	Export       ExportConfig      // how episodes are exported
	Blocklist    *shield.Blocklist // partners' indicators; nil when the shield is off
	BlocklistTTL time.Duration     // expiry of an indicator without valid_until
	Live         *live.Service     // live classes; nil serves none
}

// Auditor appends to the administrators' audit log and returns once the
// entry is on stable storage (record.Recorder.Audit).
type Auditor interface {
	Audit(actor, action string, details map[string]any) error
}

// ExportConfig is what the export of an episode needs besides the form.
type ExportConfig struct {
	Dir          string // the evidence directory
	Producer     string // organisation named in the STIX identity
	Version      string // Préau's version, for metadata.json
	PseudonymKey []byte // HMAC key of pseudonymised addresses, kept by this server
}

type handler struct {
	svc   *workspace.Service
	auth  *auth.Manager
	cfg   Config
	log   *slog.Logger
	pages map[string]map[string]*template.Template // lang → page → template
	// onImport runs after a roster import (cache invalidation).
	onImport func()
	jobs     *jobs
}

// Register adds the HTML routes to mux.
func Register(mux *http.ServeMux, svc *workspace.Service, am *auth.Manager, cfg Config, log *slog.Logger) error {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	h := &handler{svc: svc, auth: am, cfg: cfg, log: log, onImport: am.InvalidateAll, jobs: newJobs(log)}
	if err := h.parseTemplates(); err != nil {
		return err
	}
	css, err := newStaticFile("static/preau.css", "text/css; charset=utf-8")
	if err != nil {
		return err
	}
	mux.Handle("GET /static/preau.css", css)
	if err := h.registerLive(mux); err != nil {
		return err
	}

	mux.HandleFunc("GET /login", h.showLogin)
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("POST /lang", h.setAnonymousLang)
	mux.Handle("POST /logout", h.user(h.logout))
	mux.Handle("GET /account", h.user(h.showAccount))
	mux.Handle("POST /account/lang", h.user(h.setLang))
	mux.Handle("POST /account/logout-everywhere", h.user(h.logoutEverywhere))

	mux.Handle("GET /{$}", h.user(h.showHome))
	mux.Handle("GET /homework", h.user(h.showHomework))
	mux.Handle("GET /homework/new", h.user(h.showNewEntry))
	mux.Handle("POST /homework", h.user(h.publish))
	mux.Handle("GET /homework/{id}", h.user(h.showEntry))
	mux.Handle("POST /homework/{id}/done", h.user(h.setDone))
	mux.Handle("POST /homework/{id}/submit", h.user(h.submit))
	mux.Handle("GET /homework/{id}/files/{sum}", h.user(h.entryFile))
	mux.Handle("GET /homework/{id}/submissions", h.user(h.showSubmissions))
	mux.Handle("GET /homework/{id}/submissions.zip", h.user(h.submissionsZip))
	mux.Handle("GET /submissions/{id}", h.user(h.showSubmission))
	mux.Handle("GET /submissions/{id}/receipt.txt", h.user(h.receiptText))
	mux.Handle("GET /submissions/{id}/files/{sum}", h.user(h.submissionFile))
	mux.Handle("POST /submissions/{id}/feedback", h.user(h.feedback))

	mux.Handle("GET /messages", h.user(h.showThreads))
	mux.Handle("GET /messages/new", h.user(h.showNewThread))
	mux.Handle("GET /messages/rules", h.user(h.showRules))
	mux.Handle("POST /messages", h.user(h.startThread))
	mux.Handle("GET /messages/{id}", h.user(h.showThread))
	mux.Handle("POST /messages/{id}/reply", h.user(h.reply))
	mux.Handle("GET /messages/{id}/files/{sum}", h.user(h.messageFile))

	mux.Handle("GET /timetable", h.user(h.showTimetable))

	mux.Handle("GET /admin", h.admin(h.showAdmin))
	mux.Handle("GET /admin/users", h.admin(h.showUsers))
	mux.Handle("GET /admin/import", h.admin(h.showImport))
	mux.Handle("POST /admin/import", h.admin(h.importFile))
	mux.Handle("GET /admin/import/jobs/{id}", h.admin(h.showImportJob))
	mux.Handle("GET /admin/shield", h.operator(h.showShield))
	mux.Handle("POST /admin/shield", h.operator(h.setShield))
	mux.Handle("GET /admin/shield/episodes", h.operator(h.showEpisodes))
	mux.Handle("POST /admin/shield/episodes/{id}/export", h.operator(h.exportEpisode))
	mux.Handle("GET /admin/shield/blocklist", h.operator(h.showBlocklist))
	mux.Handle("POST /admin/shield/blocklist", h.operator(h.importBlocklist))
	mux.Handle("POST /admin/shield/blocklist/{id}/remove", h.operator(h.removeBlock))
	mux.Handle("GET /admin/messaging", h.admin(h.showPolicy))
	mux.Handle("POST /admin/messaging", h.admin(h.setPolicy))
	return nil
}

type authed func(w http.ResponseWriter, r *http.Request, p *auth.Principal)

// user requires a signed-in user: anonymous visitors go to the login page
// and come back. POSTs must carry the session's CSRF token (in the form, or
// in the query string for multipart forms, so it is checked before any file
// is read).
func (h *handler) user(next authed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := h.principal(r)
		if p == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.errorPage(w, r, nil, http.StatusUnauthorized, "err.session_expired")
			return
		}
		if r.Method == http.MethodPost {
			token := r.URL.Query().Get("csrf")
			if token == "" && !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
				r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
				token = r.PostFormValue("csrf")
			}
			if !h.auth.CheckCSRF(p, token) {
				h.errorPage(w, r, p, http.StatusForbidden, "err.csrf")
				return
			}
		}
		w.Header().Set("Cache-Control", "private, no-store")
		next(w, r.WithContext(httpx.WithPrincipal(r.Context(), p)), p)
	})
}

// admin requires a school admin; anyone else gets 404.
func (h *handler) admin(next authed) http.Handler {
	return h.user(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		if p.User.Role != domain.RoleAdmin {
			h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
			return
		}
		next(w, r, p)
	})
}

func (h *handler) principal(r *http.Request) *auth.Principal {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	p, err := h.auth.Authenticate(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, domain.ErrUnauthorized) {
			h.log.Error("authenticate", "err", err)
		}
		return nil
	}
	return p
}

// lang picks the page language: the user's choice, else the lang cookie,
// else Accept-Language.
func (h *handler) lang(r *http.Request, p *auth.Principal) string {
	if p != nil && i18n.Supported(p.User.Lang) {
		return p.User.Lang
	}
	if c, err := r.Cookie("lang"); err == nil && i18n.Supported(c.Value) {
		return c.Value
	}
	return i18n.Match(r.Header.Get("Accept-Language"))
}

// pathID reads the {id} of a route, answering 404 itself when it is not a
// positive integer.
func pathID[T ~int64](h *handler, w http.ResponseWriter, r *http.Request, p *auth.Principal) (T, bool) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		h.errorPage(w, r, p, http.StatusNotFound, "err.not_found")
		return 0, false
	}
	return T(n), true
}

// safeNext keeps a post-login redirect on this site (httpx.SafeNext).
func safeNext(next string) string { return httpx.SafeNext(next) }

func (h *handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}
