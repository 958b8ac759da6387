package export

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"preau/internal/shield/detect"
)

// buildMillion records, with the real recorder running as in Préau, an
// episode of n requests at 2,000 a second from 5,000 source addresses, all
// sampled (one request record each), with a decision summary per second
// and the recorder's per-minute aggregates.
func buildMillion(tb testing.TB, n int) (dir, id string) {
	tb.Helper()
	dir = filepath.Join(tb.TempDir(), "evidence")
	start := time.Date(2025, 6, 10, 8, 0, 0, 0, time.UTC)
	id = "ep-20250610T080000Z-1"
	const perSecond = 2000
	const nAddrs = 5000
	clock := &fakeClock{t: start.Add(-time.Minute)}
	x := startRecording(tb, dir, clock, true)
	ep := detect.Episode{ID: id, Start: start, PeakRate: perSecond, Baseline: 20, MaxLevel: detect.Normal}
	x.emit(episodeStart(ep, perSecond))
	addr := func(i int) string { return fmt.Sprintf("45.%d.%d.%d", 80+i/65536%100, i/256%256, i%256) }
	hits := make([]hit, perSecond)
	s := start
	for sent := 0; sent < n; sent += perSecond {
		for k := range hits {
			outcome := "limited"
			if k%20 == 0 {
				outcome = "admitted"
			}
			hits[k] = hit{addr((sent + k) % nAddrs), "GET", fmt.Sprintf("/index.php?page=%d", k%1000),
				"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "anonymous", outcome, 429}
		}
		c := x.play(s, hits[:min(perSecond, n-sent)], nil)
		x.emit(summaryEvent(s, s.Add(time.Second), c, float64(c.suspect), id, nil, nil))
		s = s.Add(time.Second)
		if sent%(5*perSecond) == 0 {
			// Let the writer keep up: the queues are bounded, as in Préau.
			clock.Set(s)
			x.settle(0)
		}
	}
	clock.Set(s.Add(30 * time.Second))
	end := ep
	end.End, end.Requests = s, uint64(n)
	x.emit(episodeEnd(end, s.Add(30*time.Second), 0))
	x.settle(0)
	x.close()
	return dir, id
}

// peakHeap samples runtime.ReadMemStats until stop is closed.
func peakHeap(stop <-chan struct{}, peak *atomic.Uint64, wg *sync.WaitGroup) {
	defer wg.Done()
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak.Load() {
			peak.Store(ms.HeapAlloc)
		}
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// BenchmarkExport1M exports (with raw records) and then verifies an episode
// of one million request records, reporting seconds and peak heap:
//
//	nice -n 19 go test -run x -bench Export1M -benchtime 1x ./internal/evidence/export/
func BenchmarkExport1M(b *testing.B) {
	dir, id := buildMillion(b, 1_000_000)
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "package")
		runtime.GC()
		var peak atomic.Uint64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go peakHeap(stop, &peak, &wg)
		t0 := time.Now()
		sum, err := Export(b.Context(), Options{Dir: dir, EpisodeID: id, TLP: "amber", Out: out, Raw: true, Logger: quiet})
		exportTime := time.Since(t0)
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		exportPeak := peak.Load()

		runtime.GC()
		peak.Store(0)
		stop = make(chan struct{})
		wg.Add(1)
		go peakHeap(stop, &peak, &wg)
		t0 = time.Now()
		probs, err := Verify(out)
		verifyTime := time.Since(t0)
		close(stop)
		wg.Wait()
		if err != nil || len(probs) > 0 {
			b.Fatal(err, probs)
		}
		b.ReportMetric(exportTime.Seconds(), "export-s")
		b.ReportMetric(float64(exportPeak)/(1<<20), "export-peak-heap-MiB")
		b.ReportMetric(verifyTime.Seconds(), "verify-s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "verify-peak-heap-MiB")
		b.ReportMetric(float64(sum.Entries[StreamRequests]), "request-entries")
		b.ReportMetric(float64(sum.Runs), "proof-runs")
	}
}
