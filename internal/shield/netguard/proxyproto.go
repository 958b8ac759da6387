package netguard

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// ErrMalformed is wrapped by every error of ReadProxyHeader: a missing,
// truncated, oversized or invalid PROXY header. When the cause is an I/O
// error (EOF, a deadline), the error wraps that cause too.
var ErrMalformed = errors.New("netguard: malformed PROXY header")

// Header is a parsed PROXY protocol header.
type Header struct {
	Version int // 1 or 2
	// Local is set for a v2 LOCAL command or a v1 "UNKNOWN" protocol: the
	// connection was made by the proxy itself (a health check, say) and the
	// TCP peer is the client. Source and Destination are then zero.
	Local               bool
	Source, Destination netip.AddrPort
}

// Limits of the two formats (haproxy's proxy-protocol.txt).
const (
	v1MaxLen = 107  // "PROXY TCP6 " + 2×39 + 2×5 + 3 spaces + CRLF
	v2Fixed  = 16   // signature, version/command, family/protocol, length
	v2MaxLen = 4096 // largest address block + TLVs we accept
)

var v2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

const v1Sig = "PROXY "

func malformed(msg string) error { return fmt.Errorf("%w: %s", ErrMalformed, msg) }

// Static errors: refusing a header costs no allocation.
var (
	errNoSignature   = malformed("no PROXY signature")
	errV1TooLong     = malformed("v1 line longer than 107 bytes")
	errV1NoCRLF      = malformed("v1 line does not end in CRLF")
	errV1Syntax      = malformed("v1 line syntax")
	errV1Proto       = malformed("v1 protocol is not TCP4, TCP6 or UNKNOWN")
	errV1Addr        = malformed("v1 address invalid or of the wrong family")
	errV1Port        = malformed("v1 port invalid")
	errV2Version     = malformed("v2 version is not 2")
	errV2Command     = malformed("v2 command is not LOCAL or PROXY")
	errV2Family      = malformed("v2 family/protocol is not INET or INET6 over STREAM")
	errV2TooLong     = malformed("v2 declared length above 4096")
	errV2ShortAddr   = malformed("v2 declared length shorter than the address block")
	errNilReader     = malformed("nil reader")
	errV1Control     = malformed("v1 line contains a control character")
	errV2FamilyLocal = malformed("v2 LOCAL with an undefined family or protocol")
)

// ioError wraps an I/O error met while reading a header: the header is
// truncated (or late), hence malformed.
func ioError(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: truncated: %w", ErrMalformed, err)
}

// ReadProxyHeader reads one PROXY protocol header, v1 or v2, from br and
// consumes exactly its bytes: what follows (the client's first bytes) stays
// in br. It reads at most 107 bytes for v1 and 16+4096 for v2 and never
// past the declared end of a header; v2 TLVs are skipped without being
// parsed. Only TCP over IPv4 or IPv6 (or LOCAL/UNKNOWN) is accepted. If
// the input does not start with a PROXY signature nothing is consumed.
// Every error wraps ErrMalformed.
func ReadProxyHeader(br *bufio.Reader) (Header, error) {
	if br == nil {
		return Header{}, errNilReader
	}
	b, err := br.Peek(1)
	if err != nil {
		return Header{}, ioError(err)
	}
	switch b[0] {
	case v1Sig[0]:
		return readV1(br)
	case v2Sig[0]:
		return readV2(br)
	}
	return Header{}, errNoSignature
}

