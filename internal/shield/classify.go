package shield

import (
	"net/http"
	"net/netip"
	"strings"

	"preau/internal/auth"
	"preau/internal/domain"
)

// Class is what the shield knows about a request's sender, cheapest checks
// first. It decides priority: staff before members before pass holders and
// allowlisted networks before anonymous senders.
type Class int

const (
	Staff       Class = iota // teachers and school staff, from a verified session token
	Member                   // students and parents, from a verified session token
	PassHolder               // solved a challenge or went through the waiting room
	Allowlisted              // a configured network (a school's NAT)
	Anonymous
	numClasses
)

var classNames = [...]string{"staff", "member", "pass", "allowlisted", "anonymous"}

func (c Class) String() string { return classNames[c] }

// SessionClassifier verifies a session token without a database round trip
// (auth.Manager.Classify).
type SessionClassifier interface {
	Classify(token string) (auth.TokenClaims, bool)
}

// classifier sorts requests into classes.
type classifier struct {
	sessions  SessionClassifier // nil in standalone mode: the upstream's sessions are opaque
	cookie    string            // session cookie name
	allowlist []netip.Prefix
}

// sessionToken returns the request's session token: the bearer token, else
// the session cookie.
func (c *classifier) sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(tok)
		}
	}
	if ck, err := r.Cookie(c.cookie); err == nil {
		return ck.Value
	}
	return ""
}

// classify returns the class and, for members, the role; forged is set
// when the request carried a session token that does not verify. hasPass
// is decided by the caller (challenge and waiting-room passes).
func (c *classifier) classify(r *http.Request, client netip.Addr, hasPass bool) (class Class, role domain.Role, forged bool) {
	if c.sessions != nil {
		if tok := c.sessionToken(r); tok != "" {
			if claims, ok := c.sessions.Classify(tok); ok {
				if claims.Role.Staff() {
					return Staff, claims.Role, false
				}
				return Member, claims.Role, false
			}
			forged = true
		}
	}
	if hasPass {
		return PassHolder, "", forged
	}
	for _, p := range c.allowlist {
		if p.Contains(client) {
			return Allowlisted, "", forged
		}
	}
	return Anonymous, "", forged
}
