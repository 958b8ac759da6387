package admission

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Priority orders requests; a lower value is served first.
type Priority int

const (
	Staff      Priority = iota // teachers and school staff
	Member                     // students and parents
	PassHolder                 // solved a challenge or went through the waiting room
	Anonymous                  // everybody else
	NumPriorities
)

var priorityNames = [NumPriorities]string{"staff", "member", "pass", "anonymous"}

// String returns a short lower-case name, usable as a metrics label.
func (p Priority) String() string {
	if p < 0 || p >= NumPriorities {
		return "invalid"
	}
	return priorityNames[p]
}

// clamp maps an out-of-range priority to Anonymous: unknown means least trusted.
func (p Priority) clamp() Priority {
	if p < 0 || p >= NumPriorities {
		return Anonymous
	}
	return p
}

// ErrShed is returned when a request is refused because its queue is full or
// it waited longer than its priority's MaxWait. Callers answer 503 with a
// Retry-After from [Limiter.RetryAfter].
var ErrShed = errors.New("admission: request shed (queue full or waited too long)")

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultInitialLimit = 20
	DefaultMinLimit     = 8
	DefaultMaxLimit     = 1000
	DefaultLinger       = time.Second
	DefaultTimeout      = 5 * time.Second
	DefaultBackoff      = 0.9
)

// DefaultReserve is used when every share of Config.Reserve is zero.
var DefaultReserve = [NumPriorities]float64{Staff: 0.1, Member: 0.6, PassHolder: 0.2, Anonymous: 0.1}

// DefaultQueueLen is used for each zero Config.QueueLen entry.
var DefaultQueueLen = [NumPriorities]int{Staff: 64, Member: 512, PassHolder: 128, Anonymous: 64}

// DefaultMaxWait is used for each zero Config.MaxWait entry.
var DefaultMaxWait = [NumPriorities]time.Duration{Staff: 5 * time.Second, Member: 5 * time.Second, PassHolder: 2 * time.Second, Anonymous: time.Second}

// Config configures a [Limiter]. Zero fields take the documented defaults.
type Config struct {
	// InitialLimit, MinLimit and MaxLimit bound the concurrency limit
	// (defaults 20, 8, 1000; MinLimit is at least 1).
	InitialLimit, MinLimit, MaxLimit int
	// Reserve is the share of the limit guaranteed to each priority (see the
	// package documentation for the exact rule). All zero means
	// DefaultReserve; shares summing to more than 1 are scaled down.
	Reserve [NumPriorities]float64
	// QueueLen bounds each priority's queue; 0 means DefaultQueueLen, a
	// negative value means no queue (shed when no slot is free).
	QueueLen [NumPriorities]int
	// MaxWait is how long a request may wait in its queue before it is shed;
	// 0 means DefaultMaxWait, a negative value means no limit other than the
	// caller's context.
	MaxWait [NumPriorities]time.Duration
	// Algorithm is "gradient2" (default), "aimd" or "vegas".
	Algorithm string
	// Now is the clock (default time.Now). With a custom clock, MaxWait is
	// enforced against it only, on Acquire, Release and Expire calls.
	Now func() time.Time

	// Linger is how long after its last request a priority still counts as
	// active, so that its unused reserve is not lent (default 1 s; negative:
	// only in-flight and queued requests count).
	Linger time.Duration
	// Timeout: a released latency at least this long counts as a drop
	// (default 5 s; negative disables).
	Timeout time.Duration
	// Backoff multiplies the limit on a drop (default 0.9; in (0,1)).
	Backoff float64
	// Smoothing is gradient2's blending weight of a new estimate (default
	// 0.2) and vegas's (default 1).
	Smoothing float64
	// RTTTolerance is gradient2's tolerated ratio of short to long RTT
	// before the limit shrinks (default 1.5, at least 1).
	RTTTolerance float64
	// LongWindow is the number of samples of gradient2's long RTT average
	// (default 600).
	LongWindow int
}

// Stats is a snapshot of a [Limiter].
type Stats struct {
	Limit    int
	InFlight [NumPriorities]int
	Queued   [NumPriorities]int
	// Admitted and Shed count decisions since New. Requests whose context
	// ended while queued are in neither.
	Admitted, Shed [NumPriorities]uint64
}

