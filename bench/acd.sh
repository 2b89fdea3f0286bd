#!/usr/bin/env bash
# bench/acd.sh: 250 SIP agents and callers at a sustained rate for 10 minutes; no call
# lost, the counters reconcile, and the estimated wait is measured against the real one
# (issue 3, "Tests and benchmarks").
#
#   bench/acd.sh                                   # 250 agents, 2 calls/s for 600 s, ~14 min
#   AGENTS=20 RATE=1 LOAD=60 TALK_MIN=10 TALK_MAX=25 bench/acd.sh    # a quick try
#
# One engine with AGENTS seats 3001.. (primary pool, call-taking and every desk skill at
# level 5, SIP phones, the lab password), the six queues with a WRAP wrap-up and no
# position announcements, MD5 digest only (SIPp knows no SHA-256). Then:
#   1. SIPp bench/sipp/acd_register.xml registers every seat from one port P (one
#      SIPp run per seat, the lab password); each seat goes ready on REGISTER.
#   2. SIPp bench/sipp/acd_agents.xml listens on P: the phones of all seats. It answers
#      every offered call and the agent hangs up after a talk time drawn uniformly from
#      TALK_MIN..TALK_MAX seconds.
#   3. SIPp bench/sipp/acd_caller.xml: RATE calls/s for LOAD s to 12345; each caller
#      presses 1 (INFO) into the general queue and stays until the agent hangs up (the
#      engine's BYE). Nobody abandons, so every call must be answered by one agent.
# The defaults put 2 x (120 + 2) = 244 Erlangs on 250 agents (98% occupied): a queue
# forms and drains all the time, which is what the wait estimate needs.
# While it runs, the engine's CPU and RSS, the calls waiting and active are sampled
# every 5 s (samples.tsv). At the end bench/acd_report.py compares SIPp's counts with
# /api/v1/queues, /api/v1/agents, /metrics and the journal, and measures the estimate
# (queue.joined estimate against queue.left duration) from the journal.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

AGENTS=${AGENTS:-250}
RATE=${RATE:-2}
LOAD=${LOAD:-600}
TALK_MIN=${TALK_MIN:-80}
TALK_MAX=${TALK_MAX:-160}
LAB_PASSWORD=${LAB_PASSWORD:-hotline-lab}
WRAP=${WRAP:-2s}
CALLS=$((RATE * LOAD))

bench_init acd
dir=$OUT/run
mkdir -p "$dir"

# The configuration: warn logs, MD5, the bench's agents replacing the demo ones.
{
	cat <<EOF2
log: {level: warn}
sip:
  max_calls: 20000
  registrar: {algorithms: [MD5], max_expires: 7200s}
media: {port_min: 10000, port_max: 31998, rtp_timeout: 1800s}
queues:
EOF2
	for q in general:call-taking business:business-environment talent:talent-policy \
		household:household-registration followup:follow-up foreign:foreign-language; do
		echo "  - {name: ${q%%:*}, skill: ${q#*:}, hold: [music], announce_every: 3600s, wrap_up: $WRAP}"
	done
	echo "agents:"
	for ((i = 1; i <= AGENTS; i++)); do
		echo "  - {id: \"$((3000 + i))\", pool: primary, endpoint: {kind: sip}, skills: {call-taking: 5, business-environment: 5, talent-policy: 5, household-registration: 5, follow-up: 5, foreign-language: 5, dispatch: 5, online-channel: 5, expert: 5}}"
	done
} >"$dir/hotline.yaml"
ids=$(seq -s, 3001 $((3000 + AGENTS)))
max_call_ms=$(((LOAD + TALK_MAX + 600) * 1000))
sed -e "s/{{TALK_MIN_MS}}/$((TALK_MIN * 1000))/" -e "s/{{TALK_MAX_MS}}/$((TALK_MAX * 1000))/" \
	"$BENCH_DIR/sipp/acd_agents.xml" >"$dir/acd_agents.xml"
