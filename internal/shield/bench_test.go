package shield

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func benchShield(b *testing.B) *Shield {
	b.Helper()
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens, RateKeys: 1 << 18}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkOverhead compares a bare handler with the same handler behind
// the shield, for a signed-in student (the request every pupil makes) and
// for an anonymous visitor: the difference is the shield's cost per
// request on an idle path. Requests are built beforehand so that only the
// handlers are measured.
func BenchmarkOverhead(b *testing.B) {
	for _, c := range []struct {
		name   string
		shield bool
		token  string
	}{{"bare", false, ""}, {"shield/member", true, "student-token"}, {"shield/anonymous", true, ""}} {
		b.Run(c.name, func(b *testing.B) {
			var h http.Handler = okHandler
			if c.shield {
				h = benchShield(b).Handler(okHandler)
			}
			// Anonymous visitors come from many /24s so the rate limits
			// never trip: this measures the idle path.
			reqs := make([]*http.Request, 1<<14)
			for i := range reqs {
				req := httptest.NewRequest("GET", "/api/v1/homework", nil)
				req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", i&255, i>>8&255, 1+i>>16&255)
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				reqs[i] = req
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := discard{}
				for pb.Next() {
					h.ServeHTTP(w, reqs[n.Add(1)&(1<<14-1)])
				}
			})
		})
	}
}

// TestMemoryUnderAMillionRotatingSources sends one request from each of
// 1,000,000 distinct addresses (100,000 under the race detector) and checks
// the heap the shield holds stays bounded.
func TestMemoryUnderAMillionRotatingSources(t *testing.T) {
	n := 1_000_000
	if raceEnabled || testing.Short() {
		n = 100_000
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(okHandler)
	req := httptest.NewRequest("GET", "/", nil)
	for i := range n {
		req.RemoteAddr = fmt.Sprintf("%d.%d.%d.%d:1", 11+i>>24&127, i>>16&255, i>>8&255, i&255)
		h.ServeHTTP(discard{}, req)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(h)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use: %d MiB before the shield, %d MiB after %d sources: the shield holds %d MiB", before.HeapInuse>>20, after.HeapInuse>>20, n, grown>>20)
	if grown > 200<<20 {
		t.Errorf("the shield holds %d MiB after %d sources, bound is 200 MiB", grown>>20, n)
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
