package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// Pass is a verified pass: the proof that its holder solved a challenge.
type Pass struct {
	ID      uint64       // random, keys the pass's rate limit
	Network netip.Prefix // the /24 or /56 it is bound to (zero if the address was unknown)
	Issued  time.Time
	Expires time.Time
}

// Pass layout: version(1) issued(8) expires(8) id(8) network(9), then the
// base64url HMAC under the pass key, as for tokens.
const (
	passVersion    = 1
	passPayloadLen = 34
	passPayloadB64 = (passPayloadLen*8 + 5) / 6 // 46
	passLen        = passPayloadB64 + 1 + macB64Len
)

// IssuePass returns the cookie value of a new pass for client and the pass.
func (c *Challenger) IssuePass(client netip.Addr, now time.Time) (string, Pass) {
	var p [passPayloadLen]byte
	p[0] = passVersion
	t := now.Unix()
	binary.BigEndian.PutUint64(p[1:9], uint64(t))
	binary.BigEndian.PutUint64(p[9:17], uint64(t+c.passTTL))
	rand.Read(p[17:25])
	n := networkOf(client)
	copy(p[25:34], n[:])

	m := c.getMAC()
	mac := sign(m.pass, &m.buf, p[:])
	var out [passLen]byte
	b64.Encode(out[:passPayloadB64], p[:])
	out[passPayloadB64] = '.'
	b64.Encode(out[passPayloadB64+1:], mac)
	c.macs.Put(m)
	return string(out[:]), Pass{
		ID:      binary.BigEndian.Uint64(p[17:25]),
		Network: n.prefix(),
		Issued:  time.Unix(t, 0),
		Expires: time.Unix(t+c.passTTL, 0),
	}
}

// ParsePass checks a pass cookie value for client at now. The errors are
// ErrMalformed, ErrBadMAC, ErrExpired and ErrWrongNetwork.
func (c *Challenger) ParsePass(s string, client netip.Addr, now time.Time) (Pass, error) {
	if len(s) != passLen || s[passPayloadB64] != '.' {
		return Pass{}, ErrMalformed
	}
	var p [passPayloadLen]byte
	var mac [macLen]byte
	if n, err := b64.Decode(p[:], []byte(s[:passPayloadB64])); err != nil || n != passPayloadLen {
		return Pass{}, ErrMalformed
	}
	if n, err := b64.Decode(mac[:], []byte(s[passPayloadB64+1:])); err != nil || n != macLen {
		return Pass{}, ErrMalformed
	}
	m := c.getMAC()
	ok := hmac.Equal(sign(m.pass, &m.buf, p[:]), mac[:])
	c.macs.Put(m)
	if !ok {
		return Pass{}, ErrBadMAC
	}
	issued := int64(binary.BigEndian.Uint64(p[1:9]))
	expires := int64(binary.BigEndian.Uint64(p[9:17]))
	var n network
	copy(n[:], p[25:34])
	if p[0] != passVersion || expires < issued || !n.valid() {
		return Pass{}, ErrMalformed
	}
	if now.Unix() >= expires {
		return Pass{}, ErrExpired
	}
	if networkOf(client) != n {
		return Pass{}, ErrWrongNetwork
	}
	return Pass{
		ID:      binary.BigEndian.Uint64(p[17:25]),
		Network: n.prefix(),
		Issued:  time.Unix(issued, 0),
		Expires: time.Unix(expires, 0),
	}, nil
}

// AllowPass reports whether one more request may go through on pass p at
// now: false once the pass has expired or its token bucket (PassRate per
// second, PassBurst deep) is empty. It takes one token when it answers true.
func (c *Challenger) AllowPass(p Pass, now time.Time) bool {
	if !now.Before(p.Expires) {
		return false
	}
	return c.limiter.allow(p.ID, p.Expires.Unix(), now.UnixNano())
}

// passLimiter holds one token bucket per pass id, at most max of them.
type passLimiter struct {
	mu          sync.Mutex
	max         int
	rate, burst float64 // tokens per second, bucket depth
	refillNanos int64   // time for an empty bucket to fill up
	buckets     map[uint64]bucket
}

type bucket struct {
	tokens  float64
	last    int64 // Unix ns of the last update
	expires int64 // Unix s: the pass's expiry, after which the bucket is idle
}

func newPassLimiter(max int, rate, burst float64) *passLimiter {
	return &passLimiter{
		max: max, rate: rate, burst: burst,
		refillNanos: int64(burst / rate * 1e9),
		buckets:     make(map[uint64]bucket),
	}
}

func (l *passLimiter) allow(id uint64, expires, now int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[id]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = bucket{tokens: l.burst, last: now, expires: expires}
	} else if now > b.last {
		b.tokens = min(l.burst, b.tokens+float64(now-b.last)*l.rate/1e9)
		b.last = now
	}
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.buckets[id] = b
	return allowed
}

// evict frees at least an eighth of the buckets: idle ones (full again, or
// of an expired pass) first, then arbitrary ones (map order is random).
func (l *passLimiter) evict(now int64) {
	want := max(1, l.max/8)
	freed := 0
	for id, b := range l.buckets {
		if now-b.last >= l.refillNanos || now/1e9 >= b.expires {
			delete(l.buckets, id)
			freed++
		}
	}
	for id := range l.buckets {
		if freed >= want {
			break
		}
		delete(l.buckets, id)
		freed++
	}
}

func (l *passLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
