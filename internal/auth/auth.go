// Package auth signs users in and recognises them on every request.
//
// Sessions are server-side: the browser holds a random 256-bit token (cookie
// or bearer), the store holds only its SHA-256. Recognising a session is a
// memory lookup after the first request of a node; sliding expiry is kept in
// memory and written back in batches by Run, so that checking a session never
// writes to the database. This is also what lets the shield (a later layer)
// classify a request as "logged in" without a database round trip.
//
// Failed logins slow down per account and per source network (package
// backoff), and unknown logins cost as much as known ones (dummy verify).
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"preau/internal/backoff"
	"preau/internal/domain"
	"preau/internal/password"
)

// Config tunes the manager.
type Config struct {
	IdleTimeout         time.Duration // a session unused this long expires (sliding)
	MaxCachedPrincipals int           // memory bound of the session cache
	MembershipTTL       time.Duration // how long a cached membership is trusted
	FlushInterval       time.Duration // how often sliding expiries are written
	AccountBackoff      backoff.Config
	AddressBackoff      backoff.Config
}

// DefaultConfig suits a school: a session lasts a school day of inactivity;
// the sixth attempt after five wrong passwords on one account waits a second,
// then two, four… up to 15 minutes; a /24 (or /56) gets thirty free failures,
// because a whole school may share one NAT address.
func DefaultConfig() Config {
	return Config{
		IdleTimeout:         12 * time.Hour,
		MaxCachedPrincipals: 200_000,
		MembershipTTL:       time.Minute,
		FlushInterval:       30 * time.Second,
		AccountBackoff:      backoff.Config{Free: 4, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour, MaxKeys: 100_000},
		AddressBackoff:      backoff.Config{Free: 29, Base: time.Second, Max: 5 * time.Minute, Forget: time.Hour, MaxKeys: 100_000},
	}
}

// Principal is the signed-in user of a request.
type Principal struct {
	User       domain.User
	Membership domain.Membership
	SessionID  [32]byte // SHA-256 of the token
	CSRF       string   // the form token bound to this session
}

// RetryError says a login was refused by backoff; retry after Wait.
type RetryError struct{ Wait time.Duration }

func (e *RetryError) Error() string {
	return fmt.Sprintf("too many failed logins: retry in %s", e.Wait)
}

// Unwrap makes errors.Is(err, domain.ErrRateLimited) true.
func (e *RetryError) Unwrap() error { return domain.ErrRateLimited }

type cached struct {
	p            Principal
	expires      time.Time // in-memory sliding expiry
	stored       time.Time // expiry as last written to the store
	memberLoaded time.Time
}

// Manager creates and checks sessions. It is safe for concurrent use.
type Manager struct {
	store    domain.Store
	hasher   *password.Hasher
	cfg      Config
	now      func() time.Time
	csrfKey  []byte
	tokenKey []byte
	accounts *backoff.Limiter
	addrs    *backoff.Limiter
	log      *slog.Logger

	mu    sync.RWMutex
	cache map[[32]byte]*cached

	// gate, if set, may refuse a correct login by role (profile hours).
	gate func(role domain.Role, now time.Time) error
}

// SetLoginGate installs a check run after a correct password and before a
// session opens: the shield's profile gates close, say, parent logins from
// 7:30 to 17:30. The error is returned to the caller as is.
func (m *Manager) SetLoginGate(gate func(role domain.Role, now time.Time) error) { m.gate = gate }

// NewManager builds a manager. key signs form and session tokens; it must be
// secret and stable across restarts (sessions survive restarts).
func NewManager(store domain.Store, hasher *password.Hasher, cfg Config, key []byte, log *slog.Logger) *Manager {
	return &Manager{store: store, hasher: hasher, cfg: cfg, now: time.Now, log: log,
		csrfKey: subKey(key, "csrf"), tokenKey: subKey(key, "session"),
		accounts: backoff.New(cfg.AccountBackoff), addrs: backoff.New(cfg.AddressBackoff),
		cache: make(map[[32]byte]*cached)}
}

// SetClock replaces the clock (tests).
func (m *Manager) SetClock(now func() time.Time) { m.now = now }

// Hasher returns the password hasher, for account creation.
func (m *Manager) Hasher() *password.Hasher { return m.hasher }

// AddressKey is the backoff key of a source address: its /24 for IPv4, its
// /56 for IPv6, so that one household or one rented server counts as one.
func AddressKey(addr netip.Addr) string {
	bits := 56
	if addr.Is4() || addr.Is4In6() {
		addr, bits = addr.Unmap(), 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "addr:invalid"
	}
	return "addr:" + p.String()
}

