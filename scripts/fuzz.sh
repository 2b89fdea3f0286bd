#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module (or of PKGS) for FUZZTIME each, one
# after the other, and fails on the first target that finds a crasher. New crashers
# are written by go test to the package's testdata/fuzz/FuzzX/ folder.
#
# Environment:
#   PKGS      packages to search for Fuzz targets (default ./...)
#   FUZZTIME  how long each target runs (default 10s)
set -euo pipefail

cd "$(dirname "$0")/.."
PKGS=${PKGS:-./...}
FUZZTIME=${FUZZTIME:-10s}

# `go test -list` prints the matching names of a package and then its "ok  <pkg>"
# line, so each name belongs to the package named on the next ok line.
# shellcheck disable=SC2086
targets=$(go test -run='^$' -list '^Fuzz' $PKGS | awk '
	/^Fuzz/ { names[n++] = $1; next }
	/^ok / { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
')

if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets in $PKGS"
	exit 0
fi

count=$(echo "$targets" | wc -l)
echo "fuzz: $count target(s), $FUZZTIME each"
i=0
while read -r pkg name; do
	i=$((i + 1))
	echo "==> [$i/$count] $pkg $name"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"
done <<<"$targets"
echo "fuzz: all $count target(s) ran for $FUZZTIME without a failure"
