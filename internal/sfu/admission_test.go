package sfu_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"preau/internal/sfu"
)

func TestAdmissionLetsInUpToTheBudget(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) { c.MaxSubscribers = 2; c.AdmissionWait = 50 * time.Millisecond })
	ctx := t.Context()
	r1, err := n.Admit(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Admit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, err = n.Admit(ctx, nil)
	if !errors.Is(err, sfu.ErrOverBudget) {
		t.Fatalf("third join: %v, want ErrOverBudget after the wait", err)
	}
	st := n.Stats()
	if st.Admitted != 2 || st.AdmissionQueued != 1 || st.AdmissionRefused != 1 || st.Waiting != 0 {
		t.Errorf("stats %+v", st)
	}
	r1()
	r1() // idempotent
	if _, err := n.Admit(ctx, nil); err != nil {
		t.Fatalf("join after a release: %v", err)
	}
	if st := n.Stats(); st.Admitted != 2 {
		t.Errorf("Admitted = %d, want 2", st.Admitted)
	}
}

func TestAdmissionBitrateBudget(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) {
		c.MaxBitrate = 1_000_000
		c.SubscriberBitrate = 400_000
		c.AdmissionWait = 20 * time.Millisecond
	})
	for range 2 {
		if _, err := n.Admit(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Admit(t.Context(), nil); !errors.Is(err, sfu.ErrOverBudget) {
		t.Fatalf("a third 400 kbit/s subscriber in 1 Mbit/s: %v", err)
	}
}

// queued is a join waiting in line, with the positions it was told.
type queued struct {
	mu        sync.Mutex
	positions []int
	release   func()
	err       error
	done      chan struct{}
}

func (q *queued) last() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.positions) == 0 {
		return 0
	}
	return q.positions[len(q.positions)-1]
}

func admitAsync(ctx context.Context, n *sfu.Node) *queued {
	q := &queued{done: make(chan struct{})}
	go func() {
		defer close(q.done)
		q.release, q.err = n.Admit(ctx, func(p int) {
			q.mu.Lock()
			q.positions = append(q.positions, p)
			q.mu.Unlock()
		})
	}()
	return q
}

func admitted(q *queued) bool {
	select {
	case <-q.done:
		return q.err == nil
	default:
		return false
	}
}

func TestAdmissionQueueIsFIFOWithPositions(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) { c.MaxSubscribers = 1; c.AdmissionWait = time.Minute })
	first, err := n.Admit(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var line []*queued
	for i := range 3 {
		q := admitAsync(t.Context(), n)
		line = append(line, q)
		waitFor(t, "join queued", 5*time.Second, func() bool { return q.last() == i+1 })
	}
	first()
	waitFor(t, "the head admitted", 5*time.Second, func() bool { return admitted(line[0]) })
	waitFor(t, "positions moved up", 5*time.Second, func() bool { return line[1].last() == 1 && line[2].last() == 2 })
	if admitted(line[2]) {
		t.Fatal("the last in line was admitted before the second")
	}
	line[0].release()
	waitFor(t, "the second admitted", 5*time.Second, func() bool { return admitted(line[1]) })
	if admitted(line[2]) {
		t.Fatal("admitted beyond the budget")
	}
	if st := n.Stats(); st.Admitted != 1 || st.Waiting != 1 {
		t.Errorf("stats %+v", st)
	}
	line[1].release()
	waitFor(t, "the third admitted", 5*time.Second, func() bool { return admitted(line[2]) })
	if got := line[2].positions; len(got) != 3 || got[0] != 3 || got[1] != 2 || got[2] != 1 {
		t.Errorf("third's positions %v, want [3 2 1]", got)
	}
}

func TestAdmissionCancelledJoinLeavesTheLine(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) { c.MaxSubscribers = 1; c.AdmissionWait = time.Minute })
	first, err := n.Admit(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	gone := admitAsync(ctx, n)
	waitFor(t, "queued", 5*time.Second, func() bool { return gone.last() == 1 })
	next := admitAsync(t.Context(), n)
	waitFor(t, "queued second", 5*time.Second, func() bool { return next.last() == 2 })
	cancel()
	<-gone.done
	if !errors.Is(gone.err, context.Canceled) {
		t.Fatalf("cancelled join: %v", gone.err)
	}
	waitFor(t, "the next moved up", 5*time.Second, func() bool { return next.last() == 1 })
	first()
	waitFor(t, "the next admitted", 5*time.Second, func() bool { return admitted(next) })
}

func TestAdmissionLineIsBounded(t *testing.T) {
	n := mustNode(t, func(c *sfu.Config) { c.MaxSubscribers = 1; c.AdmissionQueue = 1; c.AdmissionWait = time.Minute })
	if _, err := n.Admit(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	q := admitAsync(t.Context(), n)
	waitFor(t, "queued", 5*time.Second, func() bool { return q.last() == 1 })
	if _, err := n.Admit(t.Context(), nil); !errors.Is(err, sfu.ErrOverBudget) {
		t.Fatalf("join beyond a full line: %v, want ErrOverBudget at once", err)
	}
}

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A node that drops packets (its fan-out workers fall behind) holds joins
// in line whatever its budget, and lets them in once it has dropped
// nothing for 10 s.
func TestAdmissionIsHeldWhileTheNodeDropsPackets(t *testing.T) {
	clock := &manualClock{t: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	n := mustNode(t, func(c *sfu.Config) { c.MaxSubscribers = 100; c.AdmissionWait = time.Minute; c.Now = clock.Now })
	if _, err := n.Admit(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	n.DropPackets(40)
	n.WatchOverload()
	if !n.Stats().AdmissionHeld {
		t.Fatal("admission not held after drops")
	}
	q := admitAsync(t.Context(), n)
	waitFor(t, "a join queued though under budget", 5*time.Second, func() bool { return q.last() == 1 })

	clock.Advance(6 * time.Second)
	n.WatchOverload() // no new drops, but within 10 s of the last
	if admitted(q) || !n.Stats().AdmissionHeld {
		t.Fatal("admission released 6 s after drops")
	}
	n.DropPackets(1)
	clock.Advance(time.Second)
	n.WatchOverload() // new drops: 10 s from now
	clock.Advance(9 * time.Second)
	n.WatchOverload()
	if admitted(q) {
		t.Fatal("admission released 9 s after the latest drops")
	}
	clock.Advance(2 * time.Second)
	n.WatchOverload()
	waitFor(t, "the held join admitted", 5*time.Second, func() bool { return admitted(q) })
	if st := n.Stats(); st.AdmissionHeld || st.Admitted != 2 || st.Waiting != 0 {
		t.Errorf("stats after the overload: %+v", st)
	}
}
