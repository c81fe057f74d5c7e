#!/usr/bin/env python3
"""Inclusive wall time per function in a function_graph trace.

    scripts/bench-trace-sum.py TRACE [PACKETS]

TRACE is one of the trace-<path>-<test>.txt files that `scripts/bench.sh
--profile` saves (taken with funcgraph-tail, so a closing brace names its
function). Prints each traced function's calls and summed duration, and
that sum per packet when PACKETS (the profile's packet count) is given.
Inclusive: a traced function's time contains whatever ran inside it,
nested traced functions, softirqs and preemption included. For the
exclusive per-stage table, see scripts/bench-profile.py.
"""
import collections
import re
import sys

LINE = re.compile(r"\)\s+[-+!#*@$&]?\s*([0-9.]+) us\s+\|\s+(.*)$")
CLOSE = re.compile(r"\}\s*/\*\s*(\S+?)(?:\s*\[.*\])?\s*\*/")
LEAF = re.compile(r"(\S+?)(?:\s*\[.*\])?\(\);")


def main(path, packets):
    total, calls = collections.Counter(), collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            body = m.group(2).strip()
            n = CLOSE.match(body) or LEAF.match(body)
            if n:
                total[n.group(1)] += float(m.group(1))
                calls[n.group(1)] += 1
    for fn, us in total.most_common():
        print(f"{fn:32s} calls {calls[fn]:9d}  total {us:12.0f} us  per packet {us / packets:8.1f} us")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 1)