// Login checks a password and opens a session, returning its token.
// Errors: domain.ErrBadCredential, *RetryError, or internal errors.
func (m *Manager) Login(ctx context.Context, login, pw string, addr netip.Addr, userAgent string) (string, *Principal, error) {
	now := m.now()
	login = domain.NormalizeLogin(login)
	acctKey, addrKey := "acct:"+login, AddressKey(addr)
	if wait := max(m.accounts.Check(acctKey, now), m.addrs.Check(addrKey, now)); wait > 0 {
		return "", nil, &RetryError{Wait: wait}
	}
	user, hash, err := m.store.UserByLogin(ctx, login)
	if errors.Is(err, domain.ErrNotFound) {
		m.hasher.VerifyDummy(ctx, pw)
		m.fail(acctKey, addrKey, now)
		return "", nil, domain.ErrBadCredential
	}
	if err != nil {
		return "", nil, fmt.Errorf("auth: login %q: %w", login, err)
	}
	ok, err := m.hasher.Verify(ctx, pw, hash)
	if err != nil {
		return "", nil, fmt.Errorf("auth: verify password of %q: %w", login, err)
	}
	if !ok || user.Disabled {
		m.fail(acctKey, addrKey, now)
		return "", nil, domain.ErrBadCredential
	}
	m.accounts.Success(acctKey)
	if m.gate != nil {
		if err := m.gate(user.Role, now); err != nil {
			return "", nil, err
		}
	}
	if m.hasher.NeedsRehash(hash) {
		// Upgrade old hashes while we hold the password; failure is not fatal.
		if nh, err := m.hasher.Hash(ctx, pw); err == nil {
			if err := m.store.SetPassword(ctx, user.ID, nh); err != nil {
				m.log.Warn("rehash password", "user", user.ID, "err", err)
			}
		}
	}
	token, p, err := m.open(ctx, user, userAgent, now)
	if err != nil {
		return "", nil, err
	}
	return token, p, nil
}

func (m *Manager) fail(acctKey, addrKey string, now time.Time) {
	m.accounts.Fail(acctKey, now)
	m.addrs.Fail(addrKey, now)
}

// Open starts a session for a user without a password (demo tooling, tests).
func (m *Manager) Open(ctx context.Context, user domain.User, userAgent string) (string, *Principal, error) {
	return m.open(ctx, user, userAgent, m.now())
}

func (m *Manager) open(ctx context.Context, user domain.User, userAgent string, now time.Time) (string, *Principal, error) {
	token, err := newToken(m.tokenKey, user, now)
	if err != nil {
		return "", nil, err
	}
	id := sha256.Sum256([]byte(token))
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	s := domain.Session{IDHash: id, UserID: user.ID, CreatedAt: now, ExpiresAt: now.Add(m.cfg.IdleTimeout), UserAgent: userAgent}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return "", nil, fmt.Errorf("auth: open session for %d: %w", user.ID, err)
	}
	c, err := m.load(ctx, s, now)
	if err != nil {
		return "", nil, err
	}
	p := c.p
	return token, &p, nil
}

// load builds and caches the principal of a stored session.
func (m *Manager) load(ctx context.Context, s domain.Session, now time.Time) (*cached, error) {
	mem, err := m.store.Membership(ctx, s.UserID)
	if err != nil {
		return nil, fmt.Errorf("auth: membership of %d: %w", s.UserID, err)
	}
	c := &cached{p: Principal{User: mem.User, Membership: mem, SessionID: s.IDHash, CSRF: m.csrfToken(s.IDHash)},
		expires: s.ExpiresAt, stored: s.ExpiresAt, memberLoaded: now}
	m.mu.Lock()
	if len(m.cache) >= m.cfg.MaxCachedPrincipals {
		m.evictLocked(now)
	}
	m.cache[s.IDHash] = c
	m.mu.Unlock()
	return c, nil
}

// evictLocked drops expired entries, and if that is not enough, an arbitrary
// eighth of the cache: evicted sessions are only reloaded from the store.
func (m *Manager) evictLocked(now time.Time) {
	for k, c := range m.cache {
		if now.After(c.expires) {
			delete(m.cache, k)
		}
	}
	drop := len(m.cache) - m.cfg.MaxCachedPrincipals*7/8
	for k := range m.cache {
		if drop <= 0 {
			break
		}
		if c := m.cache[k]; c.expires.After(c.stored) {
			continue // keep entries with unwritten sliding expiry
		}
		delete(m.cache, k)
		drop--
	}
}

