#!/usr/bin/env bash
# install-test-deps.sh installs the Debian packages that hotline's tests drive as
# real peers, but only those whose program is missing. It is idempotent: on a machine
# that has everything it prints one line per program and changes nothing.
#
#   program         Debian package   used by
#   sipp            sip-tester       citizens and load (testdata/sipp)
#   baresip         baresip          a SIP phone that dials and presses digits
#   redis-server    redis-server     the Redis store
#   redis-sentinel  redis-sentinel   failover tests
#   kamailio        kamailio         the dispatcher in front of two sites; benchmark anchor
#   chromium        chromium         the agent's browser (headless)
#   espeak-ng       espeak-ng        scripts/gen-prompts.sh
#   sox             sox              scripts/gen-prompts.sh, test audio
#
# Runs apt-get as root, through sudo when it is available, and otherwise prints what
# to install and exits 1. Each apt-get call is bounded by `timeout 900`.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# program:package pairs, in the order they are checked.
deps=(
	sipp:sip-tester
	baresip:baresip
	redis-server:redis-server
	redis-sentinel:redis-sentinel
	kamailio:kamailio
	chromium:chromium
	espeak-ng:espeak-ng
	sox:sox
)

log() { printf 'install-test-deps: %s\n' "$*"; }

# have reports whether a program is on PATH or in an sbin folder (kamailio lives in
# /usr/sbin, which is not on an ordinary user's PATH).
have() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for d in "${deps[@]}"; do
	prog=${d%%:*}
	pkg=${d#*:}
	if have "$prog"; then
		log "ok       $prog"
	else
		log "missing  $prog (package $pkg)"
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	log "all test peers present"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	log "apt-get not found: install these packages by hand: ${missing[*]}"
	exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
	else
		log "not root and no sudo: as root, run"
		log "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
		exit 1
	fi
fi

log "apt-get update"
timeout 900 "${sudo[@]}" apt-get update -q
log "apt-get install ${missing[*]}"
timeout 900 "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# Check again: a package that installed but did not provide its program is an error
# now, not a confusing test failure later.
failed=()
for d in "${deps[@]}"; do
	prog=${d%%:*}
	if ! have "$prog"; then
		failed+=("$prog")
	fi
done
if [ ${#failed[@]} -ne 0 ]; then
	log "still missing after install: ${failed[*]}"
	exit 1
fi
log "installed: ${missing[*]}"
