package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"preau/internal/domain"
)

func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenCreatesPrivateDirs(t *testing.T) {
	_, dir := openStore(t)
	for _, d := range []string{"tmp", "sha256"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want drwx------", d, fi.Mode())
		}
	}
	// Opening again must work on the existing layout.
	if _, err := Open(dir); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	s, dir := openStore(t)
	for _, content := range [][]byte{[]byte("hello, préau"), {}, bytes.Repeat([]byte{0xAB}, 1<<20+7)} {
		sum, size, err := s.Put(bytes.NewReader(content), 2<<20)
		if err != nil {
			t.Fatal(err)
		}
		if sum != sha(content) || size != int64(len(content)) {
			t.Fatalf("Put = %s, %d; want %s, %d", sum, size, sha(content), len(content))
		}
		if !s.Has(sum) {
			t.Fatal("Has = false after Put")
		}
		// The documented layout: sha256/ab/cdef….
		if _, err := os.Stat(filepath.Join(dir, "sha256", sum[:2], sum[2:])); err != nil {
			t.Fatalf("blob not at expected path: %v", err)
		}
		f, err := s.Open(sum)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content) {
			t.Fatalf("read back %d bytes, differing from the %d put", len(got), len(content))
		}
	}
	if left := files(t, filepath.Join(dir, "tmp")); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

func TestExactlyMaxIsAccepted(t *testing.T) {
	s, _ := openStore(t)
	content := bytes.Repeat([]byte("x"), 100)
	if _, size, err := s.Put(bytes.NewReader(content), 100); err != nil || size != 100 {
		t.Fatalf("Put of exactly max bytes = %d, %v", size, err)
	}
	if _, _, err := s.Put(strings.NewReader(""), 0); err != nil {
		t.Fatalf("Put of empty content with max 0: %v", err)
	}
}

func TestDedup(t *testing.T) {
	s, dir := openStore(t)
	content := []byte("the same handout, uploaded twice")
	sum1, _, err := s.Put(bytes.NewReader(content), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sha256", sum1[:2], sum1[2:])
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	sum2, size, err := s.Put(bytes.NewReader(content), 1<<10)
	if err != nil || sum2 != sum1 || size != int64(len(content)) {
		t.Fatalf("second Put = %s, %d, %v", sum2, size, err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("existing blob was replaced instead of kept")
	}
	if all := files(t, dir); len(all) != 1 {
		t.Errorf("files in store: %v, want just one blob", all)
	}
}

func TestDamagedCopyIsReplaced(t *testing.T) {
	s, dir := openStore(t)
	content := []byte("intact content")
	sum, _, err := s.Put(bytes.NewReader(content), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sha256", sum[:2], sum[2:])
	if err := os.Truncate(p, 3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(bytes.NewReader(content), 1<<10); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("after re-Put: %q, %v; want the intact content", got, err)
	}
}

// countingReader yields an endless stream and counts what it hands out.
type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestTooLarge(t *testing.T) {
	s, dir := openStore(t)
	for _, max := range []int64{0, 1, 1000, 64 << 10, 1<<20 + 3} {
		r := &countingReader{}
		sum, size, err := s.Put(r, max)
		if !errors.Is(err, domain.ErrTooLarge) {
			t.Fatalf("max %d: err = %v, want domain.ErrTooLarge", max, err)
		}
		if sum != "" || size != 0 {
			t.Errorf("max %d: Put = %q, %d alongside an error", max, sum, size)
		}
		if r.n > max+1 {
			t.Errorf("max %d: read %d bytes from the reader, want at most %d", max, r.n, max+1)
		}
	}
	if all := files(t, dir); len(all) != 0 {
		t.Errorf("files left after refused Puts: %v", all)
	}
}

func TestNegativeMax(t *testing.T) {
	s, _ := openStore(t)
	r := &countingReader{}
	if _, _, err := s.Put(r, -1); err == nil {
		t.Fatal("Put with max -1 succeeded")
	}
	if r.n != 0 {
		t.Errorf("read %d bytes despite the invalid limit", r.n)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadErrorLeavesNoFile(t *testing.T) {
	s, dir := openStore(t)
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("partial upload"), failingReader{boom})
	if _, _, err := s.Put(r, 1<<10); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap the reader's error", err)
	}
	if all := files(t, dir); len(all) != 0 {
		t.Errorf("files left after failed Put: %v", all)
	}
}

func TestInvalidSums(t *testing.T) {
	s, dir := openStore(t)
	// A file outside the blob tree that traversal would reach.
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := sha([]byte("x"))
	for _, sum := range []string{
		"",
		"../..",
		"../../secret",
		"../secret" + strings.Repeat("0", 55),
		"..%2f..%2fsecret",
		strings.ToUpper(valid),
		valid[:63],
		valid + "0",
		valid[:62] + "/x",
		valid[:63] + "\x00",
		valid[:63] + "g",
		"/etc/passwd" + strings.Repeat("0", 53),
	} {
		f, err := s.Open(sum)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Open(%q): err = %v, want domain.ErrNotFound", sum, err)
		}
		if s.Has(sum) {
			t.Errorf("Has(%q) = true", sum)
		}
	}
}

func TestMissing(t *testing.T) {
	s, _ := openStore(t)
	sum := sha([]byte("never stored"))
	if _, err := s.Open(sum); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Open(missing): err = %v, want domain.ErrNotFound", err)
	}
	if s.Has(sum) {
		t.Fatal("Has(missing) = true")
	}
}

func TestConcurrentPutsOfSameContent(t *testing.T) {
	s, dir := openStore(t)
	content := bytes.Repeat([]byte("same bytes "), 10_000)
	want := sha(content)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			sum, size, err := s.Put(bytes.NewReader(content), 1<<20)
			if err != nil || sum != want || size != int64(len(content)) {
				t.Errorf("Put = %s, %d, %v", sum, size, err)
			}
			// Readers racing the writers must see either nothing or the
			// whole blob, never a partial file.
			if f, err := s.Open(want); err == nil {
				got, _ := io.ReadAll(f)
				f.Close()
				if !bytes.Equal(got, content) {
					t.Errorf("read %d bytes mid-race, want %d", len(got), len(content))
				}
			}
		})
	}
	wg.Wait()
	all := files(t, dir)
	if len(all) != 1 || all[0] != filepath.Join("sha256", want[:2], want[2:]) {
		t.Fatalf("files in store: %v, want just the one blob", all)
	}
}

