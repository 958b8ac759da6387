package detect

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// zipfStream returns n keys drawn from a Zipf law over 100,000 keys and the
// true frequencies.
func zipfStream(n int, seed uint64) ([]uint64, map[uint64]uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	z := rand.NewZipf(r, 1.1, 1, 100_000)
	keys := make([]uint64, n)
	freq := make(map[uint64]uint64)
	for i := range keys {
		keys[i] = z.Uint64()
		freq[keys[i]]++
	}
	return keys, freq
}

func checkBounds(t *testing.T, s *spaceSaving[uint64], freq map[uint64]uint64, n uint64) {
	t.Helper()
	k := uint64(s.k)
	if s.total != n {
		t.Fatalf("total %d, want %d", s.total, n)
	}
	if m := s.min(); m > n/k {
		t.Errorf("min count %d > N/k = %d", m, n/k)
	}
	monitored := make(map[uint64]bool)
	for _, e := range s.entries {
		monitored[e.key] = true
		f := freq[e.key]
		if e.count < f || e.count-e.err > f {
			t.Errorf("key %d: true %d outside [count-err, count] = [%d, %d]", e.key, f, e.count-e.err, e.count)
		}
		if e.err > n/k {
			t.Errorf("key %d: err %d > N/k = %d", e.key, e.err, n/k)
		}
	}
	for key, f := range freq {
		if f > n/k && !monitored[key] {
			t.Errorf("key %d with %d > N/k = %d occurrences is not monitored", key, f, n/k)
		}
	}
}

func hashU64(h *hasher, x uint64) uint64 { return mix(x^h.k0, h.k1) }

func TestSpaceSavingZipfBounds(t *testing.T) {
	const n = 200_000
	keys, freq := zipfStream(n, 1)
	h := &hasher{k0: 0x1234567, k1: 0x89abcdef | 1}
	for _, k := range []int{16, 64, 256} {
		s := newSpaceSaving[uint64](k)
		for _, key := range keys {
			s.add(key, hashU64(h, key), 1, 0)
		}
		checkBounds(t, s, freq, n)

		// The top ten are the true top ten, in order, with k = 64 or more.
		if k >= 64 {
			top := s.top(nil, 10, func(a, b uint64) int { return int(a) - int(b) })
			for i, r := range top {
				// Zipf ranks: the i-th most frequent key is i (keys start at 0).
				if r.key != uint64(i) {
					t.Errorf("k=%d: rank %d is key %d (count %d), want %d", k, i, r.key, r.count, i)
				}
			}
		}
	}
}

func TestSpaceSavingMergeBounds(t *testing.T) {
	const n = 200_000
	keys, freq := zipfStream(n, 2)
	h := &hasher{k0: 77, k1: 99}
	parts := make([]*spaceSaving[uint64], 4)
	for i := range parts {
		parts[i] = newSpaceSaving[uint64](64)
	}
	for i, key := range keys {
		parts[i%4].add(key, hashU64(h, key), 1, 0)
	}
	m := newSpaceSaving[uint64](64 * 4)
	for _, p := range parts {
		mergeInto(m, p)
	}
	if m.total != n {
		t.Fatalf("merged total %d", m.total)
	}
	for _, e := range m.entries {
		f := freq[e.key]
		// Count-Err is always a lower bound; the error is at most the sum
		// of the parts' N_i/k.
		if e.count-e.err > f {
			t.Errorf("key %d: lower bound %d > true %d", e.key, e.count-e.err, f)
		}
		if e.err > n/64 {
			t.Errorf("key %d: err %d > N/k", e.key, e.err)
		}
	}
	top := m.top(nil, 5, func(a, b uint64) int { return int(a) - int(b) })
	for i, r := range top {
		if r.key != uint64(i) {
			t.Errorf("merged rank %d is key %d", i, r.key)
		}
	}
}

// TestSpaceSavingTable exercises insertion, eviction and backward-shift
// deletion with colliding hashes against a brute-force model.
func TestSpaceSavingTable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := newSpaceSaving[netip.Addr](8)
	for i := range 20000 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(40))})
		h := uint64(a.As4()[3]) % 5 // heavy collisions
		if i%3 == 0 {
			h = uint64(r.IntN(3))
			a = netip.AddrFrom4([4]byte{10, 0, 1, byte(h)})
		}
		s.add(a, h, 1, 0)
		// Every entry is findable and the heap is ordered.
		for j, e := range s.entries {
			if got := s.find(e.key, e.hash); got != int32(j) {
				t.Fatalf("step %d: entry %d (%v) found at %d", i, j, e.key, got)
			}
		}
		for j := 1; j < len(s.heap); j++ {
			if s.less(j, (j-1)/2) {
				t.Fatalf("step %d: heap order broken at %d", i, j)
			}
		}
	}
	var sum uint64
	for _, e := range s.entries {
		sum += e.count
	}
	if sum != s.total {
		t.Fatalf("sum of counts %d != total %d (Space-Saving conserves the total)", sum, s.total)
	}
}
