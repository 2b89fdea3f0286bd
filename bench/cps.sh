#!/usr/bin/env bash
# bench/cps.sh: calls answered per second with under 0.1% failed calls, beside the
# Kamailio stateful-proxy anchor measured in the same run (../shared/bench/README.md).
#
#   bench/cps.sh                       # all three targets, about 10-12 minutes
#   TARGETS="hotline-sig" DUR=10 bench/cps.sh
#
# Targets, one after the other:
#   kamailio     the anchor: SIPp UAC -> Kamailio (tm, rr; 4 workers) -> SIPp UAS, the
#                SIPp built-in uac/uas scenarios (no pause: signalling only). Both SIPps run
#                with -abortunexp off: with 4 workers a BYE can overtake its ACK, and a
#                default UAS then aborts on the late ACK a call that had succeeded
#                (7% of calls at 2,000/s here), which measures SIPp, not the proxy.
#   hotline-sig  SIPp UAC -> hotline, testdata/sipp/load.xml with -d 0: INVITE with SDP,
#                200, ACK, BYE at once. Every call is answered into the menu (media
#                session opened, the first prompt starts) and torn down: signalling cost.
#   hotline-menu the same with -d HOLD_MS (default 2000): each caller stays in the menu
#                hearing the prompt at 50 packets/s (SIPp sends no RTP; rtp_timeout is
#                600 s), so at R calls/s about 2R calls are up and 100R packets/s go out.
#
# Search, per target: runs of DUR seconds (R*DUR calls) at START, START+STEP, ... while
# the rate holds (one clean run; or, after a run that is not clean, 2 of 3 clean: the
# machine is shared and one hiccup should not end the climb); if START does not hold,
# START-STEP, ... down to the first rate that does. At the highest rate that held, runs
# are completed to 3 and the result is their median (not clean: one step down, again).
# Clean means: failed calls (created - successful, from SIPp's -trace_stat CSV) under
# 0.1%, and SIPp created the calls at >= 95% of the asked rate (else the offered load was
# not what we claim). CPU per call is the utime+stime of the system under test over
# the run (Kamailio: all its processes; hotline: the engine) divided by calls created.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TARGETS=${TARGETS:-"kamailio hotline-sig hotline-menu"}
DUR=${DUR:-20}
HOLD_MS=${HOLD_MS:-2000}
MAXRATE=${MAXRATE:-10000}
command -v kamailio >/dev/null || [[ $TARGETS != *kamailio* ]] || die "kamailio is not installed"

bench_init cps
SCEN=$ROOT/testdata/sipp/load.xml
RESULTS=$OUT/cps.tsv
printf 'target\thold_ms\trate\trun\tcreated\tfailed\tfail_pct\tachieved_cps\tcpu_us_per_call\tclean\n' >"$RESULTS"

# run_once TARGET RATE RUN: one SIPp run; appends a line to RESULTS and prints it.
run_once() {
	local target=$1 rate=$2 run=$3 dir hold=0 calls pids t0 t1 created succ failed pct secs achieved cpu_us clean
	dir=$OUT/$target-$rate-$run
	mkdir -p "$dir"
	calls=$((rate * DUR))
	local sport mport
	sport=$(free_port)
	mport=$(free_port_pair)
	local -a sipp_args=(-i 127.0.0.1 -p "$sport" -mp "$mport" -r "$rate" -m "$calls" -l 15000
		-recv_timeout 5000 -default_behaviors all,-abortunexp -nostdin -buff_size 4194304
		-trace_stat -stf "$dir/uac.csv" -fd 1 -trace_err -error_file "$dir/uac-errors.log")
	case $target in
	kamailio)
		start_kamailio "$dir"
		sleep 0.5
		pids=$(tree_pids "$KAM_PID")
		sipp_args=(-sn uac "$KAM_ADDR" "${sipp_args[@]}")
		;;
	hotline-*)
		[[ $target == hotline-menu ]] && hold=$HOLD_MS
		start_hotline "$dir"
		pids=$HL_PID
		sipp_args=(-sf "$SCEN" -s 12345 "$HL_SIP" -d "$hold" "${sipp_args[@]}")
		;;
	esac
	cat /proc/loadavg >"$dir/loadavg.txt"
	t0=$(proc_cpu_ticks $pids)
	(cd "$dir" && exec timeout $((DUR * 3 + hold / 1000 + 60)) sipp "${sipp_args[@]}" >"$dir/uac.out" 2>&1) &
	track_pid $!
	wait $! || true # (a signal interrupts wait, so the EXIT trap runs at once)
	t1=$(proc_cpu_ticks $pids)
	cat /proc/loadavg >>"$dir/loadavg.txt"
	if [[ $target == hotline-* ]]; then
		curl -fsS "$HL_HTTP/metrics" >"$dir/metrics.txt" || true
	fi
	bench_cleanup
	read -r created succ failed pct < <(sipp_summary "$dir/uac.csv")
	secs=$(sipp_creation_secs "$dir/uac.csv" "$calls")
	achieved=$(awk -v c="$created" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0) ? c / s : 0}')
	cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v c="$created" 'BEGIN {printf "%.0f", (c > 0) ? t / hz * 1e6 / c : 0}')
	clean=no
	if awk -v p="$pct" -v a="$achieved" -v r="$rate" -v c="$created" -v n="$calls" \
		'BEGIN {exit !(p < 0.1 && a >= 0.95 * r && c >= n)}'; then clean=yes; fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$hold" "$rate" "$run" "$created" \
		"$failed" "$pct" "$achieved" "$cpu_us" "$clean" | tee -a "$RESULTS" >&2
	[[ $clean == yes ]]
}

