package sources

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// Network classes of a Weighted entry.
const (
	ClassHosting     = "hosting"
	ClassResidential = "residential"
	ClassMobile      = "mobile"
)

// Weighted is one kind of source in a Mix: a set of prefixes of one network
// class and country, drawn with probability Weight / (sum of weights).
type Weighted struct {
	Name     string         // e.g. "hosting-FR", "residential-CN"
	Prefixes []netip.Prefix // masked; IPv4 or IPv6
	Class    string         // ClassHosting, ClassResidential or ClassMobile
	Country  string         // ISO 3166-1 alpha-2, upper case ("FR")
	Weight   float64        // > 0, relative
}

// Mix is a weighted set of simulated public sources.
type Mix []Weighted

// DefaultMix returns a mix built ONLY from documentation/test ranges:
// RFC 5737 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and RFC 3849
// (2001:db8::/32), split into sub-ranges with fictional labels. The split
// gives roughly: 35% hosting (FR, US, DE, CN), 45% residential (FR, DE, CN,
// BR, with IPv6 for FR), 20% mobile (FR, with IPv6). See the package
// documentation; load a real mix with LoadMix.
func DefaultMix() Mix {
	p := netip.MustParsePrefix
	return Mix{
		{"hosting-FR", []netip.Prefix{p("192.0.2.0/25")}, ClassHosting, "FR", 15},
		{"hosting-US", []netip.Prefix{p("192.0.2.128/26"), p("2001:db8:100::/40")}, ClassHosting, "US", 10},
		{"hosting-DE", []netip.Prefix{p("192.0.2.192/26")}, ClassHosting, "DE", 5},
		{"hosting-CN", []netip.Prefix{p("203.0.113.128/26")}, ClassHosting, "CN", 5},
		{"residential-FR", []netip.Prefix{p("198.51.100.0/25"), p("2001:db8:1000::/36")}, ClassResidential, "FR", 25},
		{"residential-DE", []netip.Prefix{p("198.51.100.128/26")}, ClassResidential, "DE", 5},
		{"residential-CN", []netip.Prefix{p("198.51.100.192/26"), p("2001:db8:2000::/36")}, ClassResidential, "CN", 10},
		{"residential-BR", []netip.Prefix{p("203.0.113.192/26")}, ClassResidential, "BR", 5},
		{"mobile-FR", []netip.Prefix{p("203.0.113.0/25"), p("2001:db8:3000::/36")}, ClassMobile, "FR", 20},
	}
}

// Validate reports the first problem of m: an empty mix, an entry without a
// name, prefixes, a known class, a two-letter country, or a positive finite
// weight; an invalid prefix. Pick and ProxyDialer assume a valid mix.
func (m Mix) Validate() error {
	if len(m) == 0 {
		return errors.New("sources: empty mix")
	}
	for i := range m {
		if err := m[i].validate(); err != nil {
			return fmt.Errorf("sources: mix entry %d (%q): %w", i, m[i].Name, err)
		}
	}
	return nil
}

func (w *Weighted) validate() error {
	switch {
	case w.Name == "":
		return errors.New("no name")
	case len(w.Prefixes) == 0:
		return errors.New("no prefix")
	case !validClass(w.Class):
		return fmt.Errorf("class %q is not %s, %s or %s", w.Class, ClassHosting, ClassResidential, ClassMobile)
	case !validCountry(w.Country):
		return fmt.Errorf("country %q is not two upper-case letters", w.Country)
	case !(w.Weight > 0) || math.IsInf(w.Weight, 0):
		return fmt.Errorf("weight %v is not a positive number", w.Weight)
	}
	for _, p := range w.Prefixes {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return fmt.Errorf("invalid prefix %s", p)
		}
	}
	return nil
}

func validClass(c string) bool {
	return c == ClassHosting || c == ClassResidential || c == ClassMobile
}

