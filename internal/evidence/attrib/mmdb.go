package attrib

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// mmdbSource answers from a MaxMind DB file held in memory. The reader is
// built from the very bytes that were hashed, so the recorded SHA-256 is
// that of the data actually consulted.
type mmdbSource struct {
	r            *maxminddb.Reader
	kind         Kind
	hasV4, hasV6 bool
}

// asnRecord is the layout of GeoLite2-ASN and ip-location-db's asn MMDB files.
type asnRecord struct {
	ASN  uint32 `maxminddb:"autonomous_system_number"`
	Name string `maxminddb:"autonomous_system_organization"`
}

type isoCode struct {
	ISOCode string `maxminddb:"iso_code"`
}

// countryRecord decodes both country layouts: GeoLite2's nested
// country.iso_code (with registered_country as a fallback, as GeoLite2
// leaves country empty for some anycast networks) and ip-location-db's
// top-level country_code.
type countryRecord struct {
	Country           isoCode `maxminddb:"country"`
	RegisteredCountry isoCode `maxminddb:"registered_country"`
	CountryCode       string  `maxminddb:"country_code"`
}

func (c *countryRecord) code() string {
	switch {
	case c.CountryCode != "":
		return c.CountryCode
	case c.Country.ISOCode != "":
		return c.Country.ISOCode
	default:
		return c.RegisteredCountry.ISOCode
	}
}

// probeRecords is how many records are decoded at load time to check that
// a file has the fields its kind needs.
const probeRecords = 32

// openMMDB opens data as a MaxMind DB file of the given kind and checks,
// on its first records, that it has the expected fields: an ASN database
// passed as a country file would otherwise answer nothing, silently.
func openMMDB(data []byte, kind Kind) (*mmdbSource, error) {
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("not a readable MaxMind DB file: %w", err)
	}
	s := &mmdbSource{r: r, kind: kind}
	var probe []maxminddb.Result
	for res := range r.NetworksWithin(netip.MustParsePrefix("0.0.0.0/0")) {
		s.hasV4 = true
		probe = append(probe, res)
		if len(probe) == probeRecords {
			break
		}
	}
	if r.Metadata.IPVersion == 6 {
		// 2000::/3 holds every allocated global unicast address; looking only
		// there skips the IPv4 subtree that IPv6 databases embed.
		for res := range r.NetworksWithin(netip.MustParsePrefix("2000::/3")) {
			s.hasV6 = true
			probe = append(probe, res)
			break
		}
	}
	if len(probe) == 0 {
		return nil, errors.New("MaxMind DB file holds no network")
	}
	for _, res := range probe {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("MaxMind DB file: %w", err)
		}
		switch kind {
		case KindASN:
			var rec asnRecord
			if err := res.Decode(&rec); err == nil && (rec.ASN != 0 || rec.Name != "") {
				return s, nil
			}
		case KindCountry:
			var rec countryRecord
			if err := res.Decode(&rec); err == nil && rec.code() != "" {
				return s, nil
			}
		}
	}
	if kind == KindASN {
		return nil, fmt.Errorf("no autonomous_system_number in the %d records probed: not an ASN database (type %q)",
			len(probe), r.Metadata.DatabaseType)
	}
	return nil, fmt.Errorf("no country.iso_code or country_code in the %d records probed: not a country database (type %q)",
		len(probe), r.Metadata.DatabaseType)
}

func (s *mmdbSource) covers(addr netip.Addr) bool {
	if addr.Is4() {
		return s.hasV4
	}
	return s.hasV6
}

func (s *mmdbSource) lookup(addr netip.Addr) (answer, error) {
	res := s.r.Lookup(addr)
	if !res.Found() {
		return answer{}, res.Err()
	}
	if s.kind == KindASN {
		var rec asnRecord
		if err := res.Decode(&rec); err != nil {
			return answer{}, fmt.Errorf("decode record for %s: %w", addr, err)
		}
		return answer{asn: rec.ASN, name: rec.Name, found: rec.ASN != 0 || rec.Name != ""}, nil
	}
	var rec countryRecord
	if err := res.Decode(&rec); err != nil {
		return answer{}, fmt.Errorf("decode record for %s: %w", addr, err)
	}
	code := rec.code()
	return answer{country: code, found: code != ""}, nil
}
