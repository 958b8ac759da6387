package load

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func instant(context.Context, int) (int, error) { return 200, nil }

func TestOpenLoopCounts(t *testing.T) {
	cases := []struct {
		name        string
		rate        float64
		dur         time.Duration
		maxRequests int
		want        int
	}{
		{"rate×duration", 1000, 200 * time.Millisecond, 0, 200},
		{"fractional rate", 333.3, 300 * time.Millisecond, 0, 100},
		{"MaxRequests first", 1000, 10 * time.Second, 50, 50},
		{"duration first", 500, 100 * time.Millisecond, 1000, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int64
			seen := make([]atomic.Bool, c.want+2)
			r := OpenLoop{Rate: c.rate, Duration: c.dur, MaxRequests: c.maxRequests,
				Do: func(ctx context.Context, seq int) (int, error) {
					calls.Add(1)
					if seq < len(seen) {
						seen[seq].Store(true)
					}
					return 200, nil
				}}.Run(context.Background())
			if math.Abs(float64(r.Sent)-c.rate*c.dur.Seconds()) > 1 && c.maxRequests == 0 {
				t.Errorf("Sent = %d, Rate×Duration = %.1f", r.Sent, c.rate*c.dur.Seconds())
			}
			if r.Sent != c.want || int(calls.Load()) != c.want || r.Completed != c.want || r.ByStatus[200] != c.want {
				t.Errorf("Sent %d calls %d Completed %d 200s %d, want %d", r.Sent, calls.Load(), r.Completed, r.ByStatus[200], c.want)
			}
			for i := 0; i < c.want; i++ {
				if !seen[i].Load() {
					t.Fatalf("seq %d never sent", i)
				}
			}
			if r.Errors != 0 || r.Dropped != 0 || r.Latency.Count() != int64(c.want) || r.ServiceTime.Count() != int64(c.want) {
				t.Errorf("Errors %d Dropped %d latency samples %d/%d", r.Errors, r.Dropped, r.Latency.Count(), r.ServiceTime.Count())
			}
			if r.Elapsed > c.dur+30*time.Second {
				t.Errorf("Elapsed %v", r.Elapsed)
			}
		})
	}
}

// TestCoordinatedOmission models a client with one connection in front of
// a server that stalls once for 500 ms: requests due during the stall
// wait for the connection inside Do, then go out (MarkStart) and are
// answered at once. A tool measuring from the actual send (ServiceTime)
// sees one slow request in 1000; measured from the intended start
// (Latency), about half the requests waited, up to 500 ms.
func TestCoordinatedOmission(t *testing.T) {
	const stall = 500 * time.Millisecond
	var conn sync.Mutex
	r := OpenLoop{Rate: 1000, Duration: time.Second, MaxInFlight: 2000, Grace: 30 * time.Second,
		Do: func(ctx context.Context, seq int) (int, error) {
			conn.Lock()
			defer conn.Unlock()
			MarkStart(ctx)
			if seq == 200 {
				time.Sleep(stall)
			}
			return 200, nil
		}}.Run(context.Background())
	if r.Sent != 1000 || r.Completed != 1000 || r.Dropped != 0 {
		t.Fatalf("Sent %d Completed %d Dropped %d, want 1000/1000/0 (the generator must not pause during the stall)", r.Sent, r.Completed, r.Dropped)
	}
	lat, svc := r.Latency.Quantile(0.99), r.ServiceTime.Quantile(0.99)
	t.Logf("p50 latency %v service %v; p99 latency %v service %v; max latency %v service %v",
		r.Latency.Quantile(0.5), r.ServiceTime.Quantile(0.5), lat, svc, r.Latency.Max(), r.ServiceTime.Max())
	if lat < 400*time.Millisecond {
		t.Errorf("p99 from intended start = %v, want hundreds of ms (≥ 400ms)", lat)
	}
	if svc > 250*time.Millisecond {
		t.Errorf("p99 service time = %v, want small (≤ 250ms)", svc)
	}
	if r.ServiceTime.Max() < stall || r.Latency.Max() < stall {
		t.Errorf("the stalled request itself: max service %v, max latency %v, want ≥ %v", r.ServiceTime.Max(), r.Latency.Max(), stall)
	}
	// Hundreds of requests waited behind the stall, not one.
	var slow Histogram
	slow.Merge(r.Latency)
	if frac := fractionAbove(&slow, 100*time.Millisecond); frac < 0.2 {
		t.Errorf("only %.1f%% of requests above 100ms from intended start, want ≥ 20%%", 100*frac)
	}
}

