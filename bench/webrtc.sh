#!/usr/bin/env bash
# bench/webrtc.sh: 250 simulated WebRTC agents and 250 concurrent SIP<->WebRTC bridged
# calls for 10 minutes, beside the anchor measured in the same run (issue 4, "Tests and
# benchmarks"; BENCHMARKS.md section 6).
#
#   bench/webrtc.sh                                  # the recorded run: 10 min, ~19 min in all
#   DURATION=90s TALK=20s ANCHOR_MEASURE=20 bench/webrtc.sh     # a quick try, ~5 min
#   PROFILE=1 DURATION=2m ANCHOR_RUNS= bench/webrtc.sh           # + CPU, heap, goroutine profiles
#
# 1. The anchor (bench/webrtc-anchor), K = CALLERS calls: `webrtc-anchor serve` is the
#    measured process; `webrtc-anchor load` (another process) sets up K calls, each a
#    bare Go relay leg (two UDP sockets, a goroutine per socket, 50 packets/s of 172
#    bytes each way) plus one pion/webrtc PeerConnection that receives and sends SRTP
#    at 50 packets/s, keeps them connected and silent for ANCHOR_IDLE s, then sends for
#    ANCHOR_MEASURE + 15 s. Measured: the serve process bare, with the K calls connected
#    and silent, and with media flowing (ANCHOR_MEASURE s, after 10 s of settling).
# 2. The engine (its own process; config: AGENTS WebRTC seats 1001.., call-taking,
#    the six queues with record: RECORD (off: the anchor records nothing either), warn
#    logs) bare for IDLE s; then `webrtc-anchor agents` (the demo's simulator,
#    internal/agentsim) logs the AGENTS agents in and keeps them ready, media up, no
#    call, for AGENT_HOLD s (the idle baseline), and logs them out; then `hotline demo
#    --attach-http --attach-sip` in another process logs them in again and CALLERS
#    simulated SIP callers dial 12345 over the trunk, press 1, play 1 kHz, talk TALK,
#    hang up and call again, for DURATION. Every SAMPLE s (1 s until the first call is
#    bridged): the engine's utime+stime (/proc/PID/stat), VmRSS, and from /metrics and
#    /api/v1/agents the goroutines, WebRTC peers, calls up, agents on a call (= bridged
#    calls) and the RTP counters; the load average.
# 3. The anchor again (machine drift shows as a difference between the two).
# Figures (the Python at the end; samples.tsv and anchor-*.tsv hold the raw numbers):
#   steady state: from the first sample with >= 90% of CALLERS on a call until DURATION
#     (counted from the first call) is over;
#   CPU per bridged call-second = (engine CPU over the steady state - the idle rate with
#     the agents logged in x its length) / the integral of the bridged calls over it;
#   RSS and goroutines per bridged call = (steady-state mean - baseline) / mean bridged
#     calls, against both baselines (the bare engine: what a bridged call costs with its
#     agent's kept connection; agents logged in: what the call adds);
#   the anchor the same way: CPU (media - connected and silent) / (K x seconds); RSS and
#     goroutines (media - bare) / K and (media - connected) / K.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

AGENTS=${AGENTS:-250}
CALLERS=${CALLERS:-250}
DURATION=${DURATION:-10m}
TALK=${TALK:-60s}
ANSWER_AFTER=${ANSWER_AFTER:-500ms}
FIRST_AGENT=${FIRST_AGENT:-1001}
SAMPLE=${SAMPLE:-5}
IDLE=${IDLE:-10}
AGENT_HOLD=${AGENT_HOLD:-30}
ANCHOR_IDLE=${ANCHOR_IDLE:-30}
ANCHOR_MEASURE=${ANCHOR_MEASURE:-60}
ANCHOR_RUNS=${ANCHOR_RUNS-"before after"}
ANCHOR_RCVBUF=${ANCHOR_RCVBUF:-0}
RECORD=${RECORD:-off} # the queues' record key: off (the bridged call alone), agent (the default) or answer
PROFILE=${PROFILE:-}
PROFILE_SECS=${PROFILE_SECS:-30}

