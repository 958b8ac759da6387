package netguard

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestForwardedFor(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:ffff::/48"),
		netip.MustParsePrefix("::ffff:192.168.0.0/112"), // 192.168.0.0/16, written mapped
	}
	proxy := netip.MustParseAddr("10.0.0.1")
	stranger := netip.MustParseAddr("198.51.100.9")
	tests := []struct {
		name string
		peer netip.Addr
		xff  []string // header lines; nil: no header
		want string
	}{
		{"untrusted peer ignores header", stranger, []string{"203.0.113.1"}, "198.51.100.9"},
		{"untrusted mapped peer is unmapped", netip.MustParseAddr("::ffff:198.51.100.9"), []string{"203.0.113.1"}, "198.51.100.9"},
		{"no header", proxy, nil, "10.0.0.1"},
		{"single", proxy, []string{"203.0.113.1"}, "203.0.113.1"},
		{"rightmost untrusted wins", proxy, []string{"1.1.1.1, 203.0.113.1"}, "203.0.113.1"},
		{"skips trusted hops", proxy, []string{"1.1.1.1, 203.0.113.1, 10.9.9.9,10.1.1.1"}, "203.0.113.1"},
		{"spoofed left entry ignored", proxy, []string{"127.0.0.1, 203.0.113.1"}, "203.0.113.1"},
		{"several lines", proxy, []string{"1.1.1.1, 203.0.113.1", "10.2.2.2"}, "203.0.113.1"},
		{"several lines, last untrusted", proxy, []string{"1.1.1.1", "203.0.113.5"}, "203.0.113.5"},
		{"all trusted: leftmost", proxy, []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"mapped trusted prefix", proxy, []string{"203.0.113.1, 192.168.4.4"}, "203.0.113.1"},
		{"mapped entry", proxy, []string{"::ffff:203.0.113.1"}, "203.0.113.1"},
		{"ipv6", proxy, []string{"2001:db8::1, 2001:db8:ffff::5"}, "2001:db8::1"},
		{"with port", proxy, []string{"203.0.113.1:4711"}, "203.0.113.1"},
		{"ipv6 with port", proxy, []string{"[2001:db8::1]:80"}, "2001:db8::1"},
		{"tabs and spaces", proxy, []string{" \t203.0.113.1\t "}, "203.0.113.1"},
		{"malformed right entry", proxy, []string{"203.0.113.1, garbage"}, "10.0.0.1"},
		{"malformed left of trusted", proxy, []string{"unknown, 10.2.2.2"}, "10.0.0.1"},
		{"malformed beyond the answer is not read", proxy, []string{"garbage, 203.0.113.1"}, "203.0.113.1"},
		{"empty entry", proxy, []string{"203.0.113.1,,10.2.2.2"}, "10.0.0.1"},
		{"empty header", proxy, []string{""}, "10.0.0.1"},
		{"zone", proxy, []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"hostname", proxy, []string{"example.org"}, "10.0.0.1"},
		{"bracketed without port", proxy, []string{"[2001:db8::1]"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := ForwardedFor(r, tt.peer, trusted)
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got := ForwardedFor(nil, stranger, trusted); got != stranger {
		t.Fatalf("nil request: %v", got)
	}
	if got := ForwardedFor(&http.Request{Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}, netip.Addr{}, trusted); got.IsValid() {
		t.Fatalf("invalid peer: %v", got)
	}
}

func TestForwardedForDoesNotAllocate(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("X-Forwarded-For", "1.1.1.1, 203.0.113.1, 10.9.9.9")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.1")
	if n := testing.AllocsPerRun(100, func() { ForwardedFor(r, peer, trusted) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.77":            "192.0.2.0/24",
		"::ffff:192.0.2.77":     "192.0.2.0/24",
		"2001:db8:1:2ff::1":     "2001:db8:1:200::/56",
		"fe80::1%eth0":          "fe80::/56",
		"2001:db8:abcd:12ff::9": "2001:db8:abcd:1200::/56",
	} {
		if got := Prefix(netip.MustParseAddr(in)); got != netip.MustParsePrefix(want) {
			t.Errorf("Prefix(%s) = %v, want %s", in, got, want)
		}
	}
	if got := Prefix(netip.Addr{}); got.IsValid() {
		t.Errorf("Prefix(invalid) = %v", got)
	}
}
