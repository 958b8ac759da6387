package waitroom

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"
)

// Cookie names used by ServeHTTP; the shield reads PassCookie.
const (
	TicketCookie = "preau_wait"
	PassCookie   = "preau_admit"
)

// Version is the version byte of tickets and passes this package issues.
// Parse refuses any other version, so a change of layout invalidates old
// tokens cleanly (they are refused as malformed and replaced by new ones).
const Version = 1

// Errors returned by Parse and ParsePass. Callers count them and issue a
// fresh ticket; none of them should ever end the visitor's visit.
var (
	ErrMalformed = errors.New("waitroom: malformed token")
	ErrBadMAC    = errors.New("waitroom: bad signature")
	ErrExpired   = errors.New("waitroom: expired token")
)

// Ticket is a visitor's place in the queue. It is stateless: everything the
// room needs is in the ticket, signed. The zero Ticket is not valid.
type Ticket struct {
	Arrival     time.Time // FIFO order key, millisecond precision; never changes
	LastRefresh time.Time // last time the room re-signed the ticket
	ID          uint64    // random; binds passes to tickets and spots replays
	Version     uint8

	counted bool   // the room has counted it as live (it came back at least once)
	raw     string // signed, encoded form
}

// String returns the signed, encoded ticket: the value of the TicketCookie.
func (t Ticket) String() string { return t.raw }

// Pass is an admission pass: the holder went through the queue and may use
// the site until Expires. The shield honours it (see ParsePass).
type Pass struct {
	ID      uint64 // ID of the ticket that was admitted
	Expires time.Time
	Version uint8

	raw string
}

// String returns the signed, encoded pass: the value of the PassCookie.
func (p Pass) String() string { return p.raw }

// Binary layouts (big-endian), then base64url without padding:
//
//	ticket: version(1) 'T'(1) flags(1) arrival_ms(8) refresh_ms(8) id(8) mac(16)  = 43 B → 58 chars
//	pass:   version(1) 'P'(1) expires_ms(8) id(8) mac(16)                          = 34 B → 46 chars
//
// The MAC is HMAC-SHA256 truncated to 128 bits (as RFC 2104 §5 and
// NIST SP 800-107 allow), computed with a sub-key derived per kind from the
// room key, so that a ticket can never be passed off as a pass or the reverse.
const (
	macLen      = 16
	ticketBody  = 27
	ticketLen   = ticketBody + macLen
	passBody    = 18
	passLen     = passBody + macLen
	kindTicket  = 'T'
	kindPass    = 'P'
	flagCounted = 1
)

// enc is strict so that each token has exactly one textual form.
var enc = base64.RawURLEncoding.Strict()

var (
	ticketTextLen = enc.EncodedLen(ticketLen)
	passTextLen   = enc.EncodedLen(passLen)
)

// signer computes HMAC-SHA256 with a sub-key, reusing hash states.
type signer struct{ pool sync.Pool }

func newSigner(key []byte, label string) *signer {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	sub := m.Sum(nil)
	s := &signer{}
	s.pool.New = func() any { return hmac.New(sha256.New, sub) }
	return s
}

func (s *signer) mac(msg []byte) [sha256.Size]byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	s.pool.Put(h)
	return out
}

func randomID() uint64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return binary.BigEndian.Uint64(b[:])
}

// Issue gives a new visitor a ticket that arrives now. It does not touch the
// room's state: a ticket only counts in the queue once it comes back (see
// the package documentation), so a flood of cookie-less requests cannot fill
// the queue.
func (r *Room) Issue(now time.Time) Ticket {
	ms := now.UnixMilli()
	t := Ticket{Arrival: time.UnixMilli(ms), LastRefresh: time.UnixMilli(ms), ID: randomID(), Version: Version}
	r.sealTicket(&t)
	r.stats.issued.Add(1)
	return t
}

func (r *Room) sealTicket(t *Ticket) {
	var b [ticketLen]byte
	b[0] = Version
	b[1] = kindTicket
	if t.counted {
		b[2] = flagCounted
	}
	binary.BigEndian.PutUint64(b[3:], uint64(t.Arrival.UnixMilli()))
	binary.BigEndian.PutUint64(b[11:], uint64(t.LastRefresh.UnixMilli()))
	binary.BigEndian.PutUint64(b[19:], t.ID)
	m := r.ticketMAC.mac(b[:ticketBody])
	copy(b[ticketBody:], m[:macLen])
	t.Version = Version
	t.raw = enc.EncodeToString(b[:])
}

