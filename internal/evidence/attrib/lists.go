package attrib

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"go4.org/netipx"
)

// listSource is an operator list: Tor exits, proxy networks or hosting
// networks and AS numbers.
type listSource struct {
	dataset Dataset
	set     *netipx.IPSet
	asns    map[uint32]struct{} // hosting lists only
	hasV4   bool
	hasV6   bool
	// Reasons are built once so that a hit costs no allocation.
	addrReason string
	asnReason  string
}

func (l *listSource) covers(addr netip.Addr) bool {
	if len(l.asns) > 0 {
		return true // an AS entry applies to both families
	}
	if addr.Is4() {
		return l.hasV4
	}
	return l.hasV6
}

// Lines of the Tor Project's bulk exit list that carry no address.
var torKeywords = map[string]bool{"ExitNode": true, "Published": true, "LastStatus": true}

// maxListLine bounds a list line, which holds one entry and a comment.
const maxListLine = 64 << 10

// parseList reads an operator list of the given kind. Syntax errors are
// LineErrors naming file.
func parseList(r io.Reader, kind Kind, file string) (*listSource, error) {
	var b netipx.IPSetBuilder
	l := &listSource{}
	errs := lineErrors{file: file}
	entries := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxListLine)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if kind == KindTor {
			if torKeywords[fields[0]] {
				continue
			}
			if fields[0] == "ExitAddress" {
				if len(fields) < 2 {
					errs.add(line, errors.New("ExitAddress without an address"))
					continue
				}
				fields = fields[1:2] // the date that follows is not needed
			}
		}
		if len(fields) != 1 {
			errs.add(line, fmt.Errorf("want one entry per line, got %d fields", len(fields)))
			continue
		}
		entry := fields[0]
		if asn, ok, err := parseASNEntry(entry); ok {
			if err != nil {
				errs.add(line, err)
				continue
			}
			if kind != KindHosting {
				errs.add(line, fmt.Errorf("AS number %q: only hosting lists take AS numbers", entry))
				continue
			}
			if l.asns == nil {
				l.asns = make(map[uint32]struct{})
			}
			l.asns[asn] = struct{}{}
			entries++
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				errs.add(line, fmt.Errorf("bad CIDR %q", entry))
				continue
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			b.AddPrefix(p.Masked())
		} else {
			a, err := netip.ParseAddr(entry)
			if err != nil || a.Zone() != "" {
				errs.add(line, fmt.Errorf("bad address %q", entry))
				continue
			}
			b.Add(a.Unmap())
		}
		entries++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			errs.add(line+1, fmt.Errorf("line longer than %d bytes", maxListLine))
		} else {
			return nil, fmt.Errorf("%s: read: %w", file, err)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if entries == 0 {
		// An empty list would silently classify nothing; a truncated download
		// is the likelier cause.
		return nil, fmt.Errorf("%s: no entries", file)
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	l.set = set
	for _, r := range set.Ranges() {
		if r.From().Is4() {
			l.hasV4 = true
		} else {
			l.hasV6 = true
		}
	}
	return l, nil
}

// parseASNEntry recognises "AS16276" (any case). ok reports whether entry
// looks like an AS number at all, so that a malformed one is reported as
// such rather than as a bad address.
func parseASNEntry(entry string) (asn uint32, ok bool, err error) {
	if len(entry) < 2 || !strings.EqualFold(entry[:2], "AS") {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(entry[2:], 10, 32)
	if err != nil {
		return 0, true, fmt.Errorf("bad AS number %q", entry)
	}
	return uint32(n), true, nil
}
