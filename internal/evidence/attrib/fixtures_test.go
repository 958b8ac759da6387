package attrib

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// fileSHA256 is the checksum a Dataset must record for path.
func fileSHA256(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeMMDB writes a MaxMind DB file mapping each CIDR to its record.
func writeMMDB(tb testing.TB, path, dbType string, records map[string]mmdbtype.Map) string {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, BuildEpoch: 1700000000})
	if err != nil {
		tb.Fatal(err)
	}
	for cidr, rec := range records {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := tree.Insert(network, rec); err != nil {
			tb.Fatalf("insert %s: %v", cidr, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func asnRec(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// geoLite2Country is GeoLite2-Country's nested layout.
func geoLite2Country(code string) mmdbtype.Map {
	return mmdbtype.Map{
		"country":            mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": mmdbtype.Map{"en": mmdbtype.String("x")}},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(code)},
	}
}

// ipLocationDBCountry is ip-location-db's flat layout.
func ipLocationDBCountry(code string) mmdbtype.Map {
	return mmdbtype.Map{"country_code": mmdbtype.String(code)}
}

// Fixture networks. Public ranges, since mmdbwriter refuses reserved ones;
// the names imitate the real AS names that the keywords must recognise.
const (
	asnCSVv4 = `51.68.0.0,51.68.255.255,16276,OVH SAS
90.0.0.0,90.127.255.255,3215,Orange S.A.
"93.184.216.0","93.184.216.255",15133,"Edgecast, ""Inc."""
100.128.0.0,100.128.0.255,64500,Broadband Hosting B.V.
145.0.0.0,145.0.0.255,64501,Example Research Network
`
	asnCSVv6 = `2001:41d0::,2001:41d0:ffff:ffff:ffff:ffff:ffff:ffff,16276,OVH SAS
2a01:cb00::,2a01:cb00:ffff:ffff:ffff:ffff:ffff:ffff,5511,Orange S.A.
`
	countryCSVv4 = `51.68.0.0,51.68.255.255,FR
90.0.0.0,90.127.255.255,FR
93.184.216.0,93.184.216.255,US
`
	countryCSVv6 = `2001:41d0::,2001:41d0:ffff:ffff:ffff:ffff:ffff:ffff,FR
2a01:cb00::,2a01:cb00:ffff:ffff:ffff:ffff:ffff:ffff,fr
`
)

// csvFixture writes ASN and country CSV files, IPv4 and IPv6, and returns
// their Config.
func csvFixture(tb testing.TB, dir string) Config {
	tb.Helper()
	return Config{
		ASNFiles: []string{
			writeFile(tb, dir, "asn-ipv4.csv", asnCSVv4),
			writeFile(tb, dir, "asn-ipv6.csv", asnCSVv6),
		},
		CountryFiles: []string{
			writeFile(tb, dir, "country-ipv4.csv", countryCSVv4),
			writeFile(tb, dir, "country-ipv6.csv", countryCSVv6),
		},
	}
}

// mustLoad loads cfg or fails the test.
func mustLoad(tb testing.TB, cfg Config) *Attributor {
	tb.Helper()
	a, err := Load(cfg)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return a
}
