package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"preau/internal/shield/detect"
)

// Config configures Open. Zero fields take the defaults shown.
type Config struct {
	// Dir holds one directory per stream. Required.
	Dir string
	// Retention is how long each stream's segments are kept after their
	// month ended, by stream name; a missing stream takes
	// DefaultRetention's.
	Retention map[string]time.Duration
	// SampleEvery: during an episode, 1 request record is kept in
	// SampleEvery requests (20). Outside episodes none is.
	SampleEvery int
	// MaxSources bounds the source addresses aggregated one by one per
	// minute (20000); the requests of further addresses are aggregated
	// under addr "other".
	MaxSources int
	// Now is the clock stamped into records and checkpoints (time.Now).
	Now func() time.Time
	// ClockSource describes Now for investigators, e.g. "system (NTP)"; ""
	// means "system (NTP-synchronised: yes|no|unknown)" as found at Open.
	ClockSource string
	// Logger receives operational messages (slog.Default()).
	Logger *slog.Logger
	// Origin prefixes the checkpoint origin of every segment,
	// Origin/<stream>/<YYYY-MM> ("preau.evidence/<host name>").
	Origin string
	// QueueSize bounds the events and the sampled requests waiting for the
	// writer (4096 each); beyond, they are dropped and counted.
	QueueSize int
}

// RequestSample is what the shield tells the recorder about one request.
type RequestSample struct {
	Time    time.Time
	Addr    netip.Addr
	Port    uint16
	Method  string
	Path    string // query, if any, is stripped before recording
	Status  int
	Bytes   int64
	Agent   string
	Class   string // "staff", "member", "pass", "allowlisted", "anonymous"
	Outcome string // "admitted", "shed", "challenged", "queued", "blocked", "limited"
}

// Stats are the recorder's counters since Open.
type Stats struct {
	Streams  map[string]StreamStats // by stream name
	Overflow uint64                 // requests aggregated under "other" (MaxSources), as of the last minute written
	Episode  string                 // the open episode, "" if none
}

// StreamStats count one stream's records.
type StreamStats struct {
	Appended uint64 // records durably appended
	Dropped  uint64 // records lost because a queue was full or they came too late
	Errors   uint64 // records lost because writing failed (see the log)
}

// grace is how long after a minute ends its aggregates wait for requests
// still in flight at the boundary.
const grace = 5 * time.Second

// Recorder writes the evidence journals. All its methods are safe for
// concurrent use.
type Recorder struct {
	cfg         Config
	log         *slog.Logger
	now         func() time.Time
	origin      string
	clockSource string
	sync        syncState

	streams map[string]*stream
	events  *stream
	sources *stream
	reqs    *stream

	// active is the open episode's aggregation state, nil outside
	// episodes: the only thing Request reads when nothing is happening.
	active atomic.Pointer[episodeState]

	// endedMu guards ended, the episodes whose aggregates the writer has
	// still to write; kick wakes the writer for them.
	endedMu sync.Mutex
	ended   []*episodeState
	kick    chan struct{}

	overflow atomic.Uint64 // requests aggregated under "other", as of the last write

	evq     chan detect.Event
	sampleq chan sampled

	// closeMu is taken for writing by Close to set closed, and tried for
	// reading by the non-blocking producers, so that nothing is queued
	// after Close drained the queues.
	closeMu sync.RWMutex
	closed  bool

	// writeMu serialises the writer's work: Run's steps and Close.
	writeMu   sync.Mutex
	running   atomic.Bool
	lastCP    int64 // Unix minute of the last checkpoint round
	lastSweep time.Time
}

type sampled struct {
	episode string
	s       RequestSample
}

