package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"preau/internal/storm/load"
)

func sampleReport() Report {
	ms := time.Millisecond
	return Report{
		Scenario: "mixed", Target: "127.0.0.1:8080",
		Started:  time.Date(2025, 9, 1, 7, 30, 0, 0, time.UTC),
		Duration: 90 * time.Second, SLO: 2 * time.Second,
		Capacity: 850,
		Classes: []ClassSummary{
			{Class: "logged-in", Requests: 12000, SuccessRate: 0.998, P50: 18 * ms, P95: 95 * ms, P99: 310 * ms, Max: 1200 * ms, ByStatus: map[int]int{200: 11990, 0: 10}},
			{Class: "newcomer", Requests: 3000, SuccessRate: 0.97, P50: 40 * ms, P95: 600 * ms, P99: 1400 * ms, Max: 2500 * ms, ByStatus: map[int]int{200: 2800, 303: 200}},
			{Class: "attack", Requests: 400000, SuccessRate: 0.02, P50: 2 * ms, P95: 6 * ms, P99: 40 * ms, Max: 900 * ms, ByStatus: map[int]int{429: 390000, 200: 8000, 0: 2000}},
		},
		AttackSent: 400000, AttackReachedBackend: 8000, BackendUtilisation: 0.71,
		TargetCPU: 1.62, TargetRSS: 182 << 20, WaitingRoomQueued: 40, WaitingRoomWait: 12 * time.Second, WaitingRoomWithETA: 40, WaitingRoomETAError: 3200 * ms,
		WaitingRoomETAErrorP90: 7 * time.Second, WaitingRoomETABias: -1500 * ms,
		Points: []Point{
			{Multiple: 0, Goodput: 212.4, P99: map[string]time.Duration{"logged-in": 45 * ms, "newcomer": 80 * ms}, SuccessRate: map[string]float64{"logged-in": 1, "newcomer": 1}},
			{Multiple: 1, Goodput: 210.9, P99: map[string]time.Duration{"logged-in": 60 * ms, "newcomer": 120 * ms, "attack": 8 * ms}, SuccessRate: map[string]float64{"logged-in": 1, "newcomer": 0.99, "attack": 0.5}},
			{Multiple: 2, Goodput: 208.0, P99: map[string]time.Duration{"logged-in": 85 * ms, "newcomer": 300 * ms, "attack": 9 * ms}, SuccessRate: map[string]float64{"logged-in": 1, "newcomer": 0.98, "attack": 0.2}},
			{Multiple: 5, Goodput: 205.5, P99: map[string]time.Duration{"logged-in": 140 * ms, "newcomer": 700 * ms, "attack": 12 * ms}, SuccessRate: map[string]float64{"logged-in": 0.999, "newcomer": 0.97, "attack": 0.05}},
			{Multiple: 10, Goodput: 203.1, P99: map[string]time.Duration{"logged-in": 310 * ms, "newcomer": 1400 * ms, "attack": 40 * ms}, SuccessRate: map[string]float64{"logged-in": 0.998, "newcomer": 0.97, "attack": 0.02}, AttackRate: 101000, AttackReach: 0.02, Queued: 40},
			{Multiple: 20, Goodput: 180.2, P99: map[string]time.Duration{"logged-in": 900 * ms, "newcomer": 2600 * ms, "attack": 150 * ms}, SuccessRate: map[string]float64{"logged-in": 0.99, "newcomer": 0.9, "attack": 0.01}},
		},
		Checks: []Check{
			{Name: "logged-in goodput at 10× vs no attack", Want: "≥ 95 %", Got: "95.6 %", OK: true},
			{Name: "logged-in p99 at 10×", Want: "< 1 s", Got: "310 ms", OK: true},
			{Name: "attack requests reaching the backend", Want: "< 5 %", Got: "2.0 %", OK: true},
			{Name: "newcomers shown an error page", Want: "0", Got: "12", OK: false},
		},
		Notes: []string{"Sample data for the report's tests; not a measurement.", "A | pipe and <tags> pass through a list item."},
	}
}

func TestAttackReach(t *testing.T) {
	if got := AttackReach(0, 0); got != 0 {
		t.Errorf("AttackReach(0,0) = %v", got)
	}
	if got := AttackReach(200, 5); got != 0.025 {
		t.Errorf("AttackReach(200,5) = %v", got)
	}
}

