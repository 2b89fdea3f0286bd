#!/usr/bin/env bash
# bench/concurrent.sh: N concurrent calls in the voice menu hearing prompts.
#
#   bench/concurrent.sh                 # N = 1000 2000 4000, about 4 minutes
#   NS="1000" MEASURE=20 bench/concurrent.sh
#
# For each N (a fresh engine each time): SIPp opens N - SAMPLE calls (load.xml) at RATE
# calls/s whose RTP goes to SIPp's media port (nobody reads it), and SAMPLE calls
# (bench/sipp/load_sink.xml) whose SDP points at bench/rtpsink.py. Every call stays in
# the menu (pause long enough for the whole measurement; SIPp sends no RTP and
# media.rtp_timeout is 600 s). Once all are up and SETTLE seconds have passed, over
# MEASURE seconds:
#   - engine CPU: utime+stime from /proc/PID/stat; / (N * MEASURE) = CPU per call-second
#   - RSS: VmRSS from /proc/PID/status; (RSS - RSS before the calls) / N = RSS per call
#   - packets per call: delta of hotline_rtp_packets_sent_total / MEASURE / N (engine side)
#     and, at the receiver, packets per second of each SAMPLE call and the inter-arrival
#     deviation |gap - 20 ms| (rtpsink.py; the wire side, includes the sink's own delays)
#   - pacing lateness p50/p99: the delta of the hotline_rtp_pacing_jitter_seconds
#     histogram (how late each send was against its deadline), linear within a bucket
# A step is held when all N calls were up, no call failed, every call got >= 49
# packets/s and p99 lateness < 5 ms; the next N runs only if the step held.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NS=${NS:-"1000 2000 4000"}
SAMPLE=${SAMPLE:-20}
SETTLE=${SETTLE:-5}
MEASURE=${MEASURE:-20}

bench_init concurrent
RESULTS=$OUT/concurrent.tsv
printf 'calls\tup\tfailed\tcpu_ms_per_call_s\tcpu_cores\trss_base_mb\trss_mb\trss_kib_per_call\tengine_pps_per_call\tsink_pps_min\tsink_pps_median\tsink_seq_gaps\tsink_dev_p99_ms\tlate_p50_ms\tlate_p99_ms\theld\n' >"$RESULTS"

# hist_quantiles BEFORE AFTER: p50 and p99 (ms) of the pacing histogram's delta.
hist_quantiles() {
	awk '
		FNR == 1 {file++}
		/^hotline_rtp_pacing_jitter_seconds_bucket/ {
			match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
			if (file == 1) before[le] = $2; else {after[le] = $2; order[++n] = le}
		}
		END {
			total = after["+Inf"] - before["+Inf"]
			if (total <= 0) {print "nan nan"; exit}
			split("0.5 0.99", qs, " ")
			for (qi = 1; qi <= 2; qi++) {
				want = qs[qi] * total; prevc = 0; prevle = 0; res = "inf"
				for (i = 1; i <= n; i++) {
					le = order[i]; c = after[le] - before[le]
					if (c >= want) {
						if (le == "+Inf") {res = ">" prevle * 1000; break}
						res = sprintf("%.3f", 1000 * (prevle + (le - prevle) * (want - prevc) / ((c - prevc) > 0 ? (c - prevc) : 1)))
						break
					}
					prevc = c; prevle = le
				}
				printf "%s%s", res, (qi == 1 ? " " : "\n")
			}
		}' "$1" "$2"
}

