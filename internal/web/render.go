package web

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/i18n"
)

// page is what every template receives.
type page struct {
	Lang    string
	Title   string
	Nav     string
	User    *domain.User
	CSRF    string
	Flash   string
	Demo    bool
	Refresh int               // seconds; the page reloads itself (progress pages)
	Script  string            // a page's own script (the live class), "" for none: pages work without JavaScript
	Errors  map[string]string // field → translated message
	Form    map[string]string // values to show again after an error
	Data    any
}

// Err returns the message for a field, for templates.
func (p page) Err(field string) string { return p.Errors[field] }

// Val returns a form value to show again, for templates.
func (p page) Val(field string) string { return p.Form[field] }

// constT matches a translation with no arguments, which can be resolved
// once when the templates are parsed instead of on every render.
var constT = regexp.MustCompile(`\{\{t "([a-z0-9_.]+)"\}\}`)

// inline replaces constant translations by their escaped text in lang.
// Profiling the home page showed the reflective calls of {{t "key"}} to be
// most of its rendering time.
func inline(src []byte, lang string) string {
	return constT.ReplaceAllStringFunc(string(src), func(m string) string {
		key := constT.FindStringSubmatch(m)[1]
		return html.EscapeString(i18n.T(lang, key))
	})
}

func (h *handler) parseTemplates() error {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return fmt.Errorf("web: list templates: %w", err)
	}
	sources := map[string][]byte{}
	for _, name := range names {
		if sources[path.Base(name)], err = templateFiles.ReadFile(name); err != nil {
			return fmt.Errorf("web: read %s: %w", name, err)
		}
	}
	h.pages = map[string]map[string]*template.Template{}
	for _, lang := range i18n.Languages {
		base, err := template.New("layout").Funcs(h.funcs(lang)).Parse(inline(sources["layout.html"], lang))
		if err != nil {
			return fmt.Errorf("web: parse layout: %w", err)
		}
		h.pages[lang] = map[string]*template.Template{}
		for file, src := range sources {
			if file == "layout.html" {
				continue
			}
			t, err := template.Must(base.Clone()).Parse(inline(src, lang))
			if err != nil {
				return fmt.Errorf("web: parse %s: %w", file, err)
			}
			h.pages[lang][strings.TrimSuffix(file, ".html")] = t
		}
	}
	return nil
}

func (h *handler) funcs(lang string) template.FuncMap {
	loc := h.cfg.Location
	return template.FuncMap{
		"t":     func(key string, args ...any) string { return i18n.T(lang, key, args...) },
		"targs": func(key string, args []any) string { return i18n.T(lang, key, args...) },
		"date":  func(t time.Time) string { return i18n.Date(lang, t.In(loc)) },
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return i18n.DateTime(lang, t.In(loc))
		},
		"clock":   func(t time.Time) string { return t.In(loc).Format("15:04") },
		"isodate": func(t time.Time) string { return t.In(loc).Format("2006-01-02") },
		"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") },
		"weekday": func(d time.Weekday) string { return i18n.Weekday(lang, d) },
		"size":    humanSize,
		"role":    func(r domain.Role) string { return i18n.T(lang, "role."+string(r)) },
		"mark": func(m *float64) string {
			if m == nil {
				return ""
			}
			return number(lang, *m)
		},
		"num": func(f float64) string { return number(lang, f) },
		"css": func() string { return cssURL },
		"pct": func(a, b int) int {
			if b == 0 {
				return 0
			}
			return a * 100 / b
		},
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12]
			}
			return s
		},
		"lines": func(s string) []string { return strings.Split(s, "\n") },
		"dict": func(kv ...any) map[string]any {
			m := make(map[string]any, len(kv)/2)
			for i := 0; i+1 < len(kv); i += 2 {
				k, _ := kv[i].(string)
				m[k] = kv[i+1]
			}
			return m
		},
	}
}

// number formats a mark: at most two decimals, with a decimal comma in French.
func number(lang string, f float64) string {
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
	if lang == "fr" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f Mo", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f ko", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d o", n)
}

// newPage fills the common fields.
func (h *handler) newPage(r *http.Request, p *auth.Principal, titleKey, nav string) page {
	pg := page{Lang: h.lang(r, p), Nav: nav, Demo: h.cfg.Demo}
	pg.Title = i18n.T(pg.Lang, titleKey)
	if p != nil {
		u := p.User
		pg.User, pg.CSRF = &u, p.CSRF
	}
	if f := r.URL.Query().Get("ok"); f != "" && validFlash[f] {
		pg.Flash = i18n.T(pg.Lang, "flash."+f)
	}
	return pg
}

// validFlash lists the confirmations a redirect may ask to show.
var validFlash = map[string]bool{"published": true, "done": true, "undone": true, "feedback": true,
	"sent": true, "lang": true, "imported": true, "policy": true, "logout_all": true, "shield": true,
	"blocklist_removed": true, "live_ended": true}

// render writes a page; rendering to a buffer first means a template error
// becomes a clean 500 instead of half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, pg page) {
	t := h.pages[pg.Lang][name]
	if t == nil {
		h.log.Error("missing template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		h.log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", pg.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a translated error with the right status.
func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, key string, args ...any) {
	pg := h.newPage(r, p, "err.title", "")
	pg.Data = i18n.T(pg.Lang, key, args...)
	h.render(w, r, status, "error", pg)
}

// fail shows the page for an error from a lower layer: validation and
// not-found errors with their message, anything else logged and shown as
// an internal error without detail.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	status := httpx.Status(err)
	httpx.RetryAfter(w, err)
	var de *domain.Error
	var ve *domain.ValidationError
	switch {
	case status == httpx.StatusClientClosed:
		w.WriteHeader(status)
	case errors.As(err, &ve) && len(ve.Fields) > 0:
		lang := h.lang(r, p)
		msgs := make([]string, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			msgs = append(msgs, i18n.T(lang, f.Key, f.Args...))
		}
		pg := h.newPage(r, p, "err.title", "")
		pg.Data = strings.Join(msgs, " ")
		h.render(w, r, status, "error", pg)
	case status == http.StatusInternalServerError:
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, p, status, "err.internal")
	case errors.As(err, &de):
		h.errorPage(w, r, p, status, de.Key, de.Args...)
	default:
		h.errorPage(w, r, p, status, "err.internal")
	}
}

// fieldErrors translates a validation error for a form; ok is false when
// err is not a validation error.
func fieldErrors(lang string, err error) (map[string]string, bool) {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return nil, false
	}
	out := map[string]string{}
	for _, f := range ve.Fields {
		if _, dup := out[f.Field]; !dup {
			out[f.Field] = i18n.T(lang, f.Key, f.Args...)
		}
	}
	return out, true
}

func tr(lang, key string, args ...any) string { return i18n.T(lang, key, args...) }
