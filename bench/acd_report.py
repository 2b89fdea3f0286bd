#!/usr/bin/env python3
"""bench/acd_report.py: the reconciliation and estimate report of bench/acd.sh.

    acd_report.py DIR

DIR holds what bench/acd.sh collected: events.journal (the engine's journal, format in
docs/journal.md), queues.json, agents.json, metrics.txt, caller.csv and agents.csv
(SIPp -trace_stat), expected.txt (key=value: calls, agents). Prints a report and exits 1
when a check fails (a call lost or a counter that does not reconcile).
"""
import json
import struct
import sys

MAGIC = b"HLJRNL01"


def _crc32c_table():
    poly = 0x82F63B78
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


_T = _crc32c_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def read_journal(path):
    """Yields the events; stops at a torn tail, counts CRC mismatches."""
    data = open(path, "rb").read()
    if data[:8] != MAGIC:
        raise SystemExit(f"{path}: not a journal (header {data[:8]!r})")
    off, bad = 8, 0
    events = []
    while off + 8 <= len(data):
        n, crc = struct.unpack(">II", data[off:off + 8])
        payload = data[off + 8:off + 8 + n]
        if len(payload) < n:
            break
        if crc32c(payload) != crc:
            bad += 1
        events.append(json.loads(payload))
        off += 8 + n
    return events, bad, len(data) - off


