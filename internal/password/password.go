// Package password hashes and verifies passwords with argon2id (RFC 9106).
//
// Hashes are stored as PHC strings, for example
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// Because every hash carries its own parameters, raising the cost later does
// not lock anyone out: old hashes still verify with the parameters they were
// made with, and [Hasher.NeedsRehash] tells the caller when to store a fresh
// hash (typically right after a successful login, the only moment the
// plaintext is at hand).
//
// argon2id is deliberately memory-hard, so each hash allocates Params.Memory
// KiB. A [Hasher] therefore limits how many hashes run at once: without that
// bound a burst of logins would allocate memory in proportion to the number
// of requests and could take the server down.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters and output sizes.
type Params struct {
	Memory  uint32 // memory cost in KiB
	Time    uint32 // number of passes over the memory
	Threads uint8  // degree of parallelism (lanes)
	SaltLen uint32 // salt length in bytes
	KeyLen  uint32 // derived key length in bytes
}

// DefaultParams returns the argon2id configuration recommended by the OWASP
// Password Storage Cheat Sheet: 19 MiB of memory, 2 passes, 1 lane, with a
// 16-byte salt (RFC 9106's recommendation) and a 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds enforced by Validate. They apply to parameters parsed from stored
// hashes too, so a corrupted or hostile hash string cannot make Verify
// allocate absurd amounts of memory or spin for minutes. The memory floor is
// far below anything secure; it exists so tests can use cheap parameters, and
// production configuration should start from DefaultParams.
const (
	minMemory  = 64                // KiB
	maxMemory  = 4 * 1024 * 1024   // KiB, i.e. 4 GiB
	maxTime    = 100               // passes; OWASP's heaviest suggestion is 5
	minSaltLen = 8                 // RFC 9106 minimum
	maxSaltLen = 64                // bytes
	minKeyLen  = 16                // bytes; shorter tags make collisions plausible
	maxKeyLen  = 64                // bytes
	phcID      = "argon2id"        // PHC algorithm identifier
	phcVersion = argon2.Version    // 0x13, written as v=19
	phcPrefix  = "$" + phcID + "$" // every hash we accept starts with this
)

