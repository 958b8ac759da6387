package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"preau/internal/domain"
)

// A session token is opaque to clients but tagged by the server:
//
//	base64url( random[24] | user id (8, big endian) | role (1) | issued (8, Unix s) | tag[16] )
//
// where tag is HMAC-SHA256 over the rest under the server's key, cut to 128
// bits. The random part makes it unguessable; the tag lets the shield tell
// a signed-in student from an anonymous flood with no database round trip
// (Classify), and lets Authenticate refuse forged tokens before any lookup.
// The store keeps only SHA-256(token), as before; revocation (logout) is
// still decided by the store, so a revoked token may keep its priority
// class at the shield until it expires but is refused by the application.
const (
	tokenRandom  = 24
	tokenPayload = tokenRandom + 8 + 1 + 8
	tokenTagLen  = 16
	tokenBytes   = tokenPayload + tokenTagLen
	// TokenLen is the length of an encoded token.
	TokenLen = (tokenBytes*8 + 5) / 6
)

var roleCodes = map[domain.Role]byte{domain.RoleStudent: 1, domain.RoleParent: 2, domain.RoleTeacher: 3, domain.RoleAdmin: 4}

func roleOf(b byte) (domain.Role, bool) {
	for r, c := range roleCodes {
		if c == b {
			return r, true
		}
	}
	return "", false
}

func newToken(key []byte, u domain.User, now time.Time) (string, error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:tokenRandom]); err != nil {
		return "", fmt.Errorf("auth: session token: %w", err)
	}
	binary.BigEndian.PutUint64(b[tokenRandom:], uint64(u.ID))
	b[tokenRandom+8] = roleCodes[u.Role]
	binary.BigEndian.PutUint64(b[tokenRandom+9:], uint64(now.Unix()))
	copy(b[tokenPayload:], tag(key, b[:tokenPayload]))
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func tag(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("preau-session-v1\x00"))
	m.Write(payload)
	return m.Sum(nil)[:tokenTagLen]
}

// TokenClaims is what a token's tag vouches for.
type TokenClaims struct {
	UserID domain.UserID
	Role   domain.Role
	Issued time.Time
}

// parseToken checks a token's form and tag in constant time for its length.
func parseToken(key []byte, token string) (TokenClaims, bool) {
	if len(token) != TokenLen {
		return TokenClaims{}, false
	}
	var b [tokenBytes]byte
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(token))
	if err != nil || n != tokenBytes || !hmac.Equal(b[tokenPayload:], tag(key, b[:tokenPayload])) {
		return TokenClaims{}, false
	}
	role, ok := roleOf(b[tokenRandom+8])
	if !ok {
		return TokenClaims{}, false
	}
	return TokenClaims{
		UserID: domain.UserID(binary.BigEndian.Uint64(b[tokenRandom:])),
		Role:   role,
		Issued: time.Unix(int64(binary.BigEndian.Uint64(b[tokenRandom+9:])), 0),
	}, true
}

// MaxSessionAge bounds how long a token's tag is trusted for classification
// (sessions themselves end after IdleTimeout without use).
const MaxSessionAge = 30 * 24 * time.Hour

// Classify tells who a token belongs to from its tag alone: no database,
// no cache. It is for priority decisions (the shield); use Authenticate to
// grant access.
func (m *Manager) Classify(token string) (TokenClaims, bool) {
	c, ok := parseToken(m.tokenKey, token)
	if !ok || m.now().Sub(c.Issued) > MaxSessionAge {
		return TokenClaims{}, false
	}
	return c, true
}
