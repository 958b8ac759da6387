package export

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"preau/internal/evidence/journal"
	"preau/internal/evidence/stix"
)

// The checks Verify reports, in Problem.Check.
const (
	CheckManifest   = "manifest"             // MANIFEST.sha256 is readable and well formed
	CheckHash       = "manifest-hash"        // the file's SHA-256 is the one in the manifest
	CheckUnlisted   = "unlisted-file"        // the file is not in the manifest
	CheckMissing    = "missing-file"         // the manifest lists a file that is absent
	CheckSignature  = "manifest-signature"   // MANIFEST.sha256.sig verifies with signer.pem
	CheckSigner     = "signer-key"           // signer.pem is an Ed25519 key, the one metadata.json names
	CheckMetadata   = "metadata"             // metadata.json is readable and agrees with the entries
	CheckVerifier   = "verifier-key"         // checkpoints/verifier.key is well formed
	CheckCheckpoint = "checkpoint-signature" // a checkpoint's note signature verifies with its segment's key
	CheckProof      = "inclusion-proof"      // every leaf is in its segment's signed checkpoint
	CheckEntry      = "entry"                // entry lines are well formed, ordered, and all proven
	CheckEpisode    = "episode-membership"   // every entry belongs to the episode (or is its clock/audit context)
	CheckCSV        = "csv-consistency"      // the CSVs agree with the entries
	CheckSTIX       = "stix"                 // the bundle is valid STIX 2.1 and agrees with sources.csv
)

// Problem is one failed check of a package.
type Problem struct {
	File   string // slash-separated path inside the package
	Check  string // one of the Check constants
	Detail string
}

func (p Problem) String() string { return p.File + ": " + p.Check + ": " + p.Detail }

// maxLine bounds a line of entries.jsonl or proofs.jsonl: a record is at most
// journal.MaxRecordSize bytes, which JSON escaping can grow sixfold.
const maxLine = 8*journal.MaxRecordSize + 4096

// verifier collects the problems of one package.
type verifier struct {
	dir   string
	probs []Problem
}

func (v *verifier) add(file, check, format string, args ...any) {
	v.probs = append(v.probs, Problem{File: file, Check: check, Detail: fmt.Sprintf(format, args...)})
}

// Verify checks the evidence package in dir offline and returns every
// problem found; none means the package is intact and consistent. It checks
// the manifest hashes of every file and that no file is unlisted, the
// manifest signature with signer.pem, every checkpoint's signature with its
// segment's verifier key, every leaf's inclusion in its checkpoint, that
// the entries belong to the episode metadata.json names, that the CSVs and
// the STIX bundle agree with the entries, and that the bundle is valid
// STIX. The error is for a dir that cannot be read at all.
//
// Verify trusts the keys in the package only to be consistent with each
// other: whether they are the school's keys must be checked out of band
// (the README gives the signer key's fingerprint).
func Verify(dir string) ([]Problem, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("export: verify: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("export: verify: %s is not a directory", dir)
	}
	v := &verifier{dir: dir}
	manifest := v.checkManifest()
	signer := v.checkSignature(manifest)
	md, mdOK := v.readMetadata(signer)
	cps := v.checkCheckpoints()

	entriesName := fileEntries
	if mdOK && md.Pseudonym.Enabled {
		entriesName = fileLeaves
	}
	var res entriesResult
	ef, err1 := os.Open(filepath.Join(dir, entriesName))
	pf, err2 := os.Open(filepath.Join(dir, fileProofs))
	switch {
	case err1 != nil:
		v.add(entriesName, CheckEntry, "cannot read: %v", err1)
	case err2 != nil:
		v.add(fileProofs, CheckProof, "cannot read: %v", err2)
	default:
		var ep episodeRef
		if mdOK {
			ep = episodeRef{id: md.Episode.ID, start: md.Episode.Start, end: md.Episode.End, raw: md.Raw, valid: true}
		}
		var probs []Problem
		res, probs = verifyEntries(ef, pf, entriesName, cps, ep)
		v.probs = append(v.probs, probs...)
	}
	if ef != nil {
		ef.Close()
	}
	if pf != nil {
		pf.Close()
	}
	if mdOK {
		v.checkCounts(md, res)
		rows := v.checkCSVs(md, res)
		v.checkSTIX(md, rows)
	}
	return v.probs, nil
}