# secs D: a Go duration (90s, 10m, 1m30s, 500ms) in whole seconds.
secs() {
	python3 -c '
import re, sys
s = sys.argv[1]; t = 0.0
for n, u in re.findall(r"([0-9.]+)(ms|h|m|s)", s):
    t += float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u]
print(int(round(t)))' "$1"
}
DUR_S=$(secs "$DURATION")
TALK_S=$(secs "$TALK")
((DUR_S > 0)) || die "DURATION=$DURATION is not a duration"

if [[ -n ${PROFILE:-} ]]; then
	# The engine with net/http/pprof (bench/pprof-build.sh); profiles once the calls are up.
	OUT=${OUT:-$ROOT/bench/out/webrtc-$(date +%Y%m%d-%H%M%S)}
	mkdir -p "$OUT"
	HOTLINE_BIN=$OUT/hotline-pprof
	# As bench/pprof-build.sh, but with every file of cmd/hotline (it copies main.go only).
	tmp=$(mktemp -d "$(dirname "$0")/_pprof.XXXXXX")
	find "$(dirname "$0")/../cmd/hotline" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$tmp/" \;
	cat >"$tmp/pprof.go" <<'GO'
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("HOTLINE_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
GO
	(cd "$(dirname "$0")/.." && go build -o "$HOTLINE_BIN" "./bench/$(basename "$tmp")") || { rm -rf "$tmp"; echo "pprof build failed" >&2; exit 1; }
	rm -rf "$tmp"
fi
bench_init webrtc
ANCHOR_BIN=$OUT/webrtc-anchor
log "building $ANCHOR_BIN"
(cd "$ROOT" && go build -o "$ANCHOR_BIN" ./bench/webrtc-anchor) || die "go build of the anchor failed"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

# udp_drops: the kernel's UDP receive-buffer overflows so far (RcvbufErrors, machine-wide).
udp_drops() { awk '$1 == "Udp:" {n++; if (n == 2) print $6}' /proc/net/snmp; }

# mval URL NAME: one sample of /metrics, 0 if absent (reads it all: lib.sh's metric
# stops at the first match, and curl's failed write then fails the pipeline).
mval() {
	curl -fsS --max-time 3 "$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n {v = $2} END {print v + 0}'
}

# snap PID URL: "ticks rss_kb goroutines unix_time" of one process.
snap() {
	local g
	g=$(mval "$2" go_goroutines)
	echo "$(proc_cpu_ticks "$1") $(rss_kb "$1") $g $(date +%s.%N)"
}

# counters URL: the anchor's forwarded relay packets, SRTP packets received and sent.
counters() {
	curl -fsS --max-time 3 "$1/metrics" | awk '$1 == "anchor_relay_packets_forwarded_total" {r = $2}
		$1 == "anchor_srtp_packets_received_total" {i = $2} $1 == "anchor_srtp_packets_sent_total" {o = $2}
		END {print r + 0, i + 0, o + 0}'
}

# wait_line FILE PATTERN SECONDS PID: until a line of FILE matches, bounded.
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || die "process $4 ended before '$2': $(tail -3 "$1")"
		sleep 0.1
	done
	die "no '$2' in $1 after $3 s"
}

