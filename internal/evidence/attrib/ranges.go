package attrib

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// rangeTable maps inclusive address ranges to values. Ranges are kept per
// family in fixed-size entries sorted by start, and each distinct value
// (AS number and name, or country) is stored once, so the half-million rows
// of an ASN file cost about 10 MB.
type rangeTable struct {
	v4   []range4
	v6   []range6
	vals []rangeValue
}

type range4 struct {
	start, end uint32
	val        uint32 // index into vals
}

type range6 struct {
	start, end u128
	val        uint32
}

type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func toU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

type rangeValue struct {
	asn     uint32
	name    string
	country string
}

func (t *rangeTable) covers(addr netip.Addr) bool {
	if addr.Is4() {
		return len(t.v4) > 0
	}
	return len(t.v6) > 0
}

// lookup returns the value of the range holding addr.
func (t *rangeTable) lookup(addr netip.Addr) (answer, error) {
	idx, ok := t.find(addr)
	if !ok {
		return answer{}, nil
	}
	v := t.vals[idx&^overlapFlag]
	return answer{asn: v.asn, name: v.name, country: v.country, found: true, overlap: idx&overlapFlag != 0}, nil
}

// find returns the value index of the range holding addr.
func (t *rangeTable) find(addr netip.Addr) (uint32, bool) {
	if addr.Is4() {
		x := toU32(addr)
		// The first range starting after x; the candidate is the one before.
		i, _ := slices.BinarySearchFunc(t.v4, x, func(r range4, x uint32) int {
			if r.start <= x {
				return -1
			}
			return 1
		})
		if i > 0 && x <= t.v4[i-1].end {
			return t.v4[i-1].val, true
		}
		return 0, false
	}
	x := toU128(addr)
	i, _ := slices.BinarySearchFunc(t.v6, x, func(r range6, x u128) int {
		if r.start.cmp(x) <= 0 {
			return -1
		}
		return 1
	})
	if i > 0 && x.cmp(t.v6[i-1].end) <= 0 {
		return t.v6[i-1].val, true
	}
	return 0, false
}

// maxCSVLine bounds a CSV line; real lines are under 200 bytes.
const maxCSVLine = 64 << 10