var manifestLine = regexp.MustCompile(`^([0-9a-f]{64})  (.+)$`)

// checkManifest checks every file against MANIFEST.sha256 and returns the
// manifest's bytes (nil if unreadable).
func (v *verifier) checkManifest() []byte {
	b, err := os.ReadFile(filepath.Join(v.dir, fileManifest))
	if err != nil {
		v.add(fileManifest, CheckManifest, "cannot read: %v", err)
		return nil
	}
	listed := map[string]string{}
	for n, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		m := manifestLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil || !strings.HasSuffix(line, "\n") {
			v.add(fileManifest, CheckManifest, "line %d is not \"<sha256>  <path>\"", n+1)
			continue
		}
		p := m[2]
		if !fs.ValidPath(p) || p == fileManifest || p == fileManifestSig {
			v.add(fileManifest, CheckManifest, "line %d: invalid path %q", n+1, p)
			continue
		}
		if _, dup := listed[p]; dup {
			v.add(fileManifest, CheckManifest, "line %d: %s listed twice", n+1, p)
			continue
		}
		listed[p] = m[1]
	}
	var present []string
	err = filepath.WalkDir(v.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(v.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			v.add(rel, CheckUnlisted, "not a regular file")
			return nil
		}
		if rel != fileManifest && rel != fileManifestSig {
			present = append(present, rel)
		}
		return nil
	})
	if err != nil {
		v.add("", CheckManifest, "cannot list the package: %v", err)
	}
	slices.Sort(present)
	for _, rel := range present {
		want, ok := listed[rel]
		if !ok {
			v.add(rel, CheckUnlisted, "file is not listed in %s", fileManifest)
			continue
		}
		delete(listed, rel)
		got, err := hashFile(filepath.Join(v.dir, filepath.FromSlash(rel)))
		if err != nil {
			v.add(rel, CheckHash, "cannot read: %v", err)
		} else if got != want {
			v.add(rel, CheckHash, "SHA-256 is %s, the manifest says %s", got, want)
		}
	}
	missing := make([]string, 0, len(listed))
	for rel := range listed {
		missing = append(missing, rel)
	}
	slices.Sort(missing)
	for _, rel := range missing {
		v.add(rel, CheckMissing, "listed in %s but absent", fileManifest)
	}
	return b
}

// checkSignature checks the manifest's signature and returns the signer's
// public key (nil if unusable).
func (v *verifier) checkSignature(manifest []byte) ed25519.PublicKey {
	pub, err := readPublicKeyPEM(filepath.Join(v.dir, fileSignerPEM))
	if err != nil {
		v.add(fileSignerPEM, CheckSigner, "%v", err)
		return nil
	}
	sig, err := os.ReadFile(filepath.Join(v.dir, fileManifestSig))
	if err != nil {
		v.add(fileManifestSig, CheckSignature, "cannot read: %v", err)
		return pub
	}
	if manifest == nil {
		return pub
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, manifest, sig) {
		const d = "the signature does not verify over " + fileManifest + " with the key in " + fileSignerPEM + ": one of these files was changed"
		v.add(fileManifest, CheckSignature, "%s", d)
		v.add(fileManifestSig, CheckSignature, "%s", d)
	}
	return pub
}

func readPublicKeyPEM(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("not a single PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bad public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an Ed25519 key")
	}
	return pub, nil
}

// vkeyPublic extracts the Ed25519 key of a note verifier key,
// "<name>+<hash>+<base64(0x01 || key)>".
func vkeyPublic(vkey string) (ed25519.PublicKey, bool) {
	f := strings.SplitN(vkey, "+", 3)
	if len(f) != 3 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(b) != 1+ed25519.PublicKeySize || b[0] != 1 {
		return nil, false
	}
	return ed25519.PublicKey(b[1:]), true
}

