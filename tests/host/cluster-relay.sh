#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 20 across servers: the relay for two devices on different servers
# of a cluster. Two jazzd servers on one redis-server, server a with a
# relay ([server] relay_listen), the test client standing in for the
# devices and Python UDP sockets for their tunnel sockets. ra (server a)
# asks for the relay to rb (server b): server a opens the pair's two
# ports, tells ra its port, and rb its port through server b (the relay
# stream in Redis, kind "relay"); both latch (rb from the address its
# record names) and datagrams cross both ways unchanged. Hostile relay
# offers put into Redis by hand (not JSON, an address that is not one,
# port 0, a latch token that is not 24 hex digits, for a device not
# linked) are logged and never delivered; the
# servers keep serving. About 20 s. TAP.
set -u
. "$(dirname "$0")/cluster/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
RP=$(free_port); PA=$(free_port); PB=$(free_port)
UP=$(( (RANDOM % 200) * 100 + 42000 ))
P=jazz
export JAZZ_SAMPLE_HIDE=bob:cx
check "redis-server starts" redis_start r0 "$RP"
cl_server_conf sa "$PA" "redis = 127.0.0.1:$RP"
cl_server_conf sb "$PB" "redis = 127.0.0.1:$RP"
# the test client answers no pings: a keepalive longer than the test
sed -i 's/^keepalive = 2$/keepalive = 60/' "$T/sa.conf" "$T/sb.conf"
sed -i "0,/^\[cluster\]/s//relay_listen = 127.0.0.1\nrelay_ports = $UP-$((UP + 9))\n[cluster]/" "$T/sa.conf"
cp_start sa
cp_start sb
check "both servers start, a with a relay" bash -c "for i in \$(seq 50); do
	grep -q 'relay on 127.0.0.1' $T/sa.log && grep -q 'server listening' $T/sb.log && exit 0
	sleep 0.1; done; exit 1"

JZPORT=$PB jzc -m password -u bob -p bobpw -d rb cands - 16 >"$T/rb.out" 2>&1 &
BP=$!
JZPORT=$PB jzc -m password -u carol -p carolpw -d cx cands - 16 >"$T/cx.out" 2>&1 &
XP=$!
wait_for "$T/rb.out" "^id " 5
wait_for "$T/cx.out" "^id " 5
rb=$(sed -n 's/^id //p' "$T/rb.out" | head -n 1)
cx=$(sed -n 's/^id //p' "$T/cx.out" | head -n 1)
printf '%s\n' "sleep 1.5" "{\"type\":\"relay_request\",\"peer\":$cx}" \
	"{\"type\":\"relay_request\",\"peer\":$rb}" >"$T/ra.send"
JZPORT=$PA jzc -m password -u bob -p bobpw -d ra cands "$T/ra.send" 12 >"$T/ra.out" 2>&1 &
AP=$!
wait_for "$T/ra.out" "^id " 5
ra=$(sed -n 's/^id //p' "$T/ra.out" | head -n 1)
echo "# ra $ra (server a), rb $rb and cx $cx (server b)"
check "ra (server a) gets its relay port for rb (server b)" wait_for "$T/ra.out" "^relay $rb 127.0.0.1 " 10
check "rb (server b) is told its port on server a's relay, through server b" \
	wait_for "$T/rb.out" "^relay $ra 127.0.0.1 " 10
check "an unlinked device on the other server: refused" \
	grep -q "^relay_refused $cx not a linked device online" "$T/ra.out"
check "... and cx is told nothing" sh -c "! grep -q '^relay' '$T/cx.out'"
check "server b says whose relay it delivered" \
	grep -q "relay for rb and ra (server sa): port 127.0.0.1:[0-9]*, through that server" "$T/sb.log"
