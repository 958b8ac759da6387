package admission

import (
	"math"
	"time"
)

// algorithm turns latency samples into a concurrency limit. update is called
// with the limiter's lock held, once per released ticket; inflight is the
// total in flight right after that ticket's admission and queued whether
// requests were waiting then (the limit was binding: demand exceeded it).
type algorithm interface {
	update(rtt time.Duration, inflight int, queued, dropped bool) int
}

func newAlgorithm(c Config, initial, minL, maxL, backoff float64) algorithm {
	switch c.Algorithm {
	case "aimd":
		return &aimd{est: initial, min: minL, max: maxL, backoff: backoff}
	case "vegas":
		s := c.Smoothing
		if !(s > 0 && s <= 1) {
			s = 1
		}
		return &vegas{est: initial, min: minL, max: maxL, backoff: backoff, smoothing: s}
	default: // "gradient2"
		s := c.Smoothing
		if !(s > 0 && s <= 1) {
			s = 0.2
		}
		tol := c.RTTTolerance
		if !(tol >= 1) {
			tol = 1.5
		}
		win := c.LongWindow
		if win <= 0 {
			win = 600
		}
		return &gradient2{
			est: initial, min: minL, max: maxL, backoff: backoff,
			smoothing: s, tolerance: tol,
			short: ewma{window: shortWindow, warmup: 1},
			long:  ewma{window: float64(win), warmup: 10},
		}
	}
}

func clampf(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

// rttOf returns a sample in nanoseconds, at least 1.
func rttOf(d time.Duration) float64 { return math.Max(float64(d), 1) }

// ewma is an exponentially weighted moving average over about window
// samples, a plain average over the first warmup samples.
type ewma struct {
	window, warmup float64
	n              float64
	v              float64
}

func (e *ewma) add(x float64) float64 {
	if e.n < e.warmup {
		e.n++
		e.v += (x - e.v) / e.n
		return e.v
	}
	e.v += (x - e.v) * 2 / (e.window + 1)
	return e.v
}

// gradient2 follows Netflix's Gradient2: see the package documentation.
type gradient2 struct {
	est, min, max        float64
	backoff              float64
	smoothing, tolerance float64
	short, long          ewma
}

// shortWindow is the number of samples of gradient2's short RTT average: a
// single sample is too noisy when latencies vary request to request.
const shortWindow = 10

// roundSamples scales per-sample steps: an algorithm at limit L takes about
// one full step per L/roundSamples samples instead of one per sample. A
// backend at limit L completes about L requests per round trip, and full
// steps on each of them made the limit swing by 20× within seconds in the
// flood simulation (sim_test.go).
const roundSamples = 10.0

// stepWeight is the share of a full step that one sample takes at limit est.
func stepWeight(est float64) float64 { return math.Min(1, roundSamples/est) }

func (g *gradient2) update(rtt time.Duration, inflight int, queued, dropped bool) int {
	if dropped {
		g.est = clampf(g.est*g.backoff, g.min, g.max)
		return int(g.est)
	}
	r := rttOf(rtt)
	short := g.short.add(r)
	long := g.long.v
	// Drift guard: a slower sample taken while requests were waiting is not
	// learnt into the baseline; else, under a sustained overload, the
	// baseline climbs with the congested latency and the limit with it (the
	// known Gradient2 drift). At MinLimit the baseline learns again, so a
	// backend that became slower for good is eventually re-measured.
	if g.long.n < g.long.warmup || r <= long || !queued || g.est <= g.min {
		long = g.long.add(r)
	}
	// Latency recovered after a long overload: let the baseline follow
	// quickly instead of waiting for the average to forget.
	if long/short > 2 {
		g.long.v *= 0.9
	}
	// Neither waiting requests nor half the limit in use: the limit was not
	// the bottleneck and the sample says nothing about it.
	if !queued && float64(inflight) < g.est/2 {
		return int(g.est)
	}
	gradient := clampf(g.tolerance*long/short, 0.5, 1)
	allowance := math.Max(2, math.Sqrt(g.est))
	target := g.est*gradient + allowance
	w := g.smoothing * stepWeight(g.est)
	g.est = clampf(g.est*(1-w)+target*w, g.min, g.max)
	return int(g.est)
}

// aimd adds one slot per limit/roundSamples successful samples while the
// limit is in use, and multiplies the limit by backoff on a drop, at most
// once per round (the next limit samples after a backoff ignore drops, which
// belong to the same congestion episode).
type aimd struct {
	est, min, max, backoff float64
	quiet                  float64 // samples left before another backoff
}

func (a *aimd) update(_ time.Duration, inflight int, queued, dropped bool) int {
	if a.quiet > 0 {
		a.quiet--
	}
	switch {
	case dropped && a.quiet == 0:
		a.est = math.Floor(a.est * a.backoff)
		a.quiet = a.est
	case dropped:
	case queued || float64(inflight)*2 >= a.est:
		a.est += stepWeight(a.est)
	}
	a.est = clampf(a.est, a.min, a.max)
	return int(a.est)
}

// vegas follows TCP Vegas as adapted by Netflix: with rttNoLoad the smallest
// RTT seen, the backend queue is estimated as limit·(1 − rttNoLoad/rtt).
// With L = log10(limit) (at least 1): a queue of at most L grows the limit by
// 6L, below 3L by L, above 6L shrinks it by L. rttNoLoad is forgotten every
// 30·limit samples so that a backend that became slower for good is
// re-measured.
type vegas struct {
	est, min, max, backoff, smoothing float64
	noLoad                            float64
	samples                           int
}

func (v *vegas) update(rtt time.Duration, inflight int, queued, dropped bool) int {
	if dropped {
		v.est = clampf(v.est*v.backoff, v.min, v.max)
		return int(v.est)
	}
	r := rttOf(rtt)
	v.samples++
	if v.noLoad == 0 || r < v.noLoad || float64(v.samples) > 30*v.est {
		if float64(v.samples) > 30*v.est {
			v.samples = 0
		}
		v.noLoad = r
		return int(v.est)
	}
	if !queued && float64(inflight)*2 < v.est {
		return int(v.est)
	}
	lg := math.Max(1, math.Log10(v.est))
	queue := math.Ceil(v.est * (1 - v.noLoad/r))
	var next float64
	switch {
	case queue <= lg:
		next = v.est + 6*lg
	case queue < 3*lg:
		next = v.est + lg
	case queue > 6*lg:
		next = v.est - lg
	default:
		return int(v.est)
	}
	w := v.smoothing * stepWeight(v.est)
	v.est = clampf(v.est*(1-w)+next*w, v.min, v.max)
	return int(v.est)
}
