// Package ratelimit implements the shield's token buckets: one bucket per
// source address and one per network prefix, kept in a fixed amount of
// memory that an attacker rotating through millions of addresses cannot
// grow and cannot use to reset the bucket of a source that is being limited.
//
// # Buckets
//
// Each bucket is a token bucket of size Burst refilled at Rate tokens per
// second. It is stored in GCRA form (the "generic cell rate algorithm"): a
// single int64, the theoretical arrival time TAT, i.e. the instant (Unix
// nanoseconds) at which the bucket will be full again. With T = 1/Rate
// (the cost of one token, in time) and τ = Burst·T:
//
//   - the bucket holds Burst − max(0, TAT−now)/T tokens; TAT ≤ now means full;
//   - taking n tokens is allowed iff max(TAT, now) + n·T − now ≤ τ, and then
//     TAT becomes max(TAT, now) + n·T; a refused request changes nothing.
//
// This is exactly a token bucket, without floating-point drift (time is
// counted in nanoseconds) and in 8 bytes. Time is always passed in by the
// caller; the package never reads the clock. A clock that goes backwards
// only makes buckets look emptier (conservative).
//
// SetRate changes the rate and burst of every key at once and preserves what
// each bucket holds: a bucket keeps its number of tokens, capped at the new
// Burst, and refills at the new Rate from then on. A depleted bucket stays
// depleted when the shield tightens the rate, and a bucket never holds more
// than the current Burst. SetRate rewrites the TAT of every depleted bucket,
// one shard at a time under that shard's lock (O(MaxKeys), a few
// milliseconds per million slots; the shield calls it only when it changes
// mode). SetRate has no clock argument: each shard converts relative to the
// latest time it has been given, which errs towards the old rate for the
// time elapsed since then. Rate ≤ 0 (or NaN) or Burst ≤ 0 refuses every
// request (a block; buckets are left untouched and resume when a positive
// rate is set again); Rate = +Inf allows everything.
//
// # Memory bound
//
// A Limiter is a fixed, preallocated, set-associative table: MaxKeys is
// rounded up to a power of two (minimum 8) and that many 32-byte slots are
// allocated by New and never more. The slots are grouped in sets of 8 ways
// (256 bytes, four cache lines); a key lives in the set chosen by a seeded
// hash (hash/maphash, random per Limiter, so an attacker cannot aim keys at a
// chosen set). The table is split into up to 64 shards, each with its own
// mutex, so there is no global lock.
//
// Memory is therefore 32 bytes per key plus a few kilobytes of shard headers,
// whatever the traffic: MaxKeys = 1<<16 costs 2 MiB, MaxKeys = 1<<20 (one
// million keys) costs 32 MiB, MaxKeys = 1<<22 costs 128 MiB. The table holds
// no pointers, so the garbage collector does not scan it, and the hot path
// (Allow on a key already present, or on a new key) does not allocate.
// Because a key may only live in its own set, the table starts evicting a
// little before it is completely full (a set can be full while others are
// not); Len ≤ MaxKeys always holds.
//
// # Eviction, and why an attacker cannot reset a depleted bucket
//
// A new key that finds its set full evicts, in O(8), the slot with the
// smallest TAT. That single rule orders the candidates as follows:
//
//  1. full buckets first (TAT ≤ now), the one that has been full the longest
//     (idle longest) first. A full bucket carries no information — a new bucket
//     starts full — so evicting it loses nothing;
//  2. only when all 8 slots are depleted, the least depleted one (the one
//     that will be full soonest).
//
// and the new key inherits the victim's debt: it starts with
// max(victim TAT, now) instead of now. When the victim is full (the normal
// case) that is a full bucket, as usual; when it is not, the newcomer starts
// exactly as depleted as the bucket it replaces. Eviction therefore never
// creates tokens: each slot hands out at most Burst + Rate·Δ tokens in any
// interval Δ, whoever its keys are, and a bucket evicted while depleted
// comes back (on its next request) with at least the debt of the least
// depleted bucket of its set.
//
// What this gives, against an attacker rotating through millions of
// addresses:
//
//   - Memory: never more than MaxKeys buckets (above).
//   - A bucket with debt D (D = TAT − now > 0) is evicted only if the 7 other
//     buckets of its set have at least D. A key used for a single request is
//     one token (T) down, so with Burst ≥ 2 a source being limited (debt close
//     to τ) is never evicted by one-request-per-address rotation, however many
//     addresses rotate: deterministic, and tested with 1,000,000 addresses.
//   - An attacker that drains many buckets to push a limited source out gains
//     nothing: the source comes back inheriting a depleted bucket. Tested.
//   - Overload degrades into per-set sharing, not into a free pass. When new
//     keys arrive in a set faster than its buckets refill — roughly more than
//     8·Rate new-key tokens per second per set, i.e. more than MaxKeys·Rate per
//     second over the table — there are no full victims left, newcomers
//     inherit debt, and the keys of a saturated set share its capacity
//     (8·Rate tokens per second) instead of each getting a fresh Burst.
//
// Limits of this choice: in that overload regime an innocent newcomer whose
// address hashes into a saturated set is limited along with the flood (it
// still gets what the set refills, and the flood must sustain more than
// MaxKeys·Rate new-address tokens per second: 10 million per second for
// MaxKeys = 1<<20 and Rate = 10); size MaxKeys so that MaxKeys·Rate is far
// above the rate of new sources the server can even accept, and rely on
// the shield's admission control to keep logged-in users served. A source
// that rotates its own address is not caught by its address bucket: that is
// what the prefix bucket of Pair (/24, /56) is for. With Burst < 2 a single
// request drains a bucket as much as any other and the "never evicted"
// property above degrades to "evicted only for an equally depleted key".
//
// Keys are netip.Prefix values, masked; an address is its /32 or /128. An
// IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/n, n ≥ 96) is the same key as the
// IPv4 prefix a.b.c.d/(n−96). All invalid prefixes share a single bucket.
package ratelimit

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"net/netip"
	"sync"
	"time"
)

