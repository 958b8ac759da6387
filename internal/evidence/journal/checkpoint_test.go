package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestCheckpointNote(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	recs := mustAppendN(t, j, 3)
	cp, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	root := tlog.NodeHash(tlog.NodeHash(tlog.RecordHash(recs[0]), tlog.RecordHash(recs[1])), tlog.RecordHash(recs[2]))
	wantText := testOrigin + "\n3\n" + root.String() + "\ntime 2026-03-14T09:26:53.589793238Z\nclock test clock\n\n"
	if !strings.HasPrefix(string(cp.Signed), wantText) {
		t.Fatalf("signed note =\n%s\nwant it to start with\n%s", cp.Signed, wantText)
	}
	sigLines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(string(cp.Signed), wantText), "\n"), "\n")
	if len(sigLines) != 1 || !strings.HasPrefix(sigLines[0], "— "+testOrigin+" ") {
		t.Fatalf("signature lines = %q", sigLines)
	}

	got, err := VerifyCheckpoint(cp.Signed, j.VerifierKey())
	if err != nil {
		t.Fatalf("VerifyCheckpoint: %v", err)
	}
	if got.Tree != (tlog.Tree{N: 3, Hash: root}) || !got.Time.Equal(testTime) || got.Origin != testOrigin || got.Clock != "test clock" {
		t.Fatalf("VerifyCheckpoint = %+v", got)
	}
	if cp.Tree != got.Tree || !cp.Time.Equal(got.Time) {
		t.Fatalf("Checkpoint returned %+v, the note says %+v", cp, got)
	}
	if latest, ok := j.Latest(); !ok || !bytes.Equal(latest.Signed, cp.Signed) {
		t.Fatal("Latest is not the checkpoint just signed")
	}
}

func TestCheckpointSignatureChecks(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	mustAppendN(t, j, 4)
	cp, err := j.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	other := mustOpen(t, t.TempDir()) // same origin, different key

	tampered := func(old, new string) []byte {
		s := strings.Replace(string(cp.Signed), old, new, 1)
		if s == string(cp.Signed) {
			t.Fatalf("%q not found in note", old)
		}
		return []byte(s)
	}
	sig := strings.Fields(strings.Split(string(cp.Signed), "\n")[6])[2]
	badSig := []byte(sig)
	badSig[10] ^= 1
	for name, c := range map[string]struct {
		signed []byte
		key    string
	}{
		"size changed":      {tampered("\n4\n", "\n5\n"), j.VerifierKey()},
		"clock changed":     {tampered("clock test clock", "clock atomic"), j.VerifierKey()},
		"signature changed": {tampered(sig, string(badSig)), j.VerifierKey()},
		"wrong key":         {cp.Signed, other.VerifierKey()},
		"no signature":      {[]byte(strings.Split(string(cp.Signed), "\n\n")[0] + "\n"), j.VerifierKey()},
	} {
		if _, err := VerifyCheckpoint(c.signed, c.key); err == nil {
			t.Errorf("%s: VerifyCheckpoint accepted the note", name)
		}
	}
	if _, err := VerifyCheckpoint(cp.Signed, j.VerifierKey()); err != nil {
		t.Fatalf("untouched note rejected: %v", err)
	}
}

func TestCheckpointHistory(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	var signed [][]byte
	for i := range 3 {
		mustAppendN2(t, j, i*2, 2)
		cp, err := j.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, cp.Signed)
	}

	latest, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(latest, signed[2]) {
		t.Fatalf("checkpoint file =\n%s\nwant the last checkpoint", latest)
	}
	f, err := os.Open(filepath.Join(dir, "checkpoints.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e historyEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("history line %d: %v", n, err)
		}
		if n >= len(signed) || e.Note != string(signed[n]) {
			t.Fatalf("history line %d holds another note", n)
		}
		cp, err := VerifyCheckpoint([]byte(e.Note), j.VerifierKey())
		if err != nil {
			t.Fatalf("history line %d: %v", n, err)
		}
		if e.Size != cp.Tree.N || e.Root != cp.Tree.Hash.String() || !e.Time.Equal(cp.Time) {
			t.Fatalf("history line %d: %+v disagrees with its note", n, e)
		}
		n++
	}
	if n != len(signed) {
		t.Fatalf("history holds %d checkpoints, want %d", n, len(signed))
	}
}

// mustAppendN2 appends records from..from+n-1.
func mustAppendN2(tb testing.TB, j *Journal, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		if _, err := j.Append(record(i)); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestOpenChecksLatestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	mustAppendN(t, j, 5)
	if _, err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	j.Close()

	path := filepath.Join(dir, "checkpoint")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("\n5\n"), []byte("\n4\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, testOptions())
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("Open with a forged checkpoint = %v, want a CorruptError naming %s", err, path)
	}
}

// TestOpenDetectsRewrittenHistory builds a self-consistent journal that
// differs from a signed one in record 3: only the checkpoint can tell.
func TestOpenDetectsRewrittenHistory(t *testing.T) {
	signedDir, forgedDir := t.TempDir(), t.TempDir()
	j := mustOpen(t, signedDir)
	mustAppendN(t, j, 10)
	if _, err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	for _, name := range []string{"signing.key", "signing.pub"} {
		b, err := os.ReadFile(filepath.Join(signedDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(forgedDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	forged := mustOpen(t, forgedDir)
	for i := range 10 {
		r := record(i)
		if i == 3 {
			r = []byte(`{"event":"nothing happened"}`)
		}
		if _, err := forged.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	forged.Close()
	cp, err := os.ReadFile(filepath.Join(signedDir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(forgedDir, "checkpoint"), cp, 0o644); err != nil {
		t.Fatal(err)
	}

	_, err = Open(forgedDir, testOptions())
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != filepath.Join(forgedDir, "hashes.dat") {
		t.Fatalf("Open of a rewritten journal = %v, want a CorruptError about the tree", err)
	}
}

func TestOpenDetectsRollback(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	mustAppendN(t, j, 5)
	before := snapshot(t, dir)
	mustAppendN2(t, j, 5, 5)
	if _, err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	before.restore(t) // data files back to 5 records, checkpoint still at 10

	_, err := Open(dir, testOptions())
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "checkpoint covers 10") {
		t.Fatalf("Open after rollback = %v, want a CorruptError about the checkpoint", err)
	}
	// The files agree with each other: there is no tail for Repair to cut,
	// and it must not touch them.
	if moved, err := Repair(dir); err != nil || moved != "" {
		t.Fatalf("Repair of consistent files = %q, %v; want nothing done", moved, err)
	}
	before.check(t)
}
