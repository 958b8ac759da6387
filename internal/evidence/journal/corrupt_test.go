package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// files is a copy of a journal's data files.
type files struct {
	dir  string
	data map[string][]byte
}

func snapshot(tb testing.TB, dir string) files {
	tb.Helper()
	s := files{dir: dir, data: map[string][]byte{}}
	for _, name := range []string{"records.dat", "hashes.dat", "index.dat", "checkpoint"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		s.data[name] = b
	}
	return s
}

// restore writes the data files back, leaving the checkpoint alone.
func (s files) restore(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{"records.dat", "hashes.dat", "index.dat"} {
		if err := os.WriteFile(filepath.Join(s.dir, name), s.data[name], 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// check fails unless the files are exactly as snapshotted.
func (s files) check(tb testing.TB) {
	tb.Helper()
	now := snapshot(tb, s.dir)
	for name, b := range s.data {
		if !bytes.Equal(now.data[name], b) {
			tb.Fatalf("%s changed (%d bytes, was %d)", name, len(now.data[name]), len(b))
		}
	}
}

func frameOffsets(tb testing.TB, dir string) []int64 {
	tb.Helper()
	idx, err := os.ReadFile(filepath.Join(dir, "index.dat"))
	if err != nil {
		tb.Fatal(err)
	}
	var offs []int64
	for i := 16; i+8 <= len(idx); i += 8 {
		offs = append(offs, int64(idx[i])<<56|int64(idx[i+1])<<48|int64(idx[i+2])<<40|int64(idx[i+3])<<32|
			int64(idx[i+4])<<24|int64(idx[i+5])<<16|int64(idx[i+6])<<8|int64(idx[i+7]))
	}
	return offs
}

func mutate(tb testing.TB, path string, f func([]byte) []byte) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestCorruptionIsReportedThenRepaired(t *testing.T) {
	const n = 10
	validFrame := appendFrame(nil, []byte(`{"unindexed":true}`))
	tests := []struct {
		name     string
		file     string // the file the damage is in
		damage   func(b []byte, offs []int64) []byte
		offset   func(b []byte, offs []int64) int64 // where Open must say the damage is
		keep     int64                              // records left after Repair
		keepFrom func(offs []int64) int64           // records.dat bytes Repair keeps, -1 if all
	}{
		{
			name:   "last bytes overwritten",
			file:   "records.dat",
			damage: func(b []byte, _ []int64) []byte { copy(b[len(b)-3:], "XYZ"); return b },
			offset: func(_ []byte, offs []int64) int64 { return offs[n-1] },
			keep:   n - 1, keepFrom: func(offs []int64) int64 { return offs[n-1] },
		},
		{
			name:   "byte flipped mid-frame",
			file:   "records.dat",
			damage: func(b []byte, offs []int64) []byte { b[offs[4]+20] ^= 0x40; return b },
			offset: func(_ []byte, offs []int64) int64 { return offs[4] },
			keep:   4, keepFrom: func(offs []int64) int64 { return offs[4] },
		},
		{
			name:   "junk appended",
			file:   "records.dat",
			damage: func(b []byte, _ []int64) []byte { return append(b, "\x00\x00\x00\x05junk!"...) },
			offset: func(b []byte, _ []int64) int64 { return int64(len(b)) - 9 },
			keep:   n, keepFrom: func([]int64) int64 { return -2 },
		},
		{
			name:   "truncated mid-frame",
			file:   "records.dat",
			damage: func(b []byte, _ []int64) []byte { return b[:len(b)-7] },
			offset: func(_ []byte, offs []int64) int64 { return offs[n-1] },
			keep:   n - 1, keepFrom: func(offs []int64) int64 { return offs[n-1] },
		},
		{
			name:   "truncated inside a frame header",
			file:   "records.dat",
			damage: func(b []byte, offs []int64) []byte { return b[:offs[n-1]+3] },
			offset: func(_ []byte, offs []int64) int64 { return offs[n-1] },
			keep:   n - 1, keepFrom: func(offs []int64) int64 { return offs[n-1] },
		},
		{
			name:   "unindexed frame after a crash",
			file:   "records.dat",
			damage: func(b []byte, _ []int64) []byte { return append(b, validFrame...) },
			offset: func(b []byte, _ []int64) int64 { return int64(len(b) - len(validFrame)) },
			keep:   n, keepFrom: func([]int64) int64 { return -2 },
		},
		{
			name:   "torn index entry",
			file:   "index.dat",
			damage: func(b []byte, _ []int64) []byte { return append(b, 0, 0, 1) },
			offset: func(b []byte, _ []int64) int64 { return int64(len(b) - 3) },
			keep:   n, keepFrom: func([]int64) int64 { return -1 },
		},
		{
			name:   "stored hash flipped",
			file:   "hashes.dat",
			damage: func(b []byte, _ []int64) []byte { b[len(b)-1] ^= 1; return b },
			offset: func(b []byte, _ []int64) int64 { return int64(len(b) - 32) },
			keep:   n - 1, keepFrom: func(offs []int64) int64 { return offs[n-1] },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j := mustOpen(t, dir)
			recs := mustAppendN(t, j, n)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			offs := frameOffsets(t, dir)
			path := filepath.Join(dir, tt.file)
			var wantOffset int64
			mutate(t, path, func(b []byte) []byte {
				b = tt.damage(b, offs)
				wantOffset = tt.offset(b, offs)
				return b
			})
			damaged := snapshot(t, dir)

			_, err := Open(dir, testOptions())
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open of a damaged journal = %v, want a CorruptError", err)
			}
			if ce.File != path || ce.Offset != wantOffset {
				t.Fatalf("CorruptError names %s offset %d, want %s offset %d (%v)", ce.File, ce.Offset, path, wantOffset, err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "offset") {
				t.Fatalf("error %q does not name the file and offset", msg)
			}
			damaged.check(t) // Open must not have touched anything

			moved, err := Repair(dir)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if !strings.HasPrefix(filepath.Base(moved), filepath.Base(tt.file)+".corrupt-") &&
				!strings.HasPrefix(filepath.Base(moved), "records.dat.corrupt-") {
				t.Fatalf("Repair moved bytes to %q", moved)
			}
			side, err := os.ReadFile(moved)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing is lost: the side file holds exactly the bytes cut.
			cut := strings.SplitN(moved, ".corrupt-", 2)[0]
			orig := damaged.data[filepath.Base(cut)]
			now, err := os.ReadFile(cut)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(bytes.Clone(now), side...), orig) {
				t.Fatalf("file (%d bytes) + side file (%d bytes) != damaged file (%d bytes)", len(now), len(side), len(orig))
			}
			if kf := tt.keepFrom(offs); kf >= 0 && int64(len(now)) != kf {
				t.Fatalf("records.dat kept %d bytes, want %d", len(now), kf)
			}

			j = mustOpen(t, dir)
			checkRecords(t, j, recs[:tt.keep])
			if err := j.Verify(); err != nil {
				t.Fatalf("Verify after Repair: %v", err)
			}
			// The journal carries on as if the cut records had never been.
			if first, err := j.Append(record(99)); err != nil || first != tt.keep {
				t.Fatalf("Append after Repair = %d, %v; want %d", first, err, tt.keep)
			}
			if _, err := j.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			j.Close()
			checkRecords(t, mustOpen(t, dir), append(recs[:tt.keep:tt.keep], record(99)))
		})
	}
}

func TestRepairRefusesToCutSignedRecords(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	mustAppendN(t, j, 10)
	if _, err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustAppendN2(t, j, 10, 2)
	j.Close()
	offs := frameOffsets(t, dir)
	mutate(t, filepath.Join(dir, "records.dat"), func(b []byte) []byte { b[offs[3]+9] ^= 1; return b })
	damaged := snapshot(t, dir)

	var ce *CorruptError
	if _, err := Open(dir, testOptions()); !errors.As(err, &ce) || ce.Record != 3 {
		t.Fatalf("Open = %v, want a CorruptError at record 3", err)
	}
	if moved, err := Repair(dir); err == nil || !errors.As(err, &ce) {
		t.Fatalf("Repair inside a signed checkpoint = %q, %v; want a refusal", moved, err)
	}
	damaged.check(t)
}

func TestRepairWithNothingToDo(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	recs := mustAppendN(t, j, 3)
	j.Close()
	moved, err := Repair(dir)
	if err != nil || moved != "" {
		t.Fatalf("Repair of a sound journal = %q, %v", moved, err)
	}
	checkRecords(t, mustOpen(t, dir), recs)
}

// TestVerifyFindsOldDamage shows the limit of Open's check: a checkpointed
// record far from the tail is only re-read by Verify (and by Record).
func TestVerifyFindsOldDamage(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	for i := 0; i < 200; i += 50 {
		batch := make([][]byte, 50)
		for k := range batch {
			batch[k] = record(i + k)
		}
		if _, err := j.Append(batch...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	offs := frameOffsets(t, dir)
	mutate(t, filepath.Join(dir, "records.dat"), func(b []byte) []byte { b[offs[2]+12] ^= 1; return b })

	j = mustOpen(t, dir)
	var ce *CorruptError
	if err := j.Verify(); !errors.As(err, &ce) || ce.Record != 2 || ce.Offset != offs[2] {
		t.Fatalf("Verify = %v, want a CorruptError at record 2", err)
	}
	if _, err := j.Record(2); !errors.As(err, &ce) || ce.Record != 2 {
		t.Fatalf("Record(2) = %v, want a CorruptError", err)
	}
	if err := j.Scan(0, 5, func(int64, []byte) error { return nil }); !errors.As(err, &ce) || ce.Record != 2 {
		t.Fatalf("Scan = %v, want a CorruptError at record 2", err)
	}
}

func TestMissingDataFile(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	mustAppendN(t, j, 2)
	j.Close()
	if err := os.Remove(filepath.Join(dir, "index.dat")); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := Open(dir, testOptions()); !errors.As(err, &ce) || ce.File != filepath.Join(dir, "index.dat") {
		t.Fatalf("Open without index.dat = %v, want a CorruptError naming it", err)
	}
}