// Config configures a Limiter.
type Config struct {
	Rate    float64 // tokens per second per key
	Burst   float64 // bucket size; Burst/Rate is capped at 2^62 ns (about 146 years)
	MaxKeys int     // memory bound: at most this many buckets (rounded up to a power of two, minimum 8; ≤ 0 means 1<<16)
}

const (
	ways      = 8       // slots per set
	maxShards = 64      // shards (mutexes) per Limiter
	maxSlots  = 1 << 30 // hard cap on MaxKeys (32 GiB)
	// maxTau caps Burst/Rate so that TAT never overflows int64 (≈146 years).
	maxTau = float64(1 << 62)
	// defaultMaxKeys is used when Config.MaxKeys ≤ 0.
	defaultMaxKeys = 1 << 16
)

// Key families; famEmpty marks an unused slot.
const (
	famEmpty   uint8 = 0
	famInvalid uint8 = 1
	fam4       uint8 = 4
	fam6       uint8 = 6
)

// slot is one bucket: 32 bytes, no pointers.
type slot struct {
	hi, lo uint64 // masked address, 16 bytes, big-endian halves
	tat    int64  // theoretical arrival time, Unix ns; ≤ now means full
	bits   uint8  // prefix length
	fam    uint8  // famEmpty, famInvalid, fam4, fam6
	_      [6]byte
}

type set [ways]slot

type shard struct {
	mu   sync.Mutex
	p    *params // current rate; replaced by SetRate under mu
	now  int64   // latest time seen by this shard (Unix ns), for SetRate
	n    int     // occupied slots
	sets []set
	mask uint64   // len(sets)-1
	_    [64]byte // keep shards' mutexes on different cache lines
}

// params is a rate; immutable once published to a shard.
type params struct {
	rate, burst float64
	t           float64 // cost of one token, ns (0 for an infinite rate)
	tau         float64 // burst tolerance τ = Burst·T, ns
	deny        bool    // refuse everything
}

func makeParams(rate, burst float64) *params {
	p := &params{rate: rate, burst: burst}
	if !(rate > 0) || !(burst > 0) { // also catches NaN
		p.deny = true
		return p
	}
	p.t = 1e9 / rate // 0 for +Inf
	p.tau = burst * p.t
	if math.IsNaN(p.tau) { // +Inf burst with +Inf rate
		p.tau = 0
	}
	p.tau = min(p.tau, maxTau)
	return p
}

// Limiter is a set of token buckets keyed by netip.Prefix, in bounded
// memory. It is safe for concurrent use.
type Limiter struct {
	shards     []shard
	shardShift uint // shard index = hash >> shardShift
	seed       maphash.Seed
	slots      int
	rateMu     sync.Mutex // serialises SetRate
}

