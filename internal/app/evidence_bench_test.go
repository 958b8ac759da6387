package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"preau/internal/config"
	"preau/internal/demo"
	"preau/internal/shield"
	"preau/internal/shield/detect"
)

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFloodRecording is what the evidence recorder costs the shield
// during an attack: the whole handler (shield, application, recorder) fed
// a flood of anonymous page loads from 10,000 rotating addresses of
// 127.42.0.0/16, with one request in ten a signed-in pupil's homework
// list, while an episode is open. The flood's network is on the partners'
// blocklist, so that every flood request is refused the same way whatever
// the clock says (rate limits would let more through in a slower run, and
// a request that reaches the application costs ten refusals). "off" is
// the same without the recorder (--evidence=false); cpu-ns/op is the CPU
// time of the whole process per request.
//
//	go test -run '^$' -bench FloodRecording -benchtime 5s -count 5 ./internal/app/
func BenchmarkFloodRecording(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) { benchFlood(b, on) })
	}
}

func benchFlood(b *testing.B, evidence bool) {
	cfg := &config.Config{Addr: "127.0.0.1:0", BaseURL: "http://127.0.0.1", Timezone: "Europe/Paris", MaxUploadBytes: 20 << 20,
		MinBodyRate: 512, MaxFiles: 10, SessionIdle: 12 * time.Hour, CacheTTL: 10 * time.Second, LogLevel: "error", LogFormat: "text",
		Shield: true, Evidence: evidence, EvidenceSampleEvery: 20, MaxConnsPerAddr: 256, MaxConnsPerPrefix: 1024,
		DetectWarmup: 30 * time.Second, DetectExitAfter: 30 * time.Second, TAXIITLP: "amber", BlocklistTTL: time.Hour,
		DataDir: b.TempDir()}
	cfg.Argon2.Memory, cfg.Argon2.Time, cfg.Argon2.Threads, cfg.Argon2.SaltLen, cfg.Argon2.KeyLen = 64, 1, 1, 16, 32
	a, err := Open(b.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	if _, err := demo.Seed(context.Background(), a.Store, a.Auth.Hasher(), demo.Size{Classes: 4, Students: 10}, time.Now(), cfg.Location()); err != nil {
		b.Fatal(err)
	}
	var tokens []string
	for c := 1; c <= 4; c++ {
		for s := 2; s <= 10; s++ {
			u, _, err := a.Store.UserByLogin(b.Context(), fmt.Sprintf("e%d.%d", c, s))
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := a.Auth.Open(b.Context(), u, "bench")
			if err != nil {
				b.Fatal(err)
			}
			tokens = append(tokens, tok)
		}
	}
	if err := a.Blocklist.Add([]shield.BlockEntry{{ID: "bench", Prefix: netip.MustParsePrefix("127.42.0.0/16"), Expires: time.Now().Add(time.Hour),
		Partner: "bench", Imported: time.Now(), Confidence: 100}}, time.Now()); err != nil {
		b.Fatal(err)
	}
	// The episode the recorder (and the request wrapper) see: the same
	// event the detector emits when a flood starts.
	now := time.Now().UTC()
	a.evidence.Emit(detect.Event{Kind: "episode_start", Time: now, Episode: &detect.Episode{ID: "ep-bench", Start: now}})

	var next atomic.Uint64
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			var req = httptest.NewRequest("GET", "/login", nil)
			if i%10 == 0 {
				req = httptest.NewRequest("GET", "/api/v1/homework", nil)
				req.Header.Set("Authorization", "Bearer "+tokens[int(i/10)%len(tokens)])
			}
			req.RemoteAddr = fmt.Sprintf("127.42.%d.%d:%d", i%10000/250, i%250+1, 30000+i%20000)
			req.Header.Set("User-Agent", "flood/1.0")
			a.Handler.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.StopTimer()
	// CPU time per request, all goroutines (the recorder's writer and the
	// garbage collector included): unlike ns/op, it does not move when
	// other processes take the machine's cores.
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if evidence {
		st := a.Recorder.Stats()
		b.ReportMetric(float64(st.Streams["requests"].Appended), "sampled-appended")
		b.ReportMetric(float64(st.Streams["requests"].Dropped), "sampled-dropped")
	}
}
