package netguard

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// encodeV1 writes a v1 header for src → dst.
func encodeV1(src, dst netip.AddrPort) string {
	proto := "TCP4"
	if src.Addr().Is6() {
		proto = "TCP6"
	}
	return fmt.Sprintf("PROXY %s %s %s %d %d\r\n", proto, src.Addr(), dst.Addr(), src.Port(), dst.Port())
}

// encodeV2 writes a v2 PROXY (or LOCAL when src is invalid) header followed
// by tlvs.
func encodeV2(src, dst netip.AddrPort, tlvs []byte) []byte {
	b := append([]byte(nil), v2Sig[:]...)
	var addr []byte
	switch {
	case !src.IsValid():
		b = append(b, 0x20, 0x00)
	case src.Addr().Is4():
		b = append(b, 0x21, 0x11)
		s, d := src.Addr().As4(), dst.Addr().As4()
		addr = append(append(addr, s[:]...), d[:]...)
	default:
		b = append(b, 0x21, 0x21)
		s, d := src.Addr().As16(), dst.Addr().As16()
		addr = append(append(addr, s[:]...), d[:]...)
	}
	if src.IsValid() {
		addr = binary.BigEndian.AppendUint16(addr, src.Port())
		addr = binary.BigEndian.AppendUint16(addr, dst.Port())
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(addr)+len(tlvs)))
	return append(append(b, addr...), tlvs...)
}

