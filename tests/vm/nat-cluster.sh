#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The relay across two servers behind NATs (issue 20 with issue 21's
# cluster): the NAT world of tests/vm/lib-nat.sh with two jazzd servers
# sharing their state in Redis (NATW_CLUSTER: s1 on 10.0.0.2, s2 on
# 10.0.0.3, each with its own relay), alice behind NAT na logged in on s1,
# carol behind NAT nc on s2; both NATs port-preserving with their input
# closed (home routers), real jazzd clients, Kerberos logins:
#   1. the "internet" router drops every UDP datagram between the two
#      NATs: no direct path exists; both punches fail, the device with the
#      lower id (carol: she logs in first) asks its own server for the
#      relay (alice, who starts the pair, waits for the offer, which
#      comes through her own server and the cluster's relay stream), and
#      only that server relays: pings and a 1 MiB TCP
#      transfer cross it, both kernels send to its ports, `jazzctl show
#      --json` says relayed at both ends, and peer-path-changed (relayed)
#      is published on Redis for both devices and by the relay;
#   2. the router stops dropping: at the next retry ([client] path_retry
#      = 5 s here) the pair goes direct (NAT to NAT), both kernels send
#      there, show --json says direct, peer-path-changed (direct) is on
#      Redis, pings and the TCP transfer cross direct;
#   3. hostile: bob (the test client, on s1, a device the policy does not
#      link to carol: JAZZ_SAMPLE_HIDE) asks s1 to relay him and carol:
#      refused, no relay opens on either server and carol is offered
#      nothing; a relay offer for bob and carol written into s2's relay
#      stream by hand (what a server would send) is not delivered by s2
#      (not linked there either).
# About 4 minutes on a stock kernel under TCG; skipped without nftables NAT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib-nat.sh"

NATW_CLUSTER=1
NATW_HOME[carol]=2
NATW_SERVER_EXTRA="relay_listen = 10.0.0.2
relay_ports = 40000-40049
relay_idle = 60"
NATW_SERVER2_EXTRA="relay_listen = 10.0.0.3
relay_ports = 40100-40149
relay_idle = 60"
export JAZZ_SAMPLE_HIDE=bob:carol-pc
natw_up
for n in alice carol; do natw_set "$n" path_retry 5; done
declare -A LOG=([1]=$W/srv.log [2]=$W/srv2.log)

# every peer-path-changed published on Redis (either server's module)
ip netns exec "$(ns_name srv)" redis-cli -p 6379 PSUBSCRIBE '*/event/peer-path-changed' \
	>"$W/redis-events.txt" 2>&1 &
_T_PIDS+=($!)
# published KEY=ERE...: a peer-path-changed payload on Redis has every KEY
# with a value that ERE matches whole
published() {
	$PY -c '
import json, re, sys
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    e = json.loads(line)
    if all(re.fullmatch(v, str(e.get(k))) for k, v in (a.split("=", 1) for a in sys.argv[2:])):
        sys.exit(0)
sys.exit(1)' "$W/redis-events.txt" "$@"
}

# UDP between the two NATs' public addresses dropped by the "internet"
udp_block() {
	net nft -f - <<'NFT'
table ip block {
	chain fw {
		type filter hook forward priority filter; policy accept;
		ip saddr 10.0.1.0/24 ip daddr 10.0.3.0/24 meta l4proto udp counter drop
		ip saddr 10.0.3.0/24 ip daddr 10.0.1.0/24 meta l4proto udp counter drop
	}
}
NFT
}
dropped() { net nft list table ip block | awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'; }

path_of() {
	ip netns exec "$(ns_name "$1")" "$JZ" show jazz0 --json | $PY -c '
import json, sys
p = [x["path"] for x in json.load(sys.stdin)["peers"] if x["name"] == sys.argv[1]]
print("%s|%s" % (p[0]["kind"], p[0]["reason"]) if p and p[0] else "none")' "$2"
}
matches() { printf '%s\n' "$1" | grep -Eq -- "$2"; }
id_of() { natw_log "$1" | sed -n 's/.*logged in as .*(id \([0-9]*\)).*/\1/p' | tail -n 1; }

# tcp_xfer TAG: 1 MiB from alice to carol over the tunnel (TCP), the same
# bytes arrive (size and SHA-256)
tcp_xfer() {
	local to f=$W/xfer-$1 rx
	to=$(natw_vip carol)
	head -c 1048576 /dev/urandom >"$f.src"
	ip netns exec "$(ns_name carol)" $PY -c '
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(90)
c, _ = s.accept(); c.settimeout(90)
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d); n += len(d)
print(n, h.hexdigest())' "$to" >"$f.rx" 2>&1 &
	rx=$!
	wait_listen carol tcp 5001 20 &&
		alice $PY -c '
import socket, sys
c = socket.create_connection((sys.argv[1], 5001), timeout=90)
c.sendall(sys.stdin.buffer.read()); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()' \
			"$to" <"$f.src"
	wait "$rx"
	[ "$(cat "$f.rx")" = "$(stat -c %s "$f.src") $(sha256sum "$f.src" | cut -d' ' -f1)" ]
}

