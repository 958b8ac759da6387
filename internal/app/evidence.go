package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"preau/internal/evidence/record"
	"preau/internal/httpx"
	"preau/internal/shield"
	"preau/internal/shield/detect"
)

// evidence is the running node's evidence recorder and what feeds it: the
// detector's events (through sink) and the requests the shield handles
// during an episode (through recordRequests).
type evidence struct {
	rec *record.Recorder // nil with --evidence=false
	dir string
	log *slog.Logger

	// episode mirrors the recorder's state: it is set and cleared by the
	// same episode_start and episode_end events, so that the request path
	// outside episodes costs one atomic load, as record.Request does.
	episode atomic.Bool

	// events buffers the detector's events for the log and the TAXII feed:
	// both may be slow, and the detector emits under its lock.
	events *detect.ChannelSink
	// onEpisodeEnd is told of every episode that ends (the TAXII feed);
	// nil when nobody listens.
	onEpisodeEnd func(*detect.Episode)

	readyMu sync.Mutex
	prev    map[string]record.StreamStats // counters at the last readiness check
}

// openEvidence opens the recorder in cfg's evidence directory, or returns
// an evidence that only logs the detector's events when the recorder is
// switched off.
func openEvidence(dir string, cfg record.Config, enabled bool, log *slog.Logger) (*evidence, error) {
	e := &evidence{dir: dir, log: log, events: detect.NewChannelSink(4096)}
	if !enabled {
		return e, nil
	}
	cfg.Dir, cfg.Logger = dir, log
	rec, err := record.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("app: evidence recorder in %s: %w", dir, err)
	}
	e.rec = rec
	return e, nil
}

// Emit implements detect.Sink. It runs under the detector's lock, so it
// only hands the event on: the recorder queues it (or drops and counts it)
// and the log's buffer does the same.
func (e *evidence) Emit(ev detect.Event) {
	switch ev.Kind {
	case "episode_start":
		e.episode.Store(true)
	case "episode_end":
		e.episode.Store(false)
	}
	if e.rec != nil {
		e.rec.Emit(ev)
	}
	e.events.Emit(ev)
}

// run writes the recorder's journals and drains the event buffer into the
// log and the episode listeners until ctx ends.
func (e *evidence) run(ctx context.Context) {
	var wg sync.WaitGroup
	if e.rec != nil {
		wg.Go(func() { e.rec.Run(ctx) })
	}
	logSink := detect.SlogSink{Logger: e.log}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			if n := e.events.Dropped(); n > 0 {
				e.log.Warn("shield events not logged: buffer full", "dropped", n)
			}
			return
		case ev := <-e.events.Events():
			logSink.Emit(ev)
			if ev.Kind == "episode_end" && ev.Episode != nil && e.onEpisodeEnd != nil {
				e.onEpisodeEnd(ev.Episode)
			}
		}
	}
}

// close closes the recorder (its final checkpoints). Call after run
// returned.
func (e *evidence) close() error {
	if e.rec == nil {
		return nil
	}
	if err := e.rec.Close(); err != nil {
		return fmt.Errorf("app: close evidence recorder: %w", err)
	}
	return nil
}

// recordRequests wraps the shield's handler: while an episode is open, it
// tells the recorder about every request the shield handled, with the
// status and size of the answer and the shield's decision. Outside
// episodes it only loads one atomic.
func (e *evidence) recordRequests(next http.Handler) http.Handler {
	if e.rec == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.episode.Load() {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now().UTC()
		cw := &countingWriter{StatusWriter: httpx.StatusWriter{ResponseWriter: w}}
		next.ServeHTTP(cw, r)
		d := cw.decision
		status := cw.Status()
		if status == 0 {
			status = http.StatusOK // what net/http sends for a handler that wrote nothing
		}
		peer, port := peerOf(r.RemoteAddr)
		client := d.Client
		if !client.IsValid() {
			client = peer
		}
		if client != peer {
			port = 0 // the client is behind a trusted proxy: its port is not ours to know
		}
		e.rec.Request(record.RequestSample{Time: start, Addr: client, Port: port, Method: r.Method, Path: r.URL.Path,
			Status: status, Bytes: cw.Bytes(), Agent: r.UserAgent(), Class: d.Class, Outcome: d.Outcome})
	})
}

