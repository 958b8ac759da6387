// Package attrib attributes a source address to a network, offline and
// honestly, for Préau's attack evidence.
//
// Investigators warn that the country an address appears to come from is
// often not where an attack was launched: HTTP floods are sent through
// proxies, rented servers, Tor and compromised home devices. This package
// therefore says what the operator's datasets say about an address (its
// autonomous system, AS name and registered country), classifies the kind
// of network it belongs to, explains why, and names every dataset it
// consulted with the SHA-256 of the exact bytes that were loaded, so that a
// finding can be reproduced later from the same files. Every [Attribution]
// carries [Caveat] and [CaveatFR] for the report.
//
// Nothing is fetched at run time: the operator downloads the data (see
// scripts/fetch-ip-data.sh) and lists the files in a [Config].
//
// # Datasets
//
// ASN and country data are read from two formats:
//
//   - MaxMind DB files (".mmdb"). ASN databases carry
//     autonomous_system_number and autonomous_system_organization, as in
//     MaxMind's GeoLite2-ASN and ip-location-db's *-asn-mmdb packages.
//     Country databases carry either country.iso_code (GeoLite2-Country and
//     -City; registered_country.iso_code is used when country is absent) or a
//     top-level country_code (ip-location-db's *-country-mmdb packages).
//   - CSV files as published in the @ip-location-db/* npm packages: no
//     header, inclusive ranges written as addresses,
//     "ip_range_start,ip_range_end,asn,as_organization" for ASN files and
//     "ip_range_start,ip_range_end,country_code" for country files (extra
//     columns, as in the city files, are ignored). Fields may be quoted, with
//     "" for a quote. The "-num.csv" variants, which write addresses as
//     integers, are rejected with a clear error. Ranges are held in sorted
//     slices of fixed-size entries (one per family, AS names shared) and
//     found by binary search. The published files do contain overlapping
//     ranges (a single address inside a larger block, blocks sharing an
//     edge); these are cut into disjoint pieces, each taking the value of
//     the narrowest range covering it, and a lookup that lands in such a
//     piece says so in its reasons.
//
// Operator lists hold one entry per line; "#" starts a comment:
//
//   - Tor exit lists: an address or CIDR per line, or the Tor Project's
//     bulk exit list format ("ExitAddress a.b.c.d 2024-01-01 12:00:00";
//     its ExitNode, Published and LastStatus lines are skipped).
//   - Proxy lists: anonymising proxy or VPN networks, an address or CIDR per
//     line.
//   - Hosting lists: an AS number ("AS16276") or an address or CIDR per line.
//
// Each file becomes a [Dataset]. Its name, version and licence come, in
// order of preference, from a sidecar file FILE.dataset.json
// ({"name": ..., "version": ..., "licence": ...}); from the package.json of
// an extracted npm package in the file's directory or the one above it (with
// any licence files found beside it named, because the ip-location-db
// packages' package.json and their licence files do not always agree); from
// an MMDB file's own metadata (database type and build date); otherwise the
// name is the file name and the version and licence are "unknown".
//
// # Classification
//
// Lookup applies these rules, first match wins. Confidence is how much the
// class can be trusted, not how precise the country is:
//
//	address is private or reserved (RFC 1918, RFC 6598 shared space,
//	loopback, link-local, unique local, documentation, benchmarking,
//	multicast, ...)                                   private/reserved 1.0
//	listed in a Tor exit list                         tor              0.95
//	listed in a proxy list                            proxy            0.9
//	AS or network listed in a hosting list            hosting          0.9
//	AS name has a hosting keyword and an ISP keyword  hosting          0.5
//	AS name has a hosting keyword (hosting, cloud,
//	server, datacenter, colo, vps, amazon, google,
//	microsoft, ovh, hetzner, digitalocean, linode,
//	akamai, alibaba, tencent, leaseweb, choopa,
//	vultr, contabo, scaleway, ...)                    hosting          0.7
//	AS name has an ISP keyword (telecom, broadband,
//	cable, mobile, orange, free sas, sfr, bouygues,
//	comcast, deutsche telekom, ...)                   residential      0.6
//	otherwise                                         unknown          0.2
//
// Keywords match whole words of the lower-cased AS name (punctuation counts
// as a space), so "colo" does not match "Colombia"; a few stems such as
// "server" and "telecom" also match longer words ("servers",
// "telecomunicacoes"). All matching rules are listed in the reasons, not only
// the one that decided the class. A private source address cannot have come
// from the internet as it is: it means the request crossed an internal hop
// (reverse proxy, load balancer, VPN) whose recorded client address should be
// attributed instead; such addresses are not looked up in any dataset.
//
// When several datasets of one kind answer, the first in the configuration
// wins and a disagreement is recorded as a reason (real ASN and country
// datasets disagree often, e.g. for anycast networks registered in one
// country and announced worldwide). An invalid address gets class unknown
// with confidence 0. An address that no
// dataset covers is "unknown", with a reason saying so; an [Attributor] with
// no dataset at all still answers, with the reason "no dataset loaded".
package attrib
