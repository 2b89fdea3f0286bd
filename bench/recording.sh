#!/usr/bin/env bash
# bench/recording.sh: N concurrent recorded calls: engine CPU, memory, disk bandwidth,
# and that every recording is complete with no dropped frames (issue 5, "Tests and
# benchmarks").
#
#   bench/recording.sh                        # 500 calls, 60 s measured, record: answer then off, ~4.5 min
#   N=100 MEASURE=20 bench/recording.sh       # a quick try
#   MODES=answer KEEP=1 bench/recording.sh    # keep the WAV files in OUT/answer/data/recordings
#
# For each mode in MODES (a fresh engine each, one after the other): the engine runs
# with the six default queues where only general says `record: MODE` (answer: from the
# engine's answer, the menu included; off: not recorded) and no agent is logged in, at
# log level info (the engine logs "recording: packets dropped" per call at info).
# SIPp (bench/sipp/recorded_caller.xml) opens N calls at RATE calls/s; each streams a
# generated ~3 s u-law clip in a loop for the whole call (the caller's side is real
# audio, 50 packets/s), presses 1 (SIP INFO) into the general queue and stays there
# hearing the hold music. Once every call is routed to the queue and SETTLE seconds
# have passed, over MEASURE seconds:
#   - engine CPU: utime+stime from /proc/PID/stat; / (N * MEASURE) = CPU per call-second
#     (the recording's cost: answer minus off); SIPp's CPU and the machine's busy share
#     (/proc/stat) beside it
#   - RSS: VmRSS from /proc/PID/status, before the calls and with all N up
#   - disk: the engine's write_bytes from /proc/PID/io (journal included: compare with
#     off), the growth of the recordings folder (du -sb), and the device's sectors
#     written (/proc/diskstats, machine-wide, writeback), each per second
#   - RTP: hotline_rtp_packets_received_total delta / MEASURE / N (did SIPp keep up)
# After the calls end (SIPp's BYE): hotline_recordings_total{state="complete"} against
# the calls; "recording: packets dropped" log lines (and their dropped= sum); every
# recording's duration (GET /api/v1/recordings, a supervisor token) against its call's
# answer..end (GET /api/v1/calls); and every WAV file read back: 20 ms frames of the
# caller's channel that are digital silence between its first and last sound (the
# clip has no silent frame, so each is a frame lost on the way into the file). The
# right channel is silence throughout: no agent speaks and the engine does not record
# its own prompts or music. The files are deleted afterwards (about 2.2 MB per call-
# minute) unless KEEP=1.
# A mode holds when all N calls were routed and up for the whole window, no SIPp call
# failed, each call delivered >= 49 packets/s, and (recording on) every call has a
# complete recording with no dropped packet, no silent frame and a duration within
# 100 ms of its call's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N=${N:-500}
RATE=${RATE:-50}
SETTLE=${SETTLE:-12} # the menu: welcome, main menu, the typed-ahead 1 routes ~8.5 s after the answer
MEASURE=${MEASURE:-60}
MODES=${MODES:-"answer off"}
KEEP=${KEEP:-0}
LAB_PASSWORD=${LAB_PASSWORD:-hotline-lab}

bench_init recording
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
RESULTS=$OUT/recording.tsv
printf 'mode\tcalls\trouted\tfailed\tcpu_ms_per_call_s\tcpu_cores\tsipp_cores\tmachine_busy_pct\trss_base_mb\trss_mb\trss_kib_per_call\tcaller_pps_per_call\tengine_write_kb_s\trec_dir_kb_s\tdevice_write_kb_s\trec_started\trec_complete\trec_failed\tdropped_lines\tdropped_packets\tfiles\tsilent_frames\tfiles_with_silence\tdur_diff_p50_ms\tdur_diff_max_ms\trec_bytes_total\theld\n' >"$RESULTS"

# The caller's clip: ~3 s of raw G.711 u-law (no header; SIPp sends the bytes as they
# are), tones and noise with no silent 20 ms frame. Pure Python (audioop is gone in 3.13).
AUDIO=$OUT/caller.ulaw
python3 - "$AUDIO" <<'EOF'
import math, random, sys
random.seed(12345)
def ulaw(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), 32635) + 0x84
    exp = s.bit_length() - 8
    return ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0F)) & 0xFF
