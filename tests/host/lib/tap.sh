# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tests/host/lib/tap.sh - TAP helpers for host tests. Source it from bash:
#   ok DESC / not_ok DESC       print "ok N - DESC" / "not ok N - DESC"
#   check DESC CMD...           ok or not_ok by CMD's exit status
#   tap_done                    exit status: 0 when nothing failed
# Counting starts at $TAP_N (default 0), so that a test run in two processes
# (e.g. a part inside a namespace) can continue its numbering.
n=${TAP_N:-0}
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
tap_done() { [ "$fails" -eq 0 ]; }
