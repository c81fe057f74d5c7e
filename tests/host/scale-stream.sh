#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 18: a newcomer's complete list goes out part by part as its socket
# drains, so the server holds a bounded part of any list whatever its
# size, and devices that do not read cost it no more than that.
# 1000 devices of alice (jzsim, long device names: a list of ~300 KB, more
# than a session socket's fixed send buffer and the reader's 4 KiB take)
# are online; then 10 hostile devices log in that never read; then one
# more device joins while they sit there, and a slow device (4 KiB
# receive buffer, reading 64 KiB a second) logs in. Checks: each stalled
# device's list pauses with at most 64 KiB unsent in the server
# (JZ_LIST_OUT_LOW, 16 KiB, + a part) and is not finished; the join still reaches
# every other device (id by id) and the newcomer gets its whole list; the
# slow device gets its complete list; once the stalled devices read again
# (SIGUSR1 to their simulator) they get the rest of their lists and every
# change since as a delta, complete id by id. The server's RSS before and
# after is printed, not asserted (the bound asserted is its own buffer).
# About 2 minutes on this loaded 2-core machine (most of it the 1000
# logins). TAP.
set -u
. "$(dirname "$0")/../scale/lib.sh"
JAZZD=${JAZZD_BIN:-$JAZZD}	# JAZZD_BIN=/path/jazzd: test another build
NDEV=${SCALE_STREAM_N:-1000}
NSTALL=10
LONG=dev-with-a-long-name-for-long-lists-xxxxxxxxxxxxxxxxxx	# entries of ~300 bytes

cp_setup || { echo "not ok 1 - setup"; exit 1; }
check "jzsim builds" build_jzsim
cp_server_conf "[server]" "max_sessions = 4000" "${SCALE_LIMITS[@]}"
sed -i -e 's/^handshake_timeout = .*/handshake_timeout = 60/' \
	-e 's/^login_timeout = .*/login_timeout = 120/' "$T/server.conf"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 10
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID_server/status"; }

# the many: expect the stalled ones in every list, then one join, then hold
jzsim_exec -d "$LONG" -x "$NSTALL" -j 1 -H 120 -P 200 -T 400 "$NDEV" > "$T/sim.out" 2> "$T/sim.err" &
SIM=$!
PIDS+=($SIM)
check "$NDEV devices online" wait_for "$T/sim.out" "^online $NDEV " 300
RSS0=$(rss)
# stalled until SIGUSR1; then they expect the many and the joiner
jzsim_exec -d stall -z 100000 -x $((NDEV + 1)) -T 600 "$NSTALL" > "$T/stall.out" 2> "$T/stall.err" &
STALL=$!
PIDS+=($STALL)
check "the $NSTALL stalled devices log in" wait_for "$T/stall.out" "^online $NSTALL " 120
check "... the $NDEV see them, and one more device joins: its list and every delta arrive" \
	wait_for "$T/sim.out" "^join " 300
sed 's/^/# sim: /' "$T/sim.out"
paused=$(grep -c 'peer list for alice@[^ ]* device stall-[0-9]*: paused after part' "$T/server.log")
check "every stalled device's list paused ($paused of $NSTALL)" test "$paused" = "$NSTALL"
check "... and none of them finished" \
	bash -c "! grep -q 'device stall-[0-9]*: .* parts, .* bytes, done' '$T/server.log'"
max=$(sed -n 's/.*device stall-[0-9]*: paused after part [0-9]* (\([0-9]*\) bytes unsent).*/\1/p' \
	"$T/server.log" | sort -n | tail -1)
check "... with at most 64 KiB unsent each (largest ${max:-?} bytes)" test "${max:-999999}" -le 65536
listb=$(grep -o "device $LONG-1: [0-9]* parts, [0-9]* bytes" "$T/server.log" | tail -1)
RSS1=$(rss)
echo "# RSS ${RSS0} KiB before the stalled devices, ${RSS1} KiB with them; one list: ${listb:-?}"

jzsim -d slow -Z 65536 -x $((NDEV + NSTALL + 1)) -T 120 1 > "$T/slow.out" 2> "$T/slow.err"
check "a slow reader (64 KiB/s) gets its complete list (id by id)" test $? = 0
check "... which went out as its socket drained" \
	grep -q 'device slow-0: paused after part' "$T/server.log"
kill -USR1 "$STALL"
wait "$STALL"
check "the stalled devices, reading again, get complete lists (id by id)" test $? = 0
sed 's/^/# stall: /' "$T/stall.out"
done_n=$(grep -c 'device stall-[0-9]*: .* parts, .* bytes, done' "$T/server.log")
check "... each the rest of its parts ($done_n of $NSTALL)" test "$done_n" = "$NSTALL"
cp_done
