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
// one shard at a time under that shard's lock (O(MaxKeys), about a
// millisecond per million slots; the shield calls it only when it changes
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
// Consequently a bucket with debt D (D = TAT − now > 0) is evicted only if
// the 7 other keys of its set all have a debt of at least D. A key that an
// attacker uses for a single request has a debt of one token (T), so as long
// as Burst ≥ 2 a key that is being limited (debt close to τ) can never be
// evicted by cheap address rotation, however many millions of addresses
// rotate through: this is deterministic, not probabilistic, and tested.
//
// Limits of this choice, stated honestly:
//
//   - An attacker can evict a limited bucket by draining 7 buckets of the same
//     set at least as much as it. The set is unknown to the attacker (secret
//     hash seed), so it must drain about 7/8 of the whole table, i.e. get
//     about MaxKeys·Burst requests *accepted*, within one refill period, to
//     give every limited source one fresh burst: the attack costs at least 7
//     times the service it gives back, and the prefix bucket (Pair) still
//     limits the source.
//   - If more than MaxKeys sources are genuinely being limited at the same
//     time, some of their buckets are evicted (least depleted first) and
//     those sources get a fresh burst. Size MaxKeys for the expected number of
//     concurrently limited sources, not for the number of distinct sources.
//   - With Burst < 2 a single request drains a bucket as much as any other,
//     and eviction among equally depleted buckets falls back to "full soonest",
//     which an attacker can influence; keep Burst ≥ 2.
//   - A source that rotates its own address is not caught by its address
//     bucket; that is what the prefix bucket of Pair is for (/24, /56).
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
	"sync/atomic"
	"time"
)

// Config configures a Limiter.
type Config struct {
	Rate    float64 // tokens per second per key
	Burst   float64 // bucket size
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
	n    int // occupied slots
	sets []set
	mask uint64   // len(sets)-1
	_    [64]byte // keep shards' mutexes on different cache lines
}

// params is the current rate, swapped atomically by SetRate.
type params struct {
	t    float64 // cost of one token, ns
	tau  float64 // burst tolerance, ns
	deny bool    // refuse everything
}

// Limiter is a set of token buckets keyed by netip.Prefix, in bounded
// memory. It is safe for concurrent use.
type Limiter struct {
	shards     []shard
	shardShift uint // shard index = hash >> shardShift
	seed       maphash.Seed
	p          atomic.Pointer[params]
	slots      int
}

// New returns a Limiter with every bucket (there are none yet) at Rate and
// Burst, holding at most MaxKeys buckets (rounded up to a power of two). All
// the memory is allocated here: 32 bytes per slot.
func New(c Config) *Limiter {
	n := c.MaxKeys
	if n <= 0 {
		n = defaultMaxKeys
	}
	if n > maxSlots {
		n = maxSlots
	}
	if n < ways {
		n = ways
	}
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
	for i := range l.shards {
		l.shards[i].sets = make([]set, per)
		l.shards[i].mask = uint64(per - 1)
	}
	l.SetRate(c.Rate, c.Burst)
	return l
}

// SetRate changes the rate and burst of every bucket, present and future.
// It takes effect immediately and lazily (no bucket is touched): a bucket
// keeps its debt measured in time until full, see the package doc.
func (l *Limiter) SetRate(rate, burst float64) {
	p := &params{}
	switch {
	case !(rate > 0) || !(burst > 0): // also catches NaN
		p.deny = true
	default:
		p.t = 1e9 / rate // 0 for +Inf
		p.tau = burst * p.t
		if math.IsNaN(p.tau) { // +Inf burst with +Inf rate
			p.tau = 0
		}
		p.tau = min(p.tau, maxTau)
	}
	l.p.Store(p)
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
// request for more than Burst tokens is always refused. n ≤ 0 is allowed and
// changes nothing; NaN is refused.
func (l *Limiter) AllowN(key netip.Prefix, now time.Time, n float64) bool {
	if !(n > 0) {
		return n <= 0
	}
	p := l.p.Load()
	if p.deny {
		return false
	}
	cost := n * p.t
	if cost > p.tau+1 {
		return false
	}
	k := encode(key)
	sh, st := l.locate(&k)
	t := now.UnixNano()

	sh.mu.Lock()
	victim := 0
	vtat := int64(math.MaxInt64)
	for i := range st {
		s := &st[i]
		if s.fam == famEmpty {
			// Slots are never freed, so the first empty slot ends the set.
			victim = i
			sh.n++
			break
		}
		if s.hi == k.hi && s.lo == k.lo && s.bits == k.bits && s.fam == k.fam {
			tat := max(s.tat, t)
			debt := float64(tat-t) + cost
			if debt > p.tau+1 { // 1 ns slack absorbs rounding
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
	// New key: a full bucket (TAT = now) minus cost; cost ≤ τ was checked.
	st[victim] = slot{hi: k.hi, lo: k.lo, bits: k.bits, fam: k.fam, tat: t + int64(cost)}
	sh.mu.Unlock()
	return true
}

// refund gives n tokens back to key's bucket if it is still present (used by
// Pair to undo a take). It never creates a bucket.
func (l *Limiter) refund(key netip.Prefix, n float64) {
	p := l.p.Load()
	if p.deny || !(n > 0) {
		return
	}
	k := encode(key)
	sh, st := l.locate(&k)
	back := int64(n * p.t)
	sh.mu.Lock()
	for i := range st {
		s := &st[i]
		if s.fam == famEmpty {
			break
		}
		if s.hi == k.hi && s.lo == k.lo && s.bits == k.bits && s.fam == k.fam {
			s.tat -= back
			break
		}
	}
	sh.mu.Unlock()
}

// tokens reports the tokens in key's bucket at now, and whether the key is
// present (for tests).
func (l *Limiter) tokens(key netip.Prefix, now time.Time) (float64, bool) {
	p := l.p.Load()
	k := encode(key)
	sh, st := l.locate(&k)
	t := now.UnixNano()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for i := range st {
		s := &st[i]
		if s.fam == famEmpty {
			break
		}
		if s.hi == k.hi && s.lo == k.lo && s.bits == k.bits && s.fam == k.fam {
			if p.deny {
				return 0, true
			}
			if p.t == 0 {
				return math.Inf(1), true
			}
			return (p.tau - float64(max(s.tat, t)-t)) / p.t, true
		}
	}
	return 0, false
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
