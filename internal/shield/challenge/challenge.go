// Package challenge is the shield's proof-of-work challenge: a stateless,
// HMAC-signed puzzle that a browser solves in a few hundred milliseconds and
// that makes each request of a flood cost the sender CPU time. The shield
// decides who gets it (attack mode or suspicious sources, never logged-in
// users); this package only provides the mechanism: tokens, verification,
// passes, their rate limit, the difficulty policy and the HTTP handler.
//
// # Protocol
//
//  1. GET {BasePath}?next=/path serves a small page holding a token
//     (Issue). The token is base64url(payload) "." base64url(HMAC-SHA256),
//     102 ASCII bytes; the 43-byte payload is
//     version(1) difficulty(1) issued(8, Unix s) expires(8, Unix s)
//     nonce(16, random) family(1: 4, 6 or 0 for an unknown address)
//     network(8: the first 3 bytes of the client's /24, or the first 7 of
//     its /56, zero-padded). The key is derived from Config.Key with a
//     label, so challenge and pass MACs never collide.
//  2. The browser searches for a decimal counter (1 to 16 digits) such that
//     SHA-256(token ":" counter) has at least `difficulty` leading zero
//     bits, and posts token, counter and next with an ordinary form.
//  3. POST {BasePath} verifies (Verify): length and alphabet, then the MAC
//     (constant-time comparison), expiry, network (the client's /24 or /56
//     must equal the one signed in the token, so a solution cannot be
//     farmed out to another network), the work (one SHA-256), and finally
//     the replay set. On success it sets the pass cookie preau_pass and
//     answers 303 to `next`, which must be a local path; on failure 403 with
//     a message in French or English and links to try again or to the
//     waiting room.
//
// Nothing is stored per challenge issued: the server keeps only the nonces
// of challenges already solved, until they expire (TTL, 2 minutes by
// default). That replay set holds at most Config.ReplayEntries nonces
// (65,536 by default): a 16-byte nonce and 8-byte expiry in a map plus a
// 24-byte FIFO slot, measured at 110 bytes per entry with map and slice
// slack, 7.2 MB when full.
// When full, the oldest entry is forgotten first: replaying it would require
// the attacker to have solved 65,536 challenges in the meantime, which is
// more work than the replay saves.
//
// # Passes and their rate limit
//
// A pass is a signed cookie (IssuePass, ParsePass) with a random 64-bit id,
// issue and expiry times (1 hour by default) and the same /24 or /56
// binding. A pass is not a free ticket: AllowPass runs a token bucket per
// pass id (5 requests/s, burst 20 by default) so one solved pass cannot
// drive a flood. The buckets live in a map of at most Config.PassBuckets
// entries (65,536 by default; 32 bytes each, measured at 122 bytes with map
// slack and deletions, 8 MB when full). When it is
// full, idle buckets (full again, or of expired passes) are dropped first;
// if fewer than an eighth were idle, arbitrary buckets are dropped until an
// eighth is free. A dropped busy bucket restarts at full burst, so the
// worst an attacker gains is one burst per pass after solving 8,192 fresh
// challenges.
//
// # Difficulty policy and the phone budget
//
// Expected work is 2^bits hashes; the number of attempts is geometric, so
// the chance of still searching after N attempts is exp(-N/2^bits).
// The budget, measured with this package's own JavaScript solver
// (static/worker.js, which hashes the whole 64-byte blocks of the token once
// and then compresses one block per attempt) under Node 20 on one core of
// a shared Xeon server: about 2.5 million hashes per second. A low-end phone
// (Cortex-A53 class, Android Go) runs plain JavaScript 5 to 10 times slower;
// taking the slow end: 250,000 hashes/s. In 3 s that is 750,000 attempts.
// Asking that 90% of such phones finish within 3 s:
// 2^bits <= 750,000 / ln(10) = 326,000, hence bits <= 18.3:
// MaxDifficulty = 18. At 18 bits the slowest phone needs 1.05 s on average,
// 2.4 s at the 90th percentile, 4.8 s at the 99th, on one core; the solver
// uses up to 4 workers on multi-core phones, and a phone at the fast end
// (500,000 hashes/s) takes 0.5 s on average. A browser that is slower still,
// or has no JavaScript, is offered the waiting room instead (a link that
// appears after a few seconds, and a <noscript> link).
//
// Difficulty(suspicion, load) maps both signals (0..1) to
// MinDifficulty..MaxDifficulty: x = s + (1-s)*load/2, bits =
// MinDifficulty + round(x*(MaxDifficulty-MinDifficulty)). Suspicion alone
// reaches the cap; load alone reaches half of the range (15 bits, about
// 0.13 s on a slow phone), since under load honest newcomers are the ones
// paying. A determined attacker with native code or GPUs solves any of these
// quickly: the point is to make each request of a cheap flood cost real CPU
// time, not to stop an adversary who can outcompute a phone.
//
// # Browser side
//
// The page is tiny, has no inline script or style (CSP script-src 'self')
// and loads static/solver.js, which starts up to 4 Web Workers running
// static/worker.js, shows a <progress> bar and a role="status" line, then
// submits the form. worker.js carries its own SHA-256: crypto.subtle is
// asynchronous, needs a secure context and costs far more per call than one
// block compression. Without workers the solver loads worker.js as a plain
// script and searches on the main thread in short slices. The scripts are
// served under content-hashed names with a one-year immutable cache.
package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Errors returned by Verify and ParsePass. They are cheap to produce: a
// malformed or forged input costs at most one HMAC computation.
var (
	ErrMalformed        = errors.New("challenge: malformed")
	ErrBadMAC           = errors.New("challenge: bad signature")
	ErrExpired          = errors.New("challenge: expired")
	ErrWrongNetwork     = errors.New("challenge: issued to another network")
	ErrInsufficientWork = errors.New("challenge: insufficient work")
	ErrReplayed         = errors.New("challenge: already used")
	ErrNoPass           = errors.New("challenge: no pass cookie")
)

