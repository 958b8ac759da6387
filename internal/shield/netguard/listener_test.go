package netguard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// guard bounds how long a test waits for something that must happen; it
// only turns a hang into a failure, it asserts nothing about speed.
const guard = 30 * time.Second

type refusal struct {
	reason string
	client netip.Addr
}

func newTestListener(t *testing.T, cfg Config) (*Listener, chan refusal) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan refusal, 100)
	cfg.OnRefuse = func(reason string, client netip.Addr) { ch <- refusal{reason, client} }
	l := NewListener(inner, cfg)
	t.Cleanup(func() { l.Close() })
	return l, ch
}

func prefixes(s ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, p := range s {
		ps = append(ps, netip.MustParsePrefix(p))
	}
	return ps
}

// dialFrom connects to l from the loopback address src.
func dialFrom(t *testing.T, l net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: guard}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialRefused connects from src to a listener that is expected to refuse
// the connection: refusals are resets, which may already fail the dial.
// It returns nil then.
func dialRefused(t *testing.T, l net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: guard}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatal(err)
		}
		return nil
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(guard):
		t.Fatal("Accept did not return")
		return nil
	}
}

func waitRefusal(t *testing.T, ch chan refusal, reason, client string) {
	t.Helper()
	select {
	case r := <-ch:
		if r.reason != reason || r.client != netip.MustParseAddr(client) {
			t.Fatalf("refused (%s, %v), want (%s, %s)", r.reason, r.client, reason, client)
		}
	case <-time.After(guard):
		t.Fatalf("no refusal (%s, %s)", reason, client)
	}
}

func noRefusal(t *testing.T, ch chan refusal) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected refusal %+v", r)
	default:
	}
}

// closedByServer checks that the server closed c without sending anything.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	if c == nil { // the dial itself was reset
		return
	}
	c.SetReadDeadline(time.Now().Add(guard))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d, %v: want the connection closed", n, err)
	}
}

func readString(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(guard))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Time{})
	return string(b)
}

func TestTrustedProxyHeaders(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true})
	tests := []struct {
		name     string
		header   string
		trickle  bool
		src, dst string
	}{
		{name: "v1 tcp4", header: encodeV1(ap("203.0.113.7:51234"), ap("198.51.100.1:443")), src: "203.0.113.7:51234", dst: "198.51.100.1:443"},
		{name: "v1 tcp6 byte by byte", header: encodeV1(ap("[2001:db8::7]:4000"), ap("[2001:db8::1]:443")), trickle: true, src: "[2001:db8::7]:4000", dst: "[2001:db8::1]:443"},
		{name: "v2 tcp4", header: string(encodeV2(ap("192.0.2.44:1"), ap("198.51.100.1:80"), nil)), src: "192.0.2.44:1", dst: "198.51.100.1:80"},
		{name: "v2 tcp6 with TLVs", header: string(encodeV2(ap("[2001:db8:5::9]:65535"), ap("[2001:db8::1]:443"), []byte{4, 0, 2, 0, 0})), src: "[2001:db8:5::9]:65535", dst: "[2001:db8::1]:443"},
		{name: "v2 mapped source", header: string(encodeV2(ap("[::ffff:203.0.113.8]:9"), ap("[::1]:443"), nil)), src: "203.0.113.8:9", dst: "[::1]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialFrom(t, l, "127.0.0.1")
			if tt.trickle {
				go func() {
					for i := range len(tt.header) {
						io.WriteString(c, tt.header[i:i+1])
					}
					io.WriteString(c, "hello")
				}()
			} else {
				write(t, c, tt.header+"hello") // one segment: the payload arrives with the header
			}
			s := accept(t, l)
			if got := s.RemoteAddr().String(); got != tt.src {
				t.Fatalf("RemoteAddr %s, want %s", got, tt.src)
			}
			if got := ClientAddr(s); got != ap(tt.src).Addr() {
				t.Fatalf("ClientAddr %v, want %s", got, tt.src)
			}
			if got := s.LocalAddr().String(); got != tt.dst {
				t.Fatalf("LocalAddr %s, want %s", got, tt.dst)
			}
			if got := readString(t, s, 5); got != "hello" {
				t.Fatalf("payload %q", got)
			}
			write(t, s, "bye")
			if got := readString(t, c, 3); got != "bye" {
				t.Fatalf("reply %q", got)
			}
		})
	}
	// A LOCAL header (a health check of the proxy): the TCP peer is the client.
	c := dialFrom(t, l, "127.0.0.1")
	write(t, c, "PROXY UNKNOWN\r\nping")
	s := accept(t, l)
	if ClientAddr(s) != netip.MustParseAddr("127.0.0.1") || s.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("LOCAL: RemoteAddr %v, ClientAddr %v", s.RemoteAddr(), ClientAddr(s))
	}
	if got := readString(t, s, 4); got != "ping" {
		t.Fatalf("payload %q", got)
	}
	noRefusal(t, refused)
}

