package sfu

import "sync"

// eventQueue runs a peer's callbacks one at a time, in the order they were
// pushed, on a goroutine of its own. Pushing never blocks, so the node
// queues a callback while holding its locks and the callback runs after
// they are released.
type eventQueue struct {
	mu     sync.Mutex
	q      []func()
	wake   chan struct{}
	closed bool
}

func (e *eventQueue) init() {
	e.wake = make(chan struct{}, 1)
	go e.run()
}

func (e *eventQueue) push(f func()) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.q = append(e.q, f)
	select { // under e.mu: close cannot close wake meanwhile
	case e.wake <- struct{}{}:
	default:
	}
	e.mu.Unlock()
}

func (e *eventQueue) run() {
	for range e.wake {
		for {
			e.mu.Lock()
			if e.closed || len(e.q) == 0 {
				e.mu.Unlock()
				break
			}
			f := e.q[0]
			e.q[0] = nil
			e.q = e.q[1:]
			e.mu.Unlock()
			f()
		}
	}
}

// close drops the callbacks not yet run and ends the goroutine.
func (e *eventQueue) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	e.q = nil
	close(e.wake)
}
