package taxii

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"preau/internal/evidence/stix"
)

// StoredObject is one version of one STIX object in a collection.
type StoredObject struct {
	ID          string
	Type        string
	SpecVersion string
	Modified    time.Time // the object's version: modified, else created, else DateAdded
	DateAdded   time.Time
	TLP         string // TLP 2.0 level; ignored for marking-definition objects
	JSON        []byte // the object, compact
}

// Filter narrows what a Source returns. A Source may apply any part of it
// or none: the server applies all of it again, so a filter is an
// optimisation, never a security boundary.
type Filter struct {
	AddedAfter time.Time // only objects added strictly after this, if non-zero
	IDs        []string  // only these object ids, if non-empty
	Types      []string  // only these object types, if non-empty
}

// Source is where the server reads collections from. Implementations must
// be safe for concurrent use. An unknown collection is simply empty.
type Source interface {
	Objects(ctx context.Context, collectionID string, f Filter) ([]StoredObject, error)
}

// Errors returned by MemorySource.
var (
	ErrBadObject = errors.New("taxii: bad object")
	// ErrConflict means an object arrived with the id and version of a
	// stored one but different content, which STIX forbids.
	ErrConflict = errors.New("taxii: conflicting object version")
)

// MemorySource is an in-memory Source, fine for tests and for the few
// thousand objects a school's episodes produce. The zero value is ready to
// use, and it is safe for concurrent use.
type MemorySource struct {
	mu   sync.RWMutex
	objs map[string][]StoredObject // collection -> objects in (DateAdded, ID, Modified) order
}

// Add stores one STIX object in collection with its TLP level, as added at
// dateAdded (kept to the microsecond, the precision the server reports).
// Adding an identical version again is a no-op, so re-exporting an episode
// is harmless; a different object under the same id and version is
// ErrConflict.
func (m *MemorySource) Add(collection string, object []byte, tlp string, dateAdded time.Time) error {
	o, err := storedObject(object, tlp, dateAdded)
	if err != nil {
		return err
	}
	return m.addAll(collection, []StoredObject{o})
}

// addAll stores objects at once: a reader sees all of them or none, and a
// conflict with any stores none. A partner polling with added_after while
// a bundle went in one object at a time could see half of it, then never
// the rest, which has the same date_added.
func (m *MemorySource) addAll(collection string, objs []StoredObject) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.objs == nil {
		m.objs = map[string][]StoredObject{}
	}
	list := m.objs[collection]
	fresh := make([]bool, len(objs))
	for i, o := range objs {
		fresh[i] = true
		for _, x := range list {
			if x.ID == o.ID && x.Modified.Equal(o.Modified) {
				if string(x.JSON) != string(o.JSON) {
					return fmt.Errorf("%w: %s version %s", ErrConflict, o.ID, o.Modified.Format(time.RFC3339Nano))
				}
				fresh[i] = false
				break
			}
		}
		for _, y := range objs[:i] {
			if fresh[i] && y.ID == o.ID && y.Modified.Equal(o.Modified) {
				if string(y.JSON) != string(o.JSON) {
					return fmt.Errorf("%w: %s version %s given twice", ErrConflict, o.ID, o.Modified.Format(time.RFC3339Nano))
				}
				fresh[i] = false
			}
		}
	}
	for i, o := range objs {
		if !fresh[i] {
			continue
		}
		j, _ := slices.BinarySearchFunc(list, o, compareStored)
		list = slices.Insert(list, j, o)
	}
	m.objs[collection] = list
	return nil
}

// AddBundle stores every object of a STIX bundle at once (a reader sees the
// whole bundle or none of it), each with the TLP level of its own TLP
// marking. An object without one is stored as TLP:RED: if
// nobody said it may be shared, it is not.
func (m *MemorySource) AddBundle(collection string, bundle []byte, dateAdded time.Time) error {
	var b struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil || b.Type != "bundle" {
		return fmt.Errorf("%w: not a STIX bundle", ErrBadObject)
	}
	objs := make([]StoredObject, 0, len(b.Objects))
	for i, raw := range b.Objects {
		var marks struct {
			Refs []string `json:"object_marking_refs"`
		}
		if err := json.Unmarshal(raw, &marks); err != nil {
			return fmt.Errorf("%w: objects[%d]: %w", ErrBadObject, i, err)
		}
		level, rank := stix.TLPRed, -1
		for _, r := range marks.Refs {
			if l, ok := stix.TLPOfMarking(r); ok {
				if n, _ := stix.TLPRank(l); n > rank {
					level, rank = l, n
				}
			}
		}
		o, err := storedObject(raw, level, dateAdded)
		if err != nil {
			return fmt.Errorf("objects[%d]: %w", i, err)
		}
		objs = append(objs, o)
	}
	return m.addAll(collection, objs)
}

// Objects implements Source, applying the whole filter.
func (m *MemorySource) Objects(ctx context.Context, collectionID string, f Filter) ([]StoredObject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []StoredObject
	for _, o := range m.objs[collectionID] {
		if matchFilter(o, f) {
			out = append(out, o)
		}
	}
	return out, nil
}

func matchFilter(o StoredObject, f Filter) bool {
	if !f.AddedAfter.IsZero() && !o.DateAdded.After(f.AddedAfter) {
		return false
	}
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, o.ID) {
		return false
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, o.Type) {
		return false
	}
	return true
}

func compareStored(a, b StoredObject) int {
	return cmp.Or(a.DateAdded.Compare(b.DateAdded), strings.Compare(a.ID, b.ID), a.Modified.Compare(b.Modified))
}

func storedObject(object []byte, tlp string, dateAdded time.Time) (StoredObject, error) {
	var head struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		SpecVersion string `json:"spec_version"`
		Created     string `json:"created"`
		Modified    string `json:"modified"`
	}
	if err := json.Unmarshal(object, &head); err != nil {
		return StoredObject{}, fmt.Errorf("%w: %w", ErrBadObject, err)
	}
	if head.Type == "" || !strings.HasPrefix(head.ID, head.Type+"--") {
		return StoredObject{}, fmt.Errorf("%w: id %q does not match type %q", ErrBadObject, head.ID, head.Type)
	}
	if dateAdded.IsZero() {
		return StoredObject{}, fmt.Errorf("%w: %s: no date added", ErrBadObject, head.ID)
	}
	dateAdded = dateAdded.UTC().Truncate(time.Microsecond)
	if head.Type != "marking-definition" {
		if _, ok := stix.TLPRank(tlp); !ok {
			return StoredObject{}, fmt.Errorf("%w: %s: unknown TLP level %q", ErrBadObject, head.ID, tlp)
		}
	}
	// TAXII versions an object by modified, else created; objects with
	// neither (cyber-observables) take the date they were added.
	version := dateAdded
	for _, s := range []string{head.Modified, head.Created} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return StoredObject{}, fmt.Errorf("%w: %s: bad timestamp %q", ErrBadObject, head.ID, s)
		}
		version = t.UTC()
		break
	}
	spec := head.SpecVersion
	if spec == "" {
		spec = stix.SpecVersion
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, object); err != nil {
		return StoredObject{}, fmt.Errorf("%w: %s: %w", ErrBadObject, head.ID, err)
	}
	return StoredObject{
		ID: head.ID, Type: head.Type, SpecVersion: spec,
		Modified: version, DateAdded: dateAdded,
		TLP: normalizeTLP(tlp), JSON: compact.Bytes(),
	}, nil
}

// normalizeTLP turns "TLP:AMBER" and friends into the TLP 2.0 level name.
func normalizeTLP(s string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "tlp:")
}
