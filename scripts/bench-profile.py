#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Per-packet cost by stage from tests/vm/bench-tunnels.sh's BENCH_PERF
output: perf.tsv (label, test, packets the far end received, bit/s, busy
guest CPU µs) and trace-<label>-<test>.txt (ftrace function_graph of each
stage's entry function). Prints markdown: busy CPU µs per packet, and per
stage the summed exclusive duration of its function (µs per packet; a
stage that runs inside another, e.g. a softirq in a worker, is taken out
of the outer one).

    scripts/bench-profile.py out/bench/<kver>
"""
import os
import re
import sys

STAGES = [  # (stage, jazz function, WireGuard function)
    ("xmit: lookup, segment, queue", "jazz_xmit", "wg_xmit"),
    ("encrypt", "jazz_tx_crypt", "wg_packet_encrypt_worker"),
    ("send: UDP/IP out", "jazz_tx_done", "wg_packet_tx_worker"),
    # The UDP layer cutting a GSO packet into datagrams (a clone and a
    # copy each): on the receiver in front of encap_rcv, or on the sender
    # before a device without UDP segmentation offload (issue 19).
    ("UDP GSO cut by the stack", "__udp_gso_segment", "__udp_gso_segment"),
    ("receive: UDP encap, queue", "jazz_udp_recv", "wg_packet_receive"),
    ("decrypt", "jazz_rx_crypt", "wg_packet_decrypt_worker"),
    ("deliver: replay, checks, GRO", "jazz_rx_done", "wg_packet_rx_poll"),
]
LINE = re.compile(r"^\s*(\d+)\)\s+(?:[-+!#*@$]\s*)?(?:([\d.]+)\s*us)?\s*\|\s*(.*)$")


def exclusive(path):
    """Summed exclusive µs and calls of each traced function."""
    tot, calls, stack = {}, {}, {}
    for ln in open(path, errors="replace"):
        m = LINE.match(ln)
        if not m:
            continue
        cpu, dur, body = m.group(1), m.group(2), m.group(3).strip()
        st = stack.setdefault(cpu, [])
        if body.endswith("();") and dur:
            fn, d = body[:-3].split(" [")[0], float(dur)
            tot[fn] = tot.get(fn, 0.0) + d
            calls[fn] = calls.get(fn, 0) + 1
            if st:
                st[-1][1] += d
        elif body.endswith("{"):
            st.append([body.split("(")[0].split(" [")[0], 0.0])
        elif body.startswith("}") and dur and st:
            fn, child = st.pop()
            d = float(dur)
            tot[fn] = tot.get(fn, 0.0) + d - child
            calls[fn] = calls.get(fn, 0) + 1
            if st:
                st[-1][1] += d
    return tot, calls


def main(d):
    rows = [ln.rstrip("\n").split("\t")
            for ln in open(os.path.join(d, "perf.tsv")) if ln.strip()]
    print("µs per packet received at the far end (one run each; busy = "
          "the whole guest's non-idle CPU time):\n")
    print("| path | test | packets | Mbit/s | busy CPU | "
          + " | ".join(s for s, _, _ in STAGES) + " |")
    print("|---|---|---|---|---|" + "---|" * len(STAGES))
    for label, test, pk, bps, busy in rows:
        pk = int(pk)
        mbit = f"{int(bps) / 1e6:.1f}" if bps != "NA" else "NA"
        cells = []
        tf = os.path.join(d, f"trace-{label.replace('/', '-')}-{test}.txt")
        tot = {}
        if os.path.exists(tf):
            tot, _ = exclusive(tf)
        for _, jf, wf in STAGES:
            fn = wf if label == "wireguard" else jf
            v = tot.get(fn)
            cells.append(f"{v / pk:.1f}" if v is not None and pk else "-")
        b = f"{int(busy) / pk:.1f}" if pk else "-"
        print(f"| {label} | {test} | {pk} | {mbit} | {b} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