// Open validates cfg, creates the stream directories and writes the clock
// record to the events stream. Call Run to write what Emit and Request
// gather, and Close when done.
func Open(cfg Config) (*Recorder, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r := &Recorder{
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Now,
		origin:  cfg.Origin,
		streams: make(map[string]*stream, len(streamNames)),
		kick:    make(chan struct{}, 1),
		evq:     make(chan detect.Event, cfg.QueueSize),
		sampleq: make(chan sampled, cfg.QueueSize),
	}
	r.sync = readSyncState()
	r.clockSource = cfg.ClockSource
	if r.clockSource == "" {
		r.clockSource = "system (NTP-synchronised: " + r.sync.synced + ")"
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("record: open: %w", err)
	}
	for _, name := range streamNames {
		s := &stream{name: name, dir: filepath.Join(cfg.Dir, name), retention: cfg.Retention[name], rec: r}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, fmt.Errorf("record: open: %w", err)
		}
		r.streams[name] = s
	}
	r.events, r.sources, r.reqs = r.streams[Events], r.streams[Sources], r.streams[Requests]
	now := r.now()
	r.lastCP = unixMinute(now)

	// The clock record also opens the events segment, so that a bad
	// directory or key fails here rather than at the first attack.
	if err := r.appendRecords(r.events, r.clockRecord(now)); err != nil {
		r.Close()
		return nil, fmt.Errorf("record: open: %w", err)
	}
	return r, nil
}

func (c *Config) fill() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("record: Config.Dir is empty"))
	}
	ret := make(map[string]time.Duration, len(streamNames))
	for name, d := range c.Retention {
		if _, ok := DefaultRetention[name]; !ok {
			errs = append(errs, fmt.Errorf("record: retention for stream %q: %w", name, ErrUnknownStream))
		} else if d <= 0 {
			errs = append(errs, fmt.Errorf("record: retention for stream %q is %v; it must be positive", name, d))
		}
		ret[name] = d
	}
	for name, d := range DefaultRetention {
		if _, ok := ret[name]; !ok {
			ret[name] = d
		}
	}
	c.Retention = ret
	if c.SampleEvery < 0 {
		errs = append(errs, fmt.Errorf("record: SampleEvery is %d; it must be positive", c.SampleEvery))
	} else if c.SampleEvery == 0 {
		c.SampleEvery = 20
	}
	if c.MaxSources < 0 {
		errs = append(errs, fmt.Errorf("record: MaxSources is %d; it must be positive", c.MaxSources))
	} else if c.MaxSources == 0 {
		c.MaxSources = 20000
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("record: QueueSize is %d; it must be positive", c.QueueSize))
	} else if c.QueueSize == 0 {
		c.QueueSize = 4096
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Origin == "" {
		host, err := os.Hostname()
		if err != nil {
			errs = append(errs, fmt.Errorf("record: default origin: %w", err))
		}
		c.Origin = "preau.evidence/" + host
	}
	if strings.ContainsFunc(c.Origin, unicode.IsSpace) || strings.Contains(c.Origin, "+") {
		errs = append(errs, fmt.Errorf("record: origin %q must not contain spaces or '+'", c.Origin))
	}
	if strings.ContainsFunc(c.ClockSource, unicode.IsControl) {
		errs = append(errs, fmt.Errorf("record: clock source %q contains control characters", c.ClockSource))
	}
	return errors.Join(errs...)
}

// Emit records a detection event. It implements detect.Sink: it never
// blocks (the event is queued for Run, or dropped and counted when the
// queue is full) and never calls back into the detector. An episode_start
// starts the aggregation of requests at once, an episode_end stops it.
func (r *Recorder) Emit(ev detect.Event) {
	if !r.closeMu.TryRLock() {
		r.events.dropped.Add(1) // Close is under way
		return
	}
	defer r.closeMu.RUnlock()
	if r.closed {
		r.events.dropped.Add(1)
		return
	}
	switch ev.Kind {
	case "episode_start":
		id := ""
		if ev.Episode != nil {
			id = ev.Episode.ID
		}
		r.endEpisode(r.active.Swap(newEpisodeState(id, r.cfg.SampleEvery, r.cfg.MaxSources, &r.overflow)))
	case "episode_end":
		r.endEpisode(r.active.Swap(nil))
	}
	select {
	case r.evq <- ev:
	default:
		r.events.dropped.Add(1)
	}
}

