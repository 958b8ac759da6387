package journal

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/tlog"
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Origin is the checkpoint origin line and the signing key's name. ""
	// means the origin the journal was created with, or for a new journal
	// "preau.evidence/" followed by the host name.
	Origin string
	// Now is the clock stamped into checkpoints; nil means time.Now. Times
	// are recorded in UTC.
	Now func() time.Time
	// ClockSource describes Now for investigators, for example
	// "system (NTP-synchronised: yes)"; "" means "system".
	ClockSource string
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
}

// maxBatchBytes bounds how much payload the writer gathers into one commit,
// so a burst cannot make it buffer without limit. A single Append call is
// never split, whatever its size.
const maxBatchBytes = 4 << 20

// maxGatherRounds bounds how long the writer keeps gathering a batch while
// appenders keep arriving.
const maxGatherRounds = 8

// Journal is an open evidence log. All its methods are safe for concurrent
// use.
type Journal struct {
	dir    string
	log    *slog.Logger
	now    func() time.Time
	clock  string
	id     *identity
	lock   *os.File
	recs   *os.File
	hashes *os.File
	index  *os.File

	// state is the durable, visible tree; only the writer replaces it, after
	// the fsyncs of a batch.
	state atomic.Pointer[state]

	closeMu sync.RWMutex // held for reading while sending to reqs
	closed  atomic.Bool
	reqs    chan *appendReq
	done    chan struct{} // closed when the writer has exited

	// commits counts group commits, so that benchmarks can show how many
	// appends share one round of fsyncs.
	commits atomic.Int64

	cpMu   sync.Mutex // serialises Checkpoint's file writes
	latest atomic.Pointer[Checkpoint]

	// readOnly journals (OpenReadOnly) have no writer goroutine and serve
	// the records of the latest checkpoint only; uncovered counts the
	// records after it when the journal was opened.
	readOnly  bool
	uncovered int64

	// Owned by the writer goroutine.
	failed  error // sticky: after a failed write the files' tails are unknown
	recBuf  []byte
	hashBuf []byte
	idxBuf  []byte
	pending []tlog.Hash
}

type state struct {
	n      int64 // number of durable records
	recEnd int64 // offset in records.dat just after the last durable frame
}

type appendReq struct {
	recs   [][]byte
	leaves []tlog.Hash
	first  int64
	err    error
	done   chan struct{}
}

// Open opens the journal in dir, creating dir (mode 0700), the signing key
// and empty files on first use. It checks the files as described in the
// package documentation; damage yields an error wrapping a *CorruptError and
// is never repaired here (see Repair).
func Open(dir string, opt Options) (*Journal, error) {
	j, err := open(dir, opt)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	return j, nil
}

func open(dir string, opt Options) (_ *Journal, err error) {
	j := &Journal{
		dir:   dir,
		log:   opt.Logger,
		now:   opt.Now,
		clock: opt.ClockSource,
		reqs:  make(chan *appendReq, 256),
		done:  make(chan struct{}),
	}
	if j.log == nil {
		j.log = slog.Default()
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.clock == "" {
		j.clock = "system"
	}
	if strings.ContainsFunc(j.clock, unicode.IsControl) {
		return nil, fmt.Errorf("journal: clock source %q contains control characters", j.clock)
	}
	if opt.Origin != "" && !validOrigin(opt.Origin) {
		return nil, fmt.Errorf("journal: origin %q must be non-empty UTF-8 without spaces or '+'", opt.Origin)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: create directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	} else if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		// Not fatal: the key file itself is 0600. But the evidence should
		// not be readable by every local user.
		j.log.Warn("evidence journal directory is accessible to group or others", "dir", dir, "mode", fmt.Sprintf("%04o", perm))
	}
	if j.lock, err = os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("journal: lock: %w", err)
	}
	defer func() {
		if err != nil {
			j.closeFiles()
		}
	}()
	if err := lockFile(j.lock); err != nil {
		return nil, err
	}

	exists, err := dataExists(dir)
	if err != nil {
		return nil, err
	}
	origin := opt.Origin
	if origin == "" && !fileExists(filepath.Join(dir, keyName)) {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("journal: default origin: %w", err)
		}
		origin = "preau.evidence/" + host
		if !validOrigin(origin) {
			return nil, fmt.Errorf("journal: default origin %q is not a valid key name; set Options.Origin", origin)
		}
	}
	if j.id, err = loadOrCreateKey(dir, origin, !exists); err != nil {
		return nil, err
	}

	if !exists {
		if err := j.create(); err != nil {
			return nil, err
		}
	} else if err := j.openFiles(); err != nil {
		return nil, err
	}

	cp, haveCP, err := readLatest(dir, j.id.vkey)
	if err != nil {
		return nil, err
	}
	st, err := j.check(cp, haveCP)
	if err != nil {
		return nil, err
	}
	j.state.Store(st)
	if haveCP {
		j.latest.Store(&cp)
	}

	go j.writer()
	attrs := []any{"dir", dir, "origin", j.id.name, "records", st.n}
	if haveCP {
		attrs = append(attrs, "checkpoint_size", cp.Tree.N, "checkpoint_time", cp.Time)
	}
	j.log.Info("evidence journal opened", attrs...)
	return j, nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// dataExists reports whether the data files exist: all three, or none.