// Bounds of the difficulty, in leading zero bits. See the package comment
// for the phone budget that sets MaxDifficulty.
const (
	MinDifficulty = 12
	MaxDifficulty = 18
)

// CookieName is the name of the pass cookie.
const CookieName = "preau_pass"

// Defaults for the zero values of Config.
const (
	DefaultTTL           = 2 * time.Minute
	DefaultPassTTL       = time.Hour
	DefaultBasePath      = "/_shield/challenge"
	DefaultReplayEntries = 1 << 16
	DefaultPassBuckets   = 1 << 16
	DefaultPassRate      = 5
	DefaultPassBurst     = 20
)

// Config configures a Challenger. Key and WaitingRoomURL are required.
type Config struct {
	// Key signs challenges and passes; at least 32 bytes, secret, shared by
	// all instances that must accept each other's tokens.
	Key []byte
	// TTL is how long a challenge may be solved (DefaultTTL).
	TTL time.Duration
	// PassTTL is how long a pass is valid (DefaultPassTTL).
	PassTTL time.Duration
	// BasePath is where the handler is mounted (DefaultBasePath); the
	// scripts are served below it.
	BasePath string
	// WaitingRoomURL is the no-JavaScript fallback; the page links to it
	// with ?next=<path> appended.
	WaitingRoomURL string
	// StylesheetURL, if set, is linked from the page.
	StylesheetURL string
	// ClientAddr returns the client address of a request (the shield
	// resolves trusted proxies). Default: the TCP peer from RemoteAddr.
	ClientAddr func(*http.Request) netip.Addr
	// DifficultyFor returns the difficulty of a new challenge for a request.
	// Default: Difficulty(0.5, 0.5).
	DifficultyFor func(*http.Request) int
	// Lang returns "fr" or "en" for a request. Default: Accept-Language,
	// French unless English is preferred.
	Lang func(*http.Request) string
	// SecureCookie forces the Secure attribute on the pass cookie (it is
	// always set for requests that came over TLS).
	SecureCookie bool
	// ReplayEntries bounds the replay set (DefaultReplayEntries).
	ReplayEntries int
	// PassBuckets bounds the per-pass rate limiter (DefaultPassBuckets).
	PassBuckets int
	// PassRate (requests/s) and PassBurst configure each pass's bucket
	// (DefaultPassRate, DefaultPassBurst).
	PassRate, PassBurst float64
	// Now is the clock for the HTTP handler (time.Now).
	Now func() time.Time
}

// Challenger issues and verifies challenges and passes. It is safe for
// concurrent use.
type Challenger struct {
	cfg       Config
	chalKey   []byte
	passKey   []byte
	ttl       int64 // seconds
	passTTL   int64 // seconds
	replay    *replaySet
	limiter   *passLimiter
	macs      sync.Pool // *macState
	assets    *assets
	solverURL string
	workerURL string
}

