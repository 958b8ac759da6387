// Package report is the output of `preau storm`: what a storm run measured,
// written as JSON (for machines and bench/), as a markdown summary (for
// people and bench/RESULTS.md) and as an SVG chart.
//
// # Fields
//
// A [Report] describes one run of one scenario against one target:
//
//   - Scenario, Target, Started, Duration: what was run, against which
//     address, when, and for how long.
//   - SLO: the per-request service level. A request succeeds when it was
//     answered within SLO (default 2 s) with a status below 500; transport
//     errors, timeouts and requests the generator had to drop are failures.
//   - Capacity: the backend's measured throughput in requests per second,
//     the unit of the attack multiple. Zero means it was not measured.
//   - Classes: one [ClassSummary] per class of traffic — "logged-in"
//     (students resuming a session), "newcomer" (students logging in or
//     queued in the waiting room), "attack" (the flood). Requests counts
//     every request of the class, SuccessRate the fraction within the SLO,
//     P50/P95/P99/Max the latency as the client saw it (for open-loop
//     traffic measured from the intended send time, so without coordinated
//     omission), ByStatus the final HTTP statuses, with key 0 for requests
//     that ended in a transport error, timeout or drop instead of a status.
//   - AttackSent, AttackReachedBackend: flood requests sent and those that
//     got past the shield to the application; [AttackReach] is their ratio
//     (target: under 5 %).
//   - BackendUtilisation: the fraction (0..1) of the backend's capacity
//     in use during the run, when known.
//   - TargetCPU, TargetRSS: the target process's average CPU use in cores
//     and its largest resident set size in bytes.
//   - WaitingRoomETAError: the mean absolute difference between the ETA the
//     waiting room announced to a queued newcomer and the time the newcomer
//     actually got in, when measured.
//   - Points: the mixed sweep, one [Point] per attack multiple (0 = no
//     attack, then 1, 2, 5, 10, 20× Capacity): legitimate goodput and, per
//     class, p99 latency and success rate.
//   - Checks: the targets of the storm issue, each with what was wanted,
//     what was measured and whether it holds.
//   - Notes: anything a reader should know to interpret the numbers.
//
// The optional quantities — Started, Capacity, BackendUtilisation,
// TargetCPU, TargetRSS, WaitingRoomETAError — are left at zero when not
// measured: JSON omits them and markdown shows "—". A zero SLO means
// load.DefaultSLO (2 s) in all three outputs.
//
// # JSON
//
// [Report.WriteJSON] writes indented JSON with snake_case keys. Durations
// are fractional milliseconds in keys ending in "_ms" (e.g. "p99_ms",
// "slo_ms"), rates are fractions from 0 to 1 ("success_rate",
// "attack_reach"), throughputs end in "_rps" and sizes in "_bytes".
//
// # Reading the chart
//
// [Report.WriteSVG] draws, against the attack multiple on the x axis (one
// evenly spaced category per sweep point: "none", 1×, 2×, 5×, 10×, 20×):
//
//   - goodput — legitimate requests answered within the SLO per second —
//     as a thick solid line with round markers, on the left axis (linear,
//     from 0). A shield that holds keeps this line flat.
//   - p99 latency of each class as a thinner dashed line with its own
//     colour and marker shape, on the right axis (logarithmic, because
//     latencies under attack span milliseconds to seconds). The SLO is a
//     dotted horizontal line on that axis: a class whose p99 line stays
//     below it has at least 99 % of its requests answered in time.
//
// With fewer than two sweep points there is nothing to draw a line
// through; the chart is then a bar chart of the success rate of each
// class, from 0 to 100 %.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"preau/internal/storm/load"
)

// ClassSummary is what one class of traffic measured.
type ClassSummary struct {
	Class              string
	Requests           int     // requests of the class, including failed and dropped ones
	SuccessRate        float64 // fraction of Requests answered within the SLO and not a 5xx
	P50, P95, P99, Max time.Duration
	ByStatus           map[int]int // final statuses; key 0 counts transport errors, timeouts and drops
	Queued             int         // waiting-room pages among the 503s (a place in the queue, not an error)
}

