package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"preau/internal/sfu"
)

// newTestNode serves a node's bench signalling on an httptest server, as
// -role node does on its loopback port.
func newTestNode(t *testing.T) (*nodeServer, string) {
	t.Helper()
	node, err := sfu.New(sfu.Config{ICEUDPAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s := newNodeServer(node)
	srv := httptest.NewServer(s.routes())
	t.Cleanup(func() {
		s.events.close()
		srv.Close()
		node.Close()
	})
	return s, srv.URL
}

func TestClientsMeasureANodeOverHTTPAndStopIt(t *testing.T) {
	if testing.Short() {
		t.Skip("pion clients on loopback for a few seconds")
	}
	s, url := newTestNode(t)
	r, err := runClients(clientsOptions{node: url, subscribers: 4, burst: 3, wave: 1, duration: 2 * time.Second, setup: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.stopped:
	default:
		t.Error("the clients did not tell the node to stop")
	}
	if r.peers != 5 || r.downTracks != 8 {
		t.Errorf("node saw %d peers and %d downtracks, want 5 (a teacher, 4 students) and 8", r.peers, r.downTracks)
	}
	if r.burst != 3 || r.joinP50 <= 0 {
		t.Errorf("join latency of %d joining at once: p50 %s", r.burst, r.joinP50)
	}
	if r.received == 0 || r.forwarded == 0 || r.nodeCPU <= 0 {
		t.Errorf("received %d, node forwarded %d with %.3f s of CPU: the window measured nothing", r.received, r.forwarded, r.nodeCPU)
	}
	// On a loaded test machine a few packets may be late at the window's
	// ends; anything more is a bug in the signalling or the counting.
	if r.loss > 5 {
		t.Errorf("loss %.2f %% (%d of %d)", r.loss, r.received, r.expected)
	}
}

func TestNodeListensOnLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "[::1]:8080": true, "localhost:1": true,
		":18500": false, "0.0.0.0:18500": false, "192.0.2.1:80": false, "nonsense": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
	if err := runNode(nodeOptions{listen: ":0", ice: "127.0.0.1:0", maxLifetime: time.Second}); err == nil {
		t.Error("a node listening on every interface was started")
	}
}
