package shield

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The partner blocklist: address prefixes that partner CERTs and other
// schools shared as STIX indicators, imported by an operator. The shield
// refuses them to anonymous visitors and pass holders only; signed-in users
// and allowlisted networks are never refused on a partner's word, since a
// school's NAT, shared by hundreds of pupils, may well appear in someone
// else's list of attacking addresses.

// ErrBlockNotFound reports a blocklist entry id that is not in the list.
var ErrBlockNotFound = errors.New("shield: blocklist entry not found")

// BlockEntry is one blocked prefix and where it came from.
type BlockEntry struct {
	ID         string       `json:"id"` // stable: derived from the indicator and the prefix
	Prefix     netip.Prefix `json:"prefix"`
	Expires    time.Time    `json:"expires"`
	Partner    string       `json:"partner"`            // who sent the bundle, as the operator named them
	Producer   string       `json:"producer,omitempty"` // the bundle's own identity (created_by_ref)
	File       string       `json:"file"`               // name of the imported bundle file
	Imported   time.Time    `json:"imported"`
	ImportedBy string       `json:"imported_by"`
	Indicator  string       `json:"indicator"`     // STIX indicator id
	Confidence int          `json:"confidence"`    // 0..100, -1 when the partner gave none
	TLP        string       `json:"tlp,omitempty"` // the indicator's TLP level, "" when unmarked
}

// BlockEntryID is the id of the entry for one prefix of one indicator:
// importing the same indicator again replaces its entries instead of
// adding copies.
func BlockEntryID(indicator string, p netip.Prefix) string {
	h := sha256.Sum256([]byte(indicator + " " + p.String()))
	return hex.EncodeToString(h[:8])
}

// Blocklist is the persistent partner blocklist. Blocks is safe for
// concurrent use with everything and allocates nothing; changes are
// serialised and written to disk (fsynced) before they take effect.
type Blocklist struct {
	path    string
	mu      sync.Mutex // serialises changes and their writes
	entries []BlockEntry
	set     atomic.Pointer[blockSet]
}

// blockSet is an immutable snapshot for look-ups: the latest expiry of each
// prefix, and the prefix lengths in use per address family, so that a
// look-up masks the address once per length instead of scanning entries.
type blockSet struct {
	expires      map[netip.Prefix]time.Time
	lens4, lens6 []int
}

// OpenBlocklist reads the list kept at path (a JSON file), or starts an
// empty one if the file does not exist yet.
func OpenBlocklist(path string) (*Blocklist, error) {
	b := &Blocklist{path: path}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("shield: blocklist: %w", err)
	default:
		var file struct {
			Entries []BlockEntry `json:"entries"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			return nil, fmt.Errorf("shield: blocklist %s: %w", path, err)
		}
		for i, e := range file.Entries {
			if !e.Prefix.IsValid() || e.ID == "" {
				return nil, fmt.Errorf("shield: blocklist %s: entry %d has no prefix or id", path, i)
			}
		}
		b.entries = file.Entries
	}
	b.publish()
	return b, nil
}

// Blocks reports whether a is in a prefix of the list that has not expired
// at now. A nil list blocks nothing.
func (b *Blocklist) Blocks(a netip.Addr, now time.Time) bool {
	if b == nil {
		return false
	}
	set := b.set.Load()
	if len(set.expires) == 0 {
		return false
	}
	a = a.Unmap()
	lens := set.lens6
	if a.Is4() {
		lens = set.lens4
	}
	for _, bits := range lens {
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if exp, ok := set.expires[p]; ok && now.Before(exp) {
			return true
		}
	}
	return false
}

// Entries returns the entries that have not expired at now, newest import
// first.
func (b *Blocklist) Entries(now time.Time) []BlockEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BlockEntry, 0, len(b.entries))
	for _, e := range b.entries {
		if now.Before(e.Expires) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(x, y BlockEntry) int {
		if c := y.Imported.Compare(x.Imported); c != 0 {
			return c
		}
		return x.Prefix.Addr().Compare(y.Prefix.Addr())
	})
	return out
}

// Add adds entries (an entry whose id is already listed replaces it),
// drops the entries expired at now, and writes the list to disk. The
// entries block once Add returns without error; on error the list is
// unchanged.
func (b *Blocklist) Add(entries []BlockEntry, now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	next := make([]BlockEntry, 0, len(b.entries)+len(entries))
	replaced := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !e.Prefix.IsValid() || e.ID == "" {
			return fmt.Errorf("shield: blocklist: entry for %q has no prefix or id", e.Indicator)
		}
		replaced[e.ID] = true
	}
	for _, e := range b.entries {
		if !replaced[e.ID] && now.Before(e.Expires) {
			next = append(next, e)
		}
	}
	last := make(map[string]int, len(entries))
	for i, e := range entries {
		last[e.ID] = i
	}
	for i, e := range entries {
		// Within one import the last entry for an id wins, as across imports.
		if last[e.ID] == i {
			next = append(next, e)
		}
	}
	if err := b.save(next); err != nil {
		return err
	}
	b.entries = next
	b.publish()
	return nil
}

// Remove deletes the entry with id and writes the list to disk. It returns
// the removed entry, or an error wrapping ErrBlockNotFound.
func (b *Blocklist) Remove(id string) (BlockEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.IndexFunc(b.entries, func(e BlockEntry) bool { return e.ID == id })
	if i < 0 {
		return BlockEntry{}, fmt.Errorf("shield: blocklist entry %q: %w", id, ErrBlockNotFound)
	}
	removed := b.entries[i]
	next := slices.Delete(slices.Clone(b.entries), i, i+1)
	if err := b.save(next); err != nil {
		return BlockEntry{}, err
	}
	b.entries = next
	b.publish()
	return removed, nil
}

// publish rebuilds the look-up snapshot from b.entries. Called with b.mu
// held, or before b is shared.
func (b *Blocklist) publish() {
	set := &blockSet{expires: make(map[netip.Prefix]time.Time, len(b.entries))}
	for _, e := range b.entries {
		p := e.Prefix.Masked()
		if e.Expires.After(set.expires[p]) {
			set.expires[p] = e.Expires
		}
	}
	for p := range set.expires {
		lens := &set.lens6
		if p.Addr().Is4() {
			lens = &set.lens4
		}
		if !slices.Contains(*lens, p.Bits()) {
			*lens = append(*lens, p.Bits())
		}
	}
	slices.Sort(set.lens4)
	slices.Sort(set.lens6)
	b.set.Store(set)
}

// save writes entries to b.path atomically: a temporary file, fsynced,
// renamed over the old one, and the directory fsynced, so that a crash
// leaves the old list or the new one, never half of one, and an import the
// operator was told about survives a power cut.
func (b *Blocklist) save(entries []BlockEntry) error {
	data, err := json.MarshalIndent(struct {
		Entries []BlockEntry `json:"entries"`
	}{entries}, "", "  ")
	if err != nil {
		return fmt.Errorf("shield: blocklist: %w", err)
	}
	dir := filepath.Dir(b.path)
	f, err := os.CreateTemp(dir, ".blocklist-*.tmp")
	if err != nil {
		return fmt.Errorf("shield: blocklist: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, b.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("shield: blocklist: write %s: %w", b.path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("shield: blocklist: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shield: blocklist: sync %s: %w", dir, err)
	}
	return nil
}