# run_anchor TAG: one anchor run; appends a line to anchor.tsv.
run_anchor() {
	local tag=$1 dir=$OUT/anchor-$1 url spid lpid b i0 i1 s0 s1 c0 c1 i
	mkdir -p "$dir"
	"$ANCHOR_BIN" serve -rcvbuf "$ANCHOR_RCVBUF" >"$dir/serve.out" 2>"$dir/serve.err" &
	spid=$!
	track_pid "$spid"
	for i in $(seq 50); do
		url=$(awk '$1 == "http" {print $2; exit}' "$dir/serve.out")
		[[ -n $url ]] && break
		sleep 0.1
	done
	[[ -n $url ]] || die "the anchor did not print its address: $(tail -3 "$dir/serve.err")"
	nap 2
	b=$(snap "$spid" "$url")
	log "anchor ($tag): $CALLERS calls, ${ANCHOR_IDLE}s connected and silent, then media for ${ANCHOR_MEASURE}s (+15)"
	"$ANCHOR_BIN" load -server "$url" -calls "$CALLERS" -idle "${ANCHOR_IDLE}s" \
		-duration "$((ANCHOR_MEASURE + 15))s" >"$dir/load.out" 2>"$dir/load.err" &
	lpid=$!
	track_pid "$lpid"
	wait_line "$dir/load.out" '^phase idle' 180 "$lpid"
	nap 5
	i0=$(snap "$spid" "$url")
	nap $((ANCHOR_IDLE - 10))
	i1=$(snap "$spid" "$url")
	wait_line "$dir/load.out" '^phase send' 30 "$lpid"
	local d0 d1
	d0=$(udp_drops)
	nap 10
	s0=$(snap "$spid" "$url")
	c0=$(counters "$url")
	echo "load average during the anchor ($tag): $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
	nap "$ANCHOR_MEASURE"
	s1=$(snap "$spid" "$url")
	c1=$(counters "$url")
	curl -fsS "$url/metrics" >"$dir/metrics.txt" || true
	for i in $(seq 300); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
	local rc=0
	wait "$lpid" || rc=$?
	d1=$(udp_drops)
	stop_pid "$spid"
	echo "$tag $CALLERS $b $i0 $i1 $s0 $s1 $rc $((d1 - d0)) $c0 $c1" >>"$OUT/anchor.tsv"
	log "anchor ($tag): $(grep -h 'loss\|fewest' "$dir/load.out" | tr '\n' ';')"
}

: >"$OUT/anchor.tsv"
for tag in $ANCHOR_RUNS; do
	[[ $tag == before ]] && run_anchor before
done

# The engine.
dir=$OUT/engine
mkdir -p "$dir"
{
	echo "log: {level: warn}"
	echo "sip: {max_calls: 20000}"
	echo "media: {port_min: 10000, port_max: 31998, rtp_timeout: 120s}"
	echo "webrtc: {listen: \"127.0.0.1:0\"}"
	echo "queues:"
	for q in general:call-taking business:business-environment talent:talent-policy \
		household:household-registration followup:follow-up foreign:foreign-language; do
		echo "  - {name: ${q%%:*}, skill: ${q#*:}, hold: [music], announce_every: 60s, record: $RECORD}"
	done
	echo "agents:"
	for ((i = 0; i < AGENTS; i++)); do
		echo "  - {id: \"$((FIRST_AGENT + i))\", pool: primary, endpoint: {kind: webrtc}, skills: {call-taking: 5}}"
	done
} >"$dir/hotline.yaml"
cp "$dir/hotline.yaml" "$OUT/webrtc.yaml"
if [[ -n $PROFILE ]]; then
	PPROF_ADDR=127.0.0.1:$(free_port)
	export HOTLINE_PPROF=$PPROF_ADDR
fi
start_hotline "$dir"
log "engine up: sip $HL_SIP, http $HL_HTTP"
nap 2
e_b0=$(snap "$HL_PID" "$HL_HTTP")
nap "$IDLE"
e_b1=$(snap "$HL_PID" "$HL_HTTP")

# Idle with the agents logged in (ready, media connected, no call): the demo starts its
# callers as soon as its agents are in, so the same simulator logs them in first here.
log "idle baseline: $AGENTS agents logged in for ${AGENT_HOLD}s"
"$ANCHOR_BIN" agents -engine "$HL_HTTP" -first "$FIRST_AGENT" -n "$AGENTS" -hold "${AGENT_HOLD}s" \
	>"$dir/agents-idle.out" 2>"$dir/agents-idle.err" &
