package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"preau/internal/sfu"
)

// nodeOptions configures the node role.
type nodeOptions struct {
	listen      string // HTTP signalling address, loopback
	ice         string // ICE UDP address, loopback
	workers     int
	maxLifetime time.Duration
	verbose     bool
}

// runNode serves one sfu.Node and its signalling until POST /stop, a
// signal, or maxLifetime: a forgotten node never outlives the bench.
func runNode(o nodeOptions) error {
	for _, a := range []string{o.listen, o.ice} {
		if !isLoopback(a) {
			return fmt.Errorf("node: %q is not a loopback address: the bench's signalling has no authentication", a)
		}
	}
	var logOut io.Writer = io.Discard
	if o.verbose {
		logOut = os.Stderr
	}
	node, err := sfu.New(sfu.Config{
		ICEUDPAddr: o.ice,
		Workers:    o.workers,
		Logger:     slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	defer node.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("node: listen: %w", err)
	}
	s := newNodeServer(node)
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	iceAddr, _, _, _ := node.Addrs()
	fmt.Printf("node: signalling on http://%s, ICE UDP on %s, %d CPUs, GOMAXPROCS %d, %s, stops after %s\n",
		ln.Addr(), iceAddr, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), o.maxLifetime)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var why string
	select {
	case <-ctx.Done():
		why = "signal"
	case <-s.stopped:
		why = "asked to stop"
	case <-time.After(o.maxLifetime):
		why = "maximum lifetime reached"
	case err := <-served:
		return fmt.Errorf("node: serve: %w", err)
	}
	s.events.close() // ends the events stream, or Shutdown would wait for it
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err = srv.Shutdown(sctx)
	st := s.stats()
	fmt.Printf("node: stopping (%s): %.2f s of CPU, %d peers, %d packets forwarded, %d dropped\n",
		why, st.CPU.Seconds(), st.Stats.Peers, st.Stats.PacketsForwarded, st.Stats.PacketsDropped)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("node: shutdown: %w", err)
	}
	return nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// nodeServer maps the HTTP signalling onto one room of the node.
type nodeServer struct {
	node   *sfu.Node
	room   *sfu.Router
	events *eventBus

	stopOnce sync.Once
	stopped  chan struct{}
}

func newNodeServer(node *sfu.Node) *nodeServer {
	return &nodeServer{node: node, room: node.Router("bench"), events: newEventBus(), stopped: make(chan struct{})}
}

func (s *nodeServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /join", s.join)
	mux.HandleFunc("POST /leave", s.leave)
	mux.HandleFunc("POST /publish", s.publish)
	mux.HandleFunc("POST /answer", s.answer)
	mux.HandleFunc("POST /candidate", s.candidate)
	mux.HandleFunc("GET /events", s.streamEvents)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.stats()) })
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, _ *http.Request) {
		s.stopOnce.Do(func() { close(s.stopped) })
		w.WriteHeader(http.StatusNoContent)
	})
	// Profiles of the node alone, e.g. during the measured window:
	// go tool pprof http://127.0.0.1:PORT/debug/pprof/profile?seconds=20
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

func (s *nodeServer) stats() nodeStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	user, sys := cpuTimes()
	return nodeStats{
		At:         time.Now(),
		CPU:        user + sys,
		SysCPU:     sys,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Goroutines: runtime.NumGoroutine(),
		HeapBytes:  ms.HeapAlloc,
		Stats:      s.node.Stats(),
	}
}

func (s *nodeServer) join(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if !readJSON(w, r, &req) {
		return
	}
	var kinds []sfu.Kind
	for _, a := range req.Allow {
		k, err := sfu.ParseKind(a)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		kinds = append(kinds, k)
	}
	if req.ID == "" {
		http.Error(w, "no peer id", http.StatusBadRequest)
		return
	}
	p, err := s.room.Join(req.ID, s.callbacks(req.ID))
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, sfu.ErrPeerExists) {
			code = http.StatusConflict
		}
		http.Error(w, err.Error(), code)
		return
	}
	if len(kinds) > 0 {
		p.SetAllowed(kinds...)
	}
	w.WriteHeader(http.StatusNoContent)
}

// callbacks turn a peer's callbacks into events for the clients process.
// They run on the peer's own goroutine, in order, so the peer's events
// reach the bus in the order the node queued them.
func (s *nodeServer) callbacks(id string) sfu.PeerCallbacks {
	return sfu.PeerCallbacks{
		OnICECandidate: func(t sfu.Target, c webrtc.ICECandidateInit) {
			s.events.push(event{ID: id, Type: "candidate", Target: t.String(), Candidate: &c})
		},
		OnSubscriberOffer: func(sdp string) { s.events.push(event{ID: id, Type: "offer", SDP: sdp}) },
		OnMode:            func(m sfu.Mode) { s.events.push(event{ID: id, Type: "mode", Mode: m.String()}) },
		OnState: func(t sfu.Target, state string) {
			s.events.push(event{ID: id, Type: "state", Target: t.String(), State: state})
		},
	}
}

