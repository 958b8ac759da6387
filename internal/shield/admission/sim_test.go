package admission

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// simResult summarises one run of the flood simulation.
type simResult struct {
	offered, admitted, shed [NumPriorities]int
	latencies               [NumPriorities][]time.Duration // backend latency of completed requests
	waits                   [NumPriorities][]time.Duration // queueing delay of admitted requests
	completed               int
	limits                  []int // limit at every simulated second
	peakInflight            int
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// simulate drives a Limiter with a fake clock in 1 ms steps, in front of a
// backend of capacity c: a request admitted while n requests are in the
// backend (itself included) takes base when n ≤ c and base·n/c beyond, so the
// backend's throughput is c/base whatever the overload. Each step brings
// anonPerMs anonymous arrivals and, every memberEvery, one member arrival.
func simulate(alg string, c int, base time.Duration, anonPerMs int, memberEvery, dur time.Duration) simResult {
	const tick = time.Millisecond
	clk := newFakeClock()
	l := New(Config{InitialLimit: c, MinLimit: 4, MaxLimit: 50 * c, Algorithm: alg, Now: clk.Now})

	type job struct {
		t   *Ticket
		lat time.Duration
	}
	type pend struct {
		w      *waiter
		arrive int
	}
	var (
		res     simResult
		backend int
		ends    = map[int][]job{}
		pending []pend
	)
	start := func(step int, t *Ticket) {
		backend++
		res.peakInflight = max(res.peakInflight, backend)
		lat := base
		if backend > c {
			lat = base * time.Duration(backend) / time.Duration(c)
		}
		end := step + int((lat+tick-1)/tick)
		ends[end] = append(ends[end], job{t, lat})
	}
	arrive := func(step int, p Priority) {
		res.offered[p]++
		t, w, err := l.enter(p)
		switch {
		case t != nil:
			res.admitted[p]++
			res.waits[p] = append(res.waits[p], 0)
			start(step, t)
		case w != nil:
			pending = append(pending, pend{w, step})
		case err != nil:
			res.shed[p]++
		}
	}
	steps := int(dur / tick)
	memberSteps := int(memberEvery / tick)
	for step := 1; step <= steps; step++ {
		clk.Advance(tick)
		for _, j := range ends[step] {
			backend--
			res.completed++
			res.latencies[j.t.p] = append(res.latencies[j.t.p], j.lat)
			j.t.Release(j.lat, j.lat > 10*base) // the handler times out at 10× base
		}
		delete(ends, step)
		l.Expire()
		for range anonPerMs {
			arrive(step, Anonymous)
		}
		if step%memberSteps == 0 {
			arrive(step, Member)
		}
		kept := pending[:0]
		for _, pd := range pending {
			select {
			case <-pd.w.ready:
				if pd.w.state == admitted {
					res.admitted[pd.w.p]++
					res.waits[pd.w.p] = append(res.waits[pd.w.p], time.Duration(step-pd.arrive)*tick)
					start(step, pd.w.ticket)
				} else {
					res.shed[pd.w.p]++
				}
			default:
				kept = append(kept, pd)
			}
		}
		pending = kept
		if step%1000 == 0 {
			res.limits = append(res.limits, l.Limit())
		}
	}
	return res
}

// TestSimulationAnonymousFlood: offered anonymous load is 10× the backend's
// capacity, members offer a steady quarter of it. Members must be admitted
// at (at least) their offered rate, with latency close to the backend's base,
// and the backend must stay busy.
func TestSimulationAnonymousFlood(t *testing.T) {
	const (
		c    = 20
		base = 50 * time.Millisecond
		dur  = 30 * time.Second
	)
	capacity := float64(c) / base.Seconds() // 400 req/s
	for _, alg := range []string{"gradient2", "aimd", "vegas"} {
		t.Run(alg, func(t *testing.T) {
			// 4 anonymous per ms = 4000/s = 10× capacity; 1 member per 10 ms = 100/s.
			r := simulate(alg, c, base, 4, 10*time.Millisecond, dur)
			m, a := Member, Anonymous
			mAdm := float64(r.admitted[m]) / float64(r.offered[m])
			goodput := float64(r.completed) / dur.Seconds()
			t.Logf("members: offered %d admitted %d (%.1f%%) shed %d; latency p50 %v p99 %v; wait p99 %v",
				r.offered[m], r.admitted[m], 100*mAdm, r.shed[m], pct(r.latencies[m], .5), pct(r.latencies[m], .99), pct(r.waits[m], .99))
			t.Logf("anonymous: offered %d admitted %d (%.1f%%) shed %d; latency p50 %v p99 %v",
				r.offered[a], r.admitted[a], 100*float64(r.admitted[a])/float64(r.offered[a]), r.shed[a], pct(r.latencies[a], .5), pct(r.latencies[a], .99))
			t.Logf("goodput %.0f/s of capacity %.0f/s; peak backend concurrency %d; limit per second %v",
				goodput, capacity, r.peakInflight, fmt.Sprint(r.limits))
			// Members are admitted at their offered rate (the last arrivals may
			// still be in the backend, nothing is shed).
			if r.shed[m] != 0 || mAdm < 0.99 {
				t.Errorf("members admitted %.1f%% of offered, shed %d", 100*mAdm, r.shed[m])
			}
			// Member share of admissions is at least their share of offered
			// capacity (100/s of 400/s).
			if share := float64(r.admitted[m]) / dur.Seconds(); share < 0.99*100 {
				t.Errorf("member admission rate %.0f/s < offered 100/s", share)
			}
			if goodput < 0.8*capacity {
				t.Errorf("goodput %.0f/s below 80%% of capacity", goodput)
			}
		})
	}
}
