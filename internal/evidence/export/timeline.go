package export

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// maxBuckets bounds the timeline: past it, buckets double in width, so a
// week-long episode costs as much memory as a half-hour one.
const maxBuckets = 1800

// timeline accumulates the decision summaries' counts into buckets of equal
// width, one second at first, and keeps their exact totals.
type timeline struct {
	t0     time.Time
	width  time.Duration
	b      []tlBucket
	totals timelineTotals
}

// tlBucket holds request counts of the three series the report draws.
type tlBucket struct{ legit, attack, blocked float64 }

// timelineTotals are the requests of each series over the whole chart, in
// metadata.json so that the chart can be checked against the records.
type timelineTotals struct {
	Legitimate int64 `json:"legitimate"`
	Attack     int64 `json:"attack"`
	Blocked    int64 `json:"blocked"`
}

func newTimeline(t0 time.Time) *timeline {
	return &timeline{t0: t0.UTC().Truncate(time.Second), width: time.Second}
}

// Series of a decision summary: legitimate traffic (identified members,
// staff, allowlisted), attack traffic let through (admitted beyond the
// legitimate), and refused traffic in any form.
var (
	legitClasses   = []string{"member", "staff", "allowlisted"}
	refusedOutcome = []string{"blocked", "limited", "challenged", "queued", "shed"}
)

func sumKeys(m map[string]int64, keys []string) int64 {
	var n int64
	for _, k := range keys {
		n += m[k]
	}
	return n
}

// series splits a summary's requests into the three series.
func series(s summary) timelineTotals {
	legit := sumKeys(s.Classes, legitClasses)
	return timelineTotals{
		Legitimate: legit,
		Attack:     max(s.Outcomes["admitted"]-legit, 0),
		Blocked:    sumKeys(s.Outcomes, refusedOutcome),
	}
}

func (t *timelineTotals) add(o timelineTotals) {
	t.Legitimate += o.Legitimate
	t.Attack += o.Attack
	t.Blocked += o.Blocked
}

