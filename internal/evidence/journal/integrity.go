package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// tailCheck is how many of the last records Open re-reads and re-hashes even
// when a checkpoint covers them: a crash tears the tail, not the middle.
const tailCheck = 64

// dataFiles are the three files that must agree with each other.
type dataFiles struct {
	dir                 string
	recs, hashes, index *os.File
}

func (d dataFiles) path(name string) string { return filepath.Join(d.dir, name) }

func (d dataFiles) checkHeaders() error {
	for _, f := range []struct {
		f    *os.File
		name string
		hdr  []byte
	}{{d.recs, recordsName, recordsHeader}, {d.hashes, hashesName, hashesHeader}, {d.index, indexName, indexHeader}} {
		if err := checkHeader(io.NewSectionReader(f.f, 0, int64(len(f.hdr))), d.path(f.name), f.hdr); err != nil {
			return err
		}
	}
	return nil
}

// auditResult describes the longest prefix of records on which the three
// files agree.
type auditResult struct {
	n       int64         // records [0, n) are consistent
	recEnd  int64         // records.dat offset just after record n-1
	problem *CorruptError // the first disagreement, nil if none was found
}

// audit walks records [from, limit) — to the end of the files if limit is
// math.MaxInt64 — checking that each index entry points at the next frame,
// that each frame is whole with a good CRC, and that the stored hashes
// recomputed from each record equal those in hashes.dat. Records before from
// are trusted. At the end of the index it also checks that the other two
// files end where the index says. Damage is reported in the result's
// problem; the error is for I/O failures.
func audit(d dataFiles, from, limit int64) (auditResult, error) {
	pos := int64(recordsHdrSize)
	if from > 0 {
		var err error
		if pos, err = readIndex(d.index, from); err != nil {
			return auditResult{}, err
		}
	}
	res := auditResult{n: from, recEnd: pos}
	problem := func(name string, off, rec int64, format string, args ...any) (auditResult, error) {
		res.problem = &CorruptError{File: d.path(name), Offset: off, Record: rec, Reason: fmt.Sprintf(format, args...)}
		return res, nil
	}

	ir := bufio.NewReaderSize(io.NewSectionReader(d.index, indexOffset(from), math.MaxInt64-indexOffset(from)), 64<<10)
	fr := newFrameReader(io.NewSectionReader(d.recs, pos, math.MaxInt64-pos), d.path(recordsName), pos, from)
	hr := hashFile{d.hashes}
	var entry [8]byte
	var stored []byte
	for i := from; i < limit; i++ {
		k, err := io.ReadFull(ir, entry[:])
		switch {
		case errors.Is(err, io.EOF):
			return d.checkEnds(res)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return problem(indexName, indexOffset(i), i, "torn index entry: %d of 8 bytes", k)
		case err != nil:
			return res, fmt.Errorf("journal: read %s: %w", indexName, err)
		}
		if off := int64(binary.BigEndian.Uint64(entry[:])); off != fr.off {
			return problem(indexName, indexOffset(i), i, "entry points to offset %d but the record's frame starts at %d", off, fr.off)
		}

		rec, err := fr.next()
		var ce *CorruptError
		switch {
		case errors.Is(err, io.EOF):
			return problem(recordsName, fr.off, i, "the index lists this record but the file ends here")
		case errors.As(err, &ce):
			res.problem = ce
			return res, nil
		case err != nil:
			return res, err
		}

		k0 := tlog.StoredHashIndex(0, i)
		want, err := tlog.StoredHashes(i, rec, hr)
		if errors.Is(err, io.EOF) {
			return problem(hashesName, hashOffset(k0), i, "file ends before the hashes this record's subtrees need")
		}
		if err != nil {
			return res, err
		}
		if need := len(want) * tlog.HashSize; cap(stored) < need {
			stored = make([]byte, need)
		} else {
			stored = stored[:need]
		}
		if n, err := d.hashes.ReadAt(stored, hashOffset(k0)); err != nil {
			if errors.Is(err, io.EOF) {
				return problem(hashesName, hashOffset(k0)+int64(n), i, "file ends before this record's stored hashes")
			}
			return res, fmt.Errorf("journal: read %s: %w", hashesName, err)
		}
		for x, h := range want {
			if !bytes.Equal(stored[x*tlog.HashSize:(x+1)*tlog.HashSize], h[:]) {
				return problem(hashesName, hashOffset(k0+int64(x)), i, "stored hash differs from the one recomputed from the record")
			}
		}
		res.n, res.recEnd = i+1, fr.off
	}
	return res, nil
}

