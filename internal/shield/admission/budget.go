package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Budget is a fixed concurrency budget with its own bounded FIFO queue, for
// work that must not compete with the adaptive limit: logins, whose password
// hashing is the most expensive thing the server does. A login flood fills
// the budget and its queue and is then shed, while the Limiter keeps serving
// logged-in students. It is safe for concurrent use.
type Budget struct {
	slots, queueCap int
	maxWait         time.Duration

	mu       sync.Mutex
	inflight int
	queue    waitQueue
	admitted uint64
	shed     uint64
}

// BudgetStats is a snapshot of a [Budget].
type BudgetStats struct {
	Slots, InFlight, Queued int
	Admitted, Shed          uint64
}

// NewBudget returns a budget of slots concurrent holders (at least 1) with a
// queue of at most queue waiters (negative means 0) who wait at most maxWait
// each (0 or negative: until their context ends).
func NewBudget(slots, queue int, maxWait time.Duration) *Budget {
	return &Budget{slots: max(slots, 1), queueCap: max(queue, 0), maxWait: maxWait}
}

// Acquire takes a slot, waiting in FIFO order if none is free. It returns
// [ErrShed] when the queue is full or the wait exceeded maxWait, ctx.Err()
// when ctx ended first. On success release must be called once; later calls
// are ignored.
func (b *Budget) Acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.inflight < b.slots && b.queue.len == 0 {
		b.inflight++
		b.admitted++
		b.mu.Unlock()
		return b.releaser(), nil
	}
	if b.queue.len >= b.queueCap {
		b.shed++
		b.mu.Unlock()
		return nil, ErrShed
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	b.queue.pushBack(w)
	b.mu.Unlock()

	var timeout <-chan time.Time
	if b.maxWait > 0 {
		t := time.NewTimer(b.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ready:
		return w.release, nil
	case <-ctx.Done():
		if b.leave(w, false) {
			return nil, ctx.Err()
		}
		<-w.ready
		w.release() // admitted while giving up: hand the slot on
		return nil, ctx.Err()
	case <-timeout:
		if b.leave(w, true) {
			return nil, ErrShed
		}
		<-w.ready
		return w.release, nil
	}
}

// leave removes a still-queued waiter and reports whether it was queued.
func (b *Budget) leave(w *waiter, shed bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.state != waiting {
		return false
	}
	b.queue.remove(w)
	if shed {
		b.shed++
	}
	return true
}

func (b *Budget) releaser() func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			b.release()
		}
	}
}

// release hands the slot to the oldest waiter, or frees it.
func (b *Budget) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.queue.head; w != nil {
		b.queue.remove(w)
		b.admitted++
		w.release = b.releaser()
		w.state = admitted
		w.ready <- struct{}{}
		return
	}
	b.inflight--
}

// Stats returns a snapshot of the budget.
func (b *Budget) Stats() BudgetStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{Slots: b.slots, InFlight: b.inflight, Queued: b.queue.len, Admitted: b.admitted, Shed: b.shed}
}

// RetryAfter returns a jittered Retry-After hint for a shed login, growing
// with the queue's fill ratio (1–30 s, as [Limiter.RetryAfter]).
func (b *Budget) RetryAfter() time.Duration {
	b.mu.Lock()
	p := 1.0
	if b.queueCap > 0 {
		p = float64(b.queue.len) / float64(b.queueCap)
	}
	b.mu.Unlock()
	return retryAfter(p)
}
