package export

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"preau/internal/evidence/attrib"
	"preau/internal/evidence/stix"
)

// FormatVersion identifies the package layout in metadata.json.
const FormatVersion = "preau-evidence-export/1"

// pseudonymPrefix starts every pseudonym in the CSVs and the report.
const pseudonymPrefix = "anon-"

// pseudonymBytes is how much of the HMAC a pseudonym keeps: 96 bits, which
// also fit in the interface identifier and subnet of 2001:db8::/32.
const pseudonymBytes = 12

// pseudonym returns the pseudonym of an address: the first 96 bits of
// HMAC-SHA256(key, canonical address text), in hex. Other keys ("other", the
// recorder's overflow aggregate) are kept.
func pseudonym(key []byte, addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(a.WithZone("").Unmap().String()))
	return pseudonymPrefix + hex.EncodeToString(m.Sum(nil)[:pseudonymBytes])
}

// pseudonymAddr maps a pseudonym onto the IPv6 documentation prefix
// 2001:db8::/32 (RFC 3849), which no real source can have, so that the STIX
// bundle stays valid and still tells the sources apart.
func pseudonymAddr(p string) (netip.Addr, bool) {
	h, ok := strings.CutPrefix(p, pseudonymPrefix)
	if !ok || len(h) != 2*pseudonymBytes {
		return netip.Addr{}, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return netip.Addr{}, false
	}
	var a [16]byte
	a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
	copy(a[4:], b)
	return netip.AddrFrom16(a), true
}

// sourceRow is one line of sources.csv.
type sourceRow struct {
	addr        string // as recorded
	shown       string // as written: the address or its pseudonym
	first, last time.Time
	requests    int64
	estimated   bool // from the episode's top sources, not from source_minute records
	asn         uint32
	asName      string
	country     string
	class       string
	confidence  float64
	attributed  bool
}

// clockMeta is a clock record of the package (the recorder writes one when
// it starts), with its place in entries.jsonl.
type clockMeta struct {
	Time       time.Time `json:"time"`
	Source     string    `json:"clock_source"`
	TimeSync   string    `json:"time_sync"` // "yes", "no" or "unknown"
	SyncSource string    `json:"sync_source,omitempty"`
	MaxErrorUS *int64    `json:"max_error_us,omitempty"`
	EstErrorUS *int64    `json:"est_error_us,omitempty"`
	Host       string    `json:"host,omitempty"`
	Stream     string    `json:"stream"`
	Segment    string    `json:"segment"`
	Index      int64     `json:"index"`
}

// metadata is the content of metadata.json.
type metadata struct {
	Format     string       `json:"format"`
	Episode    metaEpisode  `json:"episode"`
	Case       string       `json:"case"`
	TLP        string       `json:"tlp"`
	Producer   string       `json:"producer"`
	Version    string       `json:"preau_version"`
	ExportedAt time.Time    `json:"exported_at"`
	Raw        bool         `json:"raw_requests"`
	Pseudonym  metaPseudo   `json:"pseudonymisation"`
	Attrib     metaAttrib   `json:"attribution"`
	Clock      []clockMeta  `json:"clock_records"`
	Signer     metaSigner   `json:"signer"`
	Segments   []metaSeg    `json:"segments"`
	Counts     metaCounts   `json:"counts"`
	Sources    string       `json:"sources_from"`
	Timeline   metaTimeline `json:"timeline"`
	LeftOut    metaLeftOut  `json:"left_out"`
	Warnings   []string     `json:"warnings"`
	Caveat     metaBilingue `json:"caveat"`
}

// metaTimeline describes the report's chart: the requests of each series
// over the episode's decision summaries.
type metaTimeline struct {
	From string `json:"from"` // "decision_summary"
	timelineTotals
}

// metaLeftOut counts the episode's records not in the package because no
// signed checkpoint covered them yet at export time.
type metaLeftOut struct {
	Records map[string]int64 `json:"records"`
	Note    string           `json:"note"`
}