// Limiter is an adaptive, priority-partitioned concurrency limit. It is safe
// for concurrent use.
type Limiter struct {
	now       func() time.Time
	realClock bool
	alg       algorithm
	minLimit  int
	maxLimit  int
	share     [NumPriorities]float64
	queueCap  [NumPriorities]int
	maxWait   [NumPriorities]time.Duration
	linger    time.Duration
	timeout   time.Duration
	totalCap  int

	mu          sync.Mutex
	limit       int
	reserved    [NumPriorities]int
	inflight    [NumPriorities]int
	total       int
	queues      [NumPriorities]waitQueue
	queuedTotal int
	lastSeen    [NumPriorities]time.Time
	admitted    [NumPriorities]uint64
	shed        [NumPriorities]uint64
	shedRate    float64 // moving average of shed decisions (1) among all decisions
}

// New returns a Limiter for c.
func New(c Config) *Limiter {
	l := &Limiter{now: c.Now}
	if l.now == nil {
		l.now = time.Now
		l.realClock = true
	}
	l.minLimit = c.MinLimit
	if l.minLimit <= 0 {
		l.minLimit = DefaultMinLimit
	}
	l.maxLimit = c.MaxLimit
	if l.maxLimit <= 0 {
		l.maxLimit = DefaultMaxLimit
	}
	l.maxLimit = max(l.maxLimit, l.minLimit)
	initial := c.InitialLimit
	if initial <= 0 {
		initial = DefaultInitialLimit
	}
	initial = min(max(initial, l.minLimit), l.maxLimit)

	var sum float64
	for p, s := range c.Reserve {
		if s > 0 && !math.IsInf(s, 0) {
			l.share[p] = s
			sum += s
		}
	}
	if sum == 0 {
		l.share = DefaultReserve
	} else if sum > 1 {
		for p := range l.share {
			l.share[p] /= sum
		}
	}
	for p := range NumPriorities {
		switch q := c.QueueLen[p]; {
		case q == 0:
			l.queueCap[p] = DefaultQueueLen[p]
		case q > 0:
			l.queueCap[p] = q
		}
		l.totalCap += l.queueCap[p]
		switch w := c.MaxWait[p]; {
		case w == 0:
			l.maxWait[p] = DefaultMaxWait[p]
		case w > 0:
			l.maxWait[p] = w
		}
	}
	l.linger = c.Linger
	if l.linger == 0 {
		l.linger = DefaultLinger
	}
	l.timeout = c.Timeout
	if l.timeout == 0 {
		l.timeout = DefaultTimeout
	}
	backoff := c.Backoff
	if !(backoff > 0 && backoff < 1) {
		backoff = DefaultBackoff
	}
	l.alg = newAlgorithm(c, float64(initial), float64(l.minLimit), float64(l.maxLimit), backoff)
	l.setLimitLocked(initial)
	return l
}

// Ticket is an admitted request's slot. Release it exactly once; later
// releases are ignored.
type Ticket struct {
	l        *Limiter
	p        Priority
	inflight int  // total in flight right after this admission
	queued   bool // requests were waiting when this one was admitted
	done     atomic.Bool
}

// Priority returns the priority the ticket was admitted under.
func (t *Ticket) Priority() Priority { return t.p }

// Release frees the slot and feeds the limit algorithm with the latency the
// caller measured and whether the backend answered with an error or an
// overload signal (dropped lowers the limit). Only the first Release or
// Ignore of a ticket has an effect; a nil ticket is ignored.
func (t *Ticket) Release(latency time.Duration, dropped bool) {
	if t == nil || !t.done.CompareAndSwap(false, true) {
		return
	}
	t.l.release(t, latency, dropped, true)
}

// Ignore frees the slot without feeding the limit algorithm, for requests
// whose latency says nothing about the backend (the client went away, the
// handler never called the backend). It counts as the ticket's release.
func (t *Ticket) Ignore() {
	if t == nil || !t.done.CompareAndSwap(false, true) {
		return
	}
	t.l.release(t, 0, false, false)
}

func (l *Limiter) release(t *Ticket, latency time.Duration, dropped, sample bool) {
	l.mu.Lock()
	l.inflight[t.p]--
	l.total--
	if sample {
		if l.timeout > 0 && latency >= l.timeout {
			dropped = true
		}
		if n := l.alg.update(latency, t.inflight, t.queued, dropped); n != l.limit {
			l.setLimitLocked(n)
		}
	}
	if l.queuedTotal > 0 {
		now := l.now()
		l.expireLocked(now)
		l.dispatchLocked(now)
	}
	l.mu.Unlock()
}

