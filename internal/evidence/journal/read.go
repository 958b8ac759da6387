package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
)

// Record returns a copy of record i. An index outside [0, Size()) yields
// ErrNotFound; a frame whose CRC does not match, a *CorruptError.
func (j *Journal) Record(i int64) ([]byte, error) {
	if j.closed.Load() {
		return nil, fmt.Errorf("journal: record %d: %w", i, ErrClosed)
	}
	st := j.state.Load()
	if i < 0 || i >= st.n {
		return nil, fmt.Errorf("journal: record %d of %d: %w", i, st.n, ErrNotFound)
	}
	// The next record's index entry gives this frame's end, so one read of
	// the index and one of the frame suffice.
	var b [16]byte
	entries := b[:16]
	if i+1 == st.n {
		entries = b[:8]
	}
	if _, err := j.index.ReadAt(entries, indexOffset(i)); err != nil {
		return nil, fmt.Errorf("journal: record %d: read index: %w", i, err)
	}
	start, end := int64(binary.BigEndian.Uint64(b[:8])), st.recEnd
	if i+1 < st.n {
		end = int64(binary.BigEndian.Uint64(b[8:]))
	}
	if start < recordsHdrSize || end-start < frameHeaderSize || end-start > frameHeaderSize+MaxRecordSize || end > st.recEnd {
		return nil, &CorruptError{File: j.path(indexName), Offset: indexOffset(i), Record: i,
			Reason: fmt.Sprintf("entry gives frame [%d, %d), impossible in a records file of %d bytes", start, end, st.recEnd)}
	}
	buf := make([]byte, end-start)
	if _, err := j.recs.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("journal: record %d: %w", i, err)
	}
	p, err := decodeFrame(buf, j.path(recordsName), start, i)
	if err != nil {
		return nil, fmt.Errorf("journal: record %d: %w", i, err)
	}
	return p, nil
}

// Scan calls fn for records from up to, but not including, to, in order,
// reading sequentially in bounded memory. rec is only valid during the call:
// fn must copy what it keeps. An error from fn stops the scan and is
// returned wrapped.
func (j *Journal) Scan(from, to int64, fn func(i int64, rec []byte) error) error {
	if j.closed.Load() {
		return fmt.Errorf("journal: scan: %w", ErrClosed)
	}
	st := j.state.Load()
	if from < 0 || to < from || to > st.n {
		return fmt.Errorf("journal: scan [%d, %d) of %d records: %w", from, to, st.n, ErrNotFound)
	}
	if from == to {
		return nil
	}
	start, err := readIndex(j.index, from)
	if err != nil {
		return fmt.Errorf("journal: scan: %w", err)
	}
	end := st.recEnd
	if to < st.n {
		if end, err = readIndex(j.index, to); err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
	}
	if start < recordsHdrSize || end < start || end > st.recEnd {
		return &CorruptError{File: j.path(indexName), Offset: indexOffset(from), Record: from,
			Reason: fmt.Sprintf("entries give records [%d, %d), impossible in a records file of %d bytes", start, end, st.recEnd)}
	}
	fr := newFrameReader(io.NewSectionReader(j.recs, start, end-start), j.path(recordsName), start, from)
	for i := from; i < to; i++ {
		rec, err := fr.next()
		if errors.Is(err, io.EOF) {
			err = fr.corrupt(fmt.Sprintf("records end at offset %d, before record %d", end, to-1))
		}
		if err != nil {
			return fmt.Errorf("journal: scan: %w", err)
		}
		if err := fn(i, rec); err != nil {
			return fmt.Errorf("journal: scan: record %d: %w", i, err)
		}
	}
	return nil
}

func (j *Journal) path(name string) string { return filepath.Join(j.dir, name) }
