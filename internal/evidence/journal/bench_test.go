package journal

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// benchRecord is a 300-byte JSON line like those the shield writes.
func benchRecord() []byte {
	r := fmt.Appendf(nil, `{"t":"2026-03-14T09:26:53.589793238Z","event":"rate_limited","ip":"203.0.113.77","prefix":"203.0.113.0/24","path":"/login","rps":12873,"action":"challenge","pad":"`)
	r = append(r, bytes.Repeat([]byte{'x'}, 300-len(r)-2)...)
	return append(r, `"}`...)
}

// BenchmarkAppend measures 64 concurrent appenders of single records, the
// shield's pattern under attack.
func BenchmarkAppend(b *testing.B) {
	j := mustOpen(b, b.TempDir())
	rec := benchRecord()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := j.Append(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(j.commits.Load()), "recs/commit")
}

// BenchmarkAppendBatch100 measures one goroutine appending batches of 100.
func BenchmarkAppendBatch100(b *testing.B) {
	j := mustOpen(b, b.TempDir())
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = benchRecord()
	}
	b.SetBytes(int64(len(batch[0])))
	b.ResetTimer()
	for done := 0; done < b.N; done += len(batch) {
		if _, err := j.Append(batch[:min(len(batch), b.N-done)]...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
