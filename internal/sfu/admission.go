package sfu

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// admission is the node's budget of subscribers: a counting semaphore with
// a strict FIFO queue. A join over budget waits in line; a release admits
// the head of the line, never someone behind it. The queue is bounded, so
// a crowd at the door costs a slice entry each and nothing more.
type admission struct {
	limit    int // 0: unlimited
	maxQueue int
	wait     time.Duration

	mu     sync.Mutex
	inUse  int
	queue  []*waiter
	closed bool
	held   bool // the node is overloaded: joins wait whatever the budget says

	queued   atomic.Uint64 // joins that had to wait
	refused  atomic.Uint64 // joins refused (queue full or deadline)
	admitted atomic.Uint64 // joins admitted
}

type waiter struct {
	ready   chan struct{} // closed when admitted
	granted bool          // under admission.mu
	pos     chan int      // latest position, buffered 1
}

func newAdmission(limit, maxQueue int, wait time.Duration) *admission {
	return &admission{limit: limit, maxQueue: maxQueue, wait: wait}
}

// admit takes one slot, waiting in line for at most a.wait. onQueued, if
// not nil, is called from the calling goroutine with the 1-based position
// each time it changes while waiting.
func (a *admission) admit(ctx context.Context, onQueued func(int)) (func(), error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	if len(a.queue) == 0 && !a.held && (a.limit == 0 || a.inUse < a.limit) {
		a.inUse++
		a.mu.Unlock()
		a.admitted.Add(1)
		return a.releaser(), nil
	}
	if len(a.queue) >= a.maxQueue {
		a.mu.Unlock()
		a.refused.Add(1)
		return nil, fmt.Errorf("sfu: admission: %d already waiting: %w", a.maxQueue, ErrOverBudget)
	}
	w := &waiter{ready: make(chan struct{}), pos: make(chan int, 1)}
	a.queue = append(a.queue, w)
	w.pos <- len(a.queue)
	a.mu.Unlock()
	a.queued.Add(1)

	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	for {
		select {
		case <-w.ready:
			a.admitted.Add(1)
			return a.releaser(), nil
		case p := <-w.pos:
			if onQueued != nil {
				onQueued(p)
			}
		case <-ctx.Done():
			if a.leave(w) {
				a.admitted.Add(1)
				return a.releaser(), nil
			}
			return nil, fmt.Errorf("sfu: admission: %w", ctx.Err())
		case <-timer.C:
			if a.leave(w) {
				a.admitted.Add(1)
				return a.releaser(), nil
			}
			a.refused.Add(1)
			return nil, fmt.Errorf("sfu: admission: no room after %s: %w", a.wait, ErrOverBudget)
		}
	}
}

// leave takes w out of the line. It reports true if w was granted a slot
// in the meantime: the caller then keeps it (giving it back and failing
// would only make the next one wait longer for the same slot).
func (a *admission) leave(w *waiter) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.granted {
		return true
	}
	for i, q := range a.queue {
		if q == w {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			a.tellPositions(i)
			break
		}
	}
	return false
}

func (a *admission) releaser() func() {
	var once sync.Once
	return func() { once.Do(a.release) }
}

func (a *admission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse--
	a.promote()
}

// promote admits waiters from the head while there is room. Under a.mu.
func (a *admission) promote() {
	n := 0
	for n < len(a.queue) && !a.held && (a.limit == 0 || a.inUse < a.limit) {
		w := a.queue[n]
		w.granted = true
		a.inUse++
		close(w.ready)
		n++
	}
	if n > 0 {
		a.queue = append(a.queue[:0], a.queue[n:]...)
		a.tellPositions(0)
	}
}

// tellPositions sends their new position to the waiters from index i on,
// replacing a position not yet read. Under a.mu.
func (a *admission) tellPositions(from int) {
	for i := from; i < len(a.queue); i++ {
		w := a.queue[i]
		select {
		case <-w.pos:
		default:
		}
		w.pos <- i + 1
	}
}

// hold makes joins wait in line (on) or lets the line move again (off),
// and reports whether that changed anything.
func (a *admission) hold(on bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held == on {
		return false
	}
	a.held = on
	if !on {
		a.promote()
	}
	return true
}

// close refuses new joins; waiters time out or are cancelled as usual.
func (a *admission) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
}

func (a *admission) snapshot() (inUse, waiting int, held bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse, len(a.queue), a.held
}
