#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Devices on different servers of a cluster see each other (issue 21,
# stage 2): two jazzd servers on one redis-server, real jazzd clients with
# the fake kernel backend (eager pair handshakes), real KDC and TLS.
#   - a device on server a lists a device on server b (its address, key and
#     endpoint), and the two agree pair keys through the relay stream of
#     the other's server (one's tx is the other's rx);
#   - the policy's peer_filter applies across servers (a hidden device on
#     the other server is not listed);
#   - a device leaving server b leaves the lists of server a's devices;
#   - server a SIGKILLed: its device moves to b and keeps its peer (no
#     peer-del of a device that never left) and its address;
#   - an approval between devices of the two servers: the verdict goes to
#     the destination through its server, its ack comes back, then the
#     origin gets its verdict;
#   - hostile relay entries in Redis (malformed, of an unknown kind, for
#     devices not linked here, a verdict naming other addresses) are
#     ignored with a log line.
# About 40 s on a quiet machine.
set -u
. "$(dirname "$0")/cluster/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
export JAZZ_SAMPLE_HIDE=carol:dave-pc
RP=$(free_port); PA=$(free_port); PB=$(free_port)
P=jazz
check "redis-server starts" redis_start r0 "$RP"
cl_server_conf sa "$PA" "redis = 127.0.0.1:$RP"
cl_server_conf sb "$PB" "redis = 127.0.0.1:$RP"
cp_start sa
cp_start sb
check "both servers start" bash -c "wait_for() { for i in \$(seq 50); do grep -q \"\$2\" \"\$1\" && return 0; sleep 0.1; done; return 1; }
	wait_for $T/sa.log 'server listening' && wait_for $T/sb.log 'server listening'"

id_of() { sed -n 's/.*(id \([0-9]*\)).*/\1/p' "$T/$1.log" | tail -1; }

cl_client alice-pc alice kerberos "$PA" "$PB"
cl_client bob-pc bob password "$PB" "$PA"
cl_client carol-pc carol password "$PA" "$PB"
cl_client dave-pc dave password "$PB" "$PA"
for d in alice-pc bob-pc carol-pc dave-pc; do
	check "$d logs in" wait_for "$T/$d.log" "logged in as" 15
done
A=$(id_of alice-pc); B=$(id_of bob-pc); D=$(id_of dave-pc)
check "alice (server a) lists bob (server b) with his endpoint" \
	wait_for "$T/alice-pc.kernel" "^peer-new id=$B .*name=bob-pc .*endpoint=127.0.0.1:" 10
check "bob (server b) lists alice (server a)" \
	wait_for "$T/bob-pc.kernel" "^peer-new id=$A .*name=alice-pc" 10
