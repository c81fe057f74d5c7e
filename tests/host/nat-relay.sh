#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 20: the server's relay ([server] relay_listen, server/udprelay.c)
# on loopback, driven by the test client and Python UDP sockets standing
# in for the two devices' tunnel sockets. A relay request for a linked
# device gets both devices a port each; each "latches" its port with a
# STUN check naming itself and the other (JAZZ-CHECK) and gets an answer;
# datagrams then cross both ways unchanged, each arriving from the other
# device's port. Hostile: requests for itself, for a device that does not
# exist or with a bad id are refused by name; latches with the wrong ids
# or before the request are not taken; junk and datagrams from an address
# that did not latch are dropped and counted; a direct-only device's pair
# is refused; the server keeps serving. The peer_connection policy
# (a Python script) is told `relayed` True for a connection of the
# relayed pair and False for a pair with no relay. About 25 s. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
RP=$(( (RANDOM % 200) * 100 + 42000 ))
cat >"$T/relayed.py" <<'PYEOF'
import jazz
def peer_connection(conn):
    jazz.info('relayed-check %s:%d relayed=%r' % (conn['destination_ip'],
              conn['destination_port'], conn['relayed']))
    return True
PYEOF
cp_server_conf "[server]" "relay_listen = 127.0.0.1" "relay_ports = $RP-$((RP + 9))" \
	"[callbacks]" "python = $T/relayed.py" "order = python,plugin"
cp_start server
check "server starts with a relay" wait_for "$T/server.log" "relay on 127.0.0.1, ports $RP-" 5 ||
	{ cp_done; exit 1; }

# rb: device B, waits and prints what it gets; ra: device A asks
printf '%s\n' 'sleep 1' '{"type":"candidates","cands":[]}' >"$T/b.send"
jzc -m password -u bob -p bobpw -d rb cands "$T/b.send" 16 >"$T/b.out" 2>&1 &
BP=$!
sleep 2.5
wait_for "$T/b.out" "^vip4 " 5
bvip=$(sed -n 's/^vip4 //p' "$T/b.out" | head -n 1)
{
	echo "sleep 1.5"
	echo '{"type":"relay_request","peer":0}'
	echo '{"type":"relay_request","peer":"2"}'
	echo '{"type":"relay_request","peer":99}'
	echo '{"type":"relay_request","peer":2}'
	echo '{"type":"relay_request","peer":1}'
	echo "sleep 0.5"
	echo "{\"type\":\"conn_request\",\"rid\":1,\"cookie\":5,\"peer\":2,\"dir\":\"egress\",\"proto\":\"tcp\",\"src\":\"@VIP4@\",\"sport\":40000,\"dst\":\"$bvip\",\"dport\":80}"
} >"$T/a.send"
jzc -m password -u bob -p bobpw -d ra cands "$T/a.send" 12 >"$T/a.out" 2>&1 &
AP=$!
wait_for "$T/a.out" "^relay " 10
sed 's/^/# a: /' "$T/a.out"
read -r _ aid <<<"$(grep '^id ' "$T/a.out" | head -n 1)"
aport=$(sed -n 's/^relay [0-9]* 127.0.0.1 \([0-9]*\) [0-9a-f]*$/\1/p' "$T/a.out" | head -n 1)
atok=$(sed -n 's/^relay [0-9]* 127.0.0.1 [0-9]* \([0-9a-f]*\)$/\1/p' "$T/a.out" | head -n 1)
wait_for "$T/b.out" "^relay " 5
bport=$(sed -n 's/^relay [0-9]* 127.0.0.1 \([0-9]*\) [0-9a-f]*$/\1/p' "$T/b.out" | head -n 1)
btok=$(sed -n 's/^relay [0-9]* 127.0.0.1 [0-9]* \([0-9a-f]*\)$/\1/p' "$T/b.out" | head -n 1)
read -r _ bid <<<"$(grep '^id ' "$T/b.out" | head -n 1)"
diag() { echo "# $*"; }
diag "a: id $aid port $aport; b: id $bid port $bport"
check "a bad id is refused as malformed" grep -q "malformed relay_request (peer must be a device id)" "$T/server.log"
check "a device that does not exist: refused by name" grep -q "^relay_refused 99 not a linked device online" "$T/a.out"
check "itself: refused" grep -q "^relay_refused $aid not a linked device online" "$T/a.out"
check "A gets a relay port for B" test -n "$aport"
check "B is told its port for A" test -n "$bport"
check "the two ports differ" test "$aport" != "$bport"
check "each is told its port's latch token (24 hex digits), two different tokens" \
	test "${#atok}" = 24 -a "${#btok}" = 24 -a "$atok" != "$btok"

PYTHONPATH=$TOP/tests/host/lib /usr/bin/python3 - "$aport" "$bport" "$aid" "$bid" "$atok" "$btok" \
	>"$T/udp.out" 2>&1 <<'PYEOF'
