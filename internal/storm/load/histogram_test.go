package load

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	if got := bucketOf(int64(MaxTrackable)); got >= numBuckets {
		t.Fatalf("bucketOf(MaxTrackable) = %d, numBuckets = %d", got, numBuckets)
	}
	// Every bucket's upper bound maps back to it, the next value to the
	// next bucket, and the width stays within RelativeError of the bound.
	prev := int64(-1)
	for i := 0; i < numBuckets; i++ {
		u := bucketUpper(i)
		if bucketOf(u) != i || bucketOf(prev+1) != i {
			t.Fatalf("bucket %d: [%d,%d] maps to %d,%d", i, prev+1, u, bucketOf(prev+1), bucketOf(u))
		}
		lo := prev + 1
		if lo > 0 && float64(u-lo) > float64(lo)*RelativeError {
			t.Fatalf("bucket %d [%d,%d] wider than %.4f of its bound", i, lo, u, RelativeError)
		}
		prev = u
	}
	if prev < int64(MaxTrackable) {
		t.Fatalf("last bucket ends at %d < MaxTrackable", prev)
	}
}

func TestQuantileErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// log-uniform from 1 µs to 1 h
		v := time.Duration(float64(time.Microsecond) * math.Pow(3.6e9, rng.Float64()))
		var h Histogram
		h.Record(v)
		h.Record(2 * MaxTrackable) // so that the cap at Max does not hide the bound
		got := h.Quantile(0.5)
		if got < v || float64(got-v) > float64(v)*0.01 {
			t.Fatalf("single sample %v: p50 = %v, beyond 1%%", v, got)
		}
	}
}

func TestUniformPercentiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	if h.Count() != 1000 {
		t.Fatalf("Count = %d", h.Count())
	}
	within := func(name string, got, want time.Duration) {
		t.Helper()
		if got < want || float64(got-want) > float64(want)*0.01 {
			t.Errorf("%s = %v, want %v (+1%%)", name, got, want)
		}
	}
	within("p50", h.Quantile(0.50), 500*time.Microsecond)
	within("p90", h.Quantile(0.90), 900*time.Microsecond)
	within("p99", h.Quantile(0.99), 990*time.Microsecond)
	within("p999", h.Quantile(0.999), 999*time.Microsecond)
	if h.Quantile(1) != time.Millisecond || h.Max() != time.Millisecond {
		t.Errorf("p100 = %v, Max = %v, want 1ms", h.Quantile(1), h.Max())
	}
	if h.Min() != time.Microsecond {
		t.Errorf("Min = %v", h.Min())
	}
	if m := h.Mean(); m != 500500*time.Nanosecond {
		t.Errorf("Mean = %v, want 500.5µs", m)
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Max() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram not all zero")
	}
	h.Record(-time.Second)
	if h.Min() != 0 || h.Quantile(0.5) != 0 {
		t.Errorf("negative sample: Min %v p50 %v", h.Min(), h.Quantile(0.5))
	}
	h.Record(3 * time.Hour)
	if h.Max() != 3*time.Hour {
		t.Errorf("Max = %v, want exact 3h", h.Max())
	}
	if p := h.Quantile(1); p < time.Hour || p > 3*time.Hour {
		t.Errorf("p100 of a clamped sample = %v", p)
	}
	for i := 0; i < 200; i++ {
		h.Record(time.Duration(i)) // sub-256ns values are exact
	}
	var e Histogram
	for i := 0; i < 200; i++ {
		e.Record(time.Duration(i))
	}
	if e.Quantile(0.5) != 99 {
		t.Errorf("exact region p50 = %v, want 99ns", e.Quantile(0.5))
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		d := time.Duration(rng.Int64N(int64(time.Second)))
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	a.Merge(nil)
	a.Merge(&Histogram{})
	if a.counts != all.counts || a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Fatal("merged histogram differs from the one recorded directly")
	}
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%.2f: %v vs %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	h := NewHistogram()
	if n := testing.AllocsPerRun(1000, func() { h.Record(1234 * time.Microsecond) }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}

func TestLockedConcurrent(t *testing.T) {
	var l Locked
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			for i := 0; i < 1000; i++ {
				l.Record(time.Duration(i) * time.Microsecond)
			}
			done <- struct{}{}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
	if n := l.Snapshot().Count(); n != 4000 {
		t.Fatalf("Count = %d, want 4000", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	vals := make([]time.Duration, 1024)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range vals {
		vals[i] = time.Duration(rng.Int64N(int64(10 * time.Second)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Record(vals[i&1023])
	}
}

func BenchmarkHistogramQuantile(b *testing.B) {
	h := NewHistogram()
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 100000; i++ {
		h.Record(time.Duration(rng.Int64N(int64(10 * time.Second))))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.Quantile(0.99)
	}
}
