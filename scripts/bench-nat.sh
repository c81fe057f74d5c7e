#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# NAT traversal benchmark (issue 20): one VM run of tests/vm/bench-nat.sh
# (direct, punched and relayed paths between two devices behind nftables
# NATs: first ping to first reply, established round trip, TCP throughput
# and relayed/punched ratio). The VM holds every VM slot
# (JAZZ_VM_EXCLUSIVE=1 unless set) so no other VM runs beside it; the
# host's load average before and after is printed with the figures.
#
# Usage: scripts/bench-nat.sh [--kernel 6.1|6.12]   (default 6.12)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
K=6.12
[ "${1:-}" = --kernel ] && K=$2
OUT=$TOP/out/bench-nat-$K
export JAZZ_VM_EXCLUSIVE=${JAZZ_VM_EXCLUSIVE:-1}
echo "# scripts/bench-nat.sh --kernel $K; host load before: $(cut -d' ' -f1-3 /proc/loadavg)"
bash "$TOP/scripts/vm.sh" -q --kernel "$K" --out "$OUT" --each tests/vm/bench-nat.sh
rc=$?
grep -h "^# bench:" "$OUT"/results/bench-nat.sh.log 2>/dev/null
echo "# host load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
