package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

const testOrigin = "test.preau/evidence"

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

func testOptions() Options {
	return Options{
		Origin:      testOrigin,
		Now:         func() time.Time { return testTime },
		ClockSource: "test clock",
		Logger:      slog.New(slog.DiscardHandler),
	}
}

// mustOpen opens the journal in dir with test options and closes it when
// the test ends.
func mustOpen(tb testing.TB, dir string) *Journal {
	tb.Helper()
	j, err := Open(dir, testOptions())
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { j.Close() })
	return j
}

// record returns a distinct, recognisable test record.
func record(i int) []byte {
	return fmt.Appendf(nil, `{"event":"flood","seq":%d,"source":"203.0.113.%d"}`, i, i%256)
}

// mustAppendN appends records 0..n-1 one call each and returns them.
func mustAppendN(tb testing.TB, j *Journal, n int) [][]byte {
	tb.Helper()
	var recs [][]byte
	for i := range n {
		r := record(i)
		first, err := j.Append(r)
		if err != nil {
			tb.Fatalf("Append(%d): %v", i, err)
		}
		if first != int64(i) {
			tb.Fatalf("Append(%d) = index %d", i, first)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkRecords checks that the journal holds exactly want, through both
// Record and Scan.
func checkRecords(tb testing.TB, j *Journal, want [][]byte) {
	tb.Helper()
	if got := j.Size(); got != int64(len(want)) {
		tb.Fatalf("Size = %d, want %d", got, len(want))
	}
	for i, w := range want {
		got, err := j.Record(int64(i))
		if err != nil {
			tb.Fatalf("Record(%d): %v", i, err)
		}
		if !bytes.Equal(got, w) {
			tb.Fatalf("Record(%d) = %q, want %q", i, got, w)
		}
	}
	var scanned [][]byte
	err := j.Scan(0, j.Size(), func(i int64, rec []byte) error {
		if i != int64(len(scanned)) {
			return fmt.Errorf("got index %d, want %d", i, len(scanned))
		}
		scanned = append(scanned, bytes.Clone(rec))
		return nil
	})
	if err != nil {
		tb.Fatalf("Scan: %v", err)
	}
	if !slices.EqualFunc(scanned, want, bytes.Equal) {
		tb.Fatalf("Scan returned %d records differing from the %d appended", len(scanned), len(want))
	}
}

func TestAppendThenRead(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	want := mustAppendN(t, j, 5)

	batch := [][]byte{record(5), {}, record(7)}
	first, err := j.Append(batch...)
	if err != nil {
		t.Fatal(err)
	}
	if first != 5 {
		t.Fatalf("batch starts at %d, want 5", first)
	}
	want = append(want, batch...)
	checkRecords(t, j, want)

	if first, err := j.Append(); err != nil || first != 8 {
		t.Fatalf("Append() = %d, %v; want 8, nil", first, err)
	}

	var got []int64
	if err := j.Scan(2, 6, func(i int64, _ []byte) error { got = append(got, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int64{2, 3, 4, 5}) {
		t.Fatalf("Scan(2, 6) visited %v", got)
	}
	stop := errors.New("stop")
	err = j.Scan(0, 8, func(i int64, _ []byte) error {
		if i == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Scan with failing callback = %v, want the callback's error", err)
	}
}

func TestOutOfRange(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	mustAppendN(t, j, 3)
	for _, i := range []int64{-1, 3, 100} {
		if _, err := j.Record(i); !errors.Is(err, ErrNotFound) {
			t.Errorf("Record(%d) = %v, want ErrNotFound", i, err)
		}
	}
	noop := func(int64, []byte) error { return nil }
	for _, r := range [][2]int64{{-1, 2}, {2, 1}, {0, 4}} {
		if err := j.Scan(r[0], r[1], noop); !errors.Is(err, ErrNotFound) {
			t.Errorf("Scan(%d, %d) = %v, want ErrNotFound", r[0], r[1], err)
		}
	}
	if _, err := j.InclusionProof(3, 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("InclusionProof(3, 3) = %v, want ErrNotFound", err)
	}
	if _, err := j.InclusionProof(0, 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("InclusionProof(0, 4) = %v, want ErrNotFound", err)
	}
	if _, err := j.ConsistencyProof(2, 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConsistencyProof(2, 4) = %v, want ErrNotFound", err)
	}
	if _, err := j.ConsistencyProof(3, 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConsistencyProof(3, 2) = %v, want ErrNotFound", err)
	}
}

func TestRecordSizeLimit(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	big := bytes.Repeat([]byte{'x'}, MaxRecordSize+1)
	if _, err := j.Append(record(0), big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append(oversized) = %v, want ErrTooLarge", err)
	}
	if j.Size() != 0 {
		t.Fatalf("Size = %d after a refused batch, want 0", j.Size())
	}
	if _, err := j.Append(big[:MaxRecordSize]); err != nil {
		t.Fatalf("Append(MaxRecordSize bytes): %v", err)
	}
	got, err := j.Record(0)
	if err != nil || len(got) != MaxRecordSize {
		t.Fatalf("Record(0) = %d bytes, %v", len(got), err)
	}
}

func TestReopenSeesEverything(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	want := mustAppendN(t, j, 20)
	cp, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	first, err := j.Append(record(20), record(21))
	if err != nil || first != 20 {
		t.Fatalf("Append = %d, %v", first, err)
	}
	want = append(want, record(20), record(21))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j = mustOpen(t, dir)
	checkRecords(t, j, want)
	latest, ok := j.Latest()
	if !ok || latest.Tree != cp.Tree || !bytes.Equal(latest.Signed, cp.Signed) {
		t.Fatalf("Latest after reopen = %+v, %v; want %+v", latest.Tree, ok, cp.Tree)
	}
	if err := j.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Appending continues where the closed journal stopped.
	if first, err := j.Append(record(22)); err != nil || first != 22 {
		t.Fatalf("Append after reopen = %d, %v; want 22", first, err)
	}
}

func TestConcurrentAppenders(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	const workers, perWorker = 16, 50

	type appended struct {
		index int64
		rec   []byte
	}
	results := make([][]appended, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range perWorker {
				recs := [][]byte{fmt.Appendf(nil, "worker %d record %d", w, k)}
				if k%5 == 0 { // mix single appends with small batches
					recs = append(recs, fmt.Appendf(nil, "worker %d record %d bis", w, k))
				}
				first, err := j.Append(recs...)
				if err != nil {
					t.Errorf("worker %d: Append: %v", w, err)
					return
				}
				for x, r := range recs {
					results[w] = append(results[w], appended{first + int64(x), r})
				}
			}
		})
	}
	// Readers run alongside the writers: they must only ever see durable,
	// whole records.
	wg.Go(func() {
		for range 200 {
			n := j.Size()
			if n == 0 {
				continue
			}
			if _, err := j.Record(n - 1); err != nil {
				t.Errorf("Record(%d) during appends: %v", n-1, err)
				return
			}
		}
	})
	wg.Wait()

	want := make([][]byte, j.Size())
	for _, rs := range results {
		for _, a := range rs {
			if a.index < 0 || a.index >= int64(len(want)) || want[a.index] != nil {
				t.Fatalf("index %d handed out twice or out of range", a.index)
			}
			want[a.index] = a.rec
		}
	}
	if wantN := workers * (perWorker + perWorker/5); len(want) != wantN {
		t.Fatalf("Size = %d, want %d", len(want), wantN)
	}
	checkRecords(t, j, want)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = mustOpen(t, dir)
	checkRecords(t, j, want)
	if err := j.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestClosedJournal(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	mustAppendN(t, j, 1)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := j.Append(record(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := j.Record(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	if _, err := j.Checkpoint(); !errors.Is(err, ErrClosed) {
		t.Errorf("Checkpoint after Close = %v, want ErrClosed", err)
	}
}

func TestOpenTwiceIsRefused(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir)
	j, err := Open(dir, testOptions())
	if err == nil {
		j.Close()
		t.Fatal("second Open of an open journal succeeded")
	}
	if _, err := Repair(dir); err == nil {
		t.Fatal("Repair of an open journal succeeded")
	}
}

// TestOnDiskFormat decodes the files by hand, following the package
// documentation, so that a format change cannot go unnoticed.
func TestOnDiskFormat(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	want := mustAppendN(t, j, 11)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	recs, index, hashes := read("records.dat"), read("index.dat"), read("hashes.dat")

	if string(recs[:8]) != "PREAUREC" || binary.BigEndian.Uint32(recs[8:]) != 1 {
		t.Fatalf("records header = %q", recs[:16])
	}
	if string(index[:8]) != "PREAUIDX" || string(hashes[:8]) != "PREAUHSH" {
		t.Fatalf("index or hashes header wrong: %q %q", index[:8], hashes[:8])
	}
	if len(index) != 16+8*len(want) {
		t.Fatalf("index.dat is %d bytes, want %d", len(index), 16+8*len(want))
	}
	off := 16
	for i, w := range want {
		if got := binary.BigEndian.Uint64(index[16+8*i:]); got != uint64(off) {
			t.Fatalf("index entry %d = %d, want %d", i, got, off)
		}
		size := binary.BigEndian.Uint32(recs[off:])
		sum := binary.BigEndian.Uint32(recs[off+4:])
		payload := recs[off+8 : off+8+int(size)]
		if !bytes.Equal(payload, w) || sum != crc32.Checksum(w, crc32.MakeTable(crc32.Castagnoli)) {
			t.Fatalf("frame %d = %q (crc %08x)", i, payload, sum)
		}
		off += 8 + int(size)
	}
	if off != len(recs) {
		t.Fatalf("records.dat has %d bytes after the last frame", len(recs)-off)
	}

	// Recompute the stored hashes in memory, as tlog documents them.
	var stored []tlog.Hash
	mem := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for k, x := range ix {
			out[k] = stored[x]
		}
		return out, nil
	})
	for i, w := range want {
		hs, err := tlog.StoredHashes(int64(i), w, mem)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	if len(hashes) != 32+32*len(stored) {
		t.Fatalf("hashes.dat is %d bytes, want %d", len(hashes), 32+32*len(stored))
	}
	for k, h := range stored {
		if !bytes.Equal(hashes[32+32*k:64+32*k], h[:]) {
			t.Fatalf("stored hash %d differs", k)
		}
	}
}

// TestWriteFailureStopsAppends simulates a disk failing under index.dat in
// the middle of a batch: the journal must stop accepting appends, and the
// half-written batch must be caught at the next Open.
func TestWriteFailureStopsAppends(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	recs := mustAppendN(t, j, 3)
	if err := j.index.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(record(3)); err == nil {
		t.Fatal("Append succeeded although index.dat cannot be written")
	}
	if _, err := j.Append(record(4)); err == nil {
		t.Fatal("Append after a failed write succeeded")
	}
	if j.Size() != 3 {
		t.Fatalf("Size = %d after failed appends, want 3", j.Size())
	}
	j.Close() // reports the index already closed

	var ce *CorruptError
	if _, err := Open(dir, testOptions()); !errors.As(err, &ce) || ce.File != filepath.Join(dir, "records.dat") {
		t.Fatalf("Open after a half-written batch = %v, want a CorruptError naming records.dat", err)
	}
	moved, err := Repair(dir)
	if err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile(moved)
	if err != nil {
		t.Fatal(err)
	}
	if want := appendFrame(nil, record(3)); !bytes.Equal(side, want) {
		t.Fatalf("side file holds %q, want the unacknowledged frame %q", side, want)
	}
	checkRecords(t, mustOpen(t, dir), recs)
}
