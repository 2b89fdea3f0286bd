#!/usr/bin/env bash
# bench/profile.sh: where the engine spends CPU and keeps memory under load. The engine
# has no pprof endpoint, so this builds it with one (bench/pprof-build.sh) and reads
# Go's profiles with `go tool pprof`.
#
#   bench/profile.sh sig  [RATE]    # signalling: load.xml -d 0 at RATE calls/s (default 1500)
#   bench/profile.sh media [N]      # N calls in the menu hearing prompts (default 1000)
#
# A CPU profile over SECS seconds (default 15) of steady load, and a heap profile
# (in-use space, GC run first) at the end of the load and again AFTER seconds (default
# 40) after the last call ended, to tell live call state from what is retained after. Reports go to
# OUT/cpu.txt and OUT/heap-*.txt, profiles beside them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODE=${1:-sig}
SECS=${SECS:-15}
AFTER=${AFTER:-40}
OUT=${OUT:-$ROOT/bench/out/profile-$MODE-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
HOTLINE_BIN=$OUT/hotline-pprof
"$BENCH_DIR/pprof-build.sh" "$HOTLINE_BIN" || die "build failed"
bench_init "profile-$MODE"
PPROF_ADDR=127.0.0.1:$(free_port)
export HOTLINE_PPROF=$PPROF_ADDR
dir=$OUT/run
start_hotline "$dir"
sport=$(free_port)
mport=$(free_port_pair)
case $MODE in
sig)
	rate=${2:-1500}
	args=(-r "$rate" -m $((rate * (SECS + 5))) -d 0)
	warm=3
	;;
media)
	n=${2:-1000}
	args=(-r 400 -m "$n" -d $(((n / 400 + SECS + 8) * 1000)))
	warm=$((n / 400 + 3))
	;;
*) die "mode is sig or media" ;;
esac
(cd "$dir" && exec timeout $((SECS * 3 + 90)) sipp -sf "$ROOT/testdata/sipp/load.xml" -s 12345 "$HL_SIP" \
	-i 127.0.0.1 -p "$sport" -mp "$mport" "${args[@]}" -l 15000 -recv_timeout 5000 \
	-default_behaviors all,-abortunexp -nostdin -buff_size 4194304 >"$dir/uac.out" 2>&1) &
SIPP_PID=$!
track_pid "$SIPP_PID"
nap "$warm"
log "CPU profile for ${SECS}s ($(metric "$HL_HTTP" hotline_calls_active) calls up)"
curl -fsS -o "$OUT/cpu.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$SECS"
curl -fsS -o "$OUT/heap-load.pprof" "http://$PPROF_ADDR/debug/pprof/heap?gc=1"
wait "$SIPP_PID" || true
log "load over; heap profile again after ${AFTER}s idle (sipgo keeps finished transactions for Timer J/L, 32 s)"
nap "$AFTER"
curl -fsS -o "$OUT/heap-after.pprof" "http://$PPROF_ADDR/debug/pprof/heap?gc=1"
curl -fsS -o "$OUT/goroutines.txt" "http://$PPROF_ADDR/debug/pprof/goroutine?debug=1"
log "RSS after: $(($(rss_kb "$HL_PID") / 1024)) MB"
log "calls active after the load: $(metric "$HL_HTTP" hotline_calls_active)"
pp() { go tool pprof -nodecount=30 "$@" 2>/dev/null; }
pp -top "$HOTLINE_BIN" "$OUT/cpu.pprof" >"$OUT/cpu.txt"
pp -top -cum "$HOTLINE_BIN" "$OUT/cpu.pprof" >"$OUT/cpu-cum.txt"
pp -top -sample_index=inuse_space "$HOTLINE_BIN" "$OUT/heap-load.pprof" >"$OUT/heap-load.txt"
pp -top -sample_index=inuse_space "$HOTLINE_BIN" "$OUT/heap-after.pprof" >"$OUT/heap-after.txt"
pp -top -cum -sample_index=inuse_space "$HOTLINE_BIN" "$OUT/heap-after.pprof" >"$OUT/heap-after-cum.txt"
head -25 "$OUT/cpu.txt" "$OUT/heap-after.txt"
log "reports in $OUT"
