#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Callback calls per second: the Python backend (events.py) against a
# native C plugin, in the same run, through the backend interface the
# dispatcher uses (tests/host/python/pydrive.c: N peer_connection calls
# from worker threads). Both make the same decision (approve unless tcp/22):
#   tests/host/python/bench.py  <->  tests/host/python/bench_plugin.c
# The C plugin gets 20x the calls (it is that much faster) so that its time
# is not lost in thread start-up. Usage: scripts/bench-callbacks.sh [CALLS] [THREADS...] (default 200000, 1 4)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$ROOT/build}
N=${1:-200000}
shift || true
THREADS=${*:-1 4}

"$ROOT/tests/host/python/build.sh" "$B"
D=$B/tests/pydrive
export PYDRIVE_QUIET=1

rate() { # backend-kind path threads -> calls/s
	nice "$D" "$1" "$2" bench "${N}" "$3" | sed -n 's/.*calls_per_s=\([0-9]*\).*/\1/p'
}

echo "# bench-callbacks: $N peer_connection calls per measurement, $(nproc) CPUs"
echo "# python: $(/usr/bin/python3 -c 'import sys; print(sys.version.split()[0])') embedded (Debian libpython)"
printf "%-8s %14s %14s %10s\n" threads "C plugin/s" "Python/s" "Py/C"
for t in $THREADS; do
	c=$(N=$((N * 20)) rate plugin "$B/tests/bench_plugin.so" "$t")
	p=$(rate load "$ROOT/tests/host/python/bench.py" "$t")
	printf "%-8s %14s %14s %10s\n" "$t" "$c" "$p" \
		"$(awk -v p="$p" -v c="$c" 'BEGIN { printf "%.3f", p / c }')"
done
# the seed's sample (it logs every call: bounded by the log, not Python)
s=$(PYDRIVE_QUIET=1 nice "$D" load "$ROOT/examples/events.py" bench "$((N / 10))" 1 2>/dev/null |
	sed -n 's/.*calls_per_s=\([0-9]*\).*/\1/p')
echo "# examples/events.py (jazz.log at LOG_INFO on every call, log level warning): $s calls/s, 1 thread"
