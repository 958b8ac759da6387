#!/usr/bin/env bash
# fetch-ip-data.sh — download the IP-to-ASN and IP-to-country datasets that
# internal/evidence/attrib reads, from the npm registry, at pinned versions.
#
# Usage:
#   scripts/fetch-ip-data.sh [DIR]        (DIR defaults to ./ip-data)
#   PREAU_IPDATA_PKGS="asn@2.3.2026061719 iptoasn-country-mmdb@2.3.2026061719" \
#       scripts/fetch-ip-data.sh /srv/preau/ip-data
#
# For each package of the @ip-location-db scope it runs `npm pack` (which
# checks the tarball against the registry's integrity hash), extracts it into
# DIR/<package>/ next to its package.json and licence files (attrib reads
# the name, version and licence from there), deletes the "-num.csv" files
# (addresses written as integers, which attrib does not read), prints the
# name, version, licence and SHA-256 of each data file, and writes
# DIR/datasets.txt, one tab-separated line per data file:
#   package  version  licence  sha256  path-relative-to-DIR
#
# Default packages (checked with `npm view <pkg> license`, 2.3.2026061719):
#   asn                    CSV, AS number and name. package.json says
#                          "SEE LICENSE IN ROUTEVIEWS-LICENSE and DBIP-LICENSE
#                          (CC-BY-4.0)": attribution to RouteViews and DB-IP
#                          is required wherever results are shown.
#   iptoasn-country-mmdb   MMDB, country (PDDL-1.0, no conditions).
#   geo-whois-asn-country  CSV, country. package.json says CC0-1.0 but the
#                          package ships NRO_LICENSE (CC BY 4.0, attribution
#                          to nro.net); credit NRO to be safe.
# The first country dataset configured wins; attrib records disagreements.
#
# Warning from the packages' own README (2026-06): the data published to npm
# "contains bugs resulting in incorrect data" and npm updates are deprecated
# in favour of the project's GitHub releases. Treat results as indicative,
# which is all attrib claims anyway, and record the checksums printed here
# with any evidence.
#
# Needs: npm, node, tar, sha256sum. Nothing is installed globally.
set -euo pipefail

dir=${1:-./ip-data}
version=2.3.2026061719
pkgs=${PREAU_IPDATA_PKGS:-"asn@$version iptoasn-country-mmdb@$version geo-whois-asn-country@$version"}

for tool in npm node tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "fetch-ip-data: $tool not found" >&2; exit 1; }
done

mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

list=$tmp/datasets.txt
printf '# package\tversion\tlicence\tsha256\tfile\n' >"$list"

for spec in $pkgs; do
	pkg=${spec%@*}
	case $pkg in
	*/* | "" | .*) echo "fetch-ip-data: bad package name: $pkg" >&2; exit 1 ;;
	esac
	echo "fetch-ip-data: npm pack @ip-location-db/$spec" >&2
	tgz=$(cd "$tmp" && npm pack --silent "@ip-location-db/$spec" | tail -n 1)
	# Extract beside the old copy, then swap, so that an interrupted run
	# leaves the previous data in place.
	mkdir "$tmp/$pkg"
	tar -xzf "$tmp/$tgz" -C "$tmp/$pkg" --strip-components=1 --no-same-owner
	rm -f "$tmp/$pkg"/*-num.csv
	rm -rf "${dir:?}/$pkg"
	mv "$tmp/$pkg" "$dir/$pkg"

	meta=$(node -e '
		const p = require(process.argv[1]);
		const l = typeof p.license === "string" ? p.license : (p.license && p.license.type) || "unknown";
		console.log([p.name, p.version, l].join("\t"));
	' "$(cd "$dir/$pkg" && pwd)/package.json")
	IFS=$'\t' read -r name ver lic <<<"$meta"
	for f in "$dir/$pkg"/*.csv "$dir/$pkg"/*.mmdb; do
		[ -e "$f" ] || continue
		sum=$(sha256sum "$f" | cut -d' ' -f1)
		rel=$pkg/$(basename "$f")
		printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$ver" "$lic" "$sum" "$rel" >>"$list"
		printf '%-45s %-16s %-40s %s %s\n' "$name" "$ver" "$lic" "$sum" "$rel"
	done
done

mv "$list" "$dir/datasets.txt"
echo "fetch-ip-data: wrote $dir/datasets.txt" >&2
