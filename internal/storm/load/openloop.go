package load

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used by [OpenLoop] when the corresponding field is zero.
const (
	DefaultMaxInFlight = 1000
	DefaultGrace       = 5 * time.Second
)

// OpenLoop sends requests at a constant rate on a schedule fixed in
// advance, without coordinated omission (see the package documentation).
//
// Request i (from 0) is due at t0 + i/Rate. The generator waits until then
// and calls Do in a goroutine of its own; if it is late it calls Do at once
// and the request's latency still counts from the due time. It stops
// scheduling at Duration or after MaxRequests requests, whichever comes
// first (so it schedules min(MaxRequests, ceil(Rate·Duration)) requests,
// however slowly the target answers), waits up to Grace for requests in
// flight, then cancels their context and waits for Do to return.
type OpenLoop struct {
	Rate        float64       // requests per second; must be > 0
	Duration    time.Duration // length of the schedule; must be > 0
	MaxRequests int           // cap on scheduled requests; 0 means Rate·Duration
	// MaxInFlight bounds the requests outstanding at once (0 means
	// DefaultMaxInFlight). A request due while the bound is reached is not
	// sent and counted in Result.Dropped: it is never delayed.
	MaxInFlight int
	// Grace is how long Run waits for requests in flight once the schedule
	// is over before cancelling them (0 means DefaultGrace).
	Grace time.Duration
	// Do sends request seq and returns the response's status, or an error.
	// It must return soon after ctx is cancelled. It may call MarkStart(ctx)
	// when the request actually leaves (for instance once it has a
	// connection), which ServiceTime then counts from.
	Do func(ctx context.Context, seq int) (status int, err error)
}

// Result is what an OpenLoop run measured.
type Result struct {
	Sent      int         // requests handed to Do (Completed + Errors)
	Completed int         // Do returned without error (whatever the status)
	Errors    int         // Do returned an error (including cancellation after the grace)
	Dropped   int         // due while MaxInFlight requests were outstanding; never sent
	ByStatus  map[int]int // statuses of completed requests
	// Latency holds, for every request sent (completed or in error), the
	// time from its intended start t0 + i/Rate to Do's return: what a
	// client arriving on schedule experienced. Dropped requests are not in
	// it; count them as failures.
	Latency *Histogram
	// ServiceTime holds the time from the actual start (the call of Do, or
	// its last MarkStart) to Do's return, for comparison with Latency.
	ServiceTime *Histogram
	Elapsed     time.Duration // from t0 until the last request returned
}

// Validate reports whether the generator is bounded and usable.
func (o OpenLoop) Validate() error {
	switch {
	case !(o.Rate > 0) || math.IsInf(o.Rate, 0):
		return errors.New("load: OpenLoop.Rate must be a positive finite number")
	case o.Duration <= 0:
		return errors.New("load: OpenLoop.Duration must be positive")
	case o.MaxRequests < 0 || o.MaxInFlight < 0 || o.Grace < 0:
		return errors.New("load: OpenLoop.MaxRequests, MaxInFlight and Grace must not be negative")
	case o.Do == nil:
		return errors.New("load: OpenLoop.Do is nil")
	}
	return nil
}

type startKey struct{}

type startMark struct {
	t0  time.Time
	off atomic.Int64 // offset from t0 in ns; -1 when not marked
}

// MarkStart records, for the request whose context is ctx, that it is
// actually leaving now: an OpenLoop's ServiceTime counts from the last
// call instead of from the call of Do. Do calls it, for instance, once it
// has obtained a connection (httptrace's GotConn), so that time spent
// waiting in a client-side queue is visible as the gap between Latency and
// ServiceTime. It does nothing for other contexts.
func MarkStart(ctx context.Context) {
	if m, ok := ctx.Value(startKey{}).(*startMark); ok {
		m.off.Store(int64(time.Since(m.t0)))
	}
}

// Run runs the schedule and returns what it measured. Cancelling ctx stops
// the schedule and cancels the requests in flight at once. An invalid
// OpenLoop (see Validate) sends nothing.
func (o OpenLoop) Run(ctx context.Context) Result {
	res := Result{ByStatus: map[int]int{}, Latency: NewHistogram(), ServiceTime: NewHistogram()}
	if o.Validate() != nil {
		return res
	}
	maxInFlight := o.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxInFlight
	}
	grace := o.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex // guards res's counters and histograms below
		wg       sync.WaitGroup
		inFlight atomic.Int64
	)
	interval := float64(time.Second) / o.Rate
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	t0 := time.Now()
	sent, dropped := 0, 0
schedule:
	for i := 0; o.MaxRequests == 0 || i < o.MaxRequests; i++ {
		due := time.Duration(float64(i) * interval)
		if due >= o.Duration {
			break
		}
		if wait := due - time.Since(t0); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				break schedule
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		if inFlight.Load() >= int64(maxInFlight) {
			dropped++
			continue
		}
		inFlight.Add(1)
		sent++
		wg.Add(1)
		go func(seq int, due time.Duration) {
			defer wg.Done()
			defer inFlight.Add(-1)
			m := &startMark{t0: t0}
			m.off.Store(-1)
			rctx := context.WithValue(reqCtx, startKey{}, m)
			called := time.Since(t0)
			status, err := o.Do(rctx, seq)
			end := time.Since(t0)
			actual := called
			if off := m.off.Load(); off >= 0 {
				actual = time.Duration(off)
			}
			mu.Lock()
			res.Latency.Record(end - due)
			res.ServiceTime.Record(end - actual)
			if err != nil {
				res.Errors++
			} else {
				res.Completed++
				res.ByStatus[status]++
			}
			mu.Unlock()
		}(i, due)
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	graceTimer := time.NewTimer(grace)
	select {
	case <-done:
	case <-graceTimer.C:
		cancel()
		<-done
	case <-ctx.Done(): // reqCtx is cancelled with it
		<-done
	}
	graceTimer.Stop()
	res.Elapsed = time.Since(t0)
	res.Sent, res.Dropped = sent, dropped
	return res
}