// peerOf parses a request's RemoteAddr.
func peerOf(remote string) (netip.Addr, uint16) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap(), ap.Port()
	}
	host, port, err := net.SplitHostPort(remote)
	if err != nil {
		return netip.Addr{}, 0
	}
	a, _ := netip.ParseAddr(host)
	p, _ := strconv.ParseUint(port, 10, 16)
	return a.Unmap(), uint16(p)
}

// countingWriter records the status and the bytes of a response, and the
// shield's decision on its request.
type countingWriter struct {
	httpx.StatusWriter
	decision shield.Decision
}

// ObserveDecision implements shield.DecisionObserver.
func (w *countingWriter) ObserveDecision(d shield.Decision) { w.decision = d }

// ready reports whether the recorder can write: a file can be created in
// its directory, and no stream has failed appends since the last check
// without a successful one.
func (e *evidence) ready() error {
	if e.rec == nil {
		return nil
	}
	f, err := os.CreateTemp(e.dir, ".readyz-*")
	if err != nil {
		return fmt.Errorf("evidence directory not writable: %w", err)
	}
	_, werr := f.Write([]byte("ok\n"))
	cerr := f.Close()
	rerr := os.Remove(f.Name())
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("evidence directory not writable: %w", err)
	}
	st := e.rec.Stats()
	e.readyMu.Lock()
	defer e.readyMu.Unlock()
	var errs []error
	for name, s := range st.Streams {
		p := e.prev[name]
		if s.Errors > p.Errors && s.Appended == p.Appended {
			errs = append(errs, fmt.Errorf("evidence stream %s: %d appends failed since the last check", name, s.Errors-p.Errors))
		}
	}
	e.prev = st.Streams
	return errors.Join(errs...)
}

// Audit appends an entry to the administrators' audit log, or only logs it
// when the recorder is off. It implements web.Auditor.
func (e *evidence) Audit(actor, action string, details map[string]any) error {
	if e.rec == nil {
		e.log.Info("admin action", "actor", actor, "action", action, "details", details)
		return nil
	}
	return e.rec.Audit(actor, action, details)
}

// evidenceCollector exposes the recorder's counters to Prometheus, reading
// Stats once per scrape.
type evidenceCollector struct {
	rec                                        *record.Recorder
	appended, dropped, failed, open, overflown *prometheus.Desc
}

func newEvidenceCollector(rec *record.Recorder) *evidenceCollector {
	return &evidenceCollector{rec: rec,
		appended: prometheus.NewDesc("preau_evidence_records_appended_total", "Evidence records durably appended, by stream (events, sources, requests).", []string{"stream"}, nil),
		dropped:  prometheus.NewDesc("preau_evidence_records_dropped_total", "Evidence records lost because a queue was full or they came too late, by stream.", []string{"stream"}, nil),
		failed:   prometheus.NewDesc("preau_evidence_records_failed_total", "Evidence records lost because writing failed, by stream (see the log).", []string{"stream"}, nil),
		open:     prometheus.NewDesc("preau_evidence_episode_open", "1 while an attack episode is being recorded.", nil, nil),
		overflown: prometheus.NewDesc("preau_evidence_sources_overflow_total",
			"Requests aggregated under \"other\" because more source addresses than the recorder tracks one by one were seen in a minute.", nil, nil),
	}
}

func (c *evidenceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.appended, c.dropped, c.failed, c.open, c.overflown} {
		ch <- d
	}
}

func (c *evidenceCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.rec.Stats()
	for name, s := range st.Streams {
		ch <- prometheus.MustNewConstMetric(c.appended, prometheus.CounterValue, float64(s.Appended), name)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.Dropped), name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.Errors), name)
	}
	open := 0.0
	if st.Episode != "" {
		open = 1
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, open)
	ch <- prometheus.MustNewConstMetric(c.overflown, prometheus.CounterValue, float64(st.Overflow))
}
