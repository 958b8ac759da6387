package httpx

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts requests and their latency by route pattern and status.
// Route patterns (not raw paths) keep label cardinality bounded whatever
// URLs clients invent.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "preau_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "preau_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "preau_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.inflight)
	return m
}

// StatusWriter records the status and size of a response as it is
// written; Unwrap keeps http.ResponseController working through it.
type StatusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// Status is the status written so far (0 before anything was written).
func (w *StatusWriter) Status() int { return w.status }

// Bytes is the size of the body written so far.
func (w *StatusWriter) Bytes() int64 { return w.bytes }

func (w *StatusWriter) WriteHeader(code int) {
	// An informational answer (103 Early Hints) is not the response's
	// status.
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Instrument wraps the mux: it records metrics by the pattern the mux
// matched and logs server errors and slow requests.
func (m *Metrics) Instrument(log *slog.Logger, mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inflight.Inc()
		sw := &StatusWriter{ResponseWriter: w}
		defer func() {
			m.inflight.Dec()
			d := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
			m.latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
			if sw.status >= 500 || d > 2*time.Second {
				log.Warn("request", "method", r.Method, "route", route, "status", sw.status, "duration", d, "bytes", sw.bytes)
			}
		}()
		mux.ServeHTTP(sw, r)
	})
}
