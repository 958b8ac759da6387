package scenario

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// answer is what a client read of a response.
type answer struct {
	status     int
	body       []byte
	header     http.Header
	retryAfter time.Duration
}

// retryClient sends a request, retrying on network errors, 5xx and 429.
type retryClient struct {
	c       *http.Client
	retries int
	backoff time.Duration
}

// do sends the request build makes (anew for each attempt) and returns the
// final answer.
func (rc retryClient) do(ctx context.Context, rng *rand.Rand, build func() (*http.Request, error)) (answer, error) {
	delay := rc.backoff
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return answer{}, err
		}
		a, err := send(rc.c, req)
		retry := err != nil || a.status >= 500 || a.status == http.StatusTooManyRequests
		if !retry || attempt >= rc.retries || ctx.Err() != nil {
			return a, err
		}
		if !sleep(ctx, jitter(rng, delay, a.retryAfter)) {
			return a, err
		}
		delay *= 2
	}
}

// jitter returns a delay drawn in [d/2, d], or retryAfter if longer (at
// most MaxRetryAfter).
func jitter(rng *rand.Rand, d, retryAfter time.Duration) time.Duration {
	wait := d/2 + time.Duration(rng.Int64N(int64(d/2)+1))
	if retryAfter > wait {
		wait = min(retryAfter, MaxRetryAfter)
	}
	return wait
}

// send does one request and reads (a bounded part of) its answer.
func send(c *http.Client, req *http.Request) (answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	return readAnswer(resp)
}

// readAnswer reads (a bounded part of) resp's body and closes it.
func readAnswer(resp *http.Response) (answer, error) {
	defer resp.Body.Close()
	var err error
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return answer{}, err
	}
	if n, e := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); e == nil && n > 0 {
		a.retryAfter = time.Duration(n) * time.Second
	}
	return a, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// startProgress calls progress(elapsed ms, total ms) about once a second
// until the returned function is called; it calls it a last time then.
func startProgress(ctx context.Context, total time.Duration, progress func(done, total int)) func() {
	if progress == nil {
		return func() {}
	}
	t0 := time.Now()
	return everySecond(ctx, func() {
		progress(int(min(time.Since(t0), total)/time.Millisecond), int(total/time.Millisecond))
	})
}

// everySecond calls report about once a second until ctx ends or the
// returned function is called, which calls it a last time.
func everySecond(ctx context.Context, report func()) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-tick.C:
				report()
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
		report()
	}
}
