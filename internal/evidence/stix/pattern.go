package stix

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Pattern errors. Every error from [ParsePattern] wraps exactly one of them.
var (
	// ErrMalformedPattern marks text that is not a STIX pattern at all.
	ErrMalformedPattern = errors.New("malformed pattern")
	// ErrUnsupportedPattern marks a pattern outside the subset Préau can
	// turn into address prefixes (other object types, AND, qualifiers...).
	ErrUnsupportedPattern = errors.New("unsupported pattern")
)

// maxPatternLen and maxPatternDepth bound the work a hostile partner can
// make us do; real address patterns are far smaller.
const (
	maxPatternLen   = 1 << 20
	maxPatternDepth = 32
)

type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokLBrack           // [
	tokRBrack           // ]
	tokLParen           // (
	tokRParen           // )
	tokComma            // ,
	tokColon            // :
	tokDot              // .
	tokStar             // *
	tokOp               // = != < <= > >=
	tokIdent            // object types, property names and keywords
	tokString           // 'quoted', unescaped
	tokTyped            // t'...', h'...', b'...' literals
	tokNumber           // integers and floats
)

type token struct {
	kind tokenKind
	text string // identifier, operator, number, or unescaped string body
	pos  int
}

// lex splits a STIX pattern into tokens. It knows the whole STIX token set,
// so a pattern outside Préau's subset still lexes and is reported as
// unsupported rather than malformed.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.IndexByte("[]():,.*", c) >= 0:
			toks = append(toks, token{kind: punct(c), text: s[i : i+1], pos: i})
			i++
		case c == '=':
			toks = append(toks, token{kind: tokOp, text: "=", pos: i})
			i++
		case c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, token{kind: tokOp, text: s[i : i+2], pos: i})
				i += 2
			} else if c == '!' {
				return nil, fmt.Errorf("%w: stray '!' at offset %d", ErrMalformedPattern, i)
			} else {
				toks = append(toks, token{kind: tokOp, text: s[i : i+1], pos: i})
				i++
			}
		case c == '\'':
			body, n, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, text: body, pos: i})
			i = n
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if s[i:j] == "-" {
				return nil, fmt.Errorf("%w: stray '-' at offset %d", ErrMalformedPattern, i)
			}
			toks = append(toks, token{kind: tokNumber, text: s[i:j], pos: i})
			i = j
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '-') {
				j++
			}
			word := s[i:j]
			if (word == "t" || word == "h" || word == "b") && j < len(s) && s[j] == '\'' {
				body, n, err := lexString(s, j)
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{kind: tokTyped, text: body, pos: i})
				i = n
				continue
			}
			toks = append(toks, token{kind: tokIdent, text: word, pos: i})
			i = j
		default:
			return nil, fmt.Errorf("%w: unexpected character %q at offset %d", ErrMalformedPattern, c, i)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

func punct(c byte) tokenKind {
	switch c {
	case '[':
		return tokLBrack
	case ']':
		return tokRBrack
	case '(':
		return tokLParen
	case ')':
		return tokRParen
	case ',':
		return tokComma
	case ':':
		return tokColon
	case '.':
		return tokDot
	}
	return tokStar
}

// lexString reads a quoted literal starting at s[i] == '\”, where STIX
// allows only \' and \\ as escapes.
func lexString(s string, i int) (body string, next int, err error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\'':
			return b.String(), j + 1, nil
		case '\\':
			if j+1 >= len(s) || (s[j+1] != '\'' && s[j+1] != '\\') {
				return "", 0, fmt.Errorf("%w: bad escape in string at offset %d", ErrMalformedPattern, j)
			}
			j++
			b.WriteByte(s[j])
		default:
			b.WriteByte(s[j])
		}
	}
	return "", 0, fmt.Errorf("%w: unterminated string at offset %d", ErrMalformedPattern, i)
}

// parser reads the subset of STIX patterning that denotes sets of
// addresses:
//
//	pattern     = observation { "OR" observation }
//	observation = "[" comparisons "]" | "(" pattern ")"
//	comparisons = term { "OR" term }
//	term        = comparison | "(" comparisons ")"
//	comparison  = ("ipv4-addr" | "ipv6-addr") ":" "value" ("=" | "ISSUBSET") string
//
// AND, FOLLOWEDBY, NOT, qualifiers, other operators and other object paths
// are valid STIX but say something other than "this address is bad", so
// they are reported as unsupported.
type parser struct {
	toks  []token
	i     int
	depth int
	out   []netip.Prefix
}

// ParsePattern reads a STIX pattern made of address comparisons joined by
// OR, such as "[ipv4-addr:value = '203.0.113.7'] OR [ipv6-addr:value
// ISSUBSET '2001:db8::/32']", and returns the prefixes it denotes (a single
// address becomes a /32 or /128). Errors wrap [ErrMalformedPattern] or
// [ErrUnsupportedPattern].
func ParsePattern(pattern string) ([]netip.Prefix, error) {
	if len(pattern) > maxPatternLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrUnsupportedPattern, maxPatternLen)
	}
	toks, err := lex(pattern)
	if err != nil {
		return nil, err
	}
	if err := balanced(toks); err != nil {
		return nil, err
	}
	p := parser{toks: toks}
	if err := p.pattern(); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t)
	}
	return p.out, nil
}