// Authenticate returns the principal of a token, or domain.ErrUnauthorized.
// On the common path it touches only memory.
func (m *Manager) Authenticate(ctx context.Context, token string) (*Principal, error) {
	// A token whose tag does not verify was not issued here: refuse it
	// without touching the cache or the store.
	if _, ok := parseToken(m.tokenKey, token); !ok {
		return nil, domain.ErrUnauthorized
	}
	id := sha256.Sum256([]byte(token))
	now := m.now()
	m.mu.RLock()
	c := m.cache[id]
	m.mu.RUnlock()
	if c == nil {
		s, err := m.store.Session(ctx, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, domain.ErrUnauthorized
		}
		if err != nil {
			return nil, fmt.Errorf("auth: load session: %w", err)
		}
		if now.After(s.ExpiresAt) {
			return nil, domain.ErrUnauthorized
		}
		if c, err = m.load(ctx, s, now); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	if now.After(c.expires) {
		delete(m.cache, id)
		m.mu.Unlock()
		return nil, domain.ErrUnauthorized
	}
	c.expires = now.Add(m.cfg.IdleTimeout)
	stale := now.Sub(c.memberLoaded) > m.cfg.MembershipTTL
	p := c.p
	m.mu.Unlock()
	if stale {
		if err := m.refresh(ctx, id); err != nil {
			return nil, err
		}
		m.mu.RLock()
		p = c.p
		m.mu.RUnlock()
	}
	if p.User.Disabled {
		return nil, domain.ErrUnauthorized
	}
	return &p, nil
}

func (m *Manager) refresh(ctx context.Context, id [32]byte) error {
	m.mu.RLock()
	c := m.cache[id]
	m.mu.RUnlock()
	if c == nil {
		return nil
	}
	mem, err := m.store.Membership(ctx, c.p.User.ID)
	if err != nil {
		return fmt.Errorf("auth: refresh membership of %d: %w", c.p.User.ID, err)
	}
	m.mu.Lock()
	c.p.User, c.p.Membership, c.memberLoaded = mem.User, mem, m.now()
	m.mu.Unlock()
	return nil
}

// InvalidateUser drops cached memberships of a user's sessions (after a
// change of class, language or links) so the next request reloads them.
func (m *Manager) InvalidateUser(id domain.UserID) {
	m.mu.Lock()
	for _, c := range m.cache {
		if c.p.User.ID == id {
			c.memberLoaded = time.Time{}
		}
	}
	m.mu.Unlock()
}

// InvalidateAll drops every cached membership (after an import).
func (m *Manager) InvalidateAll() {
	m.mu.Lock()
	for _, c := range m.cache {
		c.memberLoaded = time.Time{}
	}
	m.mu.Unlock()
}

// Logout ends one session.
func (m *Manager) Logout(ctx context.Context, id [32]byte) error {
	m.mu.Lock()
	delete(m.cache, id)
	m.mu.Unlock()
	if err := m.store.DeleteSession(ctx, id); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

// LogoutEverywhere ends every session of a user, on this node at once.
func (m *Manager) LogoutEverywhere(ctx context.Context, user domain.UserID) (int, error) {
	hashes, err := m.store.DeleteUserSessions(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("auth: logout everywhere for %d: %w", user, err)
	}
	m.mu.Lock()
	for _, h := range hashes {
		delete(m.cache, h)
	}
	for k, c := range m.cache {
		if c.p.User.ID == user {
			delete(m.cache, k)
		}
	}
	m.mu.Unlock()
	return len(hashes), nil
}

func subKey(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("preau/auth/" + label))
	return m.Sum(nil)
}

// CheckCSRF reports whether a form token belongs to the principal's session.
func (m *Manager) CheckCSRF(p *Principal, token string) bool {
	return p != nil && hmac.Equal([]byte(p.CSRF), []byte(token))
}

func (m *Manager) csrfToken(id [32]byte) string {
	mac := hmac.New(sha256.New, m.csrfKey)
	mac.Write([]byte("csrf\x00"))
	mac.Write(id[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Flush writes pending sliding expiries to the store.
func (m *Manager) Flush(ctx context.Context) error {
	// Only extensions larger than a tenth of the idle timeout are written:
	// a user clicking every second costs one write per FlushInterval at most.
	slack := m.cfg.IdleTimeout / 10
	var touches []domain.SessionTouch
	m.mu.Lock()
	for id, c := range m.cache {
		if c.expires.Sub(c.stored) > slack {
			touches = append(touches, domain.SessionTouch{IDHash: id, ExpiresAt: c.expires})
			c.stored = c.expires
		}
	}
	m.mu.Unlock()
	if err := m.store.TouchSessions(ctx, touches); err != nil {
		return fmt.Errorf("auth: flush %d session expiries: %w", len(touches), err)
	}
	return nil
}

// Run flushes sliding expiries and purges expired sessions until ctx ends,
// then flushes one last time.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := m.Flush(flushCtx); err != nil {
				m.log.Error("final session flush", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := m.Flush(ctx); err != nil {
				m.log.Error("session flush", "err", err)
			}
			now := m.now()
			if n, err := m.store.DeleteExpiredSessions(ctx, now); err != nil {
				m.log.Error("purge expired sessions", "err", err)
			} else if n > 0 {
				m.log.Info("purged expired sessions", "count", n)
			}
			m.mu.Lock()
			for k, c := range m.cache {
				if now.After(c.expires) {
					delete(m.cache, k)
				}
			}
			m.mu.Unlock()
		}
	}
}
