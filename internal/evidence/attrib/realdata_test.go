package attrib

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// realDataConfig returns a Config for the files that scripts/fetch-ip-data.sh
// puts in $PREAU_IPDATA_DIR, skipping the test when it is unset.
func realDataConfig(tb testing.TB) Config {
	tb.Helper()
	dir := os.Getenv("PREAU_IPDATA_DIR")
	if dir == "" {
		tb.Skip("PREAU_IPDATA_DIR is unset: run scripts/fetch-ip-data.sh DIR and set PREAU_IPDATA_DIR=DIR to test against the real datasets")
	}
	return Config{
		ASNFiles: []string{
			filepath.Join(dir, "asn", "asn-ipv4.csv"),
			filepath.Join(dir, "asn", "asn-ipv6.csv"),
		},
		CountryFiles: []string{
			filepath.Join(dir, "iptoasn-country-mmdb", "iptoasn-country.mmdb"),
			filepath.Join(dir, "geo-whois-asn-country", "geo-whois-asn-country-ipv4.csv"),
			filepath.Join(dir, "geo-whois-asn-country", "geo-whois-asn-country-ipv6.csv"),
		},
	}
}

func TestRealData(t *testing.T) {
	cfg := realDataConfig(t)
	a, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range a.Datasets() {
		t.Logf("%s %s %s %s %s", ds.Kind, ds.Name, ds.Version, ds.Licence, ds.SHA256)
		if ds.Version == unknown || len(ds.SHA256) != 64 {
			t.Errorf("dataset %s: version %q, sha256 %q: want the package version and a SHA-256", ds.File, ds.Version, ds.SHA256)
		}
	}
	// Long-lived assignments that no dataset refresh should change.
	tests := []struct {
		addr    string
		asn     uint32
		country string
		class   Class
	}{
		{"8.8.8.8", 15169, "US", ClassHosting},              // Google
		{"2001:4860:4860::8888", 15169, "US", ClassHosting}, // Google
		{"3.5.140.1", 16509, "", ClassHosting},              // Amazon; country varies by region
		{"51.68.1.1", 16276, "", ClassHosting},              // OVH
	}
	for _, tt := range tests {
		got := a.Lookup(netip.MustParseAddr(tt.addr))
		t.Logf("%s: AS%d %q %s %s %.2f %q", tt.addr, got.ASN, got.ASName, got.Country, got.Class, got.Confidence, got.Reasons)
		if got.ASN != tt.asn || (tt.country != "" && got.Country != tt.country) || got.Class != tt.class {
			t.Errorf("Lookup(%s) = AS%d %s %s, want AS%d %s %s", tt.addr, got.ASN, got.Country, got.Class, tt.asn, tt.country, tt.class)
		}
		if len(got.Datasets) == 0 {
			t.Errorf("Lookup(%s): no dataset recorded", tt.addr)
		}
	}
}

func BenchmarkLoadRealASN(b *testing.B) {
	cfg := realDataConfig(b)
	cfg = Config{ASNFiles: cfg.ASNFiles}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupReal(b *testing.B) {
	a, err := Load(realDataConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("90.1.2.3"),
		netip.MustParseAddr("2a01:cb00::1"),
		netip.MustParseAddr("51.68.1.1"),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Lookup(addrs[i%len(addrs)])
		i++
	}
}