apid=$!
track_pid "$apid"
wait_line "$dir/agents-idle.out" '^phase idle' 180 "$apid"
nap 3
e_a0=$(snap "$HL_PID" "$HL_HTTP")
nap $((AGENT_HOLD - 6))
e_a1=$(snap "$HL_PID" "$HL_HTTP")
peers_idle=$(mval "$HL_HTTP" hotline_webrtc_peers)
ready_idle=$(curl -fsS "$HL_HTTP/api/v1/agents" | grep -o '"ready": [0-9]*' | tail -1 | awk '{print $2 + 0}')
for i in $(seq 300); do kill -0 "$apid" 2>/dev/null || break; sleep 0.1; done
wait "$apid" || die "the idle agents failed: $(tail -3 "$dir/agents-idle.err")"
for i in $(seq 300); do [[ $(mval "$HL_HTTP" hotline_webrtc_peers) == 0 ]] && break; sleep 0.1; done
log "  $peers_idle peers and $ready_idle agents ready during the idle window; now $(mval "$HL_HTTP" hotline_webrtc_peers) peers"
nap 2

SAMPLES=$OUT/samples.tsv
printf 't\tticks\trss_kb\tgoroutines\tpeers\tcalls_active\ton_call\tready\treceived\tforwarded\tlost\tsent\tload1\n' >"$SAMPLES"
sample() {
	local m a now
	now=$(date +%s.%N)
	m=$(curl -fsS --max-time 3 "$HL_HTTP/metrics" 2>/dev/null || true)
	a=$(curl -fsS --max-time 3 "$HL_HTTP/api/v1/agents" 2>/dev/null || true)
	printf '%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$(awk -v t0="$T0" -v n="$now" 'BEGIN {print n - t0}')" \
		"$(proc_cpu_ticks "$HL_PID")" "$(rss_kb "$HL_PID")" \
		"$(awk '$1 == "go_goroutines" {print $2}' <<<"$m")" \
		"$(awk '$1 == "hotline_webrtc_peers" {print $2}' <<<"$m")" \
		"$(awk '$1 == "hotline_calls_active" {print $2}' <<<"$m")" \
		"$(grep -o '"on-call": [0-9]*' <<<"$a" | tail -1 | awk '{print $2 + 0}')" \
		"$(grep -o '"ready": [0-9]*' <<<"$a" | tail -1 | awk '{print $2 + 0}')" \
		"$(awk '$1 == "hotline_rtp_packets_received_total" {print $2}' <<<"$m")" \
		"$(awk '$1 == "hotline_rtp_packets_forwarded_total" {print $2}' <<<"$m")" \
		"$(awk '$1 == "hotline_rtp_packets_lost_total" {print $2}' <<<"$m")" \
		"$(awk '$1 == "hotline_rtp_packets_sent_total" {print $2}' <<<"$m")" \
		"$(cut -d' ' -f1 /proc/loadavg)" >>"$SAMPLES"
}

log "demo: $AGENTS agents, $CALLERS callers for $DURATION (talk $TALK, answer after $ANSWER_AFTER)"
T0=$(date +%s.%N)
drops0=$(udp_drops)
(cd "$dir" && exec timeout $((DUR_S + TALK_S + 600)) "$HOTLINE_BIN" demo --config "$dir/hotline.yaml" --attach-http "$HL_HTTP" --attach-sip "$HL_SIP" \
	--agents "$AGENTS" --callers "$CALLERS" --first-agent "$FIRST_AGENT" --duration "$DURATION" \
	--talk "$TALK" --answer-after "$ANSWER_AFTER" >"$dir/demo.out" 2>"$dir/demo.err") &
