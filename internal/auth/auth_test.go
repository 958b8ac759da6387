package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
	"preau/internal/password"
	"preau/internal/store/sqlite"
)

// countingStore counts the calls that write sessions, to prove that
// checking a session never writes.
type countingStore struct {
	domain.Store
	writes atomic.Int64
	reads  atomic.Int64
}

func (s *countingStore) TouchSessions(ctx context.Context, t []domain.SessionTouch) error {
	s.writes.Add(1)
	return s.Store.TouchSessions(ctx, t)
}

func (s *countingStore) CreateSession(ctx context.Context, x domain.Session) error {
	s.writes.Add(1)
	return s.Store.CreateSession(ctx, x)
}

func (s *countingStore) Session(ctx context.Context, h [32]byte) (domain.Session, error) {
	s.reads.Add(1)
	return s.Store.Session(ctx, h)
}

type fixture struct {
	store *countingStore
	m     *auth.Manager
	user  domain.User
	now   time.Time
}

var fastParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{store: &countingStore{Store: db}, now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	h := password.NewHasher(fastParams, 2)
	school, err := db.CreateSchool(t.Context(), domain.School{Name: "S"})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(t.Context(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	f.user, err = db.CreateUser(t.Context(), domain.NewUser{SchoolID: school.ID, Login: "lea", DisplayName: "Léa", Role: domain.RoleStudent, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	f.m = auth.NewManager(f.store, h, auth.DefaultConfig(), []byte("k"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.m.SetClock(func() time.Time { return f.now })
	return f
}

var addr = netip.MustParseAddr("192.0.2.10")

func TestCheckingASessionNeverWrites(t *testing.T) {
	f := newFixture(t)
	token, _, err := f.m.Login(t.Context(), " LEA ", "correct horse", addr, "test")
	if err != nil {
		t.Fatal(err)
	}
	before := f.store.writes.Load()
	for range 100 {
		f.now = f.now.Add(time.Minute)
		p, err := f.m.Authenticate(t.Context(), token)
		if err != nil || p.User.ID != f.user.ID {
			t.Fatalf("authenticate: %v %+v", err, p)
		}
	}
	if w := f.store.writes.Load() - before; w != 0 {
		t.Errorf("100 checks wrote %d times", w)
	}
	if r := f.store.reads.Load(); r != 0 {
		t.Errorf("cached session was read from the store %d times", r)
	}
}

func TestSlidingExpiryIsFlushedAndSurvivesANewNode(t *testing.T) {
	f := newFixture(t)
	token, _, err := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	if err != nil {
		t.Fatal(err)
	}
	// Use the session for 20 hours, well past the 12 h idle timeout.
	for range 20 {
		f.now = f.now.Add(time.Hour)
		if _, err := f.m.Authenticate(t.Context(), token); err != nil {
			t.Fatalf("at %v: %v", f.now, err)
		}
	}
	if err := f.m.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A fresh manager (another node, or after a restart) sees the extension.
	other := auth.NewManager(f.store, password.NewHasher(fastParams, 1), auth.DefaultConfig(), []byte("k"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	other.SetClock(func() time.Time { return f.now.Add(11 * time.Hour) })
	if _, err := other.Authenticate(t.Context(), token); err != nil {
		t.Errorf("extended session refused by a new node: %v", err)
	}
	other.SetClock(func() time.Time { return f.now.Add(13 * time.Hour) })
	other2 := auth.NewManager(f.store, password.NewHasher(fastParams, 1), auth.DefaultConfig(), []byte("k"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	other2.SetClock(func() time.Time { return f.now.Add(13 * time.Hour) })
	if _, err := other2.Authenticate(t.Context(), token); !errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("idle session accepted after 13 h: %v", err)
	}
}

func TestIdleSessionExpires(t *testing.T) {
	f := newFixture(t)
	token, _, err := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(12*time.Hour + time.Second)
	if _, err := f.m.Authenticate(t.Context(), token); !errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("got %v, want ErrUnauthorized", err)
	}
}

func TestLogoutAndLogoutEverywhere(t *testing.T) {
	f := newFixture(t)
	t1, p1, err := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t2, _, _ := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	t3, _, _ := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	if err := f.m.Logout(t.Context(), p1.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Authenticate(t.Context(), t1); !errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("after logout: %v", err)
	}
	if _, err := f.m.Authenticate(t.Context(), t2); err != nil {
		t.Errorf("other session ended by logout: %v", err)
	}
	n, err := f.m.LogoutEverywhere(t.Context(), f.user.ID)
	if err != nil || n != 2 {
		t.Fatalf("logout everywhere = %d, %v", n, err)
	}
	for _, tok := range []string{t2, t3} {
		if _, err := f.m.Authenticate(t.Context(), tok); !errors.Is(err, domain.ErrUnauthorized) {
			t.Errorf("session alive after logout everywhere: %v", err)
		}
	}
}

func TestWrongPasswordsBackOffPerAccount(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		if _, _, err := f.m.Login(t.Context(), "lea", "wrong", addr, ""); !errors.Is(err, domain.ErrBadCredential) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, _, err := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	var re *auth.RetryError
	if !errors.As(err, &re) || re.Wait <= 0 || !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("6th attempt: got %v, want a RetryError", err)
	}
	f.now = f.now.Add(re.Wait)
	if _, _, err := f.m.Login(t.Context(), "lea", "correct horse", addr, ""); err != nil {
		t.Errorf("after waiting: %v", err)
	}
}

func TestUnknownLoginsAreIndistinguishable(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.m.Login(t.Context(), "nobody", "x", addr, "")
	if !errors.Is(err, domain.ErrBadCredential) {
		t.Errorf("unknown login: %v", err)
	}
}

func TestAddressBackoffCoversTheWholePrefix(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"192.0.2.10", "192.0.2.200"},
		{"2001:db8:1:2:3::1", "2001:db8:1:2:ffff::9"},
		{"::ffff:192.0.2.1", "192.0.2.77"},
	} {
		ka, kb := auth.AddressKey(netip.MustParseAddr(tc.a)), auth.AddressKey(netip.MustParseAddr(tc.b))
		if ka != kb {
			t.Errorf("%s → %s and %s → %s differ", tc.a, ka, tc.b, kb)
		}
	}
	if auth.AddressKey(netip.MustParseAddr("192.0.2.1")) == auth.AddressKey(netip.MustParseAddr("192.0.3.1")) {
		t.Error("different /24s share a key")
	}
}

func TestCSRFTokenIsBoundToTheSession(t *testing.T) {
	f := newFixture(t)
	_, p1, _ := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	_, p2, _ := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	if !f.m.CheckCSRF(p1, p1.CSRF) {
		t.Error("own token refused")
	}
	if f.m.CheckCSRF(p1, p2.CSRF) || f.m.CheckCSRF(p1, "") {
		t.Error("another session's or an empty token accepted")
	}
}

func TestForgedTokensAreRefusedWithoutAStoreRead(t *testing.T) {
	f := newFixture(t)
	for _, tok := range []string{"", "x", "short", string(make([]byte, 4096))} {
		if _, err := f.m.Authenticate(t.Context(), tok); !errors.Is(err, domain.ErrUnauthorized) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	if r := f.store.reads.Load(); r != 0 {
		t.Errorf("malformed tokens caused %d store reads", r)
	}
}

func TestTokensClassifyWithoutTheStore(t *testing.T) {
	f := newFixture(t)
	token, _, err := f.m.Login(t.Context(), "lea", "correct horse", addr, "")
	if err != nil {
		t.Fatal(err)
	}
	reads := f.store.reads.Load()
	c, ok := f.m.Classify(token)
	if !ok || c.UserID != f.user.ID || c.Role != domain.RoleStudent {
		t.Fatalf("Classify = %+v, %v", c, ok)
	}
	if f.store.reads.Load() != reads {
		t.Error("Classify read the store")
	}
	// Any change to the token breaks its tag.
	for i := range token {
		b := []byte(token)
		b[i] ^= 1
		if b[i] == '\x00' {
			continue
		}
		if _, ok := f.m.Classify(string(b)); ok {
			t.Fatalf("token altered at %d still classifies", i)
		}
	}
	// Another server's key does not verify it.
	other := auth.NewManager(f.store, password.NewHasher(fastParams, 1), auth.DefaultConfig(), []byte("other key"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, ok := other.Classify(token); ok {
		t.Error("token classifies under another key")
	}
	if _, err := other.Authenticate(t.Context(), token); !errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("token accepted under another key: %v", err)
	}
	f.now = f.now.Add(auth.MaxSessionAge + time.Hour)
	if _, ok := f.m.Classify(token); ok {
		t.Error("a token older than MaxSessionAge still classifies")
	}
}

func FuzzClassify(f *testing.F) {
	m := auth.NewManager(nil, nil, auth.DefaultConfig(), []byte("k"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Add("")
	f.Add(strings.Repeat("A", auth.TokenLen))
	f.Fuzz(func(t *testing.T, s string) {
		if c, ok := m.Classify(s); ok {
			t.Fatalf("random input %q classified as %+v", s, c)
		}
	})
}