aport=$(sed -n "s/^relay $rb 127.0.0.1 \([0-9]*\) [0-9a-f]*$/\1/p" "$T/ra.out" | head -n 1)
bport=$(sed -n "s/^relay $ra 127.0.0.1 \([0-9]*\) [0-9a-f]*$/\1/p" "$T/rb.out" | head -n 1)
atok=$(sed -n "s/^relay $rb 127.0.0.1 [0-9]* \([0-9a-f]*\)$/\1/p" "$T/ra.out" | head -n 1)
btok=$(sed -n "s/^relay $ra 127.0.0.1 [0-9]* \([0-9a-f]*\)$/\1/p" "$T/rb.out" | head -n 1)
check "rb's latch token came through server b (24 hex digits)" test "${#btok}" = 24
echo "# ports: ra $aport, rb $bport"

PYTHONPATH=$TOP/tests/host/lib /usr/bin/python3 - "$aport" "$bport" "$ra" "$rb" "$atok" "$btok" \
	>"$T/udp.out" 2>&1 <<'PYEOF'
import os, sys
from relayudp import sock, check, got
ap, bp, aid, bid = (int(x) for x in sys.argv[1:5])
atok, btok = bytes.fromhex(sys.argv[5]), bytes.fromhex(sys.argv[6])
sa, sb = sock(), sock()
for s, p, f, t, tx in ((sa, ap, aid, bid, atok), (sb, bp, bid, aid, btok)):
    s.sendto(check(f, t, tx), ("127.0.0.1", p))
    d, _ = got(s)
    print("latch-answered", d is not None and d[8:20] == tx)
msg = bytes([1, 0x10, 7, 0]) + os.urandom(60)
sa.sendto(msg, ("127.0.0.1", ap))
d, frm = got(sb)
print("a-to-b", d == msg and frm is not None and frm[1] == bp)
sb.sendto(msg[::-1], ("127.0.0.1", bp))
d, frm = got(sa)
print("b-to-a", d == msg[::-1] and frm is not None and frm[1] == ap)
PYEOF
sed 's/^/# udp: /' "$T/udp.out"
check "both latches answered (rb's from the address its record names)" \
	sh -c "[ \$(grep -c '^latch-answered True' '$T/udp.out') = 2 ]"
check "ra's datagram reaches rb unchanged, from rb's port" grep -q "^a-to-b True" "$T/udp.out"
check "rb's datagram reaches ra unchanged, from ra's port" grep -q "^b-to-a True" "$T/udp.out"

# ---- hostile relay offers in Redis (server b's stream) ----
offer() { rcr "$RP" xadd "$P:relay:sb" '*' f "$1" t "$2" k relay m "$3" >/dev/null; }
n0=$(grep -c '^relay ' "$T/rb.out")
offer "$ra" "$rb" 'not json'
offer "$ra" "$rb" '{"ip":"not-an-ip","port":40000}'
offer "$ra" "$rb" '{"ip":"127.0.0.1","port":0}'
offer "$ra" "$rb" '{"ip":"127.0.0.1","port":40000,"token":"not-hex-and-not-24-digits"}'
check "malformed relay offers are logged by server b" \
	wait_for "$T/sb.log" "a relay offer from server sa for device rb is malformed; not delivered" 5
sleep 0.5
check "four malformed offers (the last a token that is not one), four log lines" \
	sh -c "[ \$(grep -c 'relay offer from server sa for device rb is malformed' '$T/sb.log') = 4 ]"
offer "$ra" "$cx" '{"ip":"192.0.2.1","port":40000}'
check "an offer for a device not linked to its peer is not delivered" \
	wait_for "$T/sb.log" "relay from device $ra for $cx not delivered: not linked here" 5
check "rb got no other offer" test "$(grep -c '^relay ' "$T/rb.out")" = "$n0"
check "cx got none" sh -c "! grep -q '^relay ' '$T/cx.out'"
wait "$AP" "$BP" "$XP"
check "no device was disconnected" sh -c "! grep -q '^closed' '$T/ra.out' '$T/rb.out' '$T/cx.out'"
check "server a still running" kill -0 "$(cp_pid sa)"
check "server b still running" kill -0 "$(cp_pid sb)"
cp_done