func TestJSONFieldNames(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n  \"scenario\"") {
		t.Errorf("JSON is not indented:\n%s", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "target", "started", "duration_ms", "slo_ms", "capacity_rps", "classes",
		"attack_sent", "attack_reached_backend", "attack_reach", "backend_utilisation", "target_cpu_cores",
		"target_rss_bytes", "waiting_room_eta_error_ms", "points", "checks", "notes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing key %q", k)
		}
	}
	if m["slo_ms"] != 2000.0 || m["duration_ms"] != 90000.0 || m["attack_reach"] != 0.02 {
		t.Errorf("slo_ms=%v duration_ms=%v attack_reach=%v", m["slo_ms"], m["duration_ms"], m["attack_reach"])
	}
	c := m["classes"].([]any)[0].(map[string]any)
	for _, k := range []string{"class", "requests", "success_rate", "p50_ms", "p95_ms", "p99_ms", "max_ms", "by_status"} {
		if _, ok := c[k]; !ok {
			t.Errorf("class: missing key %q", k)
		}
	}
	if c["p99_ms"] != 310.0 || c["success_rate"] != 0.998 || c["by_status"].(map[string]any)["200"] != 11990.0 {
		t.Errorf("class values: %v", c)
	}
	p := m["points"].([]any)[4].(map[string]any)
	for _, k := range []string{"multiple", "goodput_rps", "p99_ms", "success_rate"} {
		if _, ok := p[k]; !ok {
			t.Errorf("point: missing key %q", k)
		}
	}
	if p["p99_ms"].(map[string]any)["logged-in"] != 310.0 {
		t.Errorf("point p99_ms: %v", p["p99_ms"])
	}
	ck := m["checks"].([]any)[3].(map[string]any)
	if ck["name"] == nil || ck["want"] != "0" || ck["got"] != "12" || ck["ok"] != false {
		t.Errorf("check: %v", ck)
	}

	// An empty report still has its arrays and omits what was not measured.
	buf.Reset()
	if err := (Report{}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["classes"].([]any); !ok {
		t.Errorf("empty report: classes = %v, want []", m["classes"])
	}
	for _, k := range []string{"started", "capacity_rps", "target_cpu_cores", "points"} {
		if _, ok := m[k]; ok {
			t.Errorf("empty report has %q", k)
		}
	}
}

func TestMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"# preau storm: mixed",
		"127.0.0.1:8080",
		"answered within 2.00 s and not a 5xx",
		"| Class | Requests | Success | p50 | p95 | p99 | max | Statuses | Queued |",
		"| logged-in | 12000 | 99.8 % | 18.0 ms | 95.0 ms | 310 ms | 1.20 s | error: 10, 200: 11990 | 0 |",
		"40 sign-ins queued, median wait 12.00 s; 40 shown an ETA: error median 3.20 s, p90 7.00 s; real wait − ETA on average −1.50 s",
		"| attack | 400000 | 2.0 % |",
		"2.0 % (8000 of 400000 attack requests reached the backend)",
		"1.62 cores", "182 MiB",
		"| 10× | 101000 req/s | 2.0 % | 203.1 req/s |",
		"| ✅ | logged-in p99 at 10× | < 1 s | 310 ms |",
		"| ❌ | newcomers shown an error page | 0 | 12 |",
		"3 of 4 targets met.",
		"- A | pipe and <tags> pass through a list item.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

type svgInfo struct {
	titles, descs     []string
	polylines         map[string]int // by class attribute ("goodput", "p99")
	p99Classes        []string
	bars              []string
	texts             []string
	hasScript, hasRef bool
}

