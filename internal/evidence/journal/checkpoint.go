package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrBadProof reports an inclusion or consistency proof that does not hold.
var ErrBadProof = errors.New("journal: proof does not verify")

// A Checkpoint is a signed statement of the tree: its size and root hash at a
// time.
type Checkpoint struct {
	Tree   tlog.Tree // number of records and root hash
	Time   time.Time // when it was signed, UTC
	Origin string    // the log's identity, also the signing key's name
	Clock  string    // the clock source Time was read from
	Signed []byte    // the complete signed note (text and signature lines)
}

// Checkpoint signs the current tree, makes it the latest checkpoint and
// appends it to the checkpoint history. Both files are fsynced before it
// returns.
func (j *Journal) Checkpoint() (Checkpoint, error) {
	if j.closed.Load() {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint: %w", ErrClosed)
	}
	if j.readOnly {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint: %w", ErrReadOnly)
	}
	j.cpMu.Lock()
	defer j.cpMu.Unlock()

	n := j.Size()
	root, err := tlog.TreeHash(n, hashFile{j.hashes})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint: tree hash: %w", err)
	}
	// Round(0) drops the monotonic reading so the value equals what
	// VerifyCheckpoint parses back.
	t := j.now().Round(0).UTC()
	text := fmt.Sprintf("%s\n%d\n%s\ntime %s\nclock %s\n", j.id.name, n, root, t.Format(time.RFC3339Nano), j.clock)
	signed, err := note.Sign(&note.Note{Text: text}, j.id.signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint: sign: %w", err)
	}
	cp := Checkpoint{Tree: tlog.Tree{N: n, Hash: root}, Time: t, Origin: j.id.name, Clock: j.clock, Signed: signed}

	// History first: then the latest checkpoint is always in the history,
	// even if we crash between the two writes.
	if err := j.appendHistory(cp); err != nil {
		return Checkpoint{}, err
	}
	if err := writeFileAtomic(j.dir, checkpointName, signed, 0o644); err != nil {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint: %w", err)
	}
	j.latest.Store(&cp)
	j.log.Info("evidence journal checkpoint signed", "dir", j.dir, "size", n, "root", root.String(), "time", t)
	cp.Signed = bytes.Clone(signed)
	return cp, nil
}

// historyEntry is one line of checkpoints.log. Size, root and time repeat
// what the note says so that the file can be read with grep and jq alone.
type historyEntry struct {
	Size int64     `json:"size"`
	Root string    `json:"root"`
	Time time.Time `json:"time"`
	Note string    `json:"note"`
}

func (j *Journal) appendHistory(cp Checkpoint) error {
	line, err := json.Marshal(historyEntry{Size: cp.Tree.N, Root: cp.Tree.Hash.String(), Time: cp.Time, Note: string(cp.Signed)})
	if err != nil {
		return fmt.Errorf("journal: checkpoint history: %w", err)
	}
	path := filepath.Join(j.dir, historyName)
	created := !fileExists(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("journal: checkpoint history: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("journal: checkpoint history: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: checkpoint history: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal: checkpoint history: %w", err)
	}
	if created {
		return syncDir(j.dir)
	}
	return nil
}

// Latest returns the latest persisted checkpoint, and false if none was ever
// signed.
func (j *Journal) Latest() (Checkpoint, bool) {
	p := j.latest.Load()
	if p == nil {
		return Checkpoint{}, false
	}
	cp := *p
	cp.Signed = bytes.Clone(cp.Signed)
	return cp, true
}

// readLatest reads and verifies dir's latest checkpoint; ok is false when
// none was ever signed.
func readLatest(dir, vkey string) (cp Checkpoint, ok bool, err error) {
	path := filepath.Join(dir, checkpointName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("journal: latest checkpoint: %w", err)
	}
	cp, err = VerifyCheckpoint(b, vkey)
	if err != nil {
		return Checkpoint{}, false, &CorruptError{File: path, Offset: -1, Record: -1, Reason: err.Error()}
	}
	return cp, true, nil
}

// VerifyCheckpoint checks the signature of a checkpoint note against a note
// verifier key (see Journal.VerifierKey) and parses it. The origin line must
// equal the key's name.
func VerifyCheckpoint(signed []byte, verifierKey string) (Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("journal: verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint signature: %w", err)
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("journal: checkpoint origin %q does not match key name %q", cp.Origin, v.Name())
	}
	cp.Signed = bytes.Clone(signed)
	return cp, nil
}