sed -e "s/{{MAX_CALL_MS}}/$max_call_ms/" "$BENCH_DIR/sipp/acd_caller.xml" >"$dir/acd_caller.xml"

start_hotline "$dir"
log "engine up: sip $HL_SIP, http $HL_HTTP"

# 1. Register every seat from port P: one SIPp run per seat (SIPp 3.6.1 cannot take the
# digest user from an injection file), all bound to P, one after the other.
P=$(free_port)
log "registering $AGENTS seats from port $P"
for ((i = 1; i <= AGENTS; i++)); do
	id=$((3000 + i))
	(cd "$dir" && exec timeout 20 sipp -sf "$BENCH_DIR/sipp/acd_register.xml" -s "$id" -au "$id" -ap "$LAB_PASSWORD" \
		"$HL_SIP" -i 127.0.0.1 -p "$P" -m 1 -key expires 7200 -nostdin \
		-trace_err -error_file "$dir/register-errors.log" >>"$dir/register.out" 2>&1) ||
		die "seat $id did not register: $(tail -3 "$dir/register-errors.log" 2>/dev/null)"
done
curl -fsS "$HL_HTTP/api/v1/agents" >"$dir/agents-start.json"
ready=$(python3 -c 'import json,sys; print(sum(1 for a in json.load(open(sys.argv[1]))["agents"] if a["state"] == "ready"))' "$dir/agents-start.json")
log "$ready of $AGENTS seats ready after REGISTER"
((ready == AGENTS)) || die "only $ready of $AGENTS seats are ready"

# 2. All the seats' phones on port P.
amp=$(free_port_pair)
(cd "$dir" && exec sipp -sf "$dir/acd_agents.xml" -i 127.0.0.1 -p "$P" -mp "$amp" -nostdin -buff_size 4194304 \
	-default_behaviors all,-abortunexp -trace_stat -stf "$dir/agents.csv" -fd 5 \
	-trace_err -error_file "$dir/agents-errors.log" >"$dir/agents.out" 2>&1) &
AGENTS_PID=$!
track_pid "$AGENTS_PID"
sleep 1
kill -0 "$AGENTS_PID" || die "the agents' SIPp exited: $(tail -3 "$dir/agents.out")"

# 3. The callers.
SAMPLES=$OUT/samples.tsv
printf 't\tcpu_pct\trss_mb\twaiting\tcalls_active\tanswered\tagents_on_call\n' >"$SAMPLES"
sample() { # T: one line; CPU is the engine's share of one core since the previous sample
	local ticks now q m a
	ticks=$(proc_cpu_ticks "$HL_PID")
	now=$(date +%s.%N)
	q=$(curl -fsS --max-time 3 "$HL_HTTP/api/v1/queues" 2>/dev/null || echo '{}')
	a=$(curl -fsS --max-time 3 "$HL_HTTP/api/v1/agents" 2>/dev/null || echo '{}')
	m=$(curl -fsS --max-time 3 "$HL_HTTP/metrics" 2>/dev/null || true)
	printf '%s\t%s\t%.1f\t%s\t%s\t%s\t%s\n' "$1" \
		"$(awk -v t="$ticks" -v pt="$PREV_TICKS" -v n="$now" -v pn="$PREV_NOW" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", 100 * (t - pt) / hz / (n - pn)}')" \
		"$(($(rss_kb "$HL_PID")))e-3" \
		"$(python3 -c 'import json,sys; print(sum(x["waiting"] for x in json.loads(sys.argv[1]).get("queues",[])))' "$q")" \
		"$(awk '$1 == "hotline_calls_active" {print $2}' <<<"$m")" \
		"$(python3 -c 'import json,sys; q=json.loads(sys.argv[1]).get("queues",[]); print(sum(x["answered"] for x in q))' "$q")" \
		"$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("by_state",{}).get("on-call",0))' "$a")" | tee -a "$SAMPLES" >&2
	PREV_TICKS=$ticks
	PREV_NOW=$now
}
PREV_TICKS=$(proc_cpu_ticks "$HL_PID")
PREV_NOW=$(date +%s.%N)
cpu0=$PREV_TICKS
cport=$(free_port)
cmp=$(free_port_pair)
log "$CALLS calls at $RATE/s for ${LOAD}s to $AGENTS agents (talk ${TALK_MIN}-${TALK_MAX}s, wrap-up $WRAP)"
t0=$(date +%s.%N)
(cd "$dir" && exec timeout $((max_call_ms / 1000 + 120)) sipp -sf "$dir/acd_caller.xml" -s 12345 "$HL_SIP" \
	-i 127.0.0.1 -p "$cport" -mp "$cmp" -r "$RATE" -m "$CALLS" -l 20000 -nostdin -buff_size 4194304 \
	-default_behaviors all,-abortunexp -trace_stat -stf "$dir/caller.csv" -fd 5 \
	-trace_err -error_file "$dir/caller-errors.log" >"$dir/caller.out" 2>&1) &