// Point is one step of the mixed sweep.
type Point struct {
	Multiple    float64                  // attack rate as a multiple of measured capacity; 0 = no attack
	Goodput     float64                  // logged-in students' successes per second
	P99         map[string]time.Duration // per class
	SuccessRate map[string]float64       // per class, 0..1
	AttackRate  float64                  // attack requests actually sent per second
	AttackReach float64                  // fraction of them that reached the application; -1 if unknown
	Queued      int                      // sign-ins that went through the waiting room
	SignedIn    int                      // students signed in when the step began (Goodput is theirs)
}

// GoodputPerStudent is p's goodput per student signed in at its start
// (the raw goodput when that count is unknown).
func (p Point) GoodputPerStudent() float64 {
	if p.SignedIn <= 0 {
		return p.Goodput
	}
	return p.Goodput / float64(p.SignedIn)
}

// Check is one target of the storm issue and whether the run met it.
type Check struct {
	Name string // e.g. "logged-in p99 under 10× flood"
	Want string // e.g. "< 1 s"
	Got  string // e.g. "412 ms"
	OK   bool
}

// Report is the outcome of one `preau storm` run. See the package
// documentation for the meaning of each field.
type Report struct {
	Scenario string
	Target   string
	Started  time.Time
	Duration time.Duration
	SLO      time.Duration

	Capacity float64 // measured requests/s, if measured

	Classes []ClassSummary

	AttackSent, AttackReachedBackend int
	BackendUtilisation               float64 // 0..1, if known

	TargetCPU float64 // cores used on average
	TargetRSS int64   // bytes, max

	// The waiting room as the students lived it: sign-ins queued, and the
	// error of the first ETA each was shown against its real wait.
	WaitingRoomQueued      int
	WaitingRoomWait        time.Duration // median wait
	WaitingRoomWithETA     int           // of the queued, those shown an ETA
	WaitingRoomETAError    time.Duration // median absolute error
	WaitingRoomETAErrorP90 time.Duration
	WaitingRoomETABias     time.Duration // mean of (real wait − ETA)

	Points []Point // for the mixed sweep 1, 2, 5, 10, 20×
	Checks []Check // targets from the issue
	Notes  []string
}

// AttackReach returns the fraction of attack requests that reached the
// backend, reached/sent, or 0 when none was sent.
func AttackReach(sent, reached int) float64 {
	if sent <= 0 {
		return 0
	}
	return float64(reached) / float64(sent)
}

// Summarize summarises the statistics of one class of a closed-loop run.
// Transport errors are counted in ByStatus under key 0. A nil st gives an
// empty summary.
func Summarize(class string, st *load.ClassStats) ClassSummary {
	s := ClassSummary{Class: class, ByStatus: map[int]int{}}
	if st == nil {
		return s
	}
	s.Requests = st.Requests
	s.SuccessRate = st.SuccessRate()
	for k, v := range st.ByStatus {
		s.ByStatus[k] += v
	}
	if n := st.Errors - st.Pages; n > 0 {
		s.ByStatus[0] += n
	}
	s.Queued = st.Queued
	s.P50, s.P95, s.P99, s.Max = quantiles(st.Latency)
	return s
}

