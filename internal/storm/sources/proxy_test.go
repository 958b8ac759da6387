package sources

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"preau/internal/shield/netguard"
)

func TestWriteProxyRoundTrip(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		src, dst         string
		wantSrc, wantDst string // after the round trip
	}{
		{"192.0.2.10:40000", "127.0.0.1:8080", "192.0.2.10:40000", "127.0.0.1:8080"},
		{"[2001:db8::7]:1024", "[::1]:443", "[2001:db8::7]:1024", "[::1]:443"},
		{"[2001:db8::7]:65535", "127.0.0.1:80", "[2001:db8::7]:65535", "[::ffff:127.0.0.1]:80"},
		{"198.51.100.3:0", "[::1]:80", "[::ffff:198.51.100.3]:0", "[::1]:80"},
		{"[::ffff:203.0.113.5]:9", "127.0.0.1:80", "203.0.113.5:9", "127.0.0.1:80"},
	} {
		for _, v := range []int{1, 2} {
			var buf bytes.Buffer
			write := WriteProxyV2
			if v == 1 {
				write = WriteProxyV1
			}
			if err := write(&buf, ap(tc.src), ap(tc.dst)); err != nil {
				t.Fatalf("v%d %s → %s: %v", v, tc.src, tc.dst, err)
			}
			buf.WriteString("GET /")
			br := bufio.NewReader(&buf)
			h, err := netguard.ReadProxyHeader(br)
			if err != nil {
				t.Fatalf("v%d %s → %s: ReadProxyHeader: %v", v, tc.src, tc.dst, err)
			}
			src := netip.AddrPortFrom(h.Source.Addr(), h.Source.Port())
			if h.Version != v || h.Local || src.String() != tc.wantSrc || h.Destination.String() != tc.wantDst {
				t.Errorf("v%d %s → %s: parsed %+v, want %s → %s", v, tc.src, tc.dst, h, tc.wantSrc, tc.wantDst)
			}
			if rest, _ := io.ReadAll(br); string(rest) != "GET /" {
				t.Errorf("v%d: header consumed %q of the payload", v, rest)
			}
		}
	}
	if err := WriteProxyV2(io.Discard, netip.AddrPort{}, ap("127.0.0.1:80")); err == nil {
		t.Error("WriteProxyV2 with an invalid source: no error")
	}
	if err := WriteProxyV1(io.Discard, ap("127.0.0.1:80"), netip.AddrPort{}); err == nil {
		t.Error("WriteProxyV1 with an invalid destination: no error")
	}
}

// shield starts a netguard.Listener trusting 127.0.0.1/32 with the PROXY
// protocol on, serving each connection one line: the client address seen.
// Every refusal is also sent on refusals (buffered).
func shield(t *testing.T) (addr string, refused func() int, refusals <-chan string) {
	t.Helper()
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	ch := make(chan string, 100)
	ln := netguard.NewListener(inner, netguard.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		ProxyProtocol:  true,
		OnRefuse: func(reason string, _ netip.Addr) {
			mu.Lock()
			n++
			mu.Unlock()
			select {
			case ch <- reason:
			default:
			}
		},
	})
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || line != "hi\n" {
					return
				}
				io.WriteString(c, c.RemoteAddr().String()+" "+netguard.ClientAddr(c).String()+"\n")
			})
		}
	})
	return inner.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }, ch
}

func TestProxyDialerThroughShield(t *testing.T) {
	addr, refused, _ := shield(t)
	for _, v := range []int{2, 1} {
		d, err := NewProxyDialer(DefaultMix(), 42)
		if err != nil {
			t.Fatal(err)
		}
		d.Version = v
		picked := 0
		d.OnPick = func(netip.AddrPort, *Weighted) { picked++ } // dials are sequential
		v6 := 0
		for i := range 40 {
			c, err := d.DialContext(t.Context(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			pc := c.(*ProxiedConn)
			io.WriteString(c, "hi\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				t.Fatalf("v%d conn %d: %v (refused so far: %d)", v, i, err, refused())
			}
			want := net.TCPAddrFromAddrPort(pc.Source).String() + " " + pc.Source.Addr().String() + "\n"
			if line != want {
				t.Fatalf("v%d conn %d: server sees %q, want %q", v, i, line, want)
			}
			if !pc.Entry.contains(pc.Source.Addr()) {
				t.Fatalf("v%d conn %d: source %s outside entry %s", v, i, pc.Source, pc.Entry.Name)
			}
			if pc.Source.Addr().Is6() {
				v6++
			}
		}
		if picked != 40 {
			t.Errorf("v%d: OnPick called %d times, want 40", v, picked)
		}
		if v6 == 0 || v6 == 40 {
			t.Errorf("v%d: %d of 40 sources IPv6, want a mix of families", v, v6)
		}
	}
	if n := refused(); n != 0 {
		t.Errorf("shield refused %d connections", n)
	}
}

func (w *Weighted) contains(a netip.Addr) bool {
	for _, p := range w.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func TestProxyDialerHTTP(t *testing.T) {
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := netguard.NewListener(inner, netguard.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		ProxyProtocol:  true,
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	})}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	defer func() { srv.Close(); <-done }()

	d, err := NewProxyDialer(DefaultMix(), 7)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sources []string
	d.OnPick = func(src netip.AddrPort, _ *Weighted) {
		mu.Lock()
		sources = append(sources, net.TCPAddrFromAddrPort(src).String())
		mu.Unlock()
	}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i := range 10 {
		resp, err := c.Get("http://" + inner.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mu.Lock()
		want := sources[len(sources)-1]
		mu.Unlock()
		if string(b) != want {
			t.Fatalf("request %d: server sees %q, want %q", i, b, want)
		}
	}
}

func TestProxyDialerUntrusted(t *testing.T) {
	// The same dialer from an address the shield does not trust: refused.
	addr, _, refusals := shield(t)
	d, err := NewProxyDialer(DefaultMix(), 1)
	if err != nil {
		t.Fatal(err)
	}
	d.Local = netip.MustParseAddr("127.0.0.9")
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hi\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Fatalf("untrusted proxy answered %q", line)
	}
	// The shield resets the connection before reporting: wait for the
	// report (the test's own timeout bounds the wait).
	if reason := <-refusals; reason != netguard.ReasonProxyHeader {
		t.Errorf("refused for %q, want %q", reason, netguard.ReasonProxyHeader)
	}
}

func TestNewProxyDialerInvalidMix(t *testing.T) {
	if _, err := NewProxyDialer(nil, 1); err == nil {
		t.Error("nil mix: no error")
	}
	m := DefaultMix()
	m[0].Weight = 0
	if _, err := NewProxyDialer(m, 1); err == nil {
		t.Error("zero weight: no error")
	}
}
