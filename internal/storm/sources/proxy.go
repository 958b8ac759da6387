package sources

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

var proxyV2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// headerAddrs checks src and dst and says whether both are IPv4. Mixed
// families are sent as IPv6, the IPv4 side IPv4-mapped (::ffff:a.b.c.d),
// which netguard unmaps.
func headerAddrs(src, dst netip.AddrPort) (s, d netip.Addr, v4 bool, err error) {
	if !src.IsValid() || !dst.IsValid() {
		return s, d, false, fmt.Errorf("sources: PROXY header: invalid address (source %v, destination %v)", src, dst)
	}
	s, d = src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	return s, d, s.Is4() && d.Is4(), nil
}

// WriteProxyV2 writes a PROXY protocol v2 header, command PROXY, TCP over
// IPv4 (both addresses IPv4, after unmapping) or IPv6 (otherwise), with no
// TLV, in a single Write.
func WriteProxyV2(w io.Writer, src, dst netip.AddrPort) error {
	s, d, v4, err := headerAddrs(src, dst)
	if err != nil {
		return err
	}
	var buf [16 + 36]byte
	copy(buf[:], proxyV2Sig[:])
	buf[12] = 0x21 // version 2, PROXY
	var n int
	if v4 {
		buf[13] = 0x11 // AF_INET, STREAM
		binary.BigEndian.PutUint16(buf[14:], 12)
		a, b := s.As4(), d.As4()
		copy(buf[16:], a[:])
		copy(buf[20:], b[:])
		binary.BigEndian.PutUint16(buf[24:], src.Port())
		binary.BigEndian.PutUint16(buf[26:], dst.Port())
		n = 28
	} else {
		buf[13] = 0x21 // AF_INET6, STREAM
		binary.BigEndian.PutUint16(buf[14:], 36)
		a, b := s.As16(), d.As16()
		copy(buf[16:], a[:])
		copy(buf[32:], b[:])
		binary.BigEndian.PutUint16(buf[48:], src.Port())
		binary.BigEndian.PutUint16(buf[50:], dst.Port())
		n = 52
	}
	_, err = w.Write(buf[:n])
	return err
}

// WriteProxyV1 writes a PROXY protocol v1 line ("PROXY TCP4 … \r\n", or
// TCP6 when either address is IPv6, the other then IPv4-mapped) in a
// single Write.
func WriteProxyV1(w io.Writer, src, dst netip.AddrPort) error {
	s, d, v4, err := headerAddrs(src, dst)
	if err != nil {
		return err
	}
	proto := "TCP4"
	if !v4 {
		proto = "TCP6"
		if s.Is4() {
			s = netip.AddrFrom16(s.As16())
		}
		if d.Is4() {
			d = netip.AddrFrom16(d.As16())
		}
	}
	b := make([]byte, 0, 108)
	b = append(b, "PROXY "...)
	b = append(b, proto...)
	b = append(b, ' ')
	b = s.AppendTo(b)
	b = append(b, ' ')
	b = d.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	b = append(b, "\r\n"...)
	_, err = w.Write(b)
	return err
}

// ProxyDialer dials the target from a trusted proxy address and starts
// every connection with a PROXY header naming a simulated public source
// drawn from Mix (one draw per connection, with an ephemeral source port in
// 1024-65535). A netguard.Listener trusting Local with ProxyProtocol on sees
// each connection as coming from its drawn source. It is safe for
// concurrent use; its fields must not change after the first dial.
//
// Use it as http.Transport.DialContext. Keep-alive is compatible (a
// connection keeps its source); to draw a source per request, disable it.
type ProxyDialer struct {
	Mix Mix
	// Local is the address the TCP connection is made from: it must be in
	// the target's trusted proxies and of the target's family (an IPv6
	// target needs Local ::1). The zero value means 127.0.0.1.
	Local netip.Addr
	// Version is the PROXY protocol version, 1 or 2; 0 means 2.
	Version int
	// Dialer is the template of every dial; LocalAddr is replaced by
	// Local. Its Timeout also bounds the header write.
	Dialer net.Dialer
	// OnPick, if set, is called with every drawn source before the header
	// is written (to count sources per class or country, say). It may be
	// called concurrently.
	OnPick func(src netip.AddrPort, w *Weighted)

	mu  sync.Mutex
	rng *rand.Rand
}

// NewProxyDialer returns a ProxyDialer over mix drawing sources from a
// generator seeded with seed (the same seed gives the same sequence of
// sources, in the order the dials draw them). It validates mix.
func NewProxyDialer(mix Mix, seed uint64) (*ProxyDialer, error) {
	if err := mix.Validate(); err != nil {
		return nil, err
	}
	return &ProxyDialer{
		Mix:    mix,
		Dialer: net.Dialer{Timeout: 10 * time.Second},
		rng:    rand.New(rand.NewPCG(seed, seed^0x5eed)),
	}, nil
}

// ProxiedConn is a connection opened by ProxyDialer, with the source its
// header carries.
type ProxiedConn struct {
	net.Conn
	Source netip.AddrPort // the simulated client, as the server sees it
	Entry  *Weighted      // the Mix entry it was drawn from
}

// NetConn returns the underlying TCP connection.
func (c *ProxiedConn) NetConn() net.Conn { return c.Conn }

// Pick draws the next source and its entry.
func (d *ProxyDialer) Pick() (netip.AddrPort, *Weighted) {
	d.mu.Lock()
	if d.rng == nil {
		d.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	a, w := d.Mix.Pick(d.rng)
	port := uint16(1024 + d.rng.IntN(65536-1024))
	d.mu.Unlock()
	return netip.AddrPortFrom(a, port), w
}

// DialContext connects to addr ("tcp", "tcp4" or "tcp6") from Local and
// writes the PROXY header; it returns a *ProxiedConn.
func (d *ProxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("sources: proxy dialer: network %q not supported", network)
	}
	if len(d.Mix) == 0 {
		return nil, errors.New("sources: proxy dialer: empty mix")
	}
	if d.Version < 0 || d.Version > 2 {
		return nil, fmt.Errorf("sources: proxy dialer: PROXY protocol version %d (1 or 2)", d.Version)
	}
	local := d.Local
	if !local.IsValid() {
		local = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	dl := d.Dialer
	dl.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	c, err := dl.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	src, w := d.Pick()
	if d.OnPick != nil {
		d.OnPick(src, w)
	}
	var dst netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		dst = ta.AddrPort()
	}
	var dln time.Time
	if dl.Timeout > 0 {
		dln = time.Now().Add(dl.Timeout)
	}
	if cd, ok := ctx.Deadline(); ok && (dln.IsZero() || cd.Before(dln)) {
		dln = cd
	}
	c.SetWriteDeadline(dln)
	if d.Version == 1 {
		err = WriteProxyV1(c, src, dst)
	} else {
		err = WriteProxyV2(c, src, dst)
	}
	if err == nil {
		err = c.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("sources: proxy dialer: writing the PROXY header: %w", err)
	}
	return &ProxiedConn{Conn: c, Source: src, Entry: w}, nil
}
