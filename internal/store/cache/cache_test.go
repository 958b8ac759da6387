package cache_test

import (
	"path/filepath"
	"testing"
	"time"

	"preau/internal/domain"
	"preau/internal/store/cache"
	"preau/internal/store/sqlite"
	"preau/internal/store/storetest"
)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The cached store must behave exactly as the store beneath: the whole
// conformance suite runs through it.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store { return cache.New(open(t), cache.Options{TTL: time.Hour}) })
}

// A write made behind the cache's back (another node) shows after the TTL.
func TestOtherNodesWritesShowAfterTheTTL(t *testing.T) {
	ctx := t.Context()
	db := open(t)
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	c := cache.New(db, cache.Options{TTL: 10 * time.Second, Now: func() time.Time { return now }})
	school, _ := db.CreateSchool(ctx, domain.School{Name: "S"})
	class, _ := db.CreateClass(ctx, domain.Class{SchoolID: school.ID, Name: "A"})
	teacher, _ := db.CreateUser(ctx, domain.NewUser{SchoolID: school.ID, Login: "t", DisplayName: "T", Role: domain.RoleTeacher, PasswordHash: "x"})
	f := domain.EntryFilter{Classes: []domain.ClassID{class.ID}, Kind: domain.KindHomework, PublishedAt: now}
	if list, _ := c.Entries(ctx, f); len(list) != 0 {
		t.Fatalf("empty class has %d entries", len(list))
	}
	// Written directly to the database, as another node would.
	if _, err := db.CreateEntry(ctx, domain.NewEntry{SchoolID: school.ID, TeacherID: teacher.ID, Audience: domain.Audience{ClassID: class.ID},
		Kind: domain.KindHomework, Subject: "M", Title: "x", DueAt: now.Add(time.Hour), PublishAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Entries(ctx, f); len(list) != 0 {
		t.Errorf("entry visible before the TTL: the cache is not caching")
	}
	now = now.Add(11 * time.Second)
	f.PublishedAt = now
	if list, _ := c.Entries(ctx, f); len(list) != 1 {
		t.Errorf("entry still hidden after the TTL: %d", len(list))
	}
}
