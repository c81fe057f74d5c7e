#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A login's callbacks never wait behind a join burst's peer_filter reviews
# (issue 18): peer_filter may take every callback worker but one, the one
# left is the login path's (accept_conn, user_key, validate_user). A real
# jazzd server with the sample plugin, whose peer_filter takes 4 s for
# viewer alice (JAZZ_SAMPLE_FILTER_SLOW; timeout_ms 1000, so every review
# of alice's times out, is asked again and keeps the workers busy), and
# jzsim devices (real TLS, Kerberos and password logins):
#   - 10 devices of alice log in at once: their reviews fill the workers;
#   - then 8 devices of bob log in one after the other (password logins:
#     accept_conn, user_key and validate_user each): every login gets in
#     and none of its callbacks times out or waits for a worker. Before
#     the change the reviews took all 4 workers and most of bob's login
#     callbacks timed out after 1000 ms (fail-closed: refused, retried).
# About 30 s.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
check "jzsim builds" build_jzsim

cp_server_conf "[server]" "max_sessions = 1000" "${SCALE_LIMITS[@]}" "[callbacks]" "threads = 4"
sed -i -e "s/^timeout_ms = .*/timeout_ms = 1000/" \
	-e 's/^handshake_timeout = .*/handshake_timeout = 30/' \
	-e 's/^login_timeout = .*/login_timeout = 60/' "$T/server.conf"
export JAZZ_SAMPLE_FILTER_SLOW=alice:4000
cp_start server
check "server starts (alice's reviews take 4 s, timeout_ms 1000, 4 workers)" \
	wait_for "$T/server.log" "server listening" 10 || { tail -5 "$T/server.log"; cp_done; exit; }

# alice's burst: never complete (every review of hers times out), held
# online while bob logs in
jzsim -d alice -P 10 -H 60 -T 60 10 >"$T/alice.out" 2>"$T/alice.err" &
PIDS+=($!)
check "alice's reviews time out: the workers are busy with them" \
	wait_for "$T/server.log" "callback peer_filter .* timed out" 20
sleep 2
before=$(count "$T/server.log" "callback peer_filter .* timed out")

jzsim -m password -u bob -p bobpw -d bob -P 1 -T 15 8 >"$T/bob.out" 2>"$T/bob.err"
sed 's/^/# bob: /' "$T/bob.out" | head -3
after=$(count "$T/server.log" "callback peer_filter .* timed out")
echo "# peer_filter timeouts while bob logged in: $((after - before))"
check "the reviews kept timing out while bob logged in (the workers stayed busy)" \
	test "$((after - before))" -ge 3
check "all 8 of bob's devices logged in" grep -q "^online 8 " "$T/bob.out"
n=$(count "$T/server.log" "callback (accept_conn|user_key|validate_user) .*(timed out|waited)")
echo "# login callbacks timed out: $n"
grep "callback \(accept_conn\|user_key\|validate_user\)" "$T/server.log" | head -3 | sed 's/^/# /'
check "no login callback (accept_conn, user_key, validate_user) timed out" test "$n" = 0
check "no login was refused for a failed callback" \
	bash -c "! grep -q 'refused by accept_conn\|login from .* failed' '$T/server.log'"
check "the server still runs" kill -0 "$(cp_pid server)"
cp_done