pcm = []
for i in range(24000):
    t = i / 8000
    if t < 1.0:    # a vowel-like buzz: harmonics of 140 Hz, syllable envelope
        env = 0.5 + 0.5 * math.sin(2 * math.pi * 4 * t)
        v = env * sum(math.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 8)) * 5000
    elif t < 2.0:  # 1 kHz at about -12 dBFS
        v = 8000 * math.sin(2 * math.pi * 1000 * t)
    else:          # a 440/660 Hz chord, fading
        v = (3 - t) * 6000 * (math.sin(2 * math.pi * 440 * t) + math.sin(2 * math.pi * 660 * t))
    pcm.append(int(v) + random.randint(-300, 300))
open(sys.argv[1], "wb").write(bytes(ulaw(s) for s in pcm))
EOF
sed "s#{{AUDIO}}#$AUDIO#" "$BENCH_DIR/sipp/recorded_caller.xml" >"$OUT/recorded_caller.xml"

# write_config FILE MODE: the load configuration with general recorded per MODE.
write_config() {
	cat >"$1" <<EOF
log: {level: info}
sip: {max_calls: 20000}
media: {port_min: 10000, port_max: 31998, rtp_timeout: 600s}
queues:
  - {name: general,   skill: call-taking,            hold: [music], announce_every: 60s, record: $2}
  - {name: business,  skill: business-environment,   hold: [music], announce_every: 60s}
  - {name: talent,    skill: talent-policy,          hold: [music], announce_every: 60s}
  - {name: household, skill: household-registration, hold: [music], announce_every: 60s}
  - {name: followup,  skill: follow-up,              hold: [music], announce_every: 60s}
  - {name: foreign,   skill: foreign-language,       hold: [music], announce_every: 60s}
EOF
}

# write_bytes PID: bytes the process caused to be written to storage.
write_bytes() { awk '$1 == "write_bytes:" {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }

# dir_bytes DIR: apparent size of the files in DIR.
dir_bytes() { du -sb "$1" 2>/dev/null | awk '{print $1}' || echo 0; }

# disk_sectors: sectors written by the device holding OUT (whole disks, no partitions).
disk_sectors() {
	local dev
	dev=$(lsblk -no PKNAME "$(df --output=source "$OUT" | tail -1)" 2>/dev/null || true)
	[[ -n $dev ]] || dev=$(basename "$(df --output=source "$OUT" | tail -1)")
	awk -v d="$dev" '$3 == d {print $10; found = 1} END {if (!found) print 0}' /proc/diskstats
}

# cpu_busy_total: busy and total jiffies of the whole machine (/proc/stat).
cpu_busy_total() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }

# routed_calls URL: calls in the routed state (waiting in a queue).
routed_calls() {
	curl -fsS "$1/api/v1/calls?state=routed&limit=1000" |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["calls"]))' 2>/dev/null || echo 0
}