// parseCheckpoint parses verified note text in the C2SP tlog-checkpoint
// layout with Préau's "time" and "clock" extension lines.
func parseCheckpoint(text string) (Checkpoint, error) {
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("journal: malformed checkpoint: "+format, args...)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return bad("%d lines, want at least 3", len(lines))
	}
	var cp Checkpoint
	cp.Origin = lines[0]
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return bad("tree size %q", lines[1])
	}
	cp.Tree.N = n
	if cp.Tree.Hash, err = tlog.ParseHash(lines[2]); err != nil {
		return bad("root hash %q", lines[2])
	}
	var haveTime bool
	for _, line := range lines[3:] {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "time":
			if haveTime {
				return bad("two time lines")
			}
			if cp.Time, err = time.Parse(time.RFC3339Nano, val); err != nil {
				return bad("time %q", val)
			}
			cp.Time = cp.Time.UTC()
			haveTime = true
		case "clock":
			cp.Clock = val
		}
		// Other extension lines are signed too, but mean nothing to us.
	}
	if !haveTime {
		return bad("no time line")
	}
	return cp, nil
}

// InclusionProof returns the proof that record i is in the tree of the
// first size records.
func (j *Journal) InclusionProof(i, size int64) (tlog.RecordProof, error) {
	if n := j.Size(); size < 1 || size > n || i < 0 || i >= size {
		return nil, fmt.Errorf("journal: inclusion proof of record %d in tree of %d (journal holds %d): %w", i, size, n, ErrNotFound)
	}
	p, err := tlog.ProveRecord(size, i, hashFile{j.hashes})
	if err != nil {
		return nil, fmt.Errorf("journal: inclusion proof of record %d in tree of %d: %w", i, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the proof that the tree of the first newSize
// records extends the tree of the first oldSize records. It is empty when
// oldSize is 0 or equals newSize.
func (j *Journal) ConsistencyProof(oldSize, newSize int64) (tlog.TreeProof, error) {
	if n := j.Size(); oldSize < 0 || oldSize > newSize || newSize > n {
		return nil, fmt.Errorf("journal: consistency proof from %d to %d (journal holds %d): %w", oldSize, newSize, n, ErrNotFound)
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, hashFile{j.hashes})
	if err != nil {
		return nil, fmt.Errorf("journal: consistency proof from %d to %d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// VerifyInclusion checks that record is record i of the tree cp commits to.
// cp should come from VerifyCheckpoint.
func VerifyInclusion(cp Checkpoint, i int64, record []byte, proof tlog.RecordProof) error {
	if i < 0 || i >= cp.Tree.N {
		return fmt.Errorf("journal: verify inclusion: record %d outside tree of %d: %w", i, cp.Tree.N, ErrBadProof)
	}
	if err := tlog.CheckRecord(proof, cp.Tree.N, cp.Tree.Hash, i, tlog.RecordHash(record)); err != nil {
		return fmt.Errorf("journal: verify inclusion of record %d in tree of %d: %w: %w", i, cp.Tree.N, ErrBadProof, err)
	}
	return nil
}

// VerifyConsistency checks that newer's tree extends older's: every record
// older committed to is still there, unchanged and in the same place. Both
// should come from VerifyCheckpoint.
func VerifyConsistency(older, newer Checkpoint, proof tlog.TreeProof) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("journal: verify consistency: origins %q and %q differ: %w", older.Origin, newer.Origin, ErrBadProof)
	}
	o, n := older.Tree, newer.Tree
	switch {
	case o.N > n.N:
		return fmt.Errorf("journal: verify consistency: older tree has %d records, newer %d: %w", o.N, n.N, ErrBadProof)
	case o.N == 0 || o.N == n.N:
		// Nothing to prove beyond the roots: the empty tree is a prefix of
		// every tree, and equal sizes must mean equal trees.
		empty, err := tlog.TreeHash(0, nil)
		if err != nil {
			return fmt.Errorf("journal: verify consistency: %w", err)
		}
		if len(proof) != 0 || (o.N == 0 && o.Hash != empty) || (o.N == n.N && o.Hash != n.Hash) {
			return fmt.Errorf("journal: verify consistency of trees of %d and %d: %w", o.N, n.N, ErrBadProof)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, n.N, n.Hash, o.N, o.Hash); err != nil {
		return fmt.Errorf("journal: verify consistency of trees of %d and %d: %w: %w", o.N, n.N, ErrBadProof, err)
	}
	return nil
}
