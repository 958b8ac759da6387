package attrib_test

import (
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"preau/internal/evidence/attrib"
)

func ExampleAttributor_Lookup() {
	dir, err := os.MkdirTemp("", "attrib-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			log.Fatal(err)
		}
		return path
	}

	a, err := attrib.Load(attrib.Config{
		ASNFiles:     []string{write("asn-ipv4.csv", "51.68.0.0,51.68.255.255,16276,OVH SAS\n")},
		CountryFiles: []string{write("country-ipv4.csv", "51.68.0.0,51.68.255.255,FR\n")},
		TorFiles:     []string{write("tor-exits.txt", "# exits\n51.68.1.1\n")},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []string{"51.68.1.1", "51.68.2.2", "192.168.1.20"} {
		at := a.Lookup(netip.MustParseAddr(s))
		fmt.Printf("%s AS%d %q %q %s %.2f\n", at.Addr, at.ASN, at.ASName, at.Country, at.Class, at.Confidence)
		for _, r := range at.Reasons {
			fmt.Println("  because", r)
		}
		for _, d := range at.Datasets {
			fmt.Println("  from", d.Kind, d.File)
		}
	}
	// Output:
	// 51.68.1.1 AS16276 "OVH SAS" "FR" tor 0.95
	//   because listed in tor-exits.txt (tor list)
	//   because AS name matches 'ovh' (hosting keyword)
	//   from asn asn-ipv4.csv
	//   from country country-ipv4.csv
	//   from tor tor-exits.txt
	// 51.68.2.2 AS16276 "OVH SAS" "FR" hosting 0.70
	//   because AS name matches 'ovh' (hosting keyword)
	//   from asn asn-ipv4.csv
	//   from country country-ipv4.csv
	//   from tor tor-exits.txt
	// 192.168.1.20 AS0 "" "" private 1.00
	//   because 192.168.0.0/16 is private-use space (RFC 1918); a request cannot arrive from the internet with this source address: attribute the client address recorded by the proxy or load balancer in front instead
}
