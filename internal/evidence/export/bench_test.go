package export

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// buildMillion records an episode of n request records (one segment of the
// requests stream), with a decision summary per second and per-minute
// aggregates for 5,000 source addresses.
func buildMillion(tb testing.TB, n int) (dir, id string) {
	tb.Helper()
	ev := newEvidence(tb)
	id = "ep-bench"
	start := time.Date(2025, 6, 10, 8, 0, 0, 0, time.UTC)
	const perSecond = 2000
	const nAddrs = 5000
	secs := (n + perSecond - 1) / perSecond
	end := start.Add(time.Duration(secs) * time.Second)
	addr := func(i int) string { return fmt.Sprintf("45.%d.%d.%d", 80+i/65536%100, i/256%256, i%256) }
	ev.add(StreamEvents, kindClock, start.Add(-time.Minute), map[string]any{"source": "chrony", "synchronized": true})
	ev.add(StreamEvents, kindEpisodeStart, start, map[string]any{"episode": episodeObj(id, start, time.Time{}, 0, 0, 1, nil, nil)})

	rj := ev.journal(StreamRequests, start.Format("2006-01"))
	batch := make([][]byte, 0, 10000)
	flush := func() {
		if _, err := rj.Append(batch...); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * time.Second / perSecond)
		batch = append(batch, fmt.Appendf(nil, `{"v":1,"kind":"request","time":%q,"episode":%q,"addr":%q,"port":%d,"method":"GET","path":"/index.php?page=%d","status":429,"bytes":312,"agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36","class":"anonymous","outcome":"limited"}`,
			ts(t), id, addr(i%nAddrs), 1024+i%60000, i%1000))
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	for s := start; s.Before(end); s = s.Add(time.Second) {
		ev.add(StreamEvents, kindDecisionSummary, s.Add(time.Second), map[string]any{"episode": id, "since": ts(s), "until": ts(s.Add(time.Second)),
			"requests": perSecond, "rate": float64(perSecond), "outcomes": map[string]int64{"admitted": 100, "limited": perSecond - 100},
			"classes": map[string]int64{"anonymous": perSecond - 50, "member": 50}})
	}
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		for a := 0; a < nAddrs; a++ {
			ev.add(StreamSources, kindSourceMinute, m.Add(time.Minute), map[string]any{"minute": ts(m), "episode": id, "addr": addr(a),
				"requests": 24, "first": ts(m), "last": ts(m.Add(59 * time.Second))})
		}
	}
	ev.add(StreamEvents, kindEpisodeEnd, end, map[string]any{"episode": episodeObj(id, start, end, perSecond, int64(n), 3, nil, nil)})
	ev.close()
	return ev.dir, id
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
