package attrib

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
)

// Caveat is set on every Attribution: investigators must not read the
// country of an address as the location of the attacker.
const Caveat = "The network and country shown are where this address is registered or announced " +
	"according to the datasets listed, not where the attacker is: HTTP floods are routinely sent " +
	"through proxies, rented servers, Tor and compromised home devices, so the person responsible " +
	"may be in any country."

// CaveatFR is Caveat in French, for reports handed to French investigators.
const CaveatFR = "Le réseau et le pays indiqués sont ceux où cette adresse est enregistrée ou annoncée " +
	"selon les jeux de données cités, et non l'endroit où se trouve l'attaquant : les attaques par " +
	"saturation HTTP passent couramment par des proxys, des serveurs loués, Tor et des appareils " +
	"domestiques compromis ; le responsable peut donc se trouver dans n'importe quel pays."

// Class is the kind of network a source address belongs to.
type Class string

// Classes, from the most to the least specific. See the package
// documentation for the rules and their confidence.
const (
	ClassPrivate     Class = "private"     // RFC 1918, RFC 6598, loopback, link-local, unique local
	ClassReserved    Class = "reserved"    // documentation, benchmarking, multicast, unspecified, ...
	ClassTor         Class = "tor"         // listed as a Tor exit
	ClassProxy       Class = "proxy"       // listed as an anonymising proxy or VPN network
	ClassHosting     Class = "hosting"     // hosting, cloud or data-centre network
	ClassResidential Class = "residential" // access provider: home, mobile or business lines
	ClassUnknown     Class = "unknown"
)

// Confidence values of the classification rules (see the package
// documentation).
const (
	confSpecial     = 1.0
	confTor         = 0.95
	confProxy       = 0.9
	confHostingList = 0.9
	confConflict    = 0.5
	confHostingName = 0.7
	confResidential = 0.6
	confUnknown     = 0.2
)

// Kind is what a dataset describes.
type Kind string

// Dataset kinds.
const (
	KindASN     Kind = "asn"
	KindCountry Kind = "country"
	KindTor     Kind = "tor"
	KindProxy   Kind = "proxy"
	KindHosting Kind = "hosting"
)

// Dataset describes one loaded file.
type Dataset struct {
	Name    string // npm package or database name; the file name when nothing better is known
	Version string // "unknown" when not known
	Licence string // "unknown" when not known
	SHA256  string // hex SHA-256 of the file bytes that were parsed
	Kind    Kind
	File    string // path as configured
}

// Ref returns the part of d that is recorded with each Attribution.
func (d Dataset) Ref() DatasetRef {
	return DatasetRef{Name: d.Name, Version: d.Version, SHA256: d.SHA256, Kind: d.Kind, File: filepath.Base(d.File)}
}

// DatasetRef identifies a dataset consulted for an Attribution.
type DatasetRef struct {
	Name    string
	Version string
	SHA256  string
	Kind    Kind
	File    string // base name only: the operator's directory layout is not evidence
}

// Attribution is what the datasets say about one address.
type Attribution struct {
	Addr       netip.Addr // the address looked up, unmapped and without zone
	ASN        uint32     // 0 if unknown
	ASName     string
	Country    string  // ISO 3166-1 alpha-2 of registration, "" if unknown
	Class      Class   // see the package documentation for the rules
	Confidence float64 // 0..1, confidence in Class (0 for an invalid address)
	Reasons    []string
	Caveat     string       // always Caveat
	CaveatFR   string       // always CaveatFR
	Datasets   []DatasetRef // every dataset consulted, in configuration order; none for private and reserved addresses
}

// Config lists the files to load. Files ending in ".mmdb" are read as
// MaxMind DB files, other ASN and country files as CSV.
type Config struct {
	ASNFiles     []string
	CountryFiles []string
	TorFiles     []string
	ProxyFiles   []string
	HostingFiles []string
}

// Attributor answers lookups from loaded datasets. It is immutable once
// loaded and safe for concurrent use. The zero Attributor has no dataset
// and classifies every public address as unknown.
type Attributor struct {
	datasets []Dataset
	asn      []sourceEntry
	country  []sourceEntry
	tor      []*listSource
	proxy    []*listSource
	hosting  []*listSource
	// refs4 and refs6 are the datasets consulted for each address family,
	// computed once so that Lookup only copies them.
	refs4, refs6 []DatasetRef
}

