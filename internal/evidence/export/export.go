package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"preau/internal/evidence/attrib"
	"preau/internal/evidence/journal"
	"preau/internal/evidence/stix"
)

// Options configure Export.
type Options struct {
	Dir       string // the evidence directory (streams inside)
	EpisodeID string
	CaseRef   string // investigators' reference
	TLP       string // clear, green, amber, amber+strict, red
	Out       string // package directory to create; must not exist or be empty
	Raw       bool   // include raw request records (requests stream); default: aggregates only

	// Pseudonymise, when non-nil, is an HMAC-SHA256 key: addresses in the
	// CSVs, the STIX bundle and the report are replaced by the first 96 bits
	// of HMAC-SHA256(key, address), keeping ASN, AS name and country.
	// entries.jsonl, which holds the original leaves, is then replaced by
	// leaves.jsonl, which holds only their hashes.
	Pseudonymise []byte

	Attributor *attrib.Attributor // nil: no attribution (columns empty, said in metadata)
	Producer   string             // organisation named in the STIX identity; "" means "Préau"
	Version    string             // Préau version, for metadata.json
	Now        func() time.Time   // the export time in metadata.json; nil means time.Now

	// Progress, when not nil, is called as the segments are read with the
	// records read so far and an estimate of the total, and once at the
	// end with done == total.
	Progress func(done, total int64)

	// Logger receives the journals' operational messages; nil means
	// slog.Default().
	Logger *slog.Logger
}

// SegmentCheckpoint describes the checkpoint a package uses for one segment.
type SegmentCheckpoint struct {
	Stream   string
	Segment  string // YYYY-MM
	TreeSize int64
	Time     time.Time
	Entries  int64 // exported leaves of the segment
}

// Summary describes a finished export.
type Summary struct {
	Out           string
	Episode       Episode
	Entries       map[string]int64 // exported leaves per stream
	Runs          int              // lines of proofs.jsonl
	Sources       int              // rows of sources.csv
	Checkpoints   []SegmentCheckpoint
	Files         []string // package files, sorted, slash-separated
	Raw           bool
	Pseudonymised bool

	// LeftOut counts, per stream, the episode's records that were newer
	// than the latest signed checkpoint of their segment and are therefore
	// not in the package. While Préau runs it signs a checkpoint every
	// minute it records, so an export a minute later includes them.
	LeftOut map[string]int64
	// Warnings are problems that did not stop the export, such as a
	// segment's unsigned tail that could not be read.
	Warnings []string
	// SignerFingerprint is the hex SHA-256 of the manifest signer's public
	// key, to be given to the recipients through another channel.
	SignerFingerprint string
}

// TotalLeftOut is the sum of LeftOut.
func (s Summary) TotalLeftOut() int64 {
	var n int64
	for _, v := range s.LeftOut {
		n += v
	}
	return n
}

// exporter carries one export's state.
type exporter struct {
	ctx  context.Context
	o    Options
	tmp  string
	scan *episodeScan
	qid  []byte
	from time.Time // window of context records (clock, audit)
	to   time.Time

	entries *outFile
	proofs  *outFile
	line    []byte

	agg       map[string]*sourceAgg
	minutes   int64
	summaries int64
	chart     *timeline
	clocks    []clockMeta
	vkeys     []string
	sum       Summary
	warnings  []string

	done, total int64
}

// sourceAgg is one address's total over the episode's source_minute records.
type sourceAgg struct {
	first, last time.Time
	requests    int64
}