// SummarizeOpen summarises an open-loop run (typically the flood, class
// "attack"). Requests is Sent+Dropped; dropped requests and requests in
// error are failures and are counted in ByStatus under key 0. Percentiles
// are those of r.Latency, measured from the intended send time.
//
// A success is a completed request with a status below 500 and a latency
// of at most slo.MaxLatency (0 means load.DefaultSLO). A load.Result does
// not pair each latency with its status, so the count is derived from two
// marginals: G, the completed requests with a status below 500, and W, the
// sent requests whose latency is within the SLO (read from the histogram,
// whose bucket bounds may count a sample up to 0.79 % under the limit as
// over it). SummarizeOpen reports min(G, W), which is exact whenever the
// two failure modes nest — every slow request also failed by status (a
// timeout), or every fast one succeeded (shedding answered 429 quickly,
// everything else was served in time) — and can overstate only when fast
// 5xx answers and slow successful answers occur in the same run.
func SummarizeOpen(class string, r load.Result, slo load.SLO) ClassSummary {
	s := ClassSummary{Class: class, ByStatus: map[int]int{}}
	s.Requests = r.Sent + r.Dropped
	good := 0
	for k, v := range r.ByStatus {
		s.ByStatus[k] += v
		if k < 500 {
			good += v
		}
	}
	if n := r.Errors + r.Dropped; n > 0 {
		s.ByStatus[0] += n
	}
	lim := slo.MaxLatency
	if lim == 0 {
		lim = load.DefaultSLO.MaxLatency
	}
	within := countAtMost(r.Latency, lim)
	if s.Requests > 0 {
		s.SuccessRate = float64(min(good, within)) / float64(s.Requests)
	}
	s.P50, s.P95, s.P99, s.Max = quantiles(r.Latency)
	return s
}

func quantiles(h *load.Histogram) (p50, p95, p99, max time.Duration) {
	if h == nil || h.Count() == 0 {
		return
	}
	return h.Quantile(0.50), h.Quantile(0.95), h.Quantile(0.99), h.Max()
}

// countAtMost returns how many samples of h are at most lim, as far as the
// histogram's buckets tell: the largest rank whose quantile is ≤ lim.
func countAtMost(h *load.Histogram, lim time.Duration) int {
	if h == nil {
		return 0
	}
	n := int(h.Count())
	if n == 0 {
		return 0
	}
	// rank k is selected by q = (k-0.5)/n, robust to rounding of ceil(q·n).
	q := func(k int) float64 { return (float64(k) - 0.5) / float64(n) }
	// largest k in [0, n] with Quantile(q(k)) ≤ lim (k = 0: none).
	return sort.Search(n, func(i int) bool { return h.Quantile(q(i+1)) > lim })
}

// ---- JSON ----------------------------------------------------------------

type jsonClass struct {
	Class       string         `json:"class"`
	Requests    int            `json:"requests"`
	SuccessRate float64        `json:"success_rate"`
	P50         float64        `json:"p50_ms"`
	P95         float64        `json:"p95_ms"`
	P99         float64        `json:"p99_ms"`
	Max         float64        `json:"max_ms"`
	ByStatus    map[string]int `json:"by_status"`
	Queued      int            `json:"queued,omitempty"`
}

type jsonPoint struct {
	Multiple    float64            `json:"multiple"`
	Goodput     float64            `json:"goodput_rps"`
	P99         map[string]float64 `json:"p99_ms"`
	SuccessRate map[string]float64 `json:"success_rate"`
	AttackRate  float64            `json:"attack_rps,omitempty"`
	AttackReach *float64           `json:"attack_reach,omitempty"`
	Queued      int                `json:"queued,omitempty"`
	SignedIn    int                `json:"signed_in,omitempty"`
}

type jsonCheck struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