for mode in $MODES; do
	dir=$OUT/$mode
	mkdir -p "$dir"
	write_config "$dir/hotline.yaml" "$mode"
	ramp=$(((N + RATE - 1) / RATE))
	hold_s=$((ramp + SETTLE + MEASURE + 3))
	log "== record: $mode: $N calls at $RATE/s, each held ${hold_s}s in the general queue"
	start_hotline "$dir"
	nap 2
	rss0=$(rss_kb "$HL_PID")
	sport=$(free_port)
	mport=$(free_port_pair)
	(cd "$dir" && exec timeout $((hold_s + ramp + 60)) sipp -sf "$OUT/recorded_caller.xml" -s 12345 "$HL_SIP" \
		-i 127.0.0.1 -p "$sport" -mp "$mport" -r "$RATE" -m "$N" -l $((N + 100)) -d $((hold_s * 1000)) \
		-recv_timeout 10000 -default_behaviors all,-abortunexp -nostdin -buff_size 4194304 \
		-trace_stat -fd 1 -stf "$dir/sipp.csv" -trace_err -error_file "$dir/sipp-errors.log" >"$dir/sipp.out" 2>&1) &
	sipp_pid=$!
	track_pid "$sipp_pid"
	nap $((ramp + SETTLE))
	sipp_child=$(pgrep -P "$sipp_pid" -x sipp || echo "$sipp_pid")
	routed0=$(routed_calls "$HL_HTTP")
	log "   $routed0 calls in the queue; measuring ${MEASURE}s"
	curl -fsS "$HL_HTTP/metrics" >"$dir/metrics0.txt"
	read -r mb0 mt0 < <(cpu_busy_total)
	c0=$(proc_cpu_ticks "$HL_PID")
	s0=$(proc_cpu_ticks "$sipp_child")
	w0=$(write_bytes "$HL_PID")
	d0=$(dir_bytes "$dir/data/recordings")
	k0=$(disk_sectors)
	nap "$MEASURE"
	c1=$(proc_cpu_ticks "$HL_PID")
	s1=$(proc_cpu_ticks "$sipp_child")
	w1=$(write_bytes "$HL_PID")
	d1=$(dir_bytes "$dir/data/recordings")
	k1=$(disk_sectors)
	read -r mb1 mt1 < <(cpu_busy_total)
	rss1=$(rss_kb "$HL_PID")
	curl -fsS "$HL_HTTP/metrics" >"$dir/metrics1.txt"
	routed1=$(routed_calls "$HL_HTTP")
	echo "load average at the end of the window ($mode): $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
	log "   $routed1 calls in the queue at the end; waiting for the hang-ups"
	wait "$sipp_pid" || true
	for _ in $(seq 100); do # every call ended and its recording closed
		[[ $(metric "$HL_HTTP" hotline_calls_active) == 0 ]] && break
		sleep 0.2
	done
	nap 2
	curl -fsS "$HL_HTTP/metrics" >"$dir/metrics2.txt"
	tok=$(curl -fsS -X POST "$HL_HTTP/api/v1/login" -d "{\"agent\":\"admin\",\"password\":\"$LAB_PASSWORD\"}" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') || die "supervisor login failed"
	curl -fsS -H "Authorization: Bearer $tok" "$HL_HTTP/api/v1/recordings?limit=1000" >"$dir/recordings.json"
	curl -fsS "$HL_HTTP/api/v1/calls?limit=1000" >"$dir/calls.json"
	stop_pid "$HL_PID"

	read -r _ _ failed _ < <(sipp_summary "$dir/sipp.csv")
	m() { awk -v n="$2" '$1 == n {print $2; found = 1; exit} END {if (!found) print 0}' "$1"; }
	rx0=$(m "$dir/metrics0.txt" hotline_rtp_packets_received_total)
	rx1=$(m "$dir/metrics1.txt" hotline_rtp_packets_received_total)
	started=$(m "$dir/metrics2.txt" hotline_recordings_started_total)
	complete=$(m "$dir/metrics2.txt" 'hotline_recordings_total{state="complete"}')
	rfailed=$(m "$dir/metrics2.txt" 'hotline_recordings_total{state="failed"}')
	dlines=$(grep -c 'recording: packets dropped' "$dir/hotline.err" || true)
	dpackets=$(awk '/recording: packets dropped/ && match($0, /dropped=[0-9]+/) {s += substr($0, RSTART + 8, RLENGTH - 8)}
		END {print s + 0}' "$dir/hotline.err")
	# Every file read back, every duration against its call's.
	files=0 silent=0 fsil=0 p50=nan pmax=nan rbytes=0
	read -r files silent fsil p50 pmax rbytes < <(python3 - "$dir" <<'EOF' || echo 0 0 0 nan nan 0
import array, datetime, json, os, sys, wave
d = sys.argv[1]
recs = json.load(open(os.path.join(d, "recordings.json")))["recordings"]
calls = {c["id"]: c for c in json.load(open(os.path.join(d, "calls.json")))["calls"]}
def t(s):  # RFC 3339 with nanoseconds
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac, tz = rest[:rest.index("+")], rest[rest.index("+"):]
        s = head + "." + (frac + "000000")[:6] + tz
    return datetime.datetime.fromisoformat(s)
diffs, files, silent, with_silence, total = [], 0, 0, 0, 0
report = []
for r in recs:
    c = calls.get(r["call"])
    diff = None
    if c and c.get("answer") and c.get("end"):
        diff = r["duration"] / 1e6 - (t(c["end"]) - t(c["answer"])).total_seconds() * 1000
        diffs.append(abs(diff))
    path = os.path.join(d, "data", "recordings", r["file"])
    sil = None
    try:
        w = wave.open(path)
        assert w.getnchannels() == 2 and w.getframerate() == 8000 and w.getsampwidth() == 2
        a = array.array("h")
        a.frombytes(w.readframes(w.getnframes()))
        total += os.path.getsize(path)
        left = a[0::2]
        n = len(left) // 160
        quiet = [left[k * 160:(k + 1) * 160].count(0) == 160 for k in range(n)]
        sound = [k for k in range(n) if not quiet[k]]
        sil = sum(quiet[sound[0]:sound[-1] + 1]) if sound else n
        files += 1
        silent += sil
        with_silence += sil > 0
    except Exception as e:  # unreadable: counted as not a file
        sil = "error: %s" % e
    report.append({"id": r["id"], "state": r["state"], "duration_ms": r["duration"] / 1e6,
                   "diff_ms": diff, "silent_frames": sil})
json.dump(report, open(os.path.join(d, "files.json"), "w"), indent=1)
diffs.sort()
p50 = diffs[len(diffs) // 2] if diffs else float("nan")
mx = diffs[-1] if diffs else float("nan")
print(files, silent, with_silence, "%.1f" % p50, "%.1f" % mx, total)
EOF
	)
	[[ $KEEP == 1 ]] || rm -rf "$dir/data/recordings"

	line=$(awk -v mode="$mode" -v n="$N" -v r0="$routed0" -v r1="$routed1" -v f="$failed" \
		-v dt=$((c1 - c0)) -v ds=$((s1 - s0)) -v hz="$CLK_TCK" -v m="$MEASURE" \
		-v mb=$((mb1 - mb0)) -v mt=$((mt1 - mt0)) -v rss0="$rss0" -v rss1="$rss1" \
		-v rx0="$rx0" -v rx1="$rx1" -v w=$((w1 - w0)) -v dd=$((d1 - d0)) -v dk=$((k1 - k0)) \
		-v st="$started" -v co="$complete" -v rf="$rfailed" -v dl="$dlines" -v dp="$dpackets" \
		-v files="$files" -v sil="$silent" -v fsil="$fsil" -v p50="$p50" -v pmax="$pmax" -v rb="$rbytes" 'BEGIN {
			routed = (r0 < r1) ? r0 : r1
			cpu = dt / hz; pps = (rx1 - rx0) / m / n
			held = (routed >= n && f == 0 && pps >= 49)
			if (mode != "off") held = held && co >= n && rf == 0 && dl == 0 && files >= n && sil == 0 && pmax + 0 <= 100
			printf "%s\t%d\t%d\t%d\t%.3f\t%.2f\t%.2f\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f\t%.0f\t%.0f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%s",
				mode, n, routed, f, 1000 * cpu / (n * m), cpu / m, ds / hz / m, (mt > 0) ? 100 * mb / mt : 0,
				rss0 / 1024, rss1 / 1024, (rss1 - rss0) / n, pps, w / m / 1000, dd / m / 1000, dk * 512 / m / 1000,
				st, co, rf, dl, dp, files, sil, fsil, p50, pmax, rb, held ? "yes" : "no"}')
	echo "$line" | tee -a "$RESULTS" >&2
	bench_cleanup
done

{
	echo "# recording.sh summary ($(date -u +%FT%TZ), $N calls, measured over ${MEASURE}s with all in the queue)"
	cat "$OUT/machine.txt"
	column -t -s $'\t' "$RESULTS"
	awk -F'\t' 'NR > 1 {cpu[$1] = $5; w[$1] = $13} END {
		if (("answer" in cpu) && ("off" in cpu))
			printf "recording cost: %.3f ms CPU per call-second (answer %.3f - off %.3f), %.0f KB/s more written by the engine\n",
				cpu["answer"] - cpu["off"], cpu["answer"], cpu["off"], w["answer"] - w["off"]
	}' "$RESULTS"
	echo "expected audio: 32 KB per call-second (stereo, 8 kHz, 16-bit); the issue: 500 recorded calls, no dropped frames"
} | tee "$OUT/summary.txt"
