package sfu_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"preau/internal/sfu"
	"preau/internal/sfu/sfutest"
)

// mustNode starts a node on loopback with ephemeral ports; opts adjust the
// config. It is closed at the end of the test.
func mustNode(tb testing.TB, opts ...func(*sfu.Config)) *sfu.Node {
	tb.Helper()
	cfg := sfu.Config{
		ICEUDPAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(testLogOut, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := sfu.New(cfg)
	if err != nil {
		tb.Fatalf("sfu.New: %v", err)
	}
	tb.Cleanup(func() { _ = n.Close() })
	return n
}

// mustJoin joins a synthetic client to r.
func mustJoin(tb testing.TB, r *sfu.Router, id string, opts sfutest.Options) (*sfutest.Client, *sfu.Peer) {
	tb.Helper()
	c, err := sfutest.NewClient(id, opts)
	if err != nil {
		tb.Fatalf("client %s: %v", id, err)
	}
	tb.Cleanup(c.Close)
	p, err := r.Join(id, c.Callbacks())
	if err != nil {
		tb.Fatalf("join %s: %v", id, err)
	}
	c.Attach(p)
	return c, p
}

// mustPublish makes c publish kinds (allowed first) and starts its media.
func mustPublish(tb testing.TB, c *sfutest.Client, p *sfu.Peer, kinds ...sfu.Kind) *sfutest.Sender {
	tb.Helper()
	p.SetAllowed(kinds...)
	s, err := c.Publish(kinds...)
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// waitFor polls cond until it holds or the deadline passes. It is how the
// tests wait for the network: on conditions, never for fixed times.
func waitFor(tb testing.TB, what string, within time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var testLogOut io.Writer = io.Discard