// endEpisode hands an episode's aggregates to the writer.
func (r *Recorder) endEpisode(ep *episodeState) {
	if ep == nil {
		return
	}
	r.endedMu.Lock()
	r.ended = append(r.ended, ep)
	r.endedMu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Request observes one request the shield handled. Outside episodes it does
// nothing and costs one atomic load. During an episode it counts the
// request in its source's aggregate for the minute and queues 1 request in
// SampleEvery for the requests stream; it never blocks on the writer.
func (r *Recorder) Request(s RequestSample) {
	ep := r.active.Load()
	if ep == nil {
		return
	}
	r.observe(ep, &s)
}

func (r *Recorder) observe(ep *episodeState, s *RequestSample) {
	sample, dropped := ep.observe(s)
	if dropped {
		r.sources.dropped.Add(1)
		return
	}
	if !sample {
		return
	}
	if !r.closeMu.TryRLock() {
		r.reqs.dropped.Add(1)
		return
	}
	defer r.closeMu.RUnlock()
	if r.closed {
		r.reqs.dropped.Add(1)
		return
	}
	select {
	case r.sampleq <- sampled{episode: ep.id, s: *s}:
	default:
		r.reqs.dropped.Add(1)
	}
}

// Audit appends an entry of the administrators' audit log to the events
// stream and returns once it is on stable storage. details values are
// converted like event fields.
func (r *Recorder) Audit(actor, action string, details map[string]any) error {
	rec := auditRecord{header: newHeader("audit", r.now()), Actor: actor, Action: action, Details: fieldsOf(details)}
	if rec.Details == nil {
		rec.Details = map[string]any{}
	}
	if err := r.appendRecords(r.events, rec); err != nil {
		return fmt.Errorf("record: audit %s by %s: %w", action, actor, err)
	}
	return nil
}

// appendRecords encodes recs and appends them to s.
func (r *Recorder) appendRecords(s *stream, recs ...any) error {
	lines := make([][]byte, 0, len(recs))
	var errs []error
	for _, rec := range recs {
		b, err := marshal(rec)
		if err != nil {
			// Only a bug gets here: records are built from plain types.
			s.errors.Add(1)
			errs = append(errs, fmt.Errorf("record: encode %T: %w", rec, err))
			continue
		}
		lines = append(lines, b)
	}
	if err := s.append(lines); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return nil
}

// Run writes what Emit and Request gathered until ctx is done: events and
// sampled requests as they come, minute aggregates a few seconds after each
// minute and when an episode ends. Every minute it signs a checkpoint of
// each segment appended to, and once a day (first when it starts) it applies
// retention. Before returning it writes what is queued and the aggregates
// of the minutes that ended. Run is meant to be called once; a second
// concurrent call returns at once.
func (r *Recorder) Run(ctx context.Context) {
	if !r.running.CompareAndSwap(false, true) {
		r.log.Error("evidence record: Run called twice")
		return
	}
	defer r.running.Store(false)
	r.step(func() { r.sweep(r.now()) })
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// Sampled requests are written in batches: after the first of a batch
	// the writer waits sampleDelay for more (the queue holds them), so a
	// flood's samples cost a few fsyncs a second, not one per handful of
	// samples. Nobody waits for a sample to be durable; a crash loses at
	// most the queue, as it would without the delay.
	samples := r.sampleq
	var first sampled
	var samplesDue <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			r.step(func() {
				if samplesDue != nil {
					r.writeSamples(first)
				}
				r.drain()
				r.flushEnded()
				if ep := r.active.Load(); ep != nil {
					r.flushSources(ep, ep.take(unixMinute(r.now().Add(-grace)), false))
				}
				r.checkpoints()
			})
			return
		case ev := <-r.evq:
			r.step(func() { r.writeEvents(ev) })
		case s := <-samples:
			if len(r.sampleq) >= cap(r.sampleq)/2 {
				r.step(func() { r.writeSamples(s) })
				continue
			}
			first, samples, samplesDue = s, nil, time.After(sampleDelay)
		case <-samplesDue:
			r.step(func() { r.writeSamples(first) })
			samples, samplesDue = r.sampleq, nil
		case <-r.kick:
			r.step(r.flushEnded)
		case <-tick.C:
			r.step(r.periodic)
		}
	}
}

