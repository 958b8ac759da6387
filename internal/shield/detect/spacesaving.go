package detect

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"slices"
	"unicode/utf8"
)

// spaceSaving is the Space-Saving heavy-hitter summary of Metwally, Agrawal
// and El Abbadi (ICDT 2005) with a fixed number k of counters.
//
// Each monitored key has a count (an overestimate of its true frequency) and
// err (the count it inherited when it replaced the minimum, so that
// count-err ≤ true ≤ count). When an unmonitored key arrives and all k
// counters are taken, it replaces the key with the smallest count m and gets
// count m+w, err m. The guarantees, with N the total weight added:
//
//   - the minimum count is at most N/k, hence err ≤ N/k for every key;
//   - every key whose true frequency exceeds N/k is monitored.
//
// Layout: entries (k slots, never reallocated), a binary min-heap of entry
// indexes ordered by count (an increment is a sift-down, usually zero or one
// swap), and an open-addressing table with linear probing and
// backward-shift deletion, at most half full, mapping a key to its entry.
// Nothing is allocated after construction. aux is a second counter carried
// by each key (the "suspect" requests, see Detector); it only counts since
// the key was last inserted, so it is a lower bound.
type spaceSaving[K comparable] struct {
	k       int
	entries []ssEntry[K]
	heap    []int32
	table   []int32 // entry index + 1; 0 is empty
	mask    uint64
	total   uint64
}

type ssEntry[K comparable] struct {
	key   K
	hash  uint64
	count uint64
	err   uint64
	aux   uint64
	hpos  int32
}

// ranked is one key taken out of a summary.
type ranked[K comparable] struct {
	key   K
	hash  uint64
	count uint64
	err   uint64
	aux   uint64
}

func newSpaceSaving[K comparable](k int) *spaceSaving[K] {
	if k < 1 {
		k = 1
	}
	size := 4
	for size < 2*k {
		size <<= 1
	}
	return &spaceSaving[K]{
		k:       k,
		entries: make([]ssEntry[K], 0, k),
		heap:    make([]int32, 0, k),
		table:   make([]int32, size),
		mask:    uint64(size - 1),
	}
}

func (s *spaceSaving[K]) reset() {
	clear(s.table)
	s.entries = s.entries[:0]
	s.heap = s.heap[:0]
	s.total = 0
}

// min is the smallest monitored count, 0 while fewer than k keys are
// monitored.
func (s *spaceSaving[K]) min() uint64 {
	if len(s.entries) < s.k {
		return 0
	}
	return s.entries[s.heap[0]].count
}

func (s *spaceSaving[K]) find(key K, h uint64) int32 {
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		v := s.table[i]
		if v == 0 {
			return -1
		}
		if e := &s.entries[v-1]; e.hash == h && e.key == key {
			return v - 1
		}
	}
}

// add counts w occurrences of key (whose hash is h), a of which are suspect.
func (s *spaceSaving[K]) add(key K, h, w, a uint64) {
	s.addErr(key, h, w, 0, a)
}

// addErr is add for merging summaries: the key arrives with its own error.
func (s *spaceSaving[K]) addErr(key K, h, w, e, a uint64) {
	s.total += w
	if i := s.find(key, h); i >= 0 {
		en := &s.entries[i]
		en.count += w
		en.err += e
		en.aux += a
		s.down(int(en.hpos))
		return
	}
	if len(s.entries) < s.k {
		i := int32(len(s.entries))
		s.entries = append(s.entries, ssEntry[K]{key: key, hash: h, count: w, err: e, aux: a, hpos: int32(len(s.heap))})
		s.heap = append(s.heap, i)
		s.insert(i, h)
		s.up(len(s.heap) - 1)
		return
	}
	i := s.heap[0]
	en := &s.entries[i]
	s.remove(i, en.hash)
	m := en.count
	en.key, en.hash, en.count, en.err, en.aux = key, h, m+w, m+e, a
	s.insert(i, h)
	s.down(0)
}

func (s *spaceSaving[K]) insert(idx int32, h uint64) {
	i := h & s.mask
	for s.table[i] != 0 {
		i = (i + 1) & s.mask
	}
	s.table[i] = idx + 1
}

