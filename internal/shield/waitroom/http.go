package waitroom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// manualParam, added to the page's own URL, turns automatic refresh off
// (WCAG 2.2.1: a user must be able to stop a timed reload). It is removed
// from the URL the visitor is sent to once admitted.
const manualParam = "waitroom"

const maxNextLen = 2048

// ServeHTTP answers a request that must wait. The shield calls it in place
// of the upstream handler, at the request's own URL, so that refreshing the
// page retries the page the visitor wanted:
//
//   - It reads the TicketCookie; a missing, malformed, forged or expired
//     ticket is replaced by a new one (at the back of the queue).
//   - While waiting: 503 with a jittered Retry-After, the queue page (or
//     JSON for clients that prefer application/json) showing the position
//     and ETA, refreshing itself after the same number of seconds; the
//     ticket is re-signed and the cookie renewed.
//   - Once admitted: a pass in the PassCookie, the ticket cookie removed,
//     and 303 See Other to the requested local path (JSON: 200 with
//     "admitted": true and "next").
//
// The shield must let valid pass holders through (as the pass-holder class)
// or a visitor could be sent back to the end of the queue after admission.
// Headers of a queue answer: the visitor's position, and the estimated
// wait in whole seconds (absent while the room has no admission rate to
// estimate from).
const (
	PositionHeader = "Preau-Queue-Position"
	ETAHeader      = "Preau-Queue-ETA"
)

func (r *Room) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := r.now()
	lang := pickLang(req)
	asJSON := wantsJSON(req.Header.Get("Accept"))
	next, manual := localTarget(req.URL)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept, Accept-Language, Cookie")

	var t Ticket
	fresh := true
	if c, err := req.Cookie(TicketCookie); err == nil {
		parsed, err := r.parseTicket(c.Value, now)
		switch err {
		case nil:
			t, fresh = parsed, false
		case ErrBadMAC:
			r.stats.badMAC.Add(1)
		case ErrExpired:
			r.stats.expired.Add(1)
		default:
			r.stats.malformed.Add(1)
		}
	}
	if fresh {
		t = r.Issue(now)
	} else {
		t = r.Refresh(t, now)
	}
	admitted, pos, eta := r.Check(t, now)
	if admitted {
		if r.redeem.take(t.ID, now.UnixMilli(), r.cfg.MaxPassesPerTicket) {
			r.admit(w, req, t, now, next, asJSON)
			return
		}
		// A copy of a ticket that already got its passes: back of the queue.
		r.stats.replayed.Add(1)
		t = r.Issue(now)
		_, pos, eta = r.Check(t, now)
	}

	secs := r.retrySeconds(eta)
	// Nobody gets in before the page comes back: the wait announced is at
	// least the refresh interval (an ETA of "a second" followed by a
	// 5-second refresh was wrong by the whole refresh).
	if retry := time.Duration(secs) * time.Second; eta >= 0 && eta < retry {
		eta = retry
	}
	http.SetCookie(w, &http.Cookie{Name: TicketCookie, Value: t.String(), Path: "/",
		MaxAge: int(r.cfg.Grace / time.Second), HttpOnly: true, Secure: r.cfg.Secure, SameSite: http.SameSiteLaxMode})
	h.Set("Retry-After", strconv.Itoa(secs))
	// The same position and ETA as the page, for monitoring probes and for
	// `preau storm`, which measures how far the ETA is from the real wait.
	h.Set(PositionHeader, strconv.FormatInt(int64(pos), 10))
	if eta >= 0 {
		h.Set(ETAHeader, strconv.FormatInt(int64(eta.Round(time.Second)/time.Second), 10))
	}
	if asJSON {
		writeJSON(w, http.StatusServiceUnavailable, answer{Position: pos, ETASeconds: etaSeconds(eta), RetryAfter: secs})
		return
	}
	self := withManual(next, manual)
	p := page{
		Lang: lang, M: messages[lang], Stylesheet: r.cfg.Stylesheet,
		Position: pos, Self: self, Manual: manual,
		Toggle: withManual(next, !manual),
		Grace:  graceText(lang, r.cfg.Grace),
	}
	if !manual {
		p.Refresh = secs
	}
	if eta >= 0 {
		p.ETA = roundDuration(lang, eta)
	}
	p.Title = fmt.Sprintf(p.M["title_pos"], pos)
	writeHTML(w, http.StatusServiceUnavailable, &p)
}

// admit hands out a pass and sends the visitor on.
func (r *Room) admit(w http.ResponseWriter, req *http.Request, t Ticket, now time.Time, next string, asJSON bool) {
	p := r.IssuePass(t, now)
	r.stats.admitted.Add(1)
	http.SetCookie(w, &http.Cookie{Name: PassCookie, Value: p.String(), Path: "/",
		MaxAge: int(r.cfg.PassTTL / time.Second), HttpOnly: true, Secure: r.cfg.Secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: TicketCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.cfg.Secure, SameSite: http.SameSiteLaxMode})
	if asJSON {
		zero := int64(0)
		writeJSON(w, http.StatusOK, answer{Admitted: true, ETASeconds: &zero, Next: next})
		return
	}
	http.Redirect(w, req, next, http.StatusSeeOther)
}

