package challenge

import (
	"errors"
	"net/netip"
	"testing"
)

func knownError(err error) bool {
	for _, e := range []error{ErrMalformed, ErrBadMAC, ErrExpired, ErrWrongNetwork, ErrInsufficientWork, ErrReplayed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzVerify feeds arbitrary tokens and counters to Verify: it must never
// panic, only answer with its documented errors, and accept nothing but
// tokens this Challenger issued.
func FuzzVerify(f *testing.F) {
	c := newTest(f)
	tok := c.Issue(v4, 4, t0)
	f.Add(tok, solve(f, tok, 4))
	f.Add(tok, "0")
	f.Add(tok[:len(tok)-1]+"=", "1")
	f.Add(c.Issue(v6, 0, t0), "12345678901234567")
	f.Add("", "")
	f.Add(".", "0")
	foreign := newTest(f, func(c *Config) { c.Key = []byte("another key, 32 bytes long......") })
	f.Add(foreign.Issue(v4, 0, t0), "0")
	f.Fuzz(func(t *testing.T, token, counter string) {
		err := c.Verify(token, counter, v4, t0)
		if err == nil {
			if _, perr := c.parseToken(token); perr != nil {
				t.Fatalf("accepted a token that does not parse: %v", perr)
			}
			return
		}
		if !knownError(err) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzParsePass does the same for pass cookies.
func FuzzParsePass(f *testing.F) {
	c := newTest(f)
	s, _ := c.IssuePass(v4, t0)
	f.Add(s)
	f.Add(s[:len(s)-1])
	f.Add(c.Issue(v4, 0, t0))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := c.ParsePass(s, netip.MustParseAddr("192.0.2.1"), t0)
		if err != nil {
			if !knownError(err) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if p.Network != Prefix(v4) || !p.Expires.After(t0) {
			t.Fatalf("accepted pass %+v", p)
		}
	})
}