# ------------------------------------------------ 1. no UDP between the NATs: relayed
udp_block || not_ok "the router's UDP block"
# carol logs in first (NATC_FIRST): the lower id, so she asks and server 2
# relays although alice starts the pair (NATC_FIRST=alice: the other way)
first=${NATC_FIRST:-carol}
second=alice
[ "$first" = alice ] && second=carol
natw_start "$first"
check "1: $first online" natw_online "$first"
natw_start "$second"
check "1: $second online" natw_online "$second"
check "1: alice logged in on server 1" \
	grep -q "login: alice@$E2E_REALM device alice-pc" "${LOG[1]}"
check "1: carol logged in on server 2" \
	grep -q "login: carol@$E2E_REALM device carol-pc" "${LOG[2]}"
check "1: server 1 lists carol with the candidates of her Redis record" \
	wait_for 30 grep -Eq "device [0-9]+ \(server s2\): [1-9] candidate\(s\) from its record" "${LOG[1]}"
aid=$(id_of alice)
cid=$(id_of carol)
if [ "${aid:-0}" -lt "${cid:-0}" ]; then asker=alice other=carol ah=1 oh=2
else asker=carol other=alice ah=2 oh=1; fi
declare -A PEER=([alice]=carol-pc [carol]=alice-pc)
RIP=${NATW_SRV_IP[$ah]}
diag "alice id $aid (s1), carol id $cid (s2): $asker asks, server $ah ($RIP) relays"
alice ping -c 1 -W 1 "$(natw_vip carol)" >/dev/null 2>&1	# the pair needs a path
check "1: $asker (lower id): no direct path, asks its server for the relay" \
	natw_wait 60 "$asker" "path to ${PEER[$asker]}: no direct path found .*asking the server to relay"
# the other end's punch may still run when the offer comes (it started
# later: the first handshake message comes through the cluster)
check "1: $other: waits for the peer's relay (or is offered it first)" natw_wait 60 "$other" \
	"path to ${PEER[$other]}: (no direct path found .*the peer \(lower id\) asks for the relay first|relayed via)"
check "1: the router dropped their UDP" test "$(dropped)" -gt 0
check "1: server $ah (the asker's) opens a relay for the pair" \
	wait_for 30 grep -Eq "relay [0-9]+<->[0-9]+: ports [0-9]+ .* on $RIP\$" "${LOG[$ah]}"
check "1: server $oh delivers the offer to $other through the cluster" \
	wait_for 30 grep -Eq "relay for ${PEER[$asker]} and ${PEER[$other]} \(server s$ah\): port $RIP:40[0-9]+, through that server" "${LOG[$oh]}"
check "1: alice: relayed via server $ah" natw_wait 30 alice "path to carol-pc: relayed via $RIP:40[0-9]+"
check "1: carol: relayed via server $ah" natw_wait 30 carol "path to alice-pc: relayed via $RIP:40[0-9]+"
check "1: both latched their ports on server $ah's relay" \
	wait_for 30 sh -c "[ \$(grep -c 'latched port' '${LOG[$ah]}') -ge 2 ]"
check "1: alice's pings reach carol" natw_ping alice carol
check "1: 20 pings over the relay, all answered" alice ping -c 20 -i 0.2 -W 3 "$(natw_vip carol)"
check "1: a 1 MiB TCP transfer over the relay arrives whole" tcp_xfer relayed
check_fail "1: $other never asked server $oh (one relay for the pair)" \
	natw_has "$other" "no relay offered in 3 s; asking the server"
check_fail "1: server $oh opened no relay" grep -q "latched port\|: ports [0-9]* (for" "${LOG[$oh]}"
check "1: alice's kernel sends to the relay" matches "$(natw_path alice carol-pc)" "^$RIP:40[0-9]+\$"
check "1: carol's kernel sends to the relay" matches "$(natw_path carol alice-pc)" "^$RIP:40[0-9]+\$"
p=$(path_of alice carol-pc); diag "alice's record for carol: $p"
check "1: show --json (alice): relayed" matches "$p" '^relayed\|'
p=$(path_of carol alice-pc); diag "carol's record for alice: $p"
check "1: show --json (carol): relayed" matches "$p" '^relayed\|'
# the relaying server adds its relay's address to its device's report
check "1: Redis: peer-path-changed relayed, $asker's report (with the relay)" wait_for 10 \
	published by=device "device=${NATW_DEV[$asker]}" how=relay path=relayed \
	"peer_device=${PEER[$asker]}" "relay_ip=$RIP"
check "1: Redis: peer-path-changed relayed, $other's report" wait_for 10 published \
	by=device "device=${NATW_DEV[$other]}" how=relay path=relayed "peer_device=${PEER[$other]}"