// New returns a Challenger for cfg.
func New(cfg Config) (*Challenger, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("challenge: key must be at least 32 bytes")
	}
	if cfg.WaitingRoomURL == "" {
		return nil, errors.New("challenge: a waiting room URL is required (no-JavaScript fallback)")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.PassTTL <= 0 {
		cfg.PassTTL = DefaultPassTTL
	}
	if cfg.BasePath == "" {
		cfg.BasePath = DefaultBasePath
	}
	if cfg.BasePath[0] != '/' || cfg.BasePath[len(cfg.BasePath)-1] == '/' {
		return nil, errors.New("challenge: BasePath must start with / and not end with /")
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = peerAddr
	}
	if cfg.DifficultyFor == nil {
		cfg.DifficultyFor = func(*http.Request) int { return Difficulty(0.5, 0.5) }
	}
	if cfg.Lang == nil {
		cfg.Lang = acceptLanguage
	}
	if cfg.ReplayEntries <= 0 {
		cfg.ReplayEntries = DefaultReplayEntries
	}
	if cfg.PassBuckets <= 0 {
		cfg.PassBuckets = DefaultPassBuckets
	}
	if cfg.PassRate <= 0 {
		cfg.PassRate = DefaultPassRate
	}
	if cfg.PassBurst < 1 {
		cfg.PassBurst = DefaultPassBurst
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	c := &Challenger{
		cfg:     cfg,
		chalKey: derive(cfg.Key, "preau/shield/challenge/v1"),
		passKey: derive(cfg.Key, "preau/shield/pass/v1"),
		ttl:     ceilSeconds(cfg.TTL),
		passTTL: ceilSeconds(cfg.PassTTL),
		replay:  newReplaySet(cfg.ReplayEntries),
		limiter: newPassLimiter(cfg.PassBuckets, cfg.PassRate, cfg.PassBurst),
		assets:  a,
	}
	c.solverURL = cfg.BasePath + "/" + a.solver.name
	c.workerURL = cfg.BasePath + "/" + a.worker.name
	return c, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// Token layout (see the package comment).
const (
	tokVersion    = 1
	payloadLen    = 43
	macLen        = sha256.Size
	payloadB64Len = (payloadLen*8 + 5) / 6 // 58
	macB64Len     = (macLen*8 + 5) / 6     // 43
	tokenLen      = payloadB64Len + 1 + macB64Len
	maxCounterLen = 16
)

var b64 = base64.RawURLEncoding.Strict()

// network is a client's /24 (IPv4) or /56 (IPv6) in the 9 bytes a token or
// pass carries: family, then up to 8 bytes of prefix, zero-padded.
type network [9]byte

// networkOf returns the network of a, after unmapping IPv4-in-IPv6
// addresses. An invalid address has family 0 and matches only itself.
func networkOf(a netip.Addr) network {
	var n network
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		n[0] = 4
		copy(n[1:4], b[:3])
	case a.Is6():
		b := a.As16()
		n[0] = 6
		copy(n[1:8], b[:7])
	}
	return n
}

func (n network) valid() bool {
	switch n[0] {
	case 0:
		return n == network{}
	case 4:
		return n[4]|n[5]|n[6]|n[7]|n[8] == 0
	case 6:
		return n[8] == 0
	}
	return false
}

func (n network) prefix() netip.Prefix {
	switch n[0] {
	case 4:
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{n[1], n[2], n[3], 0}), 24)
	case 6:
		var b [16]byte
		copy(b[:7], n[1:8])
		return netip.PrefixFrom(netip.AddrFrom16(b), 56)
	}
	return netip.Prefix{}
}

// Prefix returns the network a challenge or pass is bound to: the /24 of an
// IPv4 address, the /56 of an IPv6 one (the zero Prefix if a is invalid).
func Prefix(a netip.Addr) netip.Prefix { return networkOf(a).prefix() }

type macState struct {
	chal, pass hashWriter
	buf        [macLen]byte
}

type hashWriter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
}

func (c *Challenger) getMAC() *macState {
	if m, ok := c.macs.Get().(*macState); ok {
		return m
	}
	return &macState{chal: hmac.New(sha256.New, c.chalKey), pass: hmac.New(sha256.New, c.passKey)}
}

// sign writes the base64url MAC of payload (under h) to dst.
func sign(h hashWriter, scratch *[macLen]byte, payload []byte) []byte {
	h.Reset()
	h.Write(payload)
	return h.Sum(scratch[:0])
}