type jsonReport struct {
	Scenario             string      `json:"scenario"`
	Target               string      `json:"target"`
	Started              *time.Time  `json:"started,omitempty"`
	Duration             float64     `json:"duration_ms"`
	SLO                  float64     `json:"slo_ms"`
	Capacity             float64     `json:"capacity_rps,omitempty"`
	Classes              []jsonClass `json:"classes"`
	AttackSent           int         `json:"attack_sent"`
	AttackReachedBackend int         `json:"attack_reached_backend"`
	AttackReach          float64     `json:"attack_reach"`
	BackendUtilisation   float64     `json:"backend_utilisation,omitempty"`
	TargetCPU            float64     `json:"target_cpu_cores,omitempty"`
	TargetRSS            int64       `json:"target_rss_bytes,omitempty"`
	WaitingRoomQueued    int         `json:"waiting_room_queued,omitempty"`
	WaitingRoomWait      float64     `json:"waiting_room_wait_p50_ms,omitempty"`
	WaitingRoomWithETA   int         `json:"waiting_room_with_eta,omitempty"`
	WaitingRoomETAError  float64     `json:"waiting_room_eta_error_ms,omitempty"`
	WaitingRoomETAP90    float64     `json:"waiting_room_eta_error_p90_ms,omitempty"`
	WaitingRoomETABias   float64     `json:"waiting_room_eta_bias_ms,omitempty"`
	Points               []jsonPoint `json:"points,omitempty"`
	Checks               []jsonCheck `json:"checks"`
	Notes                []string    `json:"notes,omitempty"`
}

func ms(d time.Duration) float64 {
	// milliseconds, rounded to the microsecond
	return math.Round(float64(d)/1e3) / 1e3
}

