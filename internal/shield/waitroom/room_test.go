package waitroom

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// queue issues n tickets one per bucket (10 ms into each 100 ms bucket),
// then brings each back once so that the room counts it.
func queue(r *Room, c *clock, n int) []Ticket {
	ts := make([]Ticket, n)
	c.Advance(10 * time.Millisecond)
	for i := range ts {
		ts[i] = r.Issue(c.Now())
		c.Advance(100 * time.Millisecond)
	}
	for i := range ts {
		ts[i] = r.Refresh(ts[i], c.Now())
	}
	return ts
}

func admittedCount(t *testing.T, r *Room, ts []Ticket, now time.Time) int {
	t.Helper()
	n := 0
	for i, tk := range ts {
		ok, _, _ := r.Check(tk, now)
		if ok {
			if i != n {
				t.Fatalf("ticket %d admitted while ticket %d (earlier) waits", i, n)
			}
			n++
		}
	}
	return n
}

func TestAdmitExactlyN(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	ts := queue(r, c, 100)
	if got := admittedCount(t, r, ts, c.Now()); got != 0 {
		t.Fatalf("%d admitted before any Admit", got)
	}
	if s := r.Stats(c.Now()); s.Waiting != 100 {
		t.Errorf("Waiting = %d, want 100", s.Waiting)
	}
	want := 0
	for _, n := range []int{1, 1, 5, 10, 3, 30} {
		r.Admit(n)
		want += n
		if got := admittedCount(t, r, ts, c.Now()); got != want {
			t.Fatalf("after admitting %d in total: %d admitted", want, got)
		}
	}
	// Admitting more than are waiting lets everyone in; the surplus is not
	// banked, so a newcomer still waits for the next Admit.
	r.Admit(1000)
	if got := admittedCount(t, r, ts, c.Now()); got != len(ts) {
		t.Fatalf("after Admit(1000): %d of %d admitted", got, len(ts))
	}
	c.Advance(WarmUp) // (warm-up did not matter: everyone waiting was counted)
	late := r.Refresh(r.Issue(c.Now()), c.Now())
	if ok, pos, _ := r.Check(late, c.Now()); ok || pos != 0 {
		t.Errorf("newcomer after drain: admitted=%v position=%d", ok, pos)
	}
	r.Admit(1)
	if ok, _, _ := r.Check(late, c.Now()); !ok {
		t.Error("newcomer not admitted by the next Admit")
	}
}

func TestFIFOManyTickets(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	c.Advance(WarmUp)
	// 5000 tickets at random times over a minute, several per bucket.
	ts := make([]Ticket, 5000)
	for i := range ts {
		c.Advance(time.Duration(rng.IntN(25)) * time.Millisecond)
		ts[i] = r.Issue(c.Now())
	}
	for _, i := range rng.Perm(len(ts)) {
		ts[i] = r.Refresh(ts[i], c.Now())
	}
	slices.SortStableFunc(ts, func(a, b Ticket) int { return a.Arrival.Compare(b.Arrival) })
	total := 0
	prev := 0
	for total < 2*len(ts) {
		n := 1 + rng.IntN(200)
		r.Admit(n)
		total += n
		c.Advance(100 * time.Millisecond)
		got := admittedCount(t, r, ts, c.Now())
		if got < prev {
			t.Fatalf("admitted went back from %d to %d", prev, got)
		}
		// Within a bucket arrivals are assumed evenly spread, so the count
		// may be off by the few tickets sharing the watermark's bucket.
		if total < len(ts) && (got < total-25 || got > total+25) {
			t.Fatalf("admitted %d after Admit totalling %d", got, total)
		}
		prev = got
	}
	if prev != len(ts) {
		t.Fatalf("%d of %d admitted at the end", prev, len(ts))
	}
}

func TestPositionsAndETAsDecrease(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	ts := queue(r, c, 100)
	last := ts[len(ts)-1]
	_, pos, eta := r.Check(last, c.Now())
	if pos != 99 || eta >= 0 {
		t.Fatalf("before any admission: position %d eta %v, want 99 and unknown", pos, eta)
	}
	prevPos, prevETA := pos, time.Duration(-1)
	for range 9 {
		c.Advance(time.Second)
		r.Admit(10)
		ok, pos, eta := r.Check(last, c.Now())
		if ok {
			t.Fatal("last ticket admitted too early")
		}
		if pos != prevPos-10 {
			t.Fatalf("position %d after Admit(10), was %d", pos, prevPos)
		}
		if prevETA >= 0 && (eta < 0 || eta >= prevETA) {
			t.Fatalf("eta %v, was %v", eta, prevETA)
		}
		// Ten a second measured: the wait is about (position+1)/10 s.
		if eta >= 0 {
			want := time.Duration(pos+1) * time.Second / 10
			if eta < want*9/10 || eta > want*11/10 {
				t.Errorf("eta %v for position %d at 10/s", eta, pos)
			}
		}
		prevPos, prevETA = pos, eta
	}
	if prevETA < 0 {
		t.Fatal("eta still unknown after admissions")
	}
	// Earlier tickets are always nearer the front.
	for i := 90; i < len(ts); i++ {
		_, p, _ := r.Check(ts[i], c.Now())
		if p != i-90 {
			t.Errorf("ticket %d at position %d, want %d", i, p, i-90)
		}
	}
}

