package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

// MaxRecordSize bounds a record so that a corrupted length field can never
// make a reader allocate gigabytes, and so that one record cannot stall the
// group commit of everyone else.
const MaxRecordSize = 1 << 20

const (
	formatVersion = 1

	recordsName     = "records.dat"
	hashesName      = "hashes.dat"
	indexName       = "index.dat"
	keyName         = "signing.key"
	pubName         = "signing.pub"
	checkpointName  = "checkpoint"
	historyName     = "checkpoints.log"
	lockName        = "LOCK"
	recordsHdrSize  = 16
	indexHdrSize    = 16
	hashesHdrSize   = 32 // a whole slot, so hash slots stay 32-byte aligned
	frameHeaderSize = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header returns the header of a journal file: magic, version, zero padding.
func header(magic string, size int) []byte {
	h := make([]byte, size)
	copy(h, magic)
	binary.BigEndian.PutUint32(h[8:], formatVersion)
	return h
}

var (
	recordsHeader = header("PREAUREC", recordsHdrSize)
	indexHeader   = header("PREAUIDX", indexHdrSize)
	hashesHeader  = header("PREAUHSH", hashesHdrSize)
)

// checkHeader reads len(want) bytes from r and reports a CorruptError
// naming name unless they are exactly want.
func checkHeader(r io.Reader, name string, want []byte) error {
	got := make([]byte, len(want))
	n, err := io.ReadFull(r, got)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("journal: read header of %s: %w", name, err)
	}
	if n < len(want) {
		return &CorruptError{File: name, Offset: int64(n), Record: -1,
			Reason: fmt.Sprintf("file header is %d bytes, want %d", n, len(want))}
	}
	if !bytes.Equal(got[:8], want[:8]) {
		return &CorruptError{File: name, Offset: 0, Record: -1,
			Reason: fmt.Sprintf("bad magic %q, want %q", got[:8], want[:8])}
	}
	if v := binary.BigEndian.Uint32(got[8:]); v != formatVersion {
		return &CorruptError{File: name, Offset: 8, Record: -1,
			Reason: fmt.Sprintf("unsupported format version %d", v)}
	}
	if !bytes.Equal(got[12:], want[12:]) {
		return &CorruptError{File: name, Offset: 12, Record: -1, Reason: "non-zero header padding"}
	}
	return nil
}

// appendFrame appends the frame for payload to dst.
func appendFrame(dst, payload []byte) []byte {
	var h [frameHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// A frameReader reads consecutive frames of the records file.
type frameReader struct {
	r    *bufio.Reader
	name string // file name for errors
	off  int64  // file offset of the next frame
	rec  int64  // record index of the next frame
	buf  []byte // payload buffer, reused so that scans run in bounded memory
}

func newFrameReader(r io.Reader, name string, off, rec int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 256<<10), name: name, off: off, rec: rec}
}

// next returns the next payload, valid until the following call. At a clean
// end of input it returns io.EOF; a torn or damaged frame yields a
// *CorruptError and leaves the reader where that frame starts.
func (fr *frameReader) next() ([]byte, error) {
	var h [frameHeaderSize]byte
	n, err := io.ReadFull(fr.r, h[:])
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fr.corrupt(fmt.Sprintf("torn frame: header has %d of %d bytes", n, frameHeaderSize))
	case err != nil:
		return nil, fmt.Errorf("journal: read %s at offset %d: %w", fr.name, fr.off, err)
	}
	size := binary.BigEndian.Uint32(h[0:])
	if size > MaxRecordSize {
		return nil, fr.corrupt(fmt.Sprintf("frame length %d exceeds the %d-byte record limit", size, MaxRecordSize))
	}
	if cap(fr.buf) < int(size) {
		fr.buf = make([]byte, size)
	}
	p := fr.buf[:size]
	n, err = io.ReadFull(fr.r, p)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fr.corrupt(fmt.Sprintf("torn frame: payload has %d of %d bytes", n, size))
	case err != nil:
		return nil, fmt.Errorf("journal: read %s at offset %d: %w", fr.name, fr.off, err)
	}
	if want, got := binary.BigEndian.Uint32(h[4:]), crc32.Checksum(p, castagnoli); want != got {
		return nil, fr.corrupt(fmt.Sprintf("CRC-32C mismatch: frame says %08x, payload has %08x", want, got))
	}
	fr.off += frameHeaderSize + int64(size)
	fr.rec++
	return p, nil
}

func (fr *frameReader) corrupt(reason string) *CorruptError {
	return &CorruptError{File: fr.name, Offset: fr.off, Record: fr.rec, Reason: reason}
}

// decodeFrame checks one complete frame held in b (as read by Record).
func decodeFrame(b []byte, name string, off, rec int64) ([]byte, error) {
	bad := func(reason string) error {
		return &CorruptError{File: name, Offset: off, Record: rec, Reason: reason}
	}
	if len(b) < frameHeaderSize {
		return nil, bad("frame shorter than its header")
	}
	size := binary.BigEndian.Uint32(b[0:])
	if int64(size) != int64(len(b)-frameHeaderSize) {
		return nil, bad(fmt.Sprintf("frame length %d disagrees with the index (%d bytes)", size, len(b)-frameHeaderSize))
	}
	p := b[frameHeaderSize:]
	if want, got := binary.BigEndian.Uint32(b[4:]), crc32.Checksum(p, castagnoli); want != got {
		return nil, bad(fmt.Sprintf("CRC-32C mismatch: frame says %08x, payload has %08x", want, got))
	}
	return p, nil
}

func indexOffset(i int64) int64 { return indexHdrSize + 8*i }
func hashOffset(k int64) int64  { return hashesHdrSize + tlog.HashSize*k }

// readIndex returns the frame offset of record i.
func readIndex(f *os.File, i int64) (int64, error) {
	var b [8]byte
	if _, err := f.ReadAt(b[:], indexOffset(i)); err != nil {
		return 0, fmt.Errorf("journal: read index entry %d: %w", i, err)
	}
	return int64(binary.BigEndian.Uint64(b[:])), nil
}

// hashFile reads stored hashes from hashes.dat; it is a tlog.HashReader.
type hashFile struct{ f *os.File }

func (h hashFile) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, k := range indexes {
		if _, err := h.f.ReadAt(out[i][:], hashOffset(k)); err != nil {
			return nil, fmt.Errorf("journal: read stored hash %d: %w", k, err)
		}
	}
	return out, nil
}
