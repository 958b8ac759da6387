package backoff

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

var testConfig = Config{
	Free:    3,
	Base:    time.Second,
	Max:     time.Minute,
	Forget:  time.Hour,
	MaxKeys: 1000,
}

// failN records n failures on key, all at time now.
func failN(l *Limiter, key string, n int, now time.Time) {
	for range n {
		l.Fail(key, now)
	}
}

func TestFreeFailures(t *testing.T) {
	l := New(testConfig)
	if w := l.Check("acct:alice", t0); w != 0 {
		t.Fatalf("unknown key: wait %v, want 0", w)
	}
	for i := 1; i <= testConfig.Free; i++ {
		l.Fail("acct:alice", t0)
		if w := l.Check("acct:alice", t0); w != 0 {
			t.Fatalf("after %d failures (free %d): wait %v, want 0", i, testConfig.Free, w)
		}
	}
	l.Fail("acct:alice", t0)
	if w := l.Check("acct:alice", t0); w != time.Second {
		t.Fatalf("after Free+1 failures: wait %v, want %v", w, time.Second)
	}
	if w := l.Check("acct:bob", t0); w != 0 {
		t.Errorf("other key affected: wait %v", w)
	}
}

func TestZeroFree(t *testing.T) {
	c := testConfig
	c.Free = 0
	l := New(c)
	l.Fail("k", t0)
	if w := l.Check("k", t0); w != time.Second {
		t.Fatalf("Free=0, one failure: wait %v, want %v", w, time.Second)
	}
}

func TestDoublingAndCap(t *testing.T) {
	l := New(testConfig)
	now := t0
	failN(l, "k", testConfig.Free, now)
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		w *= time.Second
		l.Fail("k", now)
		if got := l.Check("k", now); got != w {
			t.Fatalf("failure %d beyond free: wait %v, want %v", i+1, got, w)
		}
		// The wait shrinks as time passes and ends exactly on time.
		if got := l.Check("k", now.Add(w/2)); got != w-w/2 {
			t.Fatalf("half-way: wait %v, want %v", got, w-w/2)
		}
		now = now.Add(w)
		if got := l.Check("k", now); got != 0 {
			t.Fatalf("after waiting %v: wait %v, want 0", w, got)
		}
	}
}

func TestNoOverflowAfterManyFailures(t *testing.T) {
	c := testConfig
	c.Base = time.Nanosecond
	c.Max = 1<<63 - 1
	c.Forget = c.Max
	l := New(c)
	failN(l, "k", 10_000, t0)
	if w := l.Check("k", t0); w <= 0 {
		t.Fatalf("after 10000 failures: wait %v, want a large positive delay", w)
	}
}

func TestForgetAfterIdle(t *testing.T) {
	l := New(testConfig)
	failN(l, "k", testConfig.Free+5, t0) // blocked for 16s

	// Just before Forget the failures still count: one more failure blocks
	// for 32s, so the count was not reset.
	almost := t0.Add(testConfig.Forget - time.Nanosecond)
	l.Fail("k", almost)
	if w := l.Check("k", almost); w != 32*time.Second {
		t.Fatalf("before Forget: wait %v, want 32s", w)
	}

	// A full Forget after the last failure, the key is gone entirely.
	later := almost.Add(testConfig.Forget)
	if w := l.Check("k", later); w != 0 {
		t.Fatalf("after Forget: wait %v, want 0", w)
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len after Forget = %d, want 0", n)
	}
	// And the next failures are free again.
	failN(l, "k", testConfig.Free, later)
	if w := l.Check("k", later); w != 0 {
		t.Errorf("free failures after Forget: wait %v, want 0", w)
	}
}

func TestFailOnStaleEntryStartsAfresh(t *testing.T) {
	l := New(testConfig)
	failN(l, "k", testConfig.Free+5, t0)
	// Fail (not Check) is the first to see the stale entry.
	later := t0.Add(testConfig.Forget)
	l.Fail("k", later)
	if w := l.Check("k", later); w != 0 {
		t.Fatalf("stale failures still counted: wait %v", w)
	}
}

func TestSuccessResets(t *testing.T) {
	l := New(testConfig)
	failN(l, "k", testConfig.Free+3, t0)
	if w := l.Check("k", t0); w == 0 {
		t.Fatal("expected a delay before Success")
	}
	l.Success("k")
	if w := l.Check("k", t0); w != 0 {
		t.Fatalf("after Success: wait %v, want 0", w)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len after Success = %d, want 0", n)
	}
	failN(l, "k", testConfig.Free, t0)
	if w := l.Check("k", t0); w != 0 {
		t.Errorf("free failures not restored after Success: wait %v", w)
	}
	l.Success("never-seen") // must be harmless
}

