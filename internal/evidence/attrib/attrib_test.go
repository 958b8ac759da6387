package attrib

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func hasReason(reasons []string, substr string) bool {
	return slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, substr) })
}

func TestLookupCSV(t *testing.T) {
	dir := t.TempDir()
	cfg := csvFixture(t, dir)
	a := mustLoad(t, cfg)

	tests := []struct {
		addr    string
		asn     uint32
		name    string
		country string
		class   Class
		conf    float64
		files   []string // datasets consulted
	}{
		{"51.68.12.34", 16276, "OVH SAS", "FR", ClassHosting, 0.7, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
		{"90.1.2.3", 3215, "Orange S.A.", "FR", ClassResidential, 0.6, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
		{"93.184.216.34", 15133, `Edgecast, "Inc."`, "US", ClassUnknown, 0.2, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
		{"2001:41d0::1", 16276, "OVH SAS", "FR", ClassHosting, 0.7, []string{"asn-ipv6.csv", "country-ipv6.csv"}},
		{"2a01:cb00:1::1", 5511, "Orange S.A.", "FR", ClassResidential, 0.6, []string{"asn-ipv6.csv", "country-ipv6.csv"}},
		{"::ffff:90.1.2.3", 3215, "Orange S.A.", "FR", ClassResidential, 0.6, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
		{"8.8.8.8", 0, "", "", ClassUnknown, 0.2, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
		// Range edges are inclusive.
		{"90.127.255.255", 3215, "Orange S.A.", "FR", ClassResidential, 0.6, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
		{"90.128.0.0", 0, "", "", ClassUnknown, 0.2, []string{"asn-ipv4.csv", "country-ipv4.csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got := a.Lookup(netip.MustParseAddr(tt.addr))
			if got.ASN != tt.asn || got.ASName != tt.name || got.Country != tt.country {
				t.Errorf("got AS%d %q %q, want AS%d %q %q", got.ASN, got.ASName, got.Country, tt.asn, tt.name, tt.country)
			}
			if got.Class != tt.class || got.Confidence != tt.conf {
				t.Errorf("got %s %.2f, want %s %.2f (reasons %q)", got.Class, got.Confidence, tt.class, tt.conf, got.Reasons)
			}
			var files []string
			for _, d := range got.Datasets {
				files = append(files, d.File)
				if want := fileSHA256(t, filepath.Join(dir, d.File)); d.SHA256 != want {
					t.Errorf("dataset %s: SHA256 %s, want %s", d.File, d.SHA256, want)
				}
				if d.Name != d.File || d.Version != "unknown" {
					t.Errorf("dataset %s: name %q version %q, want the file name and unknown", d.File, d.Name, d.Version)
				}
			}
			if !slices.Equal(files, tt.files) {
				t.Errorf("datasets %q, want %q", files, tt.files)
			}
			if got.Caveat != Caveat || got.CaveatFR != CaveatFR {
				t.Error("caveat not set")
			}
			if len(got.Reasons) == 0 {
				t.Error("no reason given")
			}
		})
	}

	if got := a.Lookup(netip.MustParseAddr("8.8.8.8")); !hasReason(got.Reasons, "not found in any ASN dataset") {
		t.Errorf("uncovered address: reasons %q, want one saying the ASN is unknown", got.Reasons)
	}
}

func TestLookupMMDB(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		ASNFiles: []string{writeMMDB(t, filepath.Join(dir, "GeoLite2-ASN.mmdb"), "GeoLite2-ASN", map[string]mmdbtype.Map{
			"51.68.0.0/16":   asnRec(16276, "OVH SAS"),
			"2001:41d0::/32": asnRec(16276, "OVH SAS"),
			"81.56.0.0/15":   asnRec(12322, "Free SAS"),
		})},
		CountryFiles: []string{
			// GeoLite2 layout first: it wins where both answer.
			writeMMDB(t, filepath.Join(dir, "GeoLite2-Country.mmdb"), "GeoLite2-Country", map[string]mmdbtype.Map{
				"51.68.0.0/16": geoLite2Country("FR"),
			}),
			writeMMDB(t, filepath.Join(dir, "geo-whois-asn-country.mmdb"), "country ipvAll", map[string]mmdbtype.Map{
				"51.68.0.0/16":   ipLocationDBCountry("DE"),
				"2001:41d0::/32": ipLocationDBCountry("FR"),
				"81.56.0.0/15":   ipLocationDBCountry("FR"),
			}),
		},
	}
	a := mustLoad(t, cfg)

	got := a.Lookup(netip.MustParseAddr("51.68.1.1"))
	if got.ASN != 16276 || got.ASName != "OVH SAS" || got.Country != "FR" || got.Class != ClassHosting {
		t.Errorf("51.68.1.1: got AS%d %q %s %s", got.ASN, got.ASName, got.Country, got.Class)
	}
	if !hasReason(got.Reasons, "country datasets disagree: geo-whois-asn-country.mmdb says DE") {
		t.Errorf("51.68.1.1: reasons %q, want the disagreement recorded", got.Reasons)
	}
	got = a.Lookup(netip.MustParseAddr("2001:41d0::53"))
	if got.ASN != 16276 || got.Country != "FR" {
		t.Errorf("2001:41d0::53 (ip-location-db layout): got AS%d %q", got.ASN, got.Country)
	}
	got = a.Lookup(netip.MustParseAddr("81.57.1.1"))
	if got.ASN != 12322 || got.Country != "FR" || got.Class != ClassResidential || got.Confidence != 0.6 {
		t.Errorf("81.57.1.1: got AS%d %q %s %.2f", got.ASN, got.Country, got.Class, got.Confidence)
	}

	for i, d := range got.Datasets {
		path := filepath.Join(dir, d.File)
		if d.SHA256 != fileSHA256(t, path) {
			t.Errorf("dataset %d (%s): wrong SHA256", i, d.File)
		}
		// No package.json: named from the MMDB metadata.
		if d.Version != "built 2023-11-14T22:13:20Z" {
			t.Errorf("dataset %s: version %q, want the build date from the metadata", d.File, d.Version)
		}
	}
	if len(got.Datasets) != 3 || got.Datasets[0].Name != "GeoLite2-ASN" || got.Datasets[0].Kind != KindASN {
		t.Errorf("datasets %+v, want GeoLite2-ASN first, then both country files", got.Datasets)
	}
}

func TestClassification(t *testing.T) {
	dir := t.TempDir()
	cfg := csvFixture(t, dir)
	cfg.TorFiles = []string{
		writeFile(t, dir, "tor-exits.txt", "# Tor exits\n51.68.1.1\n2001:41d0::dead # inline comment\n"),
		writeFile(t, dir, "bulk-exit-list.txt", "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"+
			"Published 2025-01-30 23:16:42\nLastStatus 2025-01-31 00:00:00\nExitAddress 90.1.1.1 2025-01-31 00:12:04\n"),
	}
	cfg.ProxyFiles = []string{writeFile(t, dir, "proxies.txt", "90.2.0.0/16\n90.3.3.3\n")}
	cfg.HostingFiles = []string{writeFile(t, dir, "hosting.txt", "AS3215 # pretend\n145.0.0.128/25\n")}
	a := mustLoad(t, cfg)

	tests := []struct {
		addr    string
		class   Class
		conf    float64
		reasons []string
	}{
		{"51.68.1.1", ClassTor, 0.95, []string{"listed in tor-exits.txt (tor list)", "AS name matches 'ovh' (hosting keyword)"}},
		{"2001:41d0::dead", ClassTor, 0.95, []string{"listed in tor-exits.txt"}},
		{"90.1.1.1", ClassTor, 0.95, []string{"listed in bulk-exit-list.txt", "AS listed in hosting.txt"}},
		{"90.2.44.1", ClassProxy, 0.9, []string{"listed in proxies.txt (proxy list)"}},
		{"90.3.3.3", ClassProxy, 0.9, []string{"listed in proxies.txt"}},
		{"90.4.0.1", ClassHosting, 0.9, []string{"AS listed in hosting.txt (hosting list)", "AS name matches 'orange' (ISP keyword)"}},
		{"145.0.0.200", ClassHosting, 0.9, []string{"listed in hosting.txt (hosting list)"}},
		{"145.0.0.1", ClassUnknown, 0.2, []string{"AS name matches no class keyword"}},
		{"51.68.2.2", ClassHosting, 0.7, []string{"AS name matches 'ovh' (hosting keyword)"}},
		{"100.128.0.1", ClassHosting, 0.5, []string{"'hosting' (hosting keyword)", "'broadband' (ISP keyword)", "both hosting and ISP"}},
		{"2a01:cb00::1", ClassResidential, 0.6, []string{"AS name matches 'orange' (ISP keyword)"}},
	}
	for _, tt := range tests {
		got := a.Lookup(netip.MustParseAddr(tt.addr))
		if got.Class != tt.class || got.Confidence != tt.conf {
			t.Errorf("%s: got %s %.2f, want %s %.2f (reasons %q)", tt.addr, got.Class, got.Confidence, tt.class, tt.conf, got.Reasons)
		}
		for _, r := range tt.reasons {
			if !hasReason(got.Reasons, r) {
				t.Errorf("%s: reasons %q lack %q", tt.addr, got.Reasons, r)
			}
		}
	}

	// Lists are datasets too, recorded with their checksum.
	got := a.Lookup(netip.MustParseAddr("90.3.3.3"))
	i := slices.IndexFunc(got.Datasets, func(d DatasetRef) bool { return d.File == "proxies.txt" })
	if i < 0 || got.Datasets[i].Kind != KindProxy || got.Datasets[i].SHA256 != fileSHA256(t, cfg.ProxyFiles[0]) {
		t.Errorf("datasets %+v: want proxies.txt with its SHA-256", got.Datasets)
	}
}

func TestASNameKeywords(t *testing.T) {
	tests := []struct {
		name      string
		host, isp string // matched keyword, "" for none
	}{
		{"Amazon.com, Inc.", "amazon", ""},
		{"AMAZON-02", "amazon", ""},
		{"MICROSOFT-CORP-MSN-AS-BLOCK", "microsoft", ""},
		{"Hetzner Online GmbH", "hetzner", ""},
		{"DIGITALOCEAN-ASN", "digitalocean", ""},
		{"The Constant Company, LLC", "constant company", ""},
		{"Online S.a.s.", "online s a s", ""},
		{"Serverius Holding B.V.", "server", ""},
		{"Equinix Data Centers", "data center", ""},
		{"Telmex Colombia S.A.", "", "telmex"}, // "colo" must not match "Colombia"
		{"Free SAS", "", "free sas"},
		{"Societe Francaise Du Radiotelephone - SFR SA", "", "sfr"},
		{"Bouygues Telecom SA", "", "bouygues"},
		{"Deutsche Telekom AG", "", "deutsche telekom"},
		{"Telecomunicações de São Paulo", "", "telecom"},
		{"AT&T Services, Inc.", "", "at t"},
		{"Freedom Network", "", ""}, // "free" alone is not Free SAS
		{"Stiftung Erneuerbare Freiheit", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		host, isp := matchASName(tt.name)
		var gotHost, gotISP string
		if host != nil {
			gotHost = string(host.text)
		}
		if isp != nil {
			gotISP = string(isp.text)
		}
		if gotHost != tt.host || gotISP != tt.isp {
			t.Errorf("matchASName(%q) = %q, %q; want %q, %q", tt.name, gotHost, gotISP, tt.host, tt.isp)
		}
	}
}

func TestSpecialAddresses(t *testing.T) {
	a := mustLoad(t, csvFixture(t, t.TempDir()))
	tests := []struct {
		addr   string
		class  Class
		reason string
	}{
		{"10.1.2.3", ClassPrivate, "RFC 1918"},
		{"172.20.0.1", ClassPrivate, "RFC 1918"},
		{"192.168.1.10", ClassPrivate, "RFC 1918"},
		{"::ffff:192.168.1.10", ClassPrivate, "RFC 1918"},
		{"100.64.3.4", ClassPrivate, "carrier-grade NAT"},
		{"127.0.0.1", ClassPrivate, "loopback"},
		{"::1", ClassPrivate, "loopback"},
		{"169.254.1.1", ClassPrivate, "link-local"},
		{"fe80::1%eth0", ClassPrivate, "link-local"},
		{"fd00::1", ClassPrivate, "unique local"},
		{"192.0.2.1", ClassReserved, "documentation"},
		{"198.51.100.7", ClassReserved, "documentation"},
		{"203.0.113.9", ClassReserved, "documentation"},
		{"2001:db8::1", ClassReserved, "documentation"},
		{"198.18.0.1", ClassReserved, "benchmarking"},
		{"224.0.0.1", ClassReserved, "multicast"},
		{"ff02::1", ClassReserved, "multicast"},
		{"255.255.255.255", ClassReserved, "broadcast"},
		{"0.0.0.0", ClassReserved, "this network"},
		{"::", ClassReserved, "unspecified"},
	}
	for _, tt := range tests {
		got := a.Lookup(netip.MustParseAddr(tt.addr))
		if got.Class != tt.class || got.Confidence != 1 || !hasReason(got.Reasons, tt.reason) {
			t.Errorf("%s: got %s %.2f %q, want %s 1.00 with %q", tt.addr, got.Class, got.Confidence, got.Reasons, tt.class, tt.reason)
		}
		if got.ASN != 0 || got.Country != "" || len(got.Datasets) != 0 {
			t.Errorf("%s: looked up in datasets: AS%d %q %v", tt.addr, got.ASN, got.Country, got.Datasets)
		}
		if got.Addr.Zone() != "" || got.Addr.Is4In6() {
			t.Errorf("%s: Addr %s not canonical", tt.addr, got.Addr)
		}
		if got.Caveat == "" || got.CaveatFR == "" {
			t.Errorf("%s: caveat not set", tt.addr)
		}
	}
}

func TestNoDataset(t *testing.T) {
	loaded := mustLoad(t, Config{})
	for name, a := range map[string]*Attributor{"Load(Config{})": loaded, "zero Attributor": {}} {
		got := a.Lookup(netip.MustParseAddr("51.68.1.1"))
		if got.Class != ClassUnknown || got.Confidence != 0.2 || !hasReason(got.Reasons, "no dataset loaded") {
			t.Errorf("%s: got %s %.2f %q, want unknown 0.20 with \"no dataset loaded\"", name, got.Class, got.Confidence, got.Reasons)
		}
		if got.Caveat != Caveat || got.CaveatFR != CaveatFR || len(got.Datasets) != 0 {
			t.Errorf("%s: caveat %q, datasets %v", name, got.Caveat, got.Datasets)
		}
		if got := a.Lookup(netip.Addr{}); got.Class != ClassUnknown || got.Confidence != 0 || got.Caveat != Caveat {
			t.Errorf("%s: invalid address gave %+v", name, got)
		}
	}
}

func TestLoadReportsEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	badCSV := writeFile(t, dir, "asn-ipv4.csv", "1.0.0.0,1.0.0.255,13335,Cloudflare\n"+
		"1.0.4.0,1.0.7.255,38803,Gtelecom\n"+
		"1.0.16.0,1.0.15.255,2519,ARTERIA\n"+ // end before start
		"1.0.32.0,1.0.63.255,AS4134,CHINANET\n") // AS prefix is not a number
	badCountry := writeFile(t, dir, "country.csv", "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.3.255,Australia\n")
	numeric := writeFile(t, dir, "asn-ipv4-num.csv", "16777216,16777471,13335,Cloudflare\n")
	badMMDB := writeFile(t, dir, "broken.mmdb", "this is not a MaxMind DB file")
	wrongKind := writeMMDB(t, filepath.Join(dir, "asn-as-country.mmdb"), "GeoLite2-ASN",
		map[string]mmdbtype.Map{"51.68.0.0/16": asnRec(16276, "OVH SAS")})
	badTor := writeFile(t, dir, "tor.txt", "185.220.101.1\nExitAddress\nnot-an-address\n")
	badHosting := writeFile(t, dir, "hosting.txt", "AS16276\nAS16x276\n10.0.0.0/33\n")
	asnInProxy := writeFile(t, dir, "proxy.txt", "AS16276\n")
	emptyList := writeFile(t, dir, "empty.txt", "# nothing yet\n")
	missing := filepath.Join(dir, "missing.csv")

	_, err := Load(Config{
		ASNFiles:     []string{badCSV, numeric, badMMDB, missing},
		CountryFiles: []string{badCountry, wrongKind},
		TorFiles:     []string{badTor, emptyList},
		ProxyFiles:   []string{asnInProxy},
		HostingFiles: []string{badHosting},
	})
	if err == nil {
		t.Fatal("Load succeeded with bad files")
	}
	msg := err.Error()
	t.Log(msg)

	wantLines := map[string][]int{
		badCSV:     {3, 4},
		badCountry: {2},
		numeric:    {1},
		badTor:     {2, 3},
		badHosting: {2, 3},
		asnInProxy: {1},
	}
	gotLines := map[string][]int{}
	for _, e := range flatten(err) {
		var le *LineError
		if errors.As(e, &le) {
			gotLines[le.File] = append(gotLines[le.File], le.Line)
		}
	}
	for file, lines := range wantLines {
		if !slices.Equal(gotLines[file], lines) {
			t.Errorf("%s: errors on lines %v, want %v", filepath.Base(file), gotLines[file], lines)
		}
	}
	if !errors.Is(err, ErrNumericCSV) {
		t.Error("numeric CSV not reported as ErrNumericCSV")
	}
	for _, want := range []string{
		badCSV + ":3: range end 1.0.15.255 is before its start 1.0.16.0",
		badCSV + `:4: bad AS number "AS4134"`,
		badMMDB + ": not a readable MaxMind DB file",
		wrongKind + ": no country.iso_code or country_code",
		emptyList + ": no entries",
		"missing.csv",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
}

// flatten unwraps errors.Join and %w chains into their leaves.
func flatten(err error) []error {
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		var out []error
		for _, x := range e.Unwrap() {
			out = append(out, flatten(x)...)
		}
		return out
	case interface{ Unwrap() error }:
		if _, ok := err.(*LineError); ok {
			return []error{err}
		}
		return flatten(e.Unwrap())
	}
	return []error{err}
}

func TestLineErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	for range 50 {
		b.WriteString("garbage\n")
	}
	path := writeFile(t, t.TempDir(), "asn.csv", b.String())
	_, err := Load(Config{ASNFiles: []string{path}})
	if err == nil || !strings.Contains(err.Error(), "40 more bad lines not shown") {
		t.Fatalf("err = %v, want 10 line errors and a count of the rest", err)
	}
}

func TestOverlappingRanges(t *testing.T) {
	// As in the real geo-whois-asn-country file: a single address inside a
	// larger block, and two blocks that overlap at their edges.
	path := writeFile(t, t.TempDir(), "country.csv", "2.58.196.0,2.58.197.255,DE\n"+
		"2.58.197.15,2.58.197.15,BE\n"+
		"214.95.0.0,215.0.255.255,US\n"+
		"215.0.0.0,215.1.3.255,GB\n"+
		"216.0.0.0,216.0.0.255,CA\n")
	a := mustLoad(t, Config{CountryFiles: []string{path}})
	tests := []struct {
		addr, country string
		overlap       bool
	}{
		{"2.58.196.1", "DE", true},
		{"2.58.197.14", "DE", true},
		{"2.58.197.15", "BE", true},
		{"2.58.197.16", "DE", true},
		{"214.95.0.1", "US", true},
		{"215.0.0.1", "GB", true}, // the narrower of the two
		{"215.1.3.255", "GB", true},
		{"216.0.0.1", "CA", false},
	}
	for _, tt := range tests {
		got := a.Lookup(netip.MustParseAddr(tt.addr))
		if got.Country != tt.country || hasReason(got.Reasons, "overlapping ranges") != tt.overlap {
			t.Errorf("%s: got %q %q, want %q (overlap noted: %v)", tt.addr, got.Country, got.Reasons, tt.country, tt.overlap)
		}
	}
}

// TestResolveOverlapsMatchesBruteForce checks the sweep against the rule it
// implements, point by point, on many small random tables.
func TestResolveOverlapsMatchesBruteForce(t *testing.T) {
	seed := uint64(1)
	rnd := func(n uint64) uint64 { // xorshift: deterministic, no import needed
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return seed % n
	}
	for iter := range 500 {
		var rs []range4
		for i := range 1 + rnd(8) {
			s := uint32(rnd(40))
			rs = append(rs, range4{s, s + uint32(rnd(15)), uint32(i)})
		}
		slices.SortStableFunc(rs, func(a, b range4) int { return int(a.start) - int(b.start) })
		want := func(x uint32) (uint32, bool) {
			best, found := range4{}, false
			for _, r := range rs {
				if r.start <= x && x <= r.end && (!found || r.end-r.start < best.end-best.start) {
					best, found = r, true
				}
			}
			return best.val, found
		}
		tab := &rangeTable{v4: slices.Clone(rs)}
		tab.sortAndResolve()
		for i := 1; i < len(tab.v4); i++ {
			if tab.v4[i].start <= tab.v4[i-1].end {
				t.Fatalf("iteration %d: output overlaps: %v", iter, tab.v4)
			}
		}
		for x := uint32(0); x < 60; x++ {
			wv, wok := want(x)
			gv, gok := tab.find(u32Addr(x))
			if wok != gok || wv != gv&^overlapFlag {
				t.Fatalf("iteration %d: %v: point %d: got %d %v, want %d %v (table %v)", iter, rs, x, gv&^overlapFlag, gok, wv, wok, tab.v4)
			}
		}
	}
}

func u32Addr(x uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
}

func TestDatasetMetadata(t *testing.T) {
	dir := t.TempDir()
	// An extracted npm package, as scripts/fetch-ip-data.sh leaves it.
	pkg := filepath.Join(dir, "geo-whois-asn-country")
	writeFile(t, pkg, "package.json", `{"name": "@ip-location-db/geo-whois-asn-country", "version": "2.3.2026061719", "license": "CC0-1.0"}`)
	writeFile(t, pkg, "NRO_LICENSE", "CC BY 4.0")
	inPkg := writeFile(t, pkg, "geo-whois-asn-country-ipv4.csv", countryCSVv4)
	// A file one level down in a package with an old-style licence object.
	old := filepath.Join(dir, "old")
	writeFile(t, old, "package.json", `{"name": "old-data", "version": "1.0.0", "license": {"type": "PDDL-1.0"}}`)
	nested := writeFile(t, old, "data/asn.csv", asnCSVv4)
	// A sidecar wins over everything.
	tor := writeFile(t, pkg, "tor.txt", "185.220.101.1\n")
	writeFile(t, pkg, "tor.txt"+SidecarSuffix, `{"name": "Tor bulk exit list", "version": "2025-01-31", "licence": "CC0-1.0"}`)

	a := mustLoad(t, Config{ASNFiles: []string{nested}, CountryFiles: []string{inPkg}, TorFiles: []string{tor}})
	got := a.Datasets()
	want := []Dataset{
		{"old-data", "1.0.0", "PDDL-1.0", fileSHA256(t, nested), KindASN, nested},
		{"@ip-location-db/geo-whois-asn-country", "2.3.2026061719", "CC0-1.0 (licence files in package: NRO_LICENSE)", fileSHA256(t, inPkg), KindCountry, inPkg},
		{"Tor bulk exit list", "2025-01-31", "CC0-1.0", fileSHA256(t, tor), KindTor, tor},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Datasets() =\n%+v\nwant\n%+v", got, want)
	}

	writeFile(t, pkg, "tor.txt"+SidecarSuffix, `{"name": `)
	if _, err := Load(Config{TorFiles: []string{tor}}); err == nil || !strings.Contains(err.Error(), SidecarSuffix) {
		t.Errorf("malformed sidecar: err = %v, want it named", err)
	}
}

func TestConcurrentLookups(t *testing.T) {
	dir := t.TempDir()
	cfg := csvFixture(t, dir)
	cfg.CountryFiles = append(cfg.CountryFiles, writeMMDB(t, filepath.Join(dir, "c.mmdb"), "country",
		map[string]mmdbtype.Map{"51.68.0.0/16": ipLocationDBCountry("FR")}))
	cfg.TorFiles = []string{writeFile(t, dir, "tor.txt", "51.68.1.1\n")}
	a := mustLoad(t, cfg)
	want := a.Lookup(netip.MustParseAddr("51.68.1.1"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got := a.Lookup(netip.MustParseAddr("51.68.1.1"))
				if got.Class != want.Class || got.Country != want.Country || !slices.Equal(got.Reasons, want.Reasons) {
					t.Errorf("concurrent lookup differs: %+v", got)
					return
				}
				got.Datasets[0].Name = "mutated" // must not affect other lookups
			}
		})
	}
	wg.Wait()
	if a.Lookup(netip.MustParseAddr("51.68.1.1")).Datasets[0].Name == "mutated" {
		t.Error("Lookup results share Datasets memory")
	}
}

func TestMissingFileNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.mmdb")
	_, err := Load(Config{ASNFiles: []string{path}})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want a not-exist error naming %s", err, path)
	}
}
