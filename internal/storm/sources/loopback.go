package sources

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"
)

// Mode says how a LoopbackPool rotates its sources.
type Mode int

const (
	// PerConnection gives each new connection the next source, round robin.
	// With keep-alive on, a connection (and so a source) carries many
	// requests: the number of distinct sources seen is the number of
	// connections the client opens.
	PerConnection Mode = iota
	// PerRequest rotates the source on every request. Sources are still
	// chosen per connection (that is all TCP allows), so every request must
	// get its own connection: the pool's Transport disables keep-alive, and
	// a caller building its own http.Transport around DialContext must set
	// DisableKeepAlives too (or an HTTP/1 client will reuse a connection,
	// and its source, for the next request). Each request then costs a TCP
	// handshake and leaves a TIME_WAIT socket on the client side, as a real
	// rotating botnet's would on its own hosts.
	PerRequest
)

func (m Mode) String() string {
	switch m {
	case PerConnection:
		return "per-connection"
	case PerRequest:
		return "per-request"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Default prefixes of the preset pools.
var (
	FewPrefix  = netip.MustParsePrefix("127.10.1.0/24")
	ManyPrefix = netip.MustParsePrefix("127.42.0.0/16")
	// StudentPrefix is where storm's students come from: apart from every
	// flood pool, and spread over 64 /16s like homes over many providers'
	// networks (students in one /16 would carry all of a morning's
	// anonymous traffic and look like one attacking network).
	StudentPrefix = netip.MustParsePrefix("127.64.0.0/10")
)

// LoopbackPool hands out connections bound to distinct source addresses
// of 127.0.0.0/8, round robin. It is safe for concurrent use.
type LoopbackPool struct {
	addrs []netip.Addr
	mode  Mode
	next  atomic.Uint64
	// Dialer is the template of every dial; its LocalAddr is replaced by
	// the chosen source. Set its fields (Timeout, KeepAlive…) before the
	// first dial.
	Dialer net.Dialer
}

// NewLoopbackPool returns a pool rotating over addrs, which must be
// distinct IPv4 loopback addresses (127.0.0.0/8); at least one.
func NewLoopbackPool(addrs []netip.Addr, mode Mode) (*LoopbackPool, error) {
	if len(addrs) == 0 {
		return nil, errors.New("sources: loopback pool: no address")
	}
	if mode != PerConnection && mode != PerRequest {
		return nil, fmt.Errorf("sources: loopback pool: unknown mode %d", int(mode))
	}
	seen := make(map[netip.Addr]bool, len(addrs))
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if !a.Is4() || !a.IsLoopback() {
			return nil, fmt.Errorf("sources: loopback pool: %s is not an IPv4 loopback address (127.0.0.0/8)", a)
		}
		if seen[a] {
			return nil, fmt.Errorf("sources: loopback pool: %s listed twice", a)
		}
		seen[a] = true
		out = append(out, a)
	}
	return &LoopbackPool{addrs: out, mode: mode, Dialer: net.Dialer{Timeout: 10 * time.Second}}, nil
}

// FewSources returns a pool of n addresses (1 ≤ n ≤ 254) spread over
// FewPrefix (127.10.1.0/24): the "a few addresses" flood.
func FewSources(n int, mode Mode) (*LoopbackPool, error) {
	addrs, err := Spread([]netip.Prefix{FewPrefix}, n)
	if err != nil {
		return nil, err
	}
	return NewLoopbackPool(addrs, mode)
}

// ManySources returns a pool of n addresses spread evenly over ManyPrefix
// (127.42.0.0/16, up to 65,024 addresses): the "10,000 sources in one /16"
// flood, touching as many /24s as n allows.
func ManySources(n int, mode Mode) (*LoopbackPool, error) {
	addrs, err := Spread([]netip.Prefix{ManyPrefix}, n)
	if err != nil {
		return nil, err
	}
	return NewLoopbackPool(addrs, mode)
}

// Spread returns n distinct IPv4 addresses spread evenly over prefixes
// (taken in order), never an address ending in .0 or .255 — the network
// and broadcast addresses of the /24 a reader would assume. Prefixes must
// be IPv4 and must not overlap. n must not exceed the usable addresses.
func Spread(prefixes []netip.Prefix, n int) ([]netip.Addr, error) {
	if n <= 0 {
		return nil, fmt.Errorf("sources: spread: need a positive count, got %d", n)
	}
	// A span is a prefix's usable addresses: either an explicit list (a
	// prefix of /24 or longer) or whole /24s, 254 usable addresses each.
	type span struct {
		list   []uint32
		first  uint32 // of whole /24s
		blocks uint64
	}
	var spans []span
	var counts []uint64
	total := uint64(0)
	for i, p := range prefixes {
		p = p.Masked()
		if !p.IsValid() || !p.Addr().Is4() {
			return nil, fmt.Errorf("sources: spread: prefix %d (%s) is not an IPv4 prefix", i, p)
		}
		for _, q := range prefixes[:i] {
			if q.Masked().Overlaps(p) {
				return nil, fmt.Errorf("sources: spread: %s overlaps %s", p, q)
			}
		}
		b := p.Addr().As4()
		first := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		var s span
		var c uint64
		if p.Bits() >= 24 {
			for off := uint32(0); off < 1<<(32-p.Bits()); off++ {
				if a := first + off; a&0xff != 0 && a&0xff != 0xff {
					s.list = append(s.list, a)
				}
			}
			c = uint64(len(s.list))
		} else {
			s.first, s.blocks = first, uint64(1)<<(24-p.Bits())
			c = s.blocks * 254
		}
		spans = append(spans, s)
		counts = append(counts, c)
		total += c
	}
	if uint64(n) > total {
		return nil, fmt.Errorf("sources: spread: %d addresses asked, only %d usable in %v", n, total, prefixes)
	}
	at := func(k uint64) uint32 {
		for i, s := range spans {
			if k >= counts[i] {
				k -= counts[i]
				continue
			}
			if s.list != nil {
				return s.list[k]
			}
			return s.first + uint32(k/254)<<8 + uint32(1+k%254)
		}
		panic("unreachable")
	}
	out := make([]netip.Addr, n)
	for i := range n {
		hi, lo := bits.Mul64(uint64(i), total)
		k, _ := bits.Div64(hi, lo, uint64(n))
		a := at(k)
		out[i] = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	}
	return out, nil
}

// Addrs returns a copy of the pool's source addresses, in rotation order.
func (p *LoopbackPool) Addrs() []netip.Addr { return append([]netip.Addr(nil), p.addrs...) }

// Mode returns the pool's rotation mode.
func (p *LoopbackPool) Mode() Mode { return p.mode }

// Next returns the source of the next connection and advances the rotation.
func (p *LoopbackPool) Next() netip.Addr {
	i := p.next.Add(1) - 1
	return p.addrs[i%uint64(len(p.addrs))]
}

// DialContext dials addr from the next source of the rotation. network
// must be "tcp" or "tcp4" (the sources are IPv4; a "tcp" dial to a name
// resolving to ::1 fails — target 127.0.0.1 or a name with an IPv4
// address). It has the signature of http.Transport.DialContext.
func (p *LoopbackPool) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4":
	default:
		return nil, fmt.Errorf("sources: loopback pool: network %q not supported (tcp, tcp4)", network)
	}
	d := p.Dialer
	d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.Next(), 0))
	return d.DialContext(ctx, "tcp4", addr)
}

// Transport returns an http.Transport dialing through the pool, with
// keep-alive disabled in PerRequest mode. In PerConnection mode idle
// connections are kept up to one per source per host, so that a client
// with many concurrent requests opens (and rotates over) many sources.
func (p *LoopbackPool) Transport() *http.Transport {
	t := &http.Transport{
		DialContext:         p.DialContext,
		DisableKeepAlives:   p.mode == PerRequest,
		MaxIdleConns:        0, // no global limit
		MaxIdleConnsPerHost: min(len(p.addrs), 1024),
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return t
}
