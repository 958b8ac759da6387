package admission

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func waitBudgetQueued(t *testing.T, b *Budget, n int) {
	t.Helper()
	for i := 0; ; i++ {
		if b.Stats().Queued == n {
			return
		}
		if i > 1e6 {
			t.Fatalf("budget queue never reached %d", n)
		}
		time.Sleep(10 * time.Microsecond)
	}
}

func TestBudgetSlotsQueueAndFIFO(t *testing.T) {
	b := NewBudget(2, 2, 0)
	ctx := context.Background()
	r1, err1 := b.Acquire(ctx)
	r2, err2 := b.Acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// Two waiters, queued in a known order.
	got := make(chan int, 2)
	rels := make([]func(), 3)
	for i := 1; i <= 2; i++ {
		go func() {
			r, err := b.Acquire(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			rels[i] = r
			got <- i
		}()
		waitBudgetQueued(t, b, i)
	}
	// Queue full: shed at once.
	if _, err := b.Acquire(ctx); !errors.Is(err, ErrShed) {
		t.Fatalf("err = %v, want ErrShed", err)
	}
	r1()
	if i := <-got; i != 1 {
		t.Fatalf("waiter %d served first, want 1 (FIFO)", i)
	}
	r1() // double release ignored: must not admit waiter 2
	if s := b.Stats(); s.Queued != 1 || s.InFlight != 2 {
		t.Fatalf("double release freed a slot: %+v", s)
	}
	r2()
	if i := <-got; i != 2 {
		t.Fatalf("got %d", i)
	}
	rels[1]()
	rels[2]()
	if s := b.Stats(); s != (BudgetStats{Slots: 2, Admitted: 4, Shed: 1}) {
		t.Fatalf("stats = %+v", s)
	}
}

func TestBudgetCancelAndMaxWait(t *testing.T) {
	b := NewBudget(1, 4, 0)
	rel, _ := b.Acquire(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Acquire(ctx)
		done <- err
	}()
	waitBudgetQueued(t, b, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if s := b.Stats(); s.Queued != 0 || s.InFlight != 1 {
		t.Fatalf("stats = %+v", s)
	}
	rel()
	if s := b.Stats(); s.InFlight != 0 {
		t.Fatalf("slot not freed: %+v", s)
	}

	// maxWait: the holder never releases, so the waiter is shed (outcome only).
	b = NewBudget(1, 4, time.Millisecond)
	rel, _ = b.Acquire(context.Background())
	if _, err := b.Acquire(context.Background()); !errors.Is(err, ErrShed) {
		t.Fatalf("err = %v, want ErrShed", err)
	}
	if s := b.Stats(); s.Queued != 0 || s.Shed != 1 {
		t.Fatalf("stats = %+v", s)
	}
	rel()

	// No queue: shed when busy.
	b = NewBudget(0, -1, 0) // slots clamp to 1
	rel, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(context.Background()); !errors.Is(err, ErrShed) {
		t.Fatalf("err = %v", err)
	}
	if d := b.RetryAfter(); d < 15*time.Second || d > 30*time.Second {
		t.Fatalf("retry after %v with no queue", d)
	}
	rel()
}

func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(3, 8, time.Millisecond)
	var mu sync.Mutex
	cur, peak := 0, 0
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				rel, err := b.Acquire(context.Background())
				if err != nil {
					continue
				}
				mu.Lock()
				cur++
				peak = max(peak, cur)
				mu.Unlock()
				mu.Lock()
				cur--
				mu.Unlock()
				rel()
				rel()
			}
		}()
	}
	wg.Wait()
	s := b.Stats()
	if peak > 3 || s.InFlight != 0 || s.Queued != 0 || s.Admitted+s.Shed != 16*200 {
		t.Fatalf("peak %d stats %+v", peak, s)
	}
}
