#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 20 across servers: a device's candidates reach the devices of the
# other servers of a cluster. Two jazzd servers on one redis-server, the
# test client standing in for the devices. A device on server b sends its
# candidates; server b writes them into its record in Redis (P:d:<index>
# field "cands", CANDS script: only into a record this session owns) and
# announces them in the feed ("cd"); server a reads the record again,
# checks the candidates as it checks a device's own message, and re-sends
# the device's entry to its linked devices, so a watcher on server a gets
# them, and again when they change. Hostile values put into the record by
# hand (loopback, not JSON, too long, nine candidates) and forged "cd"
# entries (another session, a device server a holds itself) are logged and
# never listed; the servers keep serving. A "cd" entry lost with the
# feed's tail (server a paused while the feed is trimmed past it) does not
# leave the old candidates listed: server a's periodic check sees the
# record's candidates version (cv) changed and reads it again. About 25 s.
# TAP.
set -u
. "$(dirname "$0")/cluster/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
RP=$(free_port); PA=$(free_port); PB=$(free_port)
P=jazz
check "redis-server starts" redis_start r0 "$RP"
cl_server_conf sa "$PA" "redis = 127.0.0.1:$RP"
cl_server_conf sb "$PB" "redis = 127.0.0.1:$RP"
# the test client answers no pings: a keepalive longer than the test
sed -i 's/^keepalive = 2$/keepalive = 60/' "$T/sa.conf" "$T/sb.conf"
cp_start sa
cp_start sb
check "both servers start" bash -c "for i in \$(seq 50); do grep -q 'server listening' $T/sa.log &&
	grep -q 'server listening' $T/sb.log && exit 0; sleep 0.1; done; exit 1"

C1='{"type":"candidates","cands":[{"ip":"198.51.100.7","port":40001,"kind":"srflx"},{"ip":"192.168.1.2","port":51820,"kind":"host"}]}'
C2='{"type":"candidates","cands":[{"ip":"198.51.100.9","port":40002,"kind":"srflx"},{"ip":"2001:db8::2","port":51820,"kind":"host"}]}'
E1='[{"ip":"198.51.100.7","port":40001,"kind":"srflx"},{"ip":"192.168.1.2","port":51820,"kind":"host"}]'
E2='[{"ip":"198.51.100.9","port":40002,"kind":"srflx"},{"ip":"2001:db8::2","port":51820,"kind":"host"}]'