func TestOutOfOrderTimes(t *testing.T) {
	l := New(testConfig)
	failN(l, "k", testConfig.Free+1, t0.Add(time.Second))
	// A concurrent request that read the clock earlier records its failure
	// late; the last failure time must not move backwards.
	l.Fail("k", t0)
	if w := l.Check("k", t0.Add(time.Second)); w != 2*time.Second {
		t.Fatalf("wait %v, want 2s measured from the later failure", w)
	}
}

func TestCheckDoesNotAddKeys(t *testing.T) {
	l := New(testConfig)
	for i := range 5000 {
		l.Check(fmt.Sprint("probe", i), t0)
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("Len after Checks = %d, want 0", n)
	}
}

func TestBoundHoldsUnderKeyRotation(t *testing.T) {
	l := New(testConfig) // MaxKeys 1000
	now := t0
	for i := range 100_000 {
		l.Fail(fmt.Sprintf("addr:%d.%d.%d.0/24", i>>16, i>>8&0xff, i&0xff), now)
		now = now.Add(time.Millisecond) // all well within Forget
		if n := l.Len(); n > testConfig.MaxKeys {
			t.Fatalf("after %d keys: Len = %d > MaxKeys %d", i+1, n, testConfig.MaxKeys)
		}
	}
	if n := l.Len(); n != testConfig.MaxKeys {
		t.Errorf("Len = %d, want exactly MaxKeys %d", n, testConfig.MaxKeys)
	}
}

func TestEvictionOrder(t *testing.T) {
	c := testConfig
	c.MaxKeys = 3
	c.Free = 0
	l := New(c)
	l.Fail("a", t0)
	l.Fail("b", t0.Add(1*time.Second))
	l.Fail("c", t0.Add(2*time.Second))
	l.Fail("a", t0.Add(3*time.Second)) // a is now the most recent failure
	l.Fail("d", t0.Add(4*time.Second)) // full: b, the oldest failure, goes
	for key, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := tracked(l, key); got != want {
			t.Errorf("key %q tracked = %v, want %v", key, got, want)
		}
	}
}

func tracked(l *Limiter, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.entries[sha256.Sum256([]byte(key))]
	return ok
}

func TestExpiredEvictedFirst(t *testing.T) {
	c := testConfig
	c.MaxKeys = 3
	l := New(c)
	l.Fail("old1", t0)
	l.Fail("old2", t0)
	l.Fail("fresh", t0.Add(2*time.Hour))
	// Both old entries are expired by now and are dropped, not just one.
	l.Fail("new", t0.Add(2*time.Hour))
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2 (expired entries pruned)", n)
	}
	if !tracked(l, "fresh") || !tracked(l, "new") {
		t.Fatal("a live entry was evicted while expired ones were available")
	}
}

func TestLongKeysAreBounded(t *testing.T) {
	l := New(testConfig)
	long := strings.Repeat("x", 1<<20)
	failN(l, "acct:"+long, testConfig.Free+1, t0)
	if w := l.Check("acct:"+long, t0); w != time.Second {
		t.Fatalf("long key: wait %v, want 1s", w)
	}
	// Same prefix, different key: must not collide.
	if w := l.Check("acct:"+long[1:], t0); w != 0 {
		t.Fatalf("different long key: wait %v, want 0", w)
	}
}

func TestInvalidConfig(t *testing.T) {
	bad := []Config{
		{},
		{Free: -1, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxKeys: 1},
		{Free: 1, Base: 0, Max: time.Minute, Forget: time.Hour, MaxKeys: 1},
		{Free: 1, Base: time.Minute, Max: time.Second, Forget: time.Hour, MaxKeys: 1},
		{Free: 1, Base: time.Second, Max: time.Minute, Forget: time.Second, MaxKeys: 1},
		{Free: 1, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxKeys: 0},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", c)
		}
	}
	if err := testConfig.Validate(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New with invalid config did not panic")
		}
	}()
	New(Config{})
}

func TestConcurrentUse(t *testing.T) {
	c := testConfig
	c.MaxKeys = 50
	l := New(c)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			now := t0
			for i := range 2000 {
				key := fmt.Sprint("acct:", (g*7+i)%100) // keys shared between goroutines
				now = now.Add(time.Second)
				switch i % 5 {
				case 0, 1, 2:
					l.Fail(key, now)
				case 3:
					l.Check(key, now)
				case 4:
					l.Success(key)
				}
				if n := l.Len(); n > c.MaxKeys {
					t.Errorf("Len = %d > MaxKeys %d", n, c.MaxKeys)
					return
				}
			}
		})
	}
	wg.Wait()
	// The list and the map must still agree after all that.
	if l.byLast.Len() != len(l.entries) {
		t.Fatalf("list has %d entries, map %d", l.byLast.Len(), len(l.entries))
	}
}

func BenchmarkFailRotatingKeys(b *testing.B) {
	l := New(Config{Free: 3, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxKeys: 10_000})
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprint("addr:", i)
	}
	now := t0
	i := 0
	for b.Loop() {
		l.Fail(keys[i%len(keys)], now)
		i++
	}
}
