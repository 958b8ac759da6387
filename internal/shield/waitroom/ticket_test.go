package waitroom

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a fake clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func newRoom(tb testing.TB, key []byte, c *clock, cfg Config) *Room {
	tb.Helper()
	cfg.Now = c.Now
	r, err := New(key, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New([]byte("short"), Config{}); err == nil {
		t.Error("short key accepted")
	}
	for _, cfg := range []Config{
		{Grace: time.Second},
		{Bucket: 1500 * time.Microsecond},
		{Window: time.Second},
		{Window: 1000 * time.Hour, Bucket: time.Millisecond},
		{PassTTL: -time.Second},
	} {
		if _, err := New(testKey, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestTicketRoundTrip(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	tk := r.Issue(c.Now())
	if len(tk.String()) != 58 {
		t.Errorf("encoded ticket is %d chars, want 58", len(tk.String()))
	}
	c.Advance(time.Minute)
	got, err := r.Parse(tk.String())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Arrival.Equal(t0) || !got.LastRefresh.Equal(t0) || got.ID != tk.ID || got.Version != Version {
		t.Errorf("parsed %+v, issued %+v", got, tk)
	}
	ref := r.Refresh(got, c.Now())
	if !ref.Arrival.Equal(t0) || !ref.LastRefresh.Equal(c.Now()) || ref.ID != tk.ID || ref.String() == tk.String() {
		t.Errorf("refreshed %+v", ref)
	}
	// A refresh keeps the place alive past the first grace period.
	c.Advance(DefaultGrace)
	if _, err := r.Parse(ref.String()); err != nil {
		t.Errorf("refreshed ticket within grace: %v", err)
	}
	if _, err := r.Parse(tk.String()); !errors.Is(err, ErrExpired) {
		t.Errorf("stale ticket: %v, want ErrExpired", err)
	}
}

func TestGraceBoundary(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{Grace: time.Minute})
	tk := r.Issue(c.Now())
	c.Advance(time.Minute)
	if _, err := r.Parse(tk.String()); err != nil {
		t.Errorf("at exactly the grace period: %v", err)
	}
	c.Advance(time.Millisecond)
	if _, err := r.Parse(tk.String()); !errors.Is(err, ErrExpired) {
		t.Errorf("just past the grace period: %v, want ErrExpired", err)
	}
}

func TestTamperedAndForgedTicketsRefused(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	tk := r.Issue(c.Now())
	raw, err := enc.DecodeString(tk.String())
	if err != nil {
		t.Fatal(err)
	}
	// Every single-bit change of every byte is refused.
	for i := range raw {
		for bit := range 8 {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if _, err := r.Parse(enc.EncodeToString(b)); err == nil {
				t.Fatalf("byte %d bit %d flipped: accepted", i, bit)
			}
		}
	}
	// Moving the arrival time earlier (jumping the queue) breaks the MAC.
	b := append([]byte(nil), raw...)
	b[10]--
	if _, err := r.Parse(enc.EncodeToString(b)); !errors.Is(err, ErrBadMAC) {
		t.Errorf("earlier arrival: %v, want ErrBadMAC", err)
	}
	// Another key's ticket is a forgery.
	other := newRoom(t, []byte("another key, also 32 bytes long!"), c, Config{})
	if _, err := r.Parse(other.Issue(c.Now()).String()); !errors.Is(err, ErrBadMAC) {
		t.Errorf("forged ticket: %v, want ErrBadMAC", err)
	}
	// A pass is not a ticket and a ticket is not a pass.
	p := r.IssuePass(tk, c.Now())
	if _, err := r.Parse(p.String()); !errors.Is(err, ErrMalformed) {
		t.Errorf("pass as ticket: %v", err)
	}
	if _, err := r.ParsePass(tk.String()); !errors.Is(err, ErrMalformed) {
		t.Errorf("ticket as pass: %v", err)
	}
	for _, s := range []string{"", "x", strings.Repeat("A", 58), strings.Repeat("A", 4000),
		tk.String() + "A", tk.String()[:57], tk.String()[:57] + "!", base64.URLEncoding.EncodeToString(raw)} {
		if _, err := r.Parse(s); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadMAC) {
			t.Errorf("Parse(%q) = %v", s, err)
		}
	}
}

func TestNonCanonicalEncodingRefused(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{})
	s := r.Issue(c.Now()).String()
	// 43 bytes leave 2 spare bits in the last character; setting them
	// must not yield a second valid spelling of the same ticket.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[len(s)-1])
	alt := s[:len(s)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
	if alt != s {
		if _, err := r.Parse(alt); err == nil {
			t.Error("non-canonical spelling accepted")
		}
	}
}

func TestPasses(t *testing.T) {
	c := &clock{t: t0}
	r := newRoom(t, testKey, c, Config{PassTTL: 10 * time.Minute})
	tk := r.Issue(c.Now())
	p := r.IssuePass(tk, c.Now())
	if len(p.String()) != 46 {
		t.Errorf("encoded pass is %d chars", len(p.String()))
	}
	got, err := r.ParsePass(p.String())
	if err != nil || got.ID != tk.ID || !got.Expires.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("ParsePass = %+v, %v", got, err)
	}
	other := newRoom(t, []byte("another key, also 32 bytes long!"), c, Config{})
	if _, err := r.ParsePass(other.IssuePass(tk, c.Now()).String()); !errors.Is(err, ErrBadMAC) {
		t.Errorf("forged pass: %v", err)
	}
	raw, _ := enc.DecodeString(p.String())
	raw[5] ^= 0x40 // push the expiry into the future
	if _, err := r.ParsePass(enc.EncodeToString(raw)); !errors.Is(err, ErrBadMAC) {
		t.Errorf("extended pass: %v", err)
	}
	c.Advance(10*time.Minute - time.Millisecond)
	if _, err := r.ParsePass(p.String()); err != nil {
		t.Errorf("pass just before expiry: %v", err)
	}
	c.Advance(time.Millisecond)
	if _, err := r.ParsePass(p.String()); !errors.Is(err, ErrExpired) {
		t.Errorf("expired pass: %v", err)
	}
	// After a restart (same key) the pass is still honoured.
	c2 := &clock{t: t0.Add(time.Minute)}
	r2 := newRoom(t, testKey, c2, Config{PassTTL: 10 * time.Minute})
	if _, err := r2.ParsePass(p.String()); err != nil {
		t.Errorf("pass after restart: %v", err)
	}
}

func FuzzParseTicket(f *testing.F) {
	c := &clock{t: t0}
	r := newRoom(f, testKey, c, Config{})
	tk := r.Issue(c.Now())
	f.Add(tk.String())
	f.Add(r.Refresh(tk, c.Now()).String())
	f.Add(r.IssuePass(tk, c.Now()).String())
	f.Add("")
	f.Add(strings.Repeat("_", 58))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := r.Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadMAC) && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Only the room's own tickets pass, in their one canonical form,
		// and they behave in the queue.
		if got.String() != s {
			t.Fatalf("accepted %q, canonical %q", s, got.String())
		}
		r.Check(got, c.Now())
		r.Check(r.Refresh(got, c.Now()), c.Now())
	})
}