func TestAdmitRate(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	ts := queue(r, c, 100)
	r.SetAdmitRate(5)
	_, _, eta := r.Check(ts[99], c.Now())
	if want := 20 * time.Second; eta != want {
		t.Errorf("eta from the set rate: %v, want %v", eta, want)
	}
	c.Advance(2 * time.Second)
	if got := admittedCount(t, r, ts, c.Now()); got != 10 {
		t.Errorf("after 2 s at 5/s: %d admitted, want 10", got)
	}
	c.Advance(4 * time.Second)
	if got := admittedCount(t, r, ts, c.Now()); got != 30 {
		t.Errorf("after 6 s at 5/s: %d admitted, want 30", got)
	}
	if s := r.Stats(c.Now()); s.AdmitRate < 4.9 || s.AdmitRate > 5.1 {
		t.Errorf("measured rate %v, want 5", s.AdmitRate)
	}
	r.SetAdmitRate(0)
	c.Advance(10 * time.Second)
	if got := admittedCount(t, r, ts, c.Now()); got != 30 {
		t.Errorf("rate stopped: %d admitted, want 30", got)
	}
}

func TestAbandonedPlacesDropOut(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{}) // grace 2 min
	ts := queue(r, c, 10)
	// Nine holders leave; the last keeps refreshing every 30 s.
	stay := ts[9]
	for i := 1; i <= 3; i++ {
		c.Advance(30 * time.Second)
		stay = r.Refresh(stay, c.Now())
	}
	if _, pos, _ := r.Check(stay, c.Now()); pos != 9 {
		t.Errorf("within grace, position %d, want 9 (places are kept)", pos)
	}
	// The leavers' tickets are now expired…
	c.Advance(31 * time.Second)
	if _, err := r.Parse(ts[0].String()); err == nil {
		t.Error("abandoned ticket still valid after grace")
	}
	// …and within 4/3 of the grace period they stop counting.
	for range 2 {
		stay = r.Refresh(stay, c.Now())
		c.Advance(20 * time.Second)
	}
	if _, pos, _ := r.Check(stay, c.Now()); pos != 0 {
		t.Errorf("after the others' grace ran out, position %d, want 0", pos)
	}
	if s := r.Stats(c.Now()); s.Waiting != 1 {
		t.Errorf("Waiting = %d, want 1", s.Waiting)
	}
	// Admit(1) is now enough for the one who stayed.
	r.Admit(1)
	if ok, _, _ := r.Check(stay, c.Now()); !ok {
		t.Error("remaining holder not admitted by Admit(1)")
	}
}

func TestUncountedTicketsDoNotSlowTheQueue(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	c.Advance(WarmUp)
	// A cookie-less flood: 10,000 tickets issued, none ever comes back.
	first := r.Issue(c.Now())
	for range 10000 {
		r.Issue(c.Now())
	}
	c.Advance(time.Second)
	me := r.Refresh(r.Issue(c.Now()), c.Now())
	first = r.Refresh(first, c.Now())
	if _, pos, _ := r.Check(me, c.Now()); pos != 1 {
		t.Errorf("position behind a flood: %d, want 1", pos)
	}
	r.Admit(2)
	if ok, _, _ := r.Check(me, c.Now()); !ok {
		t.Error("not admitted after Admit(2)")
	}
}

func TestRestartKeepsOrder(t *testing.T) {
	c := &clock{t: t0}
	r1 := newRoom(t, testKey, c, Config{})
	ts := queue(r1, c, 50)
	r1.Admit(10) // tickets 0–9 admitted, but their holders have no pass yet

	// The process restarts five seconds later.
	c.Advance(5 * time.Second)
	r2 := newRoom(t, testKey, c, Config{})
	for i := range ts {
		var err error
		if ts[i], err = r2.Parse(ts[i].String()); err != nil {
			t.Fatalf("ticket %d after restart: %v", i, err)
		}
	}
	// Holders come back in any order; the first half has come back when
	// the controller frees many slots during the warm-up.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, i := range rng.Perm(25) {
		c.Advance(time.Millisecond)
		ts[i] = r2.Refresh(ts[i], c.Now())
	}
	if got := admittedCount(t, r2, ts, c.Now()); got != 0 {
		t.Fatalf("%d admitted by the restart itself", got)
	}
	for i := range 25 {
		if _, pos, _ := r2.Check(ts[i], c.Now()); pos != i {
			t.Errorf("ticket %d at position %d after restart", i, pos)
		}
	}
	r2.Admit(1)
	if got := admittedCount(t, r2, ts, c.Now()); got != 1 {
		t.Errorf("Admit(1) after restart let %d in", got)
	}
	r2.Admit(1000)
	if got := admittedCount(t, r2, ts, c.Now()); got != 25 {
		t.Errorf("during warm-up, Admit(1000) let %d in, want the 25 counted", got)
	}
	// The second half comes back: still in order behind the first.
	for i := 25; i < 50; i++ {
		ts[i] = r2.Refresh(ts[i], c.Now())
		if _, pos, _ := r2.Check(ts[i], c.Now()); pos != i-25 {
			t.Errorf("ticket %d at position %d, want %d", i, pos, i-25)
		}
	}
	r2.Admit(5)
	if got := admittedCount(t, r2, ts, c.Now()); got != 30 {
		t.Errorf("Admit(5): %d admitted, want 30", got)
	}
}

