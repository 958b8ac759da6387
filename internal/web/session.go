package web

import (
	"errors"
	"net/http"
	"strings"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/httpx"
	"preau/internal/i18n"
)

func (h *handler) showLogin(w http.ResponseWriter, r *http.Request) {
	if h.principal(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	pg := h.newPage(r, nil, "login.title", "")
	pg.Form = map[string]string{"next": safeNext(r.URL.Query().Get("next"))}
	h.render(w, r, http.StatusOK, "login", pg)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	login, pw := strings.TrimSpace(r.PostFormValue("login")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	pg := h.newPage(r, nil, "login.title", "")
	pg.Form = map[string]string{"login": login, "next": next}
	if login == "" || pw == "" {
		pg.Errors = map[string]string{"login": i18n.T(pg.Lang, "err.login_required")}
		h.render(w, r, http.StatusUnprocessableEntity, "login", pg)
		return
	}
	token, _, err := h.auth.Login(r.Context(), login, pw, httpx.ClientAddr(r), r.UserAgent())
	if err != nil {
		status := httpx.Status(err)
		var re *auth.RetryError
		switch {
		case errors.As(err, &re):
			httpx.RetryAfter(w, err)
			pg.Errors = map[string]string{"login": i18n.T(pg.Lang, "err.rate_limited_wait", int(re.Wait.Seconds())+1)}
		case errors.Is(err, domain.ErrBadCredential):
			pg.Errors = map[string]string{"login": i18n.T(pg.Lang, "err.bad_credentials")}
		case domain.ErrorCode(err) == domain.CodeUnavailable:
			var de *domain.Error
			errors.As(err, &de)
			pg.Errors = map[string]string{"login": i18n.T(pg.Lang, de.Key, de.Args...)}
		default:
			h.fail(w, r, nil, err)
			return
		}
		h.render(w, r, status, "login", pg)
		return
	}
	h.setCookie(w, SessionCookie, token, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := h.auth.Logout(r.Context(), p.SessionID); err != nil {
		h.fail(w, r, p, err)
		return
	}
	h.setCookie(w, SessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (h *handler) logoutEverywhere(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if _, err := h.auth.LogoutEverywhere(r.Context(), p.User.ID); err != nil {
		h.fail(w, r, p, err)
		return
	}
	h.setCookie(w, SessionCookie, "", -1)
	http.Redirect(w, r, "/login?ok=logout_all", http.StatusSeeOther)
}

func (h *handler) showAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	pg := h.newPage(r, p, "account.title", "account")
	h.render(w, r, http.StatusOK, "account", pg)
}

func (h *handler) setLang(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	lang := r.PostFormValue("lang")
	if lang != "" && !i18n.Supported(lang) {
		h.errorPage(w, r, p, http.StatusUnprocessableEntity, "err.lang")
		return
	}
	if err := h.svc.Store().SetLang(r.Context(), p.User.ID, lang); err != nil {
		h.fail(w, r, p, err)
		return
	}
	h.auth.InvalidateUser(p.User.ID)
	http.Redirect(w, r, "/account?ok=lang", http.StatusSeeOther)
}

// setAnonymousLang remembers the language of a visitor who is not signed in.
// It is a state change of no value to an attacker, so it needs no token.
func (h *handler) setAnonymousLang(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<10)
	lang := r.PostFormValue("lang")
	if !i18n.Supported(lang) {
		h.errorPage(w, r, nil, http.StatusUnprocessableEntity, "err.lang")
		return
	}
	h.setCookie(w, "lang", lang, 365*24*3600)
	back := "/login"
	if ref := r.Header.Get("Referer"); ref != "" {
		if i := strings.Index(ref, "/login"); i >= 0 {
			back = safeNext(ref[i:])
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