// New returns a Limiter with every bucket at Rate and Burst, holding at most
// MaxKeys buckets (rounded up to a power of two, minimum 8). All the memory
// is allocated here: 32 bytes per slot.
func New(c Config) *Limiter {
	n := c.MaxKeys
	if n <= 0 {
		n = defaultMaxKeys
	}
	n = min(max(n, ways), maxSlots)
	slots := 1 << bits.Len(uint(n-1)) // next power of two
	nsets := slots / ways
	nshards := min(nsets, maxShards)
	l := &Limiter{
		shards:     make([]shard, nshards),
		shardShift: uint(64 - bits.TrailingZeros(uint(nshards))),
		seed:       maphash.MakeSeed(),
		slots:      slots,
	}
	per := nsets / nshards
	p := makeParams(c.Rate, c.Burst)
	for i := range l.shards {
		l.shards[i].sets = make([]set, per)
		l.shards[i].mask = uint64(per - 1)
		l.shards[i].p = p
		l.shards[i].now = math.MinInt64
	}
	return l
}

// SetRate changes the rate and burst of every bucket, present and future.
// Each bucket keeps its tokens, capped at the new burst; see the package doc.
func (l *Limiter) SetRate(rate, burst float64) {
	np := makeParams(rate, burst)
	l.rateMu.Lock()
	defer l.rateMu.Unlock()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		op := sh.p
		if !op.deny && !np.deny && op.t > 0 && np.t > 0 {
			ref := sh.now
			for j := range sh.sets {
				st := &sh.sets[j]
				for k := range st {
					s := &st[k]
					if s.fam == famEmpty {
						break
					}
					if s.tat <= ref {
						continue // full: nothing to convert
					}
					// Missing tokens now, under the old rate.
					missing := float64(s.tat-ref) / op.t
					// Same tokens under the new burst, capped to it.
					missing = min(max(0, missing+np.burst-op.burst), np.burst)
					s.tat = ref + int64(min(missing*np.t, maxTau))
				}
			}
		}
		sh.p = np
		sh.mu.Unlock()
	}
}

// Len returns the number of buckets currently held (≤ the rounded MaxKeys).
func (l *Limiter) Len() int {
	total := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		total += s.n
		s.mu.Unlock()
	}
	return total
}

// capSlots returns the number of slots, i.e. MaxKeys rounded up.
func (l *Limiter) capSlots() int { return l.slots }

// Allow takes one token from key's bucket at time now, and reports whether
// it could.
func (l *Limiter) Allow(key netip.Prefix, now time.Time) bool {
	return l.AllowN(key, now, 1)
}

// AllowN takes n tokens from key's bucket at time now, and reports whether it
// could. A refused request takes nothing and does not change the bucket; a
// request for more than Burst tokens is always refused (and creates no
// bucket). n ≤ 0 is allowed and changes nothing; NaN is refused.
func (l *Limiter) AllowN(key netip.Prefix, now time.Time, n float64) bool {
	if !(n > 0) {
		return n <= 0
	}
	k := encode(key)
	sh, st := l.locate(&k)
	t := now.UnixNano()

	sh.mu.Lock()
	p := sh.p
	if t > sh.now {
		sh.now = t
	}
	cost := n * p.t
	if p.deny || cost > p.tau+1 {
		sh.mu.Unlock()
		return false
	}
	victim := -1
	vtat := int64(math.MaxInt64)
	for i := range st {
		s := &st[i]
		if s.fam == famEmpty {
			// Slots are never freed, so the first empty slot ends the set.
			victim, vtat = i, math.MinInt64
			break
		}
		if s.hi == k.hi && s.lo == k.lo && s.bits == k.bits && s.fam == k.fam {
			debt := float64(max(s.tat, t)-t) + cost
			if debt > p.tau+1 { // 1 ns of slack absorbs rounding
				sh.mu.Unlock()
				return false
			}
			s.tat = t + int64(debt)
			sh.mu.Unlock()
			return true
		}
		if s.tat < vtat {
			vtat, victim = s.tat, i
		}
	}
	// New key. It takes over the victim's slot *and its debt*: a full victim
	// (or an empty slot) gives a full bucket, a depleted one gives a bucket
	// just as depleted, so eviction never creates tokens.
	debt := float64(max(vtat, t)-t) + cost
	if debt > p.tau+1 {
		sh.mu.Unlock()
		return false // refused: nothing evicted, nothing inserted
	}
	if st[victim].fam == famEmpty {
		sh.n++
	}
	st[victim] = slot{hi: k.hi, lo: k.lo, bits: k.bits, fam: k.fam, tat: t + int64(debt)}
	sh.mu.Unlock()
	return true
}

