# bench/lib.sh: shared helpers for the benchmark scripts (sourced, not run).
#
# Everything binds 127.0.0.1 on ports found free at run time. Every process a script
# starts is recorded with track_pid and ended by the EXIT trap that bench_init sets,
# by its own id only.
#
# Variables a caller may set before sourcing: OUT (results folder, default
# bench/out/NAME-TIMESTAMP), HOTLINE_BIN (default: built into OUT from this checkout).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
CLK_TCK=$(getconf CLK_TCK)
PAGE_KB=$(($(getconf PAGESIZE) / 1024))
_PIDS=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# bench_init NAME: make the results folder, set the trap, build the engine.
bench_init() {
	local name=$1
	OUT=${OUT:-$ROOT/bench/out/$name-$(date +%Y%m%d-%H%M%S)}
	mkdir -p "$OUT"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	for tool in sipp curl python3 awk; do
		command -v "$tool" >/dev/null || die "$tool is not installed (sipp: Debian package sip-tester)"
	done
	if [[ -z ${HOTLINE_BIN:-} ]]; then
		HOTLINE_BIN=$OUT/hotline
		log "building $HOTLINE_BIN"
		(cd "$ROOT" && go build -o "$HOTLINE_BIN" ./cmd/hotline) || die "go build failed"
	fi
	machine_info >"$OUT/machine.txt"
	log "results in $OUT"
}

machine_info() {
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "kernel: $(uname -r)"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "sipp: $(sipp -v 2>&1 | grep -o 'v[0-9][0-9.]*' | head -1)"
	if command -v kamailio >/dev/null; then echo "kamailio: $(kamailio -v 2>&1 | head -1 | awk '{print $3}')"; fi
	echo "go: $(go version 2>/dev/null | awk '{print $3}')"
	echo "engine commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
}

track_pid() { _PIDS+=("$1"); }

# nap SECONDS: sleep that a signal interrupts (bash runs traps only between commands).
nap() {
	sleep "$1" &
	wait $! || true
}

