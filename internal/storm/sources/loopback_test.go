package sources

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestSpread(t *testing.T) {
	addrs, err := Spread([]netip.Prefix{ManyPrefix}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	slash24 := map[netip.Prefix]bool{}
	for _, a := range addrs {
		if !ManyPrefix.Contains(a) {
			t.Fatalf("%s outside %s", a, ManyPrefix)
		}
		if b := a.As4(); b[3] == 0 || b[3] == 255 {
			t.Fatalf("%s is a network or broadcast address", a)
		}
		if seen[a] {
			t.Fatalf("%s twice", a)
		}
		seen[a] = true
		p, _ := a.Prefix(24)
		slash24[p] = true
	}
	if len(slash24) < 250 {
		t.Errorf("10,000 addresses cover %d /24s of the /16, want them spread (≥ 250)", len(slash24))
	}
	// Several prefixes, exhausted exactly.
	ps := []netip.Prefix{netip.MustParsePrefix("127.1.0.0/24"), netip.MustParsePrefix("127.2.0.0/30")}
	all, err := Spread(ps, 254+3) // .0 and .255 skipped, .3 of the /30 is fine
	if err != nil {
		t.Fatal(err)
	}
	if all[0] != netip.MustParseAddr("127.1.0.1") || all[len(all)-1] != netip.MustParseAddr("127.2.0.3") {
		t.Errorf("Spread(%v, 257) = %v … %v", ps, all[0], all[len(all)-1])
	}
	if _, err := Spread(ps, 258); err == nil {
		t.Error("Spread beyond the usable addresses: no error")
	}
	for _, bad := range [][]netip.Prefix{
		{netip.MustParsePrefix("::1/128")},
		{netip.MustParsePrefix("127.0.0.0/16"), netip.MustParsePrefix("127.0.3.0/24")},
	} {
		if _, err := Spread(bad, 1); err == nil {
			t.Errorf("Spread(%v): no error", bad)
		}
	}
}

func TestNewLoopbackPoolRefuses(t *testing.T) {
	a := netip.MustParseAddr
	for _, addrs := range [][]netip.Addr{
		nil,
		{a("10.0.0.1")},
		{a("::1")},
		{a("127.0.0.2"), a("127.0.0.2")},
	} {
		if _, err := NewLoopbackPool(addrs, PerConnection); err == nil {
			t.Errorf("NewLoopbackPool(%v): no error", addrs)
		}
	}
	if _, err := NewLoopbackPool([]netip.Addr{a("127.0.0.2")}, Mode(7)); err == nil {
		t.Error("unknown mode: no error")
	}
}

// acceptor returns a listener on 127.0.0.1 and a channel of the remote
// addresses of the connections it accepts (each closed at once).
func acceptor(t *testing.T) (net.Listener, <-chan netip.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan netip.Addr, 16)
	go func() {
		defer close(ch)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
			c.Close()
		}
	}()
	return ln, ch
}

func TestLoopbackPoolDial(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pool  func() (*LoopbackPool, error)
		dials int
	}{
		{"few", func() (*LoopbackPool, error) { return FewSources(4, PerConnection) }, 9},
		{"many", func() (*LoopbackPool, error) { return ManySources(10000, PerConnection) }, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.pool()
			if err != nil {
				t.Fatal(err)
			}
			ln, seen := acceptor(t)
			addrs := p.Addrs()
			got := map[netip.Addr]bool{}
			for i := range tc.dials {
				c, err := p.DialContext(t.Context(), "tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				server := <-seen
				c.Close()
				if want := addrs[i%len(addrs)]; server != want {
					t.Fatalf("dial %d: server sees %s, want %s", i, server, want)
				}
				if local := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); local != server {
					t.Fatalf("dial %d: local %s, server sees %s", i, local, server)
				}
				got[server] = true
			}
			if want := min(tc.dials, len(addrs)); len(got) != want {
				t.Errorf("%d distinct sources, want %d", len(got), want)
			}
		})
	}
}

// remoteServer answers every request with its RemoteAddr's IP.
func remoteServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, ap.Addr().String())
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, b, err)
	}
	return string(b)
}

func TestLoopbackPoolPerRequest(t *testing.T) {
	s := remoteServer(t)
	p, err := FewSources(5, PerRequest)
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Transport()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	addrs := p.Addrs()
	for i := range 12 {
		if got, want := get(t, c, s.URL), addrs[i%len(addrs)].String(); got != want {
			t.Fatalf("request %d from %s, want %s", i, got, want)
		}
	}
}

func TestLoopbackPoolPerConnectionKeepAlive(t *testing.T) {
	// With keep-alive, sequential requests share a connection, so a source:
	// the behaviour PerRequest exists to avoid.
	s := remoteServer(t)
	p, err := FewSources(5, PerConnection)
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Transport()
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	first := get(t, c, s.URL)
	for i := range 5 {
		if got := get(t, c, s.URL); got != first {
			t.Fatalf("request %d from %s, want %s (kept-alive connection)", i+1, got, first)
		}
	}
	if first != p.Addrs()[0].String() {
		t.Errorf("first source %s, want %s", first, p.Addrs()[0])
	}
}
