package netguard

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Listener. The zero value trusts nobody, expects no
// PROXY header and caps nothing.
type Config struct {
	TrustedProxies []netip.Prefix // peers allowed to send a PROXY header or X-Forwarded-For
	ProxyProtocol  bool           // expect a PROXY header from trusted peers (untrusted peers sending one are refused)
	HeaderTimeout  time.Duration  // time a trusted peer has to send the PROXY header (default 5s)
	MaxPerAddr     int            // concurrent connections per client address (0 = unlimited)
	MaxPerPrefix   int            // per /24 (IPv4) or /56 (IPv6)
	// OnRefuse is called once for every refused connection, with reason
	// "proxy_header", "per_addr" or "per_prefix" and the client address
	// (the TCP peer for "proxy_header"). It is called from the listener's
	// goroutines and from Read, possibly concurrently: it must be fast and
	// safe for concurrent use (incrementing a counter is the intent).
	OnRefuse func(reason string, client netip.Addr)
	// Shed, when set, is asked about every connection once its client
	// address is known (at accept, or after a trusted proxy's PROXY header)
	// and before the caps; true closes it with a reset, reason "shed". It is
	// meant for the networks an attack comes from: a flood's connection then
	// costs an accept and a close instead of an HTTP exchange. It runs on the
	// accept loop, so it must be fast, non-blocking and safe for concurrent
	// use.
	Shed func(client netip.Addr) bool
}

// DefaultHeaderTimeout is used when Config.HeaderTimeout is not positive.
const DefaultHeaderTimeout = 5 * time.Second

// Refusal reasons passed to Config.OnRefuse.
const (
	ReasonProxyHeader = "proxy_header"
	ReasonPerAddr     = "per_addr"
	ReasonPerPrefix   = "per_prefix"
	ReasonShed        = "shed"
)

// errRefused is returned by Read on a connection refused after Accept (an
// untrusted peer that sent a PROXY signature).
var errRefused = errors.New("netguard: connection refused: PROXY header from an untrusted peer")

// Listener wraps a net.Listener with the checks of Config. It is safe for
// concurrent use.
//
// Design: Accept never reads from a connection, so a slow client cannot
// delay anyone else.
//
//   - A connection from a peer that is not a trusted PROXY-protocol sender
//     needs no bytes to know its client address (the TCP peer): the caps
//     are checked at once, in the listener's accept loop, and a refused
//     connection is closed before it reaches the server. The check for a
//     forbidden PROXY signature is made lazily, on the connection's first
//     Read, which blocks anyway and runs under the server's own read
//     deadline.
//   - A connection from a trusted peer, when Config.ProxyProtocol is set,
//     is handed to its own short-lived goroutine that reads the header with
//     Config.HeaderTimeout, then checks the caps against the real client
//     address; only then is it queued for Accept. That small pipeline (one
//     background accept loop, one goroutine per pending header) costs a
//     goroutine for at most HeaderTimeout per proxied connection, and in
//     exchange RemoteAddr and ClientAddr never block and every connection
//     Accept returns already has its final address — so they can be used
//     from http.Server's ConnContext and ConnState hooks, which run on the
//     accepting goroutine.
//
// Refusals ("proxy_header": a PROXY signature from a peer whose header is
// not honoured — untrusted, or trusted while ProxyProtocol is off — or a
// trusted peer's header that is missing, malformed or later than
// HeaderTimeout; "shed": Config.Shed said so; "per_addr", "per_prefix": a
// cap) close the connection with
// a reset (SO_LINGER 0), leaving no TIME_WAIT socket behind, and call
// OnRefuse once.
//
// Caps apply to client addresses. A trusted proxy's own connections
// (X-Forwarded-For mode, or a PROXY LOCAL health check) are not capped: it
// carries many clients, whose limits belong to the HTTP layer. Connections
// whose peer has no IP address (a Unix socket) are not capped either.
type Listener struct {
	inner         net.Listener
	cfg           Config
	trusted       []netip.Prefix
	headerTimeout time.Duration

	ready     chan accepted
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex
	shaking   map[net.Conn]struct{} // connections whose header is being read
	perAddr   map[netip.Addr]int32
	perPrefix map[netip.Prefix]int32
	peakAddr  int // largest len(perAddr) since the map was last rebuilt
	peakPfx   int
}