// source is an ASN or country dataset: a CSV range table or an MMDB reader.
type source interface {
	// covers reports whether the dataset holds any data for addr's family.
	covers(addr netip.Addr) bool
	lookup(addr netip.Addr) (answer, error)
}

// answer is what one dataset says about an address.
type answer struct {
	asn     uint32
	name    string
	country string
	found   bool
	overlap bool // the dataset had overlapping ranges here (see sortAndResolve)
}

type sourceEntry struct {
	file        string // base name, for reasons
	overlapNote string // reason given when the answer came from overlapping ranges
	src         source
}

func newEntry(path string, src source) sourceEntry {
	base := filepath.Base(path)
	return sourceEntry{
		file:        base,
		overlapNote: base + " has overlapping ranges for this address; the narrowest was used",
		src:         src,
	}
}

// Load reads every file in cfg. It reports every bad file at once, joined
// with errors.Join; each error names its file and, for syntax errors, the
// line (see LineError). A Config with no files gives a working Attributor
// without datasets.
func Load(cfg Config) (*Attributor, error) {
	a := &Attributor{}
	var errs []error
	for _, f := range cfg.ASNFiles {
		ds, src, err := loadRanges(f, KindASN)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.datasets = append(a.datasets, ds)
		a.asn = append(a.asn, newEntry(f, src))
	}
	for _, f := range cfg.CountryFiles {
		ds, src, err := loadRanges(f, KindCountry)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.datasets = append(a.datasets, ds)
		a.country = append(a.country, newEntry(f, src))
	}
	lists := []struct {
		files []string
		kind  Kind
		dst   *[]*listSource
	}{
		{cfg.TorFiles, KindTor, &a.tor},
		{cfg.ProxyFiles, KindProxy, &a.proxy},
		{cfg.HostingFiles, KindHosting, &a.hosting},
	}
	for _, l := range lists {
		for _, f := range l.files {
			src, err := loadList(f, l.kind)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			a.datasets = append(a.datasets, src.dataset)
			*l.dst = append(*l.dst, src)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a.refs4 = a.consulted(netip.IPv4Unspecified())
	a.refs6 = a.consulted(netip.IPv6Unspecified())
	return a, nil
}

// consulted lists the datasets that hold data for addr's family, in the
// order Lookup consults them.
func (a *Attributor) consulted(addr netip.Addr) []DatasetRef {
	var refs []DatasetRef
	i := 0
	add := func(covers bool) {
		if covers {
			refs = append(refs, a.datasets[i].Ref())
		}
		i++
	}
	for _, e := range a.asn {
		add(e.src.covers(addr))
	}
	for _, e := range a.country {
		add(e.src.covers(addr))
	}
	for _, l := range [][]*listSource{a.tor, a.proxy, a.hosting} {
		for _, s := range l {
			add(s.covers(addr))
		}
	}
	return refs
}

// Datasets returns every loaded dataset, in configuration order.
func (a *Attributor) Datasets() []Dataset {
	return slices.Clone(a.datasets)
}

// Lookup attributes addr. It never fails: what could not be determined is
// left empty and explained in Reasons. An IPv4-mapped IPv6 address is looked
// up as IPv4. Lookup is safe for concurrent use; it allocates the Reasons
// and Datasets slices, which the caller owns, and whatever decoding an MMDB
// record needs.
func (a *Attributor) Lookup(addr netip.Addr) Attribution {
	res := Attribution{Caveat: Caveat, CaveatFR: CaveatFR, Class: ClassUnknown}
	if !addr.IsValid() {
		res.Reasons = []string{"invalid address"}
		return res
	}
	addr = addr.Unmap().WithZone("")
	res.Addr = addr
	if class, reason, ok := special(addr); ok {
		res.Class, res.Confidence, res.Reasons = class, confSpecial, []string{reason}
		return res
	}

	refs := a.refs6
	if addr.Is4() {
		refs = a.refs4
	}
	res.Datasets = slices.Clone(refs)
	reasons := make([]string, 0, 4)
	if len(a.datasets) == 0 {
		reasons = append(reasons, "no dataset loaded")
	}

	reasons = a.lookupASN(addr, &res, reasons)
	reasons = a.lookupCountry(addr, &res, reasons)

	// Evaluate every rule so that all matching ones are reported, then pick
	// the first in the documented order.
	torHit := listHits(a.tor, addr, 0, &reasons)
	proxyHit := listHits(a.proxy, addr, 0, &reasons)
	hostingHit := listHits(a.hosting, addr, res.ASN, &reasons)
	var host, isp *keyword
	if res.ASName != "" {
		host, isp = matchASName(res.ASName)
		if host != nil {
			reasons = append(reasons, host.reason)
		}
		if isp != nil {
			reasons = append(reasons, isp.reason)
		}
	}
	switch {
	case torHit:
		res.Class, res.Confidence = ClassTor, confTor
	case proxyHit:
		res.Class, res.Confidence = ClassProxy, confProxy
	case hostingHit:
		res.Class, res.Confidence = ClassHosting, confHostingList
	case host != nil && isp != nil:
		res.Class, res.Confidence = ClassHosting, confConflict
		reasons = append(reasons, "AS name matches both hosting and ISP keywords")
	case host != nil:
		res.Class, res.Confidence = ClassHosting, confHostingName
	case isp != nil:
		res.Class, res.Confidence = ClassResidential, confResidential
	default:
		res.Class, res.Confidence = ClassUnknown, confUnknown
		if res.ASName == "" && len(a.asn) > 0 {
			reasons = append(reasons, "AS name unknown: no class keyword to match")
		} else if res.ASName != "" {
			reasons = append(reasons, "AS name matches no class keyword")
		}
	}
	res.Reasons = reasons
	return res
}

func (a *Attributor) lookupASN(addr netip.Addr, res *Attribution, reasons []string) []string {
	ans, reasons := consult(a.asn, addr, "ASN", reasons, func(first, other answer) string {
		if other.asn == first.asn {
			return ""
		}
		return fmt.Sprintf("says AS%d (%s)", other.asn, other.name)
	})
	res.ASN, res.ASName = ans.asn, ans.name
	return reasons
}

func (a *Attributor) lookupCountry(addr netip.Addr, res *Attribution, reasons []string) []string {
	ans, reasons := consult(a.country, addr, "country", reasons, func(first, other answer) string {
		if other.country == first.country {
			return ""
		}
		return "says " + other.country
	})
	res.Country = ans.country
	return reasons
}

// consult asks every dataset of one kind that covers addr's family. The
// first answer wins; disagree describes how a later answer differs from it,
// or returns "" when it agrees.
func consult(entries []sourceEntry, addr netip.Addr, kind string, reasons []string,
	disagree func(first, other answer) string) (answer, []string) {
	var first answer
	consulted := false
	for _, e := range entries {
		if !e.src.covers(addr) {
			continue
		}
		consulted = true
		ans, err := e.src.lookup(addr)
		if ans.overlap {
			reasons = append(reasons, e.overlapNote)
		}
		switch {
		case err != nil:
			reasons = append(reasons, fmt.Sprintf("%s dataset %s: %v", kind, e.file, err))
		case !ans.found:
		case !first.found:
			first = ans
		default:
			if d := disagree(first, ans); d != "" {
				reasons = append(reasons, fmt.Sprintf("%s datasets disagree: %s %s", kind, e.file, d))
			}
		}
	}
	switch {
	case len(entries) == 0:
		reasons = append(reasons, "no "+kind+" dataset loaded")
	case !consulted:
		reasons = append(reasons, "no "+kind+" dataset covers this address family")
	case !first.found:
		reasons = append(reasons, "address not found in any "+kind+" dataset")
	}
	return first, reasons
}

// listHits reports whether any list holds addr (or asn, for hosting lists),
// adding a reason for each list that does.
func listHits(lists []*listSource, addr netip.Addr, asn uint32, reasons *[]string) bool {
	hit := false
	for _, l := range lists {
		if l.set.Contains(addr) {
			*reasons = append(*reasons, l.addrReason)
			hit = true
		}
		if asn != 0 {
			if _, ok := l.asns[asn]; ok {
				*reasons = append(*reasons, l.asnReason)
				hit = true
			}
		}
	}
	return hit
}