// sampleDelay is how long the writer gathers sampled requests before
// writing them.
const sampleDelay = 250 * time.Millisecond

// step runs f as the writer, unless the recorder is closed.
func (r *Recorder) step(f func()) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if r.isClosed() {
		return
	}
	f()
}

func (r *Recorder) isClosed() bool {
	r.closeMu.RLock()
	defer r.closeMu.RUnlock()
	return r.closed
}

func (r *Recorder) periodic() {
	now := r.now()
	if ep := r.active.Load(); ep != nil {
		r.flushSources(ep, ep.take(unixMinute(now.Add(-grace)), false))
	}
	if m := unixMinute(now); m != r.lastCP {
		r.lastCP = m
		r.checkpoints()
	}
	if now.Sub(r.lastSweep) >= 24*time.Hour || now.Before(r.lastSweep) {
		r.sweep(now)
	}
}

func (r *Recorder) checkpoints() {
	for _, name := range streamNames {
		if err := r.streams[name].checkpoint(); err != nil {
			r.log.Error("evidence record: checkpoint", "stream", name, "err", err)
		}
	}
}

// sweep applies retention to every stream, and records each removal in the
// events stream (after the sweep: removing an events segment holds that
// stream's directory).
func (r *Recorder) sweep(now time.Time) {
	r.lastSweep = now
	var recs []any
	for _, name := range streamNames {
		for _, rm := range r.streams[name].sweep(now) {
			recs = append(recs, auditRecord{
				header: newHeader("audit", now),
				Actor:  "preau",
				Action: "evidence.segment_removed",
				Details: map[string]any{
					"stream": rm.Stream, "month": rm.Month, "retention": rm.Retention,
					"records": rm.Records, "root": rm.Root, "verifier_key": rm.VerifierKey,
					"checkpoint": rm.Checkpoint,
				},
			})
		}
	}
	if len(recs) > 0 {
		r.appendRecords(r.events, recs...) // failures are logged and counted
	}
}

// drain writes every queued event and sample.
func (r *Recorder) drain() {
	for {
		select {
		case ev := <-r.evq:
			r.writeEvents(ev)
		case s := <-r.sampleq:
			r.writeSamples(s)
		default:
			return
		}
	}
}

// writeEvents writes ev and whatever else is queued, as one append.
func (r *Recorder) writeEvents(ev detect.Event) {
	recs := []any{eventRecordOf(ev)}
	for len(recs) < appendChunk {
		select {
		case ev := <-r.evq:
			recs = append(recs, eventRecordOf(ev))
			continue
		default:
		}
		break
	}
	r.appendRecords(r.events, recs...)
}

// writeSamples writes s and the samples queued behind it, in appends of at
// most appendChunk records.
func (r *Recorder) writeSamples(s sampled) {
	recs := []any{requestRecordOf(s)}
	for {
		select {
		case s := <-r.sampleq:
			recs = append(recs, requestRecordOf(s))
			if len(recs) < appendChunk {
				continue
			}
		default:
		}
		if len(recs) > 0 {
			r.appendRecords(r.reqs, recs...)
		}
		if len(recs) < appendChunk {
			return
		}
		recs = recs[:0]
	}
}

// flushEnded writes everything left of the episodes that ended.
func (r *Recorder) flushEnded() {
	r.endedMu.Lock()
	ended := r.ended
	r.ended = nil
	r.endedMu.Unlock()
	for _, ep := range ended {
		r.flushSources(ep, ep.take(0, true))
	}
}