type accepted struct {
	conn net.Conn
	err  error
}

// NewListener wraps inner and starts the goroutine that accepts from it
// (it ends when the Listener is closed).
func NewListener(inner net.Listener, cfg Config) *Listener {
	l := &Listener{
		inner:         inner,
		cfg:           cfg,
		headerTimeout: cfg.HeaderTimeout,
		ready:         make(chan accepted),
		done:          make(chan struct{}),
		shaking:       make(map[net.Conn]struct{}),
		perAddr:       make(map[netip.Addr]int32),
		perPrefix:     make(map[netip.Prefix]int32),
	}
	if l.headerTimeout <= 0 {
		l.headerTimeout = DefaultHeaderTimeout
	}
	for _, p := range cfg.TrustedProxies {
		if p = normPrefix(p); p.IsValid() {
			l.trusted = append(l.trusted, p)
		}
	}
	go l.loop()
	return l
}

// Accept returns the next connection that passed the checks. Refused
// connections are closed and reported through Config.OnRefuse, never
// returned. Errors of the inner listener are returned as they are, one per
// call, so that http.Server's retry on temporary errors still works.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.ready:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the inner listener and the connections whose PROXY header
// is still awaited. Connections already accepted stay open (and keep their
// slots until they are closed).
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.inner.Close()
		l.mu.Lock()
		for c := range l.shaking {
			c.Close()
		}
		clear(l.shaking)
		l.mu.Unlock()
	})
	return l.closeErr
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

func (l *Listener) loop() {
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			// Handed over one at a time: the loop goes on only once the
			// caller has seen the error and called Accept again.
			if !l.deliver(accepted{err: err}) {
				return
			}
			continue
		}
		peer := addrPortOf(raw.RemoteAddr())
		trusted := l.isTrusted(peer.Addr())
		if trusted && l.cfg.ProxyProtocol {
			go l.handshake(raw, peer)
			continue
		}
		c := &conn{Conn: raw, l: l, client: peer.Addr(), remote: raw.RemoteAddr()}
		c.sniff = true
		c.pending.Store(true)
		if !trusted {
			if l.shed(peer.Addr()) {
				abort(raw)
				l.refuse(ReasonShed, peer.Addr())
				continue
			}
			if reason := l.acquire(c, peer.Addr()); reason != "" {
				abort(raw)
				l.refuse(reason, peer.Addr())
				continue
			}
		}
		if !l.deliver(accepted{conn: c}) {
			return
		}
	}
}

// deliver hands a to Accept, or closes its connection if the listener is
// closed first.
func (l *Listener) deliver(a accepted) bool {
	select {
	case l.ready <- a:
		return true
	case <-l.done:
		if a.conn != nil {
			a.conn.Close()
		}
		return false
	}
}

// handshake reads the PROXY header of a trusted peer's connection.
func (l *Listener) handshake(raw net.Conn, peer netip.AddrPort) {
	l.mu.Lock()
	select {
	case <-l.done:
		l.mu.Unlock()
		raw.Close()
		return
	default:
	}
	l.shaking[raw] = struct{}{}
	l.mu.Unlock()

	br := getReader(raw)
	err := raw.SetReadDeadline(time.Now().Add(l.headerTimeout))
	var h Header
	if err == nil {
		h, err = ReadProxyHeader(br)
	}
	if err == nil {
		err = raw.SetReadDeadline(time.Time{})
	}
	l.mu.Lock()
	delete(l.shaking, raw)
	l.mu.Unlock()
	if err != nil {
		putReader(br)
		abort(raw)
		select {
		case <-l.done: // closed by Close: not the peer's fault
		default:
			l.refuse(ReasonProxyHeader, peer.Addr())
		}
		return
	}
	c := &conn{Conn: raw, l: l, client: peer.Addr(), remote: raw.RemoteAddr()}
	if br.Buffered() > 0 {
		// The client's first bytes arrived with the header.
		c.br = br
		c.pending.Store(true)
	} else {
		putReader(br)
	}
	if !h.Local {
		src := netip.AddrPortFrom(h.Source.Addr().Unmap(), h.Source.Port())
		c.client = src.Addr()
		c.remote = net.TCPAddrFromAddrPort(src)
		c.local = net.TCPAddrFromAddrPort(h.Destination)
		if l.shed(c.client) {
			abort(c)
			l.refuse(ReasonShed, c.client)
			return
		}
		if reason := l.acquire(c, c.client); reason != "" {
			abort(c)
			l.refuse(reason, c.client)
			return
		}
	}
	l.deliver(accepted{conn: c})
}

