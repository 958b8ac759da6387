package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
)

// OpenReadOnly opens the journal in dir for reading while another process
// (a running Préau) may hold it open and append to it. It takes no lock and
// writes nothing: no file is created, repaired or rewritten, not even a
// missing signing.pub.
//
// A read-only journal serves only the records that the latest signed
// checkpoint covers, the only ones whose integrity it can establish without
// the writer's cooperation: Size is that checkpoint's tree size (0 if none
// was ever signed), and Record, Scan, the proofs and Verify stop there.
// Uncovered tells how many records followed when the journal was opened.
//
// It checks what Open checks for the covered records: the checkpoint's
// signature with the journal's key, the file headers, the frames and stored
// hashes of the last covered records, and that the tree of the covered
// records has the signed root. Damage yields an error wrapping a
// *CorruptError. Append and Checkpoint fail with ErrReadOnly; Sign and the
// key accessors work (the signing key must be readable). Options.Now and
// ClockSource are unused; a non-empty Origin must be the journal's.
func OpenReadOnly(dir string, opt Options) (*Journal, error) {
	j, err := openReadOnly(dir, opt)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s read-only: %w", dir, err)
	}
	return j, nil
}

func openReadOnly(dir string, opt Options) (_ *Journal, err error) {
	j := &Journal{dir: dir, log: opt.Logger, readOnly: true, reqs: make(chan *appendReq), done: make(chan struct{})}
	close(j.done) // no writer goroutine: Close must not wait for one
	if j.log == nil {
		j.log = slog.Default()
	}
	if opt.Origin != "" && !validOrigin(opt.Origin) {
		return nil, fmt.Errorf("journal: origin %q must be non-empty UTF-8 without spaces or '+'", opt.Origin)
	}
	exists, err := dataExists(dir)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("journal: no journal in %s: %w", dir, fs.ErrNotExist)
	}
	if j.id, err = loadKey(dir, opt.Origin, false); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			j.closeFiles()
		}
	}()
	for _, f := range []struct {
		dst  **os.File
		name string
	}{{&j.recs, recordsName}, {&j.hashes, hashesName}, {&j.index, indexName}} {
		if *f.dst, err = os.Open(filepath.Join(dir, f.name)); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	cp, haveCP, err := readLatest(dir, j.id.vkey)
	if err != nil {
		return nil, err
	}

	d := dataFiles{dir, j.recs, j.hashes, j.index}
	if err := d.checkHeaders(); err != nil {
		return nil, err
	}
	ii, err := j.index.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// Whole entries only: the writer may be in the middle of one.
	onDisk := max((ii.Size()-indexHdrSize)/8, 0)
	covered := int64(0)
	if haveCP {
		covered = cp.Tree.N
	}
	if covered > onDisk {
		return nil, &CorruptError{File: d.path(indexName), Offset: indexOffset(onDisk), Record: onDisk,
			Reason: fmt.Sprintf("index lists %d records but the signed checkpoint covers %d", onDisk, covered)}
	}
	// The covered records never change while a writer appends after them,
	// so the checks Open makes of them hold here too.
	res, err := audit(d, max(covered-tailCheck, 0), covered)
	if err != nil {
		return nil, err
	}
	if res.problem != nil {
		return nil, res.problem
	}
	if res.n != covered {
		return nil, &CorruptError{File: d.path(indexName), Offset: indexOffset(res.n), Record: res.n,
			Reason: fmt.Sprintf("index ends after %d records but the signed checkpoint covers %d", res.n, covered)}
	}
	if haveCP {
		if err := checkAgainst(d, res, cp); err != nil {
			return nil, err
		}
		j.latest.Store(&cp)
	}
	j.state.Store(&state{n: res.n, recEnd: res.recEnd})
	j.uncovered = onDisk - covered
	return j, nil
}

// ReadOnly reports whether the journal was opened with OpenReadOnly.
func (j *Journal) ReadOnly() bool { return j.readOnly }

// Uncovered returns, for a read-only journal, how many records followed the
// latest signed checkpoint when it was opened: records it does not serve.
// It is 0 for a journal opened with Open, which serves every record.
func (j *Journal) Uncovered() int64 { return j.uncovered }

// ScanUncovered calls fn, in order, with the records of a read-only journal
// that followed the latest signed checkpoint when it was opened (see
// Uncovered). No checkpoint covers them: their frames' CRCs are checked but
// nothing proves they are the records that will be signed, so they are for
// telling an operator what is still to come, never for evidence. rec is
// only valid during the call. A damaged frame (for instance the torn tail a
// crash left) stops the scan with an error wrapping a *CorruptError. For a
// journal opened with Open there is nothing to scan.
func (j *Journal) ScanUncovered(fn func(i int64, rec []byte) error) error {
	if j.closed.Load() {
		return fmt.Errorf("journal: scan uncovered: %w", ErrClosed)
	}
	if j.uncovered == 0 {
		return nil
	}
	st := j.state.Load()
	fr := newFrameReader(io.NewSectionReader(j.recs, st.recEnd, math.MaxInt64-st.recEnd), j.path(recordsName), st.recEnd, st.n)
	for i := st.n; i < st.n+j.uncovered; i++ {
		rec, err := fr.next()
		if errors.Is(err, io.EOF) {
			err = fr.corrupt("the index lists this record but the file ends here")
		}
		if err != nil {
			return fmt.Errorf("journal: scan uncovered: %w", err)
		}
		if err := fn(i, rec); err != nil {
			return fmt.Errorf("journal: scan uncovered: record %d: %w", i, err)
		}
	}
	return nil
}
