// Package cache is a read-through cache in front of any domain.Store, for
// the reads every student makes at 8:00: the homework of their class and
// groups, their own done ticks and hand-in counts, their unread count and
// their class's timetable.
//
// Writes go through the cache, which drops exactly the entries they change,
// so on one node reads never see stale data. Every entry also expires after
// a TTL: that bounds staleness when several nodes share a database (a write
// on one node is seen by the others within the TTL) until cross-node
// invalidation arrives with the NATS scale-out. The conformance suite runs
// against this decorator too, so it behaves exactly as the store beneath.
//
// Memory is bounded: each map holds at most MaxEntries items; when one is
// full it is emptied (the cache refills from the store on the next reads).
package cache

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"preau/internal/domain"
)

// Options tunes the cache.
type Options struct {
	TTL        time.Duration // default 10 s
	MaxEntries int           // per map; default 100,000
	Now        func() time.Time
}

// Store wraps a domain.Store. It is safe for concurrent use.
type Store struct {
	domain.Store
	ttl time.Duration
	now func() time.Time

	entries   table[entryKey, []domain.Entry]                             // one audience's entries in a window, all publish times
	statuses  table[domain.UserID, map[domain.EntryID]domain.EntryStatus] // a student's ticks and hand-in counts
	unread    table[domain.UserID, int]
	timetable table[domain.ClassID, []domain.Slot]
}

var _ domain.Store = (*Store)(nil)

// New wraps inner.
func New(inner domain.Store, opt Options) *Store {
	if opt.TTL <= 0 {
		opt.TTL = 10 * time.Second
	}
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = 100_000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Store{Store: inner, ttl: opt.TTL, now: opt.Now}
	s.entries.init(opt.MaxEntries)
	s.statuses.init(opt.MaxEntries)
	s.unread.init(opt.MaxEntries)
	s.timetable.init(opt.MaxEntries)
	return s
}

// table is a map with expiry and a size bound.
//
// gen counts invalidations. A reader that misses notes gen before querying
// the store and stores its result only if no invalidation happened
// meanwhile: otherwise a write committed during the query would be undone
// by the reader putting the older result back for a whole TTL.
type table[K comparable, V any] struct {
	mu  sync.RWMutex
	max int
	m   map[K]item[V]
	gen uint64
}

type item[V any] struct {
	v       V
	expires time.Time
}

func (t *table[K, V]) init(max int) { t.max, t.m = max, make(map[K]item[V]) }

func (t *table[K, V]) get(k K, now time.Time) (V, bool) {
	t.mu.RLock()
	it, ok := t.m[k]
	t.mu.RUnlock()
	if !ok || now.After(it.expires) {
		var zero V
		return zero, false
	}
	return it.v, true
}

// generation returns the invalidation count, to pass to put.
func (t *table[K, V]) generation() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.gen
}

// put stores a value read from the store when the table was at generation
// gen; it is dropped if anything was invalidated since.
func (t *table[K, V]) put(k K, v V, expires time.Time, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return
	}
	if len(t.m) >= t.max {
		clear(t.m)
	}
	t.m[k] = item[V]{v: v, expires: expires}
}

func (t *table[K, V]) drop(match func(K) bool) {
	t.mu.Lock()
	t.gen++
	for k := range t.m {
		if match(k) {
			delete(t.m, k)
		}
	}
	t.mu.Unlock()
}

func (t *table[K, V]) dropKey(k K) {
	t.mu.Lock()
	t.gen++
	delete(t.m, k)
	t.mu.Unlock()
}

func (t *table[K, V]) dropAll() {
	t.mu.Lock()
	t.gen++
	clear(t.m)
	t.mu.Unlock()
}

