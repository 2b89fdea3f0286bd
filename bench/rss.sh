#!/usr/bin/env bash
# bench/rss.sh: the engine's memory under a sustained call rate and after it.
#
#   bench/rss.sh                         # 2,000 calls/s, hold 0 ms, 60 s load + 60 s idle
#   RATE=1500 HOLD_MS=2000 bench/rss.sh
#
# A fresh engine; RSS (VmRSS from /proc/PID/status) sampled every second: 10 s idle
# (baseline = the last idle sample), LOAD seconds of SIPp load.xml at RATE calls/s
# (RATE*LOAD calls, each INVITE, 200, ACK, HOLD_MS in the menu, BYE), then IDLE seconds
# with no calls. Reports baseline, peak, RSS at the end of the load, RSS IDLE seconds
# after the load stopped, and beside each the Go heap in use and the goroutines
# (from /metrics), so that growth can be told apart from memory the runtime has not yet
# returned to the kernel. Target (issue 2): < 300 MB at 60 s, back near the baseline after.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-2000}
HOLD_MS=${HOLD_MS:-0}
LOAD=${LOAD:-60}
IDLE=${IDLE:-60}

bench_init rss
dir=$OUT/run
start_hotline "$dir"
SAMPLES=$OUT/rss.tsv
printf 't\tphase\trss_mb\theap_inuse_mb\tgoroutines\tcalls_active\n' >"$SAMPLES"

sample() { # T PHASE
	local m
	m=$(curl -fsS --max-time 2 "$HL_HTTP/metrics" 2>/dev/null || true)
	printf '%s\t%s\t%.1f\t%.1f\t%s\t%s\n' "$1" "$2" "$(($(rss_kb "$HL_PID")))e-3" \
		"$(awk '$1 == "go_memstats_heap_inuse_bytes" {print $2 / 1048576}' <<<"$m")" \
		"$(awk '$1 == "go_goroutines" {print $2}' <<<"$m")" \
		"$(awk '$1 == "hotline_calls_active" {print $2}' <<<"$m")" | tee -a "$SAMPLES" >&2
}

log "idle 10 s, then $RATE calls/s for ${LOAD}s (hold ${HOLD_MS} ms), then ${IDLE}s idle"
for t in $(seq -10 -1); do sample "$t" idle; nap 1; done
sport=$(free_port)
mport=$(free_port_pair)
(cd "$dir" && exec timeout $((LOAD * 3 + 60)) sipp -sf "$ROOT/testdata/sipp/load.xml" -s 12345 "$HL_SIP" \
	-i 127.0.0.1 -p "$sport" -mp "$mport" -r "$RATE" -m $((RATE * LOAD)) -d "$HOLD_MS" -l 15000 \
	-recv_timeout 5000 -default_behaviors all,-abortunexp -nostdin -buff_size 4194304 \
	-trace_stat -stf "$dir/uac.csv" -fd 1 -trace_err -error_file "$dir/uac-errors.log" \
	>"$dir/uac.out" 2>&1) &
SIPP_PID=$!
track_pid "$SIPP_PID"
t0=$(date +%s.%N)
for t in $(seq 0 $((LOAD + IDLE))); do
	phase=load
	((t > LOAD)) && phase=after
	sample "$t" "$phase"
	# sleep until the next whole second since the load started
	nap "$(awk -v t0="$t0" -v n=$((t + 1)) -v now="$(date +%s.%N)" 'BEGIN {d = t0 + n - now; print (d > 0) ? d : 0}')"
done
wait "$SIPP_PID" || true
curl -fsS "$HL_HTTP/metrics" >"$dir/metrics-end.txt" || true
read -r created succ failed pct < <(sipp_summary "$dir/uac.csv")
secs=$(sipp_creation_secs "$dir/uac.csv" $((RATE * LOAD)))

{
	echo "# rss.sh summary ($(date -u +%FT%TZ)): $RATE calls/s for ${LOAD}s, hold ${HOLD_MS} ms, then ${IDLE}s idle"
	cat "$OUT/machine.txt"
	echo "calls created $created, successful $succ, failed $failed ($pct%), created in ${secs}s"
	awk -F'\t' -v load="$LOAD" -v idle="$IDLE" '
		NR == 1 {next}
		$2 == "idle" {base = $3; bh = $4; bg = $5}
		$3 + 0 > peak {peak = $3; pt = $1}
		$1 == load {at = $3; ah = $4; ag = $5}
		$1 == load + idle {after = $3; fh = $4; fg = $5}
		END {
			printf "baseline RSS        %7.1f MB  (heap in use %.1f MB, %d goroutines)\n", base, bh, bg
			printf "peak RSS            %7.1f MB  at t=%ss\n", peak, pt
			printf "RSS at %ss          %7.1f MB  (heap in use %.1f MB, %d goroutines)  target < 300 MB: %s\n", load, at, ah, ag, (at < 300 ? "met" : "MISSED")
			printf "RSS %ss after load  %7.1f MB  (heap in use %.1f MB, %d goroutines)  %.1f MB above baseline\n", idle, after, fh, fg, after - base
		}' "$SAMPLES"
	echo "samples: $SAMPLES"
} | tee "$OUT/summary.txt"