// Issue returns a new challenge for client, valid from now for the TTL.
// difficulty is clamped to 0..MaxDifficulty; the shield normally passes
// Difficulty(suspicion, load).
func (c *Challenger) Issue(client netip.Addr, difficulty int, now time.Time) string {
	difficulty = max(0, min(difficulty, MaxDifficulty))
	var p [payloadLen]byte
	p[0] = tokVersion
	p[1] = byte(difficulty)
	t := now.Unix()
	binary.BigEndian.PutUint64(p[2:10], uint64(t))
	binary.BigEndian.PutUint64(p[10:18], uint64(t+c.ttl))
	rand.Read(p[18:34]) // never fails (crypto/rand since Go 1.24)
	n := networkOf(client)
	copy(p[34:43], n[:])

	m := c.getMAC()
	mac := sign(m.chal, &m.buf, p[:])
	var out [tokenLen]byte
	b64.Encode(out[:payloadB64Len], p[:])
	out[payloadB64Len] = '.'
	b64.Encode(out[payloadB64Len+1:], mac)
	c.macs.Put(m)
	return string(out[:])
}

// challenge is a parsed, authenticated token.
type challenge struct {
	difficulty int
	issued     int64
	expires    int64
	nonce      [16]byte
	net        network
}

// parseToken checks the token's shape and MAC.
func (c *Challenger) parseToken(token string) (challenge, error) {
	var ch challenge
	if len(token) != tokenLen || token[payloadB64Len] != '.' {
		return ch, ErrMalformed
	}
	var p [payloadLen]byte
	var mac [macLen]byte
	if n, err := b64.Decode(p[:], []byte(token[:payloadB64Len])); err != nil || n != payloadLen {
		return ch, ErrMalformed
	}
	if n, err := b64.Decode(mac[:], []byte(token[payloadB64Len+1:])); err != nil || n != macLen {
		return ch, ErrMalformed
	}
	m := c.getMAC()
	ok := hmac.Equal(sign(m.chal, &m.buf, p[:]), mac[:])
	c.macs.Put(m)
	if !ok {
		return ch, ErrBadMAC
	}
	// Signed by us, so the fields are ours; still checked, cheaply.
	ch.difficulty = int(p[1])
	ch.issued = int64(binary.BigEndian.Uint64(p[2:10]))
	ch.expires = int64(binary.BigEndian.Uint64(p[10:18]))
	copy(ch.nonce[:], p[18:34])
	copy(ch.net[:], p[34:43])
	if p[0] != tokVersion || ch.difficulty > 64 || ch.expires < ch.issued || !ch.net.valid() {
		return ch, ErrMalformed
	}
	return ch, nil
}

func validCounter(s string) bool {
	if len(s) == 0 || len(s) > maxCounterLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Verify checks a solution: counter must make SHA-256(token ":" counter)
// start with the token's number of zero bits, for a token this Challenger
// issued to client's network and that has not expired or been used. A
// successful Verify consumes the token. The errors are ErrMalformed,
// ErrBadMAC, ErrExpired, ErrWrongNetwork, ErrInsufficientWork and
// ErrReplayed, checked in that order.
func (c *Challenger) Verify(token, counter string, client netip.Addr, now time.Time) error {
	if !validCounter(counter) {
		return ErrMalformed
	}
	ch, err := c.parseToken(token)
	if err != nil {
		return err
	}
	t := now.Unix()
	if t >= ch.expires {
		return ErrExpired
	}
	if networkOf(client) != ch.net {
		return ErrWrongNetwork
	}
	if leadingZeros(token, counter) < ch.difficulty {
		return ErrInsufficientWork
	}
	if !c.replay.add(ch.nonce, ch.expires, t) {
		return ErrReplayed
	}
	return nil
}

// leadingZeros returns the number of leading zero bits of
// SHA-256(token ":" counter).
func leadingZeros(token, counter string) int {
	var buf [tokenLen + 1 + maxCounterLen]byte
	n := copy(buf[:], token)
	buf[n] = ':'
	n++
	n += copy(buf[n:], counter)
	sum := sha256.Sum256(buf[:n])
	z := 0
	for i := 0; i < len(sum); i += 8 {
		w := binary.BigEndian.Uint64(sum[i:])
		z += bits.LeadingZeros64(w)
		if w != 0 {
			break
		}
	}
	return z
}

// Difficulty maps the suspicion of a source and the load of the platform
// (both 0..1; out-of-range values are clamped, NaN counts as 1) to a number
// of leading zero bits between MinDifficulty and MaxDifficulty. See the
// package comment for the formula and the phone budget behind the cap.
func Difficulty(suspicion, load float64) int {
	s, l := unit(suspicion), unit(load)
	x := s + (1-s)*l/2
	return MinDifficulty + int(x*float64(MaxDifficulty-MinDifficulty)+0.5)
}

func unit(v float64) float64 {
	if !(v >= 0) { // NaN or negative
		if v != v {
			return 1
		}
		return 0
	}
	return min(v, 1)
}
