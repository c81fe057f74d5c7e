#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# peer_filter reviews that share their peers (issue 18, server/pfilter.c):
# a computation's newcomers each review everyone online, and their reviews
# now go in batches whose peers' entries are made once per computation; a
# plugin that defines peer_filter_many (jazz/events.h 4b; the sample
# plugin does) answers a batch in one call. jzsim's devices (real TLS and
# Kerberos logins) against a real jazzd with the sample plugin:
#   - 600 devices, then a server restart: the newcomers' full reviews went
#     in batches, every device is back with its complete list (checked id
#     by id), answered peers_unchanged, and no peer_filter call failed;
#   - a peer_filter_many that fails every call of many viewers
#     (JAZZ_SAMPLE_FILTER_FAIL): fail-closed as ever, the event
#     peer-filter-failed, each viewer asked again alone, answered, and
#     every list complete: a failing batch hides no peer for good.
# About 60 s.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
check "jzsim builds" build_jzsim
scale_redis peer-filter-failed
conf() { # $T/server.conf: the sample plugin, events on scale_redis's Redis
	cp_server_conf "[server]" "max_sessions = 2000" "${SCALE_LIMITS[@]}" \
		"[redis]" "address = unix:$SOCK" "[events]" "module_id = scale"
	sed -i -e 's/^handshake_timeout = .*/handshake_timeout = 30/' \
		-e 's/^login_timeout = .*/login_timeout = 60/' "$T/server.conf"
}
conf

# ---- a restart: batches of full reviews through peer_filter_many --------
check "server starts with the sample plugin" scale_serve s1
check "the sample plugin defines peer_filter and peer_filter_many" \
	grep -q "sample.so: abi 1, .*peer_filter peer_filter_many " "$T/s1.log"
jzsim -R -P 100 -T 300 600 >"$T/restart.out" 2>"$T/restart.err" &
SIM=$!
PIDS+=($SIM)
check "600 devices online with complete lists; the server restarted" \
	scale_restart_under restart.out s1 s2
wait "$SIM"
check "all 600 back with complete lists, id by id" test $? = 0
sed 's/^/# restart: /' "$T/restart.out"
check "every device was answered unchanged" grep -q "^lists unchanged 600 full 0$" "$T/restart.out"
# a computation with several newcomers, once the full reviews' speed is known
batched=$(grep -Ec "peers: [0-9]+ online, ([2-9]|[0-9]{2,}) new, incremental review, full reviews in batches of ([2-9]|[0-9]{2,})," "$T/s2.log")
echo "# computations after the restart with newcomers reviewed many to a call: $batched"
check "the newcomers' full reviews went many to a call" test "$batched" -ge 1
check "no peer_filter call failed" \
	bash -c "! grep -Eq 'peer_filter .*failed|callback peer_filter' '$T/s1.log' '$T/s2.log'"
cp_stop s2

# ---- peer_filter_many fails every call of many viewers -----------------
rm -f "$T/leases.json"
PORT=$(free_port)
conf
export JAZZ_SAMPLE_FILTER_FAIL=alice
check "server starts (peer_filter_many fails calls of many viewers)" scale_serve fail
unset JAZZ_SAMPLE_FILTER_FAIL
jzsim -d fl -P 150 -T 180 150 >"$T/fail.out" 2>"$T/fail.err"
check "150 devices: every list complete, id by id" test $? = 0
sed 's/^/# fail: /' "$T/fail.out"
n=$(count "$T/fail.log" "peer_filter_many: failing a call of")
echo "# calls of many viewers failed by the plugin: $n"
check "calls of many viewers failed (the plugin's error)" test "$n" -ge 1
check "... and failed closed" \
	grep -q "callback peer_filter (plugin:.*) failed: returned an error; fail-closed" "$T/fail.log"
check "their viewers were asked again one by one (attempt 1, in a batch)" \
	grep -q "peer_filter for alice@.* failed (attempt 1, .* peers, in a batch): asking again" "$T/fail.log"
sleep 1
ev=$(grep -c '^module/scale/event/peer-filter-failed$' "$T/rec")
echo "# peer-filter-failed events: $ev"
check "peer-filter-failed events published" test "$ev" -ge 1
check "no review gave up (no peers left hidden)" \
	bash -c "! grep -q 'failed: hiding every peer' '$T/fail.log'"
check "the server still runs" kill -0 "$(cp_pid fail)"
cp_done
