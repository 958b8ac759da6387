package admission

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// saturate keeps the limit full of Staff requests for n completions: each
// step releases the oldest request with latency lat and tops the limit up
// again, as a backend under sustained load sees it. It returns the limit
// after every step.
func saturate(l *Limiter, held []*Ticket, n int, lat time.Duration, dropped bool) ([]*Ticket, []int) {
	var out []int
	held = append(held, fill(l, Staff)...)
	for range n {
		if len(held) > 0 {
			held[0].Release(lat, dropped)
			held = held[1:]
		}
		held = append(held, fill(l, Staff)...)
		out = append(out, l.Limit())
	}
	return held, out
}

// rounds fills the limit with Staff requests and releases them all with the
// latency lat, n times, returning the limit after each round.
func rounds(l *Limiter, n int, lat time.Duration) []int {
	var out []int
	for range n {
		ts := fill(l, Staff)
		releaseAll(ts, lat)
		out = append(out, l.Limit())
	}
	return out
}

func TestLimitAdaptsToLatency(t *testing.T) {
	for _, alg := range []string{"gradient2", "aimd", "vegas"} {
		t.Run(alg, func(t *testing.T) {
			clk := newFakeClock()
			l := New(Config{InitialLimit: 20, MinLimit: 4, MaxLimit: 500, Algorithm: alg, Now: clk.Now, Linger: -1})
			start := l.Limit()
			held, flat := saturate(l, nil, 200, 20*time.Millisecond, false)
			for i := 1; i < len(flat); i++ {
				if flat[i] < flat[i-1] {
					t.Fatalf("limit fell under flat latency: %v", flat)
				}
			}
			grown := flat[len(flat)-1]
			if grown <= start {
				t.Fatalf("limit did not grow under flat latency: %d -> %d", start, grown)
			}
			var slow []int
			if alg == "aimd" { // AIMD only reads drops.
				held, slow = saturate(l, held, 20, 20*time.Millisecond, true)
			} else {
				held, slow = saturate(l, held, 20, 60*time.Millisecond, false)
			}
			for i := 1; i < len(slow); i++ {
				if slow[i] > slow[i-1] {
					t.Fatalf("limit rose while latency was high: %v", slow)
				}
			}
			shrunk := slow[len(slow)-1]
			if shrunk >= grown {
				t.Fatalf("limit did not shrink when latency rose: %d -> %d", grown, shrunk)
			}
			releaseAll(held, 20*time.Millisecond)
			t.Logf("%s: %d -> %d (flat) -> %d (slow)", alg, start, grown, shrunk)
		})
	}
}

func TestDroppedLowersLimit(t *testing.T) {
	for _, alg := range []string{"gradient2", "aimd", "vegas"} {
		clk := newFakeClock()
		l := New(Config{InitialLimit: 100, MinLimit: 4, MaxLimit: 500, Algorithm: alg, Now: clk.Now})
		tk := try(l, Member)
		tk.Release(time.Millisecond, true)
		if got := l.Limit(); got != 90 {
			t.Errorf("%s: limit after one drop = %d, want 90", alg, got)
		}
		// A latency at or above Timeout counts as a drop.
		tk = try(l, Member)
		tk.Release(DefaultTimeout, false)
		want := 81
		if alg == "aimd" { // at most one backoff per round of ~limit samples
			want = 90
		}
		if got := l.Limit(); got != want {
			t.Errorf("%s: limit after a timeout = %d, want %d", alg, got, want)
		}
	}
}

func TestLimitStaysWithinBounds(t *testing.T) {
	clk := newFakeClock()
	l := New(Config{InitialLimit: 10, MinLimit: 5, MaxLimit: 12, Now: clk.Now})
	rounds(l, 50, time.Millisecond)
	if got := l.Limit(); got != 12 {
		t.Fatalf("limit = %d, want max 12", got)
	}
	for range 50 {
		ts := fill(l, Staff)
		for _, tk := range ts {
			tk.Release(time.Millisecond, true)
		}
	}
	if got := l.Limit(); got != 5 {
		t.Fatalf("limit = %d, want min 5", got)
	}
}

