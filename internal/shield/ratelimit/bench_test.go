package ratelimit

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAllowExisting: one key already in the table, uncontended.
func BenchmarkAllowExisting(b *testing.B) {
	l := New(Config{Rate: 1e9, Burst: 1e9, MaxKeys: 1 << 16})
	k := host("192.0.2.1")
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(k, now)
	}
}

// BenchmarkAllowExistingIPv6Refused: an IPv6 key that is being refused.
func BenchmarkAllowExistingIPv6Refused(b *testing.B) {
	l := New(Config{Rate: 1, Burst: 1, MaxKeys: 1 << 16})
	k := host("2001:db8::1")
	l.Allow(k, t0)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(k, t0)
	}
}

// BenchmarkAllowRotating: every request from a new address, 1,000,000
// distinct addresses cycling, so the table is always full and every call
// evicts. Reports the table's bytes per key slot.
func BenchmarkAllowRotating(b *testing.B) {
	for _, mk := range []struct {
		name string
		n    int
	}{{"MaxKeys=64Ki", 1 << 16}, {"MaxKeys=1Mi", 1 << 20}} {
		b.Run(mk.name, func(b *testing.B) {
			before := heapAlloc()
			l := New(Config{Rate: 10, Burst: 20, MaxKeys: mk.n})
			table := heapAlloc() - before
			keys := make([]netip.Prefix, 1_000_000)
			for i := range keys {
				if i%2 == 0 {
					keys[i] = v4(uint32(i))
				} else {
					keys[i] = v6(uint64(i))
				}
			}
			for i := range keys { // fill
				l.Allow(keys[i], t0)
			}
			now := t0
			i := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l.Allow(keys[i], now)
				i++
				if i == len(keys) {
					i = 0
				}
				now = now.Add(time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(table)/float64(l.capSlots()), "B/key")
			b.ReportMetric(float64(table)/(1<<20), "MiB-table")
			b.ReportMetric(float64(l.Len()), "keys")
			runtime.KeepAlive(l)
		})
	}
}

// BenchmarkAllowParallel: all cores, each goroutine on its own 1,024 keys
// (spread across shards), table not full.
func BenchmarkAllowParallel(b *testing.B) {
	l := New(Config{Rate: 1e9, Burst: 1e9, MaxKeys: 1 << 16})
	var id atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		base := id.Add(1) << 16
		i := uint32(0)
		for pb.Next() {
			l.Allow(v4(base+i&1023), t0)
			i++
		}
	})
}

// BenchmarkAllowParallelSameKey: worst case, every core on one key.
func BenchmarkAllowParallelSameKey(b *testing.B) {
	l := New(Config{Rate: 1e9, Burst: 1e9, MaxKeys: 1 << 16})
	k := host("192.0.2.1")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(k, t0)
		}
	})
}

// BenchmarkPairAllow: address and prefix buckets, both allowing.
func BenchmarkPairAllow(b *testing.B) {
	p := Pair{
		Addr:   New(Config{Rate: 1e9, Burst: 1e9, MaxKeys: 1 << 16}),
		Prefix: New(Config{Rate: 1e9, Burst: 1e9, MaxKeys: 1 << 14}),
	}
	a := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		p.Allow(a, t0)
	}
}

// BenchmarkSetRate1Mi: SetRate on a full 1Mi-slot table, half depleted.
func BenchmarkSetRate1Mi(b *testing.B) {
	l := New(Config{Rate: 10, Burst: 20, MaxKeys: 1 << 20})
	for i := range 1 << 21 {
		l.AllowN(v4(uint32(i)), t0, float64(i%2)*20)
	}
	i := 0
	for b.Loop() {
		i++
		l.SetRate(float64(5+i%2), 20)
	}
}