// Export writes the evidence package of one episode to o.Out; see the
// package documentation for its layout. It reads each segment's journal
// read-only and sequentially, so it works while Préau runs and memory grows
// with the number of distinct source addresses and of gaps between exported
// leaves, not with the number of leaves. It exports the records covered by
// each segment's latest signed checkpoint; the episode's newer records are
// counted in Summary.LeftOut and metadata.json. On failure nothing is left
// at o.Out (a pre-existing empty directory stays).
//
// Errors wrap ErrInvalidOptions, ErrOutNotEmpty, ErrEpisodeNotFound,
// ErrNotYetSigned, the journal's errors (a damaged segment), or
// stix.ErrInvalidEpisode.
func Export(ctx context.Context, o Options) (Summary, error) {
	if err := checkOptions(&o); err != nil {
		return Summary{}, err
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	outExists, err := emptyOrAbsent(out)
	if err != nil {
		return Summary{}, err
	}
	eps, warnings, err := scanEpisodes(ctx, o.Dir, o.EpisodeID, o.Logger)
	if err != nil {
		return Summary{}, err
	}
	scan := eps[o.EpisodeID]
	if scan == nil {
		return Summary{}, fmt.Errorf("export: %q in %s: %w", o.EpisodeID, o.Dir, ErrEpisodeNotFound)
	}
	if !scan.signed {
		return Summary{}, fmt.Errorf("export: %q in %s: %w", o.EpisodeID, o.Dir, ErrNotYetSigned)
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-")
	if err != nil {
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	e := &exporter{ctx: ctx, o: o, tmp: tmp, scan: scan, qid: quotedID(o.EpisodeID), agg: map[string]*sourceAgg{}, warnings: warnings}
	e.sum = Summary{Out: out, Episode: scan.ep, Entries: map[string]int64{}, LeftOut: map[string]int64{},
		Raw: o.Raw, Pseudonymised: o.Pseudonymise != nil}
	e.from, e.to = scan.ep.Start, scan.ep.End
	if scan.ep.Open() {
		e.to = scan.lastTime
	}
	e.chart = newTimeline(scan.ep.Start)

	if err := e.run(); err != nil {
		if e.entries != nil {
			e.entries.abort()
		}
		if e.proofs != nil {
			e.proofs.abort()
		}
		os.RemoveAll(tmp)
		return Summary{}, err
	}
	if outExists {
		if err := os.Remove(out); err != nil {
			os.RemoveAll(tmp)
			return Summary{}, fmt.Errorf("export: %w", err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		os.RemoveAll(tmp)
		return Summary{}, fmt.Errorf("export: %w", err)
	}
	return e.sum, nil
}

func checkOptions(o *Options) error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("Dir is empty"))
	}
	if strings.TrimSpace(o.EpisodeID) == "" {
		errs = append(errs, errors.New("EpisodeID is empty"))
	}
	if o.Out == "" {
		errs = append(errs, errors.New("Out is empty"))
	}
	if _, ok := stix.TLPRank(o.TLP); !ok {
		errs = append(errs, fmt.Errorf("TLP %q is not one of clear, green, amber, amber+strict, red", o.TLP))
	}
	if o.Pseudonymise != nil && len(o.Pseudonymise) < 16 {
		errs = append(errs, errors.New("Pseudonymise key is shorter than 16 bytes"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	if o.Producer == "" {
		o.Producer = "Préau"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// emptyOrAbsent reports whether dir exists; it fails unless dir is absent
// or an empty directory.
func emptyOrAbsent(dir string) (exists bool, err error) {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("export: output %s: %w", dir, err)
	case len(ents) > 0:
		return false, fmt.Errorf("export: %s: %w", dir, ErrOutNotEmpty)
	}
	return true, nil
}

func (e *exporter) run() error {
	var err error
	name := fileEntries
	if e.o.Pseudonymise != nil {
		name = fileLeaves
	}
	if e.entries, err = createFile(e.tmp, name); err != nil {
		return err
	}
	if e.proofs, err = createFile(e.tmp, fileProofs); err != nil {
		return err
	}

	plan, err := e.plan()
	if err != nil {
		return err
	}
	for _, p := range plan {
		e.total += segmentRecords(e.o.Dir, p.stream, p.segment)
	}
	for _, p := range plan {
		if err := e.segment(p.stream, p.segment); err != nil {
			return err
		}
	}
	if e.o.Progress != nil {
		// The total was estimated from the index sizes, which count records
		// after the checkpoints too: what was read is the whole.
		e.o.Progress(e.done, e.done)
	}
	err = e.entries.Close()
	e.entries = nil
	if err != nil {
		return err
	}
	err = e.proofs.Close()
	e.proofs = nil
	if err != nil {
		return err
	}
	return e.finish()
}

type segRef struct{ stream, segment string }

// plan lists the segments to read: the events segments holding the
// episode's records or its context (clock and audit records of the window,
// the clock record before it), and the sources and requests segments of the
// months the episode spans plus the next one, whose first records may
// still describe its last minute.
func (e *exporter) plan() ([]segRef, error) {
	var plan []segRef
	events, err := segments(e.o.Dir, StreamEvents)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range e.scan.segments {
		want[s] = true
	}
	if c := e.scan.clockBefore; c != nil {
		want[c.segment] = true
	}
	for _, s := range events {
		if want[s] || e.inWindow(s, false) {
			plan = append(plan, segRef{StreamEvents, s})
		}
	}
	others := []string{StreamSources}
	if e.o.Raw {
		others = append(others, StreamRequests)
	}
	for _, st := range others {
		segs, err := segments(e.o.Dir, st)
		if err != nil {
			return nil, err
		}
		for _, s := range segs {
			if e.inWindow(s, true) {
				plan = append(plan, segRef{st, s})
			}
		}
	}
	return plan, nil
}

// inWindow reports whether month segment seg overlaps the episode, or with
// next the month after it.
func (e *exporter) inWindow(seg string, next bool) bool {
	m, ok := segmentMonth(seg)
	if !ok {
		return false
	}
	first := time.Date(e.from.Year(), e.from.Month(), 1, 0, 0, 0, 0, time.UTC)
	if m.Before(first) {
		return false
	}
	if e.scan.ep.Open() {
		return true
	}
	last := time.Date(e.to.Year(), e.to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if next {
		last = last.AddDate(0, 1, 0)
	}
	return !m.After(last)
}

// segment exports the episode's leaves of one segment with their proofs,
// and counts those the package leaves out because no checkpoint covers them
// yet.
func (e *exporter) segment(stream, seg string) error {
	j, err := openSegment(e.o.Dir, stream, seg, e.o.Logger)
	if err != nil {
		return err
	}
	defer j.Close()
	var rs runs
	var n int64
	err = j.Scan(0, j.Size(), func(i int64, b []byte) error {
		e.done++
		if e.done%8192 == 0 {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if e.o.Progress != nil {
				e.o.Progress(e.done, max(e.total, e.done))
			}
		}
		keep, err := e.selectRecord(stream, seg, i, b)
		if err != nil || !keep {
			return err
		}
		if err := e.writeEntry(stream, seg, i, b); err != nil {
			return err
		}
		rs.add(i)
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("export: scan %s/%s: %w", stream, seg, err)
	}
	err = j.ScanUncovered(func(_ int64, b []byte) error {
		if e.ours(stream, b) {
			e.sum.LeftOut[stream]++
		}
		return nil
	})
	if err != nil {
		e.warnings = append(e.warnings, fmt.Sprintf("%s/%s: the records after the latest signed checkpoint could not be read (%v); whether some belong to the episode is unknown", stream, seg, err))
	}
	if n == 0 {
		return j.Close()
	}
	// A read-only journal serves only what its latest checkpoint covers.
	cp, ok := j.Latest()
	if !ok || cp.Tree.N != j.Size() {
		return fmt.Errorf("export: %s/%s: no signed checkpoint covers the %d records read", stream, seg, j.Size())
	}
	if err := writeFile(e.tmp, checkpointFile(stream, seg), cp.Signed); err != nil {
		return err
	}
	e.vkeys = append(e.vkeys, label(stream, seg)+" "+j.VerifierKey())
	for _, r := range rs {
		if err := e.writeProof(j, stream, seg, cp.Tree.N, r); err != nil {
			return err
		}
	}
	e.sum.Runs += len(rs)
	e.sum.Entries[stream] += n
	e.sum.Checkpoints = append(e.sum.Checkpoints, SegmentCheckpoint{
		Stream: stream, Segment: seg, TreeSize: cp.Tree.N, Time: cp.Time, Entries: n})
	return j.Close()
}

// ours reports, without side effects, whether a record of stream belongs
// to the exported episode (context records aside).
func (e *exporter) ours(stream string, b []byte) bool {
	if !bytes.Contains(b, e.qid) {
		return false
	}
	var r record
	if json.Unmarshal(b, &r) != nil {
		return false
	}
	id, _, err := r.episodeID()
	if err != nil || id != e.o.EpisodeID {
		return false
	}
	switch stream {
	case StreamRequests:
		return r.Kind == kindRequest && e.o.Raw
	case StreamSources:
		return r.Kind == kindSourceMinute
	}
	return episodeKinds[r.Kind]
}

// selectRecord decides whether a leaf belongs in the package, and gathers
// what the derived files need from those that do.
func (e *exporter) selectRecord(stream, seg string, i int64, b []byte) (bool, error) {
	switch stream {
	case StreamRequests:
		if !bytes.Contains(b, e.qid) {
			return false, nil
		}
		var r minRecord
		if json.Unmarshal(b, &r) != nil || r.Kind != kindRequest {
			return false, nil
		}
		id := rawString(r.Episode)
		return id == e.o.EpisodeID, nil
	case StreamSources:
		if !bytes.Contains(b, e.qid) {
			return false, nil
		}
		var r record
		if json.Unmarshal(b, &r) != nil || r.Kind != kindSourceMinute {
			return false, nil
		}
		if id, _, _ := r.episodeID(); id != e.o.EpisodeID {
			return false, nil
		}
		e.addMinute(&r)
		return true, nil
	}
	// events
	ours := bytes.Contains(b, e.qid)
	if !ours && !bytes.Contains(b, []byte(kindClock)) && !bytes.Contains(b, []byte(kindAudit)) {
		return false, nil
	}
	var r record
	if json.Unmarshal(b, &r) != nil {
		return false, nil
	}
	id, _, err := r.episodeID()
	if err == nil && id == e.o.EpisodeID && episodeKinds[r.Kind] {
		if r.Kind == kindDecisionSummary {
			e.summaries++
			if sum, ok := r.summary(); ok {
				e.chart.add(sum, r.Time)
			}
		}
		return true, nil
	}
	if id != "" {
		return false, nil
	}
	if !contextRecord(&r, e.from, e.to) && !(r.Kind == kindClock && e.scan.clockBefore != nil && *e.scan.clockBefore == position{seg, i}) {
		return false, nil
	}
	if r.Kind == kindClock {
		e.clocks = append(e.clocks, clockMeta{Time: r.Time.UTC(), Source: r.ClockSource, TimeSync: r.TimeSync,
			SyncSource: r.SyncSource, MaxErrorUS: r.MaxErrorUS, EstErrorUS: r.EstErrorUS, Host: r.Host,
			Stream: StreamEvents, Segment: seg, Index: i})
	}
	return true, nil
}

// episodeKinds are the events-stream kinds that belong to an episode by
// their "episode" field.
var episodeKinds = map[string]bool{
	kindEpisodeStart: true, kindEpisodeEnd: true, kindLevelChange: true, kindDecisionSummary: true,
}

// contextRecord reports whether r is a record without episode that a package
// includes because it falls in the episode's window: the clock records
// (whether the time stamps can be trusted) and the audit records (what the
// operators did meanwhile).
func contextRecord(r *record, from, to time.Time) bool {
	if r.Kind != kindClock && r.Kind != kindAudit {
		return false
	}
	t := r.Time
	return !t.Before(from) && !t.After(to)
}

func (e *exporter) addMinute(r *record) {
	e.minutes++
	a := e.agg[r.Addr]
	if a == nil {
		a = &sourceAgg{first: r.First.UTC(), last: r.Last.UTC()}
		if a.first.IsZero() {
			a.first = r.Minute.UTC()
		}
		if a.last.IsZero() {
			a.last = a.first
		}
		e.agg[strings.Clone(r.Addr)] = a
	}
	if !r.First.IsZero() && r.First.Before(a.first) {
		a.first = r.First.UTC()
	}
	if r.Last.After(a.last) {
		a.last = r.Last.UTC()
	}
	a.requests += r.Requests
}

// writeEntry writes one line of entries.jsonl (or, pseudonymised, of
// leaves.jsonl). The record is kept byte for byte: as a JSON string when it
// is valid UTF-8, which decodes back to the same bytes, else in base64.
func (e *exporter) writeEntry(stream, seg string, i int64, b []byte) error {
	h := tlog.RecordHash(b)
	l := e.line[:0]
	l = append(l, `{"stream":"`...)
	l = append(l, stream...)
	l = append(l, `","segment":"`...)
	l = append(l, seg...)
	l = append(l, `","index":`...)
	l = append(l, itoa(i)...)
	l = append(l, `,"leaf_hash":"`...)
	l = append(l, h.String()...)
	l = append(l, '"')
	if e.o.Pseudonymise == nil {
		if utf8.Valid(b) {
			l = append(l, `,"record":`...)
			l = appendJSONString(l, b)
		} else {
			rb, _ := json.Marshal(b)
			l = append(l, `,"record_base64":`...)
			l = append(l, rb...)
		}
	}
	l = append(l, "}\n"...)
	e.line = l
	if _, err := e.entries.Write(l); err != nil {
		return fmt.Errorf("export: write entries: %w", err)
	}
	return nil
}

// appendJSONString appends s, valid UTF-8, as a JSON string literal that
// decodes to exactly s.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// proofLine is one line of proofs.jsonl: the inclusion proofs of the first
// and last leaves of a run against the segment's checkpoint.
type proofLine struct {
	Stream     string   `json:"stream"`
	Segment    string   `json:"segment"`
	Checkpoint string   `json:"checkpoint"`
	TreeSize   int64    `json:"tree_size"`
	First      int64    `json:"first"`
	Count      int64    `json:"count"`
	FirstProof []string `json:"first_proof"`
	LastProof  []string `json:"last_proof,omitempty"`
}

func (e *exporter) writeProof(j *journal.Journal, stream, seg string, size int64, r run) error {
	p := proofLine{Stream: stream, Segment: seg, Checkpoint: checkpointFile(stream, seg), TreeSize: size,
		First: r.first, Count: r.count}
	first, err := j.InclusionProof(r.first, size)
	if err != nil {
		return fmt.Errorf("export: %s/%s: %w", stream, seg, err)
	}
	p.FirstProof = hashStrings(first)
	if r.count > 1 {
		last, err := j.InclusionProof(r.first+r.count-1, size)
		if err != nil {
			return fmt.Errorf("export: %s/%s: %w", stream, seg, err)
		}
		p.LastProof = hashStrings(last)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := e.proofs.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("export: write proofs: %w", err)
	}
	return nil
}

func hashStrings(p []tlog.Hash) []string {
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = h.String()
	}
	return out
}

// sortedSources returns the aggregated sources, most requests first.
func (e *exporter) sortedSources() []sourceRow {
	rows := make([]sourceRow, 0, len(e.agg))
	for addr, a := range e.agg {
		rows = append(rows, sourceRow{addr: addr, first: a.first, last: a.last, requests: a.requests})
	}
	if len(rows) == 0 {
		// No per-minute aggregate: fall back to the episode's top sources,
		// whose counts are estimates.
		for _, c := range e.scan.ep.TopSources {
			rows = append(rows, sourceRow{addr: c.Key, first: e.from, last: e.to, requests: c.Count, estimated: true})
		}
	}
	slices.SortFunc(rows, func(a, b sourceRow) int {
		if a.requests != b.requests {
			if a.requests > b.requests {
				return -1
			}
			return 1
		}
		return cmpString(a.addr, b.addr)
	})
	return rows
}
