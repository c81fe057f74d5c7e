#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 18, callbacks under load: 300 devices of alice join at once (jzsim,
# one process, real TLS and Kerberos logins) against a server whose
# peer_filter (tests/scale/slowfilter.c) takes 10 ms a call, with the
# callback timeout at 500 ms; one review of at least 20 peers stalls
# 1.2 s (a real timeout). Every device must end up seeing every other one
# (checked id by id), the stalled call must be retried and reported as a
# peer-filter-failed event on Redis, and the burst's queue must not turn
# into timeouts of its own. TAP.
set -u
. "$(dirname "$0")/../scale/lib.sh"
JAZZD=${JAZZD_BIN:-$JAZZD}	# JAZZD_BIN=/path/jazzd: test another build
NDEV=${SCALE_BURST_N:-300}

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_tools() { build_jzsim && build_slowfilter; }
check "jzsim and slowfilter build" build_tools
scale_redis peer-filter-failed
scale_slowfilter_conf 500
export JZT_FILTER_MS=10 JZT_STALL=$T/stall JZT_STALL_MS=1200 JZT_STALL_MIN=20
touch "$T/stall"
cp_start server
check "server starts with the slow peer_filter" wait_for "$T/server.log" "server listening" 10

jzsim -P "$NDEV" -T 170 "$NDEV" > "$T/sim.out" 2> "$T/sim.err"
check "every one of $NDEV devices sees every other one (id by id)" test $? = 0
sed 's/^/# sim: /' "$T/sim.out" | head -8
check "the stalled review happened" test ! -e "$T/stall"
check "the stalled call timed out once" \
	test "$(count "$T/server.log" "callback peer_filter .* timed out")" = 1
n=$(count "$T/server.log" "callback peer_filter .*(timed out|waited)")
echo "# peer_filter timeouts in the server log: $n"
check "the failed review was asked again" \
	wait_for "$T/server.log" "peer_filter for alice@.* failed \(attempt 1.*asking again" 2
check "peer-filter-failed on module/scale/event/peer-filter-failed" \
	wait_for "$T/rec" '^module/scale/event/peer-filter-failed$' 5
j=$(grep -A1 '^module/scale/event/peer-filter-failed$' "$T/rec" | tail -1)
echo "# peer-filter-failed $j"
check "its payload names the viewer, the attempt and the retry" /usr/bin/python3 -c "
import json, sys
e = json.loads(sys.argv[1])
assert e['user'] == 'alice' and e['device'].startswith('sim-') and e['attempt'] == 1, e
assert e['retry'] is True and e['peers'] >= 20 and e['retry_in_ms'] > 0, e
" "$j" 2>/dev/null
check "no review gave up (no peers left hidden)" \
	bash -c "! grep -q 'failed: hiding every peer' '$T/server.log'"
cp_done