// checkEnds checks, once the index has ended after res.n records, that
// records.dat and hashes.dat end there too.
func (d dataFiles) checkEnds(res auditResult) (auditResult, error) {
	ri, err := d.recs.Stat()
	if err != nil {
		return res, fmt.Errorf("journal: %w", err)
	}
	if size := ri.Size(); size != res.recEnd {
		res.problem = &CorruptError{File: d.path(recordsName), Offset: res.recEnd, Record: res.n,
			Reason: fmt.Sprintf("%d bytes after the last indexed record (torn or unfinished append?)", size-res.recEnd)}
		return res, nil
	}
	hi, err := d.hashes.Stat()
	if err != nil {
		return res, fmt.Errorf("journal: %w", err)
	}
	if size, want := hi.Size(), hashOffset(tlog.StoredHashCount(res.n)); size != want {
		res.problem = &CorruptError{File: d.path(hashesName), Offset: min(size, want), Record: res.n,
			Reason: fmt.Sprintf("file has %d bytes, %d records need %d", size, res.n, want)}
	}
	return res, nil
}

// check validates the files at Open and returns the durable state.
func (j *Journal) check(cp Checkpoint, haveCP bool) (*state, error) {
	d := dataFiles{j.dir, j.recs, j.hashes, j.index}
	if err := d.checkHeaders(); err != nil {
		return nil, err
	}
	ii, err := j.index.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	n := (ii.Size() - indexHdrSize) / 8
	from := max(n-tailCheck, 0)
	if haveCP {
		from = max(min(from, cp.Tree.N), 0)
	}
	res, err := audit(d, from, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	if res.problem != nil {
		return nil, res.problem
	}
	if haveCP {
		if err := checkAgainst(d, res, cp); err != nil {
			return nil, err
		}
	}
	return &state{n: res.n, recEnd: res.recEnd}, nil
}

// checkAgainst checks that the tree of the first cp.Tree.N records has the
// signed root and that the whole tree extends it.
func checkAgainst(d dataFiles, res auditResult, cp Checkpoint) error {
	hr := hashFile{d.hashes}
	if cp.Tree.N > res.n {
		return &CorruptError{File: d.path(recordsName), Offset: res.recEnd, Record: res.n,
			Reason: fmt.Sprintf("journal holds %d records but the signed checkpoint covers %d", res.n, cp.Tree.N)}
	}
	root, err := tlog.TreeHash(cp.Tree.N, hr)
	if err != nil {
		return fmt.Errorf("journal: tree hash: %w", err)
	}
	if root != cp.Tree.Hash {
		return &CorruptError{File: d.path(hashesName), Offset: -1, Record: -1,
			Reason: fmt.Sprintf("tree of %d records has root %s but the signed checkpoint says %s", cp.Tree.N, root, cp.Tree.Hash)}
	}
	if cp.Tree.N == 0 || cp.Tree.N == res.n {
		return nil
	}
	cur, err := tlog.TreeHash(res.n, hr)
	if err != nil {
		return fmt.Errorf("journal: tree hash: %w", err)
	}
	proof, err := tlog.ProveTree(res.n, cp.Tree.N, hr)
	if err != nil {
		return fmt.Errorf("journal: consistency proof: %w", err)
	}
	if err := tlog.CheckTree(proof, res.n, cur, cp.Tree.N, cp.Tree.Hash); err != nil {
		return &CorruptError{File: d.path(hashesName), Offset: -1, Record: cp.Tree.N,
			Reason: fmt.Sprintf("tree of %d records does not extend the signed checkpoint of %d: %v", res.n, cp.Tree.N, err)}
	}
	return nil
}

// Verify audits the whole journal: every frame's CRC, every stored hash
// recomputed from the records, and the latest checkpoint's root. It reads
// everything, so it is for operators and investigators, not start-up. Damage
// yields an error wrapping a *CorruptError.
func (j *Journal) Verify() error {
	if j.closed.Load() {
		return fmt.Errorf("journal: verify: %w", ErrClosed)
	}
	st := j.state.Load()
	d := dataFiles{j.dir, j.recs, j.hashes, j.index}
	res, err := audit(d, 0, st.n)
	if err != nil {
		return fmt.Errorf("journal: verify: %w", err)
	}
	if res.problem != nil {
		return fmt.Errorf("journal: verify: %w", res.problem)
	}
	if cp, ok := j.Latest(); ok {
		if err := checkAgainst(d, res, cp); err != nil {
			return fmt.Errorf("journal: verify: %w", err)
		}
	}
	return nil
}

// Repair is the operator's way out of a *CorruptError at Open, for damage at
// the tail of the journal (typically a crash in the middle of an append). It
// finds the longest prefix of records on which the files agree, moves every
// byte after it into a side file "<file>.corrupt-<UTC time>" next to the
// damaged file, fsyncs, and truncates. moved is the side file holding removed
// records.dat bytes, or if records.dat was intact the first other side file;
// "" when there was nothing to repair.
//
// Repair refuses to remove records that the latest signed checkpoint covers:
// that is damage to published evidence, for a human to investigate. It must
// not run while the journal is open; the directory lock enforces that.
func Repair(dir string) (moved string, err error) {
	moved, err = repair(dir)
	if err != nil {
		return "", fmt.Errorf("journal: repair %s: %w", dir, err)
	}
	return moved, nil
}

func repair(dir string) (moved string, err error) {
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("journal: lock: %w", err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return "", err
	}
	pub, err := os.ReadFile(filepath.Join(dir, pubName))
	if err != nil {
		return "", fmt.Errorf("journal: verifier key: %w", err)
	}
	cp, haveCP, err := readLatest(dir, string(bytes.TrimSpace(pub)))
	if err != nil {
		return "", err
	}

	d := dataFiles{dir: dir}
	for _, f := range []struct {
		dst  **os.File
		name string
	}{{&d.recs, recordsName}, {&d.hashes, hashesName}, {&d.index, indexName}} {
		if *f.dst, err = os.OpenFile(d.path(f.name), os.O_RDWR, 0); err != nil {
			return "", fmt.Errorf("journal: %w", err)
		}
		defer (*f.dst).Close()
	}
	if err := d.checkHeaders(); err != nil {
		return "", fmt.Errorf("journal: a damaged header is not tail damage: %w", err)
	}
	res, err := audit(d, 0, math.MaxInt64)
	if err != nil {
		return "", err
	}
	if res.problem == nil {
		return "", nil
	}
	if haveCP && res.n < cp.Tree.N {
		return "", fmt.Errorf("journal: the damage lies inside the %d records the latest signed checkpoint covers; restore from a copy instead: %w", cp.Tree.N, res.problem)
	}

	stamp := time.Now().UTC().Format("20060102T150405.000000000Z")
	for _, t := range []struct {
		f    *os.File
		keep int64
	}{{d.recs, res.recEnd}, {d.hashes, hashOffset(tlog.StoredHashCount(res.n))}, {d.index, indexOffset(res.n)}} {
		side, err := moveTail(t.f, t.keep, stamp)
		if err != nil {
			return "", err
		}
		if moved == "" {
			moved = side
		}
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return moved, nil
}

// moveTail copies f's bytes after keep into a new side file, makes that
// durable, and only then truncates f: the bytes are never only in memory.
// It returns the side file's path, or "" if f had nothing after keep.
func moveTail(f *os.File, keep int64, stamp string) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	if fi.Size() <= keep {
		return "", nil
	}
	side := f.Name() + ".corrupt-" + stamp
	out, err := os.OpenFile(side, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("journal: side file: %w", err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, keep, fi.Size()-keep)); err != nil {
		out.Close()
		return "", fmt.Errorf("journal: copy to side file %s: %w", side, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return "", fmt.Errorf("journal: side file %s: %w", side, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("journal: side file %s: %w", side, err)
	}
	if err := f.Truncate(keep); err != nil {
		return "", fmt.Errorf("journal: truncate %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("journal: fsync %s: %w", f.Name(), err)
	}
	return side, nil
}