// remove deletes entry idx (hash h) from the table by backward shifting, so
// that probe sequences never need tombstones.
func (s *spaceSaving[K]) remove(idx int32, h uint64) {
	p := h & s.mask
	for s.table[p] != idx+1 {
		p = (p + 1) & s.mask
	}
	for j := (p + 1) & s.mask; ; j = (j + 1) & s.mask {
		v := s.table[j]
		if v == 0 {
			break
		}
		home := s.entries[v-1].hash & s.mask
		// v may fill the hole at p if p lies cyclically in [home, j).
		if (j-home)&s.mask >= (j-p)&s.mask {
			s.table[p] = v
			p = j
		}
	}
	s.table[p] = 0
}

func (s *spaceSaving[K]) less(a, b int) bool {
	return s.entries[s.heap[a]].count < s.entries[s.heap[b]].count
}

func (s *spaceSaving[K]) swap(a, b int) {
	s.heap[a], s.heap[b] = s.heap[b], s.heap[a]
	s.entries[s.heap[a]].hpos = int32(a)
	s.entries[s.heap[b]].hpos = int32(b)
}

func (s *spaceSaving[K]) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !s.less(j, p) {
			return
		}
		s.swap(j, p)
		j = p
	}
}

func (s *spaceSaving[K]) down(j int) {
	n := len(s.heap)
	for {
		l := 2*j + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, j) {
			return
		}
		s.swap(j, m)
		j = m
	}
}

// top appends the n keys with the largest counts to dst[:0], largest first;
// ties are broken by the guaranteed count (count-err), then by key order.
func (s *spaceSaving[K]) top(dst []ranked[K], n int, keyCmp func(a, b K) int) []ranked[K] {
	dst = dst[:0]
	for i := range s.entries {
		e := &s.entries[i]
		dst = append(dst, ranked[K]{key: e.key, hash: e.hash, count: e.count, err: e.err, aux: e.aux})
	}
	slices.SortFunc(dst, func(a, b ranked[K]) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		if c := cmp.Compare(b.count-b.err, a.count-a.err); c != 0 {
			return c
		}
		return keyCmp(a.key, b.key)
	})
	if len(dst) > n {
		dst = dst[:n]
	}
	return dst
}

// strKey is a path or user agent copied into a fixed array, so that the
// summaries never retain the caller's strings and their memory is fixed.
type strKey struct {
	n uint8
	b [maxKeyLen]byte
}

// maxKeyLen is the longest path or user agent kept, in bytes; longer ones are
// cut at a UTF-8 boundary.
const maxKeyLen = 127

func truncate(s string) string {
	if len(s) <= maxKeyLen {
		return s
	}
	n := maxKeyLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func makeStrKey(s string) strKey {
	var k strKey
	k.n = uint8(copy(k.b[:], s))
	return k
}

func (k *strKey) String() string { return string(k.b[:k.n]) }

func cmpStrKey(a, b strKey) int { return bytes.Compare(a.b[:a.n], b.b[:b.n]) }

func cmpAddr(a, b netip.Addr) int     { return a.Compare(b) }
func cmpPrefix(a, b netip.Prefix) int { return a.Compare(b) }

// hasher hashes keys with a per-detector random seed, so that an attacker
// cannot choose addresses or paths that collide in the tables.
type hasher struct {
	seed       maphash.Seed
	k0, k1, k2 uint64
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (h *hasher) addr(a netip.Addr) uint64 {
	b := a.As16()
	x := binary.LittleEndian.Uint64(b[:8])
	y := binary.LittleEndian.Uint64(b[8:])
	return mix(x^h.k0, y^h.k1)
}

func (h *hasher) prefix(p netip.Prefix) uint64 {
	return mix(h.addr(p.Addr())^h.k2, uint64(p.Bits())+1^h.k1)
}

func (h *hasher) str(s string) uint64 { return maphash.String(h.seed, s) }

func maphashSeed() maphash.Seed { return maphash.MakeSeed() }

func randUint64() uint64 { return rand.Uint64() }