func TestUntrustedPeerSendingHeaderIsRefused(t *testing.T) {
	headers := map[string]string{
		"v1":                encodeV1(ap("203.0.113.7:1"), ap("198.51.100.1:443")) + "GET / HTTP/1.1\r\n\r\n",
		"v2":                string(encodeV2(ap("203.0.113.7:1"), ap("198.51.100.1:443"), nil)) + "GET / HTTP/1.1\r\n\r\n",
		"v1 signature only": "PROXY ",
	}
	for _, pp := range []bool{true, false} {
		for name, h := range headers {
			t.Run(fmt.Sprintf("%s proxyprotocol=%v", name, pp), func(t *testing.T) {
				l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.2/32"), ProxyProtocol: pp, MaxPerAddr: 5})
				c := dialFrom(t, l, "127.0.0.1")
				write(t, c, h)
				s := accept(t, l)
				if got := ClientAddr(s); got != netip.MustParseAddr("127.0.0.1") {
					t.Fatalf("ClientAddr %v", got)
				}
				s.SetReadDeadline(time.Now().Add(guard))
				if n, err := s.Read(make([]byte, 100)); n != 0 || !errors.Is(err, errRefused) {
					t.Fatalf("Read: %d, %v", n, err)
				}
				waitRefusal(t, refused, ReasonProxyHeader, "127.0.0.1")
				closedByServer(t, c)
				if n := len(l.perAddr); n != 0 {
					t.Fatalf("%d counters left", n)
				}
			})
		}
	}
}

func TestUntrustedPeerOrdinaryTraffic(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.2/32"), ProxyProtocol: true})
	// Starts like a signature, then is not one: the bytes reach the server
	// intact, whatever segments they arrive in.
	for _, parts := range [][]string{
		{"GET / HTTP/1.1\r\n\r\n"},
		{"PRO", "PFIND / HTTP/1.1\r\n\r\n"},
		{"\r\n", "\r\nGET / HTTP/1.1\r\n\r\n"},
		{"P", "OST / HTTP/1.1\r\n\r\n"},
	} {
		c := dialFrom(t, l, "127.0.0.1")
		go func() {
			for _, p := range parts {
				io.WriteString(c, p)
			}
		}()
		s := accept(t, l)
		want := strings.Join(parts, "")
		if got := readString(t, s, len(want)); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
		if s.RemoteAddr().String() != c.LocalAddr().String() {
			t.Fatalf("RemoteAddr %v, want %v", s.RemoteAddr(), c.LocalAddr())
		}
		// Large reads after the first one go straight to the socket.
		write(t, c, strings.Repeat("x", 10000))
		if got := readString(t, s, 10000); got != strings.Repeat("x", 10000) {
			t.Fatal("bulk read")
		}
	}
	noRefusal(t, refused)
}