func FuzzParsePass(f *testing.F) {
	c := &clock{t: t0}
	r := newRoom(f, testKey, c, Config{})
	tk := r.Issue(c.Now())
	f.Add(r.IssuePass(tk, c.Now()).String())
	f.Add(tk.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := r.ParsePass(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadMAC) && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if got.String() != s {
			t.Fatalf("accepted %q, canonical %q", s, got.String())
		}
	})
}

// FuzzSignedTicketFields signs arbitrary field values, as a leaked key
// could, to check that the room never misbehaves on what a valid MAC covers.
func FuzzSignedTicketFields(f *testing.F) {
	c := &clock{t: t0}
	r := newRoom(f, testKey, c, Config{})
	f.Add(uint64(t0.UnixMilli()), uint64(t0.UnixMilli()), byte(0))
	f.Add(uint64(1), uint64(1<<63), byte(1))
	f.Add(uint64(1<<63-1), uint64(1<<63-1), byte(1))
	f.Fuzz(func(t *testing.T, arrival, last uint64, flags byte) {
		var b [ticketLen]byte
		b[0], b[1], b[2] = Version, kindTicket, flags
		binary.BigEndian.PutUint64(b[3:], arrival)
		binary.BigEndian.PutUint64(b[11:], last)
		m := r.ticketMAC.mac(b[:ticketBody])
		copy(b[ticketBody:], m[:macLen])
		tk, err := r.Parse(enc.EncodeToString(b[:]))
		if err != nil {
			return
		}
		if _, pos, _ := r.Check(tk, c.Now()); pos < 0 {
			t.Fatalf("negative position %d", pos)
		}
		tk = r.Refresh(tk, c.Now())
		if _, pos, _ := r.Check(tk, c.Now()); pos < 0 {
			t.Fatalf("negative position %d", pos)
		}
		r.Admit(1)
		if s := r.Stats(c.Now()); s.Waiting < 0 {
			t.Fatalf("negative queue %d", s.Waiting)
		}
	})
}
