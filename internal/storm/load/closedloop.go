package load

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"
)

// DefaultSLO is the service level of the storm report: answered in under
// 2 s and not a 5xx.
var DefaultSLO = SLO{MaxLatency: 2 * time.Second}

// SLO is a per-request service level objective.
type SLO struct {
	MaxLatency time.Duration // 0 means DefaultSLO.MaxLatency
}

// Met reports whether o succeeded within the SLO: no error, a status below
// 500 (or a waiting-room page: the user was told their place and wait),
// and a latency of at most MaxLatency.
func (s SLO) Met(o Outcome) bool {
	lim := s.MaxLatency
	if lim == 0 {
		lim = DefaultSLO.MaxLatency
	}
	return o.Err == nil && (o.Status < 500 || o.Queued) && o.Latency <= lim
}

// Outcome is what one step of a simulated user produced.
type Outcome struct {
	Class   string        // report class, e.g. "logged-in", "newcomer", "attack"
	Latency time.Duration // as the user saw it (including retries); 0 means the step's wall time
	Status  int           // final HTTP status
	Err     error         // transport error, timeout, or an error page the user saw
	// Queued marks a waiting-room page (a 503 that states a position and
	// a wait): the user is served, not failed.
	Queued bool
	// FollowUp makes the next step part of the same action (a redirect to
	// follow, a waiting-room page refreshing itself): it starts after
	// Pause instead of a think time.
	FollowUp bool
	Pause    time.Duration
}

// ClosedLoop runs Users simulated users, each in a goroutine of its own:
// wait Arrival(user), then repeat Step and Think until Duration has passed
// since the start. A step still running at Duration is given Grace to
// finish (its context is then cancelled) and is recorded.
type ClosedLoop struct {
	Users    int
	Duration time.Duration
	// Think returns the pause after a step; nil means none.
	Think func(rng *rand.Rand) time.Duration
	// Step performs one user action and reports it. Each user has its own
	// rng; ctx is cancelled at Duration+Grace or when Run's ctx is.
	Step func(ctx context.Context, user int, rng *rand.Rand) Outcome
	// Arrival returns when user starts, from the start of the run (a ramp);
	// nil means everyone at once.
	Arrival func(user int) time.Duration
	SLO     SLO           // success criterion; zero means DefaultSLO
	Seed    uint64        // seeds the users' rngs (user u gets PCG(Seed, u))
	Grace   time.Duration // 0 means DefaultGrace
}

// ClassStats is what one class of outcomes measured.
type ClassStats struct {
	Requests int         // outcomes recorded
	Success  int         // outcomes within the SLO
	Errors   int         // outcomes with Err != nil
	Pages    int         // of which error pages: an answer with a status (in ByStatus)
	Queued   int         // waiting-room pages (counted in Success when in time)
	ByStatus map[int]int // statuses of the answers, error pages included
	Latency  *Histogram  // latencies of all outcomes
}

// SuccessRate is Success/Requests, or 0 when there was no request.
func (c *ClassStats) SuccessRate() float64 {
	if c == nil || c.Requests == 0 {
		return 0
	}
	return float64(c.Success) / float64(c.Requests)
}

// ClosedResult is what a ClosedLoop run measured.
type ClosedResult struct {
	Classes map[string]*ClassStats
	SLO     SLO // the SLO applied (MaxLatency filled in)
	Elapsed time.Duration
}

// ClassNames returns the classes in sorted order.
func (r ClosedResult) ClassNames() []string {
	names := make([]string, 0, len(r.Classes))
	for n := range r.Classes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Total returns the counts of all classes together.
func (r ClosedResult) Total() ClassStats { return r.Merged(nil) }

// Merged returns the counts of the named classes together (all of them
// when names is nil).
func (r ClosedResult) Merged(names []string) ClassStats {
	t := ClassStats{ByStatus: map[int]int{}, Latency: NewHistogram()}
	for name, c := range r.Classes {
		if names != nil && !slices.Contains(names, name) {
			continue
		}
		t.Requests += c.Requests
		t.Success += c.Success
		t.Errors += c.Errors
		t.Pages += c.Pages
		t.Queued += c.Queued
		for s, n := range c.ByStatus {
			t.ByStatus[s] += n
		}
		t.Latency.Merge(c.Latency)
	}
	return t
}

// Run runs the users and returns per-class statistics. It returns early,
// with what was measured, when ctx is cancelled. Users ≤ 0, Duration ≤ 0
// or a nil Step run nothing.
func (l ClosedLoop) Run(ctx context.Context) ClosedResult {
	slo := l.SLO
	if slo.MaxLatency == 0 {
		slo.MaxLatency = DefaultSLO.MaxLatency
	}
	res := ClosedResult{Classes: map[string]*ClassStats{}, SLO: slo}
	if l.Users <= 0 || l.Duration <= 0 || l.Step == nil {
		return res
	}
	grace := l.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	t0 := time.Now()
	deadline := t0.Add(l.Duration)
	stop, cancelStop := context.WithDeadline(ctx, deadline) // ends arrivals and think times
	defer cancelStop()
	stepCtx, cancelSteps := context.WithDeadline(ctx, deadline.Add(grace))
	defer cancelSteps()

	var mu sync.Mutex
	record := func(o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		c := res.Classes[o.Class]
		if c == nil {
			c = &ClassStats{ByStatus: map[int]int{}, Latency: NewHistogram()}
			res.Classes[o.Class] = c
		}
		c.Requests++
		c.Latency.Record(o.Latency)
		if o.Queued {
			c.Queued++
		}
		if o.Err != nil {
			c.Errors++
		}
		if o.Status != 0 {
			c.ByStatus[o.Status]++
			if o.Err != nil {
				c.Pages++
			}
		}
		if slo.Met(o) {
			c.Success++
		}
	}

	var wg sync.WaitGroup
	for u := 0; u < l.Users; u++ {
		wg.Add(1)
		go func(user int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(l.Seed, uint64(user)))
			if l.Arrival != nil && !sleepCtx(stop, l.Arrival(user)) {
				return
			}
			for stop.Err() == nil {
				start := time.Now()
				o := l.Step(stepCtx, user, rng)
				if o.Latency == 0 {
					o.Latency = time.Since(start)
				}
				record(o)
				pause := o.Pause
				if !o.FollowUp && l.Think != nil {
					pause = l.Think(rng)
				}
				if !sleepCtx(stop, pause) {
					return
				}
			}
		}(u)
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	return res
}

// sleepCtx sleeps for d, or until ctx is done; it reports whether ctx is
// still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