func TestMemberGetsReserveUnderAnonymousFlood(t *testing.T) {
	clk := newFakeClock()
	l := New(fixed(20, clk)) // reserves: staff 2, member 12, pass 4, anonymous 2

	// Members idle: the flood may borrow everything.
	anon := fill(l, Anonymous)
	if len(anon) != 20 {
		t.Fatalf("anonymous flood got %d slots, want all 20 borrowable", len(anon))
	}
	if try(l, Anonymous) != nil {
		t.Fatal("anonymous admitted beyond the limit")
	}
	m := try(l, Member)
	if m == nil {
		t.Fatal("member not admitted at once within its reserve")
	}
	// Further anonymous requests stay out until the total is back under the
	// limit and the member's unused reserve is covered.
	for range 12 {
		anon[0].Release(10*time.Millisecond, false)
		anon = anon[1:]
		if try(l, Anonymous) != nil {
			t.Fatal("anonymous took a slot while a member is active and over the limit")
		}
	}
	if s := l.Stats(); totalInFlight(s) != 9 || s.InFlight[Member] != 1 {
		t.Fatalf("stats = %+v", s)
	}
	m.Release(10*time.Millisecond, false)
	releaseAll(anon, 10*time.Millisecond)
}

func TestActiveMemberReserveIsNotLent(t *testing.T) {
	clk := newFakeClock()
	cfg := fixed(20, clk)
	cfg.Linger = time.Second
	l := New(cfg)
	m0 := try(l, Member) // members are active
	anon := fill(l, Anonymous)
	// 20 - 1 member - 11 unused member reserve = 8 borrowable.
	if len(anon) != 8 {
		t.Fatalf("anonymous got %d slots, want 8", len(anon))
	}
	members := []*Ticket{m0}
	for i := range 11 {
		tk := try(l, Member)
		if tk == nil {
			t.Fatalf("member %d within reserve not admitted at once", i+2)
		}
		members = append(members, tk)
	}
	if s := l.Stats(); totalInFlight(s) != 20 {
		t.Fatalf("in flight = %d, want exactly the limit", totalInFlight(s))
	}
	// Beyond their reserve members queue, ahead of anonymous waiters.
	a1 := enqueue(t, l, Anonymous)
	w1 := enqueue(t, l, Member)
	a2 := enqueue(t, l, Anonymous)
	w2 := enqueue(t, l, Member)

	anon[0].Release(10*time.Millisecond, false)
	if outcome(w1) != admitted || outcome(w2) != waiting || outcome(a1) != waiting {
		t.Fatal("first freed slot did not go to the first queued member")
	}
	anon[1].Release(10*time.Millisecond, false)
	if outcome(w2) != admitted || outcome(a1) != waiting {
		t.Fatal("second freed slot did not go to the second queued member")
	}
	anon[2].Release(10*time.Millisecond, false)
	if outcome(a1) != admitted || outcome(a2) != waiting {
		t.Fatal("anonymous waiters not served FIFO after members")
	}
	_ = a2
}

func TestLingerProtectsReserve(t *testing.T) {
	clk := newFakeClock()
	cfg := fixed(20, clk)
	cfg.Linger = time.Second
	cfg.MaxWait[Anonymous] = time.Minute
	l := New(cfg)
	try(l, Member).Release(10*time.Millisecond, false) // a member came and went
	anon := fill(l, Anonymous)
	if len(anon) != 8 { // the member reserve (12) stays free while members linger
		t.Fatalf("anonymous got %d slots, want 8", len(anon))
	}
	w := enqueue(t, l, Anonymous)
	clk.Advance(999 * time.Millisecond)
	l.Expire()
	if outcome(w) != waiting {
		t.Fatal("member reserve lent before Linger ran out")
	}
	clk.Advance(time.Millisecond)
	l.Expire()
	if outcome(w) != admitted {
		t.Fatal("idle member reserve not lent after Linger")
	}
	more := fill(l, Anonymous)
	if len(anon)+1+len(more) != 20 {
		t.Fatalf("anonymous holds %d, want the whole idle limit", len(anon)+1+len(more))
	}
}

func TestStrictPriorityBetweenQueues(t *testing.T) {
	clk := newFakeClock()
	cfg := fixed(10, clk)
	cfg.Reserve = [NumPriorities]float64{0.0001, 0.0001, 0.0001, 0.0001} // 1 slot each
	l := New(cfg)
	held := fill(l, PassHolder)
	if len(held) != 10 {
		t.Fatalf("got %d", len(held))
	}
	// Reserves are 1 each and unused: staff, member, anonymous get one at once.
	for _, p := range []Priority{Staff, Member, Anonymous} {
		if try(l, p) == nil {
			t.Fatalf("%v not admitted within its reserve", p)
		}
	}
	// Beyond reserves, queue and serve highest first.
	order := []Priority{Anonymous, PassHolder, Member, Staff, Anonymous, Member}
	var ws []*waiter
	for _, p := range order {
		ws = append(ws, enqueue(t, l, p))
	}
	// Over-admission drained: 13 in flight, limit 10; free 3 slots first.
	for _, tk := range held[:3] {
		tk.Release(time.Millisecond, false)
	}
	for _, w := range ws {
		if outcome(w) != waiting {
			t.Fatal("admitted while over the limit")
		}
	}
	want := []int{3, 2, 5, 1, 0, 4} // staff, member, member, pass, anonymous, anonymous
	for i := range want {
		held[3+i].Release(time.Millisecond, false)
		for j, w := range ws {
			st := outcome(w)
			served := false
			for _, k := range want[:i+1] {
				served = served || k == j
			}
			if served != (st == admitted) {
				t.Fatalf("after %d releases waiter %d (%v) state %d; want served=%v", i+1, j, order[j], st, served)
			}
		}
	}
}