func (v *verifier) readMetadata(signer ed25519.PublicKey) (metadata, bool) {
	var md metadata
	b, err := os.ReadFile(filepath.Join(v.dir, fileMetadata))
	if err != nil {
		v.add(fileMetadata, CheckMetadata, "cannot read: %v", err)
		return md, false
	}
	if err := json.Unmarshal(b, &md); err != nil {
		v.add(fileMetadata, CheckMetadata, "not valid JSON: %v", err)
		return md, false
	}
	if md.Format != FormatVersion {
		v.add(fileMetadata, CheckMetadata, "format %q, want %q", md.Format, FormatVersion)
		return md, false
	}
	if md.Episode.ID == "" || md.Episode.End.Before(md.Episode.Start) {
		v.add(fileMetadata, CheckMetadata, "episode identifier or window missing or inverted")
		return md, false
	}
	if k, ok := vkeyPublic(md.Signer.VerifierKey); !ok {
		v.add(fileMetadata, CheckMetadata, "signer verifier key %q is malformed", md.Signer.VerifierKey)
	} else if signer != nil && !k.Equal(signer) {
		v.add(fileSignerPEM, CheckSigner, "key differs from the signer key %s in %s", md.Signer.Segment, fileMetadata)
	}
	return md, true
}

// checkCheckpoints verifies each checkpoint with its segment's verifier key
// and returns the verified ones by label.
func (v *verifier) checkCheckpoints() map[string]journal.Checkpoint {
	keys := map[string]string{}
	b, err := os.ReadFile(filepath.Join(v.dir, filepath.FromSlash(fileVerifierKey)))
	if err != nil {
		v.add(fileVerifierKey, CheckVerifier, "cannot read: %v", err)
	}
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" && len(b) == 0 {
			break
		}
		lbl, key, ok := strings.Cut(line, " ")
		if _, okk := vkeyPublic(key); !ok || !okk {
			v.add(fileVerifierKey, CheckVerifier, "line %d is not \"<stream>-<YYYY-MM> <verifier key>\"", n+1)
			continue
		}
		keys[lbl] = key
	}
	cps := map[string]journal.Checkpoint{}
	ents, err := os.ReadDir(filepath.Join(v.dir, dirCheckpoints))
	if err != nil {
		v.add(dirCheckpoints, CheckCheckpoint, "cannot read: %v", err)
		return cps
	}
	for _, e := range ents {
		lbl, ok := strings.CutSuffix(e.Name(), ".txt")
		if !ok {
			continue
		}
		rel := dirCheckpoints + "/" + e.Name()
		key, ok := keys[lbl]
		if !ok {
			v.add(rel, CheckCheckpoint, "no verifier key for %s in %s", lbl, fileVerifierKey)
			continue
		}
		note, err := os.ReadFile(filepath.Join(v.dir, dirCheckpoints, e.Name()))
		if err != nil {
			v.add(rel, CheckCheckpoint, "cannot read: %v", err)
			continue
		}
		cp, err := journal.VerifyCheckpoint(note, key)
		if err != nil {
			v.add(rel, CheckCheckpoint, "%v", err)
			continue
		}
		cps[lbl] = cp
	}
	return cps
}

// episodeRef is what the entries are checked against.
type episodeRef struct {
	id         string
	start, end time.Time
	raw        bool
	valid      bool
}

// entriesResult is what the entries say, for the consistency checks.
type entriesResult struct {
	complete bool             // every entry was read and carried its record
	counts   map[string]int64 // entries per stream
	sources  map[string]*sourceAgg
	minutes  int64
	episode  *episodeJSON // from episode_end, else episode_start
	// decision summaries and the chart's totals recomputed from them
	summaries int64
	timeline  timelineTotals
}

// lineReader reads lines of at most maxLine bytes.
type lineReader struct {
	r    *bufio.Reader
	line int
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(r, 64<<10)} }

// next returns the next line without its newline; io.EOF at the end.
func (l *lineReader) next() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := l.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return nil, fmt.Errorf("line %d is longer than %d bytes", l.line+1, maxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !(errors.Is(err, io.EOF) && len(buf) > 0) {
			return nil, err
		}
		l.line++
		if err == nil {
			return buf[:len(buf)-1], nil
		}
		return nil, fmt.Errorf("line %d has no final newline", l.line)
	}
}

// entryLine is one line of entries.jsonl or leaves.jsonl.
type entryLine struct {
	Stream       string  `json:"stream"`
	Segment      string  `json:"segment"`
	Index        int64   `json:"index"`
	LeafHash     string  `json:"leaf_hash"`
	Record       *string `json:"record"`
	RecordBase64 []byte  `json:"record_base64"`
}

var streamRank = map[string]int{StreamEvents: 0, StreamSources: 1, StreamRequests: 2}