// balanced rejects unbalanced brackets up front, so that anything the
// subset parser later refuses is at least plausible STIX.
func balanced(toks []token) error {
	var stack []tokenKind
	for _, t := range toks {
		switch t.kind {
		case tokLBrack, tokLParen:
			stack = append(stack, t.kind)
		case tokRBrack, tokRParen:
			want := tokLBrack
			if t.kind == tokRParen {
				want = tokLParen
			}
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return fmt.Errorf("%w: unbalanced %q at offset %d", ErrMalformedPattern, t.text, t.pos)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("%w: unclosed bracket", ErrMalformedPattern)
	}
	if len(toks) == 1 {
		return fmt.Errorf("%w: empty", ErrMalformedPattern)
	}
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == tokIdent && t.text == word
}

func (p *parser) unexpected(t token) error {
	if t.kind == tokEOF {
		return fmt.Errorf("%w: unexpected end", ErrMalformedPattern)
	}
	if t.kind == tokIdent {
		switch t.text {
		case "AND", "FOLLOWEDBY", "NOT", "WITHIN", "REPEATS", "START", "STOP":
			return fmt.Errorf("%w: %s is not supported", ErrUnsupportedPattern, t.text)
		}
	}
	return fmt.Errorf("%w: unexpected %q at offset %d", ErrUnsupportedPattern, t.text, t.pos)
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxPatternDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrUnsupportedPattern, maxPatternDepth)
	}
	return nil
}

func (p *parser) pattern() error {
	for {
		if err := p.observation(); err != nil {
			return err
		}
		if !p.isKeyword("OR") {
			return nil
		}
		p.next()
	}
}

func (p *parser) observation() error {
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	switch t := p.next(); t.kind {
	case tokLBrack:
		if err := p.comparisons(); err != nil {
			return err
		}
		if t := p.next(); t.kind != tokRBrack {
			return p.unexpected(t)
		}
		return nil
	case tokLParen:
		if err := p.pattern(); err != nil {
			return err
		}
		if t := p.next(); t.kind != tokRParen {
			return p.unexpected(t)
		}
		return nil
	default:
		return fmt.Errorf("%w: expected '[' at offset %d", ErrMalformedPattern, t.pos)
	}
}

func (p *parser) comparisons() error {
	for {
		if err := p.term(); err != nil {
			return err
		}
		if !p.isKeyword("OR") {
			return nil
		}
		p.next()
	}
}

func (p *parser) term() error {
	if p.peek().kind != tokLParen {
		return p.comparison()
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.next()
	if err := p.comparisons(); err != nil {
		return err
	}
	if t := p.next(); t.kind != tokRParen {
		return p.unexpected(t)
	}
	return nil
}

func (p *parser) comparison() error {
	obj := p.next()
	if obj.kind != tokIdent {
		return fmt.Errorf("%w: expected an object path at offset %d", ErrMalformedPattern, obj.pos)
	}
	if c := p.next(); c.kind != tokColon {
		return fmt.Errorf("%w: expected ':' after %q", ErrMalformedPattern, obj.text)
	}
	prop := p.next()
	if prop.kind != tokIdent && prop.kind != tokString {
		return fmt.Errorf("%w: expected a property name after %q", ErrMalformedPattern, obj.text+":")
	}
	if obj.text != "ipv4-addr" && obj.text != "ipv6-addr" {
		return fmt.Errorf("%w: object type %q", ErrUnsupportedPattern, obj.text)
	}
	if prop.text != "value" || p.peek().kind == tokDot || p.peek().kind == tokLBrack {
		return fmt.Errorf("%w: property %q of %s", ErrUnsupportedPattern, prop.text, obj.text)
	}
	op := p.next()
	switch {
	case op.kind == tokOp && op.text == "=":
	case op.kind == tokIdent && op.text == "ISSUBSET":
	case op.kind == tokOp || op.kind == tokIdent:
		return fmt.Errorf("%w: operator %s", ErrUnsupportedPattern, op.text)
	default:
		return fmt.Errorf("%w: expected an operator at offset %d", ErrMalformedPattern, op.pos)
	}
	lit := p.next()
	if lit.kind != tokString {
		return fmt.Errorf("%w: %s:value must be compared with a string, at offset %d", ErrMalformedPattern, obj.text, lit.pos)
	}
	pfx, err := addrPrefix(obj.text, lit.text)
	if err != nil {
		return err
	}
	p.out = append(p.out, pfx)
	return nil
}

// addrPrefix turns an ipv4-addr or ipv6-addr value (an address or CIDR
// block) into a masked prefix of the right family.
func addrPrefix(typ, s string) (netip.Prefix, error) {
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return pfx, fmt.Errorf("%w: %q is not a CIDR block", ErrMalformedPattern, s)
		}
		pfx = p.Masked()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return pfx, fmt.Errorf("%w: %q is not an address", ErrMalformedPattern, s)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	a := pfx.Addr()
	if (typ == "ipv4-addr") != a.Is4() {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not an %s value", ErrMalformedPattern, s, typ)
	}
	// Blocklists match unmapped client addresses, so an IPv4-mapped block
	// is only useful in its IPv4 form.
	if a.Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx, nil
}