CALLER_PID=$!
track_pid "$CALLER_PID"
t=0
while kill -0 "$CALLER_PID" 2>/dev/null; do
	nap "$(awk -v t0="$t0" -v n=$((t + 5)) -v now="$(date +%s.%N)" 'BEGIN {d = t0 + n - now; print (d > 0) ? d : 0}')"
	t=$((t + 5))
	kill -0 "$CALLER_PID" 2>/dev/null && sample "$t"
done
wait "$CALLER_PID" || log "caller SIPp exit status $? (failed calls; see caller-errors.log)"
secs=$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN {printf "%.0f", now - t0}')
cpu1=$(proc_cpu_ticks "$HL_PID")
sleep 6 # the last wrap-ups end, SIPp writes its last statistics line
curl -fsS "$HL_HTTP/api/v1/queues" >"$dir/queues.json"
curl -fsS "$HL_HTTP/api/v1/agents" >"$dir/agents.json"
curl -fsS "$HL_HTTP/metrics" >"$dir/metrics.txt"
stop_pid "$AGENTS_PID"
stop_pid "$HL_PID" # (the journal is fsynced on close)
cp "$dir/data/events.journal" "$dir/events.journal"
printf 'calls=%s\nagents=%s\nagent_ids=%s\n' "$CALLS" "$AGENTS" "$ids" >"$dir/expected.txt"

{
	echo "# acd.sh summary ($(date -u +%FT%TZ)): $AGENTS SIP agents, $RATE calls/s for ${LOAD}s ($CALLS calls), talk ${TALK_MIN}-${TALK_MAX}s uniform, wrap-up $WRAP"
	cat "$OUT/machine.txt"
	echo "run: ${secs}s from the first call to the last hang-up"
	awk -F'\t' -v hz="$CLK_TCK" -v ticks=$((cpu1 - cpu0)) -v secs="$secs" -v calls="$CALLS" 'NR > 1 {
			n++; cpu += $2; if ($2 > pc) pc = $2; if ($3 > pr) pr = $3; rss = $3
			if ($4 > pw) pw = $4; if ($5 > pa) pa = $5; if ($7 > po) po = $7
		}
		END {
			printf "engine CPU: %.1f%% of one core on average over the run (%.0f ms per call), peak 5-s sample %.1f%%\n", 100 * ticks / hz / secs, 1000 * ticks / hz / calls, pc
			printf "engine RSS: peak %.1f MB, at the end %.1f MB\n", pr, rss
			printf "peak: %d calls waiting, %d calls up, %d agents on a call\n", pw, pa, po
		}' "$SAMPLES"
	python3 "$BENCH_DIR/acd_report.py" "$dir" && echo "verdict: PASS" || echo "verdict: FAIL"
	echo "samples: $SAMPLES; estimates (estimate, actual wait per answered call): $dir/estimates.tsv"
} | tee "$OUT/summary.txt"
grep -q '^verdict: PASS' "$OUT/summary.txt"