// verifyEntries reads the entries and the proofs in step: each proof line
// covers the next count entries, which must be the run it names, and whose
// leaf hashes must recompute the root of the segment's checkpoint. With
// records, it also checks that each belongs to the episode and gathers what
// the CSV checks need. It never panics on malformed input.
func verifyEntries(entries, proofs io.Reader, entriesName string, cps map[string]journal.Checkpoint, ep episodeRef) (entriesResult, []Problem) {
	res := entriesResult{complete: true, counts: map[string]int64{}, sources: map[string]*sourceAgg{}}
	var probs []Problem
	add := func(file, check, format string, args ...any) {
		if len(probs) < 1000 {
			probs = append(probs, Problem{File: file, Check: check, Detail: fmt.Sprintf(format, args...)})
		}
	}
	er, pr := newLineReader(entries), newLineReader(proofs)
	entriesDone := false
	var prevRank int
	var prevSeg string
	prevIndex := int64(-1)

	// nextEntry reads the entry expected at (stream, seg, index) and returns
	// its leaf hash.
	nextEntry := func(stream, seg string, index int64) (tlog.Hash, error) {
		if entriesDone {
			return tlog.Hash{}, errors.New("entries end before the run does")
		}
		b, err := er.next()
		if err != nil {
			entriesDone = true
			if errors.Is(err, io.EOF) {
				return tlog.Hash{}, errors.New("entries end before the run does")
			}
			add(entriesName, CheckEntry, "%v", err)
			return tlog.Hash{}, err
		}
		var e entryLine
		if err := json.Unmarshal(b, &e); err != nil {
			add(entriesName, CheckEntry, "line %d: %v", er.line, err)
			res.complete = false
			return tlog.Hash{}, fmt.Errorf("entry line %d unreadable", er.line)
		}
		if e.Stream != stream || e.Segment != seg || e.Index != index {
			add(entriesName, CheckEntry, "line %d is %s/%s #%d, the proofs expect %s/%s #%d",
				er.line, e.Stream, e.Segment, e.Index, stream, seg, index)
		}
		rank, ok := streamRank[e.Stream]
		if !ok {
			add(entriesName, CheckEntry, "line %d: unknown stream %q", er.line, e.Stream)
		} else if rank < prevRank || (rank == prevRank && (e.Segment < prevSeg || (e.Segment == prevSeg && e.Index <= prevIndex))) {
			add(entriesName, CheckEntry, "line %d: %s/%s #%d is out of order or repeated", er.line, e.Stream, e.Segment, e.Index)
		}
		prevRank, prevSeg, prevIndex = rank, e.Segment, e.Index
		var rec []byte
		switch {
		case e.Record != nil:
			rec = []byte(*e.Record)
		case e.RecordBase64 != nil:
			rec = e.RecordBase64
		}
		var h tlog.Hash
		if rec != nil {
			h = tlog.RecordHash(rec)
			if e.LeafHash != "" && e.LeafHash != h.String() {
				add(entriesName, CheckEntry, "line %d: leaf_hash is not the hash of the record", er.line)
			}
			res.counts[e.Stream]++
			checkMembership(rec, e, er.line, entriesName, ep, &res, add)
		} else {
			res.complete = false
			if h, err = tlog.ParseHash(e.LeafHash); err != nil {
				add(entriesName, CheckEntry, "line %d: no record and no valid leaf_hash", er.line)
			}
			res.counts[e.Stream]++
		}
		return h, nil
	}

	for {
		b, err := pr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			add(fileProofs, CheckProof, "%v", err)
			res.complete = false
			break
		}
		var p proofLine
		if err := json.Unmarshal(b, &p); err != nil || p.TreeSize < 1 || p.Count < 1 || p.First < 0 || p.First > p.TreeSize-p.Count {
			add(fileProofs, CheckProof, "line %d is not a valid proof line", pr.line)
			res.complete = false
			break // the entries can no longer be matched to runs
		}
		lbl := label(p.Stream, p.Segment)
		cp, haveCP := cps[lbl]
		file := fileProofs
		switch {
		case !haveCP:
			add(fileProofs, CheckProof, "line %d: no verified checkpoint for %s", pr.line, lbl)
		case p.Checkpoint != checkpointFile(p.Stream, p.Segment):
			add(fileProofs, CheckProof, "line %d names checkpoint %q, want %q", pr.line, p.Checkpoint, checkpointFile(p.Stream, p.Segment))
		case p.TreeSize != cp.Tree.N:
			add(fileProofs, CheckProof, "line %d: tree size %d, the checkpoint signs %d", pr.line, p.TreeSize, cp.Tree.N)
			haveCP = false
		}
		first, err1 := parseProof(p.FirstProof)
		last, err2 := parseProof(p.LastProof)
		if err1 != nil || err2 != nil || (p.Count > 1) != (p.LastProof != nil) {
			add(file, CheckProof, "line %d: malformed proof hashes", pr.line)
			haveCP = false
		}
		known := map[subtree]tlog.Hash{}
		if haveCP {
			err := siblings(p.First, p.TreeSize, first, known)
			if err == nil && p.Count > 1 {
				err = siblings(p.First+p.Count-1, p.TreeSize, last, known)
			}
			if err != nil {
				add(file, CheckProof, "line %d: %v", pr.line, err)
				haveCP = false
			}
		}
		var k int64
		var firstLeaf, lastLeaf tlog.Hash
		next := func() (tlog.Hash, error) {
			h, err := nextEntry(p.Stream, p.Segment, p.First+k)
			if k == 0 {
				firstLeaf = h
			}
			lastLeaf = h
			k++
			return h, err
		}
		if haveCP {
			root, err := runRoot(p.TreeSize, run{p.First, p.Count}, known, next)
			switch {
			case err != nil:
				add(file, CheckProof, "line %d: %s/%s [%d, %d): %v", pr.line, p.Stream, p.Segment, p.First, p.First+p.Count, err)
			case root != cp.Tree.Hash:
				add(file, CheckProof, "line %d: %s/%s [%d, %d): the leaves and proofs do not give the checkpoint's root hash",
					pr.line, p.Stream, p.Segment, p.First, p.First+p.Count)
			case tlog.CheckRecord(first, cp.Tree.N, cp.Tree.Hash, p.First, firstLeaf) != nil ||
				(p.Count > 1 && tlog.CheckRecord(last, cp.Tree.N, cp.Tree.Hash, p.First+p.Count-1, lastLeaf) != nil):
				add(file, CheckProof, "line %d: an audit path does not verify", pr.line)
			}
		}
		// Keep entries and runs aligned whatever happened above.
		for ; k < p.Count && !entriesDone; k++ {
			if _, err := nextEntry(p.Stream, p.Segment, p.First+k); err != nil && entriesDone {
				break
			}
		}
		if k < p.Count {
			add(entriesName, CheckEntry, "proofs line %d covers %d entries, only %d remain", pr.line, p.Count, k)
			res.complete = false
			break
		}
	}
	if !entriesDone {
		if _, err := er.next(); err == nil {
			add(entriesName, CheckEntry, "line %d and later are not covered by any proof", er.line)
			res.complete = false
		} else if !errors.Is(err, io.EOF) {
			add(entriesName, CheckEntry, "%v", err)
			res.complete = false
		}
	}
	return res, probs
}