// Acquire waits for a slot for a request of priority p (out-of-range values
// count as Anonymous). It returns at once with a ticket when the request is
// admissible, otherwise it queues the request; it returns [ErrShed] when the
// queue is full or the request waited longer than its MaxWait, and ctx.Err()
// when ctx ends first (the request then leaves its queue). On success the
// caller must Release the ticket exactly once.
func (l *Limiter) Acquire(ctx context.Context, p Priority) (*Ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, w, err := l.enter(p.clamp())
	if w == nil {
		return t, err
	}
	var timeout <-chan time.Time
	if l.realClock && l.maxWait[w.p] > 0 {
		timer := time.NewTimer(l.maxWait[w.p])
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-w.ready:
		return w.ticket, w.err()
	case <-ctx.Done():
		l.mu.Lock()
		if w.state == waiting {
			l.removeLocked(w)
			l.mu.Unlock()
			return nil, ctx.Err()
		}
		l.mu.Unlock()
		<-w.ready
		if w.ticket != nil { // admitted while we were giving up
			w.ticket.Ignore()
		}
		return nil, ctx.Err()
	case <-timeout:
		l.mu.Lock()
		if w.state == waiting {
			l.removeLocked(w)
			l.shedLocked(w.p)
			l.mu.Unlock()
			return nil, ErrShed
		}
		l.mu.Unlock()
		<-w.ready
		return w.ticket, w.err()
	}
}

// enter admits a request at once (ticket), sheds it (ErrShed) or queues it
// (waiter, whose ready channel receives once when it is admitted or shed).
func (l *Limiter) enter(p Priority) (*Ticket, *waiter, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.lastSeen[p] = now
	if l.queuedTotal > 0 {
		l.expireLocked(now)
		l.dispatchLocked(now)
	}
	q := &l.queues[p]
	if q.len == 0 && l.admissibleLocked(p, now) {
		return l.admitLocked(p, false), nil, nil
	}
	if q.len >= l.queueCap[p] {
		if q.len == 0 || !l.overloadedLocked(p, now) {
			l.shedLocked(p)
			return nil, nil, ErrShed
		}
		// Under overload the oldest waiter makes room for the newest.
		old := q.head
		l.removeLocked(old)
		l.shedLocked(p)
		old.finish(shed, nil)
	}
	w := &waiter{p: p, enq: now, ready: make(chan struct{}, 1)}
	q.pushBack(w)
	l.queuedTotal++
	return nil, w, nil
}

// admissibleLocked reports whether a request of priority p, with nobody of
// priority p ahead of it, may take a slot now (see the package doc).
func (l *Limiter) admissibleLocked(p Priority, now time.Time) bool {
	if l.inflight[p] < l.reserved[p] {
		return true
	}
	for q := range p {
		if l.queues[q].len > 0 {
			return false
		}
	}
	need := 1
	for q := range NumPriorities {
		if q == p || !l.activeLocked(q, now) {
			continue
		}
		if unused := l.reserved[q] - l.inflight[q]; unused > 0 {
			need += unused
		}
	}
	return l.limit-l.total >= need
}

func (l *Limiter) activeLocked(p Priority, now time.Time) bool {
	return l.inflight[p] > 0 || l.queues[p].len > 0 ||
		(l.linger > 0 && !l.lastSeen[p].IsZero() && now.Sub(l.lastSeen[p]) < l.linger)
}

// overloadedLocked reports whether p's queue is standing: its oldest waiter
// has waited more than half of MaxWait. Its queue is then served LIFO.
func (l *Limiter) overloadedLocked(p Priority, now time.Time) bool {
	h := l.queues[p].head
	return h != nil && l.maxWait[p] > 0 && now.Sub(h.enq) > l.maxWait[p]/2
}

func (l *Limiter) admitLocked(p Priority, fromQueue bool) *Ticket {
	queued := fromQueue || l.queuedTotal > 0
	l.inflight[p]++
	l.total++
	l.admitted[p]++
	l.shedRate -= l.shedRate / shedRateWindow
	return &Ticket{l: l, p: p, inflight: l.total, queued: queued}
}

const shedRateWindow = 64

func (l *Limiter) shedLocked(p Priority) {
	l.shed[p]++
	l.shedRate += (1 - l.shedRate) / shedRateWindow
}

