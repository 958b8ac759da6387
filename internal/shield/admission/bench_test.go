package admission

import (
	"context"
	"testing"
	"time"
)

func BenchmarkAcquireRelease(b *testing.B) {
	l := New(Config{InitialLimit: 1000, MinLimit: 1000, MaxLimit: 1000})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		t, err := l.Acquire(ctx, Member)
		if err != nil {
			b.Fatal(err)
		}
		t.Release(time.Millisecond, false)
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) {
	l := New(Config{InitialLimit: 1000, MinLimit: 1000, MaxLimit: 1000})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := Priority(0)
		for pb.Next() {
			t, err := l.Acquire(ctx, p)
			if err != nil {
				b.Error(err)
				return
			}
			t.Release(time.Millisecond, false)
			p = (p + 1) % NumPriorities
		}
	})
}

// BenchmarkAcquireContended keeps the limit (8) smaller than the number of
// goroutines, so requests queue and are handed slots by releases.
func BenchmarkAcquireContended(b *testing.B) {
	l := New(Config{InitialLimit: 8, MinLimit: 8, MaxLimit: 8,
		QueueLen: [NumPriorities]int{1024, 1024, 1024, 1024}, MaxWait: [NumPriorities]time.Duration{-1, -1, -1, -1}})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := l.Acquire(ctx, Member)
			if err != nil {
				b.Error(err)
				return
			}
			t.Release(time.Millisecond, false)
		}
	})
}

func BenchmarkBudget(b *testing.B) {
	bu := NewBudget(64, 64, time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rel, err := bu.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			rel()
		}
	})
}
