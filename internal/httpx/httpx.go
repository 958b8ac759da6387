// Package httpx holds what the HTML and JSON front ends share: security
// headers, request metrics and logs, the signed-in principal in the request
// context, client addresses, streamed uploads into the blob store, and the
// mapping of domain errors to HTTP statuses.
package httpx

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"preau/internal/auth"
	"preau/internal/domain"
)

type ctxKey int

const principalKey ctxKey = iota

// WithPrincipal returns a context carrying the signed-in user.
func WithPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the signed-in user of a request, or nil.
func PrincipalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey).(*auth.Principal)
	return p
}

// ClientAddr is the request's source address: the TCP peer. (Trusted proxy
// headers are the shield's business and are resolved before this point.)
func ClientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

// StatusClientClosed is nginx's "client closed request": the client went
// away before the answer was ready. It is counted in metrics, never logged
// as a server error.
const StatusClientClosed = 499

// Status maps a domain error to an HTTP status.
func Status(err error) int {
	if errors.Is(err, context.Canceled) {
		return StatusClientClosed
	}
	switch domain.ErrorCode(err) {
	case domain.CodeInvalid:
		return http.StatusUnprocessableEntity
	case domain.CodeNotFound:
		return http.StatusNotFound
	case domain.CodeConflict:
		return http.StatusConflict
	case domain.CodeForbidden:
		return http.StatusForbidden
	case domain.CodeUnauthorized:
		return http.StatusUnauthorized
	case domain.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case domain.CodeRateLimited:
		return http.StatusTooManyRequests
	case domain.CodeUnavailable:
		return http.StatusServiceUnavailable
	case domain.CodeTimeout:
		return http.StatusRequestTimeout
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// RetryAfter sets Retry-After from a backoff error, if err is one.
func RetryAfter(w http.ResponseWriter, err error) {
	var re *auth.RetryError
	if errors.As(err, &re) {
		secs := int(re.Wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
}

var timeZero time.Time

// SafeNext returns next if it is a path on this site, else "/": no scheme,
// no host, no backslash and no control character (browsers drop tabs and
// newlines, so "/\t/evil.example" would become "//evil.example"). Every
// redirect to a user-supplied target goes through it.
func SafeNext(next string) string {
	if next == "" || strings.ContainsAny(next, "\\") || strings.IndexFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}
