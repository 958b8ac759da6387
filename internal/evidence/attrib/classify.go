package attrib

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// specialRange is an address block that is never attributed to a network
// from the datasets, with the reason given in the Attribution.
type specialRange struct {
	prefix netip.Prefix
	class  Class
	reason string
}

const behindHop = "; a request cannot arrive from the internet with this source address: attribute the client address recorded by the proxy or load balancer in front instead"

// specialRanges follows the IANA special-purpose address registries. Shared
// address space (carrier-grade NAT) is private here: like RFC 1918 space it
// identifies no one outside the operator's network.
var specialRanges = []specialRange{
	{netip.MustParsePrefix("10.0.0.0/8"), ClassPrivate, "10.0.0.0/8 is private-use space (RFC 1918)" + behindHop},
	{netip.MustParsePrefix("172.16.0.0/12"), ClassPrivate, "172.16.0.0/12 is private-use space (RFC 1918)" + behindHop},
	{netip.MustParsePrefix("192.168.0.0/16"), ClassPrivate, "192.168.0.0/16 is private-use space (RFC 1918)" + behindHop},
	{netip.MustParsePrefix("100.64.0.0/10"), ClassPrivate, "100.64.0.0/10 is shared address space for carrier-grade NAT (RFC 6598)" + behindHop},
	{netip.MustParsePrefix("127.0.0.0/8"), ClassPrivate, "127.0.0.0/8 is loopback (RFC 1122)" + behindHop},
	{netip.MustParsePrefix("169.254.0.0/16"), ClassPrivate, "169.254.0.0/16 is link-local (RFC 3927)" + behindHop},
	{netip.MustParsePrefix("::1/128"), ClassPrivate, "::1 is loopback (RFC 4291)" + behindHop},
	{netip.MustParsePrefix("fe80::/10"), ClassPrivate, "fe80::/10 is link-local (RFC 4291)" + behindHop},
	{netip.MustParsePrefix("fc00::/7"), ClassPrivate, "fc00::/7 is unique local space (RFC 4193)" + behindHop},

	{netip.MustParsePrefix("0.0.0.0/8"), ClassReserved, "0.0.0.0/8 means \"this network\" (RFC 791) and is never a valid source on the internet"},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassReserved, "192.0.0.0/24 is reserved for IETF protocol assignments (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), ClassReserved, "192.0.2.0/24 is reserved for documentation (RFC 5737)"},
	{netip.MustParsePrefix("198.51.100.0/24"), ClassReserved, "198.51.100.0/24 is reserved for documentation (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), ClassReserved, "203.0.113.0/24 is reserved for documentation (RFC 5737)"},
	{netip.MustParsePrefix("198.18.0.0/15"), ClassReserved, "198.18.0.0/15 is reserved for benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("224.0.0.0/4"), ClassReserved, "224.0.0.0/4 is multicast and never a unicast source"},
	{netip.MustParsePrefix("240.0.0.0/4"), ClassReserved, "240.0.0.0/4 is reserved (RFC 1112), including the broadcast address"},
	{netip.MustParsePrefix("::/128"), ClassReserved, ":: is the unspecified address"},
	{netip.MustParsePrefix("100::/64"), ClassReserved, "100::/64 is discard-only space (RFC 6666)"},
	{netip.MustParsePrefix("2001:db8::/32"), ClassReserved, "2001:db8::/32 is reserved for documentation (RFC 3849)"},
	{netip.MustParsePrefix("ff00::/8"), ClassReserved, "ff00::/8 is multicast and never a unicast source"},
}

// special reports whether addr (unmapped, without zone) is in a private or
// reserved block.
func special(addr netip.Addr) (Class, string, bool) {
	for _, s := range specialRanges {
		if s.prefix.Contains(addr) {
			return s.class, s.reason, true
		}
	}
	return "", "", false
}

// keyword is one word or phrase matched against normalised AS names.
type keyword struct {
	text   []byte // lower case, words separated by one space
	words  int
	prefix bool // also matches words that start with text
	reason string
}

// hostingWords name hosting, cloud and data-centre operators and the words
// they use. A trailing "*" lets the word start a longer one.
var hostingWords = []string{
	"hosting*", "hoster", "webhost*", "hostinger", "hostwinds", "hostpapa",
	"cloud*", "server*", "datacenter*", "datacentre*", "data center*", "data centre*",
	"colo", "colocation", "colocrossing", "vps", "vds", "dedicated",
	"amazon", "aws", "google", "google cloud", "microsoft", "azure", "oracle",
	"ovh*", "hetzner", "digitalocean", "linode", "akamai", "alibaba*", "aliyun", "tencent",
	"leaseweb", "choopa", "vultr", "constant company", "contabo", "scaleway", "online s a s",
	"softlayer", "rackspace", "fastly", "cdn77", "datacamp", "m247", "ionos", "strato",
	"upcloud", "kamatera", "zenlayer", "gcore", "g core", "psychz", "quadranet",
	"frantech", "ponynet", "interserver", "godaddy", "namecheap", "stark industries", "aeza",
}

// ispWords name access providers, whose addresses are home, mobile or
// business lines. Such an address is often a compromised device or a
// residential proxy, which the caveat says.
var ispWords = []string{
	"telecom*", "telekom*", "telco", "rostelecom", "broadband", "cable*", "mobile", "wireless", "cellular",
	"dsl", "adsl", "vdsl", "fibre", "fiber", "ftth", "isp", "internet service provider", "residential",
	"orange", "free sas", "free mobile", "proxad", "sfr", "bouygues", "numericable",
	"comcast", "deutsche telekom", "vodafone", "verizon", "at t", "charter communications",
	"cox communications", "telefonica", "movistar", "telmex", "british telecommunications",
	"virgin media", "proximus", "swisscom", "telia", "telenor", "kpn", "ziggo",
	"chinanet", "china unicom", "airtel", "reliance jio", "bharti",
}

// keywordSet matches whole words and phrases of up to maxPhraseWords words
// by map lookups on slices of the normalised name, so that matching costs
// no allocation and does not grow with the number of keywords.
type keywordSet struct {
	exact    map[string]*keyword
	prefixes []*keyword
}

const maxPhraseWords = 4

func newKeywordSet(words []string, class string) keywordSet {
	ks := keywordSet{exact: make(map[string]*keyword)}
	for _, w := range words {
		text, prefix := strings.CutSuffix(w, "*")
		k := &keyword{
			text:   []byte(text),
			words:  strings.Count(text, " ") + 1,
			prefix: prefix,
			reason: "AS name matches '" + text + "' (" + class + " keyword)",
		}
		if k.words > maxPhraseWords {
			panic("attrib: keyword " + w + " has too many words")
		}
		if prefix {
			ks.prefixes = append(ks.prefixes, k)
		} else {
			ks.exact[text] = k
		}
	}
	return ks
}

var (
	hostingKeywords = newKeywordSet(hostingWords, "hosting")
	ispKeywords     = newKeywordSet(ispWords, "ISP")
)

// match returns the first keyword found in norm, a normalised name whose
// words start at starts.
func (ks *keywordSet) match(norm []byte, starts []int) *keyword {
	for i, s := range starts {
		for n := 1; n <= maxPhraseWords && i+n <= len(starts); n++ {
			end := len(norm)
			if i+n < len(starts) {
				end = starts[i+n] - 1
			}
			phrase := norm[s:end]
			if k, ok := ks.exact[string(phrase)]; ok { // no allocation: map index
				return k
			}
			// A prefix keyword of n words lets its last word start a
			// longer one: "server*" matches "servers", "data center*"
			// matches "data centers".
			for _, k := range ks.prefixes {
				if k.words == n && bytes.HasPrefix(phrase, k.text) {
					return k
				}
			}
		}
	}
	return nil
}

// matchASName returns the hosting and ISP keywords found in an AS name.
func matchASName(name string) (host, isp *keyword) {
	var buf [128]byte
	var startBuf [32]int
	norm, starts := normalise(name, buf[:0], startBuf[:0])
	return hostingKeywords.match(norm, starts), ispKeywords.match(norm, starts)
}

// normalise lower-cases name, turns every run of characters other than
// letters and digits into one space and returns the start of each word.
// "Amazon.com, Inc." becomes "amazon com inc".
func normalise(name string, buf []byte, starts []int) ([]byte, []int) {
	space := true
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space {
				if len(buf) > 0 {
					buf = append(buf, ' ')
				}
				starts = append(starts, len(buf))
			}
			space = false
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
			continue
		}
		space = true
	}
	return buf, starts
}
