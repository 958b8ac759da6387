package detect

import (
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// benchRequests is a mix: a third from a few heavy addresses, the rest
// spread over 65,536 addresses (a rotation flood), over 50 paths.
func benchRequests(n int) []Request {
	r := rand.New(rand.NewPCG(1, 2))
	uas := []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.93 Safari/537.36", "python-requests/2.25.1", "curl/7.68.0"}
	reqs := make([]Request, n)
	for i := range reqs {
		var a netip.Addr
		if i%3 == 0 {
			a = netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(4))})
		} else {
			a = netip.AddrFrom4([4]byte{172, 16, byte(r.IntN(256)), byte(r.IntN(256))})
		}
		reqs[i] = Request{
			Time:      t0,
			Addr:      a,
			Path:      legitPaths[r.IntN(len(legitPaths))] + "/" + string(rune('a'+r.IntN(6))),
			UserAgent: uas[r.IntN(len(uas))],
			Class:     "anonymous",
			Outcome:   "admitted",
		}
	}
	return reqs
}

func benchDetector() *Detector {
	c := testConfig(nil)
	d := New(c)
	d.Tick(t0)
	return d
}

func BenchmarkObserve(b *testing.B) {
	d := benchDetector()
	reqs := benchRequests(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Observe(reqs[i&4095])
		i++
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	d := benchDetector()
	reqs := benchRequests(4096)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1) * 1000)
		for pb.Next() {
			d.Observe(reqs[i&4095])
			i++
		}
	})
}

// BenchmarkObserveParallelOneAddr is the worst case for the shards: every
// request from one address (one /16).
func BenchmarkObserveParallelOneAddr(b *testing.B) {
	d := benchDetector()
	req := benchRequests(1)[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.Observe(req)
		}
	})
}

// BenchmarkTick closes one window holding 2,000 requests over thousands of
// keys (the Observe calls are not timed).
func BenchmarkTick(b *testing.B) {
	c := testConfig(nil)
	d := New(c)
	reqs := benchRequests(2000)
	now := t0
	d.Tick(now)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for j := range reqs {
			reqs[j].Time = now
			d.Observe(reqs[j])
		}
		now = now.Add(time.Second)
		b.StartTimer()
		d.Tick(now)
	}
}

// BenchmarkTickEpisode is Tick while an episode is open and the ladder is
// at BlockTopPrefixes (events, episode summaries, block list).
func BenchmarkTickEpisode(b *testing.B) {
	c := testConfig(discard{})
	c.SummaryEvery = time.Hour
	d := New(c)
	s := &sim{d: d, now: t0}
	s.run(30, legit(100, 1))
	reqs := benchRequests(2000)
	for range 20 {
		for j := range reqs {
			reqs[j].Time = s.now
			d.Observe(reqs[j])
		}
		s.now = s.now.Add(time.Second)
		d.Tick(s.now)
	}
	if d.Level() != BlockTopPrefixes {
		b.Fatalf("level %v", d.Level())
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for j := range reqs {
			reqs[j].Time = s.now
			d.Observe(reqs[j])
		}
		s.now = s.now.Add(time.Second)
		b.StartTimer()
		d.Tick(s.now)
	}
}

type discard struct{}

func (discard) Emit(Event) {}