check "alice installed a key for bob" wait_for "$T/alice-pc.kernel" "^key-new peer=$B " 15
check "bob installed a key for alice" wait_for "$T/bob-pc.kernel" "^key-new peer=$A " 15
keys_of() { grep "^key-new peer=$2 " "$1" | tail -1 | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\1 \2/'; }
check "the key agreed across servers: alice's tx is bob's rx and the other way round" bash -c "
	for i in \$(seq 50); do
		a=\$(grep '^key-new peer=$B ' $T/alice-pc.kernel | tail -1 | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\1 \2/')
		b=\$(grep '^key-new peer=$A ' $T/bob-pc.kernel | tail -1 | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\2 \1/')
		[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ] && exit 0; sleep 0.1; done; exit 1"
check "the handshake went through the other server's relay stream" \
	grep -q "relayed from device [0-9]* (another server)" "$T/sa.log" "$T/sb.log"
# ---- an approval between devices of two servers ----
va=$(sed -n 's/.*logged in as .*): \([0-9.]*\) .*/\1/p' "$T/alice-pc.log" | tail -1)
vb=$(sed -n 's/.*logged in as .*): \([0-9.]*\) .*/\1/p' "$T/bob-pc.log" | tail -1)
inject alice-pc "request proto=tcp src=$va:40000 dst=$vb:80 cookie=7"
check "approval alice (a) -> bob (b): the verdict reaches bob through b" \
	wait_for "$T/bob-pc.kernel" "verdict approve peer=$A cookie=0 proto=tcp $va:40000->$vb:80" 10
check "... and alice, with her cookie, after bob's ack came back" \
	wait_for "$T/alice-pc.kernel" "verdict approve peer=$B cookie=7 proto=tcp $va:40000->$vb:80" 10
check "the ack came back through Redis (no 'did not confirm' on a)" \
	bash -c "! grep -q 'did not confirm verdict' $T/sa.log"
check "server b logs whose decision it delivered" \
	grep -q "approval: alice-pc -> bob-pc tcp: approved (decided by the origin's server)" "$T/sb.log"
redis-cli -p "$RP" xadd "$P:relay:sb" '*' f "$A" t "$B" k verdict m '{"type":"verdict","proto":"tcp","src":"10.1.1.1","sport":1,"dst":"10.1.1.2","dport":2,"verdict":"approve","lifetime":60,"dir":"ingress","peer":1,"vid":5}' >/dev/null
check "a relayed verdict naming other addresses is dropped as malformed" \
	wait_for "$T/sb.log" "a verdict relayed for device bob-pc from another server is malformed" 5
check "... and never reaches bob's kernel" bash -c "! grep -q '10.1.1.1' $T/bob-pc.kernel"
check "carol (a) lists bob (b)" wait_for "$T/carol-pc.kernel" "^peer-new id=$B " 10
check "dave (b) is hidden from carol (a) by the policy" bash -c "sleep 1; ! grep -q '^peer-new id=$D ' $T/carol-pc.kernel"
check "but listed to alice (a)" wait_for "$T/alice-pc.kernel" "^peer-new id=$D " 10

# ---- a device leaving another server ----
cp_stop dave-pc
check "dave leaving server b leaves alice's kernel (server a)" \
	wait_for "$T/alice-pc.kernel" "^peer-del id=$D\$" 10

# ---- hostile relay entries ----
redis-cli -p "$RP" xadd "$P:relay:sa" '*' f 999999999 t "$A" k pair m x >/dev/null
redis-cli -p "$RP" xadd "$P:relay:sa" '*' f "$B" t "$A" k pair >/dev/null
redis-cli -p "$RP" xadd "$P:relay:sa" '*' f "$B" t "$A" k shell m x >/dev/null
redis-cli -p "$RP" xadd "$P:relay:sa" '*' f "$D" t "$A" k pair m "AAAA" >/dev/null
check "malformed relay entries are ignored with a log line" \
	wait_for "$T/sa.log" "cluster: a malformed relay entry .* ignored" 5
check "a relayed handshake from a device not linked here is not delivered" \
	wait_for "$T/sa.log" "handshake from device $D for $A not delivered: not linked here" 5
check "alice was not disturbed (no handshake from dave)" bash -c "! grep -q 'handshake from peer $D' $T/alice-pc.log"

# ---- server a killed: alice moves to b, keeps bob ----
nd=$(grep -c "^peer-del id=$B\$" "$T/alice-pc.kernel")
p=$(cp_pid sa); { kill -9 "$p"; wait "$p"; } 2>/dev/null
check "alice is logged in on server b within 10 s" \
	wait_for "$T/sb.log" "device alice-pc from .* -> " 10
check "alice kept her id ($A)" bash -c "[ \"\$(sed -n 's/.*(id \([0-9]*\)).*/\1/p' $T/alice-pc.log | sort -u)\" = $A ]"
sleep 3
check "alice never removed bob's peer across the failover" \
	[ "$(grep -c "^peer-del id=$B\$" "$T/alice-pc.kernel")" = "$nd" ]
check "bob still lists alice" bash -c "! grep -q '^peer-del id=$A\$' $T/bob-pc.kernel"
check "server b still running" kill -0 "$(cp_pid sb)"
cp_done
