#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Peer computations paced by their own cost (issue 18): a computation
# costs the server's loop O(viewers) (a delta each) whatever the number of
# newcomers, so when changes came in while one ran (a burst) the next one
# waits at least twice its loop CPU time and the newcomers meanwhile share
# it (fewer, larger deltas; the loop's time goes to the logins); a join on
# a quiet server is not delayed. A real jazzd server with
# the sample plugin (everyone sees everyone) and peer_debounce_ms = 1, 400
# jzsim devices (real TLS and Kerberos logins, 16 at a time: logins keep
# coming while computations run), then 3 joining
# one at a time: every list complete (id by id), the server says how long
# each computation took and when the next may start, and no computation
# starts before that; the joins one at a time after the burst are not
# paced. Before the change computations followed each other
# peer_debounce_ms apart whatever they cost.
# About 40 s.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
check "jzsim builds" build_jzsim

cp_server_conf "[server]" "max_sessions = 1000" "${SCALE_LIMITS[@]}"
sed -i -e 's/^peer_debounce_ms = .*/peer_debounce_ms = 1/' \
	-e 's/^handshake_timeout = .*/handshake_timeout = 30/' \
	-e 's/^login_timeout = .*/login_timeout = 60/' "$T/server.conf"
cp_start server
check "server starts (peer_debounce_ms 1)" wait_for "$T/server.log" "server listening" 10

jzsim -P 16 -j 3 -T 120 400 >"$T/sim.out" 2>"$T/sim.err"
check "400 devices (16 logins in flight), then 3 one at a time: every list complete, id by id" test $? = 0
sed 's/^/# /' "$T/sim.out" | head -6

paced=$(count "$T/server.log" "peers: the computation took [0-9]+ ms of the loop.s CPU and more changes wait: the next in [0-9]+ ms")
comps=$(count "$T/server.log" "peers: [0-9]+ online, [0-9]+ new")
echo "# $comps computations, $paced of them followed by a paced one"
check "the server paces computations by their cost during the ramp" test "$paced" -ge 1
# every "next in Y ms" said at time t is kept: the next computation starts
# at t + Y or later; 5 ms of slack: libevent's timers run on
# CLOCK_MONOTONIC_COARSE (a kernel tick, 4 ms here), the log on the
# precise clock
early=$(awk '
	function ms(t,  a) { split(t, a, ":"); return ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }
	/peers: the computation took [0-9]+ ms of the loop.s CPU and more changes wait: the next in/ {
		for (i = 1; i <= NF; i++) if ($i == "in") y = $(i + 1)
		due = ms($1) + y; pending = 1; next
	}
	/peers: [0-9]+ online, [0-9]+ new/ {
		if (pending && ms($1) + 5 < due) { bad++; print "# early: " $0 > "/dev/stderr" }
		pending = 0
	}
	END { print bad + 0 }' "$T/server.log")
check "no computation started before the pace allowed" test "$early" = 0
check "the server still runs" kill -0 "$(cp_pid server)"
cp_done
