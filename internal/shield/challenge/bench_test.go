package challenge

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func BenchmarkIssue(b *testing.B) {
	c := newTest(b)
	b.ReportAllocs()
	for b.Loop() {
		c.Issue(v4, MaxDifficulty, t0)
	}
}

// BenchmarkVerify is the full accepting path (parse, MAC, expiry, network,
// one SHA-256, replay set with evictions) on difficulty-0 tokens.
func BenchmarkVerify(b *testing.B) {
	c := newTest(b, func(c *Config) { c.ReplayEntries = 1024 })
	tokens := make([]string, 4096)
	for i := range tokens {
		tokens[i] = c.Issue(v4, 0, t0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.Verify(tokens[i%len(tokens)], "12345", v4, t0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyForged is the cost of refusing a well-formed forgery: the
// work an attacker can make the server do without solving anything.
func BenchmarkVerifyForged(b *testing.B) {
	c := newTest(b)
	other := newTest(b, func(c *Config) { c.Key = []byte("another key, 32 bytes long......") })
	tok := other.Issue(v4, 0, t0)
	b.ReportAllocs()
	for b.Loop() {
		if c.Verify(tok, "1", v4, t0) == nil {
			b.Fatal("forgery accepted")
		}
	}
}

func BenchmarkParsePass(b *testing.B) {
	c := newTest(b)
	s, _ := c.IssuePass(v4, t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ParsePass(s, v4, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllowPass(b *testing.B) {
	c := newTest(b)
	passes := make([]Pass, 1024)
	for i := range passes {
		_, passes[i] = c.IssuePass(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.AllowPass(passes[i%len(passes)], t0.Add(time.Duration(i)*time.Millisecond))
		i++
	}
}

// BenchmarkGoSolve is the native search at the cap, for comparison with
// BenchmarkJSSolver: what a flooder with compiled code pays per request.
func BenchmarkGoSolve(b *testing.B) {
	c := newTest(b)
	tok := c.Issue(v4, 64, t0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		leadingZeros(tok, strconv.Itoa(i))
		i++
	}
}