func TestQueueBoundSheds(t *testing.T) {
	clk := newFakeClock()
	cfg := fixed(10, clk)
	cfg.Reserve = [NumPriorities]float64{Staff: .1, Member: .9}
	cfg.QueueLen = [NumPriorities]int{Member: 2, Anonymous: -1}
	cfg.MaxWait = [NumPriorities]time.Duration{Member: time.Minute}
	l := New(cfg)
	held := fill(l, Member)
	enqueue(t, l, Member)
	enqueue(t, l, Member)
	if _, err := l.Acquire(context.Background(), Member); !errors.Is(err, ErrShed) {
		t.Fatalf("third queued member: err = %v, want ErrShed", err)
	}
	// Anonymous has no queue (-1): shed at once when no slot is free.
	if _, err := l.Acquire(context.Background(), Anonymous); !errors.Is(err, ErrShed) {
		t.Fatalf("anonymous without queue: err = %v, want ErrShed", err)
	}
	s := l.Stats()
	if s.Shed[Member] != 1 || s.Shed[Anonymous] != 1 || s.Queued[Member] != 2 {
		t.Fatalf("stats = %+v", s)
	}
	releaseAll(held, time.Millisecond)
}

func TestMaxWaitShedsWithFakeClock(t *testing.T) {
	clk := newFakeClock()
	cfg := fixed(4, clk)
	cfg.Reserve = [NumPriorities]float64{Member: 1}
	cfg.MaxWait = [NumPriorities]time.Duration{Member: 10 * time.Second, Anonymous: 2 * time.Second}
	l := New(cfg)
	held := fill(l, Member)

	done := make(chan error, 1)
	go func() {
		_, err := l.Acquire(context.Background(), Anonymous)
		done <- err
	}()
	m := enqueue(t, l, Member)
	waitQueued(t, l, Anonymous, 1)

	clk.Advance(time.Second)
	if n := l.Expire(); n != 0 {
		t.Fatalf("expired %d before MaxWait", n)
	}
	clk.Advance(time.Second)
	if n := l.Expire(); n != 1 {
		t.Fatalf("expired %d, want the anonymous waiter", n)
	}
	if err := <-done; !errors.Is(err, ErrShed) {
		t.Fatalf("err = %v, want ErrShed", err)
	}
	if outcome(m) != waiting {
		t.Fatal("member shed before its own MaxWait")
	}
	// Acquire also expires: the member's 10 s run out.
	clk.Advance(8 * time.Second)
	try(l, Staff) // any call sweeps
	if outcome(m) != shed {
		t.Fatal("member not shed after its MaxWait")
	}
	if s := l.Stats(); s.Shed[Anonymous] != 1 || s.Shed[Member] != 1 || s.Queued != [NumPriorities]int{} {
		t.Fatalf("stats = %+v", s)
	}
	releaseAll(held, time.Millisecond)
}

func TestMaxWaitRealClock(t *testing.T) {
	// Real clock: a per-waiter timer sheds. Only the outcome is checked.
	l := New(Config{InitialLimit: 8, MinLimit: 8, MaxLimit: 8, MaxWait: [NumPriorities]time.Duration{Anonymous: time.Millisecond}})
	held := fill(l, Anonymous)
	if _, err := l.Acquire(context.Background(), Anonymous); !errors.Is(err, ErrShed) {
		t.Fatalf("err = %v, want ErrShed", err)
	}
	if s := l.Stats(); s.Queued[Anonymous] != 0 || s.Shed[Anonymous] != 1 {
		t.Fatalf("stats = %+v", s)
	}
	releaseAll(held, time.Millisecond)
}