// fractionAbove returns the fraction of samples whose bucket lies above d.
func fractionAbove(h *Histogram, d time.Duration) float64 {
	var n uint64
	for i, c := range h.counts {
		if bucketUpper(i) > int64(d) {
			n += c
		}
	}
	return float64(n) / float64(h.count)
}

func TestOpenLoopDropsAtMaxInFlight(t *testing.T) {
	r := OpenLoop{Rate: 1000, Duration: 10 * time.Second, MaxRequests: 50, MaxInFlight: 5, Grace: 50 * time.Millisecond,
		Do: func(ctx context.Context, seq int) (int, error) {
			<-ctx.Done() // never answers: cancelled after the grace
			return 0, ctx.Err()
		}}.Run(context.Background())
	if r.Sent != 5 || r.Dropped != 45 || r.Errors != 5 || r.Completed != 0 {
		t.Fatalf("Sent %d Dropped %d Errors %d Completed %d, want 5/45/5/0", r.Sent, r.Dropped, r.Errors, r.Completed)
	}
	if r.Latency.Count() != 5 {
		t.Errorf("latency samples %d, want 5 (dropped requests are not samples)", r.Latency.Count())
	}
}

func TestOpenLoopStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r := OpenLoop{Rate: 100, Duration: time.Hour,
		Do: func(ctx context.Context, seq int) (int, error) {
			if seq == 0 {
				<-ctx.Done() // in flight at cancellation
				return 0, ctx.Err()
			}
			return 200, nil
		}}.Run(ctx)
	if r.Sent < 1 || r.Sent > 1000 || r.Errors != 1 || r.Elapsed > 30*time.Second {
		t.Fatalf("Sent %d Errors %d Elapsed %v", r.Sent, r.Errors, r.Elapsed)
	}
}

func TestOpenLoopInvalid(t *testing.T) {
	for _, o := range []OpenLoop{
		{Rate: 0, Duration: time.Second, Do: instant},
		{Rate: 10, Duration: 0, Do: instant},
		{Rate: math.Inf(1), Duration: time.Second, Do: instant},
		{Rate: 10, Duration: time.Second},
		{Rate: 10, Duration: time.Second, MaxInFlight: -1, Do: instant},
	} {
		if o.Validate() == nil {
			t.Errorf("%+v: Validate accepted it", o)
		}
		if r := o.Run(context.Background()); r.Sent != 0 || r.Latency == nil {
			t.Errorf("%+v: sent %d", o, r.Sent)
		}
	}
}

func TestOpenLoopHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	r := OpenLoop{Rate: 200, Duration: time.Second, Grace: 20 * time.Second,
		Do: func(ctx context.Context, seq int) (int, error) {
			trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { MarkStart(ctx) }}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", srv.URL+"/", nil)
			if err != nil {
				return 0, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return 0, err
			}
			return resp.StatusCode, nil
		}}.Run(context.Background())
	t.Logf("sent %d completed %d p50 %v p99 %v elapsed %v", r.Sent, r.Completed, r.Latency.Quantile(0.5), r.Latency.Quantile(0.99), r.Elapsed)
	if r.Sent != 200 || r.Completed != 200 || r.ByStatus[http.StatusOK] != 200 || r.Errors != 0 || r.Dropped != 0 {
		t.Fatalf("Sent %d Completed %d 200s %d Errors %d Dropped %d, want 200 sent and answered", r.Sent, r.Completed, r.ByStatus[200], r.Errors, r.Dropped)
	}
}

func TestMarkStartOutsideRunIsHarmless(t *testing.T) {
	MarkStart(context.Background())
}
