package attrib

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeSyntheticASN writes an ASN CSV shaped like the real asn-ipv4.csv:
// rows disjoint /24 to /20 blocks, 500,000 rows, about 80,000 AS names.
func writeSyntheticASN(b *testing.B, rows int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "asn-ipv4.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	start := uint32(1 << 24)
	for i := range rows {
		size := uint32(256) << (i % 5)
		end := start + size - 1
		asn := 1000 + i%80000
		fmt.Fprintf(w, "%v,%v,%d,\"Example Networks %d, Inc.\"\n", u32Addr(start), u32Addr(end), asn, asn)
		start = end + 1 + 256
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLoadCSV measures loading an ASN CSV the size of the real one.
func BenchmarkLoadCSV(b *testing.B) {
	path := writeSyntheticASN(b, 500_000)
	cfg := Config{ASNFiles: []string{path}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkLookup(b *testing.B, a *Attributor, addrs ...string) {
	b.Helper()
	var as []netip.Addr
	for _, s := range addrs {
		as = append(as, netip.MustParseAddr(s))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Lookup(as[i%len(as)])
		i++
	}
}

// BenchmarkLookupCSV looks up hosting, residential and list hits in CSV
// tables with operator lists loaded.
func BenchmarkLookupCSV(b *testing.B) {
	dir := b.TempDir()
	cfg := csvFixture(b, dir)
	cfg.TorFiles = []string{writeFile(b, dir, "tor.txt", "51.68.1.1\n")}
	cfg.ProxyFiles = []string{writeFile(b, dir, "proxy.txt", "90.2.0.0/16\n")}
	cfg.HostingFiles = []string{writeFile(b, dir, "hosting.txt", "AS16276\n")}
	benchmarkLookup(b, mustLoad(b, cfg), "51.68.1.1", "90.1.2.3", "2a01:cb00::1", "8.8.8.8")
}

func BenchmarkLookupMMDB(b *testing.B) {
	dir := b.TempDir()
	a := mustLoad(b, Config{
		ASNFiles: []string{writeMMDB(b, filepath.Join(dir, "asn.mmdb"), "GeoLite2-ASN", map[string]mmdbtype.Map{
			"51.68.0.0/16": asnRec(16276, "OVH SAS"), "90.0.0.0/9": asnRec(3215, "Orange S.A."),
		})},
		CountryFiles: []string{writeMMDB(b, filepath.Join(dir, "country.mmdb"), "GeoLite2-Country", map[string]mmdbtype.Map{
			"51.68.0.0/16": geoLite2Country("FR"), "90.0.0.0/9": geoLite2Country("FR"),
		})},
	})
	benchmarkLookup(b, a, "51.68.1.1", "90.1.2.3")
}

func BenchmarkMatchASName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		matchASName("Societe Francaise Du Radiotelephone - SFR SA")
	}
}
