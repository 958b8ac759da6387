package challenge

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	t0      = time.Date(2021, 4, 6, 8, 0, 0, 0, time.UTC)
	v4      = netip.MustParseAddr("192.0.2.10")
	v6      = netip.MustParseAddr("2001:db8:1:2::10")
)

func newTest(t testing.TB, mod ...func(*Config)) *Challenger {
	t.Helper()
	cfg := Config{Key: testKey, WaitingRoomURL: "/_shield/wait", Now: func() time.Time { return t0 }}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// solve is the reference solver: the smallest counter meeting the token's
// difficulty.
func solve(t testing.TB, token string, difficulty int) string {
	t.Helper()
	for i := 0; i < 1<<26; i++ {
		c := strconv.Itoa(i)
		if leadingZeros(token, c) >= difficulty {
			return c
		}
	}
	t.Fatal("no solution found")
	return ""
}

// failing returns a counter that does not meet difficulty.
func failing(token string, difficulty int) string {
	for i := 0; ; i++ {
		c := strconv.Itoa(i)
		if leadingZeros(token, c) < difficulty {
			return c
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{Key: []byte("short"), WaitingRoomURL: "/w"}); err == nil {
		t.Error("short key accepted")
	}
	if _, err := New(Config{Key: testKey}); err == nil {
		t.Error("missing waiting room accepted")
	}
	if _, err := New(Config{Key: testKey, WaitingRoomURL: "/w", BasePath: "/x/"}); err == nil {
		t.Error("base path with trailing slash accepted")
	}
}

func TestRoundTrip(t *testing.T) {
	c := newTest(t)
	for _, client := range []netip.Addr{v4, v6, netip.MustParseAddr("::ffff:192.0.2.10")} {
		tok := c.Issue(client, 10, t0)
		if len(tok) != tokenLen {
			t.Fatalf("token length %d, want %d", len(tok), tokenLen)
		}
		ctr := solve(t, tok, 10)
		// Another host of the same /24 or /56, a bit later.
		other := client
		if client.Unmap().Is4() {
			b := client.Unmap().As4()
			b[3] = 200
			other = netip.AddrFrom4(b)
		} else {
			b := client.As16()
			b[7] = 0xff // still inside the /56
			b[15] = 0x99
			other = netip.AddrFrom16(b)
		}
		if err := c.Verify(tok, ctr, other, t0.Add(time.Minute)); err != nil {
			t.Fatalf("%v: Verify = %v", client, err)
		}
		if err := c.Verify(tok, ctr, client, t0.Add(time.Minute)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("%v: second Verify = %v, want ErrReplayed", client, err)
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	c := newTest(t)
	const d = 10
	tok := c.Issue(v4, d, t0)
	good := solve(t, tok, d)

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// A token with its difficulty lowered to 0 but the original MAC.
	p, _ := b64.DecodeString(tok[:payloadB64Len])
	p[1] = 0
	lowered := b64.EncodeToString(p) + tok[payloadB64Len:]

	otherKey := newTest(t, func(c *Config) { c.Key = []byte("another key, 32 bytes long......") })
	foreign := otherKey.Issue(v4, d, t0)

	tests := []struct {
		name, token, counter string
		client               netip.Addr
		now                  time.Time
		want                 error
	}{
		{"empty", "", "", v4, t0, ErrMalformed},
		{"short token", tok[:len(tok)-1], good, v4, t0, ErrMalformed},
		{"long token", tok + "A", good, v4, t0, ErrMalformed},
		{"no dot", strings.Replace(tok, ".", "A", 1), good, v4, t0, ErrMalformed},
		{"bad base64", "*" + tok[1:], good, v4, t0, ErrMalformed},
		{"counter not digits", tok, "12a", v4, t0, ErrMalformed},
		{"counter empty", tok, "", v4, t0, ErrMalformed},
		{"counter too long", tok, strings.Repeat("1", 17), v4, t0, ErrMalformed},
		{"tampered payload", flip(tok, 20), good, v4, t0, ErrBadMAC},
		{"tampered MAC", flip(tok, len(tok)-5), good, v4, t0, ErrBadMAC},
		{"lowered difficulty", lowered, "0", v4, t0, ErrBadMAC},
		{"other key", foreign, solve(t, foreign, d), v4, t0, ErrBadMAC},
		{"expired", tok, good, v4, t0.Add(DefaultTTL), ErrExpired},
		{"other /24", tok, good, netip.MustParseAddr("192.0.3.10"), t0, ErrWrongNetwork},
		{"IPv6 client", tok, good, v6, t0, ErrWrongNetwork},
		{"invalid client", tok, good, netip.Addr{}, t0, ErrWrongNetwork},
		{"insufficient work", tok, failing(tok, d), v4, t0, ErrInsufficientWork},
	}
	for _, tt := range tests {
		if err := c.Verify(tt.token, tt.counter, tt.client, tt.now); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
	// None of the refusals consumed the token.
	if err := c.Verify(tok, good, v4, t0); err != nil {
		t.Fatalf("good answer after refusals: %v", err)
	}
	if err := c.Verify(tok, good, v4, t0); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	// Another counter for the same token is a replay too.
	if err := c.Verify(tok, good+"0", v4, t0); err == nil {
		t.Fatal("second solution of a used token accepted")
	}
}

func TestIPv6Networks(t *testing.T) {
	c := newTest(t)
	tok := c.Issue(v6, 4, t0)
	ctr := solve(t, tok, 4)
	if err := c.Verify(tok, ctr, netip.MustParseAddr("2001:db8:1:100::1"), t0); !errors.Is(err, ErrWrongNetwork) {
		t.Fatalf("other /56: %v", err)
	}
	if got, want := Prefix(v6), netip.MustParsePrefix("2001:db8:1::/56"); got != want {
		t.Fatalf("Prefix(%v) = %v, want %v", v6, got, want)
	}
	if got, want := Prefix(netip.MustParseAddr("::ffff:10.1.2.3")), netip.MustParsePrefix("10.1.2.0/24"); got != want {
		t.Fatalf("Prefix(mapped) = %v, want %v", got, want)
	}
	if Prefix(netip.Addr{}).IsValid() {
		t.Fatal("Prefix of the zero Addr is valid")
	}
}

func TestIssueClampsDifficulty(t *testing.T) {
	c := newTest(t)
	for _, d := range []int{-5, 0, MaxDifficulty, 60} {
		ch, err := c.parseToken(c.Issue(v4, d, t0))
		if err != nil {
			t.Fatal(err)
		}
		if want := max(0, min(d, MaxDifficulty)); ch.difficulty != want {
			t.Errorf("Issue(%d): difficulty %d, want %d", d, ch.difficulty, want)
		}
		if ch.expires-ch.issued != int64(DefaultTTL/time.Second) {
			t.Errorf("lifetime %d s", ch.expires-ch.issued)
		}
	}
}

// The tail hashed per attempt (token's last partial block, ":", up to 16
// digits, padding) fits in one 64-byte block: the solver's cost per attempt
// is one compression, which the phone budget assumes.
func TestTokenTailFitsOneBlock(t *testing.T) {
	if rem := (tokenLen + 1) % 64; rem+maxCounterLen+9 > 64 {
		t.Fatalf("tail of %d bytes needs two blocks", rem+maxCounterLen+9)
	}
}

func TestReplaySetBounded(t *testing.T) {
	s := newReplaySet(4)
	var n [16]byte
	for i := 0; i < 10; i++ {
		n[0] = byte(i)
		if !s.add(n, 100, 0) {
			t.Fatalf("fresh nonce %d refused", i)
		}
		if s.len() > 4 {
			t.Fatalf("%d entries, bound 4", s.len())
		}
	}
	n[0] = 9
	if s.add(n, 100, 0) {
		t.Fatal("recent nonce accepted twice")
	}
	n[0] = 0 // the oldest was forgotten
	if !s.add(n, 100, 0) {
		t.Fatal("oldest nonce still remembered beyond the bound")
	}
	// Expired entries leave on the next insertion.
	n[0] = 50
	s.add(n, 200, 150)
	if s.len() != 1 {
		t.Fatalf("%d entries after expiry, want 1", s.len())
	}
	if len(s.fifo)-s.head != 1 {
		t.Fatalf("fifo holds %d live entries", len(s.fifo)-s.head)
	}
}

func TestReplaySetChurn(t *testing.T) {
	s := newReplaySet(64)
	var n [16]byte
	for i := 0; i < 10000; i++ {
		n[0], n[1] = byte(i), byte(i>>8)
		s.add(n, int64(i/10+5), int64(i/10))
		if s.len() > 64 || cap(s.fifo) > 2*64+8 {
			t.Fatalf("step %d: %d entries, fifo cap %d", i, s.len(), cap(s.fifo))
		}
	}
}

func TestDifficulty(t *testing.T) {
	if d := Difficulty(0, 0); d != MinDifficulty {
		t.Errorf("Difficulty(0,0) = %d", d)
	}
	if d := Difficulty(1, 0); d != MaxDifficulty {
		t.Errorf("Difficulty(1,0) = %d", d)
	}
	if d := Difficulty(0, 1); d != (MinDifficulty+MaxDifficulty)/2 {
		t.Errorf("Difficulty(0,1) = %d", d)
	}
	for _, v := range [][2]float64{{5, 5}, {-1, -1}, {math.NaN(), 0}, {0, math.Inf(1)}, {1, 1}} {
		if d := Difficulty(v[0], v[1]); d < MinDifficulty || d > MaxDifficulty {
			t.Errorf("Difficulty(%v) = %d out of bounds", v, d)
		}
	}
	if Difficulty(math.NaN(), 0) != MaxDifficulty {
		t.Error("NaN suspicion is not treated as the worst")
	}
	// Monotone in both arguments.
	for s := 0.0; s <= 1; s += 0.05 {
		for l := 0.0; l <= 1; l += 0.05 {
			if Difficulty(s+0.05, l) < Difficulty(s, l) || Difficulty(s, l+0.05) < Difficulty(s, l) {
				t.Fatalf("not monotone at (%v, %v)", s, l)
			}
		}
	}
}

// TestPhoneBudget keeps MaxDifficulty consistent with the budget written in
// the package comment: a phone hashing 250,000 times a second finishes
// within 3 s with probability at least 90%.
func TestPhoneBudget(t *testing.T) {
	const phoneRate, budget = 250_000.0, 3.0
	pDone := 1 - math.Exp(-phoneRate*budget/math.Exp2(MaxDifficulty))
	if pDone < 0.9 {
		t.Fatalf("at %d bits a slow phone finishes in 3 s with p=%.2f", MaxDifficulty, pDone)
	}
	// And the cap is the largest such value.
	if 1-math.Exp(-phoneRate*budget/math.Exp2(MaxDifficulty+1)) >= 0.9 {
		t.Fatalf("cap %d is lower than the budget allows", MaxDifficulty)
	}
}