func v2Raw(verCmd, famProto byte, length uint16, body []byte) []byte {
	b := append([]byte(nil), v2Sig[:]...)
	b = append(b, verCmd, famProto)
	b = binary.BigEndian.AppendUint16(b, length)
	return append(b, body...)
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestReadProxyHeader(t *testing.T) {
	ones := strings.Repeat("ffff:", 7) + "ffff"
	v4src, v4dst := ap("192.168.0.1:56324"), ap("192.168.0.11:443")
	v6src, v6dst := ap("[2001:db8::1]:51234"), ap("[2001:db8:ff::2]:443")
	tlv := []byte{0x04, 0x00, 0x03, 'a', 'b', 'c', 0x01, 0x00, 0x02, 'h', '2'} // NOOP + ALPN
	big := make([]byte, 4096-12)

	tests := []struct {
		name string
		in   string
		want Header // checked when wantErr is false
		err  bool
		rest string // what must remain unread on success
	}{
		// v1, examples of haproxy's proxy-protocol.txt.
		{name: "v1 spec tcp4", in: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n",
			want: Header{Version: 1, Source: v4src, Destination: v4dst}, rest: "GET / HTTP/1.1\r\n"},
		{name: "v1 spec tcp4 max", in: "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
			want: Header{Version: 1, Source: ap("255.255.255.255:65535"), Destination: ap("255.255.255.255:65535")}},
		{name: "v1 spec tcp6 max (104 bytes)", in: "PROXY TCP6 " + ones + " " + ones + " 65535 65535\r\nX",
			want: Header{Version: 1, Source: netip.AddrPortFrom(netip.MustParseAddr(ones), 65535), Destination: netip.AddrPortFrom(netip.MustParseAddr(ones), 65535)}, rest: "X"},
		{name: "v1 spec unknown", in: "PROXY UNKNOWN\r\n", want: Header{Version: 1, Local: true}},
		{name: "v1 spec unknown max (107 bytes)", in: "PROXY UNKNOWN " + ones + " " + ones + " 65535 65535\r\nrest",
			want: Header{Version: 1, Local: true}, rest: "rest"},
		{name: "v1 tcp6", in: encodeV1(v6src, v6dst), want: Header{Version: 1, Source: v6src, Destination: v6dst}},
		{name: "v1 tcp6 mapped", in: "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n",
			want: Header{Version: 1, Source: ap("[::ffff:1.2.3.4]:1"), Destination: ap("[::1]:2")}},
		{name: "v1 port 0", in: "PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n", want: Header{Version: 1, Source: ap("1.2.3.4:0"), Destination: ap("5.6.7.8:0")}},

		{name: "v1 108 bytes", in: "PROXY UNKNOWN " + ones + " " + ones + " 65535 655355\r\n", err: true},
		{name: "v1 no CR", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", err: true},
		{name: "v1 no LF", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", err: true},
		{name: "v1 never ends", in: "PROXY TCP4 " + strings.Repeat("1", 200), err: true},
		{name: "v1 truncated", in: "PROXY TCP4 1.2.3.4", err: true},
		{name: "v1 empty", in: "PROXY \r\n", err: true},
		{name: "v1 lowercase", in: "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 udp", in: "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 unknownx", in: "PROXY UNKNOWNX\r\n", err: true},
		{name: "v1 tcp4 with v6", in: "PROXY TCP4 ::1 ::1 1 2\r\n", err: true},
		{name: "v1 tcp6 with v4", in: "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 mixed families", in: "PROXY TCP4 1.2.3.4 ::1 1 2\r\n", err: true},
		{name: "v1 zone", in: "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", err: true},
		{name: "v1 leading zero octet", in: "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 hostname", in: "PROXY TCP4 localhost 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 port +", in: "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", err: true},
		{name: "v1 port -", in: "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", err: true},
		{name: "v1 port leading zero", in: "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", err: true},
		{name: "v1 port 65536", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", err: true},
		{name: "v1 port hex", in: "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n", err: true},
		{name: "v1 double space", in: "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 trailing space", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", err: true},
		{name: "v1 missing port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", err: true},
		{name: "v1 extra field", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", err: true},
		{name: "v1 tab", in: "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", err: true},
		{name: "v1 CR inside", in: "PROXY UNKNOWN \r\r\n", err: true},

		// v2.
		{name: "v2 tcp4", in: string(encodeV2(v4src, v4dst, nil)) + "GET",
			want: Header{Version: 2, Source: v4src, Destination: v4dst}, rest: "GET"},
		{name: "v2 tcp6 with TLVs", in: string(encodeV2(v6src, v6dst, tlv)) + "\x16\x03\x01",
			want: Header{Version: 2, Source: v6src, Destination: v6dst}, rest: "\x16\x03\x01"},
		{name: "v2 tcp4 with 4096 bytes", in: string(encodeV2(v4src, v4dst, big)) + "after",
			want: Header{Version: 2, Source: v4src, Destination: v4dst}, rest: "after"},
		{name: "v2 local", in: string(encodeV2(netip.AddrPort{}, netip.AddrPort{}, nil)) + "x",
			want: Header{Version: 2, Local: true}, rest: "x"},
		{name: "v2 local with an address block", in: string(v2Raw(0x20, 0x11, 12, make([]byte, 12))) + "y",
			want: Header{Version: 2, Local: true}, rest: "y"},
		{name: "v2 length 4097", in: string(v2Raw(0x21, 0x11, 4097, make([]byte, 4097))), err: true},
		{name: "v2 length 65535", in: string(v2Raw(0x21, 0x11, 65535, nil)), err: true},
		{name: "v2 version 1", in: string(v2Raw(0x11, 0x11, 12, make([]byte, 12))), err: true},
		{name: "v2 version 3", in: string(v2Raw(0x31, 0x11, 12, make([]byte, 12))), err: true},
		{name: "v2 command 2", in: string(v2Raw(0x22, 0x11, 12, make([]byte, 12))), err: true},
		{name: "v2 udp4", in: string(v2Raw(0x21, 0x12, 12, make([]byte, 12))), err: true},
		{name: "v2 udp6", in: string(v2Raw(0x21, 0x22, 36, make([]byte, 36))), err: true},
		{name: "v2 unix", in: string(v2Raw(0x21, 0x31, 216, make([]byte, 216))), err: true},
		{name: "v2 unspec proxy", in: string(v2Raw(0x21, 0x00, 0, nil)), err: true},
		{name: "v2 family 4", in: string(v2Raw(0x21, 0x41, 12, make([]byte, 12))), err: true},
		{name: "v2 local family 5", in: string(v2Raw(0x20, 0x51, 0, nil)), err: true},
		{name: "v2 tcp4 short length", in: string(v2Raw(0x21, 0x11, 11, make([]byte, 11))), err: true},
		{name: "v2 tcp6 short length", in: string(v2Raw(0x21, 0x21, 12, make([]byte, 12))), err: true},
		{name: "v2 truncated address", in: string(v2Raw(0x21, 0x11, 12, make([]byte, 5))), err: true},
		{name: "v2 truncated TLVs", in: string(v2Raw(0x21, 0x11, 100, make([]byte, 50))), err: true},
		{name: "v2 truncated fixed part", in: string(v2Sig[:]) + "\x21", err: true},
		{name: "v2 bad signature", in: "\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + string(make([]byte, 12)), err: true},

		// Neither.
		{name: "empty", in: "", err: true},
		{name: "http", in: "GET / HTTP/1.1\r\n\r\n", err: true},
		{name: "tls", in: "\x16\x03\x01\x02\x00", err: true},
		{name: "P then EOF", in: "P", err: true},
		{name: "CR then EOF", in: "\r", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			h, err := ReadProxyHeader(br)
			if tt.err {
				if err == nil {
					t.Fatalf("got %+v, want an error", h)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.want {
				t.Fatalf("got %+v, want %+v", h, tt.want)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.rest {
				t.Fatalf("left %q, want %q", rest, tt.rest)
			}
		})
	}
}

// Input that is not a PROXY header is left untouched.
func TestReadProxyHeaderConsumesNothingWithoutSignature(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\r\n", "PUT / HTTP/1.1\r\n", "PROXZ", "\r\n\r\nfoo bar baz\r\n"} {
		br := bufio.NewReader(strings.NewReader(in))
		if _, err := ReadProxyHeader(br); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: err %v", in, err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != in {
			t.Fatalf("%q: left %q", in, rest)
		}
	}
	if _, err := ReadProxyHeader(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil reader: %v", err)
	}
}

// The smallest bufio buffer (16 bytes) still reads every header.
func TestReadProxyHeaderSmallBuffer(t *testing.T) {
	ones := strings.Repeat("ffff:", 7) + "ffff"
	ins := []string{
		"PROXY UNKNOWN " + ones + " " + ones + " 65535 65535\r\nZ",
		"PROXY TCP6 " + ones + " " + ones + " 65535 65535\r\nZ",
		string(encodeV2(ap("[2001:db8::1]:1"), ap("[2001:db8::2]:2"), make([]byte, 4000))) + "Z",
	}
	for _, in := range ins {
		br := bufio.NewReaderSize(strings.NewReader(in), 16)
		if _, err := ReadProxyHeader(br); err != nil {
			t.Fatalf("%q: %v", in[:20], err)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "Z" {
			t.Fatalf("left %q", rest)
		}
	}
}

func FuzzReadProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY UNKNOWN ::1 ::1 1 2\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add(encodeV2(ap("1.2.3.4:5"), ap("6.7.8.9:10"), []byte{4, 0, 1, 0}))
	f.Add(encodeV2(ap("[2001:db8::1]:5"), ap("[::1]:10"), nil))
	f.Add(encodeV2(netip.AddrPort{}, netip.AddrPort{}, nil))
	f.Add(v2Raw(0x21, 0x11, 4096, make([]byte, 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		size := 4096
		if len(data)%2 == 1 {
			size = 16 // the smallest bufio buffer reads every header too
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), size)
		h, err := ReadProxyHeader(br)
		rest, _ := io.ReadAll(br)
		used := len(data) - len(rest)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if h != (Header{}) {
				t.Fatalf("error with a header %+v", h)
			}
			return
		}
		switch h.Version {
		case 1:
			// Exactly the line, CRLF included, at most 107 bytes.
			end := bytes.IndexByte(data, '\n') + 1
			if used != end || used > v1MaxLen || data[used-2] != '\r' {
				t.Fatalf("v1 consumed %d of %q", used, data)
			}
		case 2:
			// Exactly the declared length.
			if want := v2Fixed + int(binary.BigEndian.Uint16(data[14:16])); used != want || used > v2Fixed+v2MaxLen {
				t.Fatalf("v2 consumed %d, declared %d", used, want)
			}
		default:
			t.Fatalf("version %d", h.Version)
		}
		if h.Local {
			if h.Source.IsValid() || h.Destination.IsValid() {
				t.Fatalf("local header with addresses: %+v", h)
			}
			return
		}
		if h.Source.Addr().Is4() != h.Destination.Addr().Is4() {
			t.Fatalf("mixed families: %+v", h)
		}
		// Round trip: the header, written again, reads the same.
		var again []byte
		if h.Version == 1 {
			again = []byte(encodeV1(h.Source, h.Destination))
		} else {
			again = encodeV2(h.Source, h.Destination, nil)
		}
		h2, err := ReadProxyHeader(bufio.NewReader(bytes.NewReader(again)))
		if err != nil || h2 != h {
			t.Fatalf("round trip of %+v: %+v, %v", h, h2, err)
		}
	})
}

func BenchmarkReadProxyHeader(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"v2/tcp4", encodeV2(ap("203.0.113.7:51234"), ap("198.51.100.1:443"), nil)},
		{"v2/tcp6+tlv", encodeV2(ap("[2001:db8::1]:51234"), ap("[2001:db8::2]:443"), []byte{1, 0, 2, 'h', '2', 4, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0})},
		{"v1/tcp4", []byte(encodeV1(ap("203.0.113.7:51234"), ap("198.51.100.1:443")))},
		{"v1/tcp6", []byte(encodeV1(ap("[2001:db8::1]:51234"), ap("[2001:db8::2]:443")))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bytes.NewReader(bc.in)
			br := bufio.NewReader(r)
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(bc.in)
				br.Reset(r)
				if _, err := ReadProxyHeader(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