# median_of TARGET RATE COLUMN: the median of a column over the runs at RATE.
median_of() {
	awk -F'\t' -v t="$1" -v r="$2" -v c="$3" '$1 == t && $3 == r {print $c}' "$RESULTS" | median
}

# runs_at TARGET RATE: how many runs were made at RATE.
runs_at() { awk -F'\t' -v t="$1" -v r="$2" '$1 == t && $3 == r' "$RESULTS" | wc -l; }

# holds TARGET RATE: one run; if it is not clean, a second, and if that one is clean a
# third decides (2 of 3). One hiccup of the shared machine does not end the climb.
holds() {
	run_once "$1" "$2" 1 && return 0
	run_once "$1" "$2" 2 || return 1
	run_once "$1" "$2" 3
}

# search TARGET START STEP: sets FOUND to the clean rate (median of 3 runs), 0 if none.
# (Not run in a $(...) subshell: the EXIT trap must see the processes it starts.)
search() {
	local target=$1 rate=$2 step=$3 last=0 i
	log "== $target: step search from $rate by $step, $DUR s per run"
	if holds "$target" "$rate"; then
		last=$rate
		rate=$((rate + step))
		while ((rate <= MAXRATE)); do
			if holds "$target" "$rate"; then last=$rate; rate=$((rate + step)); else break; fi
		done
	else
		while ((rate > step)); do # the start was too high: step down
			rate=$((rate - step))
			if holds "$target" "$rate"; then last=$rate; break; fi
		done
	fi
	while ((last > 0)); do
		log "== $target: $last calls/s, completing 3 runs"
		for ((i = $(runs_at "$target" "$last") + 1; i <= 3; i++)); do run_once "$target" "$last" "$i" || true; done
		if awk -v p="$(median_of "$target" "$last" 7)" -v a="$(median_of "$target" "$last" 8)" -v r="$last" \
			'BEGIN {exit !(p < 0.1 && a >= 0.95 * r)}'; then
			FOUND=$last
			return
		fi
		last=$((last - step))
	done
	FOUND=0
}

declare -A RESULT
for target in $TARGETS; do
	case $target in
	kamailio) search kamailio "${KAM_START:-2000}" "${KAM_STEP:-500}" ;;
	hotline-sig) search hotline-sig "${SIG_START:-1000}" "${SIG_STEP:-500}" ;;
	hotline-menu) search hotline-menu "${MENU_START:-500}" "${MENU_STEP:-500}" ;;
	*) die "unknown target $target" ;;
	esac
	RESULT[$target]=$FOUND
done

{
	echo "# cps.sh summary ($(date -u +%FT%TZ), DUR=${DUR}s per run, hold ${HOLD_MS} ms for hotline-menu)"
	cat "$OUT/machine.txt"
	printf '%-13s %10s %12s %14s %16s %10s\n' target clean_cps median_fail% median_achieved cpu_us_per_call vs_kamailio
	for target in $TARGETS; do
		r=${RESULT[$target]}
		ratio=-
		if [[ -n ${RESULT[kamailio]:-} && ${RESULT[kamailio]} != 0 ]]; then
			ratio=$(awk -v a="$r" -v k="${RESULT[kamailio]}" 'BEGIN {printf "%.0f%%", 100 * a / k}')
		fi
		printf '%-13s %10s %12s %14s %16s %10s\n' "$target" "$r" "$(median_of "$target" "$r" 7)" \
			"$(median_of "$target" "$r" 8)" "$(median_of "$target" "$r" 9)" "$ratio"
	done
	echo "all runs: $RESULTS"
} | tee "$OUT/summary.txt"