func dataExists(dir string) (bool, error) {
	var have, missing []string
	for _, name := range []string{recordsName, hashesName, indexName} {
		_, err := os.Lstat(filepath.Join(dir, name))
		switch {
		case err == nil:
			have = append(have, name)
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, name)
		default:
			return false, fmt.Errorf("journal: %w", err)
		}
	}
	if len(have) > 0 && len(missing) > 0 {
		return false, &CorruptError{File: filepath.Join(dir, missing[0]), Offset: -1, Record: -1,
			Reason: fmt.Sprintf("file is missing while %s exists", strings.Join(have, " and "))}
	}
	return len(have) > 0, nil
}

// create writes the empty data files. Each is created exclusively so that a
// concurrent or half-finished creation is never overwritten.
func (j *Journal) create() error {
	var err error
	for _, f := range []struct {
		dst  **os.File
		name string
		hdr  []byte
	}{{&j.recs, recordsName, recordsHeader}, {&j.hashes, hashesName, hashesHeader}, {&j.index, indexName, indexHeader}} {
		if *f.dst, err = os.OpenFile(filepath.Join(j.dir, f.name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("journal: create: %w", err)
		}
		if _, err := (*f.dst).Write(f.hdr); err != nil {
			return fmt.Errorf("journal: create %s: %w", f.name, err)
		}
		if err := (*f.dst).Sync(); err != nil {
			return fmt.Errorf("journal: create %s: %w", f.name, err)
		}
	}
	return syncDir(j.dir)
}

func (j *Journal) openFiles() error {
	var err error
	if j.recs, err = os.OpenFile(filepath.Join(j.dir, recordsName), os.O_RDWR, 0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.hashes, err = os.OpenFile(filepath.Join(j.dir, hashesName), os.O_RDWR, 0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.index, err = os.OpenFile(filepath.Join(j.dir, indexName), os.O_RDWR, 0); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func (j *Journal) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{j.recs, j.hashes, j.index, j.lock} {
		if f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("journal: close: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close waits for pending appends, then closes the journal. It does not sign
// a checkpoint. Closing a closed journal does nothing.
func (j *Journal) Close() error {
	j.closeMu.Lock()
	if j.closed.Load() {
		j.closeMu.Unlock()
		return nil
	}
	j.closed.Store(true)
	close(j.reqs)
	j.closeMu.Unlock()
	<-j.done
	// Let a Checkpoint in progress finish with the files it reads.
	j.cpMu.Lock()
	defer j.cpMu.Unlock()
	return j.closeFiles()
}

// Size returns the number of durable records.
func (j *Journal) Size() int64 { return j.state.Load().n }

// Append adds records to the journal and returns the index of the first.
// The records of one call get consecutive indexes. Append returns only once
// the records and their tree hashes are on stable storage; concurrent calls
// share those fsyncs. It does not retain the records after returning.
//
// A record longer than MaxRecordSize fails with ErrTooLarge and nothing is
// appended. After a write or fsync failure the journal refuses all further
// appends: the files' tails are then unknown, and reopening checks them.
func (j *Journal) Append(records ...[]byte) (first int64, err error) {
	if j.readOnly {
		return 0, fmt.Errorf("journal: append: %w", ErrReadOnly)
	}
	for i, r := range records {
		if len(r) > MaxRecordSize {
			return 0, fmt.Errorf("journal: append: record %d is %d bytes: %w", i, len(r), ErrTooLarge)
		}
	}
	if len(records) == 0 {
		if j.closed.Load() {
			return 0, fmt.Errorf("journal: append: %w", ErrClosed)
		}
		return j.Size(), nil
	}
	// Hash here, on the callers' goroutines, to keep the single writer lean.
	req := &appendReq{recs: records, leaves: make([]tlog.Hash, len(records)), done: make(chan struct{})}
	for i, r := range records {
		req.leaves[i] = tlog.RecordHash(r)
	}

	j.closeMu.RLock()
	if j.closed.Load() {
		j.closeMu.RUnlock()
		return 0, fmt.Errorf("journal: append: %w", ErrClosed)
	}
	j.reqs <- req
	j.closeMu.RUnlock()

	<-req.done
	if req.err != nil {
		return 0, fmt.Errorf("journal: append: %w", req.err)
	}
	return req.first, nil
}

// writer is the single goroutine that writes to the data files. Whatever
// accumulated in reqs while it was busy becomes the next batch: that is the
// group commit.
func (j *Journal) writer() {
	defer close(j.done)
	for req := range j.reqs {
		batch := []*appendReq{req}
		size := recsSize(req)
		// Yield between drains while requests keep arriving: the appenders
		// the previous commit just released are runnable but have not
		// re-queued yet, and without the yield they would miss this batch
		// and the appenders would settle into two half-size cohorts taking
		// turns at the fsyncs. With nothing else runnable a yield returns
		// at once, so a lone appender pays nothing.
		for round := 0; round < maxGatherRounds && size < maxBatchBytes; round++ {
			runtime.Gosched()
			more := false
		drain:
			for size < maxBatchBytes {
				select {
				case r, ok := <-j.reqs:
					if !ok {
						break drain
					}
					batch = append(batch, r)
					size += recsSize(r)
					more = true
				default:
					break drain
				}
			}
			if !more {
				break
			}
		}
		var err error
		if j.failed != nil {
			err = fmt.Errorf("refusing appends after an earlier write failure (reopen to check the files): %w", j.failed)
		} else if err = j.commit(batch); err != nil {
			j.failed = err
			j.log.Error("evidence journal write failed; refusing further appends until reopened", "dir", j.dir, "err", err)
		}
		j.commits.Add(1)
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

func recsSize(r *appendReq) int {
	n := 0
	for _, rec := range r.recs {
		n += frameHeaderSize + len(rec)
	}
	return n
}

// commit writes one batch and makes it durable, then publishes the new size.
func (j *Journal) commit(batch []*appendReq) error {
	st := *j.state.Load()
	base := tlog.StoredHashCount(st.n)
	j.recBuf, j.hashBuf, j.idxBuf, j.pending = j.recBuf[:0], j.hashBuf[:0], j.idxBuf[:0], j.pending[:0]

	// Hashes of subtrees completed inside this batch are not on disk yet.
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, k := range indexes {
			if k >= base {
				out[i] = j.pending[k-base]
				continue
			}
			if _, err := j.hashes.ReadAt(out[i][:], hashOffset(k)); err != nil {
				return nil, fmt.Errorf("read stored hash %d: %w", k, err)
			}
		}
		return out, nil
	})

	n := st.n
	for _, req := range batch {
		req.first = n
		for i, rec := range req.recs {
			j.idxBuf = binary.BigEndian.AppendUint64(j.idxBuf, uint64(st.recEnd+int64(len(j.recBuf))))
			j.recBuf = appendFrame(j.recBuf, rec)
			hs, err := tlog.StoredHashesForRecordHash(n, req.leaves[i], reader)
			if err != nil {
				return fmt.Errorf("hash record %d: %w", n, err)
			}
			j.pending = append(j.pending, hs...)
			n++
		}
	}
	for _, h := range j.pending {
		j.hashBuf = append(j.hashBuf, h[:]...)
	}

	if _, err := j.recs.WriteAt(j.recBuf, st.recEnd); err != nil {
		return fmt.Errorf("write %s: %w", recordsName, err)
	}
	if _, err := j.hashes.WriteAt(j.hashBuf, hashOffset(base)); err != nil {
		return fmt.Errorf("write %s: %w", hashesName, err)
	}
	if _, err := j.index.WriteAt(j.idxBuf, indexOffset(st.n)); err != nil {
		return fmt.Errorf("write %s: %w", indexName, err)
	}
	if err := syncFiles(j.recs, j.hashes, j.index); err != nil {
		return err
	}
	j.state.Store(&state{n: n, recEnd: st.recEnd + int64(len(j.recBuf))})
	// One huge Append must not pin its buffers for the journal's lifetime.
	if cap(j.recBuf) > 2*maxBatchBytes {
		j.recBuf, j.hashBuf, j.idxBuf, j.pending = nil, nil, nil, nil
	}
	return nil
}

// syncFiles fsyncs the files concurrently. The order in which they reach the
// disk does not matter — Open cross-checks them after a crash — but the
// latency does: one round of parallel fsyncs costs about as much as one.
func syncFiles(files ...*os.File) error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files[1:] {
		wg.Go(func() { errs[i+1] = f.Sync() })
	}
	errs[0] = files[0].Sync()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("fsync %s: %w", filepath.Base(files[i].Name()), err)
		}
	}
	return errors.Join(errs...)
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Origin returns the checkpoint origin, which is also the key name.
func (j *Journal) Origin() string { return j.id.name }

// VerifierKey returns the note verifier key, "<name>+<hash>+<base64 key>",
// that VerifyCheckpoint needs.
func (j *Journal) VerifierKey() string { return j.id.vkey }

// PublicKey returns the journal's Ed25519 public key, the one behind
// VerifierKey.
func (j *Journal) PublicKey() ed25519.PublicKey { return j.id.priv.Public().(ed25519.PublicKey) }

// PublicKeyPEM returns the public key as a PKIX "PUBLIC KEY" PEM block, the
// form `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin` reads.
func (j *Journal) PublicKeyPEM() []byte { return append([]byte(nil), j.id.pem...) }

// Sign returns a raw Ed25519 signature of msg with the journal's key, for
// documents such as an export's manifest.
func (j *Journal) Sign(msg []byte) []byte { return ed25519.Sign(j.id.priv, msg) }