func (r *Recorder) flushSources(ep *episodeState, slots []slot) {
	if len(slots) == 0 {
		return
	}
	ms := ep.records(slots, r.now())
	recs := make([]any, len(ms))
	for i := range ms {
		recs[i] = ms[i]
	}
	r.appendRecords(r.sources, recs...)
}

func eventRecordOf(ev detect.Event) any {
	h := newHeader(ev.Kind, ev.Time)
	fields := fieldsOf(ev.Fields)
	if ev.Kind == "episode_start" || ev.Kind == "episode_end" {
		rec := episodeRecord{header: h, Seq: ev.Seq, Level: ev.Level.String(), Reason: ev.Reason, Fields: fields}
		if ev.Episode != nil {
			rec.Episode = episodeOf(ev.Episode)
		} else {
			rec.Episode = episodeJSON{TopSources: []talkerJSON{}, TopPrefixes: []talkerJSON{}, TopNets: []talkerJSON{}, TopPaths: []talkerJSON{}, TopAgents: []talkerJSON{}}
		}
		return rec
	}
	rec := eventRecord{header: h, Seq: ev.Seq, Level: ev.Level.String(), Reason: ev.Reason, Fields: fields}
	if ev.Episode != nil {
		rec.Episode = ev.Episode.ID
	} else if id, ok := ev.Fields["episode_id"].(string); ok {
		rec.Episode = id
	}
	return rec
}

func requestRecordOf(s sampled) requestRecord {
	return requestRecord{
		header:  newHeader("request", s.s.Time),
		Episode: s.episode,
		Addr:    s.s.Addr.String(),
		Port:    s.s.Port,
		Method:  truncate(s.s.Method, maxMethod),
		Path:    cleanPath(s.s.Path),
		Status:  s.s.Status,
		Bytes:   s.s.Bytes,
		Agent:   truncate(s.s.Agent, maxAgent),
		Class:   s.s.Class,
		Outcome: s.s.Outcome,
	}
}

func (r *Recorder) clockRecord(now time.Time) clockRecord {
	host, _ := os.Hostname()
	return clockRecord{
		header:      newHeader("clock", now),
		ClockSource: r.clockSource,
		TimeSync:    r.sync.synced,
		SyncSource:  r.sync.source,
		MaxErrorUS:  r.sync.maxErrorUS,
		EstErrorUS:  r.sync.estErrorUS,
		Host:        host,
		PID:         os.Getpid(),
	}
}

// Close writes what is queued and every aggregate, including those of the
// minute under way and of an episode still open, signs a final checkpoint
// of each open segment and closes the journals. Emit, Request and Audit
// after Close drop or fail. Closing twice does nothing.
func (r *Recorder) Close() error {
	r.closeMu.Lock()
	if r.closed {
		r.closeMu.Unlock()
		return nil
	}
	r.closed = true
	r.closeMu.Unlock()

	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.endEpisode(r.active.Swap(nil))
	r.drain()
	r.flushEnded()
	var errs []error
	for _, name := range streamNames {
		if err := r.streams[name].close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	st := Stats{Streams: make(map[string]StreamStats, len(streamNames))}
	for _, name := range streamNames {
		s := r.streams[name]
		st.Streams[name] = StreamStats{Appended: s.appended.Load(), Dropped: s.dropped.Load(), Errors: s.errors.Load()}
	}
	if ep := r.active.Load(); ep != nil {
		st.Episode = ep.id
	}
	st.Overflow = r.overflow.Load()
	return st
}

// Segments lists a stream's segments, oldest first.
func (r *Recorder) Segments(stream string) ([]Segment, error) {
	s, ok := r.streams[stream]
	if !ok {
		return nil, fmt.Errorf("record: segments of %q: %w", stream, ErrUnknownStream)
	}
	return s.segments()
}