import os, sys
from relayudp import sock, check, got
ap, bp, aid, bid = (int(x) for x in sys.argv[1:5])
atok, btok = bytes.fromhex(sys.argv[5]), bytes.fromhex(sys.argv[6])
sa, sb, sx = sock(), sock(), sock()
# wrong ids: not taken (no answer)
sa.sendto(check(bid, aid, atok), ("127.0.0.1", ap))
print("wrong-ids-answered", got(sa)[0] is not None)
# the right ids from the right address, but not the port's token (what a
# device behind the same public IP could forge): not taken
for tx in (os.urandom(12), btok):
    sa.sendto(check(aid, bid, tx), ("127.0.0.1", ap))
    print("wrong-token-answered", got(sa)[0] is not None)
# data before the latches: dropped
sa.sendto(b"\x01" * 48, ("127.0.0.1", ap))
print("before-latch-forwarded", got(sb)[0] is not None)
for s, p, f, t, tx in ((sa, ap, aid, bid, atok), (sb, bp, bid, aid, btok)):
    s.sendto(check(f, t, tx), ("127.0.0.1", p))
    d, _ = got(s)
    print("latch-answered", d is not None and d[8:20] == tx and d[0:2] == b"\x01\x01")
msg = bytes([1, 0x10, 7, 0]) + os.urandom(60)
sa.sendto(msg, ("127.0.0.1", ap))
d, frm = got(sb)
print("a-to-b-same-bytes", d == msg, "from-b-port", frm is not None and frm[1] == bp)
sb.sendto(msg[::-1], ("127.0.0.1", bp))
d, frm = got(sa)
print("b-to-a-same-bytes", d == msg[::-1], "from-a-port", frm is not None and frm[1] == ap)
# another socket on A's port: not A's latched address
for i in range(100):
    sx.sendto(os.urandom(80), ("127.0.0.1", ap))
print("stranger-forwarded", got(sb)[0] is not None)
# junk from A itself (not STUN, short) still forwarded as bytes: the relay reads nothing
sa.sendto(b"x", ("127.0.0.1", ap))
print("tiny-forwarded", got(sb)[0] == b"x")
PYEOF
sed 's/^/# udp: /' "$T/udp.out"
check "a latch with the wrong ids gets no answer" grep -q "^wrong-ids-answered False" "$T/udp.out"
check "a latch without the port's token (random, or the other port's) gets no answer" \
	sh -c "[ \$(grep -c '^wrong-token-answered False' '$T/udp.out') = 2 ]"
check "nothing crosses before both latched" grep -q "^before-latch-forwarded False" "$T/udp.out"
check "both latches answered (their transaction ids)" sh -c "[ \$(grep -c '^latch-answered True' '$T/udp.out') = 2 ]"
check "A's datagram reaches B unchanged, from B's port" grep -q "^a-to-b-same-bytes True from-b-port True" "$T/udp.out"
check "B's datagram reaches A unchanged, from A's port" grep -q "^b-to-a-same-bytes True from-a-port True" "$T/udp.out"
check "100 datagrams from an address that did not latch: none forwarded" grep -q "^stranger-forwarded False" "$T/udp.out"
check "the relay copies bytes without reading them" grep -q "^tiny-forwarded True" "$T/udp.out"
check "peer-path-changed: relayed, published when the relay opened" \
	grep -q 'event peer-path-changed .*"path":"relayed"' "$T/server.log"
check "the server logged both latches" sh -c "[ \$(grep -c 'latched port' '$T/server.log') -ge 2 ]"
check "peer_connection of the relayed pair: the policy sees relayed True" \
	wait_for "$T/server.log" "relayed-check $bvip:80 relayed=True" 5
check "... and the asker gets the policy's verdict" wait_for "$T/a.out" "^verdict approve $bvip:80" 5
wait "$AP" "$BP"

# a direct-only device is refused
printf '%s\n' 'sleep 1' '{"type":"candidates","cands":[],"direct_only":true}' >"$T/c.send"
jzc -m password -u bob -p bobpw -d rc cands "$T/c.send" 8 >"$T/c.out" 2>&1 &
CP=$!
sleep 3
cid=$(grep '^id ' "$T/c.out" | head -n 1 | cut -d' ' -f2)
cvip=$(sed -n 's/^vip4 //p' "$T/c.out" | head -n 1)
printf '%s\n' 'sleep 1' "{\"type\":\"relay_request\",\"peer\":$cid}" \
	"{\"type\":\"conn_request\",\"rid\":2,\"cookie\":6,\"peer\":$cid,\"dir\":\"egress\",\"proto\":\"tcp\",\"src\":\"@VIP4@\",\"sport\":40001,\"dst\":\"$cvip\",\"dport\":81}" \
	>"$T/d.send"
jzc -m password -u bob -p bobpw -d rd cands "$T/d.send" 4 >"$T/d.out" 2>&1
sed 's/^/# d: /' "$T/d.out"
check "a direct-only peer is not relayed" grep -q "^relay_refused $cid the peer is direct-only" "$T/d.out"
check "peer_connection of a pair with no relay: the policy sees relayed False" \
	grep -q "relayed-check $cvip:81 relayed=False" "$T/server.log"
wait "$CP"
check "the pair's relay ends when its devices leave" wait_for "$T/server.log" "relay .* ends \\(a device left\\)" 20
check "peer-path-changed: not-relayed, why: a device left" \
	grep -q 'event peer-path-changed .*"path":"not-relayed".*"why":"a device left"' "$T/server.log"
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
