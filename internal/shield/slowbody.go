package shield

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// MinRateBody enforces a minimum average upload rate on request bodies, the
// defence against slow POST (R.U.D.Y.): a client trickling a body a byte at
// a time would otherwise hold a connection and a handler for the whole
// ReadTimeout. Each request gets grace to start; every byte received earns
// 1/rate seconds more, never more than grace ahead. A body that falls
// behind hits the read deadline and the handler sees an error.
func MinRateBody(rate int64, grace time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || rate <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(grace)
		if err := rc.SetReadDeadline(deadline); err != nil {
			next.ServeHTTP(w, r) // not supported (HTTP/2 over a proxy, tests): rely on ReadTimeout
			return
		}
		r.Body = &minRateReader{ReadCloser: r.Body, rc: rc, deadline: deadline, rate: rate, grace: grace}
		next.ServeHTTP(w, r)
	})
}

type minRateReader struct {
	io.ReadCloser
	rc       *http.ResponseController
	deadline time.Time
	rate     int64
	grace    time.Duration
}

// ErrTooSlow is returned when a body arrives slower than the minimum rate.
// It is a timeout (Timeout() is true), which handlers answer with 408.
var ErrTooSlow error = tooSlow{}

type tooSlow struct{}

func (tooSlow) Error() string { return "shield: request body below the minimum rate" }
func (tooSlow) Timeout() bool { return true }

func (m *minRateReader) Read(p []byte) (int, error) {
	n, err := m.ReadCloser.Read(p)
	if n > 0 {
		m.deadline = m.deadline.Add(time.Duration(int64(n) * int64(time.Second) / m.rate))
		if limit := time.Now().Add(m.grace); m.deadline.After(limit) {
			m.deadline = limit
		}
		m.rc.SetReadDeadline(m.deadline) // best effort: the first call succeeded
	}
	var ne interface{ Timeout() bool }
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		return n, ErrTooSlow
	}
	return n, err
}
