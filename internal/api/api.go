// Package api is Préau's JSON API under /api/v1, for mobile apps and load
// tests; openapi.yaml at the repository root describes it.
//
// Clients sign in with POST /api/v1/login and send the token as
// "Authorization: Bearer TOKEN". The API never reads the session cookie, so
// it needs no CSRF defence. Errors are {"error":{"code","message"}} with the
// message in the language of Accept-Language.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/i18n"
	"preau/internal/workspace"
)

// Config is what the API needs from the server configuration.
type Config struct {
	MaxUploadBytes int64
	MaxFiles       int
	Location       *time.Location
	ReceiptKey     []byte
}

type handler struct {
	svc  *workspace.Service
	auth *auth.Manager
	cfg  Config
	log  *slog.Logger
}

// Register adds the API routes to mux.
func Register(mux *http.ServeMux, svc *workspace.Service, am *auth.Manager, cfg Config, log *slog.Logger) {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	h := &handler{svc: svc, auth: am, cfg: cfg, log: log}
	mux.HandleFunc("POST /api/v1/login", h.login)
	mux.Handle("POST /api/v1/logout", h.user(h.logout))
	mux.Handle("GET /api/v1/me", h.user(h.me))
	mux.Handle("GET /api/v1/homework", h.user(h.listHomework))
	mux.Handle("POST /api/v1/homework", h.user(h.publish))
	mux.Handle("GET /api/v1/homework/{id}", h.user(h.getEntry))
	mux.Handle("PUT /api/v1/homework/{id}/done", h.user(h.setDone(true)))
	mux.Handle("DELETE /api/v1/homework/{id}/done", h.user(h.setDone(false)))
	mux.Handle("POST /api/v1/homework/{id}/submissions", h.user(h.submit))
	mux.Handle("GET /api/v1/homework/{id}/submissions", h.user(h.listSubmissions))
	mux.Handle("GET /api/v1/submissions/{id}", h.user(h.getSubmission))
	mux.Handle("PUT /api/v1/submissions/{id}/feedback", h.user(h.feedback))
	mux.Handle("GET /api/v1/messages", h.user(h.listThreads))
	mux.Handle("POST /api/v1/messages", h.user(h.startThread))
	mux.Handle("GET /api/v1/messages/{id}", h.user(h.getThread))
	mux.Handle("POST /api/v1/messages/{id}/replies", h.user(h.reply))
	mux.Handle("GET /api/v1/timetable", h.user(h.timetable))
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.error(w, r, http.StatusNotFound, domain.CodeNotFound, "err.not_found")
	}))
}

type authed func(w http.ResponseWriter, r *http.Request, p *auth.Principal)

func (h *handler) user(next authed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="preau"`)
			h.error(w, r, http.StatusUnauthorized, domain.CodeUnauthorized, "err.unauthorized")
			return
		}
		p, err := h.auth.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if !errors.Is(err, domain.ErrUnauthorized) {
				h.fail(w, r, err)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="preau", error="invalid_token"`)
			h.error(w, r, http.StatusUnauthorized, domain.CodeUnauthorized, "err.unauthorized")
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		next(w, r.WithContext(httpx.WithPrincipal(r.Context(), p)), p)
	})
}

func lang(r *http.Request) string {
	if p := httpx.PrincipalFrom(r.Context()); p != nil && i18n.Supported(p.User.Lang) {
		return p.User.Lang
	}
	return i18n.Match(r.Header.Get("Accept-Language"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v) // a failed write means the client left; nothing to do
}

type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	} `json:"error"`
}

func (h *handler) error(w http.ResponseWriter, r *http.Request, status int, code, key string, args ...any) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, i18n.T(lang(r), key, args...)
	writeJSON(w, status, b)
}

// fail answers for an error from a lower layer; internal errors are logged
// and never described to the client.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := httpx.Status(err)
	httpx.RetryAfter(w, err)
	var b errorBody
	b.Error.Code = domain.ErrorCode(err)
	l := lang(r)
	var de *domain.Error
	var ve *domain.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case status == httpx.StatusClientClosed:
		w.WriteHeader(status)
		return
	case errors.As(err, &ve):
		b.Error.Message = i18n.T(l, "err.form")
		b.Error.Fields = map[string]string{}
		for _, f := range ve.Fields {
			b.Error.Fields[f.Field] = i18n.T(l, f.Key, f.Args...)
		}
	case status == http.StatusInternalServerError:
		h.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		b.Error.Message = i18n.T(l, "err.internal")
	case errors.As(err, &de):
		b.Error.Message = i18n.T(l, de.Key, de.Args...)
	case errors.As(err, &mbe):
		b.Error.Code, b.Error.Message = domain.CodeTooLarge, i18n.T(l, "err.too_large")
	default:
		b.Error.Message = i18n.T(l, "err.internal")
	}
	writeJSON(w, status, b)
}

// decode reads a JSON body of at most 1 MiB into v, refusing unknown fields.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		h.error(w, r, http.StatusUnsupportedMediaType, domain.CodeInvalid, "err.json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			h.error(w, r, http.StatusRequestTimeout, domain.CodeTimeout, "err.timeout")
			return false
		}
		if errors.As(err, &mbe) {
			h.error(w, r, http.StatusRequestEntityTooLarge, domain.CodeTooLarge, "err.too_large")
			return false
		}
		h.error(w, r, http.StatusBadRequest, domain.CodeInvalid, "err.json")
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		h.error(w, r, http.StatusBadRequest, domain.CodeInvalid, "err.json")
		return false
	}
	return true
}

func pathID[T ~int64](w http.ResponseWriter, r *http.Request, h *handler) (T, bool) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		h.error(w, r, http.StatusNotFound, domain.CodeNotFound, "err.not_found")
		return 0, false
	}
	return T(n), true
}
