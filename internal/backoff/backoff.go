// Package backoff slows down password guessing by delaying attempts after
// repeated failures, per key.
//
// A key names whatever is being protected; callers typically use one key per
// account ("acct:<login>") and one per network ("addr:1.2.3.0/24"), and check
// both. After Config.Free failures on a key, each further failure blocks the
// key for a delay that doubles from Config.Base up to Config.Max. A success
// forgets the key, and so does Config.Forget of inactivity.
//
// Delays, not lockouts: a lockout lets an attacker lock a victim out at will,
// while a capped delay only slows guessing to a few attempts per Max.
//
// # Memory bound
//
// The limiter keeps at most Config.MaxKeys entries, whatever the attacker
// does. Keys are stored as their SHA-256 digest, so a caller passing
// attacker-chosen strings (a 1 MB login, say) cannot inflate an entry: each
// costs a fixed 64 B record, a 48 B list element and 40–90 B of map slot
// depending on the map's load; about 150 B measured on amd64 and under 200 B
// at worst. MaxKeys = 100 000 thus bounds the limiter to roughly 15–20 MB.
// When full, the entry whose last failure is oldest is evicted; it is
// also the first to have gone idle, so expired entries always go first.
// Evicting an active entry lets its attacker start over, which is why MaxKeys
// should comfortably exceed the number of keys one expects to be under
// attack at once.
package backoff

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Config sets the policy of a Limiter.
type Config struct {
	Free    int           // failures allowed before any delay
	Base    time.Duration // delay after the first failure beyond Free
	Max     time.Duration // cap on the delay
	Forget  time.Duration // idle time after the last failure at which a key is forgotten
	MaxKeys int           // maximum number of keys tracked at once
}

// Validate reports whether c is a usable policy.
func (c Config) Validate() error {
	var errs []error
	if c.Free < 0 {
		errs = append(errs, fmt.Errorf("free failures %d < 0", c.Free))
	}
	if c.Base <= 0 {
		errs = append(errs, fmt.Errorf("base delay %v <= 0", c.Base))
	}
	if c.Max < c.Base {
		errs = append(errs, fmt.Errorf("max delay %v < base delay %v", c.Max, c.Base))
	}
	// Forgetting a key while it is still blocked would cut its delay short.
	if c.Forget < c.Max {
		errs = append(errs, fmt.Errorf("forget time %v < max delay %v", c.Forget, c.Max))
	}
	if c.MaxKeys < 1 {
		errs = append(errs, fmt.Errorf("max keys %d < 1", c.MaxKeys))
	}
	if len(errs) > 0 {
		return fmt.Errorf("backoff: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Limiter tracks failures per key. It is safe for concurrent use, and every
// operation is O(1) amortised.
//
// Time is passed in rather than read from the clock, which keeps the
// limiter deterministic to test. Callers should pass time.Now(); calls may
// arrive slightly out of order from concurrent requests, which the limiter
// tolerates.
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	entries map[digest]*list.Element // Value is *entry
	// byLast orders entries by last failure, most recent at the front, so
	// the back is both the least recently failed and the first to expire.
	byLast *list.List
}

type digest [sha256.Size]byte

type entry struct {
	key   digest
	fails int       // failures since the key was last forgotten, saturating
	last  time.Time // time of the most recent failure
}

// maxShift caps the exponent of the delay. Base*2^62 overflows a
// time.Duration for any Base, and any Max is reached far sooner, so counting
// further would only risk overflow.
const maxShift = 62

// New returns a Limiter with policy c. It panics if c is invalid (see
// Config.Validate), as a bad policy is a programming or configuration error
// that should surface at start-up.
func New(c Config) *Limiter {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return &Limiter{
		cfg:     c,
		entries: make(map[digest]*list.Element),
		byLast:  list.New(),
	}
}

// Check reports how long the caller must wait before an attempt on key is
// allowed; 0 means now. It never adds a key, so probing unknown keys costs
// no memory.
func (l *Limiter) Check(key string, now time.Time) (wait time.Duration) {
	d := sha256.Sum256([]byte(key))
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.entries[d]
	if !ok {
		return 0
	}
	e := el.Value.(*entry)
	if l.expired(e, now) {
		l.remove(el)
		return 0
	}
	until := e.last.Add(l.delay(e.fails))
	if !now.Before(until) {
		return 0
	}
	return until.Sub(now)
}

// Fail records a failed attempt on key at now. Once a key has more than
// Config.Free failures, the n-th failure blocks it for
// Base*2^(n-Free-1), capped at Max. Callers should Check first and only call
// Fail for attempts that were actually allowed; failures recorded while the
// key is blocked still count.
func (l *Limiter) Fail(key string, now time.Time) {
	d := sha256.Sum256([]byte(key))
	l.mu.Lock()
	defer l.mu.Unlock()

	if el, ok := l.entries[d]; ok {
		e := el.Value.(*entry)
		if l.expired(e, now) {
			e.fails = 0 // idle long enough: start afresh, as if forgotten
		}
		if e.fails < l.cfg.Free+maxShift+1 {
			e.fails++
		}
		// Concurrent callers may pass times slightly out of order; never
		// move last failure backwards, which would shorten the delay.
		if now.After(e.last) {
			e.last = now
		}
		l.byLast.MoveToFront(el)
		return
	}

	// Expired entries gather at the back; dropping them here keeps Len
	// honest. Each entry is removed once, so this is O(1) amortised.
	for back := l.byLast.Back(); back != nil && l.expired(back.Value.(*entry), now); back = l.byLast.Back() {
		l.remove(back)
	}
	if len(l.entries) >= l.cfg.MaxKeys {
		l.remove(l.byLast.Back())
	}
	l.entries[d] = l.byLast.PushFront(&entry{key: d, fails: 1, last: now})
}

// Success forgets key, typically after a successful login.
func (l *Limiter) Success(key string) {
	d := sha256.Sum256([]byte(key))
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.entries[d]; ok {
		l.remove(el)
	}
}

// Len returns the number of keys tracked, never more than Config.MaxKeys.
// Expired keys count until an operation notices and drops them.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// delay returns how long a key with the given number of failures is
// blocked after its last failure.
func (l *Limiter) delay(fails int) time.Duration {
	n := fails - l.cfg.Free // 1 for the first failure that costs a delay
	if n <= 0 {
		return 0
	}
	shift := min(n-1, maxShift)
	// Compare before shifting so the multiplication cannot overflow.
	if l.cfg.Base > l.cfg.Max>>shift {
		return l.cfg.Max
	}
	return l.cfg.Base << shift
}

func (l *Limiter) expired(e *entry, now time.Time) bool {
	return now.Sub(e.last) >= l.cfg.Forget
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.entries, el.Value.(*entry).key)
	l.byLast.Remove(el)
}