DEMO_PID=$!
track_pid "$DEMO_PID"
sample
bridged=0
next=$(date +%s)
while kill -0 "$DEMO_PID" 2>/dev/null; do
	if ((bridged)); then next=$((next + SAMPLE)); else next=$((next + 1)); fi
	nap "$(awk -v n="$next" -v now="$(date +%s.%N)" 'BEGIN {d = n - now; print (d > 0) ? d : 0}')"
	kill -0 "$DEMO_PID" 2>/dev/null || break
	sample
	if ((!bridged)) && [[ $(tail -1 "$SAMPLES" | cut -f7) != 0 ]]; then
		bridged=1
		if [[ -n $PROFILE ]]; then
			( # CPU over PROFILE_SECS once the calls are up, then heap and goroutines
				nap 20
				curl -fsS -o "$OUT/cpu.pprof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$PROFILE_SECS"
				curl -fsS -o "$OUT/heap.pprof" "http://$PPROF_ADDR/debug/pprof/heap?gc=1"
				curl -fsS -o "$OUT/goroutines.pprof" "http://$PPROF_ADDR/debug/pprof/goroutine"
				curl -fsS -o "$OUT/goroutines.txt" "http://$PPROF_ADDR/debug/pprof/goroutine?debug=1"
				echo "profiled with $(mval "$HL_HTTP" hotline_calls_active) calls up" >"$OUT/profile.txt"
			) &
			track_pid $!
		fi
	fi
	if ((bridged)) && (($(date +%s) % 60 < SAMPLE)); then
		log "  $(tail -1 "$SAMPLES" | awk -F'\t' '{printf "t=%.0fs on a call %s, calls up %s, peers %s, RSS %.0f MB, goroutines %s, load %s", $1, $7, $6, $5, $3 / 1024, $4, $13}')"
	fi
done
demo_rc=0
wait "$DEMO_PID" || demo_rc=$?
drops1=$(udp_drops)
curl -fsS "$HL_HTTP/metrics" >"$dir/metrics-end.txt" || true
curl -fsS "$HL_HTTP/api/v1/agents" >"$dir/agents-end.json" || true
curl -fsS "$HL_HTTP/api/v1/queues" >"$dir/queues-end.json" || true
echo "load average after the engine run: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
stop_pid "$HL_PID"
log "demo exit status $demo_rc"

for tag in $ANCHOR_RUNS; do
	[[ $tag == before ]] || run_anchor "$tag"
done
if [[ -n $PROFILE && -f $OUT/cpu.pprof ]]; then
	pp() { go tool pprof -nodecount=40 "$@" 2>/dev/null; }
	pp -top "$HOTLINE_BIN" "$OUT/cpu.pprof" >"$OUT/cpu.txt" || true
	pp -top -cum "$HOTLINE_BIN" "$OUT/cpu.pprof" >"$OUT/cpu-cum.txt" || true
	pp -top -sample_index=inuse_space "$HOTLINE_BIN" "$OUT/heap.pprof" >"$OUT/heap.txt" || true
	pp -top -cum -sample_index=inuse_space "$HOTLINE_BIN" "$OUT/heap.pprof" >"$OUT/heap-cum.txt" || true
	pp -top "$HOTLINE_BIN" "$OUT/goroutines.pprof" >"$OUT/goroutines-top.txt" || true
	log "profiles: $OUT/cpu.txt, cpu-cum.txt, heap.txt, heap-cum.txt, goroutines-top.txt"
fi