// refund gives n tokens back to key's bucket if it is still present (used by
// Pair to undo a take). It never creates a bucket.
func (l *Limiter) refund(key netip.Prefix, n float64) {
	if !(n > 0) {
		return
	}
	k := encode(key)
	sh, st := l.locate(&k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.p.deny {
		return
	}
	back := int64(n * sh.p.t)
	if s := find(st, &k); s != nil {
		s.tat -= back
	}
}

// tokens reports the tokens in key's bucket at now, and whether the key is
// present (for tests).
func (l *Limiter) tokens(key netip.Prefix, now time.Time) (float64, bool) {
	k := encode(key)
	sh, st := l.locate(&k)
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := find(st, &k)
	switch {
	case s == nil:
		return 0, false
	case sh.p.deny:
		return 0, true
	case sh.p.t == 0:
		return math.Inf(1), true
	}
	return (sh.p.tau - float64(max(s.tat, t)-t)) / sh.p.t, true
}

func find(st *set, k *key) *slot {
	for i := range st {
		s := &st[i]
		if s.fam == famEmpty {
			return nil
		}
		if s.hi == k.hi && s.lo == k.lo && s.bits == k.bits && s.fam == k.fam {
			return s
		}
	}
	return nil
}

type key struct {
	hi, lo    uint64
	bits, fam uint8
}

// encode canonicalises a prefix: masked, IPv4-mapped unmapped, zone dropped.
func encode(p netip.Prefix) key {
	if !p.IsValid() {
		return key{fam: famInvalid}
	}
	a, b := p.Addr(), p.Bits()
	if a.Is4In6() && b >= 96 {
		a, b = a.Unmap(), b-96
	}
	m, err := a.WithZone("").Prefix(b)
	if err != nil {
		return key{fam: famInvalid}
	}
	a16 := m.Addr().As16()
	k := key{
		hi:   binary.BigEndian.Uint64(a16[:8]),
		lo:   binary.BigEndian.Uint64(a16[8:]),
		bits: uint8(b),
		fam:  fam6,
	}
	if m.Addr().Is4() {
		k.fam = fam4
	}
	return k
}

func (l *Limiter) locate(k *key) (*shard, *set) {
	var buf [18]byte
	binary.LittleEndian.PutUint64(buf[0:], k.hi)
	binary.LittleEndian.PutUint64(buf[8:], k.lo)
	buf[16], buf[17] = k.bits, k.fam
	h := maphash.Bytes(l.seed, buf[:])
	sh := &l.shards[h>>l.shardShift]
	return sh, &sh.sets[h&sh.mask]
}

// Pair checks an address against its own bucket and its prefix's bucket
// (/24 for IPv4, /56 for IPv6; IPv4-mapped addresses unmapped first, zones
// dropped). Either field may be nil to skip that check.
//
// Fairness of refusals: the address bucket is checked first. A request it
// refuses never touches the prefix bucket, so one flooding host cannot use up
// its neighbours' shared /24 or /56 budget with requests it was refused
// anyway. If the address bucket allows but the prefix bucket refuses, the
// address's token is given back, so a well-behaved host in a busy prefix is
// not charged for requests it did not get. The two limiters are locked
// separately: between the take and the give-back a concurrent request of
// the same address may see one token fewer (it errs towards refusing).
type Pair struct{ Addr, Prefix *Limiter }

// Allow reports whether a request from a is allowed at now: true only if
// both its address bucket and its prefix bucket allow it.
func (p Pair) Allow(a netip.Addr, now time.Time) bool {
	ak, pk := pairKeys(a)
	if p.Addr != nil && !p.Addr.AllowN(ak, now, 1) {
		return false
	}
	if p.Prefix != nil && !p.Prefix.AllowN(pk, now, 1) {
		if p.Addr != nil {
			p.Addr.refund(ak, 1)
		}
		return false
	}
	return true
}

// pairKeys returns the keys Pair uses for a: its /32 or /128, and its /24 or
// /56, after unmapping IPv4-mapped addresses and dropping any zone. An
// invalid address gives invalid prefixes (one shared bucket).
func pairKeys(a netip.Addr) (addr, prefix netip.Prefix) {
	a = a.Unmap().WithZone("")
	if !a.IsValid() {
		return netip.Prefix{}, netip.Prefix{}
	}
	if a.Is4() {
		pk, _ := a.Prefix(24)
		return netip.PrefixFrom(a, 32), pk
	}
	pk, _ := a.Prefix(56)
	return netip.PrefixFrom(a, 128), pk
}