func parseSVG(t *testing.T, data []byte) svgInfo {
	t.Helper()
	info := svgInfo{polylines: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Local
				if x.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace %q", x.Name.Space)
				}
			}
			stack = append(stack, x.Name.Local)
			attr := func(n string) string {
				for _, a := range x.Attr {
					if a.Name.Local == n {
						return a.Value
					}
				}
				return ""
			}
			switch x.Name.Local {
			case "script", "foreignObject":
				info.hasScript = true
			case "image", "use":
				info.hasRef = true
			case "polyline":
				info.polylines[attr("class")]++
				if attr("class") == "p99" {
					info.p99Classes = append(info.p99Classes, attr("data-class"))
				}
				if len(strings.Fields(attr("points"))) < 2 {
					t.Errorf("polyline %q has points %q", attr("data-class"), attr("points"))
				}
			case "rect":
				if attr("class") == "bar" {
					info.bars = append(info.bars, attr("data-class"))
				}
			}
			for _, a := range x.Attr {
				if strings.HasPrefix(a.Name.Local, "on") || strings.Contains(a.Value, "javascript:") {
					info.hasScript = true
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			s := strings.TrimSpace(string(x))
			switch stack[len(stack)-1] {
			case "title":
				if len(stack) == 2 {
					info.titles = append(info.titles, s)
				}
			case "desc":
				info.descs = append(info.descs, s)
			case "text":
				info.texts = append(info.texts, s)
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element %q", root)
	}
	return info
}

func hasText(texts []string, sub string) bool {
	for _, s := range texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestSVGLineChart(t *testing.T) {
	var buf bytes.Buffer
	r := sampleReport()
	if err := r.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/tmp/storm-sample.svg", buf.Bytes(), 0o644); err != nil {
		t.Log("could not write the sample:", err)
	}
	info := parseSVG(t, buf.Bytes())
	if len(info.titles) != 1 || !strings.Contains(info.titles[0], "mixed") {
		t.Errorf("titles %q", info.titles)
	}
	if len(info.descs) != 1 || !strings.Contains(info.descs[0], "Goodput: 212.4 req/s at none, 180.2 req/s at 20×") ||
		!strings.Contains(info.descs[0], "logged-in p99: none 45.0 ms") {
		t.Errorf("desc %q", info.descs)
	}
	if info.hasScript || info.hasRef {
		t.Error("SVG has scripts or external references")
	}
	if info.polylines["goodput"] != 1 || info.polylines["p99"] != 3 {
		t.Errorf("polylines %v", info.polylines)
	}
	if strings.Join(info.p99Classes, ",") != "logged-in,newcomer,attack" {
		t.Errorf("p99 polylines for %v", info.p99Classes)
	}
	for _, want := range []string{"goodput (legitimate req/s within SLO)", "p99 latency (log scale)", "attack rate (multiple of measured capacity, 1× = 850 req/s)",
		"none", "1×", "20×", "SLO 2.00 s", "1 s", "100 ms", "logged-in p99", "goodput"} {
		if !hasText(info.texts, want) {
			t.Errorf("no text %q in %q", want, info.texts)
		}
	}
	if len(info.bars) != 0 {
		t.Errorf("line chart has bars %v", info.bars)
	}
}

func TestSVGBarFallback(t *testing.T) {
	for _, n := range []int{0, 1} {
		r := sampleReport()
		r.Points = r.Points[:n]
		r.Scenario = `flood <10×> & "co"`
		var buf bytes.Buffer
		if err := r.WriteSVG(&buf); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			os.WriteFile("/tmp/storm-sample-bars.svg", buf.Bytes(), 0o644)
		}
		info := parseSVG(t, buf.Bytes())
		if len(info.titles) != 1 || !strings.Contains(info.titles[0], `flood <10×> & "co"`) || len(info.descs) != 1 {
			t.Errorf("points=%d: title %q desc %q", n, info.titles, info.descs)
		}
		if len(info.polylines) != 0 {
			t.Errorf("points=%d: polylines %v", n, info.polylines)
		}
		if strings.Join(info.bars, ",") != "logged-in,newcomer,attack" {
			t.Errorf("points=%d: bars %v", n, info.bars)
		}
		for _, want := range []string{"success rate (within SLO, not 5xx)", "class", "99.8 %", "100 %", "0 %"} {
			if !hasText(info.texts, want) {
				t.Errorf("points=%d: no text %q", n, want)
			}
		}
	}
	// and with nothing at all
	var buf bytes.Buffer
	if err := (Report{}).WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	info := parseSVG(t, buf.Bytes())
	if len(info.titles) != 1 || !hasText(info.texts, "no requests recorded") {
		t.Errorf("empty report: %q %q", info.titles, info.texts)
	}
}

func TestSummarize(t *testing.T) {
	h := load.NewHistogram()
	// 100 samples: 1..100 ms
	for i := 1; i <= 100; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	st := &load.ClassStats{Requests: 100, Success: 97, Errors: 2, ByStatus: map[int]int{200: 95, 503: 3}, Latency: h}
	s := Summarize("logged-in", st)
	if s.Class != "logged-in" || s.Requests != 100 || s.SuccessRate != 0.97 {
		t.Errorf("summary %+v", s)
	}
	near(t, "p50", s.P50, 50*time.Millisecond)
	near(t, "p95", s.P95, 95*time.Millisecond)
	near(t, "p99", s.P99, 99*time.Millisecond)
	if s.Max != 100*time.Millisecond {
		t.Errorf("max %v", s.Max)
	}
	if s.ByStatus[200] != 95 || s.ByStatus[503] != 3 || s.ByStatus[0] != 2 {
		t.Errorf("by status %v", s.ByStatus)
	}
	st.ByStatus[200] = 0 // the summary owns its map
	if s.ByStatus[200] != 95 {
		t.Error("ByStatus aliases the input")
	}

	if e := Summarize("x", nil); e.Requests != 0 || e.SuccessRate != 0 || e.P99 != 0 || e.ByStatus == nil {
		t.Errorf("nil stats: %+v", e)
	}
	if e := Summarize("x", &load.ClassStats{}); e.Requests != 0 || e.P99 != 0 {
		t.Errorf("empty stats: %+v", e)
	}
}

