package record

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"preau/internal/shield/detect"
)

// BenchmarkRequestNoEpisode is the cost the shield pays on every request
// while nothing is happening.
func BenchmarkRequestNoEpisode(b *testing.B) {
	r := mustOpen(b, b.TempDir(), newClock(t0))
	s := RequestSample{Time: t0, Addr: netip.MustParseAddr("192.0.2.1"), Method: "GET", Path: "/homework",
		Status: 200, Agent: "Mozilla/5.0", Class: "member", Outcome: "admitted"}
	b.ReportAllocs()
	b.ResetTimer() // Open (a journal, fsyncs) is not what is measured
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Request(s)
		}
	})
}

// BenchmarkRequestInEpisode is the cost during an attack from 4096 addresses
// over 8 paths, sampling 1 in 20 into the queue (no writer runs: the queue
// fills, and the rest of the samples are dropped and counted, as they would
// be if the disk could not keep up).
func BenchmarkRequestInEpisode(b *testing.B) {
	r := mustOpen(b, b.TempDir(), newClock(t0), func(c *Config) { c.QueueSize = 1 << 14 })
	r.Emit(detect.Event{Kind: "episode_start", Time: t0, Episode: &detect.Episode{ID: "ep-bench", Start: t0}})
	paths := []string{"/", "/login", "/api/login", "/homework", "/search?q=x", "/static/app.css", "/favicon.ico", "/messages"}
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer() // Open (a journal, fsyncs) is not what is measured
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) * 7919
		for pb.Next() {
			i++
			r.Request(RequestSample{Time: t0.Add(time.Duration(i%50) * time.Second), Addr: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8 & 15), byte(i)}),
				Port: 40000, Method: "GET", Path: paths[i%8], Status: 403, Bytes: 0, Agent: "python-requests/2.31", Class: "anonymous", Outcome: "blocked"})
		}
	})
}
