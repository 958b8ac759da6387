package netguard

import (
	"net/http"
	"net/netip"
)

// ForwardedFor returns the client address of r: the address given by
// X-Forwarded-For when peer (the TCP peer, or ClientAddr of the connection)
// is in trusted, else peer itself. The header, all its lines taken in
// order, is walked right to left — the right end is written by the proxy
// closest to us — skipping trusted proxies, and the first untrusted address
// is returned; if every entry is trusted, the leftmost one is. Entries are
// IP addresses, optionally with a port ("192.0.2.1:4711", "[2001:db8::1]:80");
// any malformed entry (empty, "unknown", a name, a zone) makes the whole
// header untrustworthy and peer is returned. Addresses are unmapped
// (::ffff:192.0.2.1 is 192.0.2.1). It does not allocate.
func ForwardedFor(r *http.Request, peer netip.Addr, trusted []netip.Prefix) netip.Addr {
	peer = normAddr(peer)
	if r == nil || !inPrefixes(peer, trusted) {
		return peer
	}
	vals := r.Header["X-Forwarded-For"]
	var leftmost netip.Addr
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for {
			j := lastComma(v)
			a, ok := parseForwarded(v[j+1:])
			if !ok {
				return peer
			}
			if !inPrefixes(a, trusted) {
				return a
			}
			leftmost = a
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	if leftmost.IsValid() {
		return leftmost
	}
	return peer
}

func lastComma(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}

func parseForwarded(s string) (netip.Addr, bool) {
	// Optional whitespace around the entry (RFC 9110 list syntax).
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	if len(s) == 0 || len(s) > 64 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Prefix returns the network a connection cap or a rate limit groups a with:
// its /24 for IPv4, its /56 for IPv6 (a home or small-site allocation).
// IPv4-mapped IPv6 addresses are unmapped first and zones dropped; the
// invalid Addr gives the zero Prefix.
func Prefix(a netip.Addr) netip.Prefix {
	a = normAddr(a)
	bits := 56
	if a.Is4() {
		bits = 24
	} else if !a.Is6() {
		return netip.Prefix{}
	}
	p, _ := a.Prefix(bits)
	return p
}