func readV1(br *bufio.Reader) (Header, error) {
	// The signature is checked before anything is consumed.
	sig, err := br.Peek(len(v1Sig))
	if !isPrefix(sig, []byte(v1Sig)) {
		return Header{}, errNoSignature
	}
	if err != nil {
		return Header{}, ioError(err)
	}
	// The line is copied into a fixed array, never read beyond its '\n'
	// and never waited for beyond 107 bytes.
	var line [v1MaxLen]byte
	n := 0
	if br.Size() >= v1MaxLen {
		for n == 0 {
			buf, _ := br.Peek(min(br.Buffered(), v1MaxLen))
			if i := bytes.IndexByte(buf, '\n'); i >= 0 {
				n = copy(line[:], buf[:i+1])
				br.Discard(n) // buffered: cannot fail
				break
			}
			if len(buf) == v1MaxLen {
				return Header{}, errV1TooLong
			}
			if _, err := br.Peek(len(buf) + 1); err != nil {
				return Header{}, ioError(err)
			}
		}
	} else {
		// A buffer smaller than a line: byte by byte.
		for {
			if n == v1MaxLen {
				return Header{}, errV1TooLong
			}
			c, err := br.ReadByte()
			if err != nil {
				return Header{}, ioError(err)
			}
			line[n] = c
			n++
			if c == '\n' {
				break
			}
		}
	}
	if n < len(v1Sig)+2 || line[n-2] != '\r' {
		return Header{}, errV1NoCRLF
	}
	body := line[len(v1Sig) : n-2]
	for _, c := range body {
		if c < 0x20 || c == 0x7f {
			return Header{}, errV1Control
		}
	}
	proto, rest, _ := cut(body)
	switch string(proto) {
	case "UNKNOWN":
		// Anything may follow UNKNOWN; the receiver ignores it.
		return Header{Version: 1, Local: true}, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, errV1Proto
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = cut(rest)
		if len(f[i]) == 0 || ok != (i < 3) {
			return Header{}, errV1Syntax
		}
	}
	v6 := proto[3] == '6'
	src, ok1 := parseV1Addr(f[0], v6)
	dst, ok2 := parseV1Addr(f[1], v6)
	if !ok1 || !ok2 {
		return Header{}, errV1Addr
	}
	sp, ok1 := parsePort(f[2])
	dp, ok2 := parsePort(f[3])
	if !ok1 || !ok2 {
		return Header{}, errV1Port
	}
	return Header{
		Version:     1,
		Source:      netip.AddrPortFrom(src, sp),
		Destination: netip.AddrPortFrom(dst, dp),
	}, nil
}

// cut splits b at its first space. ok reports whether there was one.
func cut(b []byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == ' ' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func parseV1Addr(b []byte, v6 bool) (netip.Addr, bool) {
	if len(b) > 45 { // longest textual IPv6 address
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if v6 {
		return a, a.Is6()
	}
	return a, a.Is4()
}

// parsePort accepts 0-65535 in plain decimal: digits only, no sign, no
// leading zero.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return 0, false
	}
	return uint16(v), true
}

func readV2(br *bufio.Reader) (Header, error) {
	// bufio's smallest buffer is 16 bytes, so this Peek always fits.
	hdr, err := br.Peek(v2Fixed)
	if err != nil {
		if len(hdr) > 0 && !isPrefix(hdr, v2Sig[:]) {
			return Header{}, errNoSignature
		}
		return Header{}, ioError(err)
	}
	if [12]byte(hdr[:12]) != v2Sig {
		return Header{}, errNoSignature
	}
	verCmd, famProto := hdr[12], hdr[13]
	length := int(binary.BigEndian.Uint16(hdr[14:16]))
	if verCmd>>4 != 2 {
		return Header{}, errV2Version
	}
	if length > v2MaxLen {
		return Header{}, errV2TooLong
	}
	h := Header{Version: 2}
	var addrLen int
	switch verCmd & 0x0f {
	case 0x0: // LOCAL: the address block, whatever its family, is ignored.
		if famProto>>4 > 3 || famProto&0x0f > 2 {
			return Header{}, errV2FamilyLocal
		}
		h.Local = true
	case 0x1: // PROXY
		switch famProto {
		case 0x11: // AF_INET, STREAM
			addrLen = 12
		case 0x21: // AF_INET6, STREAM
			addrLen = 36
		default:
			return Header{}, errV2Family
		}
		if length < addrLen {
			return Header{}, errV2ShortAddr
		}
	default:
		return Header{}, errV2Command
	}
	if _, err := br.Discard(v2Fixed); err != nil {
		return Header{}, ioError(err)
	}
	var a [36]byte
	if br.Size() >= addrLen {
		buf, err := br.Peek(addrLen)
		if err != nil {
			return Header{}, ioError(err)
		}
		br.Discard(copy(a[:], buf))
	} else {
		for i := range addrLen { // a 16-byte buffer and an IPv6 block
			c, err := br.ReadByte()
			if err != nil {
				return Header{}, ioError(err)
			}
			a[i] = c
		}
	}
	// TLVs (and a LOCAL command's address block) are skipped unread.
	if _, err := br.Discard(length - addrLen); err != nil {
		return Header{}, ioError(err)
	}
	switch addrLen {
	case 12:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case 36:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	}
	return h, nil
}

// isPrefix reports whether b is a prefix of sig (or sig a prefix of b).
func isPrefix(b, sig []byte) bool {
	n := min(len(b), len(sig))
	return string(b[:n]) == string(sig[:n])
}
