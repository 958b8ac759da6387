package shield

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// ConnTracker counts connections closed before they delivered one complete
// request: slowloris clients cut by the header timeout, oversized headers
// (431), malformed requests (400) and silent probes. net/http answers
// those itself, before any handler, so the tracker marks a connection as
// served when a request reaches the handler (Served) and counts the others
// when they close. Install ConnContext and ConnState on the http.Server.
// Memory is proportional to open connections.
type ConnTracker struct {
	m     *Metrics
	mu    sync.Mutex
	flags map[net.Conn]*atomic.Bool
}

type servedKey struct{}

// NewConnTracker counts into m (which may be nil).
func NewConnTracker(m *Metrics) *ConnTracker {
	return &ConnTracker{m: m, flags: map[net.Conn]*atomic.Bool{}}
}

// ConnContext is the http.Server.ConnContext hook.
func (t *ConnTracker) ConnContext(ctx context.Context, c net.Conn) context.Context {
	f := new(atomic.Bool)
	t.mu.Lock()
	t.flags[c] = f
	t.mu.Unlock()
	return context.WithValue(ctx, servedKey{}, f)
}

// ConnState is the http.Server.ConnState hook.
func (t *ConnTracker) ConnState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	t.mu.Lock()
	f, ok := t.flags[c]
	delete(t.flags, c)
	t.mu.Unlock()
	if ok && !f.Load() && state == http.StateClosed {
		t.m.ConnRefused("no_request")
	}
}

// Served marks the request's connection as having delivered a request.
func Served(r *http.Request) {
	if f, ok := r.Context().Value(servedKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}