func parseProof(ss []string) (tlog.RecordProof, error) {
	if len(ss) > 64 {
		return nil, errors.New("proof too long")
	}
	p := make(tlog.RecordProof, len(ss))
	for i, s := range ss {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		p[i] = h
	}
	return p, nil
}

// checkMembership checks that a record belongs to the episode and gathers
// its aggregates.
func checkMembership(rec []byte, e entryLine, line int, file string, ep episodeRef, res *entriesResult, add func(file, check, format string, args ...any)) {
	var r record
	if err := json.Unmarshal(rec, &r); err != nil {
		add(file, CheckEpisode, "line %d: record is not a JSON object: %v", line, err)
		return
	}
	id, obj, err := r.episodeID()
	if err != nil {
		add(file, CheckEpisode, "line %d: malformed episode field", line)
		return
	}
	if !ep.valid {
		return
	}
	ours := id == ep.id
	ok := false
	switch e.Stream {
	case StreamEvents:
		switch {
		case episodeKinds[r.Kind]:
			ok = ours
			if ok && obj != nil && (res.episode == nil || r.Kind == kindEpisodeEnd) {
				res.episode = obj
			}
			if ok && r.Kind == kindDecisionSummary {
				res.summaries++
				if s, sok := r.summary(); sok {
					res.timeline.add(series(s))
				}
			}
		case r.Kind == kindClock:
			ok = id == "" && !r.Time.After(ep.end)
		case r.Kind == kindAudit:
			ok = id == "" && !r.Time.After(ep.end) && !r.Time.Before(ep.start)
		}
	case StreamSources:
		ok = ours && r.Kind == kindSourceMinute
		if ok {
			res.minutes++
			a := res.sources[r.Addr]
			if a == nil {
				a = &sourceAgg{first: r.First.UTC(), last: r.Last.UTC()}
				if a.first.IsZero() {
					a.first = r.Minute.UTC()
				}
				if a.last.IsZero() {
					a.last = a.first
				}
				res.sources[r.Addr] = a
			}
			if !r.First.IsZero() && r.First.Before(a.first) {
				a.first = r.First.UTC()
			}
			if r.Last.After(a.last) {
				a.last = r.Last.UTC()
			}
			a.requests += r.Requests
		}
	case StreamRequests:
		ok = ours && r.Kind == kindRequest && ep.raw
	}
	if !ok {
		add(file, CheckEpisode, "line %d: %s record %s/%s #%d does not belong to episode %s", line, r.Kind, e.Stream, e.Segment, e.Index, ep.id)
	}
}