# stop_pid PID: SIGTERM, then SIGKILL after 5 s; only this process.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
	local i
	for ((i = ${#_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${_PIDS[i]}"; done
	_PIDS=()
}

# free_port: a port free for both UDP and TCP on 127.0.0.1 (the kernel picks it).
free_port() {
	python3 - <<'EOF'
import socket
for _ in range(50):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        u.close(); continue
    t.close(); u.close()
    print(port); break
EOF
}

# free_port_pair: an even port P with P and P+2 free for UDP (SIPp's -mp binds both).
free_port_pair() {
	python3 - <<'EOF'
import socket
for _ in range(200):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    p = a.getsockname()[1]
    if p % 2 or p + 2 > 65535:
        a.close(); continue
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b.bind(("127.0.0.1", p + 2))
    except OSError:
        a.close(); continue
    a.close(); b.close()
    print(p); break
EOF
}

# write_hotline_config FILE [RTP_TIMEOUT]: the load configuration (warn logs, a wide
# RTP port range below the kernel's ephemeral range, no call limit in the way).
write_hotline_config() {
	cat >"$1" <<EOF
log: {level: warn}
sip: {max_calls: 20000}
media: {port_min: 10000, port_max: 31998, rtp_timeout: ${2:-600s}}
EOF
}

# start_hotline DIR: start the engine with DIR/hotline.yaml (written if missing) and
# data in DIR/data; sets HL_PID, HL_SIP (host:port), HL_HTTP (http://host:port).
start_hotline() {
	local dir=$1 i
	mkdir -p "$dir"
	[[ -f $dir/hotline.yaml ]] || write_hotline_config "$dir/hotline.yaml"
	rm -rf "$dir/data"
	"$HOTLINE_BIN" --sip 127.0.0.1:0 --http 127.0.0.1:0 --data "$dir/data" \
		--config "$dir/hotline.yaml" >"$dir/hotline.out" 2>"$dir/hotline.err" &
	HL_PID=$!
	track_pid "$HL_PID"
	for i in $(seq 100); do
		HL_SIP=$(awk '$1 == "sip" && $2 == "udp" {print $3; exit}' "$dir/hotline.out")
		HL_HTTP=$(awk '$1 == "http" {print $2; exit}' "$dir/hotline.out")
		[[ -n $HL_SIP && -n $HL_HTTP ]] && break
		kill -0 "$HL_PID" 2>/dev/null || die "hotline exited: $(tail -5 "$dir/hotline.err")"
		sleep 0.1
	done
	[[ -n $HL_SIP && -n $HL_HTTP ]] || die "hotline did not print its addresses"
	curl -fsS "$HL_HTTP/healthz" >/dev/null || die "hotline /healthz failed"
}

# start_kamailio DIR: the anchor. A SIPp UAS and the Kamailio stateful proxy
# (bench/kamailio-proxy.cfg with the ports filled in); sets KAM_PID, KAM_ADDR, UAS_PID.
start_kamailio() {
	local dir=$1 kport uport ump i
	mkdir -p "$dir/run"
	kport=$(free_port)
	uport=$(free_port)
	ump=$(free_port_pair)
	sed -e "s/@KAM_PORT@/$kport/g" -e "s/@UAS_PORT@/$uport/g" \
		"$BENCH_DIR/kamailio-proxy.cfg" >"$dir/kamailio.cfg"
	(cd "$dir" && exec sipp -sn uas -i 127.0.0.1 -p "$uport" -mp "$ump" -nostdin -default_behaviors all,-abortunexp -trace_err -error_file "$dir/uas-errors.log" \
		-buff_size 4194304 >"$dir/uas.out" 2>&1) &
	UAS_PID=$!
	track_pid "$UAS_PID"
	kamailio -f "$dir/kamailio.cfg" -P "$dir/run/kam.pid" -Y "$dir/run" -m 4096 -M 32 \
		-DD -E >"$dir/kamailio.err" 2>&1 &
	KAM_PID=$!
	track_pid "$KAM_PID"
	KAM_ADDR=127.0.0.1:$kport
	for i in $(seq 50); do
		ss -Hlun "sport = :$kport" 2>/dev/null | grep -q . && ss -Hlun "sport = :$uport" | grep -q . && return 0
		kill -0 "$KAM_PID" 2>/dev/null || die "kamailio exited: $(tail -5 "$dir/kamailio.err")"
		sleep 0.1
	done
	die "kamailio or the SIPp UAS did not bind"
}

# proc_cpu_ticks PID...: utime+stime (clock ticks) summed over the processes.
proc_cpu_ticks() {
	local pid sum=0 v
	for pid in "$@"; do
		v=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# tree_pids PID: PID and its children (Kamailio's workers).
tree_pids() { echo "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); }

# rss_kb PID: VmRSS in KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# metric URL NAME[{labels}]: the value of one sample line of /metrics.
metric() {
	curl -fsS "$1/metrics" | awk -v n="$2" '$1 == n {print $2; found=1; exit} END {if (!found) print 0}'
}

# sipp_summary CSV: from SIPp's -trace_stat file (last line), prints
#   created successful failed fail_pct
sipp_summary() {
	awk -F';' 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
		{last = $0}
		END {
			n = split(last, f, ";")
			c = f[col["TotalCallCreated"]]; s = f[col["SuccessfulCall(C)"]]
			fail = c - s; pct = (c > 0) ? 100 * fail / c : 100
			printf "%d %d %d %.4f\n", c, s, fail, pct
		}' "$1"
}

# sipp_creation_secs CSV TOTAL: seconds from the start until TOTAL calls were created
# at the rate seen up to the last row (-fd 1: one a second) before all were created;
# the offered rate actually achieved is TOTAL / this.
sipp_creation_secs() {
	awk -F';' -v total="$2" 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
		{
			n = split($col["StartTime"], st, "\t"); n2 = split($col["CurrentTime"], ct, "\t")
			secs = ct[n2] - st[n] # epoch seconds with microseconds (ElapsedTime is whole seconds)
			c = $col["TotalCallCreated"] + 0
			if (c >= total + 0) {
				if (pc > 0) secs = ps * total / pc # at the rate seen while creating
				print secs; found = 1; exit
			}
			ps = secs; pc = c
		}
		END {if (!found) print ps}' "$1"
}

# median: of the numbers on stdin, one a line.
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
