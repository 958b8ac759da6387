package admission

import (
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a manual clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fixed returns a config with a fixed limit n, the default reserves, a fake
// clock and no linger.
func fixed(n int, clk *fakeClock) Config {
	return Config{
		InitialLimit: n, MinLimit: n, MaxLimit: n,
		Now:    clk.Now,
		Linger: -1,
	}
}

// try admits p at once or returns nil, leaving nothing queued.
func try(l *Limiter, p Priority) *Ticket {
	t, w, _ := l.enter(p)
	if w != nil {
		l.mu.Lock()
		if w.state == waiting {
			l.removeLocked(w)
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		<-w.ready
		return w.ticket
	}
	return t
}

// fill admits p until the next one would queue.
func fill(l *Limiter, p Priority) []*Ticket {
	var ts []*Ticket
	for {
		t := try(l, p)
		if t == nil {
			return ts
		}
		ts = append(ts, t)
	}
}

// enqueue queues a request of priority p, failing if it is admitted or shed.
func enqueue(t *testing.T, l *Limiter, p Priority) *waiter {
	t.Helper()
	tk, w, err := l.enter(p)
	if w == nil {
		t.Fatalf("enqueue %v: expected to queue, got ticket=%v err=%v", p, tk != nil, err)
	}
	return w
}

// outcome returns the waiter's state without blocking (waiting if undecided).
func outcome(w *waiter) int {
	select {
	case <-w.ready:
		w.ready <- struct{}{} // put it back for later readers
		return w.state
	default:
		return waiting
	}
}

func totalInFlight(s Stats) int {
	n := 0
	for _, v := range s.InFlight {
		n += v
	}
	return n
}

func releaseAll(ts []*Ticket, lat time.Duration) {
	for _, t := range ts {
		t.Release(lat, false)
	}
}
