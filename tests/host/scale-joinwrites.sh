#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What a join costs the server in system calls (issue 18): each viewer's
# frames of one peer computation (its pair_start and its delta) go out as
# one TLS record in one write() made at once, not queued for an EPOLLOUT
# (an epoll_ctl to ask, a wakeup, an epoll_ctl to stop asking: three
# system calls more per viewer). A real jazzd server with the sample
# plugin (everyone sees everyone), 100 jzsim devices (real TLS and
# Kerberos logins) online, then one more joins while strace counts the
# server's system calls (until the newcomer has left again); the newcomer's list and every delta are checked
# id by id by jzsim. Then a viewer that does not read: its frames queue
# as before (bounded by the delta hold) and it still gets everything once
# it reads. Before the change: 2 epoll_ctl per viewer (442 for 100).
# About 30 s.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
check "jzsim builds" build_jzsim
command -v strace >/dev/null || { echo "not ok 2 - strace missing"; exit 1; }

cp_server_conf "[server]" "max_sessions = 1000" "${SCALE_LIMITS[@]}"
# without -d: strace counts the log's write()s too
"$JAZZD" -f -c "$T/server.conf" >"$T/server.log" 2>&1 &
SPID=$!
PIDS+=($SPID)
check "server starts" wait_for "$T/server.log" "server listening" 10

jzsim -P 100 -H 60 -T 90 100 >"$T/a.out" 2>"$T/a.err" &
PIDS+=($!)
check "100 devices online with complete lists" wait_for "$T/a.out" "^complete 100 " 60
sleep 2
strace -f -c -e trace=write,epoll_ctl,epoll_wait -p "$SPID" -o "$T/strace.txt" 2>/dev/null &
ST=$!
sleep 1
jzsim -d late -x 100 -P 1 -T 20 1 >"$T/b.out" 2>"$T/b.err"
check "the 101st device got its complete list and every other one its delta, id by id" test $? = 0
sleep 1
kill -INT "$ST"
wait "$ST" 2>/dev/null
calls() { awk -v c="$1" '$NF == c { print $4 }' "$T/strace.txt"; }
w=$(calls write) e=$(calls epoll_ctl) ew=$(calls epoll_wait)
echo "# one join with 100 viewers: ${w:-0} write, ${e:-0} epoll_ctl, ${ew:-0} epoll_wait"
check "one write() per viewer for the join, one for the leave (the newcomer exits; at most 250)" test "${w:-0}" -le 250
check "no epoll_ctl per viewer (fewer than 100 for 100 viewers)" test "${e:-999}" -lt 100

# a viewer that does not read: frames queue for it, then it catches up
jzsim -d deaf -x 100 -P 1 -z 8 -H 20 -T 60 1 >"$T/c.out" 2>"$T/c.err" &
DEAF=$!
PIDS+=($DEAF)
check "a device that stops reading after its welcome logs in" wait_for "$T/c.out" "^online 1 " 20
for i in 1 2 3; do
	jzsim -d more$i -x 101 -P 1 -T 30 1 >"$T/d$i.out" 2>"$T/d$i.err" ||
		echo "# more$i: $(tail -1 "$T/d$i.out")"
done
check "three more joins while it does not read: every list complete" \
	bash -c "grep -q '^complete 1 ' '$T/d1.out' && grep -q '^complete 1 ' '$T/d2.out' &&
		 grep -q '^complete 1 ' '$T/d3.out'"
check "the deaf device's list completes once it reads again" wait_for "$T/c.out" "^complete 1 " 40
check "the server still runs" kill -0 "$SPID"
cp_done