for n in $NS; do
	dir=$OUT/n$n
	mkdir -p "$dir"
	rate=${RATE:-$((n <= 1000 ? 200 : 400))}
	main=$((n - SAMPLE))
	ramp=$(((main + rate - 1) / rate + 2))
	hold_s=$((ramp + SETTLE + MEASURE + 5))
	log "== N=$n: $main calls at $rate/s + $SAMPLE sampled calls, each held ${hold_s}s"
	start_hotline "$dir"
	nap 2
	rss0=$(rss_kb "$HL_PID")
	sink_port=$(free_port)
	sport=$(free_port)
	sport2=$(free_port)
	mport=$(free_port_pair)
	mport2=$(free_port_pair)
	common=(-i 127.0.0.1 -recv_timeout 5000 -default_behaviors all,-abortunexp -nostdin
		-buff_size 4194304 -l 15000 -trace_stat -fd 1 -trace_err)
	(cd "$dir" && exec timeout $((hold_s + 60)) sipp -sf "$ROOT/testdata/sipp/load.xml" -s 12345 "$HL_SIP" \
		-p "$sport" -mp "$mport" -r "$rate" -m "$main" -d $((hold_s * 1000)) "${common[@]}" \
		-stf "$dir/main.csv" -error_file "$dir/main-errors.log" >"$dir/main.out" 2>&1) &
	main_pid=$!
	track_pid "$main_pid"
	(cd "$dir" && exec timeout $((hold_s + 60)) sipp -sf "$BENCH_DIR/sipp/load_sink.xml" -s 12345 "$HL_SIP" \
		-key rtpsink "$sink_port" -p "$sport2" -mp "$mport2" -r 20 -m "$SAMPLE" -d $((hold_s * 1000)) \
		"${common[@]}" -stf "$dir/sample.csv" -error_file "$dir/sample-errors.log" >"$dir/sample.out" 2>&1) &
	sample_pid=$!
	track_pid "$sample_pid"
	nap $((ramp + SETTLE))
	up=$(metric "$HL_HTTP" hotline_calls_active)
	log "   $up calls up; measuring ${MEASURE}s"
	python3 "$BENCH_DIR/rtpsink.py" "$sink_port" "$MEASURE" "$dir/sink.json" &
	sink_pid=$!
	track_pid "$sink_pid"
	curl -fsS "$HL_HTTP/metrics" >"$dir/metrics0.txt"
	c0=$(proc_cpu_ticks "$HL_PID")
	nap "$MEASURE"
	c1=$(proc_cpu_ticks "$HL_PID")
	curl -fsS "$HL_HTTP/metrics" >"$dir/metrics1.txt"
	rss1=$(rss_kb "$HL_PID")
	up1=$(metric "$HL_HTTP" hotline_calls_active)
	wait "$sink_pid" || true
	wait "$main_pid" || true
	wait "$sample_pid" || true
	curl -fsS "$HL_HTTP/metrics" >"$dir/metrics2.txt" || true
	bench_cleanup

	read -r _ _ f1 _ < <(sipp_summary "$dir/main.csv")
	read -r _ _ f2 _ < <(sipp_summary "$dir/sample.csv")
	failed=$((f1 + f2))
	up_min=$(awk -v a="$up" -v b="$up1" 'BEGIN {print (a < b) ? a : b}')
	s0=$(awk '$1 == "hotline_rtp_packets_sent_total" {print $2}' "$dir/metrics0.txt")
	s1=$(awk '$1 == "hotline_rtp_packets_sent_total" {print $2}' "$dir/metrics1.txt")
	read -r p50 p99 < <(hist_quantiles "$dir/metrics0.txt" "$dir/metrics1.txt")
	read -r spmin spmed sgaps sdev < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("%.1f %.1f %d %.2f" % (s["pps_min"], s["pps_median"], s["seq_gaps"], s["arrival_dev_ms_p99"]), end="")
print("" if s["streams"] == int(sys.argv[2]) else "(only %d streams)" % s["streams"])' "$dir/sink.json" "$SAMPLE")
	line=$(awk -v n="$n" -v up="$up_min" -v f="$failed" -v dt=$((c1 - c0)) -v hz="$CLK_TCK" -v m="$MEASURE" \
		-v r0="$rss0" -v r1="$rss1" -v s0="$s0" -v s1="$s1" -v spmin="$spmin" -v spmed="$spmed" \
		-v sg="$sgaps" -v sd="$sdev" -v p50="$p50" -v p99="$p99" 'BEGIN {
			cpu = dt / hz; pps = (s1 - s0) / m / n
			held = (up >= n && f == 0 && pps >= 49 && spmin + 0 >= 49 && p99 + 0 < 5 && p99 !~ />/) ? "yes" : "no"
			printf "%d\t%d\t%d\t%.3f\t%.2f\t%.1f\t%.1f\t%.1f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s",
				n, up, f, 1000 * cpu / (n * m), cpu / m, r0 / 1024, r1 / 1024, (r1 - r0) / n, pps,
				spmin, spmed, sg, sd, p50, p99, held}')
	echo "$line" | tee -a "$RESULTS" >&2
	[[ $line == *yes ]] || { log "N=$n did not hold; stopping"; break; }
done

{
	echo "# concurrent.sh summary ($(date -u +%FT%TZ), measured over ${MEASURE}s with all calls up)"
	cat "$OUT/machine.txt"
	column -t -s $'\t' "$RESULTS"
	echo "targets: >= 1000 calls at 50 packets/s each, p99 pacing lateness < 5 ms, <= 1 ms CPU per call-second (Asterisk MOH: 2.2 ms)"
} | tee "$OUT/summary.txt"
