package shield

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"preau/internal/shield/detect"
)

// Once the detector blocks a flooding network, new connections from it are
// reset at accept — all but a few a second, which still get the page that
// explains the block — while other networks and allowlisted ones are never
// shed.
func TestConnectionsFromBlockedNetworksAreShed(t *testing.T) {
	now := time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC)
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens, Now: func() time.Time { return now },
		Allowlist: []netip.Prefix{netip.MustParsePrefix("172.16.9.0/24")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(okHandler)
	hit := func(addr string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr + ":1234"
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	flooder := netip.MustParseAddr("172.16.200.7")
	for sec := range 40 {
		for i := range 60 {
			hit(fmt.Sprintf("10.%d.%d.%d", sec, i, 1+i%200))
		}
		if s.ShedConnection(flooder) {
			t.Fatal("shed before any attack")
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
	}
	// A flood rotating over 172.16.0.0/16, fifty times the baseline.
	for sec := 0; sec < 20 && s.det.Level() < detect.BlockTopPrefixes; sec++ {
		for i := range 3000 {
			hit(fmt.Sprintf("172.16.%d.%d", i%256, 1+(i/256+sec)%250))
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
	}
	if s.det.Level() != detect.BlockTopPrefixes || !s.det.IsBlocked(flooder) {
		t.Fatalf("level %v, blocked %v", s.det.Level(), s.det.BlockedPrefixes())
	}

	explained := 0
	for range 100 {
		if !s.ShedConnection(flooder) {
			explained++
		}
	}
	if explained != int(explainBurst) {
		t.Errorf("%d of 100 connections from the blocked network reached HTTP, want the burst of %v", explained, explainBurst)
	}
	now = now.Add(time.Second)
	explained = 0
	for range 100 {
		if !s.ShedConnection(netip.MustParseAddr("172.16.3.4")) {
			explained++
		}
	}
	if explained != int(explainRate) {
		t.Errorf("a second later %d reached HTTP, want %v", explained, explainRate)
	}
	for _, a := range []string{"172.16.9.20", "10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"} {
		if s.ShedConnection(netip.MustParseAddr(a)) {
			t.Errorf("%s shed: it is allowlisted or not in a blocked network", a)
		}
	}
}

// Shed connections count as blocked requests of the episode: a flood that
// only ever reaches the listener keeps its network blocked instead of
// seeming to stop the moment it is shed.
func TestShedFloodKeepsTheEpisodeOpen(t *testing.T) {
	now := time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC)
	s, err := New(Config{Key: []byte(strings.Repeat("k", 32)), Sessions: testTokens, Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(okHandler)
	hit := func(addr string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr + ":1234"
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for sec := range 40 {
		for i := range 60 {
			hit(fmt.Sprintf("10.%d.%d.%d", sec, i, 1+i%200))
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
	}
	for sec := 0; sec < 20 && s.det.Level() < detect.BlockTopPrefixes; sec++ {
		for i := range 3000 {
			hit(fmt.Sprintf("172.16.%d.%d", i%256, 1+(i/256+sec)%250))
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
	}
	if s.det.Level() != detect.BlockTopPrefixes {
		t.Fatalf("level %v", s.det.Level())
	}
	// Five minutes of the same flood, now all at the listener (the few
	// explained connections are served and observed as the handler does).
	for range 300 {
		for i := range 3000 {
			a := netip.MustParseAddr(fmt.Sprintf("172.16.%d.%d", i%256, 1+i%250))
			if !s.ShedConnection(a) {
				hit(a.String())
			}
		}
		for i := range 60 {
			hit(fmt.Sprintf("10.9.%d.%d", i, 1+i%200))
		}
		s.det.Tick(now)
		now = now.Add(time.Second)
		if s.det.Level() != detect.BlockTopPrefixes {
			t.Fatalf("the ladder came down to %v while the flood went on", s.det.Level())
		}
	}
}
