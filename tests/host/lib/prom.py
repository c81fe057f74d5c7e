# SPDX-License-Identifier: GPL-2.0
"""Reads a Prometheus text page (stdin) with the reference parser
(python3-prometheus-client) and prints one sample a line, labels sorted:

    name{k="v",k2="v2"} value

Exits 1 (with the reason on stderr) if the page does not parse, a sample
repeats a label set, or a family lacks HELP. Used by the metrics tests.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
seen = set()
out = []
try:
    for fam in text_string_to_metric_families(text):
        if not fam.documentation:
            sys.exit("no HELP for " + fam.name)
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                sys.exit("repeated sample %s%s" % key)
            seen.add(key)
            lab = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"')
                                        .replace("\n", "\\n")) for k, v in key[1])
            v = s.value
            vs = str(int(v)) if v == v and abs(v) < 2 ** 53 and v == int(v) else repr(v)
            out.append("%s%s %s" % (s.name, "{%s}" % lab if lab else "", vs))
except ValueError as e:
    sys.exit("does not parse: %s" % e)
print("\n".join(out))