func (v *verifier) checkCounts(md metadata, res entriesResult) {
	if !res.complete && !md.Pseudonym.Enabled {
		return
	}
	for _, s := range streams {
		if md.Counts.Entries[s] != res.counts[s] {
			v.add(fileMetadata, CheckMetadata, "counts %d %s entries, the package holds %d", md.Counts.Entries[s], s, res.counts[s])
		}
	}
	if md.Pseudonym.Enabled {
		return
	}
	if md.Counts.SourceMinutes != res.minutes {
		v.add(fileMetadata, CheckMetadata, "counts %d source_minute records, the entries hold %d", md.Counts.SourceMinutes, res.minutes)
	}
	if md.Counts.DecisionSummaries != res.summaries {
		v.add(fileMetadata, CheckMetadata, "counts %d decision_summary records, the entries hold %d", md.Counts.DecisionSummaries, res.summaries)
	}
	if md.Timeline.timelineTotals != res.timeline {
		v.add(fileMetadata, CheckMetadata, "timeline totals %+v differ from the decision_summary entries' %+v", md.Timeline.timelineTotals, res.timeline)
	}
	if res.episode != nil {
		if e := res.episode.episode(); !e.Start.Equal(md.Episode.Start) {
			v.add(fileMetadata, CheckMetadata, "episode start %s, the episode records say %s", fmtTime(md.Episode.Start), fmtTime(e.Start))
		}
	}
}

func readCSV(path string, header []string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(header)
	h, err := r.Read()
	if err != nil {
		return nil, err
	}
	if !slices.Equal(h, header) {
		return nil, fmt.Errorf("header is %q, want %q", h, header)
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, rec)
	}
}

