#!/usr/bin/env bash
# test.sh is what `make test` runs: install the missing test peers, go vet, then the
# whole suite with the race detector. It prints a summary and exits non-zero when
# anything failed. The full test output is kept in bin/test.log.
#
# Environment:
#   PKGS       packages to test (default ./...)
#   TESTFLAGS  extra flags for go test, e.g. TESTFLAGS=-v or TESTFLAGS='-run TestMenu'
#   SKIP_DEPS  set to 1 to skip scripts/install-test-deps.sh
set -uo pipefail

cd "$(dirname "$0")/.."
PKGS=${PKGS:-./...}
TESTFLAGS=${TESTFLAGS:-}
mkdir -p bin
log=bin/test.log

step() { printf '\n==> %s\n' "$*"; }

deps_rc=0
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	step "install missing test peers (scripts/install-test-deps.sh)"
	./scripts/install-test-deps.sh || deps_rc=$?
	if [ $deps_rc -ne 0 ]; then
		echo "test: the test peers could not be installed; stopping" >&2
		exit $deps_rc
	fi
fi

step "go vet $PKGS"
vet_rc=0
# shellcheck disable=SC2086 # PKGS may name several packages
go vet $PKGS || vet_rc=$?

step "go test -race -count=1 -timeout 15m $TESTFLAGS $PKGS   (full output: $log)"
test_rc=0
# shellcheck disable=SC2086
go test -race -count=1 -timeout 15m $TESTFLAGS $PKGS 2>&1 | tee "$log" || test_rc=$?

ok_pkgs=$(grep -c '^ok ' "$log" || true)
fail_pkgs=$(grep -E '^FAIL[[:space:]]' "$log" | awk '{print $2}' | sort -u)
fail_tests=$(grep -E '^[[:space:]]*--- FAIL: ' "$log" | sed -E 's/^[[:space:]]*--- FAIL: ([^ ]+).*/\1/' | sort -u)
build_errs=$(grep -cE '\[(build failed|setup failed)\]' "$log" || true)

step "summary"
printf '  go vet:          %s\n' "$([ $vet_rc -eq 0 ] && echo ok || echo "FAILED (exit $vet_rc)")"
printf '  packages ok:     %s\n' "$ok_pkgs"
if [ -n "$fail_pkgs" ]; then
	printf '  packages FAILED: %s\n' "$(echo "$fail_pkgs" | wc -l)"
	echo "$fail_pkgs" | sed 's/^/      /'
fi
if [ "$build_errs" -gt 0 ]; then
	printf '  build failures:  %s\n' "$build_errs"
fi
if [ -n "$fail_tests" ]; then
	printf '  tests FAILED:\n'
	echo "$fail_tests" | sed 's/^/      /'
fi

if [ $vet_rc -ne 0 ] || [ $test_rc -ne 0 ]; then
	printf '\nFAIL (go vet exit %d, go test exit %d)\n' "$vet_rc" "$test_rc"
	exit 1
fi
printf '\nPASS\n'