check "1: Redis: peer-path-changed relayed, by server $ah's relay" wait_for 10 published \
	by=relay path=relayed "relay_ip=$RIP" 'relay_port=40[0-9]+'

# ------------------------------------------------ 2. UDP between the NATs again: direct
net nft delete table ip block
check "2: alice goes direct to carol's NAT" \
	natw_wait 60 alice "path to carol-pc: direct.* 10\.0\.3\.2:51820"
check "2: carol goes direct to alice's NAT" \
	natw_wait 60 carol "path to alice-pc: direct.* 10\.0\.1\.2:51820"
check "2: alice's kernel sends to carol's NAT" \
	wait_for 20 eval '[ "$(natw_path alice carol-pc)" = 10.0.3.2:51820 ]'
check "2: carol's kernel sends to alice's NAT" \
	wait_for 20 eval '[ "$(natw_path carol alice-pc)" = 10.0.1.2:51820 ]'
check "2: pings answered" alice ping -c 5 -i 0.2 -W 3 "$(natw_vip carol)"
check "2: a 1 MiB TCP transfer direct arrives whole" tcp_xfer direct
check "2: still direct after the transfer" \
	test "$(natw_path alice carol-pc) $(natw_path carol alice-pc)" = "10.0.3.2:51820 10.0.1.2:51820"
p=$(path_of alice carol-pc); diag "alice's record for carol: $p"
check "2: show --json (alice): direct" matches "$p" '^direct\|'
p=$(path_of carol alice-pc); diag "carol's record for alice: $p"
check "2: show --json (carol): direct" matches "$p" '^direct\|'
check "2: Redis: peer-path-changed direct, alice's report" wait_for 10 published \
	by=device device=alice-pc 'how=[a-z-]+' path=direct peer_device=carol-pc
check "2: Redis: peer-path-changed direct, carol's report" wait_for 10 published \
	by=device device=carol-pc 'how=[a-z-]+' path=direct peer_device=alice-pc

# ------------------------------------------------ 3. hostile
JZC=$TOP/build/tests/jzclient
if [ ! -x "$JZC" ]; then
	JZC=$W/jzclient
	# shellcheck disable=SC2046
	cc -O0 -D_GNU_SOURCE -I"$TOP/userspace/jazzd" $(pkg-config --cflags krb5 jansson openssl) \
		-o "$JZC" "$TOP/tests/host/controlplane/jzclient.c" "$TOP"/userspace/jazzd/auth/*.c \
		$(pkg-config --libs krb5 jansson openssl) -lpthread >"$W/jzclient-cc.txt" 2>&1
fi
check "3: the test client (build/tests/jzclient)" test -x "$JZC"
printf '%s\n' "sleep 1" "{\"type\":\"relay_request\",\"peer\":$cid}" >"$W/bob.send"
r1=$(grep -c ': ports [0-9]* (for' "${LOG[1]}"); r2=$(grep -c ': ports [0-9]* (for' "${LOG[2]}")
bob "$JZC" -s 10.0.0.2:7443 -C "$W/server.crt" -r "$E2E_REALM" -S "$E2E_SERVICE" -m kerberos \
	-c "FILE:$W/bob.cc" -u bob -d bob-pc cands "$W/bob.send" 4 >"$W/bob.out" 2>&1
bid=$(sed -n 's/^id //p' "$W/bob.out" | head -n 1)
diag "bob (test client, server 1): id ${bid:-none}"
check "3: bob logged in on server 1" test -n "$bid"
check "3: bob's relay request for carol (not linked to him) is refused" \
	grep -q "^relay_refused $cid not a linked device online" "$W/bob.out"
check "3: server 1 says why" \
	grep -q "relay for bob-pc to device $cid refused: not a linked device online" "${LOG[1]}"
check "3: no relay opened on either server" \
	test "$(grep -c ': ports [0-9]* (for' "${LOG[1]}") $(grep -c ': ports [0-9]* (for' "${LOG[2]}")" = "$r1 $r2"
ip netns exec "$(ns_name srv)" redis-cli -p 6379 XADD jazz:relay:s2 '*' f "$bid" t "$cid" k relay \
	m '{"ip":"10.0.0.2","port":40049}' >/dev/null
check "3: an offer for bob and carol in server 2's relay stream is not delivered" \
	wait_for 10 grep -q "relay from device $bid for $cid not delivered: not linked here" "${LOG[2]}"
check_fail "3: carol was offered no relay with bob" natw_has carol "relay for unknown peer $bid|10\.0\.0\.2:40049"
check "3: alice and carol still direct, pings answered" alice ping -c 3 -i 0.3 -W 3 "$(natw_vip carol)"
natw_stop alice carol

check "server 1 is still running" kill -0 "$NATW_SRV"
check "server 2 is still running" kill -0 "$NATW_SRV2"
check "no client or server logged an error" \
	sh -c "! grep -E '\[(err|crit)\]' '$W/alice.log' '$W/carol.log' '${LOG[1]}' '${LOG[2]}'"
dmesg_check "kernel log clean"
