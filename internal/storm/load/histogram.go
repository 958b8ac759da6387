package load

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// Bucket layout. Values are nanoseconds. Below linearMax every nanosecond
// has its own bucket (exact). From linearMax up, each power of two
// [2^e, 2^(e+1)) is split into subCount equal buckets of width 2^(e-subBits),
// so a bucket's width is at most 1/subCount = 1/128 of its lower bound:
// about 2 significant decimal digits, relative error under 0.79 %.
const (
	subBits    = 7
	subCount   = 1 << subBits // 128 buckets per power of two
	linearMax  = 2 * subCount // 256 ns: values below are exact
	firstExp   = subBits + 1  // 2^8 = linearMax
	topExp     = 41           // floor(log2(1 h in ns)): 2^41 ≤ 3.6e12 < 2^42
	numBuckets = linearMax + (topExp-firstExp+1)*subCount

	// MaxTrackable is the largest duration a Histogram places in a bucket
	// of its own; longer samples are counted in the bucket of MaxTrackable
	// (Max and Mean still see their exact value).
	MaxTrackable = time.Hour
)

// RelativeError bounds the error of [Histogram.Quantile]: the value
// returned u and the exact sample v at that rank satisfy
// v ≤ u ≤ v·(1+RelativeError) for 256 ns ≤ v ≤ [MaxTrackable], and u = v
// below 256 ns.
const RelativeError = 1.0 / subCount

// Histogram is a latency histogram with log-linear (HDR-like) buckets:
// 1 ns resolution up to 256 ns, then 128 buckets per power of two up to
// one hour, 4,608 buckets in all (about 37 KB, fixed). Record does not
// allocate.
//
// Quantile returns the upper bound of the bucket that holds the sample of
// the requested rank (capped at the largest sample), so it never
// under-reports: it is at most [RelativeError] (1/128, under 0.79 %, well
// within 1 %) above the exact value.
//
// The zero value is an empty histogram ready to use. A Histogram is safe
// for one writer; readers must not run concurrently with that writer. For
// concurrent writers use [Locked], or give each writer its own Histogram
// and [Histogram.Merge] them afterwards.
type Histogram struct {
	counts   [numBuckets]uint64
	count    uint64
	sum      float64 // nanoseconds, exact values (not clamped)
	min, max int64   // nanoseconds, exact values; valid when count > 0
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return new(Histogram) }

// bucketOf returns the bucket index of v nanoseconds, 0 ≤ v ≤ MaxTrackable.
func bucketOf(v int64) int {
	if v < linearMax {
		return int(v)
	}
	u := uint64(v)
	e := bits.Len64(u) - 1 // ≥ firstExp
	sub := int(u>>(uint(e)-subBits)) & (subCount - 1)
	return linearMax + (e-firstExp)*subCount + sub
}

// bucketUpper returns the largest value (inclusive) that falls in bucket i.
func bucketUpper(i int) int64 {
	if i < linearMax {
		return int64(i)
	}
	j := i - linearMax
	e := uint(j/subCount + firstExp)
	sub := int64(j % subCount)
	width := int64(1) << (e - subBits)
	return int64(1)<<e + sub*width + width - 1
}

// Record adds one sample. Negative durations count as zero; durations
// above MaxTrackable are counted in its bucket. It does not allocate.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	b := v
	if b > int64(MaxTrackable) {
		b = int64(MaxTrackable)
	}
	h.counts[bucketOf(b)]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if h.count == 0 || v > h.max {
		h.max = v
	}
	h.count++
	h.sum += float64(v)
}

// Merge adds every sample of o to h. o is not modified; o == h is allowed
// (it doubles every count).
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.count == 0 {
		return
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if h.count == 0 || o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.count += o.count
	h.sum += o.sum
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of samples recorded.
func (h *Histogram) Count() int64 { return int64(h.count) }

// Min returns the smallest sample (exact), or 0 if there is none.
func (h *Histogram) Min() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// Max returns the largest sample (exact), or 0 if there is none.
func (h *Histogram) Max() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.max)
}

// Mean returns the arithmetic mean of the samples (from their exact
// values), or 0 if there is none.
func (h *Histogram) Mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.count))
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1; p99 is Quantile(0.99)): the
// upper bound of the bucket holding the sample of rank ceil(q·Count),
// capped at Max. It is never below the exact sample at that rank and at
// most RelativeError (1/128) above it. Quantile(0) is the smallest bucket's
// bound, Quantile(1) is Max. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	if math.IsNaN(q) || q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.count {
		rank = h.count
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			u := bucketUpper(i)
			if u > h.max {
				u = h.max
			}
			return time.Duration(u)
		}
	}
	return time.Duration(h.max) // unreachable: counts sum to count
}

// Locked is a Histogram guarded by a mutex, for many concurrent writers.
// The zero value is ready to use.
type Locked struct {
	mu sync.Mutex
	h  Histogram
}

// Record adds one sample; safe for concurrent use.
func (l *Locked) Record(d time.Duration) {
	l.mu.Lock()
	l.h.Record(d)
	l.mu.Unlock()
}

// Snapshot returns a copy of the histogram so far.
func (l *Locked) Snapshot() *Histogram {
	h := new(Histogram)
	l.mu.Lock()
	*h = l.h
	l.mu.Unlock()
	return h
}