def sipp_last(path):
    rows = [l.rstrip("\n").split(";") for l in open(path) if l.strip()]
    head, last = rows[0], rows[-1]
    return dict(zip(head, last))


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def main():
    d = sys.argv[1]
    exp = dict(l.strip().split("=", 1) for l in open(f"{d}/expected.txt") if "=" in l)
    calls = int(exp["calls"])
    ok = True

    def check(name, cond, detail):
        nonlocal ok
        ok &= bool(cond)
        print(f"  [{'ok' if cond else 'FAIL'}] {name}: {detail}")

    caller = sipp_last(f"{d}/caller.csv")
    agents_sipp = sipp_last(f"{d}/agents.csv")
    c_created, c_ok, c_fail = int(caller["TotalCallCreated"]), int(caller["SuccessfulCall(C)"]), int(caller["FailedCall(C)"])
    a_created, a_ok, a_fail = int(agents_sipp["TotalCallCreated"]), int(agents_sipp["SuccessfulCall(C)"]), int(agents_sipp["FailedCall(C)"])
    queues = {q["name"]: q for q in json.load(open(f"{d}/queues.json"))["queues"]}
    ags = json.load(open(f"{d}/agents.json"))["agents"]
    metrics = {}
    for line in open(f"{d}/metrics.txt"):
        if line.startswith("hotline_calls_total{") or line.startswith("hotline_calls_active "):
            k, v = line.rsplit(" ", 1)
            metrics[k] = float(v)
    g = queues["general"]
    q_offered = sum(q["offered"] for q in queues.values())
    q_answered = sum(q["answered"] for q in queues.values())
    q_abandoned = sum(q["abandoned"] for q in queues.values())
    q_waiting = sum(q["waiting"] for q in queues.values())
    bench_agents = [a for a in ags if a["id"] in set(exp["agent_ids"].split(","))]
    agent_calls = sum(a["calls"] for a in ags)
    missed = sum(a["missed"] for a in ags)
    rejected = sum(a["rejected"] for a in ags)
    busy = sum(1 for a in ags if a["state"] not in ("ready", "logged-out", "not-ready"))

    print("SIPp")
    print(f"  callers: created {c_created}, successful {c_ok}, failed {c_fail} (asked {calls})")
    print(f"  agents' phones: calls received {a_created}, successful {a_ok}, failed {a_fail}")
    print("Engine")
    print(f"  queues: offered {q_offered}, answered {q_answered}, abandoned {q_abandoned}, waiting {q_waiting} "
          f"(general: offered {g['offered']}, answered {g['answered']}, in target {g['answered_in_target']}, "
          f"overflowed {g['overflowed']}, exited {g['exited']}, service level {g['service_level']}, "
          f"average answer {g['average_answer_seconds']:.2f} s)")
    print(f"  agents: {len(bench_agents)} bench seats, calls {agent_calls} (min {min(a['calls'] for a in bench_agents)}, "
          f"max {max(a['calls'] for a in bench_agents)} per seat), missed {missed}, rejected {rejected}, "
          f"not idle at the end {busy}, states {json.load(open(f'{d}/agents.json'))['by_state']}")
    print("  metrics: " + ", ".join(f"{k} {v:g}" for k, v in sorted(metrics.items())))
    print("Checks (no call lost, counters reconcile)")
    check("SIPp created every call", c_created == calls, f"{c_created} of {calls}")
    check("every caller call succeeded", c_ok == c_created and c_fail == 0, f"{c_ok} successful, {c_fail} failed")
    check("every agent call succeeded", a_ok == a_created and a_fail == 0, f"{a_ok} successful, {a_fail} failed")
    check("each call reached exactly one agent", a_created == c_created, f"{a_created} agent calls for {c_created} callers")
    check("queues offered = calls", q_offered == c_created, f"{q_offered}")
    check("queues answered = calls", q_answered == c_created, f"{q_answered}")
    check("nobody abandoned, nobody waiting", q_abandoned == 0 and q_waiting == 0, f"abandoned {q_abandoned}, waiting {q_waiting}")
    check("agents' calls sum to answered", agent_calls == q_answered, f"{agent_calls}")
    check("no missed or rejected offers", missed == 0 and rejected == 0, f"missed {missed}, rejected {rejected}")
    total_ended = sum(v for k, v in metrics.items() if k.startswith("hotline_calls_total{"))
    check("hotline_calls_total sums to calls", total_ended == c_created, f"{total_ended:g}")
    check("no call still active", metrics.get("hotline_calls_active", 0) == 0, f"{metrics.get('hotline_calls_active', 0):g}")

    events, bad, tail = read_journal(f"{d}/events.journal")
    check("journal CRCs", bad == 0 and tail == 0, f"{len(events)} records, {bad} bad CRC, {tail} trailing bytes")
    joined, left = {}, {}
    types = {}
    for e in events:
        types[e["type"]] = types.get(e["type"], 0) + 1
        if e["type"] == "queue.joined":
            joined[e["call"]] = e
        elif e["type"] == "queue.left":
            left[e["call"]] = e
    check("journal: queue.joined = queue.left = calls", len(joined) == len(left) == c_created,
          f"joined {len(joined)}, left {len(left)}")
    reasons = {}
    for e in left.values():
        reasons[e.get("reason")] = reasons.get(e.get("reason"), 0) + 1
    print(f"  journal queue.left reasons: {reasons}")
    print(f"  journal event types: {dict(sorted(types.items()))}")

    # The estimate: predicted on joining vs the wait that followed (answered calls).
    pairs = []
    for cid, j in joined.items():
        l = left.get(cid)
        if l is None or l.get("reason") != "answered":
            continue
        pairs.append((j.get("estimate", 0) / 1e9, l.get("duration", 0) / 1e9))
    waits = [w for _, w in pairs]
    errs = [e - w for e, w in pairs]
    abs_errs = [abs(x) for x in errs]
    waited = [(e, w) for e, w in pairs if w >= 1.0]
    print("Estimated wait time (estimate on queue.joined vs duration on queue.left, answered calls)")
    if pairs:
        print(f"  calls {len(pairs)}; actual wait mean {sum(waits)/len(waits):.2f} s, p50 {pct(waits,50):.2f}, "
              f"p90 {pct(waits,90):.2f}, max {max(waits):.2f}; calls that waited >= 1 s: {len(waited)}")
        ests = [e for e, _ in pairs]
        print(f"  estimate mean {sum(ests)/len(ests):.2f} s, max {max(ests):.2f}")
        print(f"  error (estimate - actual): mean (bias) {sum(errs)/len(errs):+.2f} s, mean absolute {sum(abs_errs)/len(abs_errs):.2f} s, "
              f"p50 |err| {pct(abs_errs,50):.2f}, p90 |err| {pct(abs_errs,90):.2f}, max |err| {max(abs_errs):.2f}")
        if waited:
            we = [e - w for e, w in waited]
            rel = [abs(e - w) / w for e, w in waited]
            print(f"  calls that waited >= 1 s: bias {sum(we)/len(we):+.2f} s, mean absolute {sum(abs(x) for x in we)/len(we):.2f} s, "
                  f"median relative |err| {100*pct(rel,50):.0f}%, within 30% or 10 s: "
                  f"{100*sum(1 for e, w in waited if abs(e-w) <= max(10, 0.3*w))/len(waited):.0f}%")
        with open(f"{d}/estimates.tsv", "w") as f:
            f.write("estimate_s\twait_s\n")
            for e, w in pairs:
                f.write(f"{e:.3f}\t{w:.3f}\n")
    print("RESULT: " + ("PASS (no call lost, counters reconcile)" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