{
	echo "# webrtc.sh summary ($(date -u +%FT%TZ)): $AGENTS WebRTC agents, $CALLERS SIP callers for $DURATION (talk $TALK, answer after $ANSWER_AFTER); anchor K=$CALLERS"
	cat "$OUT/machine.txt"
	echo "## the demo's own summary (exit status $demo_rc)"
	{ grep -v '^[[:space:]]*$' "$dir/demo.out" || echo "(no output; stderr: $(tail -3 "$dir/demo.err" | tr '\n' ' '))"; } | tail -40
	echo "## figures"
	echo "$OUT $CLK_TCK $CALLERS $AGENTS $DUR_S $ANCHOR_MEASURE|$e_b0|$e_b1|$demo_rc|$e_a0|$e_a1|$peers_idle|$((drops1 - drops0))" >"$OUT/report-args.txt"
	python3 - "$OUT" "$CLK_TCK" "$CALLERS" "$AGENTS" "$DUR_S" "$ANCHOR_MEASURE" "$e_b0" "$e_b1" "$demo_rc" "$e_a0" "$e_a1" "$peers_idle" "$((drops1 - drops0))" <<'EOF'
import statistics as st
import sys

out, hz, callers, agents, dur, ameas = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
b0 = [float(x) for x in sys.argv[7].split()]
b1 = [float(x) for x in sys.argv[8].split()]
demo_rc = int(sys.argv[9])

# The anchor runs.
anchors = []
for line in open(f"{out}/anchor.tsv"):
    f = line.split()
    tag, k = f[0], int(f[1])
    v = [float(x) for x in f[2:22]]
    b, i0, i1, s0, s1 = v[0:4], v[4:8], v[8:12], v[12:16], v[16:20]
    rc = int(f[22])
    drops = f[23] if len(f) > 23 else "?"
    c0 = [float(x) for x in f[24:27]] if len(f) >= 30 else None
    c1 = [float(x) for x in f[27:30]] if len(f) >= 30 else None
    idle_cores = (i1[0] - i0[0]) / hz / (i1[3] - i0[3])
    media_cores = (s1[0] - s0[0]) / hz / (s1[3] - s0[3])
    a = dict(tag=tag, k=k, rc=rc, idle_cores=idle_cores, media_cores=media_cores,
             cpu_ms=1000 * (media_cores - idle_cores) / k, cpu_ms_gross=1000 * media_cores / k,
             rss_bare=b[1] / 1024, rss_idle=i1[1] / 1024, rss=s1[1] / 1024,
             kib=(s1[1] - b[1]) / k, kib_marg=(s1[1] - i1[1]) / k,
             g_bare=b[2], g_idle=i1[2], g=s1[2], gor=(s1[2] - b[2]) / k, gor_marg=(s1[2] - i1[2]) / k)
    # Scaled to 50 packets/s each way: a call-second is 100 relayed packets, 50 SRTP
    # received and 50 sent; a starved load process sends fewer (its ticker skips).
    if c0 and c1:
        ops = (c1[0] - c0[0] + c1[1] - c0[1] + c1[2] - c0[2]) / k / (s1[3] - s0[3])
        a["ops"] = ops
        a["cpu_ms50"] = a["cpu_ms"] * 200 / ops if ops > 0 else float("nan")
        a["pps"] = ((c1[0] - c0[0]) / 2 / k / (s1[3] - s0[3]), (c1[1] - c0[1]) / k / (s1[3] - s0[3]), (c1[2] - c0[2]) / k / (s1[3] - s0[3]))
    anchors.append(a)
    print(f"anchor ({tag}), K={k}: serve process bare {a['rss_bare']:.1f} MB / {b[2]:.0f} goroutines; "
          f"{k} calls connected, silent: {idle_cores * 100:.1f}% of a core, {a['rss_idle']:.1f} MB, {i1[2]:.0f} goroutines; "
          f"media: {media_cores * 100:.1f}% of a core, {a['rss']:.1f} MB, {s1[2]:.0f} goroutines (load exit {rc}; "
          f"kernel UDP receive-buffer drops while sending, machine-wide: {drops})")
    try:
        print("  load side: " + "; ".join(l.strip() for l in open(f"{out}/anchor-{tag}/load.out") if "loss" in l or "fewest" in l))
    except OSError:
        pass
    if "ops" in a:
        print(f"  carried per call: relay {a['pps'][0]:.1f} packets/s each way, SRTP {a['pps'][1]:.1f} in / {a['pps'][2]:.1f} out "
              f"(nominal 50); CPU scaled to 50 packets/s each way: {a['cpu_ms50']:.3f} ms per call-second")
    print(f"  per call: CPU {a['cpu_ms']:.3f} ms per call-second (gross {a['cpu_ms_gross']:.3f}); "
          f"RSS {a['kib']:.0f} KiB (over connected: {a['kib_marg']:.0f}); goroutines {a['gor']:.1f} (over connected: {a['gor_marg']:.1f})")

# The engine's samples.
rows = []
with open(f"{out}/samples.tsv") as fh:
    head = fh.readline().split("\t")
    for line in fh:
        f = line.rstrip("\n").split("\t")
        try:
            r = {h.strip(): float(x) if x else None for h, x in zip(head, f)}
        except ValueError:
            continue
        # by_state names only the states some agent is in: with the other one there,
        # a missing on-call (ready) count is 0. A sample whose /metrics or
        # /api/v1/agents request failed (3 s timeout) is left out: the integral then
        # spans the gap.
        if r.get("on_call") is None and r.get("ready") is not None:
            r["on_call"] = 0.0
        if r.get("ready") is None and r.get("on_call") is not None:
            r["ready"] = 0.0
        if all(r.get(k) is not None for k in ("ticks", "rss_kb", "goroutines", "peers", "calls_active", "on_call", "received", "forwarded", "lost", "sent")):
            rows.append(r)
if not rows:
    print("engine: no samples"); sys.exit(1)

# Idle with the agents logged in (webrtc-anchor agents: ready, media up, no call).
a0 = [float(x) for x in sys.argv[10].split()]
a1 = [float(x) for x in sys.argv[11].split()]
peers_idle = sys.argv[12]
drops = sys.argv[13]
bare_cores = (b1[0] - b0[0]) / hz / (b1[3] - b0[3])
idle = dict(cores=(a1[0] - a0[0]) / hz / (a1[3] - a0[3]), rss=a1[1], g=a1[2])
print(f"engine bare (no agent): {bare_cores * 100:.2f}% of a core, {b1[1] / 1024:.1f} MB RSS, {b1[2]:.0f} goroutines")
print(f"engine idle with {agents} agents logged in ({peers_idle} WebRTC peers, {a1[3] - a0[3]:.0f}s): {idle['cores'] * 100:.2f}% of a core, "
      f"{idle['rss'] / 1024:.1f} MB RSS, {idle['g']:.0f} goroutines; per agent: "
      f"{(idle['rss'] - b1[1]) / agents:.0f} KiB, {(idle['g'] - b1[2]) / agents:.1f} goroutines")

# Steady state: from the first sample with >= 90% of the callers on a call to the end of DURATION.
start = next((i for i, r in enumerate(rows) if r["on_call"] >= 0.9 * callers), None)
if start is None:
    print(f"engine: never {0.9 * callers:.0f} calls bridged at once (peak {max(r['on_call'] for r in rows):.0f})")
    start = max(range(len(rows)), key=lambda i: rows[i]["on_call"])
login_end = next((r["t"] for r in rows if r["peers"] >= agents), None)
first_call = next((r["t"] for r in rows if r["calls_active"] > 0), None)
t_end = (first_call if first_call is not None else rows[0]["t"]) + dur
steady = [r for r in rows[start:] if r["t"] <= t_end]
if len(steady) < 2:
    steady = rows[start:start + 2]
w0, w1 = steady[0], steady[-1]
secs = w1["t"] - w0["t"]
callsec = sum((a["on_call"] + b["on_call"]) / 2 * (b["t"] - a["t"]) for a, b in zip(steady, steady[1:]))
if secs <= 0 or callsec <= 0:
    print(f"engine: no steady state with calls bridged to measure ({len(steady)} samples): run longer (DURATION)")
    sys.exit(1)
mean_on = callsec / secs
cores = (w1["ticks"] - w0["ticks"]) / hz / secs
cpu_ms = 1000 * (cores - idle["cores"]) * secs / callsec
cpu_ms_gross = 1000 * cores * secs / callsec
rss = st.mean(r["rss_kb"] for r in steady)
rss_peak = max(r["rss_kb"] for r in rows)
g = st.mean(r["goroutines"] for r in steady)
g_peak = max(r["goroutines"] for r in rows)
kib_bare = (rss - b1[1]) / mean_on
kib_marg = (rss - idle["rss"]) / mean_on
gor_bare = (g - b1[2]) / mean_on
gor_marg = (g - idle["g"]) / mean_on
d = {k: w1[k] - w0[k] for k in ("received", "forwarded", "lost", "sent")}
print(f"engine timeline: agents' peers all up at t={login_end if login_end is not None else float('nan'):.0f}s, "
      f"first call at t={first_call if first_call is not None else float('nan'):.0f}s; steady state t={w0['t']:.0f}-{w1['t']:.0f}s ({secs:.0f}s, {len(steady)} samples)")
print(f"engine steady state: {mean_on:.1f} calls bridged on average (min {min(r['on_call'] for r in steady):.0f}, max {max(r['on_call'] for r in steady):.0f}), "
      f"{st.mean(r['calls_active'] for r in steady):.1f} calls up; {cores * 100:.1f}% of a core; RSS {rss / 1024:.1f} MB (peak of the run {rss_peak / 1024:.1f}); "
      f"goroutines {g:.0f} (peak {g_peak:.0f}); load average {st.mean(r['load1'] for r in steady):.2f}")
print(f"engine packets per bridged call-second: received {d['received'] / callsec:.1f}, forwarded {d['forwarded'] / callsec:.1f}, "
      f"sent by sessions {d['sent'] / callsec:.1f}; lost (sequence gaps at the trunk side) {d['lost']:.0f} of {d['received']:.0f} received "
      f"({100 * d['lost'] / max(d['received'], 1):.4f}%); kernel UDP receive-buffer drops during the demo (machine-wide, every process): {drops}")
fwd = d["forwarded"] / callsec
cpu_ms50 = cpu_ms * 100 / fwd if fwd > 0 else float("nan")
print(f"engine CPU scaled to 50 packets/s each way (100 forwarded per bridged call-second; {fwd:.1f} were): {cpu_ms50:.3f} ms per call-second")
print(f"engine per bridged call: CPU {cpu_ms:.3f} ms per call-second (gross, idle not subtracted: {cpu_ms_gross:.3f}); "
      f"RSS {kib_bare:.0f} KiB with its agent's connection ({kib_marg:.0f} KiB over agents logged in); "
      f"goroutines {gor_bare:.1f} with its agent's connection ({gor_marg:.1f} over agents logged in)")

if anchors:
    acpu = st.median(a["cpu_ms"] for a in anchors)
    akib = st.median(a["kib"] for a in anchors)
    agor = st.median(a["gor"] for a in anchors)
    ratio = cpu_ms / acpu if acpu > 0 else float("inf")
    if all("cpu_ms50" in a for a in anchors):
        a50 = st.median(a["cpu_ms50"] for a in anchors)
        print(f"scaled to 50 packets/s each way: engine {cpu_ms50:.3f} vs anchor {a50:.3f} ms per call-second: {cpu_ms50 / a50:.2f}x")
    print(f"anchor (median of {len(anchors)} runs): {acpu:.3f} ms per call-second, {akib:.0f} KiB, {agor:.1f} goroutines per call")
    print(f"ratio engine / anchor: CPU {ratio:.2f}x (gross/gross {cpu_ms_gross / st.median(a['cpu_ms_gross'] for a in anchors):.2f}x), "
          f"RSS {kib_bare / akib:.2f}x, goroutines {gor_bare / agor:.2f}x")
    verdict = lambda ok: "met" if ok else "MISSED"
    print(f"target CPU <= 1.3x anchor: {ratio:.2f}x: {verdict(ratio <= 1.3)}")
print(f"target <= 400 KiB per bridged call (with its agent's connection): {kib_bare:.0f} KiB: {'met' if kib_bare <= 400 else 'MISSED'}")
print(f"target <= 30 goroutines per bridged call (with its agent's connection): {gor_bare:.1f}: {'met' if gor_bare <= 30 else 'MISSED'}")
print(f"target no call without audio both ways: demo exit status {demo_rc}: {'met' if demo_rc == 0 else 'MISSED (see the demo summary)'}")
print(f"extrapolated: 1,000 bridged calls would need about {cpu_ms_gross:.2f} cores and {1000 * kib_bare / 1048576 + b1[1] / 1048576:.2f} GiB by these figures")
EOF
	echo "samples: $SAMPLES; anchor runs: $OUT/anchor-*/"
} | tee "$OUT/summary.txt"
[[ $demo_rc == 0 ]]