func (l *Limiter) removeLocked(w *waiter) {
	l.queues[w.p].remove(w)
	l.queuedTotal--
}

// dispatchLocked admits queued requests, highest priority first.
func (l *Limiter) dispatchLocked(now time.Time) {
	for p := range NumPriorities {
		q := &l.queues[p]
		for q.len > 0 && l.admissibleLocked(p, now) {
			w := q.head
			if l.overloadedLocked(p, now) {
				w = q.tail
			}
			l.removeLocked(w)
			w.finish(admitted, l.admitLocked(p, true))
		}
	}
}

// expireLocked sheds the waiters older than their MaxWait.
func (l *Limiter) expireLocked(now time.Time) int {
	n := 0
	for p := range NumPriorities {
		mw := l.maxWait[p]
		if mw <= 0 {
			continue
		}
		q := &l.queues[p]
		for q.head != nil && now.Sub(q.head.enq) >= mw {
			w := q.head
			l.removeLocked(w)
			l.shedLocked(p)
			w.finish(shed, nil)
			n++
		}
	}
	return n
}

// Expire sheds every queued request older than its priority's MaxWait
// according to the clock, admits whoever can now be admitted (a priority's
// Linger may have run out) and returns the number shed. With the real clock
// per-waiter timers make calling it unnecessary; with a custom clock call it
// periodically (Acquire and Release also expire).
func (l *Limiter) Expire() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	n := l.expireLocked(now)
	l.dispatchLocked(now)
	return n
}

func (l *Limiter) setLimitLocked(n int) {
	n = min(max(n, l.minLimit), l.maxLimit)
	l.limit = n
	for p, s := range l.share {
		r := int(s*float64(n) + 1e-9) // 0.6·20 is 11.999…
		if s > 0 && r < 1 {
			r = 1
		}
		l.reserved[p] = r
	}
}

// Limit returns the current concurrency limit.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// Stats returns a snapshot of the limiter.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Limit: l.limit, InFlight: l.inflight, Admitted: l.admitted, Shed: l.shed}
	for p := range NumPriorities {
		s.Queued[p] = l.queues[p].len
	}
	return s
}

// Retry-After bounds.
const (
	minRetryAfter = time.Second
	maxRetryAfter = 30 * time.Second
)

// RetryAfter returns a jittered hint for the Retry-After header of a shed
// request. It grows with pressure, the larger of the queues' fill ratio and
// the recent share of shed decisions: the ceiling is 1 s + pressure·29 s and
// the hint is drawn uniformly from [ceiling/2, ceiling], never below 1 s, so
// that shed clients do not come back in step.
func (l *Limiter) RetryAfter() time.Duration {
	l.mu.Lock()
	pressure := l.shedRate
	if l.totalCap > 0 {
		pressure = max(pressure, float64(l.queuedTotal)/float64(l.totalCap))
	}
	l.mu.Unlock()
	return retryAfter(pressure)
}

func retryAfter(pressure float64) time.Duration {
	pressure = min(max(pressure, 0), 1)
	ceil := minRetryAfter + time.Duration(pressure*float64(maxRetryAfter-minRetryAfter))
	d := ceil/2 + rand.N(ceil/2+1)
	return max(d, minRetryAfter)
}

// waiter states.
const (
	waiting = iota
	admitted
	shed
)

// waiter is a queued request. Its fields after ready are guarded by the
// owning limiter's (or budget's) mutex until ready has received.
type waiter struct {
	p          Priority
	enq        time.Time
	ready      chan struct{} // receives once, when state leaves waiting
	state      int
	ticket     *Ticket
	release    func() // Budget
	prev, next *waiter
}

// finish records the outcome and wakes the waiter; called with the lock held.
func (w *waiter) finish(state int, t *Ticket) {
	w.state = state
	w.ticket = t
	w.ready <- struct{}{}
}

// err is the outcome of a finished waiter (read after ready received).
func (w *waiter) err() error {
	if w.state == shed {
		return ErrShed
	}
	return nil
}

// waitQueue is an intrusive doubly linked list of waiters in arrival order.
type waitQueue struct {
	head, tail *waiter
	len        int
}

func (q *waitQueue) pushBack(w *waiter) {
	w.prev, w.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.len++
}

func (q *waitQueue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next = nil, nil
	q.len--
}
