package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/shield/admission"
	"preau/internal/shield/detect"
)

type shieldData struct {
	Snapshot  detect.Snapshot
	Admission admission.Stats
	Waiting   int
	Chart     template.HTML
	Gates     map[domain.Role][]string
	Roles     []domain.Role
	Closed    map[domain.Role]bool
}

// showShield is the operator's view at 7:45 on closure day: the mode, the
// queues, admitted and shed rates, top talkers, and a chart of the last ten
// minutes that redraws itself every five seconds (no JavaScript).
func (h *handler) showShield(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if h.cfg.Shield == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.shield_off")
		return
	}
	now := time.Now()
	d := shieldData{Snapshot: h.cfg.Shield.Detector().Snapshot(), Admission: h.cfg.Shield.Admission().Stats(),
		Waiting: h.cfg.Shield.Room().Stats(now).Waiting, Roles: domain.Roles, Closed: map[domain.Role]bool{}}
	if h.cfg.Gates != nil {
		d.Gates = h.cfg.Gates.Rules()
		for _, role := range domain.Roles {
			d.Closed[role], _ = h.cfg.Gates.Closed(role, now)
		}
	}
	d.Chart = trafficChart(h.lang(r, p), d.Snapshot.History)
	pg := h.newPage(r, p, "shield.title", "admin")
	pg.Refresh = 5
	pg.Data = d
	h.render(w, r, http.StatusOK, "shield", pg)
}

// setShield flips the manual switches: attack mode, and a profile's access.
func (h *handler) setShield(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if h.cfg.Shield == nil {
		h.errorPage(w, r, p, http.StatusNotFound, "err.shield_off")
		return
	}
	switch r.PostFormValue("attack") {
	case "on":
		h.cfg.Shield.SetManual(true)
		h.log.Warn("attack mode switched on by hand", "by", p.User.Login)
		h.audit(p, "shield.attack_mode", map[string]any{"on": true})
	case "off":
		h.cfg.Shield.SetManual(false)
		h.log.Warn("attack mode switched off by hand", "by", p.User.Login)
		h.audit(p, "shield.attack_mode", map[string]any{"on": false})
	}
	if role := domain.Role(r.PostFormValue("role")); role.Valid() && h.cfg.Gates != nil {
		closed := r.PostFormValue("close") == "1"
		h.cfg.Gates.SetManual(role, closed)
		h.log.Warn("profile access switched by hand", "role", role, "closed", closed, "by", p.User.Login)
		h.audit(p, "shield.profile_gate", map[string]any{"role": string(role), "closed": closed})
	}
	http.Redirect(w, r, "/admin/shield?ok=shield", http.StatusSeeOther)
}

// trafficChart draws requests per second (total, admitted, shed or refused)
// over the detector's history as an SVG line chart, with a text summary
// for screen readers.
func trafficChart(lang string, pts []detect.Point) template.HTML {
	if len(pts) < 2 {
		return template.HTML(`<p class="empty">` + template.HTMLEscapeString(tr(lang, "shield.no_data")) + `</p>`)
	}
	last := pts[len(pts)-1]
	summary := tr(lang, "shield.chart_summary", len(pts), int(peakTotal(pts)), int(last.Total), int(last.Admitted), int(last.Shed+last.Blocked))
	return drawTraffic(lang, pts, summary, "−"+fmtAge(lang, pts[0].Time, last.Time))
}

// episodeChart draws an episode's traffic from its recorded timeline.
func episodeChart(lang string, pts []detect.Point) template.HTML {
	if len(pts) < 2 {
		return ""
	}
	var total, refused, peakAdmitted float64
	for _, p := range pts {
		total += p.Total
		refused += p.Shed + p.Blocked
		peakAdmitted = maxf(peakAdmitted, p.Admitted)
	}
	share := 0
	if total > 0 {
		share = int(100*refused/total + 0.5)
	}
	span := pts[len(pts)-1].Time.Sub(pts[0].Time) + pts[1].Time.Sub(pts[0].Time)
	summary := tr(lang, "episodes.chart_summary", fmtAge(lang, pts[0].Time, pts[0].Time.Add(span)), int(peakTotal(pts)), int(peakAdmitted), share)
	return drawTraffic(lang, pts, summary, fmtAge(lang, pts[0].Time, pts[0].Time.Add(span)))
}

func peakTotal(pts []detect.Point) float64 {
	peak := 1.0
	for _, p := range pts {
		peak = maxf(peak, p.Total)
	}
	return peak
}

// drawTraffic is the SVG of both charts: three series against a shared
// scale, the summary as the image's accessible name, a legend in text.
func drawTraffic(lang string, pts []detect.Point, summary, span string) template.HTML {
	const w, hgt, left, bottom = 600.0, 180.0, 40.0, 20.0
	max := peakTotal(pts)
	x := func(i int) float64 { return left + (w-left)*float64(i)/float64(len(pts)-1) }
	y := func(v float64) float64 { return (hgt - bottom) * (1 - v/max) }
	line := func(get func(detect.Point) float64) string {
		var b strings.Builder
		for i, p := range pts {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(get(p)))
		}
		return b.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, hgt, template.HTMLEscapeString(summary))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="0" x2="%.0f" y2="%.0f" stroke="#6b7480"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#6b7480"/>`,
		left, left, hgt-bottom, left, hgt-bottom, w, hgt-bottom)
	fmt.Fprintf(&b, `<text x="2" y="12" font-size="11" fill="#1b1f24">%d/s</text><text x="2" y="%.0f" font-size="11" fill="#1b1f24">0</text>`, int(max), hgt-bottom)
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#4a525c" stroke-width="2" points="%s"/>`, line(func(p detect.Point) float64 { return p.Total }))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1d6b34" stroke-width="2" points="%s"/>`, line(func(p detect.Point) float64 { return p.Admitted }))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#9b1c1c" stroke-width="2" stroke-dasharray="6 3" points="%s"/>`, line(func(p detect.Point) float64 { return p.Shed + p.Blocked }))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="11" fill="#1b1f24">%s</text>`, left, hgt-4, template.HTMLEscapeString(span))
	b.WriteString(`</svg><figcaption><span class="key total">`)
	b.WriteString(template.HTMLEscapeString(tr(lang, "shield.total")))
	b.WriteString(`</span> <span class="key admitted">`)
	b.WriteString(template.HTMLEscapeString(tr(lang, "shield.admitted")))
	b.WriteString(`</span> <span class="key refused">`)
	b.WriteString(template.HTMLEscapeString(tr(lang, "shield.refused")))
	b.WriteString(`</span></figcaption></figure>`)
	return template.HTML(b.String())
}

func maxf(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func fmtAge(lang string, from, to time.Time) string {
	return tr(lang, "shield.minutes", int(to.Sub(from).Minutes()+0.5))
}