type metaEpisode struct {
	ID       string    `json:"id"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Open     bool      `json:"open"`
	PeakRate float64   `json:"peak_rate"`
	Requests int64     `json:"requests"`
	MaxLevel string    `json:"max_level"`
	Kind     string    `json:"kind"`
}

type metaPseudo struct {
	Enabled bool   `json:"enabled"`
	Method  string `json:"method,omitempty"`
	Note    string `json:"note,omitempty"`
}

type metaAttrib struct {
	Enabled  bool          `json:"enabled"`
	Note     string        `json:"note,omitempty"`
	Datasets []metaDataset `json:"datasets"`
}

type metaDataset struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Licence string `json:"licence"`
	SHA256  string `json:"sha256"`
	Kind    string `json:"kind"`
	File    string `json:"file"`
}

type metaSigner struct {
	Segment     string `json:"segment"`
	VerifierKey string `json:"verifier_key"`
	Fingerprint string `json:"sha256_of_public_key"`
}

type metaSeg struct {
	Stream     string    `json:"stream"`
	Segment    string    `json:"segment"`
	Checkpoint string    `json:"checkpoint"`
	TreeSize   int64     `json:"tree_size"`
	Time       time.Time `json:"checkpoint_time"`
	Entries    int64     `json:"entries"`
}

type metaCounts struct {
	Entries           map[string]int64 `json:"entries"`
	ProofRuns         int              `json:"proof_runs"`
	Sources           int              `json:"sources"`
	SourceMinutes     int64            `json:"source_minutes"`
	DecisionSummaries int64            `json:"decision_summaries"`
}

type metaBilingue struct {
	FR string `json:"fr"`
	EN string `json:"en"`
}

// loginPath reports whether a top path key names a login form post.
func loginPath(key string) bool {
	k := strings.ToLower(key)
	if m, _, ok := strings.Cut(k, " "); ok && strings.ToUpper(m) != "POST" && strings.HasPrefix(k, m+" /") {
		return false
	}
	for _, w := range []string{"login", "logon", "signin", "sign_in", "sign-in", "connexion", "/auth", "j_security_check"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// episodeKind is "login_flood" when the most requested path is a login
// post, else "http_flood".
func episodeKind(ep Episode) string {
	if len(ep.TopPaths) > 0 {
		top := slices.MaxFunc(ep.TopPaths, func(a, b Count) int { return int(min(max(a.Count-b.Count, -1), 1)) })
		if loginPath(top.Key) {
			return "login_flood"
		}
	}
	return "http_flood"
}

func (e *exporter) finish() error {
	ep := e.scan.ep
	end := e.to
	if end.Before(ep.Start) {
		end = ep.Start
	}
	rows := e.sortedSources()
	for i := range rows {
		r := &rows[i]
		r.shown = r.addr
		if e.o.Pseudonymise != nil {
			r.shown = pseudonym(e.o.Pseudonymise, r.addr)
		}
		a, err := netip.ParseAddr(r.addr)
		if err != nil || e.o.Attributor == nil {
			continue
		}
		at := e.o.Attributor.Lookup(a)
		r.asn, r.asName, r.country, r.class, r.confidence, r.attributed = at.ASN, at.ASName, at.Country, string(at.Class), at.Confidence, true
	}
	e.sum.Sources = len(rows)
	kind := episodeKind(ep)

	if err := e.writeSourcesCSV(rows); err != nil {
		return err
	}
	if err := e.writeEpisodesCSV(ep, end); err != nil {
		return err
	}
	if err := e.writeSTIX(ep, end, kind, rows); err != nil {
		return err
	}

	// The manifest is signed with the key of the newest events segment.
	events, err := segments(e.o.Dir, StreamEvents)
	if err != nil {
		return err
	}
	signSeg := events[len(events)-1]
	sj, err := openSegment(e.o.Dir, StreamEvents, signSeg, e.o.Logger)
	if err != nil {
		return err
	}
	defer sj.Close()
	signerLabel := label(StreamEvents, signSeg)
	if !slices.ContainsFunc(e.vkeys, func(l string) bool { return strings.HasPrefix(l, signerLabel+" ") }) {
		e.vkeys = append(e.vkeys, signerLabel+" "+sj.VerifierKey())
	}
	if err := writeFile(e.tmp, fileVerifierKey, []byte(strings.Join(e.vkeys, "\n")+"\n")); err != nil {
		return err
	}
	fp := sha256.Sum256(sj.PublicKey())
	md := metadata{
		Format: FormatVersion,
		Episode: metaEpisode{ID: ep.ID, Start: ep.Start, End: end, Open: ep.Open(), PeakRate: ep.PeakRate,
			Requests: ep.Requests, MaxLevel: ep.MaxLevel, Kind: kind},
		Case: e.o.CaseRef, TLP: e.o.TLP, Producer: e.o.Producer, Version: e.o.Version,
		ExportedAt: e.o.Now().UTC(), Raw: e.o.Raw,
		Clock:  e.clocks,
		Signer: metaSigner{Segment: signerLabel, VerifierKey: sj.VerifierKey(), Fingerprint: hex.EncodeToString(fp[:])},
		Counts: metaCounts{Entries: e.sum.Entries, ProofRuns: e.sum.Runs, Sources: len(rows),
			SourceMinutes: e.minutes, DecisionSummaries: e.summaries},
		Sources:  "source_minute",
		Timeline: metaTimeline{From: kindDecisionSummary, timelineTotals: e.chart.totals},
		LeftOut:  metaLeftOut{Records: e.sum.LeftOut},
		Warnings: e.warnings,
		Caveat:   metaBilingue{FR: attrib.CaveatFR, EN: attrib.Caveat},
	}
	if md.Clock == nil {
		md.Clock = []clockMeta{}
	}
	if md.Warnings == nil {
		md.Warnings = []string{}
	}
	for _, s := range streams {
		if _, ok := md.Counts.Entries[s]; !ok {
			md.Counts.Entries[s] = 0
		}
		if _, ok := md.LeftOut.Records[s]; !ok {
			md.LeftOut.Records[s] = 0
		}
	}
	if n := e.sum.TotalLeftOut(); n > 0 {
		md.LeftOut.Note = fmt.Sprintf("%d records of the episode were newer than the latest signed checkpoint of their segment when the package was made, and are not in it; a later export includes them", n)
	} else {
		md.LeftOut.Note = "none: every record of the episode found was covered by a signed checkpoint"
	}
	if e.minutes == 0 {
		md.Sources = "episode_top_sources"
	}
	if e.o.Pseudonymise != nil {
		md.Pseudonym = metaPseudo{Enabled: true,
			Method: "HMAC-SHA256(key, address), first 96 bits in hex, prefixed \"anon-\"; in STIX, the same 96 bits under 2001:db8::/32",
			Note:   "entries.jsonl is replaced by leaves.jsonl (leaf hashes only); the key is not in the package"}
	}
	md.Attrib = metaAttrib{Enabled: e.o.Attributor != nil, Datasets: []metaDataset{}}
	if e.o.Attributor == nil {
		md.Attrib.Note = "no attribution datasets were configured: ASN, AS name, country, class and confidence are empty"
	} else {
		for _, d := range e.o.Attributor.Datasets() {
			md.Attrib.Datasets = append(md.Attrib.Datasets, metaDataset{Name: d.Name, Version: d.Version,
				Licence: d.Licence, SHA256: d.SHA256, Kind: string(d.Kind), File: filepath.Base(d.File)})
		}
	}
	for _, c := range e.sum.Checkpoints {
		md.Segments = append(md.Segments, metaSeg{Stream: c.Stream, Segment: c.Segment,
			Checkpoint: checkpointFile(c.Stream, c.Segment), TreeSize: c.TreeSize, Time: c.Time, Entries: c.Entries})
	}
	mb, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return fmt.Errorf("export: metadata: %w", err)
	}
	if err := writeFile(e.tmp, fileMetadata, append(mb, '\n')); err != nil {
		return err
	}
	if err := e.writeReport(md, rows); err != nil {
		return err
	}
	if err := e.writeReadmes(md); err != nil {
		return err
	}
	if err := writeFile(e.tmp, fileSignerPEM, sj.PublicKeyPEM()); err != nil {
		return err
	}

	manifest, files, err := buildManifest(e.tmp)
	if err != nil {
		return err
	}
	if err := writeFile(e.tmp, fileManifest, manifest); err != nil {
		return err
	}
	if err := writeFile(e.tmp, fileManifestSig, sj.Sign(manifest)); err != nil {
		return err
	}
	e.sum.Files = append(files, fileManifest, fileManifestSig)
	slices.Sort(e.sum.Files)
	e.sum.Warnings = e.warnings
	e.sum.SignerFingerprint = md.Signer.Fingerprint
	return sj.Close()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (e *exporter) writeSourcesCSV(rows []sourceRow) error {
	f, err := createFile(e.tmp, fileSourcesCSV)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(sourcesHeader)
	for _, r := range rows {
		rec := []string{r.shown, fmtTime(r.first), fmtTime(r.last), itoa(r.requests), "", "", "", "", ""}
		if r.attributed {
			if r.asn != 0 {
				rec[4] = strconv.FormatUint(uint64(r.asn), 10)
			}
			rec[5], rec[6], rec[7] = r.asName, r.country, r.class
			rec[8] = strconv.FormatFloat(r.confidence, 'f', 2, 64)
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.abort()
		return fmt.Errorf("export: write %s: %w", fileSourcesCSV, err)
	}
	return f.Close()
}

var (
	sourcesHeader  = []string{"address", "first_seen", "last_seen", "requests", "asn", "as_name", "country", "class", "confidence"}
	episodesHeader = []string{"id", "start", "end", "peak_rate", "requests", "max_level"}
)

func (e *exporter) writeEpisodesCSV(ep Episode, end time.Time) error {
	f, err := createFile(e.tmp, fileEpisodesCSV)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(episodesHeader)
	w.Write([]string{ep.ID, fmtTime(ep.Start), fmtTime(end), strconv.FormatFloat(ep.PeakRate, 'f', -1, 64), itoa(ep.Requests), ep.MaxLevel})
	w.Flush()
	if err := w.Error(); err != nil {
		f.abort()
		return fmt.Errorf("export: write %s: %w", fileEpisodesCSV, err)
	}
	return f.Close()
}

func (e *exporter) writeSTIX(ep Episode, end time.Time, kind string, rows []sourceRow) error {
	in := stix.EpisodeInput{
		Producer: e.o.Producer, CaseRef: e.o.CaseRef, TLP: e.o.TLP, EpisodeID: ep.ID,
		Start: ep.Start, End: end, PeakRate: ep.PeakRate, Requests: ep.Requests, Kind: kind,
	}
	for _, r := range rows {
		a, ok := stixAddr(r.shown)
		if !ok {
			continue // "other" and anything else that is not an address
		}
		first, last := r.first, r.last
		if last.Before(first) {
			last = first
		}
		in.Sources = append(in.Sources, stix.Source{Addr: a, FirstSeen: first, LastSeen: last, Requests: r.requests,
			ASN: r.asn, ASName: r.asName, Country: r.country, Class: r.class, Confidence: r.confidence})
	}
	b, err := stix.BuildEpisodeBundle(in)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	data, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return fmt.Errorf("export: stix: %w", err)
	}
	if probs := stix.Validate(data); len(probs) > 0 {
		msgs := make([]string, 0, 3)
		for _, p := range probs[:min(3, len(probs))] {
			msgs = append(msgs, p.String())
		}
		return fmt.Errorf("export: STIX bundle fails validation (%d problems): %s", len(probs), strings.Join(msgs, "; "))
	}
	return writeFile(e.tmp, fileSTIX, append(data, '\n'))
}

// stixAddr returns the address a sources.csv value stands for in the STIX
// bundle: the address itself, or for a pseudonym its 2001:db8:: mapping.
func stixAddr(shown string) (netip.Addr, bool) {
	if a, ok := pseudonymAddr(shown); ok {
		return a, true
	}
	a, err := netip.ParseAddr(shown)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// buildManifest hashes every file under root except the manifest and its
// signature, in sha256sum's format, sorted by path.
func buildManifest(root string) ([]byte, []string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != fileManifest && rel != fileManifestSig {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("export: manifest: %w", err)
	}
	slices.Sort(files)
	var sb strings.Builder
	for _, rel := range files {
		sum, err := hashFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, nil, fmt.Errorf("export: manifest: %w", err)
		}
		sb.WriteString(sum + "  " + rel + "\n")
	}
	return []byte(sb.String()), files, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