func validCountry(c string) bool {
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// LoadMix reads a mix from CSV with the columns name,prefix,class,country,
// weight. A first row naming those columns is a header and skipped; lines
// starting with '#' are comments. The prefix column holds one or more
// prefixes separated by spaces (a bare address counts as /32 or /128).
// Several rows with the same name are one entry: their prefixes are
// joined, their weights added, and their class and country must agree.
// Countries are upper-cased. Errors name the line.
func LoadMix(r io.Reader) (Mix, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 5
	cr.TrimLeadingSpace = true
	var m Mix
	index := map[string]int{}
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sources: mix: %w", err) // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if first {
			first = false
			if strings.EqualFold(rec[0], "name") && strings.EqualFold(rec[1], "prefix") {
				continue
			}
		}
		w, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("sources: mix line %d: %w", line, err)
		}
		if i, ok := index[w.Name]; ok {
			e := &m[i]
			if e.Class != w.Class || e.Country != w.Country {
				return nil, fmt.Errorf("sources: mix line %d: entry %q has class %s, country %s on an earlier line", line, w.Name, e.Class, e.Country)
			}
			e.Prefixes = append(e.Prefixes, w.Prefixes...)
			e.Weight += w.Weight
			continue
		}
		index[w.Name] = len(m)
		m = append(m, w)
	}
	if len(m) == 0 {
		return nil, errors.New("sources: mix: no entry")
	}
	return m, nil
}

func parseRow(rec []string) (Weighted, error) {
	w := Weighted{Name: rec[0], Class: strings.ToLower(rec[2]), Country: strings.ToUpper(rec[3])}
	for _, f := range strings.Fields(rec[1]) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return w, fmt.Errorf("prefix %q: %w", f, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return w, fmt.Errorf("prefix %q: zoned or IPv4-mapped", f)
		}
		w.Prefixes = append(w.Prefixes, p.Masked())
	}
	wt, err := strconv.ParseFloat(rec[4], 64)
	if err != nil {
		return w, fmt.Errorf("weight %q: not a number", rec[4])
	}
	w.Weight = wt
	if err := w.validate(); err != nil {
		return w, err
	}
	return w, nil
}

// Pick draws an entry with probability proportional to its weight, then one
// of the entry's prefixes uniformly (not by size: an IPv6 /36 would
// otherwise swallow its IPv4 siblings), then an address uniformly in that
// prefix. For an IPv4 prefix of /30 or shorter the network and broadcast
// addresses are never drawn; for an IPv6 prefix of /127 or shorter the
// all-zeros (subnet-router anycast) address is never drawn. m must be
// valid (see Validate). rng is used as is: it is not safe for concurrent
// use, so give each goroutine its own or lock around Pick.
func (m Mix) Pick(rng *rand.Rand) (netip.Addr, *Weighted) {
	total := 0.0
	for i := range m {
		total += m[i].Weight
	}
	x := rng.Float64() * total
	i := 0
	for ; i < len(m)-1; i++ {
		if x -= m[i].Weight; x < 0 {
			break
		}
	}
	w := &m[i]
	p := w.Prefixes[rng.IntN(len(w.Prefixes))]
	return pickIn(p, rng), w
}

// pickIn returns a uniform address of p, avoiding the reserved ones.
func pickIn(p netip.Prefix, rng *rand.Rand) netip.Addr {
	p = p.Masked()
	host := p.Addr().BitLen() - p.Bits()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		base := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		size := uint64(1) << host
		off := uint64(0)
		if host >= 2 {
			off = 1 + rng.Uint64N(size-2)
		} else {
			off = rng.Uint64N(size)
		}
		a := base + off
		return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	}
	b := p.Addr().As16()
	if host == 0 {
		return p.Addr()
	}
	for {
		var r [16]byte
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				r[i+j] = byte(v >> (56 - 8*j))
			}
		}
		var out [16]byte
		zero := true
		for i := range 16 {
			// bits of byte i that belong to the host part
			hostBits := min(max(host-(15-i)*8, 0), 8)
			mask := byte(0xff >> (8 - hostBits))
			if hostBits == 0 {
				mask = 0
			}
			out[i] = b[i] | r[i]&mask
			if r[i]&mask != 0 {
				zero = false
			}
		}
		if !zero {
			return netip.AddrFrom16(out)
		}
	}
}
