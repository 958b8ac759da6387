package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// testParams are deliberately cheap so the suite stays fast; security of the
// parameters is not what these tests check.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newTestHasher(t *testing.T) *Hasher {
	t.Helper()
	return NewHasher(testParams, 2)
}

func mustHash(t *testing.T, h *Hasher, pw string) string {
	t.Helper()
	enc, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return enc
}

func TestRoundTrip(t *testing.T) {
	h := newTestHasher(t)
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd ✓", strings.Repeat("x", 10000)} {
		enc := mustHash(t, h, pw)
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("unexpected encoding %q", enc)
		}
		ok, err := h.Verify(context.Background(), pw, enc)
		if err != nil || !ok {
			t.Errorf("Verify(%.20q) = %v, %v; want true, nil", pw, ok, err)
		}
	}
}

func TestSaltIsRandom(t *testing.T) {
	h := newTestHasher(t)
	a, b := mustHash(t, h, "same"), mustHash(t, h, "same")
	if a == b {
		t.Fatalf("two hashes of the same password are identical: %q", a)
	}
}

func TestWrongPassword(t *testing.T) {
	h := newTestHasher(t)
	enc := mustHash(t, h, "secret")
	for _, pw := range []string{"Secret", "secret ", "", "secre"} {
		ok, err := h.Verify(context.Background(), pw, enc)
		if err != nil || ok {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

func TestTamperedHash(t *testing.T) {
	h := newTestHasher(t)
	enc := mustHash(t, h, "secret")
	parts := strings.Split(enc, "$") // "", argon2id, v=19, m=..., salt, key

	// Well-formed but altered: must parse, and must not verify.
	flipFirst := func(s string) string {
		c := byte('A')
		if s[0] == 'A' {
			c = 'B'
		}
		return string(c) + s[1:]
	}
	mismatched := map[string]string{
		"salt changed":  strings.Join([]string{"", parts[1], parts[2], parts[3], flipFirst(parts[4]), parts[5]}, "$"),
		"key changed":   strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], flipFirst(parts[5])}, "$"),
		"memory raised": strings.Replace(enc, "m=64,", "m=128,", 1),
		"time raised":   strings.Replace(enc, "t=1,", "t=2,", 1),
	}
	for name, s := range mismatched {
		ok, err := h.Verify(context.Background(), "secret", s)
		if err != nil || ok {
			t.Errorf("%s: Verify = %v, %v; want false, nil", name, ok, err)
		}
	}

	// Malformed: must be an error wrapping ErrMalformed, never a panic.
	malformed := map[string]string{
		"empty":            "",
		"argon2i":          strings.Replace(enc, "$argon2id$", "$argon2i$", 1),
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"version 16":       strings.Replace(enc, "v=19", "v=16", 1),
		"no version":       strings.Replace(enc, "$v=19", "", 1),
		"leading zero":     strings.Replace(enc, "m=64", "m=064", 1),
		"plus sign":        strings.Replace(enc, "m=64", "m=+64", 1),
		"reordered params": strings.Replace(enc, "m=64,t=1", "t=1,m=64", 1),
		"extra param":      strings.Replace(enc, "p=1", "p=1,keyid=x", 1),
		"threads 0":        strings.Replace(enc, "p=1", "p=0", 1),
		"threads 256":      strings.Replace(enc, "p=1", "p=256", 1),
		"time 0":           strings.Replace(enc, "t=1", "t=0", 1),
		"huge memory":      strings.Replace(enc, "m=64", "m=4294967295", 1),
		"memory overflow":  strings.Replace(enc, "m=64", "m=4294967296", 1),
		"truncated":        enc[:len(enc)-10],
		"missing key":      strings.Join(parts[:5], "$"),
		"extra field":      enc + "$AAAA",
		"padded base64":    enc + "=",
		"bad base64":       strings.Replace(enc, parts[4], "!!!!"+parts[4][4:], 1),
		"short salt":       strings.Replace(enc, parts[4], "AAAA", 1),
		"short key":        strings.Replace(enc, parts[5], "AAAA", 1),
	}
	for name, s := range malformed {
		ok, err := h.Verify(context.Background(), "secret", s)
		if ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify(%q) = %v, %v; want false, ErrMalformed", name, s, ok, err)
		}
		if !h.NeedsRehash(s) {
			t.Errorf("%s: NeedsRehash = false for a malformed hash", name)
		}
	}
}

func TestOtherParamsStillVerify(t *testing.T) {
	old := NewHasher(Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16}, 1)
	enc := mustHash(t, old, "secret")

	h := newTestHasher(t)
	ok, err := h.Verify(context.Background(), "secret", enc)
	if err != nil || !ok {
		t.Fatalf("Verify with old params = %v, %v; want true, nil", ok, err)
	}
	if !h.NeedsRehash(enc) {
		t.Error("NeedsRehash = false for a hash with other params")
	}
	p, salt, key, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if p != old.Params() || len(salt) != 8 || len(key) != 16 {
		t.Errorf("Decode = %+v (salt %d, key %d), want %+v", p, len(salt), len(key), old.Params())
	}
}