func TestContextDeadlineAndCancel(t *testing.T) {
	clk := newFakeClock()
	l := New(fixed(4, clk))
	held := fill(l, Member)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, Member)
		done <- err
	}()
	waitQueued(t, l, Member, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	s := l.Stats()
	if s.Queued[Member] != 0 || s.Shed[Member] != 0 {
		t.Fatalf("cancelled waiter left state behind: %+v", s)
	}
	// The freed slot is not handed to the departed waiter.
	held[0].Release(time.Millisecond, false)
	if s := l.Stats(); s.InFlight[Member] != 3 {
		t.Fatalf("in flight = %d, want 3", s.InFlight[Member])
	}

	// An expired deadline.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel2()
	<-ctx2.Done()
	if _, err := l.Acquire(ctx2, Member); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	releaseAll(held[1:], time.Millisecond)
	if s := l.Stats(); totalInFlight(s) != 0 {
		t.Fatalf("leak: %+v", s)
	}
}

func TestDoubleReleaseIgnored(t *testing.T) {
	clk := newFakeClock()
	l := New(fixed(4, clk))
	held := fill(l, Member)
	w := enqueue(t, l, Member)
	w2 := enqueue(t, l, Member)
	held[0].Release(time.Millisecond, false)
	held[0].Release(time.Millisecond, false)
	held[0].Ignore()
	if outcome(w) != admitted || outcome(w2) != waiting {
		t.Fatal("double release freed a second slot")
	}
	var nilTicket *Ticket
	nilTicket.Release(0, false) // no panic
	s := l.Stats()
	if s.InFlight[Member] != 4 || s.Admitted[Member] != 5 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestIgnoreDoesNotFeedAlgorithm(t *testing.T) {
	clk := newFakeClock()
	l := New(Config{InitialLimit: 50, MinLimit: 4, MaxLimit: 100, Now: clk.Now})
	ts := fill(l, Staff)
	for _, tk := range ts {
		tk.Ignore()
	}
	if got := l.Limit(); got != 50 {
		t.Fatalf("limit = %d, want unchanged 50", got)
	}
	if s := l.Stats(); totalInFlight(s) != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestLIFOUnderOverload(t *testing.T) {
	clk := newFakeClock()
	cfg := fixed(4, clk)
	cfg.QueueLen = [NumPriorities]int{Member: 3}
	cfg.MaxWait = [NumPriorities]time.Duration{Member: 10 * time.Second}
	l := New(cfg)
	held := fill(l, Member)
	var ws []*waiter
	for range 3 {
		ws = append(ws, enqueue(t, l, Member))
		clk.Advance(time.Second)
	}
	// Healthy (oldest waited 3 s ≤ 5 s): FIFO, and a full queue sheds the arrival.
	held[0].Release(time.Millisecond, false)
	if outcome(ws[0]) != admitted {
		t.Fatal("not FIFO while healthy")
	}
	ws = append(ws, enqueue(t, l, Member))
	if _, err := l.Acquire(context.Background(), Member); !errors.Is(err, ErrShed) {
		t.Fatalf("healthy full queue: err = %v, want ErrShed of the arrival", err)
	}
	// Overloaded (oldest, ws[1], has waited 6 s > 5 s): LIFO.
	clk.Advance(4 * time.Second)
	held[1].Release(time.Millisecond, false)
	if outcome(ws[3]) != admitted || outcome(ws[1]) != waiting {
		t.Fatal("not LIFO under overload")
	}
	// A full overloaded queue evicts its oldest waiter for the arrival.
	ws = append(ws, enqueue(t, l, Member))
	ws = append(ws, enqueue(t, l, Member)) // queue: ws[1], ws[2], ws[4] -> evicts ws[1]
	if outcome(ws[1]) != shed || outcome(ws[2]) != waiting {
		t.Fatal("overloaded full queue did not evict its oldest waiter")
	}
	if s := l.Stats(); s.Queued[Member] != 3 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestLimitChangeAdmitsWaiters(t *testing.T) {
	clk := newFakeClock()
	l := New(Config{InitialLimit: 10, MinLimit: 4, MaxLimit: 100, Now: clk.Now, Linger: -1, MaxWait: [NumPriorities]time.Duration{Staff: time.Hour}})
	held := fill(l, Staff)
	var ws []*waiter
	for range 5 {
		ws = append(ws, enqueue(t, l, Staff))
	}
	// Fast releases of busy-period requests grow the limit (gradient2, flat
	// latency), so three releases admit more than three waiters.
	for _, tk := range held[7:] {
		tk.Release(time.Millisecond, false)
	}
	n := 0
	for _, w := range ws {
		if outcome(w) == admitted {
			n++
		}
	}
	if lim := l.Limit(); n <= 3 || n != lim-7 {
		t.Fatalf("%d waiters admitted with limit %d", n, lim)
	}
}

func TestInvalidPriorityIsAnonymous(t *testing.T) {
	clk := newFakeClock()
	l := New(fixed(10, clk))
	tk, err := l.Acquire(context.Background(), Priority(42))
	if err != nil || tk.Priority() != Anonymous {
		t.Fatalf("tk=%v err=%v", tk, err)
	}
	tk.Release(time.Millisecond, false)
	if Priority(-1).String() != "invalid" || Member.String() != "member" {
		t.Fatal("String")
	}
}

func TestConfigDefaults(t *testing.T) {
	l := New(Config{})
	s := l.Stats()
	if s.Limit != DefaultInitialLimit {
		t.Fatalf("limit %d", s.Limit)
	}
	if l.reserved != [NumPriorities]int{2, 12, 4, 2} {
		t.Fatalf("reserved = %v", l.reserved)
	}
	if l.queueCap != DefaultQueueLen || l.maxWait != DefaultMaxWait {
		t.Fatal("queue defaults")
	}
	// Oversubscribed shares are scaled down.
	l = New(Config{InitialLimit: 10, MinLimit: 10, MaxLimit: 10, Reserve: [NumPriorities]float64{1, 1, 0, 0}})
	if l.reserved != [NumPriorities]int{5, 5, 0, 0} {
		t.Fatalf("reserved = %v", l.reserved)
	}
}

func TestRetryAfter(t *testing.T) {
	for range 200 {
		if d := retryAfter(0); d != time.Second {
			t.Fatalf("no pressure: %v", d)
		}
		if d := retryAfter(1); d < 15*time.Second || d > 30*time.Second {
			t.Fatalf("full pressure: %v", d)
		}
		if d := retryAfter(0.5); d < 7*time.Second || d > 16*time.Second {
			t.Fatalf("half pressure: %v", d)
		}
	}
	clk := newFakeClock()
	cfg := fixed(2, clk)
	cfg.QueueLen = [NumPriorities]int{1, 1, 1, 1}
	l := New(cfg)
	if d := l.RetryAfter(); d != time.Second {
		t.Fatalf("idle: %v", d)
	}
	fill(l, Anonymous)
	for range 200 { // one queued, then shed decisions raise the hint
		l.enter(Anonymous)
	}
	sum := time.Duration(0)
	for range 100 {
		sum += l.RetryAfter()
	}
	if sum/100 < 10*time.Second {
		t.Fatalf("mean hint under pressure %v, want ≥ 10 s", sum/100)
	}
}

// TestConcurrentChurn hammers the limiter from many goroutines with random
// priorities, cancellations and real-clock deadlines; run with -race. It
// checks that every slot comes back and no waiter is left behind.
func TestConcurrentChurn(t *testing.T) {
	l := New(Config{InitialLimit: 8, MinLimit: 2, MaxLimit: 16,
		QueueLen: [NumPriorities]int{4, 8, 4, 4},
		MaxWait:  [NumPriorities]time.Duration{time.Millisecond, 2 * time.Millisecond, time.Millisecond, 500 * time.Microsecond}})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 300 {
				p := Priority(r.IntN(int(NumPriorities)))
				ctx, cancel := context.WithCancel(context.Background())
				if r.IntN(8) == 0 {
					cancel()
				}
				tk, err := l.Acquire(ctx, p)
				cancel()
				if err != nil {
					continue
				}
				if tk.Priority() != p {
					t.Errorf("priority %v != %v", tk.Priority(), p)
				}
				if r.IntN(2) == 0 {
					tk.Release(time.Duration(r.IntN(20))*time.Millisecond, r.IntN(10) == 0)
				} else {
					tk.Ignore()
				}
				tk.Release(0, false) // ignored
			}
		}()
	}
	wg.Wait()
	s := l.Stats()
	if totalInFlight(s) != 0 || s.Queued != [NumPriorities]int{} {
		t.Fatalf("leak: %+v", s)
	}
	var adm, sh uint64
	for p := range NumPriorities {
		adm += s.Admitted[p]
		sh += s.Shed[p]
	}
	t.Logf("admitted %d, shed %d, final limit %d", adm, sh, s.Limit)
}

// waitQueued blocks until p's queue holds n requests (queued by another goroutine).
func waitQueued(t *testing.T, l *Limiter, p Priority, n int) {
	t.Helper()
	for i := 0; ; i++ {
		if l.Stats().Queued[p] == n {
			return
		}
		if i > 1e6 {
			t.Fatalf("queue %v never reached %d", p, n)
		}
		time.Sleep(10 * time.Microsecond)
	}
}
