#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Callback calls per second: the Python backend (events.py) against a
# native C plugin, in the same run. Both make the same decision (approve
# unless tcp/22):  tests/host/python/bench.py  <->  tests/host/python/bench_plugin.c
#
# 1. Through jazzd's dispatcher (tests/host/python/cbbench.c links
#    userspace/jazzd/policy/callbacks.c): the worker pool, the pipe back to the
#    libevent loop and the per-call timer, as the daemon calls them.
# 2. The backend call alone (tests/host/python/pydrive.c bench): N
#    peer_connection calls from worker threads, no dispatcher. The C plugin
#    gets 20x the calls there (it is that much faster) so that its time is
#    not lost in thread start-up.
#
# Each figure is the median of three runs, C and Python interleaved.
# Usage: scripts/bench-callbacks.sh [CALLS]   (default 100000)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$ROOT/build}
N=${1:-100000}

"$ROOT/tests/host/python/build.sh" "$B"
export PYDRIVE_QUIET=1
PY=$ROOT/tests/host/python/bench.py
SO=$B/tests/bench_plugin.so
num() { sed -n 's/.*calls_per_s=\([0-9]*\).*/\1/p'; }
# median of three runs, C and Python interleaved so both see the same load
med() { sort -n | sed -n 2p; }
ratio() { awk -v p="$1" -v c="$2" 'BEGIN { printf "%.3f", p / c }'; }

echo "# bench-callbacks: peer_connection, $N calls per measurement, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo "# Python $(/usr/bin/python3 -c 'import sys; print(sys.version.split()[0])') embedded (Debian libpython3.11)"
echo
echo "## through jazzd's dispatcher (4 worker threads)"
printf "%-10s %12s %12s %8s\n" in-flight "C plugin/s" "Python/s" "Py/C"
for k in 1 16; do
	cs=() ps=()
	for r in 1 2 3; do
		cs+=("$(nice "$B/tests/cbbench" plugin "$SO" "$N" $k 4 | num)")
		ps+=("$(nice "$B/tests/cbbench" python "$PY" "$N" $k 4 | num)")
	done
	c=$(printf '%s\n' "${cs[@]}" | med) p=$(printf '%s\n' "${ps[@]}" | med)
	printf "%-10s %12s %12s %8s\n" $k "$c" "$p" "$(ratio "$p" "$c")"
done
echo
echo "## the backend call alone"
printf "%-10s %12s %12s %8s\n" threads "C plugin/s" "Python/s" "Py/C"
for t in 1 2; do
	cs=() ps=()
	for r in 1 2 3; do
		cs+=("$(nice "$B/tests/pydrive" plugin "$SO" bench $((N * 20)) $t | num)")
		ps+=("$(nice "$B/tests/pydrive" load "$PY" bench "$N" $t | num)")
	done
	c=$(printf '%s\n' "${cs[@]}" | med) p=$(printf '%s\n' "${ps[@]}" | med)
	printf "%-10s %12s %12s %8s\n" $t "$c" "$p" "$(ratio "$p" "$c")"
done
echo
s=$(nice "$B/tests/pydrive" load "$ROOT/examples/events.py" bench "$((N / 4))" 1 2>/dev/null | num)
echo "# examples/events.py alone (str() of the dict + jazz.log on every call, lines dropped below the log level): $s calls/s, 1 thread"