func TestTrustedPeerBadHeaderIsRefused(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, MaxPerAddr: 1})
	for _, bad := range []string{
		"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n",
		"PROXY TCP4 203.0.113.7 ::1 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		string(v2Raw(0x21, 0x11, 5000, nil)),
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // no header at all
	} {
		c := dialFrom(t, l, "127.0.0.1")
		write(t, c, bad)
		waitRefusal(t, refused, ReasonProxyHeader, "127.0.0.1")
		closedByServer(t, c)
	}
	// The listener still serves good connections, and refused ones never
	// reached Accept.
	c := dialFrom(t, l, "127.0.0.1")
	write(t, c, encodeV1(ap("203.0.113.9:5"), ap("198.51.100.1:443")))
	if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr("203.0.113.9") {
		t.Fatalf("ClientAddr %v", ClientAddr(s))
	}
}

func TestStalledHeaderDoesNotBlockAccept(t *testing.T) {
	// A long HeaderTimeout: the stalled connection is certainly still
	// pending when the second one is accepted.
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, HeaderTimeout: time.Hour})
	stalled := dialFrom(t, l, "127.0.0.1")
	write(t, stalled, "PROXY TCP4 1.2") // and nothing more
	c := dialFrom(t, l, "127.0.0.1")
	write(t, c, encodeV1(ap("203.0.113.7:1"), ap("198.51.100.1:443")))
	s := accept(t, l)
	if ClientAddr(s) != netip.MustParseAddr("203.0.113.7") {
		t.Fatalf("accepted %v, want the second connection", ClientAddr(s))
	}
	noRefusal(t, refused)
	// An untrusted connection is not held up either.
	u := dialFrom(t, l, "127.3.0.1")
	if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr("127.3.0.1") {
		t.Fatalf("accepted %v", ClientAddr(s))
	}
	_ = u
	stalled.Close()
	waitRefusal(t, refused, ReasonProxyHeader, "127.0.0.1")
}

func TestHeaderTimeout(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, HeaderTimeout: 50 * time.Millisecond})
	go l.Accept() // start the listener; nothing is ever accepted
	stalled := dialFrom(t, l, "127.0.0.1")
	waitRefusal(t, refused, ReasonProxyHeader, "127.0.0.1")
	closedByServer(t, stalled)
}

func TestPerAddrCap(t *testing.T) {
	l, refused := newTestListener(t, Config{MaxPerAddr: 2})
	a1 := dialFrom(t, l, "127.1.0.2")
	s1 := accept(t, l)
	dialFrom(t, l, "127.1.0.2")
	accept(t, l)
	a3 := dialRefused(t, l, "127.1.0.2")
	waitRefusal(t, refused, ReasonPerAddr, "127.1.0.2")
	closedByServer(t, a3)
	// Another address of the same /24 is not affected.
	dialFrom(t, l, "127.1.0.3")
	if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr("127.1.0.3") {
		t.Fatalf("accepted %v", ClientAddr(s))
	}
	// Closing frees the slot — once, however often Close is called.
	s1.Close()
	if err := s1.Close(); err == nil {
		t.Error("second Close returned nil")
	}
	closedByServer(t, a1)
	dialFrom(t, l, "127.1.0.2")
	accept(t, l)
	a5 := dialRefused(t, l, "127.1.0.2")
	waitRefusal(t, refused, ReasonPerAddr, "127.1.0.2")
	closedByServer(t, a5)
	noRefusal(t, refused)
}

func TestPerPrefixCap(t *testing.T) {
	l, refused := newTestListener(t, Config{MaxPerPrefix: 3})
	var first net.Conn
	for i, src := range []string{"127.1.0.2", "127.1.0.3", "127.1.0.3"} {
		dialFrom(t, l, src)
		s := accept(t, l)
		if i == 0 {
			first = s
		}
	}
	c := dialRefused(t, l, "127.1.0.4")
	waitRefusal(t, refused, ReasonPerPrefix, "127.1.0.4")
	closedByServer(t, c)
	// A different /24 has its own budget.
	for _, src := range []string{"127.2.0.2", "127.2.0.3"} {
		dialFrom(t, l, src)
		if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr(src) {
			t.Fatalf("accepted %v, want %s", ClientAddr(s), src)
		}
	}
	first.Close()
	dialFrom(t, l, "127.1.0.200")
	if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr("127.1.0.200") {
		t.Fatalf("accepted %v", ClientAddr(s))
	}
	noRefusal(t, refused)
}

