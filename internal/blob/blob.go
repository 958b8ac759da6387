// Package blob stores immutable files on disk under the SHA-256 of their
// content.
//
// Content addressing gives deduplication for free (the same handout uploaded
// by thirty pupils is stored once), makes blobs safe to cache forever, and
// means a name that passes validation can only ever point inside the store.
//
// Layout under the store's directory:
//
//	tmp/            uploads in progress; leftovers after a crash, see CleanTemp
//	sha256/ab/cdef… one file per blob, named by its hex digest split after
//	                two characters so no directory grows past 1/256 of the
//	                blobs
//
// A blob becomes visible only once complete and durable: Put writes to
// tmp/, fsyncs, renames into place (atomic within one filesystem) and fsyncs
// the directory, so after a crash a blob is either absent or whole.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"preau/internal/domain"
)

const (
	tmpDir  = "tmp"
	sumDir  = "sha256"
	dirPerm = 0o700 // blobs may be pupils' work: only the server's user may read them
)

// Store is a content-addressed blob store rooted at a directory. It is safe
// for concurrent use, also by several processes sharing the directory: all
// coordination goes through atomic renames.
type Store struct {
	dir string
}

// Open opens the store rooted at dir, creating dir, dir/tmp and dir/sha256
// (mode 0700) as needed. tmp and sha256 must be on the same filesystem for
// renames to be atomic, which keeping them under one directory ensures.
func Open(dir string) (*Store, error) {
	for _, d := range []string{tmpDir, sumDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), dirPerm); err != nil {
			return nil, fmt.Errorf("blob: open store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// Put stores the content of r and returns its hex SHA-256 and size. It reads
// at most max+1 bytes from r: if r has more than max bytes, Put stops there,
// stores nothing and returns an error wrapping domain.ErrTooLarge. Storing
// content that is already present is cheap on disk (the copy just written is
// discarded) and returns the same sum.
func (s *Store) Put(r io.Reader, max int64) (sum string, size int64, err error) {
	st, err := s.Stage(r, max)
	if err != nil {
		return "", 0, err
	}
	if err := st.Commit(); err != nil {
		return "", 0, err
	}
	return st.Sum, st.Size, nil
}

// Staged is content written and fsynced in tmp/ but not yet in the store:
// an upload whose request has not been validated. Commit puts it in the
// store; Discard deletes it. A Staged is used by one goroutine.
type Staged struct {
	Sum  string // hex SHA-256
	Size int64
	s    *Store
	path string
	done bool
}

// Stage writes the content of r to a temporary file, reading at most max+1
// bytes (more than max gives an error wrapping domain.ErrTooLarge), and
// fsyncs it. Nothing is visible in the store until Commit.
func (s *Store) Stage(r io.Reader, max int64) (st *Staged, err error) {
	if max < 0 {
		return nil, fmt.Errorf("blob: stage: negative size limit %d", max)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "put-*")
	if err != nil {
		return nil, fmt.Errorf("blob: stage: %w", err)
	}
	defer func() {
		tmp.Close() // double Close only returns an error, ignored here
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()

	// Reading one byte past the limit is how we tell "exactly max" from
	// "too large" without trusting a declared length.
	limit := max + 1
	if max == math.MaxInt64 {
		limit = max
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("blob: stage: copying content: %w", err)
	}
	if size > max {
		return nil, fmt.Errorf("blob: stage: content exceeds %d bytes: %w", max, domain.ErrTooLarge)
	}
	// The data must be on disk before the name that promises it is.
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("blob: stage: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("blob: stage: close: %w", err)
	}
	return &Staged{Sum: hex.EncodeToString(h.Sum(nil)), Size: size, s: s, path: tmp.Name()}, nil
}

// Commit moves the staged content into the store (atomic rename, directory
// fsynced), or drops it if the store already holds the same content. It is
// idempotent.
func (st *Staged) Commit() (err error) {
	if st.done {
		return nil
	}
	defer func() {
		if err != nil {
			os.Remove(st.path)
		}
		st.done = true
	}()
	dir, final := st.s.path(st.Sum)
	if err := st.s.mkdirDurable(dir); err != nil {
		return fmt.Errorf("blob: commit %s: %w", st.Sum, err)
	}
	if fi, statErr := os.Stat(final); statErr == nil && fi.Mode().IsRegular() && fi.Size() == st.Size {
		// Already stored: keep the existing file (readers may have it
		// open) and drop ours. The size check lets a damaged copy, e.g.
		// from a botched restore, be replaced rather than kept forever.
		if err := os.Remove(st.path); err != nil {
			return fmt.Errorf("blob: commit %s: removing duplicate: %w", st.Sum, err)
		}
		return nil
	}
	// Two concurrent commits of the same content may both get here; rename
	// is atomic, so the loser just replaces the file with identical bytes.
	if err := os.Rename(st.path, final); err != nil {
		return fmt.Errorf("blob: commit %s: %w", st.Sum, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("blob: commit %s: %w", st.Sum, err)
	}
	return nil
}

// Discard deletes staged content that will not be kept. It is a no-op after
// Commit.
func (st *Staged) Discard() {
	if !st.done {
		os.Remove(st.path)
		st.done = true
	}
}

// Open opens the blob with the given hex SHA-256 for reading. A sum that is
// not 64 lowercase hex digits, or that names no stored blob, gives an error
// wrapping domain.ErrNotFound: to a caller, a malformed name is simply a
// blob that does not exist.
func (s *Store) Open(sum string) (*os.File, error) {
	if !validSum(sum) {
		return nil, fmt.Errorf("blob: open: malformed sum: %w", domain.ErrNotFound)
	}
	_, p := s.path(sum)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: open %s: %w", sum, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", sum, err)
	}
	return f, nil
}

// Has reports whether the blob with the given sum is stored. Malformed sums
// are never stored.
func (s *Store) Has(sum string) bool {
	if !validSum(sum) {
		return false
	}
	_, p := s.path(sum)
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// CleanTemp removes temporary files last modified more than olderThan ago
// and returns how many it removed. Such files are left behind when the
// process dies during a Put. A Put in progress keeps its file's modification
// time fresh as data arrives, so olderThan only needs to exceed the longest
// stall an upload may have (an hour is plenty), not the longest upload.
// Errors on single files do not stop the sweep; they are joined and returned.
func (s *Store) CleanTemp(olderThan time.Duration) (int, error) {
	dir := filepath.Join(s.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("blob: clean temp: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished or removed by someone else meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		switch err := os.RemoveAll(filepath.Join(dir, e.Name())); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("blob: clean temp: %w", err)
	}
	return removed, nil
}

// path returns the directory and file name of the blob with a valid sum.
func (s *Store) path(sum string) (dir, file string) {
	dir = filepath.Join(s.dir, sumDir, sum[:2])
	return dir, filepath.Join(dir, sum[2:])
}

// mkdirDurable creates dir if needed and, when it does, fsyncs its parent so
// the new directory survives a crash along with the blob put in it.
func (s *Store) mkdirDurable(dir string) error {
	err := os.Mkdir(dir, dirPerm)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir fsyncs a directory, making renames and creations in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return d.Close()
}

// validSum reports whether sum is a lowercase hex SHA-256. Only such names
// are ever joined into paths, which rules out traversal ("../..") and
// aliases ("AB…" vs "ab…") by construction.
func validSum(sum string) bool {
	if len(sum) != 2*sha256.Size {
		return false
	}
	for i := range len(sum) {
		c := sum[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
