#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 18: when the workers really are stuck, a peer_filter call held for
# one still fails (scale-filterqueue.sh: while they make progress it
# waits). slowfilter's calls take 20 s while $T/slow exists (timeout_ms
# 300, 3 workers: both of peer_filter's are stuck in abandoned calls), 6
# devices join at once:
#   - the two running reviews time out after 300 ms (abandoned);
#   - the held ones fail after 20 x timeout_ms (6 s) with no call back
#     meanwhile ("none came back"), each is asked again whole ("no worker
#     free") and reported: peer-filter-failed events on Redis;
#   - with hold_logins_at 2 the server stops accepting while calls wait,
#     but accepts again once it sees the workers stuck (holding logins
#     would stop them for nothing): a 7th device logs in meanwhile;
#   - once the file is gone and the stuck calls return, every device ends
#     up seeing every other one (nothing hidden for good).
# About 45 s. The 6 logins must come within those 6 s for the hold to be
# seen (with 2 s, at load 8 they did not: the workers counted as stuck first).
set -u
. "$(dirname "$0")/../scale/lib.sh"
JAZZD=${JAZZD_BIN:-$JAZZD}

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_tools() { build_jzsim && build_slowfilter; }
check "jzsim and slowfilter build" build_tools
scale_redis peer-filter-failed
scale_slowfilter_conf 300 "threads = 3" "hold_logins_at = 2"
export JZT_FILTER_MS=0 JZT_SLOW=$T/slow JZT_SLOW_MS=20000
touch "$T/slow"
cp_start server
check "server starts (peer_filter stuck 20 s a call, timeout_ms 300, 3 workers)" \
	wait_for "$T/server.log" "server listening" 10 || { tail -5 "$T/server.log"; cp_done; exit; }

jzsim -P 6 -T 60 6 > "$T/sim.out" 2> "$T/sim.err" &
SIM=$!
check "held calls fail when no call came back for 6 s" \
	wait_for "$T/server.log" "callback peer_filter .* waited 6000 ms for a worker and none came back" 30
check "the server held logins while calls waited" \
	grep -q "peer_filter calls wait for a worker: not accepting" "$T/server.log"
check "... and accepts again, the workers being stuck" \
	wait_for "$T/server.log" "accepting again \(none came back .*the workers are stuck\)" 5
jzsim -d late -P 1 -T 4 1 > "$T/late.out" 2>&1
check "a device logs in while the workers are still stuck" grep -q "^online 1 " "$T/late.out"
rm -f "$T/slow"
check "... and each is asked again whole" \
	wait_for "$T/server.log" "peer_filter for alice@.* failed \(attempt [0-9]+, [0-9]+ peers, no worker free\): asking again" 15
wait "$SIM"
check "every one of 6 devices sees every other one in the end (id by id)" test $? = 0
sed 's/^/# sim: /' "$T/sim.out" | head -3
check "the running calls timed out (abandoned) too" \
	grep -Eq "callback peer_filter .* timed out after 300 ms" "$T/server.log"
check "peer-filter-failed events on Redis" \
	wait_for "$T/rec" '^module/scale/event/peer-filter-failed$' 5
grep -A1 '^module/scale/event/peer-filter-failed$' "$T/rec" | grep '^{' > "$T/events"
echo "# peer-filter-failed events: $(wc -l < "$T/events"); the first: $(head -1 "$T/events")"
check "the events name the viewer, and the first failures say a retry comes" /usr/bin/python3 -c "
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert all(e['user'] == 'alice' and e['device'].startswith('sim-') for e in ev), ev
assert any(e['retry'] is True and e['retry_in_ms'] > 0 for e in ev), ev
" "$T/events"
check "the server still runs" kill -0 "$(cp_pid server)"
cp_done