// Clients behind a trusted proxy are capped by their own address.
func TestCapsApplyToProxiedClients(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, MaxPerAddr: 1, MaxPerPrefix: 2})
	send := func(src string) net.Conn {
		c := dialFrom(t, l, "127.0.0.1")
		write(t, c, encodeV1(ap(src), ap("198.51.100.1:443")))
		return c
	}
	send("203.0.113.7:1")
	s := accept(t, l)
	c := send("203.0.113.7:2")
	waitRefusal(t, refused, ReasonPerAddr, "203.0.113.7")
	closedByServer(t, c)
	send("203.0.113.8:1")
	accept(t, l)
	c = send("203.0.113.9:1")
	waitRefusal(t, refused, ReasonPerPrefix, "203.0.113.9")
	closedByServer(t, c)
	s.Close()
	send("203.0.113.7:3")
	accept(t, l)
	// The proxy's own connections (LOCAL) are never capped.
	for range 3 {
		c := dialFrom(t, l, "127.0.0.1")
		write(t, c, string(encodeV2(netip.AddrPort{}, netip.AddrPort{}, nil)))
		accept(t, l)
	}
	noRefusal(t, refused)
}

// Counters exist only for addresses with open connections, and the maps
// are rebuilt once a flood is over.
func TestCountersBounded(t *testing.T) {
	l := NewListener(nopListener{}, Config{MaxPerAddr: 3, MaxPerPrefix: 100})
	var conns []*conn
	for i := range 20000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		c := &conn{Conn: nopConn{}, l: l}
		if reason := l.acquire(c, a); reason != "" {
			continue
		}
		conns = append(conns, c)
	}
	if len(l.perAddr) != len(conns) || len(l.perPrefix) > len(conns) {
		t.Fatalf("%d addr and %d prefix counters for %d connections", len(l.perAddr), len(l.perPrefix), len(conns))
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close(); c.Close() })
	}
	wg.Wait()
	if len(l.perAddr) != 0 || len(l.perPrefix) != 0 || l.peakAddr > shrinkMin || l.peakPfx > shrinkMin {
		t.Fatalf("left %d/%d counters, peaks %d/%d", len(l.perAddr), len(l.perPrefix), l.peakAddr, l.peakPfx)
	}
}

type nopListener struct{}

func (nopListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (nopListener) Close() error              { return nil }
func (nopListener) Addr() net.Addr            { return &net.TCPAddr{} }

type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

func TestHTTPServer(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, MaxPerAddr: 10})
	type ctxKey struct{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %v", r.RemoteAddr, r.Context().Value(ctxKey{}))
		}),
		// Runs on the accepting goroutine: must not block, and does not.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, ClientAddr(c))
		},
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	c := dialFrom(t, l, "127.0.0.1")
	write(t, c, string(encodeV2(ap("[2001:db8::42]:3333"), ap("[2001:db8::1]:443"), nil))+"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(guard))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if got, want := string(body), "[2001:db8::42]:3333 2001:db8::42"; got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
	noRefusal(t, refused)
}

func TestListenerClose(t *testing.T) {
	l, _ := newTestListener(t, Config{})
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(guard):
		t.Fatal("Accept still blocked after Close")
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
	l.Close()
}

func TestClientAddr(t *testing.T) {
	if ClientAddr(nil).IsValid() {
		t.Fatal("nil conn")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if ClientAddr(a).IsValid() {
		t.Fatal("pipe has no IP")
	}
	tc := &fakeAddrConn{remote: &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 1}}
	if got := ClientAddr(wrapped{tc}); got != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("wrapped mapped: %v", got)
	}
}

type fakeAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c *fakeAddrConn) RemoteAddr() net.Addr { return c.remote }

type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// fakeListener hands out connections from rotating addresses without any
// I/O, to measure what the wrapper adds to Accept.
type fakeListener struct {
	mu sync.Mutex
	n  uint32
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	return &fakeAddrConn{Conn: nopConn{}, remote: &net.TCPAddr{IP: net.IPv4(198, 51, byte(n>>8), byte(n)), Port: 1234}}, nil
}
func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

func BenchmarkAccept(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		var l net.Listener = &fakeListener{}
		b.ReportAllocs()
		for b.Loop() {
			c, _ := l.Accept()
			c.Close()
		}
	})
	b.Run("netguard", func(b *testing.B) {
		l := NewListener(&fakeListener{}, Config{TrustedProxies: prefixes("10.0.0.0/8", "192.168.0.0/16"), ProxyProtocol: true, MaxPerAddr: 8, MaxPerPrefix: 64})
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			c, err := l.Accept()
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}

func TestCloseEndsPendingHeaders(t *testing.T) {
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, HeaderTimeout: time.Hour})
	stalled := dialFrom(t, l, "127.0.0.1")
	write(t, stalled, "PROXY ")
	// Make sure the handshake has started: a later connection gets through.
	c := dialFrom(t, l, "127.0.0.1")
	write(t, c, "PROXY UNKNOWN\r\n")
	accept(t, l)
	l.Close()
	closedByServer(t, stalled)
	noRefusal(t, refused) // shutting down is not the peer's fault
}

// Files served through the wrapper still reach the socket's ReaderFrom.
func TestReadFrom(t *testing.T) {
	l, _ := newTestListener(t, Config{})
	c := dialFrom(t, l, "127.0.0.1")
	s := accept(t, l)
	rf, ok := s.(io.ReaderFrom)
	if !ok {
		t.Fatal("no ReaderFrom")
	}
	if n, err := rf.ReadFrom(strings.NewReader("file contents")); n != 13 || err != nil {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if got := readString(t, c, 13); got != "file contents" {
		t.Fatalf("got %q", got)
	}
}

// Shed closes the connections it names before they reach Accept, whether
// the client address is the TCP peer or comes from a trusted proxy's
// header, and before they take a cap's slot.
func TestShedClosesNamedClients(t *testing.T) {
	shed := netip.MustParsePrefix("127.9.0.0/16")
	l, refused := newTestListener(t, Config{TrustedProxies: prefixes("127.0.0.1/32"), ProxyProtocol: true, MaxPerAddr: 1,
		Shed: func(a netip.Addr) bool { return shed.Contains(a) || a == netip.MustParseAddr("203.0.113.66") }})
	for range 3 { // more than MaxPerAddr: a shed connection holds no slot
		c := dialRefused(t, l, "127.9.1.2")
		waitRefusal(t, refused, ReasonShed, "127.9.1.2")
		closedByServer(t, c)
	}
	dialFrom(t, l, "127.10.1.2")
	if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr("127.10.1.2") {
		t.Fatalf("accepted %v", ClientAddr(s))
	}
	c := dialFrom(t, l, "127.0.0.1")
	write(t, c, encodeV1(ap("203.0.113.66:1"), ap("198.51.100.1:443")))
	waitRefusal(t, refused, ReasonShed, "203.0.113.66")
	closedByServer(t, c)
	c = dialFrom(t, l, "127.0.0.1")
	write(t, c, encodeV1(ap("203.0.113.67:1"), ap("198.51.100.1:443")))
	if s := accept(t, l); ClientAddr(s) != netip.MustParseAddr("203.0.113.67") {
		t.Fatalf("accepted %v", ClientAddr(s))
	}
	noRefusal(t, refused)
}