// Parse checks a ticket from the TicketCookie against the room's clock. The
// MAC is checked in constant time before anything else in the ticket is
// trusted; a ticket whose last refresh is older than the grace period is
// ErrExpired (its place is lost, the visitor gets a new ticket).
func (r *Room) Parse(s string) (Ticket, error) {
	return r.parseTicket(s, r.now())
}

func (r *Room) parseTicket(s string, now time.Time) (Ticket, error) {
	if len(s) != ticketTextLen {
		return Ticket{}, ErrMalformed
	}
	var b [ticketLen]byte
	n, err := enc.Decode(b[:], []byte(s))
	if err != nil || n != ticketLen {
		return Ticket{}, ErrMalformed
	}
	if b[0] != Version || b[1] != kindTicket || b[2]&^flagCounted != 0 {
		return Ticket{}, ErrMalformed
	}
	m := r.ticketMAC.mac(b[:ticketBody])
	if !hmac.Equal(m[:macLen], b[ticketBody:]) {
		return Ticket{}, ErrBadMAC
	}
	arrival := int64(binary.BigEndian.Uint64(b[3:]))
	last := int64(binary.BigEndian.Uint64(b[11:]))
	// Only a key compromise could produce these, but never trust arithmetic
	// on them: a negative or reversed time would break the histogram maths.
	if arrival <= 0 || last < arrival {
		return Ticket{}, ErrMalformed
	}
	if now.UnixMilli()-last > r.graceMs {
		return Ticket{}, ErrExpired
	}
	return Ticket{
		Arrival:     time.UnixMilli(arrival),
		LastRefresh: time.UnixMilli(last),
		ID:          binary.BigEndian.Uint64(b[19:]),
		Version:     b[0],
		counted:     b[2]&flagCounted != 0,
		raw:         s,
	}, nil
}

// IssuePass gives the holder of an admitted ticket a pass valid for
// Config.PassTTL from now. It does not check that t is admitted: callers
// (ServeHTTP, or the shield) do that with Check first.
func (r *Room) IssuePass(t Ticket, now time.Time) Pass {
	exp := now.Add(r.cfg.PassTTL).UnixMilli()
	p := Pass{ID: t.ID, Expires: time.UnixMilli(exp), Version: Version}
	var b [passLen]byte
	b[0] = Version
	b[1] = kindPass
	binary.BigEndian.PutUint64(b[2:], uint64(exp))
	binary.BigEndian.PutUint64(b[10:], t.ID)
	m := r.passMAC.mac(b[:passBody])
	copy(b[passBody:], m[:macLen])
	p.raw = enc.EncodeToString(b[:])
	return p
}

// ParsePass checks a pass from the PassCookie against the room's clock:
// ErrMalformed, ErrBadMAC (constant-time check) or ErrExpired once Expires
// is reached. Passes are stateless and can be copied; the shield should give
// pass holders their own rate limit keyed by Pass.ID.
func (r *Room) ParsePass(s string) (Pass, error) {
	return r.parsePass(s, r.now())
}

func (r *Room) parsePass(s string, now time.Time) (Pass, error) {
	if len(s) != passTextLen {
		return Pass{}, ErrMalformed
	}
	var b [passLen]byte
	n, err := enc.Decode(b[:], []byte(s))
	if err != nil || n != passLen {
		return Pass{}, ErrMalformed
	}
	if b[0] != Version || b[1] != kindPass {
		return Pass{}, ErrMalformed
	}
	m := r.passMAC.mac(b[:passBody])
	if !hmac.Equal(m[:macLen], b[passBody:]) {
		return Pass{}, ErrBadMAC
	}
	exp := int64(binary.BigEndian.Uint64(b[2:]))
	if exp <= 0 {
		return Pass{}, ErrMalformed
	}
	if now.UnixMilli() >= exp {
		return Pass{}, ErrExpired
	}
	return Pass{ID: binary.BigEndian.Uint64(b[10:]), Expires: time.UnixMilli(exp), Version: b[0], raw: s}, nil
}