type entryKey struct {
	audience domain.Audience
	kind     domain.EntryKind
	from, to int64 // Unix ms; 0 for unbounded
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Entries serves audience queries (a student's class and groups) from the
// cache, one audience at a time, and filters publish times in memory. Other
// shapes (a teacher's own entries, limits) go to the store.
func (s *Store) Entries(ctx context.Context, f domain.EntryFilter) ([]domain.Entry, error) {
	if f.TeacherID != 0 || f.Limit != 0 || f.Kind == "" {
		return s.Store.Entries(ctx, f)
	}
	now := s.now()
	var out []domain.Entry
	for _, a := range audiences(f) {
		key := entryKey{audience: a, kind: f.Kind, from: ms(f.From), to: ms(f.To)}
		list, ok := s.entries.get(key, now)
		if !ok {
			gen := s.entries.generation()
			sub := domain.EntryFilter{Kind: f.Kind, From: f.From, To: f.To}
			if a.ClassID != 0 {
				sub.Classes = []domain.ClassID{a.ClassID}
			} else {
				sub.Groups = []domain.GroupID{a.GroupID}
			}
			var err error
			if list, err = s.Store.Entries(ctx, sub); err != nil {
				return nil, fmt.Errorf("cache: %w", err)
			}
			s.entries.put(key, list, now.Add(s.ttl), gen)
		}
		for _, e := range list {
			if f.PublishedAt.IsZero() || !e.PublishAt.After(f.PublishedAt) {
				out = append(out, e)
			}
		}
	}
	// Same order as the store: by due date (or lesson date), then id.
	slices.SortStableFunc(out, func(a, b domain.Entry) int {
		da, db := day(a), day(b)
		if c := da.Compare(db); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

func day(e domain.Entry) time.Time {
	if !e.DueAt.IsZero() {
		return e.DueAt
	}
	return e.LessonDate
}

func audiences(f domain.EntryFilter) []domain.Audience {
	out := make([]domain.Audience, 0, len(f.Classes)+len(f.Groups))
	for _, c := range slices.Compact(slices.Sorted(slices.Values(f.Classes))) {
		out = append(out, domain.Audience{ClassID: c})
	}
	for _, g := range slices.Compact(slices.Sorted(slices.Values(f.Groups))) {
		out = append(out, domain.Audience{GroupID: g})
	}
	return out
}

// CreateEntry drops the cached lists of the entry's audience.
func (s *Store) CreateEntry(ctx context.Context, n domain.NewEntry) (domain.Entry, error) {
	e, err := s.Store.CreateEntry(ctx, n)
	s.entries.drop(func(k entryKey) bool { return k.audience == n.Audience })
	return e, err
}

// EntryStatuses answers from a per-student map of every status.
func (s *Store) EntryStatuses(ctx context.Context, student domain.UserID, ids []domain.EntryID) (map[domain.EntryID]domain.EntryStatus, error) {
	now := s.now()
	all, ok := s.statuses.get(student, now)
	if !ok {
		gen := s.statuses.generation()
		var err error
		if all, err = s.studentStatuses(ctx, student); err != nil {
			return nil, err
		}
		s.statuses.put(student, all, now.Add(s.ttl), gen)
	}
	out := make(map[domain.EntryID]domain.EntryStatus, len(ids))
	for _, id := range ids {
		out[id] = all[id]
	}
	return out, nil
}

// studentStatuses loads a student's statuses for every entry they have a
// status on: the ticks and hand-ins are few per student.
func (s *Store) studentStatuses(ctx context.Context, student domain.UserID) (map[domain.EntryID]domain.EntryStatus, error) {
	st, err := s.Store.StudentStatuses(ctx, student)
	if err != nil {
		return nil, fmt.Errorf("cache: statuses of %d: %w", student, err)
	}
	return st, nil
}

// SetDone drops the student's statuses.
func (s *Store) SetDone(ctx context.Context, entry domain.EntryID, student domain.UserID, done bool) error {
	err := s.Store.SetDone(ctx, entry, student, done)
	s.statuses.dropKey(student)
	return err
}

// CreateSubmission drops the student's statuses.
func (s *Store) CreateSubmission(ctx context.Context, sub domain.Submission) (domain.Submission, error) {
	out, err := s.Store.CreateSubmission(ctx, sub)
	s.statuses.dropKey(sub.StudentID)
	return out, err
}

// UnreadCount is cached per user.
func (s *Store) UnreadCount(ctx context.Context, user domain.UserID) (int, error) {
	now := s.now()
	if n, ok := s.unread.get(user, now); ok {
		return n, nil
	}
	gen := s.unread.generation()
	n, err := s.Store.UnreadCount(ctx, user)
	if err != nil {
		return 0, err
	}
	s.unread.put(user, n, now.Add(s.ttl), gen)
	return n, nil
}

// CreateThread drops the participants' unread counts.
func (s *Store) CreateThread(ctx context.Context, t domain.Thread, participants []domain.UserID, first domain.Message) (domain.Thread, domain.Message, error) {
	th, m, err := s.Store.CreateThread(ctx, t, participants, first)
	for _, p := range participants {
		s.unread.dropKey(p)
	}
	return th, m, err
}

// AddMessage drops the unread counts of the thread's participants.
func (s *Store) AddMessage(ctx context.Context, m domain.Message) (domain.Message, error) {
	out, err := s.Store.AddMessage(ctx, m)
	if t, terr := s.Store.Thread(ctx, m.ThreadID, m.SenderID); terr == nil {
		for _, p := range t.Participants {
			s.unread.dropKey(p.ID)
		}
	} else {
		s.unread.dropAll()
	}
	return out, err
}

// MarkRead drops the reader's unread count.
func (s *Store) MarkRead(ctx context.Context, thread domain.ThreadID, user domain.UserID) error {
	err := s.Store.MarkRead(ctx, thread, user)
	s.unread.dropKey(user)
	return err
}

// Timetable is cached per class.
func (s *Store) Timetable(ctx context.Context, classes []domain.ClassID) ([]domain.Slot, error) {
	now := s.now()
	var out []domain.Slot
	for _, c := range slices.Compact(slices.Sorted(slices.Values(classes))) {
		slots, ok := s.timetable.get(c, now)
		if !ok {
			gen := s.timetable.generation()
			var err error
			if slots, err = s.Store.Timetable(ctx, []domain.ClassID{c}); err != nil {
				return nil, err
			}
			s.timetable.put(c, slots, now.Add(s.ttl), gen)
		}
		out = append(out, slots...)
	}
	slices.SortStableFunc(out, func(a, b domain.Slot) int {
		if a.Weekday != b.Weekday {
			return int(a.Weekday) - int(b.Weekday)
		}
		if a.Start != b.Start {
			if a.Start < b.Start {
				return -1
			}
			return 1
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

// ReplaceTimetable drops the class's timetable.
func (s *Store) ReplaceTimetable(ctx context.Context, class domain.ClassID, slots []domain.Slot) error {
	err := s.Store.ReplaceTimetable(ctx, class, slots)
	s.timetable.dropKey(class)
	return err
}

// ImportRoster can change classes, groups, memberships and timetables:
// everything is dropped.
func (s *Store) ImportRoster(ctx context.Context, school domain.SchoolID, r domain.Roster) (domain.ImportResult, error) {
	res, err := s.Store.ImportRoster(ctx, school, r)
	s.entries.dropAll()
	s.statuses.dropAll()
	s.timetable.dropAll()
	return res, err
}