// peer returns the peer the request names, or writes a 404.
func (s *nodeServer) peer(w http.ResponseWriter, id string) *sfu.Peer {
	p := s.room.Peer(id)
	if p == nil {
		http.Error(w, fmt.Sprintf("no peer %q", id), http.StatusNotFound)
	}
	return p
}

func (s *nodeServer) leave(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if !readJSON(w, r, &req) {
		return
	}
	if p := s.peer(w, req.ID); p != nil {
		p.Close()
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *nodeServer) publish(w http.ResponseWriter, r *http.Request) {
	var req sdpMessage
	if !readJSON(w, r, &req) {
		return
	}
	p := s.peer(w, req.ID)
	if p == nil {
		return
	}
	answer, err := p.HandlePublisherOffer(req.SDP)
	if err != nil {
		http.Error(w, err.Error(), sfuStatus(err))
		return
	}
	writeJSON(w, sdpMessage{SDP: answer})
}

func (s *nodeServer) answer(w http.ResponseWriter, r *http.Request) {
	var req sdpMessage
	if !readJSON(w, r, &req) {
		return
	}
	p := s.peer(w, req.ID)
	if p == nil {
		return
	}
	if err := p.HandleSubscriberAnswer(req.SDP); err != nil {
		http.Error(w, err.Error(), sfuStatus(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *nodeServer) candidate(w http.ResponseWriter, r *http.Request) {
	var req candidateMessage
	if !readJSON(w, r, &req) {
		return
	}
	t, err := sfu.ParseTarget(req.Target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p := s.peer(w, req.ID)
	if p == nil {
		return
	}
	if err := p.AddICECandidate(t, req.Candidate); err != nil {
		http.Error(w, err.Error(), sfuStatus(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// sfuStatus maps the sfu package's errors to HTTP statuses.
func sfuStatus(err error) int {
	switch {
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, sfu.ErrBadCandidate):
		return http.StatusBadRequest
	case errors.Is(err, sfu.ErrNotPermitted):
		return http.StatusForbidden
	case errors.Is(err, sfu.ErrBadState), errors.Is(err, sfu.ErrClosed):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// streamEvents sends every peer's events, one JSON object per line, until
// the client goes away or the node stops. One stream at a time: the
// events are the clients process's, and a second reader would split them.
func (s *nodeServer) streamEvents(w http.ResponseWriter, r *http.Request) {
	if !s.events.attach() {
		http.Error(w, "another events stream is open", http.StatusConflict)
		return
	}
	defer s.events.detach()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	// The headers now: the client waits for them before it joins anyone.
	if rc.Flush() != nil {
		return
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for {
		evs, ok := s.events.wait(r.Context())
		if !ok {
			return
		}
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return
			}
		}
		if bw.Flush() != nil || rc.Flush() != nil {
			return
		}
	}
}

// eventBus holds the peers' events until the stream sends them. Pushing
// never blocks (a peer's callback goroutine must not wait on the
// clients' reading); the backlog is bounded by what the clients cause.
type eventBus struct {
	mu       sync.Mutex
	q        []event
	wake     chan struct{}
	attached bool
	closed   chan struct{}
	once     sync.Once
}

func newEventBus() *eventBus {
	return &eventBus{wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (b *eventBus) push(e event) {
	b.mu.Lock()
	b.q = append(b.q, e)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *eventBus) attach() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.attached {
		return false
	}
	b.attached = true
	return true
}

func (b *eventBus) detach() {
	b.mu.Lock()
	b.attached = false
	b.mu.Unlock()
}

// wait returns the events queued, waiting for at least one; false once
// ctx ends or the bus is closed.
func (b *eventBus) wait(ctx context.Context) ([]event, bool) {
	for {
		b.mu.Lock()
		q := b.q
		b.q = nil
		b.mu.Unlock()
		if len(q) > 0 {
			return q, true
		}
		select {
		case <-b.wake:
		case <-ctx.Done():
			return nil, false
		case <-b.closed:
			return nil, false
		}
	}
}

func (b *eventBus) close() { b.once.Do(func() { close(b.closed) }) }

// maxBody bounds a signalling request (an SDP is a few kilobytes).
const maxBody = 1 << 20

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "node: write response:", err)
	}
}
