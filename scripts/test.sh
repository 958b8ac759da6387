#!/usr/bin/env bash
# Runs every test of Préau. On a fresh Debian machine it first installs what
# the tests need (Debian's Chromium for the browser tests, poppler-utils for
# the live class's slides). Usage:
#   ./scripts/test.sh            all tests, race detector, short fuzzing (100,000 inputs per target)
#   FUZZTIME=0 ./scripts/test.sh skip the fuzzing pass; FUZZTIME=1m fuzzes each target for a minute
# (counted budgets avoid a Go fuzz-coordinator race on short timed runs, golang/go#75804)
set -euo pipefail
cd "$(dirname "$0")/.."

need_install=()
command -v chromium >/dev/null 2>&1 || need_install+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need_install+=(poppler-utils) # live-class slides: PDF pages to images
command -v go >/dev/null 2>&1 || { echo "test.sh: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
if ((${#need_install[@]})); then
  echo "==> installing ${need_install[*]} (Debian packages)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_install[@]}" >/dev/null
fi

echo "==> gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "==> go vet"
go vet ./...

echo "==> go test -race (browser tests required: PREAU_REQUIRE_BROWSER=1)"
PREAU_REQUIRE_BROWSER=1 go test -race -count=1 ./...

fuzztime=${FUZZTIME:-100000x}
if [ "$fuzztime" != "0" ]; then
  echo "==> fuzzing each parser of untrusted bytes for $fuzztime"
  # Every Fuzz* function in the tree, one at a time (go test -fuzz takes one).
  git grep -l '^func Fuzz' -- '*_test.go' | while read -r file; do
    pkg="./$(dirname "$file")"
    for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
      echo "--- $pkg $fn"
      go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$pkg" | tail -1
    done
  done
fi
echo "==> all tests passed"
