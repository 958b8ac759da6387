package challenge

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestPassRoundTrip(t *testing.T) {
	c := newTest(t)
	for _, client := range []netip.Addr{v4, v6} {
		s, p := c.IssuePass(client, t0)
		if len(s) != passLen {
			t.Fatalf("pass length %d", len(s))
		}
		got, err := c.ParsePass(s, client, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatalf("%v: ParsePass = %v", client, err)
		}
		if got != p {
			t.Fatalf("parsed %+v, issued %+v", got, p)
		}
		if got.Network != Prefix(client) || !got.Expires.Equal(t0.Add(DefaultPassTTL)) {
			t.Fatalf("pass %+v", got)
		}
	}
	a, _ := c.IssuePass(v4, t0)
	b, _ := c.IssuePass(v4, t0)
	if a == b {
		t.Fatal("two passes are identical")
	}
}

func TestPassRefusals(t *testing.T) {
	c := newTest(t)
	s, _ := c.IssuePass(v4, t0)
	tampered := []byte(s)
	tampered[10] ^= 1 // still base64url: flips between neighbouring letters
	other := newTest(t, func(c *Config) { c.Key = []byte("another key, 32 bytes long......") })
	foreign, _ := other.IssuePass(v4, t0)
	// A challenge token is not a pass, even with the right length.
	tok := c.Issue(v4, 0, t0)

	tests := []struct {
		name, s string
		client  netip.Addr
		now     time.Time
		want    error
	}{
		{"empty", "", v4, t0, ErrMalformed},
		{"truncated", s[:len(s)-2], v4, t0, ErrMalformed},
		{"challenge token", tok, v4, t0, ErrMalformed},
		{"tampered", string(tampered), v4, t0, ErrBadMAC},
		{"other key", foreign, v4, t0, ErrBadMAC},
		{"expired", s, v4, t0.Add(DefaultPassTTL), ErrExpired},
		{"other network", s, netip.MustParseAddr("198.51.100.7"), t0, ErrWrongNetwork},
		{"same host, IPv6", s, v6, t0, ErrWrongNetwork},
	}
	for _, tt := range tests {
		if _, err := c.ParsePass(tt.s, tt.client, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("%s: ParsePass = %v, want %v", tt.name, err, tt.want)
		}
	}
	// Same /24, another host: accepted (carrier-grade NAT, DHCP).
	if _, err := c.ParsePass(s, netip.MustParseAddr("192.0.2.250"), t0); err != nil {
		t.Fatalf("same /24: %v", err)
	}
}

func TestAllowPassRateLimit(t *testing.T) {
	c := newTest(t)
	_, p := c.IssuePass(v4, t0)
	now := t0.Add(time.Second)
	for i := 0; i < DefaultPassBurst; i++ {
		if !c.AllowPass(p, now) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if c.AllowPass(p, now) {
		t.Fatal("request beyond the burst allowed")
	}
	// One second later: PassRate more.
	now = now.Add(time.Second)
	n := 0
	for c.AllowPass(p, now) {
		n++
	}
	if n != DefaultPassRate {
		t.Fatalf("%d requests after 1 s, want %d", n, DefaultPassRate)
	}
	// Another pass has its own bucket.
	_, q := c.IssuePass(v4, t0)
	if !c.AllowPass(q, now) {
		t.Fatal("second pass limited by the first one's bucket")
	}
	// An expired pass gets nothing.
	if c.AllowPass(q, q.Expires) {
		t.Fatal("expired pass allowed")
	}
}

func TestPassLimiterBounded(t *testing.T) {
	c := newTest(t, func(c *Config) { c.PassBuckets = 16 })
	now := t0
	var busy Pass
	for i := 0; i < 1000; i++ {
		_, p := c.IssuePass(v4, t0)
		if i == 0 {
			busy = p
		}
		c.AllowPass(p, now)
		if n := c.limiter.len(); n > 16 {
			t.Fatalf("%d buckets, bound 16", n)
		}
	}
	// A bucket dropped under pressure restarts full: never more than the
	// burst at once.
	n := 0
	for c.AllowPass(busy, now) {
		n++
	}
	if n > DefaultPassBurst {
		t.Fatalf("%d requests in one instant", n)
	}
}

func TestPassLimiterEvictsIdleFirst(t *testing.T) {
	l := newPassLimiter(8, 5, 20)
	// 7 busy buckets (emptied) and 1 idle one.
	for id := uint64(1); id <= 7; id++ {
		for l.allow(id, 1<<40, 0) {
		}
	}
	l.allow(100, 1<<40, -10e9) // idle: last use 10 s ago
	l.allow(200, 1<<40, 0)     // full: evicts the idle one, then arbitrary ones up to 1/8
	if _, ok := l.buckets[100]; ok {
		t.Fatal("idle bucket kept")
	}
	busyKept := 0
	for id := uint64(1); id <= 7; id++ {
		if _, ok := l.buckets[id]; ok {
			busyKept++
		}
	}
	if busyKept != 7 {
		t.Fatalf("%d busy buckets kept, want 7 (the idle one was enough)", busyKept)
	}
}