func TestNeedsRehash(t *testing.T) {
	h := newTestHasher(t)
	if enc := mustHash(t, h, "pw"); h.NeedsRehash(enc) {
		t.Errorf("NeedsRehash(own hash) = true")
	}
	// Every single parameter change must be noticed, including the ones
	// only visible through the salt and key lengths.
	variants := []Params{testParams, testParams, testParams, testParams, testParams}
	variants[0].Memory = 128
	variants[1].Time = 2
	variants[2].Threads = 2
	variants[3].SaltLen = 32
	variants[4].KeyLen = 64
	for _, p := range variants {
		enc := mustHash(t, NewHasher(p, 1), "pw")
		if !h.NeedsRehash(enc) {
			t.Errorf("NeedsRehash = false for params %+v", p)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	want := Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if p != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	h := NewHasher(p, 1)
	enc := mustHash(t, h, "secret")
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("unexpected encoding %q", enc)
	}
	if ok, err := h.Verify(context.Background(), "secret", enc); err != nil || !ok {
		t.Errorf("Verify = %v, %v; want true, nil", ok, err)
	}
}

// TestReferenceVectors checks interoperability with the reference C
// implementation: these strings were produced by libargon2 (the phc-winner-
// argon2 library, Debian's libargon2-1 20171227) via argon2id_hash_encoded.
// They pin both the key derivation and the encoding, so hashes can move
// between this package and any other conforming implementation.
func TestReferenceVectors(t *testing.T) {
	vectors := []struct{ password, encoded string }{
		{"password", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM"},
		{"correct horse battery staple", "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0"},
		{"secret", "$argon2id$v=19$m=128,t=2,p=2$c2FsdHNhbHQ$197jFzZMgGwcy8HypgxkUw"},
	}
	h := newTestHasher(t)
	for _, v := range vectors {
		ok, err := h.Verify(context.Background(), v.password, v.encoded)
		if err != nil || !ok {
			t.Errorf("Verify(%q, %q) = %v, %v; want true, nil", v.password, v.encoded, ok, err)
		}
		p, salt, key, err := Decode(v.encoded)
		if err != nil {
			t.Fatal(err)
		}
		if got := encode(p, salt, key); got != v.encoded {
			t.Errorf("re-encoded %q as %q", v.encoded, got)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Params{
		{Memory: 63, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 4*1024*1024 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 16, SaltLen: 16, KeyLen: 32}, // < 8 KiB per lane
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		{},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", p)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with invalid params did not panic")
		}
	}()
	NewHasher(Params{}, 1)
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	h := NewHasher(testParams, 1)
	h.sem <- struct{}{} // occupy the only slot, as a long-running hash would

	// Already cancelled: must not win the slot even though select is random.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled ctx: err = %v, want context.Canceled", err)
	}

	// Cancelled while blocked waiting for the slot.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { _, err := h.Hash(ctx, "pw"); errc <- err }()
	go func() { _, err := h.Verify(ctx, "pw", h.dummy); errc <- err }()
	cancel()
	for range 2 {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	}

	// VerifyDummy must return too rather than block forever.
	h.VerifyDummy(ctx, "pw")

	// Once the slot frees up, waiting callers proceed.
	done := make(chan error)
	go func() { _, err := h.Hash(context.Background(), "pw"); done <- err }()
	<-h.sem
	if err := <-done; err != nil {
		t.Fatalf("Hash after slot freed: %v", err)
	}
	if len(h.sem) != 0 {
		t.Errorf("slot not released: %d in use", len(h.sem))
	}
}

func TestConcurrentUse(t *testing.T) {
	h := NewHasher(testParams, 2)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			pw := strings.Repeat("p", i)
			enc, err := h.Hash(context.Background(), pw)
			if err != nil {
				t.Error(err)
				return
			}
			if ok, err := h.Verify(context.Background(), pw, enc); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
			h.VerifyDummy(context.Background(), pw)
		})
	}
	wg.Wait()
	if len(h.sem) != 0 {
		t.Errorf("%d slots still held", len(h.sem))
	}
}

func TestVerifyDummyNeverMatches(t *testing.T) {
	h := newTestHasher(t)
	if ok, err := h.Verify(context.Background(), "", h.dummy); ok || err != nil {
		t.Errorf("dummy hash: Verify = %v, %v; want false, nil", ok, err)
	}
	if h.NeedsRehash(h.dummy) {
		t.Error("dummy hash does not use the hasher's params, so it would not cost the same as a real verify")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Hs1ImSM5YMOZHnjSIPZrBvKVJGeqIOmoZSrQSOAJzmo")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$$")
	f.Add("$argon2id$")
	f.Add("")
	f.Add("$$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := Decode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%q) error %v does not wrap ErrMalformed", s, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode(%q) accepted invalid params: %v", s, err)
		}
		// The parser is strict, so anything it accepts is in canonical
		// form and re-encodes to the very same string.
		if got := encode(p, salt, key); got != s {
			t.Fatalf("Decode(%q) then encode = %q", s, got)
		}
	})
}

// BenchmarkHashDefault measures one hash with DefaultParams; 1e9/ns_op is
// the hashes per second one core sustains, which sizes maxConcurrent and the
// login rate limits.
func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams(), 1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}