// WriteJSON writes r as indented JSON. Durations are fractional
// milliseconds in keys ending in "_ms"; quantities not measured (zero) are
// omitted. Status codes are object keys ("200", "0" for errors).
func (r Report) WriteJSON(w io.Writer) error {
	j := jsonReport{
		Scenario:             r.Scenario,
		Target:               r.Target,
		Duration:             ms(r.Duration),
		SLO:                  ms(r.slo()),
		Capacity:             r.Capacity,
		Classes:              []jsonClass{},
		AttackSent:           r.AttackSent,
		AttackReachedBackend: r.AttackReachedBackend,
		AttackReach:          AttackReach(r.AttackSent, r.AttackReachedBackend),
		BackendUtilisation:   r.BackendUtilisation,
		TargetCPU:            r.TargetCPU,
		TargetRSS:            r.TargetRSS,
		WaitingRoomQueued:    r.WaitingRoomQueued,
		WaitingRoomWait:      ms(r.WaitingRoomWait),
		WaitingRoomWithETA:   r.WaitingRoomWithETA,
		WaitingRoomETAError:  ms(r.WaitingRoomETAError),
		WaitingRoomETAP90:    ms(r.WaitingRoomETAErrorP90),
		WaitingRoomETABias:   ms(r.WaitingRoomETABias),
		Checks:               []jsonCheck{},
		Notes:                r.Notes,
	}
	if !r.Started.IsZero() {
		t := r.Started
		j.Started = &t
	}
	for _, c := range r.Classes {
		bs := make(map[string]int, len(c.ByStatus))
		for k, v := range c.ByStatus {
			bs[fmt.Sprint(k)] = v
		}
		j.Classes = append(j.Classes, jsonClass{
			Class: c.Class, Requests: c.Requests, SuccessRate: c.SuccessRate,
			P50: ms(c.P50), P95: ms(c.P95), P99: ms(c.P99), Max: ms(c.Max),
			ByStatus: bs, Queued: c.Queued,
		})
	}
	for _, p := range r.Points {
		jp := jsonPoint{Multiple: p.Multiple, Goodput: p.Goodput,
			P99: map[string]float64{}, SuccessRate: map[string]float64{}, AttackRate: p.AttackRate, Queued: p.Queued, SignedIn: p.SignedIn}
		if p.Multiple > 0 && p.AttackReach >= 0 {
			reach := p.AttackReach
			jp.AttackReach = &reach
		}
		for k, v := range p.P99 {
			jp.P99[k] = ms(v)
		}
		for k, v := range p.SuccessRate {
			jp.SuccessRate[k] = v
		}
		j.Points = append(j.Points, jp)
	}
	for _, c := range r.Checks {
		j.Checks = append(j.Checks, jsonCheck(c))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// ---- Markdown ------------------------------------------------------------

// fmtDur formats a latency for people: "850 µs", "12.3 ms", "1.24 s".
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

func pct(f float64) string {
	p := f * 100
	switch {
	case p == 100 || p == 0:
		return fmt.Sprintf("%.0f %%", p)
	case p > 99.9 || p < 0.1:
		return fmt.Sprintf("%.3f %%", p)
	default:
		return fmt.Sprintf("%.1f %%", p)
	}
}

func fmtBytes(b int64) string {
	const mib = 1 << 20
	if b >= 10*mib {
		return fmt.Sprintf("%.0f MiB", float64(b)/mib)
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/mib)
}

func fmtMultiple(m float64) string {
	if m == 0 {
		return "none"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", m), "0"), ".") + "×"
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
}

const dash = "—"

// WriteMarkdown writes a readable summary: the run, one table with a row per
// class, the attack's reach, the target's resources, the sweep, the checks
// with ✅/❌ and the notes.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	title := r.Scenario
	if title == "" {
		title = "storm"
	}
	fmt.Fprintf(&b, "# preau storm: %s\n\n", cell(title))

	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Target", cell(orDash(r.Target)))
	if !r.Started.IsZero() {
		row("Started", r.Started.Format(time.RFC3339))
	}
	row("Duration", orDash(durOrZero(r.Duration, func(d time.Duration) string { return d.Round(time.Millisecond).String() })))
	slo := r.slo()
	row("SLO", fmt.Sprintf("answered within %s and not a 5xx", fmtDur(slo)))
	row("Capacity", numOrDash(r.Capacity, "%.0f req/s"))
	if r.AttackSent > 0 {
		row("Attack reach", fmt.Sprintf("%s (%d of %d attack requests reached the backend)",
			pct(AttackReach(r.AttackSent, r.AttackReachedBackend)), r.AttackReachedBackend, r.AttackSent))
	} else {
		row("Attack reach", dash+" (no attack requests)")
	}
	row("Backend utilisation", pctOrDash(r.BackendUtilisation))
	row("Target CPU", numOrDash(r.TargetCPU, "%.2f cores (average)"))
	if r.TargetRSS > 0 {
		row("Target memory", fmtBytes(r.TargetRSS)+" RSS (max)")
	} else {
		row("Target memory", dash)
	}
	if r.WaitingRoomQueued > 0 {
		line := fmt.Sprintf("%d sign-ins queued, median wait %s", r.WaitingRoomQueued, fmtDur(r.WaitingRoomWait))
		if r.WaitingRoomWithETA > 0 {
			line += fmt.Sprintf("; %d shown an ETA: error median %s, p90 %s; real wait − ETA on average %s",
				r.WaitingRoomWithETA, fmtDur(r.WaitingRoomETAError), fmtDur(r.WaitingRoomETAErrorP90), signedDur(r.WaitingRoomETABias))
		} else {
			line += "; none was shown an ETA (the room had no admission rate to estimate from)"
		}
		row("Waiting room", line)
	} else {
		row("Waiting room", dash+" (nobody queued)")
	}
	b.WriteString("\n")

	b.WriteString("## Classes\n\n")
	if len(r.Classes) == 0 {
		b.WriteString("No requests were recorded.\n\n")
	} else {
		b.WriteString("| Class | Requests | Success | p50 | p95 | p99 | max | Statuses | Queued |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---:|\n")
		for _, c := range r.Classes {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %d |\n",
				cell(c.Class), c.Requests, pct(c.SuccessRate),
				fmtDur(c.P50), fmtDur(c.P95), fmtDur(c.P99), fmtDur(c.Max), cell(statuses(c.ByStatus)), c.Queued)
		}
		b.WriteString("\nSuccess: answered within the SLO with a status below 500, or a waiting-room page (a place in the queue and a wait: counted under Queued). Status 0: transport error, timeout or dropped.\n\n")
	}

	if len(r.Points) > 0 {
		classes := pointClasses(r)
		b.WriteString("## Sweep\n\n| Attack | Sent | Reach | Goodput |")
		for _, c := range classes {
			fmt.Fprintf(&b, " %s p99 | %s success |", cell(c), cell(c))
		}
		b.WriteString("\n|---|---:|---:|---:|")
		for range classes {
			b.WriteString("---:|---:|")
		}
		b.WriteString("\n")
		for _, p := range sortedPoints(r.Points) {
			sent, reach := dash, dash
			if p.Multiple > 0 {
				sent = fmt.Sprintf("%.0f req/s", p.AttackRate)
				if p.AttackReach >= 0 {
					reach = pct(p.AttackReach)
				}
			}
			good := fmt.Sprintf("%.1f req/s", p.Goodput)
			if p.SignedIn > 0 {
				good += fmt.Sprintf(" (%d signed in)", p.SignedIn)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |", fmtMultiple(p.Multiple), sent, reach, good)
			for _, c := range classes {
				d, ok := p.P99[c]
				s, ok2 := p.SuccessRate[c]
				ds, ss := dash, dash
				if ok {
					ds = fmtDur(d)
				}
				if ok2 {
					ss = pct(s)
				}
				fmt.Fprintf(&b, " %s | %s |", ds, ss)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}

	b.WriteString("## Checks\n\n")
	if len(r.Checks) == 0 {
		b.WriteString("No targets were checked.\n\n")
	} else {
		b.WriteString("| | Target | Want | Got |\n|---|---|---|---|\n")
		pass := 0
		for _, c := range r.Checks {
			mark := "❌"
			if c.OK {
				mark = "✅"
				pass++
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mark, cell(c.Name), cell(c.Want), cell(c.Got))
		}
		fmt.Fprintf(&b, "\n%d of %d targets met.\n\n", pass, len(r.Checks))
	}

	if len(r.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(n, "\n", " "))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// signedDur formats d with its sign: "+1.2 s", "−300 ms".
func signedDur(d time.Duration) string {
	if d < 0 {
		return "−" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

func orDash(s string) string {
	if s == "" {
		return dash
	}
	return s
}

func durOrZero(d time.Duration, f func(time.Duration) string) string {
	if d <= 0 {
		return ""
	}
	return f(d)
}

func numOrDash(v float64, format string) string {
	if v == 0 || math.IsNaN(v) {
		return dash
	}
	return fmt.Sprintf(format, v)
}

func pctOrDash(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return dash
	}
	return pct(v)
}

func statuses(m map[int]int) string {
	if len(m) == 0 {
		return dash
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "error"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, m[k]))
	}
	return strings.Join(parts, ", ")
}

// classOrder ranks the storm classes in their natural reading order.
func classOrder(c string) int {
	switch c {
	case "logged-in":
		return 0
	case "newcomer":
		return 1
	case "attack":
		return 3
	}
	return 2
}

// pointClasses returns the classes that appear in the sweep, in the order
// of r.Classes first, then in natural order.
func pointClasses(r Report) []string {
	seen := map[string]bool{}
	for _, p := range r.Points {
		for c := range p.P99 {
			seen[c] = true
		}
		for c := range p.SuccessRate {
			seen[c] = true
		}
	}
	var out []string
	for _, c := range r.Classes {
		if seen[c.Class] {
			out = append(out, c.Class)
			delete(seen, c.Class)
		}
	}
	var rest []string
	for c := range seen {
		rest = append(rest, c)
	}
	sort.Slice(rest, func(i, j int) bool {
		if oi, oj := classOrder(rest[i]), classOrder(rest[j]); oi != oj {
			return oi < oj
		}
		return rest[i] < rest[j]
	})
	return append(out, rest...)
}

func sortedPoints(ps []Point) []Point {
	out := append([]Point(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Multiple < out[j].Multiple })
	return out
}