// checkCSVs checks episodes.csv and sources.csv against metadata.json and the
// entries; it returns the rows of sources.csv for the STIX check.
func (v *verifier) checkCSVs(md metadata, res entriesResult) [][]string {
	ep := md.Episode
	rows, err := readCSV(filepath.Join(v.dir, fileEpisodesCSV), episodesHeader)
	switch {
	case err != nil:
		v.add(fileEpisodesCSV, CheckCSV, "%v", err)
	case len(rows) != 1:
		v.add(fileEpisodesCSV, CheckCSV, "%d rows, want 1", len(rows))
	default:
		r := rows[0]
		want := []string{ep.ID, fmtTime(ep.Start), fmtTime(ep.End), strconv.FormatFloat(ep.PeakRate, 'f', -1, 64), itoa(ep.Requests), ep.MaxLevel}
		if !slices.Equal(r, want) {
			v.add(fileEpisodesCSV, CheckCSV, "row %q disagrees with %s (%q)", r, fileMetadata, want)
		}
		if e := res.episode; e != nil && e.End != nil && (e.Requests != ep.Requests || float64(e.PeakRate) != ep.PeakRate) {
			v.add(fileEpisodesCSV, CheckCSV, "requests or peak rate disagree with the episode_end record")
		}
	}

	src, err := readCSV(filepath.Join(v.dir, fileSourcesCSV), sourcesHeader)
	if err != nil {
		v.add(fileSourcesCSV, CheckCSV, "%v", err)
		return nil
	}
	seen := map[string]bool{}
	for i, r := range src {
		if seen[r[0]] {
			v.add(fileSourcesCSV, CheckCSV, "row %d: address %s listed twice", i+2, r[0])
		}
		seen[r[0]] = true
		if _, err := strconv.ParseInt(r[3], 10, 64); err != nil {
			v.add(fileSourcesCSV, CheckCSV, "row %d: requests %q is not a number", i+2, r[3])
		}
	}
	if md.Pseudonym.Enabled || !res.complete {
		return src // no records to recompute from
	}
	switch md.Sources {
	case "source_minute":
		for i, r := range src {
			a := res.sources[r[0]]
			switch {
			case a == nil:
				v.add(fileSourcesCSV, CheckCSV, "row %d: %s has no source_minute entry", i+2, r[0])
			case r[3] != itoa(a.requests) || r[1] != fmtTime(a.first) || r[2] != fmtTime(a.last):
				v.add(fileSourcesCSV, CheckCSV, "row %d: %s totals (%s requests, %s to %s) differ from the source_minute entries (%d, %s to %s)",
					i+2, r[0], r[3], r[1], r[2], a.requests, fmtTime(a.first), fmtTime(a.last))
			}
		}
		if len(src) != len(res.sources) {
			v.add(fileSourcesCSV, CheckCSV, "%d rows, the source_minute entries name %d addresses", len(src), len(res.sources))
		}
	case "episode_top_sources":
		if res.minutes > 0 {
			v.add(fileSourcesCSV, CheckCSV, "built from top sources although the entries hold source_minute records")
		}
		if e := res.episode; e != nil {
			want := map[string]string{}
			for _, c := range e.TopSources {
				want[c.Key] = itoa(c.Count)
			}
			for i, r := range src {
				if want[r[0]] != r[3] {
					v.add(fileSourcesCSV, CheckCSV, "row %d: %s differs from the episode's top sources", i+2, r[0])
				}
			}
			if len(src) != len(want) {
				v.add(fileSourcesCSV, CheckCSV, "%d rows, the episode lists %d top sources", len(src), len(want))
			}
		}
	default:
		v.add(fileMetadata, CheckMetadata, "sources_from %q is unknown", md.Sources)
	}
	return src
}

// checkSTIX validates the bundle and checks that its addresses are those of
// sources.csv and its incident names the episode.
func (v *verifier) checkSTIX(md metadata, rows [][]string) {
	b, err := os.ReadFile(filepath.Join(v.dir, fileSTIX))
	if err != nil {
		v.add(fileSTIX, CheckSTIX, "cannot read: %v", err)
		return
	}
	probs := stix.Validate(b)
	for _, p := range probs[:min(len(probs), 10)] {
		v.add(fileSTIX, CheckSTIX, "%s", p.String())
	}
	if len(probs) > 0 {
		return
	}
	var bundle struct {
		Objects []struct {
			Type  string `json:"type"`
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		v.add(fileSTIX, CheckSTIX, "%v", err)
		return
	}
	inBundle := map[string]bool{}
	incident := false
	for _, o := range bundle.Objects {
		switch o.Type {
		case "ipv4-addr", "ipv6-addr":
			inBundle[o.Value] = true
		case "incident":
			incident = incident || strings.Contains(o.Name, " "+md.Episode.ID+" ")
		}
	}
	if !incident {
		v.add(fileSTIX, CheckSTIX, "no incident names episode %s", md.Episode.ID)
	}
	if rows == nil {
		return
	}
	want := map[string]bool{}
	for _, r := range rows {
		if a, ok := stixAddr(r[0]); ok {
			want[a.String()] = true
		}
	}
	for a := range want {
		if !inBundle[a] {
			v.add(fileSTIX, CheckSTIX, "source %s of %s is missing from the bundle", a, fileSourcesCSV)
		}
	}
	for a := range inBundle {
		if !want[a] {
			v.add(fileSTIX, CheckSTIX, "address %s is not in %s", a, fileSourcesCSV)
		}
	}
}