// retrySeconds picks the refresh interval from the ETA: about a third of
// the expected wait, 5 to 30 s (never more than a third of the grace
// period), jittered by ±20 % so that refreshes do not synchronise.
func (r *Room) retrySeconds(eta time.Duration) int {
	hi := min(30, r.cfg.Grace.Seconds()/3)
	base := 10.0
	if eta >= 0 {
		base = eta.Seconds() / 3
	}
	base = min(max(base, 5), hi)
	j := base * (0.8 + 0.4*rand.Float64())
	return int(math.Round(min(max(j, 5), hi)))
}

// answer is the JSON form of the queue, for apps.
type answer struct {
	Admitted   bool   `json:"admitted"`
	Position   int    `json:"position"`
	ETASeconds *int64 `json:"eta_seconds"` // null while unknown
	RetryAfter int    `json:"retry_after"`
	Next       string `json:"next,omitempty"`
}

func etaSeconds(eta time.Duration) *int64 {
	if eta < 0 {
		return nil
	}
	s := int64(math.Ceil(eta.Seconds()))
	return &s
}

func writeJSON(w http.ResponseWriter, status int, a answer) {
	b, _ := json.Marshal(a)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeHTML(w http.ResponseWriter, status int, p *page) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		// The template is static and tested; never leave the visitor with nothing.
		buf.Reset()
		buf.WriteString("<!doctype html><title>Préau</title><p>" + template.HTMLEscapeString(p.M["intro"]))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// localTarget returns the request's own path and query as a safe local URL
// (a single leading slash, no backslash or control character, bounded
// length; "/" otherwise), without the manual-refresh parameter, and whether
// that parameter was set.
func localTarget(u *url.URL) (next string, manual bool) {
	q := u.Query()
	manual = q.Get(manualParam) == "manual"
	raw := u.RawQuery
	if q.Has(manualParam) {
		q.Del(manualParam)
		raw = q.Encode()
	}
	p := u.EscapedPath()
	if !safeLocalPath(p) || len(raw) > maxNextLen || strings.ContainsAny(raw, "\\\r\n\x00") {
		return "/", manual
	}
	if raw != "" {
		p += "?" + raw
	}
	if len(p) > maxNextLen {
		return "/", manual
	}
	return p, manual
}

func safeLocalPath(p string) bool {
	if len(p) == 0 || p[0] != '/' || len(p) > maxNextLen {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// withManual returns next with the manual-refresh parameter set or not.
func withManual(next string, manual bool) string {
	if !manual {
		return next
	}
	if strings.Contains(next, "?") {
		return next + "&" + manualParam + "=manual"
	}
	return next + "?" + manualParam + "=manual"
}

// pickLang honours Préau's "lang" cookie, then Accept-Language (with
// q-values); French by default.
func pickLang(req *http.Request) string {
	if c, err := req.Cookie("lang"); err == nil {
		if _, ok := messages[c.Value]; ok {
			return c.Value
		}
	}
	best, bestQ := "fr", -1.0
	for part := range strings.SplitSeq(req.Header.Get("Accept-Language"), ",") {
		tag, q := mediaQ(part)
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := messages[base]; ok && q > 0 && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

// wantsJSON reports whether the Accept header prefers application/json to
// HTML; an explicit type beats a wildcard of equal weight.
func wantsJSON(accept string) bool {
	jsonQ, htmlQ, wildQ := -1.0, -1.0, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		typ, q := mediaQ(part)
		switch strings.ToLower(typ) {
		case "application/json":
			jsonQ = max(jsonQ, q)
		case "text/html", "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case "*/*", "text/*":
			wildQ = max(wildQ, q)
		}
	}
	if jsonQ <= 0 {
		return false
	}
	if htmlQ >= 0 {
		return jsonQ > htmlQ
	}
	return jsonQ >= wildQ
}

// mediaQ splits "type;q=0.5;x=y" into the type and its weight (1 if absent,
// 0 if unparsable).
func mediaQ(part string) (string, float64) {
	typ, params, _ := strings.Cut(strings.TrimSpace(part), ";")
	q := 1.0
	for p := range strings.SplitSeq(params, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) {
				f = 0
			}
			q = min(max(f, 0), 1)
		}
	}
	return strings.TrimSpace(typ), q
}

// roundDuration says a wait in words: "moins d'une minute", "environ 4
// minutes", "environ 1 h 20".
func roundDuration(lang string, d time.Duration) string {
	m := messages[lang]
	mins := int(math.Ceil(d.Minutes()))
	switch {
	case d < time.Minute:
		return m["lt_minute"]
	case mins == 1:
		return m["one_minute"]
	case mins < 60:
		return fmt.Sprintf(m["minutes"], mins)
	default:
		return fmt.Sprintf(m["hours"], mins/60, mins%60)
	}
}

// graceText says the grace period exactly: "2 minutes", "90 secondes".
func graceText(lang string, d time.Duration) string {
	m := messages[lang]
	switch {
	case d == time.Minute:
		return m["n_minute"]
	case d%time.Minute == 0:
		return fmt.Sprintf(m["n_minutes"], int(d/time.Minute))
	default:
		return fmt.Sprintf(m["n_seconds"], int(d/time.Second))
	}
}

// page is what the queue page shows.
type page struct {
	Lang, Title, Stylesheet string
	M                       map[string]string
	Position, Refresh       int
	ETA, Grace              string
	Self, Toggle            string
	Manual                  bool
}

// messages is the page's own small catalogue: the shield may run in front
// of another portal, without Préau's i18n package.
var messages = map[string]map[string]string{
	"fr": {
		"skip":       "Aller au contenu",
		"title":      "Salle d'attente",
		"title_pos":  "Salle d'attente : %d devant vous",
		"intro":      "Beaucoup de personnes se connectent en ce moment. Vous êtes dans la file d'attente : chacun entre à son tour, dans l'ordre d'arrivée.",
		"ahead":      "Personnes devant vous :",
		"first":      "Vous êtes en tête de la file : vous entrez dès qu'une place se libère.",
		"eta":        "Attente estimée :",
		"eta_wait":   "en cours de calcul",
		"auto":       "Cette page s'actualise toute seule dans %d secondes environ. Vous n'avez rien à faire.",
		"manual":     "Actualisation automatique arrêtée : utilisez le lien ci-dessous pour voir votre position.",
		"kept":       "Votre place est gardée pendant %s même si vous fermez cette page. Inutile d'ouvrir d'autres onglets : cela ne vous ferait pas avancer.",
		"refresh":    "Actualiser maintenant",
		"stop":       "Arrêter l'actualisation automatique",
		"resume":     "Reprendre l'actualisation automatique",
		"lt_minute":  "moins d'une minute",
		"one_minute": "environ 1 minute",
		"minutes":    "environ %d minutes",
		"hours":      "environ %d h %02d",
		"n_minute":   "1 minute",
		"n_minutes":  "%d minutes",
		"n_seconds":  "%d secondes",
	},
	"en": {
		"skip":       "Skip to content",
		"title":      "Waiting room",
		"title_pos":  "Waiting room: %d ahead of you",
		"intro":      "Many people are signing in right now. You are in the queue: everyone gets in in turn, in order of arrival.",
		"ahead":      "People ahead of you:",
		"first":      "You are at the front of the queue: you get in as soon as a place frees up.",
		"eta":        "Estimated wait:",
		"eta_wait":   "being calculated",
		"auto":       "This page refreshes by itself in about %d seconds. You have nothing to do.",
		"manual":     "Automatic refresh stopped: use the link below to see your position.",
		"kept":       "Your place is kept for %s even if you close this page. There is no need to open more tabs: it would not move you forward.",
		"refresh":    "Refresh now",
		"stop":       "Stop automatic refresh",
		"resume":     "Resume automatic refresh",
		"lt_minute":  "less than a minute",
		"one_minute": "about 1 minute",
		"minutes":    "about %d minutes",
		"hours":      "about %d h %02d min",
		"n_minute":   "1 minute",
		"n_minutes":  "%d minutes",
		"n_seconds":  "%d seconds",
	},
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} · Préau</title>
{{with .Stylesheet}}<link rel="stylesheet" href="{{.}}">
{{end}}<link rel="icon" href="data:,">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">
{{end}}</head>
<body>
<a class="skip" href="#main">{{index .M "skip"}}</a>
<header class="top" role="banner"><span class="brand">Préau</span></header>
<main id="main" tabindex="-1">
<h1>{{index .M "title"}}</h1>
<div class="card narrow">
<p>{{index .M "intro"}}</p>
<div role="status" aria-live="polite" aria-atomic="true">
<dl class="meta">
<dt>{{index .M "ahead"}}</dt><dd class="mark">{{.Position}}</dd>
<dt>{{index .M "eta"}}</dt><dd>{{if .ETA}}{{.ETA}}{{else}}{{index .M "eta_wait"}}{{end}}</dd>
</dl>
{{if eq .Position 0}}<p>{{index .M "first"}}</p>{{end}}
</div>
<p class="hint">{{if .Refresh}}{{printf (index .M "auto") .Refresh}}{{else}}{{index .M "manual"}}{{end}}</p>
<p class="actions"><a class="button primary" href="{{.Self}}">{{index .M "refresh"}}</a>
<a href="{{.Toggle}}">{{if .Manual}}{{index .M "resume"}}{{else}}{{index .M "stop"}}{{end}}</a></p>
<p class="hint">{{printf (index .M "kept") .Grace}}</p>
</div>
</main>
</body>
</html>
`))
