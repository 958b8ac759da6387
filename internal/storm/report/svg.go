package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"preau/internal/storm/load"
)

// Chart geometry, in SVG user units (the chart is 720×400).
const (
	svgW, svgH = 720, 400
	plotL      = 78  // left edge of the plot area
	plotR      = 632 // right edge
	plotT      = 56  // top edge
	plotB      = 296 // bottom edge
)

// Okabe–Ito colours, distinguishable with the common colour-vision
// deficiencies; goodput is black.
var classColours = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"}

const goodputColour = "#222222"

func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				continue // not allowed in XML 1.0
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// WriteSVG writes a self-contained SVG chart (720×400, no scripts, no
// external resources) with a <title> and a <desc> summarising it in words.
// With two or more sweep points it plots goodput (left axis, linear) and
// the p99 latency of each class (right axis, logarithmic, with the SLO as
// a dotted line) against the attack multiple; otherwise it draws the
// success rate of each class as bars.
func (r Report) WriteSVG(w io.Writer) error {
	var b strings.Builder
	if len(r.Points) >= 2 {
		r.lineChart(&b)
	} else {
		r.barChart(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Report) slo() time.Duration {
	if r.SLO > 0 {
		return r.SLO
	}
	return load.DefaultSLO.MaxLatency
}

func svgHeader(b *strings.Builder, title, desc string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="t d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		svgW, svgH, svgW, svgH)
	fmt.Fprintf(b, "<title id=\"t\">%s</title>\n<desc id=\"d\">%s</desc>\n", esc(title), esc(desc))
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgW, svgH)
	fmt.Fprintf(b, `<text x="%d" y="26" font-size="16" font-weight="bold" fill="#111">%s</text>`+"\n", plotL, esc(title))
}

func (r Report) chartTitle(what string) string {
	s := "preau storm"
	if r.Scenario != "" {
		s += ": " + r.Scenario
	}
	return s + " — " + what
}

// niceMax returns a round axis top above v, with some headroom, and a tick
// step of 1, 2 or 5 × 10^k giving at most 5 intervals.
func niceMax(v float64) (top, step float64) {
	if !(v > 0) || math.IsInf(v, 0) || math.IsNaN(v) {
		return 1, 0.25
	}
	v *= 1.08 // keep the line and its value labels off the top edge
	mag := math.Pow(10, math.Floor(math.Log10(v/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if math.Ceil(v/step) <= 5 {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

func fmtNum(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v >= 1000:
		s := fmt.Sprintf("%.1f", v/1000)
		return strings.TrimSuffix(s, ".0") + "k"
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	}
}

// fmtTick formats a power-of-ten-ish duration for a log axis.
func fmtTick(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%g s", d.Seconds())
	}
}

func (r Report) lineChart(b *strings.Builder) {
	pts := sortedPoints(r.Points)
	classes := pointClasses(r)
	slo := r.slo()
	n := len(pts)

	// x: categorical, evenly spaced with half a step of margin each side.
	step := float64(plotR-plotL) / float64(n)
	xAt := func(i int) float64 { return plotL + step*(float64(i)+0.5) }

	// left axis: goodput, linear from 0.
	maxG := 0.0
	for _, p := range pts {
		maxG = math.Max(maxG, p.Goodput)
	}
	gTop, gStep := niceMax(maxG)
	yG := func(v float64) float64 { return plotB - (v/gTop)*float64(plotB-plotT) }

	// right axis: p99, log10 of milliseconds, whole decades including the SLO.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		for _, c := range classes {
			if d, ok := p.P99[c]; ok && d > 0 {
				v := math.Log10(float64(d) / 1e6)
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	sv := math.Log10(float64(slo) / 1e6)
	lo, hi = math.Min(lo, sv), math.Max(hi, sv)
	dLo, dHi := math.Floor(lo), math.Ceil(hi)
	if dHi-dLo < 2 {
		dLo = dHi - 2
	}
	if dLo < -3 { // 1 µs is as fine as it gets
		dLo = -3
	}
	yL := func(d time.Duration) float64 {
		v := math.Log10(float64(d) / 1e6)
		v = math.Max(dLo, math.Min(dHi, v))
		return plotB - (v-dLo)/(dHi-dLo)*float64(plotB-plotT)
	}

	// The desc: the chart in words.
	var desc strings.Builder
	fmt.Fprintf(&desc, "Line chart of legitimate goodput (requests per second within the %s SLO, left axis) and p99 latency per class (right axis, logarithmic) against the attack rate as a multiple of measured capacity (%s).",
		fmtDur(slo), joinMultiples(pts))
	first, last := pts[0], pts[n-1]
	fmt.Fprintf(&desc, " Goodput: %.1f req/s at %s, %.1f req/s at %s", first.Goodput, fmtMultiple(first.Multiple), last.Goodput, fmtMultiple(last.Multiple))
	if first.Goodput > 0 {
		fmt.Fprintf(&desc, " (%s of the first point)", pct(last.Goodput/first.Goodput))
	}
	desc.WriteString(".")
	for _, c := range classes {
		var parts []string
		for _, p := range pts {
			if d, ok := p.P99[c]; ok {
				parts = append(parts, fmtMultiple(p.Multiple)+" "+fmtDur(d))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&desc, " %s p99: %s.", c, strings.Join(parts, ", "))
		}
	}

	svgHeader(b, r.chartTitle("goodput and p99 latency against attack rate"), desc.String())

	// grid and left axis ticks
	b.WriteString(`<g font-size="11" fill="#333">` + "\n")
	for v := 0.0; v <= gTop*1.0001; v += gStep {
		y := yG(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e3e3"/>`+"\n", plotL, y, plotR, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", plotL-6, y, fmtNum(v))
	}
	// right axis ticks: decades, and 2/5 in between when there are few decades.
	for dec := dLo; dec <= dHi; dec++ {
		for _, m := range []float64{1, 2, 5} {
			if m != 1 && (dHi-dLo > 3 || dec == dHi) {
				continue
			}
			d := time.Duration(m * math.Pow(10, dec) * 1e6)
			y := yL(d)
			fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555"/>`+"\n", plotR, y, plotR+5, y)
			fmt.Fprintf(b, `<text x="%d" y="%.1f" dominant-baseline="middle">%s</text>`+"\n", plotR+8, y, fmtTick(d))
		}
	}
	// x ticks
	for i, p := range pts {
		x := xAt(i)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555"/>`+"\n", x, plotB, x, plotB+5)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, plotB+18, esc(fmtMultiple(p.Multiple)))
	}
	b.WriteString("</g>\n")

	// axes frame
	fmt.Fprintf(b, `<path d="M%d %d V%d H%d V%d" fill="none" stroke="#555"/>`+"\n", plotL, plotT, plotB, plotR, plotT)

	// axis labels
	midY := (plotT + plotB) / 2
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)" fill="#111">goodput (legitimate req/s within SLO)</text>`+"\n", 20, midY, 20, midY)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(90 %d %d)" fill="#111">p99 latency (log scale)</text>`+"\n", svgW-14, midY, svgW-14, midY)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#111">attack rate (multiple of measured capacity%s)</text>`+"\n",
		(plotL+plotR)/2, plotB+38, capacitySuffix(r.Capacity))

	// SLO line on the latency axis
	ys := yL(slo)
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#B00020" stroke-width="1.2" stroke-dasharray="2 3"/>`+"\n", plotL, ys, plotR, ys)

	// p99 lines, one polyline per class (points without a value are skipped)
	for ci, c := range classes {
		col := classColours[ci%len(classColours)]
		var coords []string
		var marks strings.Builder
		for i, p := range pts {
			d, ok := p.P99[c]
			if !ok || d <= 0 {
				continue
			}
			x, y := xAt(i), yL(d)
			coords = append(coords, fmt.Sprintf("%.1f,%.1f", x, y))
			marker(&marks, ci, x, y, col)
		}
		fmt.Fprintf(b, `<polyline class="p99" data-class="%s" points="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="6 4"><title>%s p99</title></polyline>`+"\n",
			esc(c), strings.Join(coords, " "), col, esc(c))
		b.WriteString(marks.String())
	}

	// goodput line, on top
	var coords []string
	for i, p := range pts {
		coords = append(coords, fmt.Sprintf("%.1f,%.1f", xAt(i), yG(p.Goodput)))
	}
	fmt.Fprintf(b, `<polyline class="goodput" points="%s" fill="none" stroke="%s" stroke-width="3"><title>goodput</title></polyline>`+"\n",
		strings.Join(coords, " "), goodputColour)
	for i, p := range pts {
		x, y := xAt(i), yG(p.Goodput)
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x, y, goodputColour)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text>`+"\n",
			x, y-9, goodputColour, fmtNum(math.Round(p.Goodput*10)/10))
	}

	// legend, below the x axis label
	lx, ly := float64(plotL), float64(plotB+66)
	legendItem := func(label string, draw func(x, y float64)) {
		w := 30 + 6.8*float64(len([]rune(label))) // 12px sans: about 6.8 units a character at most
		if lx > plotL && lx+w > svgW-16 {
			lx, ly = plotL, ly+18
		}
		draw(lx, ly)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" dominant-baseline="middle" fill="#111">%s</text>`+"\n", lx+30, ly, esc(label))
		lx += w + 16
	}
	legendItem("goodput", func(x, y float64) {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", x, y, x+24, y, goodputColour)
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x+12, y, goodputColour)
	})
	legendItem("SLO "+fmtDur(slo), func(x, y float64) {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#B00020" stroke-width="1.2" stroke-dasharray="2 3"/>`+"\n", x, y, x+24, y)
	})
	for ci, c := range classes {
		col := classColours[ci%len(classColours)]
		legendItem(c+" p99", func(x, y float64) {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`+"\n", x, y, x+24, y, col)
			marker(b, ci, x+12, y, col)
		})
	}
	b.WriteString("</svg>\n")
}

// marker draws the i-th marker shape (square, triangle, diamond, …) at x, y.
func marker(b *strings.Builder, i int, x, y float64, col string) {
	switch i % 4 {
	case 0:
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="8" height="8" fill="%s"/>`+"\n", x-4, y-4, col)
	case 1:
		fmt.Fprintf(b, `<path d="M%.1f %.1f l5 9 h-10 z" fill="%s"/>`+"\n", x, y-5, col)
	case 2:
		fmt.Fprintf(b, `<path d="M%.1f %.1f l5 5 l-5 5 l-5 -5 z" fill="%s"/>`+"\n", x, y-5, col)
	default:
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#fff" stroke="%s" stroke-width="2"/>`+"\n", x, y, col)
	}
}

func capacitySuffix(c float64) string {
	if c > 0 {
		return fmt.Sprintf(", 1× = %s req/s", fmtNum(math.Round(c)))
	}
	return ""
}

func joinMultiples(pts []Point) string {
	s := make([]string, len(pts))
	for i, p := range pts {
		s[i] = fmtMultiple(p.Multiple)
	}
	return strings.Join(s, ", ")
}

func (r Report) barChart(b *strings.Builder) {
	var desc strings.Builder
	fmt.Fprintf(&desc, "Bar chart of the success rate of each class (answered within %s and not a 5xx), from 0 to 100%%.", fmtDur(r.slo()))
	for _, c := range r.Classes {
		fmt.Fprintf(&desc, " %s: %s of %d requests, p99 %s.", c.Class, pct(c.SuccessRate), c.Requests, fmtDur(c.P99))
	}
	if len(r.Classes) == 0 {
		desc.WriteString(" No requests were recorded.")
	}
	svgHeader(b, r.chartTitle("success rate per class"), desc.String())

	yP := func(f float64) float64 { return plotB - f*float64(plotB-plotT) }
	b.WriteString(`<g font-size="11" fill="#333">` + "\n")
	for v := 0.0; v <= 1.0001; v += 0.25 {
		y := yP(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e3e3"/>`+"\n", plotL, y, plotR, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%.0f %%</text>`+"\n", plotL-6, y, v*100)
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(b, `<path d="M%d %d V%d H%d" fill="none" stroke="#555"/>`+"\n", plotL, plotT, plotB, plotR)
	midY := (plotT + plotB) / 2
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)" fill="#111">success rate (within SLO, not 5xx)</text>`+"\n", 20, midY, 20, midY)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#111">class</text>`+"\n", (plotL+plotR)/2, plotB+54)

	if len(r.Classes) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">no requests recorded</text>`+"\n", (plotL+plotR)/2, midY)
	}
	n := len(r.Classes)
	for i, c := range r.Classes {
		slot := float64(plotR-plotL) / float64(n)
		bw := math.Min(slot*0.6, 120)
		x := plotL + slot*(float64(i)+0.5)
		f := math.Max(0, math.Min(1, c.SuccessRate))
		y := yP(f)
		col := classColours[i%len(classColours)]
		fmt.Fprintf(b, `<rect class="bar" data-class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
			esc(c.Class), x-bw/2, y, bw, float64(plotB)-y, col, esc(c.Class), pct(c.SuccessRate))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold" fill="#111">%s</text>`+"\n", x, y-6, pct(c.SuccessRate))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#111">%s</text>`+"\n", x, plotB+18, esc(c.Class))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#555">%d req · p99 %s</text>`+"\n", x, plotB+31, c.Requests, esc(fmtDur(c.P99)))
	}
	b.WriteString("</svg>\n")
}