func TestConcurrentPutsOfDifferentContent(t *testing.T) {
	s, _ := openStore(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			content := bytes.Repeat([]byte{byte(i)}, 100+i)
			sum, _, err := s.Put(bytes.NewReader(content), 1<<10)
			if err != nil || sum != sha(content) {
				t.Errorf("Put %d = %s, %v", i, sum, err)
			}
		})
	}
	wg.Wait()
}

func TestCleanTemp(t *testing.T) {
	s, dir := openStore(t)
	tmp := filepath.Join(dir, "tmp")
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{"put-crashed1", "put-crashed2"} {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh file stands for an upload in progress and must survive.
	if err := os.WriteFile(filepath.Join(tmp, "put-inflight"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Stored blobs are never touched, however old.
	sum, _, err := s.Put(strings.NewReader("kept"), 100)
	if err != nil {
		t.Fatal(err)
	}
	blobPath := filepath.Join(dir, "sha256", sum[:2], sum[2:])
	if err := os.Chtimes(blobPath, old, old); err != nil {
		t.Fatal(err)
	}

	n, err := s.CleanTemp(time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("CleanTemp = %d, %v; want 2, nil", n, err)
	}
	left := files(t, tmp)
	if len(left) != 1 || left[0] != "put-inflight" {
		t.Errorf("temp files left: %v, want [put-inflight]", left)
	}
	if !s.Has(sum) {
		t.Error("CleanTemp removed a stored blob")
	}
	if n, err := s.CleanTemp(time.Hour); err != nil || n != 0 {
		t.Errorf("second CleanTemp = %d, %v; want 0, nil", n, err)
	}
}

func TestStagedContentIsInvisibleUntilCommitted(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := s.Stage(strings.NewReader("kept"), 100)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := s.Stage(strings.NewReader("dropped"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if s.Has(kept.Sum) || s.Has(dropped.Sum) {
		t.Fatal("staged content is visible before Commit")
	}
	if err := kept.Commit(); err != nil {
		t.Fatal(err)
	}
	dropped.Discard()
	kept.Discard() // no-op after Commit
	if !s.Has(kept.Sum) {
		t.Error("committed content missing")
	}
	if s.Has(dropped.Sum) {
		t.Error("discarded content stored")
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d files left in tmp/", len(entries))
	}
}
