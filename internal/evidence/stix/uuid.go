package stix

import (
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- RFC 9562 mandates SHA-1 for UUIDv5; it is a name hash, not a security boundary.
	"encoding/hex"
	"fmt"
)

// uuid is an RFC 9562 UUID. The standard library has none, and the module
// deliberately takes no direct dependency for sixteen bytes.
type uuid [16]byte

// scoNamespace is the namespace STIX 2.1 (section 2.9) fixes for
// deterministic cyber-observable identifiers.
var scoNamespace = mustParseUUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

// preauNamespace seeds Préau's own deterministic identifiers for domain and
// relationship objects. It must never change: doing so would make every
// re-export look like brand-new intelligence to partners.
var preauNamespace = mustParseUUID("5b1f3c2e-9a4d-4e7b-8c61-2f0d7a9e4b13")

func mustParseUUID(s string) uuid {
	u, ok := parseUUID(s)
	if !ok {
		panic("stix: bad built-in UUID " + s)
	}
	return u
}

// parseUUID accepts the canonical 8-4-4-4-12 hexadecimal form in either case.
func parseUUID(s string) (uuid, bool) {
	var u uuid
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// uuidV5 hashes name within namespace ns (RFC 9562 section 5.5).
func uuidV5(ns uuid, name []byte) uuid {
	h := sha1.New() // #nosec G401 -- see import comment.
	h.Write(ns[:])
	h.Write(name)
	var sum [sha1.Size]byte
	var u uuid
	copy(u[:], h.Sum(sum[:0]))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

// uuidV4 draws a random UUID (RFC 9562 section 5.4).
func uuidV4() (uuid, error) {
	var u uuid
	if _, err := rand.Read(u[:]); err != nil {
		return u, fmt.Errorf("stix: random uuid: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u, nil
}

// rfc4122Variant reports whether u carries the RFC 4122/9562 variant bits,
// which STIX requires of the UUID part of every identifier.
func (u uuid) rfc4122Variant() bool { return u[8]&0xc0 == 0x80 }

func (u uuid) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// NewID returns a fresh random identifier "<typ>--<UUIDv4>" for objects that
// have no natural key, such as an analyst's note. Exported episodes use
// deterministic identifiers instead.
func NewID(typ string) (string, error) {
	if !validType(typ) {
		return "", fmt.Errorf("stix: new id: invalid type %q", typ)
	}
	u, err := uuidV4()
	if err != nil {
		return "", err
	}
	return typ + "--" + u.String(), nil
}

// stableID derives a Préau identifier from a natural key, so that the same
// thing exported twice keeps the same identifier.
func stableID(typ string, key ...string) string {
	n := len(typ)
	for _, k := range key {
		n += 1 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, typ...)
	for _, k := range key {
		// A separator that cannot appear in our keys keeps ("a|b","c") and
		// ("a","b|c") apart.
		b = append(b, 0)
		b = append(b, k...)
	}
	return typ + "--" + uuidV5(preauNamespace, b).String()
}
