package shield

import (
	"github.com/prometheus/client_golang/prometheus"

	"preau/internal/shield/waitroom"
)

// Metrics are the shield's Prometheus metrics: a counter for every
// decision, and gauges read from the components when scraped.
type Metrics struct {
	reg       prometheus.Registerer
	decisions *prometheus.CounterVec
	conns     *prometheus.CounterVec
	tokens    *prometheus.CounterVec
}

// NewMetrics registers the shield's counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{reg: reg,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preau_shield_decisions_total",
			Help: "Requests by class (staff, member, pass, allowlisted, anonymous) and outcome (admitted, shed, limited, challenged, queued, blocked)."},
			[]string{"class", "outcome"}),
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preau_shield_connections_refused_total",
			Help: "Connections refused by reason (proxy_header, per_addr, per_prefix, no_request: closed before a complete request, as slowloris, oversized or malformed headers)."}, []string{"reason"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "preau_shield_credentials_refused_total",
			Help: "Credentials that did not verify, by kind (session_token, challenge_pass, waiting_room_pass)."}, []string{"kind"}),
	}
	reg.MustRegister(m.decisions, m.conns, m.tokens)
	return m
}

func (m *Metrics) decision(c Class, outcome string) {
	if m != nil {
		m.decisions.WithLabelValues(c.String(), outcome).Inc()
	}
}

func (m *Metrics) refused(kind string) {
	if m != nil {
		m.tokens.WithLabelValues(kind).Inc()
	}
}

// ConnRefused counts a connection refused by the connection layer; it is
// netguard.Config.OnRefuse.
func (m *Metrics) ConnRefused(reason string) {
	if m != nil {
		m.conns.WithLabelValues(reason).Inc()
	}
}

// watch registers gauges that read the shield's state at scrape time.
func (m *Metrics) watch(s *Shield) {
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	gauge("preau_shield_level", "Escalation level: 0 normal, 1 tightened buckets, 2 challenge, 3 waiting room, 4 blocking top prefixes.",
		func() float64 { return float64(s.det.Level()) })
	gauge("preau_shield_admission_limit", "Adaptive concurrency limit in front of the backend.",
		func() float64 { return float64(s.adm.Stats().Limit) })
	gauge("preau_shield_admission_inflight", "Requests being served, all priorities.", func() float64 {
		n := 0
		for _, v := range s.adm.Stats().InFlight {
			n += v
		}
		return float64(n)
	})
	gauge("preau_shield_admission_queued", "Requests waiting for a slot, all priorities.", func() float64 {
		n := 0
		for _, v := range s.adm.Stats().Queued {
			n += v
		}
		return float64(n)
	})
	gauge("preau_shield_waiting_room_waiting", "Visitors waiting in the waiting room.", func() float64 {
		return float64(s.room.Stats(s.cfg.Now()).Waiting)
	})
	// Refused tickets, read from the waiting room's own counters.
	for _, c := range []struct {
		reason string
		get    func(st waitroomStats) uint64
	}{
		{"malformed", func(st waitroomStats) uint64 { return st.Malformed }},
		{"bad_mac", func(st waitroomStats) uint64 { return st.BadMAC }},
		{"expired", func(st waitroomStats) uint64 { return st.Expired }},
		{"replayed", func(st waitroomStats) uint64 { return st.Replayed }},
	} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "preau_shield_waiting_room_tickets_refused_total",
			Help: "Waiting-room tickets refused, by reason.", ConstLabels: prometheus.Labels{"reason": c.reason}},
			func() float64 { return float64(c.get(s.room.Stats(s.cfg.Now()))) }))
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "preau_shield_waiting_room_admitted_total",
		Help: "Visitors let in by the waiting room."}, func() float64 { return float64(s.room.Stats(s.cfg.Now()).Admitted) }))
}

type waitroomStats = waitroom.Stats