has_entry() { # has_entry CANDS [TIMES]: the watcher got sb1 listed with CANDS (TIMES times)
	for _ in $(seq 50); do
		[ "$(grep -cxF "entry sb1 $1" "$T/wa.out")" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
# the watcher on server a, the sender on server b (its messages from a FIFO)
JZPORT=$PA jzc -m password -u bob -p bobpw -d wa cands - 30 >"$T/wa.out" 2>&1 &
WP=$!
wait_for "$T/wa.out" "^id " 5
wa=$(sed -n 's/^id //p' "$T/wa.out" | head -n 1)
mkfifo "$T/sb.fifo"
JZPORT=$PB jzc -m password -u bob -p bobpw -d sb1 cands "$T/sb.fifo" 14 >"$T/sb.out" 2>&1 &
SP=$!
exec 3>"$T/sb.fifo"
wait_for "$T/sb.out" "^id " 5
sb=$(sed -n 's/^id //p' "$T/sb.out" | head -n 1)
echo "# wa $wa (server a), sb1 $sb (server b)"
check "the watcher (server a) first lists sb1 (server b) without candidates" \
	wait_for "$T/wa.out" "^entry sb1 -$" 5
echo "$C1" >&3
check "sb1's candidates reach the watcher on the other server" \
	has_entry "$E1"
rec=$(rcr "$RP" hget "$P:d:$sb" cands)
echo "# record: $rec"
check "they are in sb1's record in Redis" test "$rec" = "{\"cands\":$E1,\"direct_only\":false}"
check "server b announced them in the feed (cd)" \
	sh -c "redis-cli -p $RP --raw xrange $P:feed - + | grep -qx cd"
sleep 1.2
echo "$C2" >&3
check "a change mid-session reaches the watcher too (IPv6 host candidate)" \
	has_entry "$E2"

# ---- hostile values in Redis ----
sid=$(rcr "$RP" hget "$P:d:$sb" sid)
cd_entry() { rcr "$RP" xadd "$P:feed" '*' t cd i "$1" s "$2" sid "$3" >/dev/null; }
bad() { # bad VALUE LOGREGEX DESC
	rcr "$RP" hset "$P:d:$sb" cands "$1" >/dev/null
	cd_entry "$sb" sb "$sid"
	check "$3: logged by server a" wait_for "$T/sa.log" "$2" 5
}
bad '{"cands":[{"ip":"127.0.0.1","port":51820,"kind":"host"}],"direct_only":false}' \
	"candidates of device $sb \\(server sb\\) in Redis are malformed \\(candidate 0: 127.0.0.1 is not a unicast" \
	"a loopback candidate in the record"
bad 'garbage{' "candidates of device $sb \\(server sb\\) in Redis are malformed \\(not a JSON object\\)" \
	"a record that is not JSON"
nine=$(/usr/bin/python3 -c 'import json; print(json.dumps({"cands": [{"ip": "192.0.2.%d" % i, "port": 1000 + i, "kind": "host"} for i in range(9)]}))')
bad "$nine" "in Redis are malformed \\(cands must be an array of at most 8" "nine candidates"
long=$(printf 'x%.0s' $(seq 1 1100))
bad "$long" "device $sb \\(server sb\\): candidates in Redis are not short text" "1100 bytes"
check "none of them was listed" sh -c "! grep -Eq '127.0.0.1|192.0.2.|xxxx' '$T/wa.out'"
check "sb1 is listed without candidates meanwhile (never a forged one)" \
	sh -c "[ \$(grep -c '^entry sb1 -\$' '$T/wa.out') -ge 2 ]"
# a cd entry naming another session of sb1, and one for the watcher (server a's own)
rcr "$RP" hset "$P:d:$sb" cands "{\"cands\":[{\"ip\":\"203.0.113.5\",\"port\":7,\"kind\":\"srflx\"}],\"direct_only\":false}" >/dev/null
cd_entry "$sb" sb 999999
rcr "$RP" hset "$P:d:$wa" cands "{\"cands\":[{\"ip\":\"203.0.113.6\",\"port\":7,\"kind\":\"srflx\"}],\"direct_only\":false}" >/dev/null
cd_entry "$wa" sb "$(rcr "$RP" hget "$P:d:$wa" sid)"
sleep 1.5
check "a cd entry of another session is not taken" sh -c "! grep -q '203.0.113.5' '$T/wa.out'"
check "a cd entry for a device server a holds is not taken" sh -c "! grep -q '203.0.113.6' '$T/wa.out' '$T/sb.out'"
# sb1 sends again: the record is its own again and the watcher gets it
sleep 1
echo "$C1" >&3
check "sb1's next message is listed again" has_entry "$E1" 2

# ---- a "cd" entry lost with the feed's tail ----
C3='{"type":"candidates","cands":[{"ip":"198.51.100.11","port":40003,"kind":"srflx"}]}'
E3='[{"ip":"198.51.100.11","port":40003,"kind":"srflx"}]'
cv0=$(rcr "$RP" hget "$P:d:$sb" cv)
echo "# candidates version before: ${cv0:-none}"
kill -STOP "$(cp_pid sa)"
echo "$C3" >&3
for _ in $(seq 50); do
	[ "$(rcr "$RP" hget "$P:d:$sb" cv)" != "$cv0" ] && break
	sleep 0.02
done
rcr "$RP" xtrim "$P:feed" MAXLEN 0 >/dev/null
kill -CONT "$(cp_pid sa)"
check "CANDS counted the record's candidates version up" \
	test "$(rcr "$RP" hget "$P:d:$sb" cv)" -gt "${cv0:-0}"
check "the feed lost the cd entry (trimmed)" test "$(rcr "$RP" xlen "$P:feed")" = 0
check "sb1's new candidates reach the watcher all the same (server a's periodic check)" \
	has_entry "$E3"
check "server a says why it read the record again" grep -Eq \
	"device $sb \\(server sb\\): its candidates changed \\(version [0-9]+ -> [0-9]+\\) without a feed entry here; read again" "$T/sa.log"
exec 3>&-
wait "$SP"
wait "$WP"
check "neither device was disconnected" sh -c "! grep -q '^closed' '$T/wa.out' '$T/sb.out'"
check "server a still running" kill -0 "$(cp_pid sa)"
check "server b still running" kill -0 "$(cp_pid sb)"
cp_done