// add spreads a summary's counts evenly over the time it covers, [since,
// until): during an episode the detector summarises every second, but the
// first summary of an episode covers the calm minute before it, which
// would otherwise show as a one-second spike. at is the record's time, for
// a summary without since.
func (t *timeline) add(s summary, at time.Time) {
	v := series(s)
	t.totals.add(v)
	since, until := s.Since.UTC(), s.Until.UTC()
	if since.IsZero() {
		since = at.UTC().Add(-time.Second)
	}
	since = later(since, t.t0) // what came before the episode is drawn at its start
	if !until.After(since) {
		until = since.Add(time.Nanosecond)
	}
	for int((until.Sub(t.t0)-1)/t.width) >= maxBuckets {
		t.coarsen()
	}
	first, last := int(since.Sub(t.t0)/t.width), int((until.Sub(t.t0)-1)/t.width)
	for len(t.b) <= last {
		t.b = append(t.b, tlBucket{})
	}
	span := float64(until.Sub(since))
	for i := first; i <= last; i++ {
		lo := later(since, t.t0.Add(time.Duration(i)*t.width))
		hi := earlier(until, t.t0.Add(time.Duration(i+1)*t.width))
		f := float64(hi.Sub(lo)) / span
		t.b[i].legit += f * float64(v.Legitimate)
		t.b[i].attack += f * float64(v.Attack)
		t.b[i].blocked += f * float64(v.Blocked)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (t *timeline) coarsen() {
	t.width *= 2
	nb := make([]tlBucket, (len(t.b)+1)/2, maxBuckets)
	for i, x := range t.b {
		nb[i/2].legit += x.legit
		nb[i/2].attack += x.attack
		nb[i/2].blocked += x.blocked
	}
	t.b = nb
}

// niceStep returns a round tick step giving about n ticks up to max.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// svg draws the timeline as an accessible SVG line chart: requests/s per
// bucket for the three series, with axes, ticks in UTC and a legend. The
// series differ by dash pattern as well as by colour.
func (t *timeline) svg() string {
	const (
		W, H                   = 960.0, 360.0
		left, right, top, bott = 70.0, 20.0, 20.0, 80.0
	)
	pw, ph := W-left-right, H-top-bott
	secs := t.width.Seconds()
	var peak [3]float64
	var peakAt [3]int
	for i, x := range t.b {
		for k, v := range []float64{x.legit, x.attack, x.blocked} {
			if v/secs > peak[k] {
				peak[k], peakAt[k] = v/secs, i
			}
		}
	}
	ymax := max(peak[0], peak[1], peak[2], 1)
	step := niceStep(ymax, 5)
	ymax = math.Ceil(ymax/step) * step
	n := max(len(t.b), 1)
	xOf := func(i int) float64 { return left + pw*float64(i)/float64(max(n-1, 1)) }
	yOf := func(v float64) float64 { return top + ph - ph*v/ymax }
	at := func(i int) string { return t.t0.Add(time.Duration(i) * t.width).Format("15:04:05") }

	var sb strings.Builder
	desc := fmt.Sprintf("Requêtes par seconde, par tranche de %s, de %s à %s UTC. Pics : légitimes %.0f/s à %s, attaque admise %.0f/s à %s, bloquées ou refusées %.0f/s à %s. "+
		"Requests per second per %s bucket. Peaks: legitimate %.0f/s, attack admitted %.0f/s, blocked or refused %.0f/s.",
		t.width, t.t0.Format(time.RFC3339), t.t0.Add(time.Duration(n)*t.width).Format(time.RFC3339),
		peak[0], at(peakAt[0]), peak[1], at(peakAt[1]), peak[2], at(peakAt[2]),
		t.width, peak[0], peak[1], peak[2])
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-labelledby="chart-title chart-desc">`+"\n", W, H)
	sb.WriteString(`<title id="chart-title">Chronologie des requêtes / Request timeline</title>` + "\n")
	fmt.Fprintf(&sb, `<desc id="chart-desc">%s</desc>`+"\n", html.EscapeString(desc))
	// Axes and grid.
	fmt.Fprintf(&sb, `<g class="axis" font-size="12" fill="#222">`)
	for v := 0.0; v <= ymax+step/2; v += step {
		y := yOf(v)
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, left, y, left+pw, y)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, fmtRate(v))
	}
	ticks := min(n, 6)
	for k := 0; k < ticks; k++ {
		i := 0
		if ticks > 1 {
			i = k * (n - 1) / (ticks - 1)
		}
		x := xOf(i)
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`, x, top+ph, x, top+ph+5)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, top+ph+18, at(i))
	}
	fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`, left, top, left, top+ph)
	fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`, left, top+ph, left+pw, top+ph)
	fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">Heure UTC / UTC time</text>`, left+pw/2, top+ph+36)
	fmt.Fprintf(&sb, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">requêtes/s · requests/s</text>`, top+ph/2)
	sb.WriteString("</g>\n")

	series := []struct {
		name, colour, dash string
		v                  func(tlBucket) float64
	}{
		{"Légitimes / Legitimate", "#1b7837", "", func(x tlBucket) float64 { return x.legit }},
		{"Attaque admise / Attack admitted", "#d6604d", "8 4", func(x tlBucket) float64 { return x.attack }},
		{"Bloquées ou refusées / Blocked or refused", "#2166ac", "2 3", func(x tlBucket) float64 { return x.blocked }},
	}
	for k, s := range series {
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="`, s.colour, s.dash)
		for i, x := range t.b {
			fmt.Fprintf(&sb, "%.1f,%.1f ", xOf(i), yOf(s.v(x)/secs))
		}
		if len(t.b) == 0 {
			fmt.Fprintf(&sb, "%.1f,%.1f %.1f,%.1f", left, top+ph, left+pw, top+ph)
		}
		sb.WriteString(`"/>` + "\n")
		lx := left + float64(k)*pw/3
		ly := H - 16
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3" stroke-dasharray="%s"/>`, lx, ly-4, lx+30, ly-4, s.colour, s.dash)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" font-size="12">%s</text>`+"\n", lx+36, ly, html.EscapeString(s.name))
	}
	sb.WriteString("</svg>")
	return sb.String()
}

func fmtRate(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%gk", math.Round(v/100)/10)
	case v != math.Trunc(v):
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
