package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// readRecords parses a whole records file the way audit and Scan do: the
// header, then frames until the end.
func readRecords(data []byte) ([][]byte, error) {
	r := bytes.NewReader(data)
	if err := checkHeader(r, "records.dat", recordsHeader); err != nil {
		return nil, err
	}
	fr := newFrameReader(r, "records.dat", recordsHdrSize, 0)
	var recs [][]byte
	for {
		p, err := fr.next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, bytes.Clone(p))
	}
}

func encodeRecords(recs [][]byte) []byte {
	b := bytes.Clone(recordsHeader)
	for _, r := range recs {
		b = appendFrame(b, r)
	}
	return b
}

func FuzzFrames(f *testing.F) {
	valid := encodeRecords([][]byte{record(0), {}, record(2)})
	f.Add(valid)
	f.Add([]byte{})
	f.Add(bytes.Clone(recordsHeader))
	f.Add(recordsHeader[:7])
	f.Add(valid[:len(valid)-3])                      // torn payload
	f.Add(valid[:len(valid)-len(record(2))-5])       // torn frame header
	f.Add(append(bytes.Clone(valid), 0xff, 0, 0, 0)) // junk
	flipped := bytes.Clone(valid)
	flipped[40] ^= 1
	f.Add(flipped)
	huge := binary.BigEndian.AppendUint32(bytes.Clone(recordsHeader), MaxRecordSize+1)
	f.Add(append(huge, 0, 0, 0, 0))
	f.Add([]byte("PREAUREC\x00\x00\x00\x02\x00\x00\x00\x00")) // future version

	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readRecords(data)
		if err == nil {
			// Parsing is exact: the frames account for every byte.
			if !bytes.Equal(encodeRecords(recs), data) {
				t.Fatalf("parsed %d records that do not re-encode to the input", len(recs))
			}
		} else {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a CorruptError", err)
			}
			if ce.Offset < 0 || ce.Offset > int64(len(data)) {
				t.Fatalf("CorruptError offset %d outside %d-byte input", ce.Offset, len(data))
			}
			// Frame errors point just after the good prefix.
			if ce.Record >= 0 {
				if ce.Record != int64(len(recs)) || !bytes.Equal(encodeRecords(recs), data[:ce.Offset]) {
					t.Fatalf("CorruptError at offset %d, record %d does not follow the %d good records", ce.Offset, ce.Record, len(recs))
				}
			}
		}

		// Record's path: one complete frame.
		p, err := decodeFrame(data, "records.dat", 0, 0)
		if err == nil {
			if !bytes.Equal(appendFrame(nil, p), data) {
				t.Fatal("decodeFrame accepted bytes that are not one frame")
			}
		} else if ce := (*CorruptError)(nil); !errors.As(err, &ce) {
			t.Fatalf("decodeFrame error %v is not a CorruptError", err)
		}
	})
}