func TestWindowBoundsTheWait(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{Window: 10 * time.Minute})
	tk := queue(r, c, 1)[0]
	// Refreshed every minute, never admitted: after the window has passed
	// over its arrival the ticket is let in (it waited longest).
	for range 11 {
		c.Advance(time.Minute)
		tk = r.Refresh(tk, c.Now())
	}
	if ok, _, _ := r.Check(tk, c.Now()); !ok {
		t.Error("ticket older than the window still waiting")
	}
}

func TestMemoryIsFixed(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	if r.n != 36099 || len(r.live) != 36099 || len(r.slots) != 36099 {
		t.Fatalf("ring of %d buckets, want 36099", r.n)
	}
	// A day of traffic leaves the histogram the same size.
	for range 24 * 60 {
		c.Advance(time.Minute)
		r.Refresh(r.Issue(c.Now()), c.Now())
		r.Admit(1)
	}
	if len(r.live) != 36099 || len(r.blocks) != 191 {
		t.Errorf("histogram grew: %d buckets, %d blocks", len(r.live), len(r.blocks))
	}
}

func TestConcurrentUse(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				now := c.Advance(time.Millisecond)
				tk := r.Refresh(r.Issue(now), now)
				r.Check(tk, now)
				if i%50 == g {
					r.Admit(20)
					r.SetAdmitRate(float64(i))
					r.Stats(now)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkParse(b *testing.B) {
	c := &clock{t: t0}
	r := newRoom(b, testKey, c, Config{})
	s := r.Issue(c.Now()).String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck measures Check against a full hour of arrivals (36,000
// buckets, 100,000 live tickets) for a ticket at the back of the queue.
func BenchmarkCheck(b *testing.B) {
	c := &clock{t: t0}
	r := newRoom(b, testKey, c, Config{Grace: 2 * time.Hour})
	var tk Ticket
	for range 100000 {
		now := c.Advance(36 * time.Millisecond)
		tk = r.Refresh(r.Issue(now), now)
	}
	now := c.Now()
	b.ReportAllocs()
	for b.Loop() {
		if ok, pos, _ := r.Check(tk, now); ok || pos < 99000 {
			b.Fatal(ok, pos)
		}
	}
}

func BenchmarkRefresh(b *testing.B) {
	c := &clock{t: t0}
	r := newRoom(b, testKey, c, Config{})
	tk := r.Issue(c.Now())
	now := c.Now()
	b.ReportAllocs()
	for b.Loop() {
		tk = r.Refresh(tk, now)
	}
}

func TestSumMatchesNaive(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{Window: 10 * time.Minute}) // 6006 buckets, blocks of 77
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range r.live {
		v := int32(rng.IntN(5))
		r.live[i] = v
		r.blocks[int64(i)/r.blk] += int64(v)
	}
	for range 2000 {
		lo := r.head - r.n + 1 + rng.Int64N(r.n)
		hi := lo + rng.Int64N(r.head-lo+1)
		var want int64
		for b := lo; b <= hi; b++ {
			want += int64(r.live[b%r.n])
		}
		if got := r.sum(lo, hi); got != float64(want) {
			t.Fatalf("sum(%d, %d) = %v, want %d", lo, hi, got, want)
		}
	}
}

// BenchmarkNew reports, as B/op, the fixed memory of a room with the
// default configuration.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(testKey, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Before it has measured any admission, the room estimates the wait from
// the rate its controller intends; once it measures, the measure wins.
func TestETAHintBeforeAnyAdmission(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	ts := queue(r, c, 40)
	last := ts[len(ts)-1]
	if _, _, eta := r.Check(last, c.Now()); eta >= 0 {
		t.Fatalf("eta %v with no hint and no admission", eta)
	}
	r.SetETAHint(5)
	if _, pos, eta := r.Check(last, c.Now()); eta != time.Duration(pos+1)*time.Second/5 {
		t.Errorf("position %d at a hinted 5/s: eta %v", pos, eta)
	}
	r.SetETAHint(0)
	if _, _, eta := r.Check(last, c.Now()); eta >= 0 {
		t.Errorf("eta %v after the hint was withdrawn", eta)
	}
	r.SetETAHint(1)
	c.Advance(time.Second)
	r.Admit(10)
	c.Advance(time.Second)
	r.Admit(10)
	ok, pos, eta := r.Check(last, c.Now())
	if ok || pos != 19 || eta <= 0 || eta >= time.Duration(pos+1)*time.Second/2 {
		t.Errorf("measured about 10/s, hint 1/s: admitted %v, eta %v for position %d", ok, eta, pos)
	}
}