// parseRangeCSV reads an ip-location-db CSV file of the given kind (KindASN
// or KindCountry). Syntax errors are LineErrors naming file; overlapping
// ranges are an error because a binary search could not answer for them
// reliably.
func parseRangeCSV(r io.Reader, kind Kind, file string) (*rangeTable, error) {
	t := &rangeTable{}
	index := make(map[rangeValue]uint32)
	errs := lineErrors{file: file}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxCSVLine)
	minFields := 3
	var fields []string
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		text = strings.TrimSuffix(text, "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		var err error
		fields, err = splitCSVLine(text, fields[:0])
		if err != nil {
			errs.add(line, err)
			continue
		}
		if line == 1 && strings.EqualFold(fields[0], "ip_range_start") {
			continue // a header someone added
		}
		if len(fields) < minFields {
			errs.add(line, fmt.Errorf("want at least %d fields, got %d", minFields, len(fields)))
			continue
		}
		start, end, err := parseRange(fields[0], fields[1])
		if err != nil {
			errs.add(line, err)
			continue
		}
		var v rangeValue
		switch kind {
		case KindASN:
			if len(fields) > 4 {
				errs.add(line, fmt.Errorf("want ip_range_start,ip_range_end,asn,as_organization, got %d fields", len(fields)))
				continue
			}
			n, err := strconv.ParseUint(fields[2], 10, 32)
			if err != nil {
				errs.add(line, fmt.Errorf("bad AS number %q", fields[2]))
				continue
			}
			v.asn = uint32(n)
			if len(fields) == 4 {
				v.name = fields[3]
			}
		case KindCountry:
			if !isCountryCode(fields[2]) {
				errs.add(line, fmt.Errorf("bad country code %q: want two letters (ISO 3166-1 alpha-2)", fields[2]))
				continue
			}
			v.country = strings.ToUpper(fields[2])
		default:
			return nil, fmt.Errorf("%s: cannot read a %s dataset as CSV", file, kind)
		}
		idx, ok := index[v]
		if !ok {
			// The fields point into the line; copy only what is kept.
			v.name = strings.Clone(v.name)
			idx = uint32(len(t.vals))
			t.vals = append(t.vals, v)
			index[v] = idx
		}
		if start.Is4() {
			t.v4 = append(t.v4, range4{toU32(start), toU32(end), idx})
		} else {
			t.v6 = append(t.v6, range6{toU128(start), toU128(end), idx})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			errs.add(line+1, fmt.Errorf("line longer than %d bytes", maxCSVLine))
		} else {
			return nil, fmt.Errorf("%s: read: %w", file, err)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if line == 0 {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	if len(t.vals) >= overlapFlag {
		return nil, fmt.Errorf("%s: more than %d distinct values", file, overlapFlag-1)
	}
	t.sortAndResolve()
	t.v4 = slices.Clip(t.v4)
	t.v6 = slices.Clip(t.v6)
	return t, nil
}

// sortAndResolve sorts the ranges (published files are already sorted,
// which is checked first because it is cheaper) and resolves overlaps, which
// the real ip-location-db files have (a /32 inside a /23, or two blocks that
// share an edge). Binary search needs disjoint ranges, so each overlapping
// cluster is cut into disjoint segments, each given the value of the
// narrowest range covering it. Those segments are flagged so that lookups
// can say that the dataset was ambiguous there.
func (t *rangeTable) sortAndResolve() {
	by4 := func(a, b range4) int { return cmp.Compare(a.start, b.start) }
	by6 := func(a, b range6) int { return a.start.cmp(b.start) }
	if !slices.IsSortedFunc(t.v4, by4) {
		slices.SortStableFunc(t.v4, by4)
	}
	if !slices.IsSortedFunc(t.v6, by6) {
		slices.SortStableFunc(t.v6, by6)
	}
	t.v4 = resolveOverlaps(t.v4,
		func(r range4) span { return span{u128{0, uint64(r.start)}, u128{0, uint64(r.end)}, r.val} },
		func(s span) range4 { return range4{uint32(s.start.lo), uint32(s.end.lo), s.val} })
	t.v6 = resolveOverlaps(t.v6,
		func(r range6) span { return span{r.start, r.end, r.val} },
		func(s span) range6 { return range6{s.start, s.end, s.val} })
}

// overlapFlag marks a range value index whose segment came from resolving
// overlapping ranges.
const overlapFlag = 1 << 31

// span is a range of either family, for overlap resolution.
type span struct {
	start, end u128
	val        uint32
}

// resolveOverlaps returns rs, sorted by start, with every cluster of
// overlapping ranges replaced by disjoint flagged segments. Disjoint input
// is returned as it is, without copying.
func resolveOverlaps[R any](rs []R, get func(R) span, put func(span) R) []R {
	first := -1
	for i := 1; i < len(rs); i++ {
		if get(rs[i]).start.cmp(get(rs[i-1]).end) <= 0 {
			first = i - 1
			break
		}
	}
	if first < 0 {
		return rs
	}
	out := slices.Clone(rs[:first])
	var cluster, resolved []span
	for i := first; i < len(rs); {
		cluster = append(cluster[:0], get(rs[i]))
		maxEnd := cluster[0].end
		j := i + 1
		for ; j < len(rs); j++ {
			s := get(rs[j])
			if s.start.cmp(maxEnd) > 0 {
				break
			}
			if s.end.cmp(maxEnd) > 0 {
				maxEnd = s.end
			}
			cluster = append(cluster, s)
		}
		if len(cluster) == 1 {
			out = append(out, rs[i])
		} else {
			resolved = appendResolved(resolved[:0], cluster)
			for _, s := range resolved {
				out = append(out, put(s))
			}
		}
		i = j
	}
	return out
}

// appendResolved cuts a cluster of overlapping spans (sorted by start) into
// disjoint segments at every start and every end+1, giving each segment
// the value of the narrowest span that covers it; ties go to the span that
// starts first, then to the earlier line. Adjacent segments with the same
// value are merged. The sweep keeps the covering spans in a heap ordered by
// width, so a cluster of n spans costs O(n log n) even when one range covers
// the whole file.
func appendResolved(out []span, cluster []span) []span {
	cuts := make([]u128, 0, 2*len(cluster))
	for _, s := range cluster {
		cuts = append(cuts, s.start)
		if next, ok := s.end.inc(); ok {
			cuts = append(cuts, next)
		}
	}
	slices.SortFunc(cuts, u128.cmp)
	cuts = slices.CompactFunc(cuts, func(a, b u128) bool { return a == b })

	h := &widthHeap{}
	next := 0 // next span of cluster to enter the heap
	for k, at := range cuts {
		for next < len(cluster) && cluster[next].start.cmp(at) <= 0 {
			heap.Push(h, heapItem{width: cluster[next].end.sub(cluster[next].start), order: next, span: cluster[next]})
			next++
		}
		for h.Len() > 0 && (*h)[0].span.end.cmp(at) < 0 {
			heap.Pop(h)
		}
		if h.Len() == 0 {
			continue // a gap cannot occur inside a cluster, but stay safe
		}
		top := (*h)[0].span
		end := top.end // after the last cut, the segment runs to the end of its span
		if k+1 < len(cuts) {
			end, _ = cuts[k+1].dec()
		}
		val := top.val | overlapFlag
		if n := len(out); n > 0 && out[n-1].val == val {
			if e, ok := out[n-1].end.inc(); ok && e == at {
				out[n-1].end = end
				continue
			}
		}
		out = append(out, span{at, end, val})
	}
	return out
}

func (a u128) inc() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return a, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

func (a u128) dec() (u128, bool) {
	if a.lo == 0 {
		if a.hi == 0 {
			return a, false
		}
		return u128{a.hi - 1, ^uint64(0)}, true
	}
	return u128{a.hi, a.lo - 1}, true
}

// sub returns a-b for a >= b.
func (a u128) sub(b u128) u128 {
	lo := a.lo - b.lo
	borrow := uint64(0)
	if a.lo < b.lo {
		borrow = 1
	}
	return u128{a.hi - b.hi - borrow, lo}
}

type heapItem struct {
	width u128
	order int
	span  span
}

// widthHeap is a container/heap of spans, narrowest first, then by order.
type widthHeap []heapItem

func (h widthHeap) Len() int { return len(h) }
func (h widthHeap) Less(i, j int) bool {
	if c := h[i].width.cmp(h[j].width); c != 0 {
		return c < 0
	}
	return h[i].order < h[j].order
}
func (h widthHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *widthHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *widthHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// parseRange parses an inclusive range of one family.
func parseRange(s, e string) (start, end netip.Addr, err error) {
	if start, err = parseCSVAddr(s); err != nil {
		return start, end, err
	}
	if end, err = parseCSVAddr(e); err != nil {
		return start, end, err
	}
	if start.Is4() != end.Is4() {
		return start, end, fmt.Errorf("range %s-%s mixes IPv4 and IPv6", s, e)
	}
	if end.Less(start) {
		return start, end, fmt.Errorf("range end %s is before its start %s", e, s)
	}
	return start, end, nil
}

func parseCSVAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			return a, ErrNumericCSV
		}
		return a, fmt.Errorf("bad address %q", s)
	}
	if a.Zone() != "" {
		return a, fmt.Errorf("address %q has a zone", s)
	}
	// IPv4 ranges written in IPv6 notation are stored as IPv4, which is how
	// Lookup asks for them.
	return a.Unmap(), nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && isASCIILetter(s[0]) && isASCIILetter(s[1])
}

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// splitCSVLine splits one CSV line (RFC 4180 quoting, no embedded newlines)
// into dst. Unquoted fields are trimmed of spaces, since the published
// format description puts a space after each comma. The fields point into
// line unless they contained an escaped quote.
func splitCSVLine(line string, dst []string) ([]string, error) {
	for {
		rest := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(rest, `"`) {
			field, after, err := quotedField(rest[1:])
			if err != nil {
				return dst, err
			}
			dst = append(dst, field)
			after = strings.TrimLeft(after, " \t")
			if after == "" {
				return dst, nil
			}
			if after[0] != ',' {
				return dst, fmt.Errorf("unexpected %q after quoted field", after[0])
			}
			line = after[1:]
			continue
		}
		field, after, more := strings.Cut(line, ",")
		field = strings.TrimSpace(field)
		if strings.Contains(field, `"`) {
			return dst, fmt.Errorf("bare quote in unquoted field %q", field)
		}
		dst = append(dst, field)
		if !more {
			return dst, nil
		}
		line = after
	}
}

// quotedField reads a quoted field whose opening quote has been consumed.
func quotedField(s string) (field, rest string, err error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return "", "", errors.New("unterminated quoted field")
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteString(s[:i+1])
			s = s[i+2:]
			continue
		}
		if b.Len() == 0 {
			return s[:i], s[i+1:], nil
		}
		b.WriteString(s[:i])
		return b.String(), s[i+1:], nil
	}
}