func (l *Listener) refuse(reason string, client netip.Addr) {
	if f := l.cfg.OnRefuse; f != nil {
		f(reason, client)
	}
}

func (l *Listener) shed(client netip.Addr) bool {
	return l.cfg.Shed != nil && client.IsValid() && l.cfg.Shed(normAddr(client))
}

func (l *Listener) isTrusted(a netip.Addr) bool { return inPrefixes(a, l.trusted) }

// acquire takes a slot for c under client address a, or returns the reason
// for refusing it.
func (l *Listener) acquire(c *conn, a netip.Addr) string {
	maxA, maxP := l.cfg.MaxPerAddr, l.cfg.MaxPerPrefix
	if !a.IsValid() || (maxA <= 0 && maxP <= 0) {
		return ""
	}
	p := Prefix(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if maxA > 0 && int(l.perAddr[a]) >= maxA {
		return ReasonPerAddr
	}
	if maxP > 0 && int(l.perPrefix[p]) >= maxP {
		return ReasonPerPrefix
	}
	if maxA > 0 {
		l.perAddr[a]++
		l.peakAddr = max(l.peakAddr, len(l.perAddr))
	}
	if maxP > 0 {
		l.perPrefix[p]++
		l.peakPfx = max(l.peakPfx, len(l.perPrefix))
	}
	c.slot = a
	c.held = true
	return ""
}

// release gives c's slot back, once.
func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.held {
		return
	}
	c.held = false
	a := c.slot
	if l.cfg.MaxPerAddr > 0 {
		if n := l.perAddr[a] - 1; n > 0 {
			l.perAddr[a] = n
		} else {
			delete(l.perAddr, a)
			// Go maps never shrink: after a flood, rebuild them so that
			// memory follows the open connections, not the peak.
			if len(l.perAddr) < l.peakAddr/4 && l.peakAddr > shrinkMin {
				l.perAddr = clone(l.perAddr)
				l.peakAddr = len(l.perAddr)
			}
		}
	}
	if l.cfg.MaxPerPrefix > 0 {
		p := Prefix(a)
		if n := l.perPrefix[p] - 1; n > 0 {
			l.perPrefix[p] = n
		} else {
			delete(l.perPrefix, p)
			if len(l.perPrefix) < l.peakPfx/4 && l.peakPfx > shrinkMin {
				l.perPrefix = clone(l.perPrefix)
				l.peakPfx = len(l.perPrefix)
			}
		}
	}
}

const shrinkMin = 1024

