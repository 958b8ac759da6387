package attrib

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// checkErrors fails unless every error in err is a LineError with a line
// number, or a whole-file error naming the file.
func checkErrors(t *testing.T, err error, file string) {
	t.Helper()
	for _, e := range flatten(err) {
		var le *LineError
		if errors.As(e, &le) {
			if le.Line < 1 || le.File != file {
				t.Fatalf("LineError %q: line %d, file %q", le, le.Line, le.File)
			}
			continue
		}
		if !bytes.Contains([]byte(e.Error()), []byte(file)) {
			t.Fatalf("error %q does not name the file", e)
		}
	}
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte(asnCSVv4), true)
	f.Add([]byte(asnCSVv6), true)
	f.Add([]byte(countryCSVv4), false)
	f.Add([]byte(countryCSVv6), false)
	f.Add([]byte("\uFEFFip_range_start,ip_range_end,country_code\r\n1.0.0.0,1.0.0.255,AU\r\n"), false)
	f.Add([]byte("1.0.0.0,1.0.0.255,1,\"a\"\"b\"\n1.0.0.0,1.0.0.3,2,x\n"), true)
	f.Add([]byte("::ffff:1.0.0.0,::ffff:1.0.0.255,FR\n2001::,2001::ffff,DE\n"), false)
	f.Add([]byte("16777216,16777471,13335,x\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, asn bool) {
		kind := KindCountry
		if asn {
			kind = KindASN
		}
		tab, err := parseRangeCSV(bytes.NewReader(data), kind, "fuzz.csv")
		if err != nil {
			checkErrors(t, err, "fuzz.csv")
			return
		}
		for i := 1; i < len(tab.v4); i++ {
			if tab.v4[i].start <= tab.v4[i-1].end {
				t.Fatalf("IPv4 ranges overlap after loading: %v", tab.v4)
			}
		}
		for i := 1; i < len(tab.v6); i++ {
			if tab.v6[i].start.cmp(tab.v6[i-1].end) <= 0 {
				t.Fatalf("IPv6 ranges overlap after loading: %v", tab.v6)
			}
		}
		// Every range answers for its own edges.
		for _, r := range tab.v4 {
			for _, x := range []uint32{r.start, r.end} {
				if ans, _ := tab.lookup(u32Addr(x)); !ans.found {
					t.Fatalf("%v not found", u32Addr(x))
				}
			}
		}
		for _, r := range tab.v6 {
			a := netip.AddrFrom16(toBytes16(r.start))
			if ans, _ := tab.lookup(a); !ans.found {
				t.Fatalf("%v not found", a)
			}
		}
	})
}

func toBytes16(x u128) [16]byte {
	var b [16]byte
	for i := range 8 {
		b[i] = byte(x.hi >> (56 - 8*i))
		b[8+i] = byte(x.lo >> (56 - 8*i))
	}
	return b
}

func FuzzList(f *testing.F) {
	f.Add([]byte("# Tor\n51.68.1.1\n2001:41d0::1 # x\n"), uint8(0))
	f.Add([]byte("ExitNode ABC\nPublished 2025-01-30 23:16:42\nExitAddress 90.1.1.1 2025-01-31 00:12:04\n"), uint8(0))
	f.Add([]byte("90.2.0.0/16\n::ffff:10.0.0.0/104\n10.0.0.1/8\n"), uint8(1))
	f.Add([]byte("AS16276\nas3215\n145.0.0.128/25\nAS\n"), uint8(2))
	kinds := []Kind{KindTor, KindProxy, KindHosting}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		kind := kinds[int(k)%len(kinds)]
		l, err := parseList(bytes.NewReader(data), kind, "fuzz.txt")
		if err != nil {
			checkErrors(t, err, "fuzz.txt")
			return
		}
		if l.set == nil {
			t.Fatal("list loaded without a set")
		}
		if kind != KindHosting && len(l.asns) > 0 {
			t.Fatalf("%s list took AS numbers", kind)
		}
		for _, r := range l.set.Ranges() {
			if !l.set.Contains(r.From()) || !l.covers(r.From()) {
				t.Fatalf("range %v: own start not contained", r)
			}
		}
	})
}