// near checks a quantile: never below the exact value, at most 1 % above.
func near(t *testing.T, name string, got, want time.Duration) {
	t.Helper()
	if got < want || float64(got) > float64(want)*1.01 {
		t.Errorf("%s = %v, want %v (+1 %%)", name, got, want)
	}
}

func TestSummarizeOpen(t *testing.T) {
	slo := load.SLO{MaxLatency: time.Second}
	mk := func(lat ...time.Duration) *load.Histogram {
		h := load.NewHistogram()
		for _, d := range lat {
			h.Record(d)
		}
		return h
	}
	rep := func(d time.Duration, n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = d
		}
		return s
	}
	cat := func(xs ...[]time.Duration) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}

	// Shield shedding: 80 fast 429s, 10 fast 200s, 10 slow timeouts (errors),
	// and 5 dropped. Successes: the 90 fast answers below 500.
	r := load.Result{Sent: 100, Completed: 90, Errors: 10, Dropped: 5,
		ByStatus: map[int]int{429: 80, 200: 10},
		Latency:  mk(cat(rep(5*time.Millisecond, 90), rep(3*time.Second, 10))...)}
	s := SummarizeOpen("attack", r, slo)
	if s.Class != "attack" || s.Requests != 105 {
		t.Errorf("summary %+v", s)
	}
	if want := 90.0 / 105; math.Abs(s.SuccessRate-want) > 1e-12 {
		t.Errorf("success %v, want %v", s.SuccessRate, want)
	}
	if s.ByStatus[0] != 15 || s.ByStatus[429] != 80 || s.ByStatus[200] != 10 {
		t.Errorf("by status %v", s.ByStatus)
	}
	near(t, "p50", s.P50, 5*time.Millisecond)
	near(t, "p95", s.P95, 3*time.Second)
	if s.Max != 3*time.Second {
		t.Errorf("max %v", s.Max)
	}

	// Overload: every answer a 200 but 30 of 50 slower than the SLO.
	r = load.Result{Sent: 50, Completed: 50, ByStatus: map[int]int{200: 50},
		Latency: mk(cat(rep(900*time.Millisecond, 20), rep(1500*time.Millisecond, 30))...)}
	if s := SummarizeOpen("attack", r, slo); s.SuccessRate != 0.4 {
		t.Errorf("slow 200s: success %v, want 0.4", s.SuccessRate)
	}
	// Fast 5xx: 40 quick 503s and 10 quick 200s.
	r = load.Result{Sent: 50, Completed: 50, ByStatus: map[int]int{200: 10, 503: 40},
		Latency: mk(rep(time.Millisecond, 50)...)}
	if s := SummarizeOpen("attack", r, slo); s.SuccessRate != 0.2 {
		t.Errorf("fast 503s: success %v, want 0.2", s.SuccessRate)
	}
	// The default SLO is 2 s.
	r = load.Result{Sent: 2, Completed: 2, ByStatus: map[int]int{200: 2},
		Latency: mk(1900*time.Millisecond, 2100*time.Millisecond)}
	if s := SummarizeOpen("attack", r, load.SLO{}); s.SuccessRate != 0.5 {
		t.Errorf("default SLO: success %v, want 0.5", s.SuccessRate)
	}
	// Nothing sent.
	if s := SummarizeOpen("attack", load.Result{}, slo); s.Requests != 0 || s.SuccessRate != 0 || s.P99 != 0 {
		t.Errorf("empty: %+v", s)
	}
	// All dropped.
	if s := SummarizeOpen("attack", load.Result{Dropped: 7}, slo); s.Requests != 7 || s.SuccessRate != 0 || s.ByStatus[0] != 7 {
		t.Errorf("dropped: %+v", s)
	}
}

func TestCountAtMost(t *testing.T) {
	h := load.NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		lim  time.Duration
		want int
	}{{0, 0}, {time.Millisecond, 1}, {500 * time.Millisecond, 500}, {time.Second, 1000}, {time.Hour, 1000}} {
		got := countAtMost(h, c.lim)
		// never counts a slower sample; may miss those within RelativeError under the limit
		lo := int(float64(c.lim/time.Millisecond) / (1 + load.RelativeError))
		if got > c.want || got < min(lo, c.want) {
			t.Errorf("countAtMost(%v) = %d, want ≈ %d", c.lim, got, c.want)
		}
	}
}