// Validate reports whether p is within the bounds this package accepts.
func (p Params) Validate() error {
	var errs []error
	if p.Memory < minMemory || p.Memory > maxMemory {
		errs = append(errs, fmt.Errorf("memory %d KiB outside [%d, %d]", p.Memory, minMemory, maxMemory))
	}
	// RFC 9106 requires at least 8 KiB per lane; x/crypto/argon2 would
	// silently round up, and the stored m= would then lie about the cost.
	if p.Threads >= 1 && p.Memory < 8*uint32(p.Threads) {
		errs = append(errs, fmt.Errorf("memory %d KiB below 8 KiB per thread (%d threads)", p.Memory, p.Threads))
	}
	if p.Time < 1 || p.Time > maxTime {
		errs = append(errs, fmt.Errorf("time %d outside [1, %d]", p.Time, maxTime))
	}
	if p.Threads < 1 {
		errs = append(errs, errors.New("threads must be at least 1"))
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		errs = append(errs, fmt.Errorf("salt length %d outside [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen))
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		errs = append(errs, fmt.Errorf("key length %d outside [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen))
	}
	if len(errs) > 0 {
		return fmt.Errorf("password: invalid argon2id params: %w", errors.Join(errs...))
	}
	return nil
}

// Hasher hashes and verifies passwords with fixed parameters. It is safe for
// concurrent use; at most maxConcurrent hashes (or verifications) run at the
// same time, the others wait for a slot.
type Hasher struct {
	params Params
	sem    chan struct{} // one token per running hash

	// dummy is a well-formed hash that no password matches, used by
	// VerifyDummy. See there for why it need not come from a real password.
	dummy string
}

// NewHasher returns a Hasher producing hashes with parameters p. At most
// maxConcurrent hashes run at once (runtime.NumCPU() when maxConcurrent <= 0),
// which bounds the memory spent on hashing to about maxConcurrent*p.Memory KiB.
//
// NewHasher panics if p is invalid: parameters are configuration, and a bad
// configuration should stop the server at start-up rather than fail every
// login. Call p.Validate first when p comes from user-editable settings.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	// The dummy hash is random salt and random key, not the hash of some
	// password: verifying against it costs exactly one argon2id run with p,
	// like a real verification, and building it costs nothing, so there is
	// no need to defer it or to hold a hashing slot while making it.
	return &Hasher{
		params: p,
		sem:    make(chan struct{}, maxConcurrent),
		dummy:  encode(p, randomBytes(p.SaltLen), randomBytes(p.KeyLen)),
	}
}

// Params returns the parameters h uses for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC-encoded argon2id hash of password with a fresh random
// salt. It waits for a free hashing slot first and gives up with ctx's error
// if ctx ends before one frees up.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(h.params.SaltLen)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC-encoded hash. The
// parameters are read from encoded, so hashes made with other parameters
// still verify. A malformed hash is an error, not a mismatch, so the caller
// can tell a wrong password from a corrupted record. Like Hash, Verify waits
// for a hashing slot and returns ctx's error if ctx ends first.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok bool, err error) {
	p, salt, key, err := Decode(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	// Constant time, so the comparison does not reveal how many leading
	// bytes of the key an attacker has guessed.
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// h's (or cannot be parsed), meaning the caller should replace it with a new
// hash the next time it has the plaintext.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := Decode(encoded)
	return err != nil || p != h.params
}

// VerifyDummy does the work of a verification that fails. Call it when a
// login names an unknown account, so that the response takes as long as for
// a known account with a wrong password and response times do not reveal
// which accounts exist. It waits for a hashing slot like Verify; if ctx ends
// first it returns early, which is fine since the request is abandoned.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	// The result is always false (the dummy key is random) and any error is
	// a ctx error; either way the caller has nothing to act on.
	_, _ = h.Verify(ctx, password, h.dummy)
}

// acquire takes a hashing slot, or returns ctx's error if ctx ends first.
func (h *Hasher) acquire(ctx context.Context) error {
	// Check first: select picks randomly among ready cases, and a caller
	// whose ctx is already done should not get a slot by luck.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: waiting for a hashing slot: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// b64 is unpadded standard base64, as the PHC string format specifies.
// Strict rejects non-zero trailing bits, so each byte string has exactly one
// accepted encoding and Decode/encode round-trip.
var b64 = base64.RawStdEncoding.Strict()

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s",
		phcID, phcVersion, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ErrMalformed is wrapped by the errors Decode (and so Verify) returns for a
// string that is not a valid argon2id PHC hash.
var ErrMalformed = errors.New("password: malformed argon2id hash")

// Decode parses a PHC-encoded argon2id hash as produced by Hasher.Hash. The
// returned Params have SaltLen and KeyLen set from the decoded salt and key.
// The parser is strict (one version, fixed field order, canonical numbers and
// base64) and rejects parameters outside Params.Validate's bounds.
func Decode(encoded string) (p Params, salt, key []byte, err error) {
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	rest, ok := strings.CutPrefix(encoded, phcPrefix)
	if !ok {
		return fail("not an argon2id PHC string")
	}
	// rest is "v=19$m=..,t=..,p=..$salt$key".
	fields := strings.Split(rest, "$")
	if len(fields) != 4 {
		return fail("wrong number of fields")
	}
	v, ok := strings.CutPrefix(fields[0], "v=")
	if !ok {
		return fail("missing version")
	}
	if n, err := parseUint(v, 32); err != nil || n != phcVersion {
		return fail("unsupported version")
	}
	m, t, par, ok := cutParams(fields[1])
	if !ok {
		return fail("bad parameter list")
	}
	mem, err1 := parseUint(m, 32)
	tim, err2 := parseUint(t, 32)
	thr, err3 := parseUint(par, 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fail("bad parameter value")
	}
	salt, err = decodeB64(fields[2])
	if err != nil {
		return fail("bad salt encoding")
	}
	key, err = decodeB64(fields[3])
	if err != nil {
		return fail("bad key encoding")
	}
	// Checked before the lengths are narrowed to uint32 below, where a
	// multi-GiB salt could otherwise wrap around into the valid range.
	if len(salt) > maxSaltLen || len(key) > maxKeyLen {
		return fail("salt or key too long")
	}
	p = Params{
		Memory:  uint32(mem),
		Time:    uint32(tim),
		Threads: uint8(thr),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, salt, key, nil
}

// cutParams splits "m=A,t=B,p=C" into A, B and C. Order is fixed because
// every encoder we know writes them this way, and accepting only one form
// keeps the encoding canonical.
func cutParams(s string) (m, t, p string, ok bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return "", "", "", false
	}
	m, ok1 := strings.CutPrefix(parts[0], "m=")
	t, ok2 := strings.CutPrefix(parts[1], "t=")
	p, ok3 := strings.CutPrefix(parts[2], "p=")
	return m, t, p, ok1 && ok2 && ok3
}

// decodeB64 decodes strict unpadded base64. The length check matters:
// encoding/base64 silently skips '\r' and '\n', so without it "abc\n"
// would decode like "abc" and one hash would have several spellings.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodedLen(len(b)) != len(s) {
		return nil, errors.New("unexpected characters in base64")
	}
	return b, nil
}

// parseUint parses a canonical decimal: digits only, no sign, no leading
// zero. strconv alone would accept "019" for 19, giving one hash two
// spellings.
func parseUint(s string, bits int) (uint64, error) {
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero")
	}
	return strconv.ParseUint(s, 10, bits)
}

// randomBytes returns n bytes from the operating system's CSPRNG.
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error: since Go 1.24 it crashes the
	// program instead if the OS cannot supply randomness.
	_, _ = rand.Read(b)
	return b
}
