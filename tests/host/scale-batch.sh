#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# peer_filter in batches (issue 18): the viewers already online are asked
# about newcomers in batches, one callback job for many viewers, each
# viewer still its own call of the plugin's peer_filter (the seed's
# signature). jzsim devices (real TLS and Kerberos logins) against a real
# jazzd server with tests/scale/slowfilter.so:
#   - a fast filter: batches grow to 64 viewers a call, and every device
#     still gets every other one (checked id by id by jzsim), also the
#     devices joining one at a time after the ramp;
#   - a filter that turns slow (30 ms a review, timeout_ms 200) with 100
#     devices online: the next join's batch (8 to 64 viewers, 0.24 to
#     1.9 s) times out; its viewers are asked again one by one, the batch size falls to
#     what fits a quarter of the timeout, no review gives up and the new
#     devices' lists are complete: a slow callback makes smaller batches,
#     never hidden peers.
# About 40 s.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_tools() { build_jzsim && build_slowfilter; }
check "jzsim and slowfilter build" build_tools

serve() { # NAME TIMEOUT_MS: a server with the slow filter, log $T/NAME.log
	cp_server_conf "[server]" "max_sessions = 1000" "${SCALE_LIMITS[@]}"
	sed -i -e "s|^plugin = .*|plugin = $SLOWFILTER|" -e "s/^timeout_ms = .*/timeout_ms = $2/" \
		-e 's/^handshake_timeout = .*/handshake_timeout = 30/' \
		-e 's/^login_timeout = .*/login_timeout = 60/' "$T/server.conf"
	cp "$T/server.conf" "$T/$1.conf"
	cp_start "$1"
	wait_for "$T/$1.log" "server listening" 10
}

# ---- a fast filter: big batches ---------------------------------------
export JZT_FILTER_MS=0
check "server starts (filter takes no time)" serve fast 1500
jzsim -P 150 -j 2 -T 120 150 >"$T/fast.out" 2>"$T/fast.err"
check "150 devices, then 2 joining one at a time: every list complete, id by id" test $? = 0
sed 's/^/# fast: /' "$T/fast.out" | head -6
check "the viewers were asked in batches of 64" grep -q "viewers in batches of 64" "$T/fast.log"
check "no peer_filter call failed" bash -c "! grep -q 'peer_filter .*failed\|callback peer_filter' '$T/fast.log'"
cp_stop fast

# ---- a filter that turns slow: a batch times out, smaller batches follow
export JZT_FILTER_MS=0 JZT_SLOW=$T/slow JZT_SLOW_MS=30
PORT=$(free_port)
check "server starts (timeout_ms 200)" serve slow 200
jzsim -P 100 -H 60 -T 120 100 >"$T/slow-a.out" 2>"$T/slow-a.err" &
SIMA=$!
PIDS+=($SIMA)
check "100 devices online with complete lists" wait_for "$T/slow-a.out" "^complete " 60
# 64 once a batch has shown the filter's speed, 8 before (a ramp whose
# computations all had only newcomers never batched)
check "batches of 8 or more while the filter is fast" \
	grep -Eq "viewers in batches of ([89]|[1-6][0-9])$" "$T/slow.log"
touch "$T/slow"	# from now on 30 ms a review: a batch of 8 takes 240 ms, of 64 1.9 s
jzsim -d late -x 100 -P 1 -j 1 -T 60 1 >"$T/slow-b.out" 2>"$T/slow-b.err"
check "two more devices, one at a time: their lists complete (all 101 others), id by id" test $? = 0
sed 's/^/# slow: /' "$T/slow-b.out" | head -4
n=$(count "$T/slow.log" "callback peer_filter .* timed out")
echo "# peer_filter timeouts: $n"
check "a batch of viewers timed out" test "$n" -ge 1
check "its viewers were asked again one by one (attempt 1, in a batch)" \
	grep -q "peer_filter for alice@.* failed (attempt 1, .* peers, in a batch): asking again" "$T/slow.log"
check "later batches fit the timeout (batches of 1 at 30 ms a review)" \
	grep -q "viewers in batches of 1$" "$T/slow.log"
check "no review gave up (no peers left hidden)" \
	bash -c "! grep -q 'failed: hiding every peer' '$T/slow.log'"
check "the server still runs" kill -0 "$(cp_pid slow)"
kill "$SIMA" 2>/dev/null
cp_done