func clone[K comparable](m map[K]int32) map[K]int32 {
	n := make(map[K]int32, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

// conn is a connection returned by Listener.Accept.
type conn struct {
	net.Conn
	l      *Listener
	client netip.Addr // the real client: header source, or TCP peer
	remote net.Addr   // client as a net.Addr
	local  net.Addr   // header destination; nil: inner LocalAddr

	// pending is set while Read must take the slow path: the signature
	// check is still to be made, or bytes remain in br.
	pending atomic.Bool
	mu      sync.Mutex    // guards sniff and br
	sniff   bool          // check for a forbidden PROXY signature on first Read
	br      *bufio.Reader // bytes read ahead of the application; nil once drained

	closed atomic.Bool
	held   bool       // guarded by l.mu: a slot is taken
	slot   netip.Addr // guarded by l.mu
}

func (c *conn) Read(p []byte) (int, error) {
	if c.pending.Load() {
		return c.slowRead(p)
	}
	return c.Conn.Read(p)
}

func (c *conn) slowRead(p []byte) (int, error) {
	c.mu.Lock()
	if c.sniff {
		if c.br == nil {
			c.br = getReader(c.Conn)
		}
		bad, err := hasSignature(c.br)
		switch {
		case bad:
			c.sniff = false
			c.pending.Store(false)
			putReader(c.br)
			c.br = nil
			c.mu.Unlock()
			abort(c)
			c.l.refuse(ReasonProxyHeader, c.client)
			return 0, errRefused
		case err != nil && isTimeout(err):
			// The server's read deadline: try again on the next Read.
			c.mu.Unlock()
			return 0, err
		case err != nil && c.br.Buffered() == 0:
			c.sniff = false
			putReader(c.br)
			c.br = nil
			c.pending.Store(false)
			c.mu.Unlock()
			return 0, err
		}
		c.sniff = false
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			n, err := c.br.Read(p) // served from the buffer, no I/O
			c.mu.Unlock()
			return n, err
		}
		putReader(c.br)
		c.br = nil
	}
	c.pending.Store(false)
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// hasSignature reports whether the stream starts with a PROXY v1 or v2
// signature. It reads only as long as the bytes seen so far could still be
// one (so an ordinary client is never made to wait), at most 12 bytes.
func hasSignature(br *bufio.Reader) (bool, error) {
	want := 1
	for {
		_, err := br.Peek(want) // waits for want bytes (or an error)
		b, _ := br.Peek(min(br.Buffered(), len(v2Sig)))
		m1 := isPrefix(b, []byte(v1Sig))
		m2 := isPrefix(b, v2Sig[:])
		switch {
		case len(b) > 0 && !m1 && !m2:
			return false, nil
		case m1 && len(b) >= len(v1Sig), m2 && len(b) >= len(v2Sig):
			return true, nil
		case err != nil:
			return false, err
		}
		want = len(b) + 1
	}
}

// abort closes a refused connection with a reset rather than a FIN, so that
// a flood of refusals leaves no TIME_WAIT sockets behind on our side.
func abort(c net.Conn) {
	if x, ok := c.(*conn); ok {
		abort(x.Conn)
		x.Close()
		return
	}
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RemoteAddr returns the real client: the PROXY header's source when the
// peer is a trusted proxy, else the TCP peer. It never blocks.
func (c *conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr returns the PROXY header's destination when there is one (the
// address the client connected to), else the local TCP address.
func (c *conn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

// ReadFrom lets io.Copy to the connection use the inner connection's
// ReaderFrom (sendfile or splice for *net.TCPConn), as http.Server does when
// serving files.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// Close closes the connection and frees its slot; closing twice frees it
// once (the second Close returns the inner connection's error).
func (c *conn) Close() error {
	first := c.closed.CompareAndSwap(false, true)
	err := c.Conn.Close()
	if first {
		c.l.release(c)
	}
	return err
}

// ClientAddr returns the client address of a connection: for one returned
// by Listener.Accept (also under a *tls.Conn or any wrapper with a
// NetConn() net.Conn method), the real client as RemoteAddr gives it; for
// any other connection, its remote IP. IPv4-mapped IPv6 addresses are
// unmapped. It never blocks. The zero Addr means no IP address.
func ClientAddr(c net.Conn) netip.Addr {
	for range 8 {
		switch x := c.(type) {
		case nil:
			return netip.Addr{}
		case *conn:
			return x.client
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
			continue
		}
		break
	}
	if c == nil {
		return netip.Addr{}
	}
	return addrPortOf(c.RemoteAddr()).Addr()
}

// addrPortOf returns the IP and port of a, unmapped and without zone.
func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch x := a.(type) {
	case nil:
		return ap
	case *net.TCPAddr:
		ap = x.AddrPort()
	case *net.UDPAddr:
		ap = x.AddrPort()
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(normAddr(ap.Addr()), ap.Port())
}

func normAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// normPrefix turns an IPv4-mapped prefix into its IPv4 form (addresses are
// compared unmapped) and masks it.
func normPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() {
		if bits < 96 {
			return netip.PrefixFrom(a, bits).Masked()
		}
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

func inPrefixes(a netip.Addr, list []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	a = normAddr(a)
	for _, p := range list {
		if p.Addr().Is4In6() || p.Addr().Zone() != "" {
			p = normPrefix(p)
		}
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Read-ahead buffers are pooled: a connection holds one only while it has
// bytes the application has not read yet.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readerSize) }}

const readerSize = 512

func getReader(c net.Conn) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}
