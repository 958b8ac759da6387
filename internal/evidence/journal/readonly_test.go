package journal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// dirSums maps every file of dir to the SHA-256 of its content, so that a
// test can tell that nothing was created, removed or changed.
func dirSums(tb testing.TB, dir string) map[string][32]byte {
	tb.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// appendMore appends records from to from+n-1 to a journal holding from.
func appendMore(tb testing.TB, j *Journal, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		if _, err := j.Append(record(i)); err != nil {
			tb.Fatal(err)
		}
	}
}

func readOnlyOptions() Options { return Options{Logger: slog.New(slog.DiscardHandler)} }

func mustOpenReadOnly(tb testing.TB, dir string) *Journal {
	tb.Helper()
	j, err := OpenReadOnly(dir, readOnlyOptions())
	if err != nil {
		tb.Fatalf("OpenReadOnly: %v", err)
	}
	tb.Cleanup(func() { j.Close() })
	return j
}

// TestOpenReadOnlyWhileWriterHoldsIt reads a journal that another Journal
// holds open (and its lock), as export does while Préau runs.
func TestOpenReadOnlyWhileWriterHoldsIt(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, dir)
	recs := mustAppendN(t, w, 70) // more than tailCheck, so the audit starts inside
	cp, err := w.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	appendMore(t, w, 70, 5)
	for i := 70; i < 75; i++ {
		recs = append(recs, record(i))
	}
	before := dirSums(t, dir)

	r := mustOpenReadOnly(t, dir)
	if !r.ReadOnly() || r.Size() != 70 || r.Uncovered() != 5 {
		t.Fatalf("read-only journal: ReadOnly %v, Size %d, Uncovered %d; want true, 70, 5", r.ReadOnly(), r.Size(), r.Uncovered())
	}
	checkRecords(t, r, recs[:70])
	if err := r.Scan(0, 71, func(int64, []byte) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Scan past the checkpoint = %v, want ErrNotFound", err)
	}
	latest, ok := r.Latest()
	if !ok || latest.Tree != cp.Tree || !bytes.Equal(latest.Signed, cp.Signed) {
		t.Fatalf("Latest = %+v, %v; want the writer's checkpoint", latest.Tree, ok)
	}
	for _, i := range []int64{0, 37, 69} {
		p, err := r.InclusionProof(i, r.Size())
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(cp, i, recs[i], p); err != nil {
			t.Errorf("inclusion proof of record %d: %v", i, err)
		}
	}
	var tail [][]byte
	if err := r.ScanUncovered(func(i int64, rec []byte) error {
		if i != 70+int64(len(tail)) {
			t.Errorf("uncovered record index %d, want %d", i, 70+len(tail))
		}
		tail = append(tail, bytes.Clone(rec))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(tail) != 5 || !bytes.Equal(tail[0], recs[70]) || !bytes.Equal(tail[4], recs[74]) {
		t.Errorf("uncovered records %q, want records 70 to 74", tail)
	}
	if err := r.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
	msg := []byte("MANIFEST")
	if !ed25519.Verify(r.PublicKey(), msg, r.Sign(msg)) || r.VerifierKey() != w.VerifierKey() {
		t.Error("the read-only journal does not sign with the journal's key")
	}
	if _, err := r.Append(record(99)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append = %v, want ErrReadOnly", err)
	}
	if _, err := r.Checkpoint(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Checkpoint = %v, want ErrReadOnly", err)
	}
	if after := dirSums(t, dir); !maps.Equal(before, after) {
		t.Error("reading the journal changed its directory")
	}

	// The writer goes on, signs, and the reader keeps its consistent view.
	appendMore(t, w, 75, 3)
	if _, err := w.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, r, recs[:70])
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := r.Record(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close = %v, want ErrClosed", err)
	}
	// A new reader sees the new checkpoint.
	if r2 := mustOpenReadOnly(t, dir); r2.Size() != 78 || r2.Uncovered() != 0 {
		t.Errorf("second reader: Size %d, Uncovered %d; want 78, 0", r2.Size(), r2.Uncovered())
	}
	// Readers hold no lock: the writer can close and reopen meanwhile.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir)
}

func TestOpenReadOnlyWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	w := mustOpen(t, dir)
	mustAppendN(t, w, 3)
	r := mustOpenReadOnly(t, dir)
	if _, ok := r.Latest(); ok || r.Size() != 0 || r.Uncovered() != 3 {
		t.Errorf("Size %d, Uncovered %d, checkpoint %v; want 0, 3, none", r.Size(), r.Uncovered(), ok)
	}
}

func TestOpenReadOnlyCreatesNothing(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent")
	if _, err := OpenReadOnly(absent, readOnlyOptions()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing directory = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(absent); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly created %s", absent)
	}
	empty := t.TempDir()
	if _, err := OpenReadOnly(empty, readOnlyOptions()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of an empty directory = %v, want fs.ErrNotExist", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("OpenReadOnly left %d files in an empty directory", len(ents))
	}

	dir := t.TempDir()
	w := mustOpen(t, dir)
	mustAppendN(t, w, 2)
	if _, err := w.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Open would write signing.pub back; a reader must not.
	if err := os.Remove(filepath.Join(dir, pubName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, lockName)); err != nil {
		t.Fatal(err)
	}
	before := dirSums(t, dir)
	r := mustOpenReadOnly(t, dir)
	if r.Size() != 2 {
		t.Errorf("Size %d, want 2", r.Size())
	}
	r.Close()
	if after := dirSums(t, dir); !maps.Equal(before, after) {
		t.Errorf("OpenReadOnly changed the directory: %d files before, %d after", len(before), len(after))
	}
	if _, err := OpenReadOnly(dir, Options{Origin: "someone.else/evidence"}); err == nil {
		t.Error("OpenReadOnly accepted an origin that is not the journal's")
	}
}

func TestOpenReadOnlyDetectsDamage(t *testing.T) {
	build := func(t *testing.T) (string, int64) {
		dir := t.TempDir()
		w := mustOpen(t, dir)
		mustAppendN(t, w, 10)
		if _, err := w.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		appendMore(t, w, 10, 2)
		w.Close()
		fi, err := os.Stat(filepath.Join(dir, recordsName))
		if err != nil {
			t.Fatal(err)
		}
		return dir, fi.Size()
	}

	t.Run("covered record", func(t *testing.T) {
		dir, _ := build(t)
		p := filepath.Join(dir, recordsName)
		b, _ := os.ReadFile(p)
		b[recordsHdrSize+frameHeaderSize+3] ^= 1 // inside record 0
		os.WriteFile(p, b, 0o600)
		before := dirSums(t, dir)
		_, err := OpenReadOnly(dir, readOnlyOptions())
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != p || ce.Record != 0 {
			t.Fatalf("OpenReadOnly = %v, want a CorruptError for record 0 of %s", err, p)
		}
		if after := dirSums(t, dir); !maps.Equal(before, after) {
			t.Error("OpenReadOnly changed a damaged journal")
		}
	})

	t.Run("uncovered tail", func(t *testing.T) {
		dir, size := build(t)
		if err := os.Truncate(filepath.Join(dir, recordsName), size-3); err != nil {
			t.Fatal(err)
		}
		r := mustOpenReadOnly(t, dir) // the covered records are intact
		if r.Size() != 10 || r.Uncovered() != 2 {
			t.Fatalf("Size %d, Uncovered %d; want 10, 2", r.Size(), r.Uncovered())
		}
		n := 0
		err := r.ScanUncovered(func(int64, []byte) error { n++; return nil })
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Record != 11 || n != 1 {
			t.Errorf("ScanUncovered = %v after %d records, want a CorruptError at record 11 after 1", err, n)
		}
	})

	t.Run("index shorter than the checkpoint", func(t *testing.T) {
		dir, _ := build(t)
		if err := os.Truncate(filepath.Join(dir, indexName), indexOffset(5)); err != nil {
			t.Fatal(err)
		}
		var ce *CorruptError
		if _, err := OpenReadOnly(dir, readOnlyOptions()); !errors.As(err, &ce) {
			t.Errorf("OpenReadOnly = %v, want a CorruptError", err)
		}
	})
}
