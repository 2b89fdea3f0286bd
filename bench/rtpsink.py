#!/usr/bin/env python3
"""bench/rtpsink.py: count the RTP that reaches one UDP port, per SSRC (one SSRC = one call).

    rtpsink.py PORT SECONDS OUT.json

Binds 127.0.0.1:PORT, reads for SECONDS, then writes a JSON summary: per SSRC the packets
received, the packets per second, the payload types seen, sequence gaps; and over all
streams the inter-arrival deviation |arrival gap - 20 ms| (p50, p99, max), which is what a
phone's jitter buffer sees. The concurrent-calls benchmark points a sample of its calls'
SDP at this port; the rest go to SIPp's media port, which nobody reads.
"""
import json
import socket
import struct
import sys
import time


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, int(round(q * (len(sorted_vals) - 1))))
    return sorted_vals[i]


def main():
    port, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.2)
    streams = {}
    devs = []
    buf = bytearray(2048)
    start = time.monotonic()
    end = start + secs
    while True:
        now = time.monotonic()
        if now >= end:
            break
        try:
            n = sock.recv_into(buf)
        except socket.timeout:
            continue
        t = time.monotonic()
        if n < 12 or buf[0] >> 6 != 2:
            continue
        pt = buf[1] & 0x7F
        seq, = struct.unpack_from("!H", buf, 2)
        ssrc, = struct.unpack_from("!I", buf, 8)
        s = streams.get(ssrc)
        if s is None:
            streams[ssrc] = {"packets": 1, "first": t, "last": t, "seq": seq, "gaps": 0, "pts": {pt}}
            continue
        s["packets"] += 1
        devs.append(abs((t - s["last"]) - 0.020))
        if (seq - s["seq"]) & 0xFFFF != 1:
            s["gaps"] += 1
        s["seq"], s["last"] = seq, t
        s["pts"].add(pt)
    devs.sort()
    per = []
    for ssrc, s in streams.items():
        span = s["last"] - s["first"]
        per.append({
            "ssrc": ssrc, "packets": s["packets"], "gaps": s["gaps"], "payload_types": sorted(s["pts"]),
            "pps": (s["packets"] - 1) / span if span > 0 else 0.0,
        })
    pps = sorted(p["pps"] for p in per)
    summary = {
        "seconds": secs, "streams": len(per),
        "packets": sum(p["packets"] for p in per),
        "pps_min": pps[0] if pps else 0, "pps_median": pct(pps, 0.5) if pps else 0,
        "seq_gaps": sum(p["gaps"] for p in per),
        "arrival_dev_ms_p50": (pct(devs, 0.5) or 0) * 1e3,
        "arrival_dev_ms_p99": (pct(devs, 0.99) or 0) * 1e3,
        "arrival_dev_ms_max": (devs[-1] if devs else 0) * 1e3,
        "per_stream": per,
    }
    with open(out, "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
