#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The relay (issue 20), real jazzd clients and server, Kerberos logins,
# nftables NAT namespaces (tests/vm/lib-nat.sh "NAT world"):
#   1. alice and carol both behind fully-random (endpoint-dependent) NATs
#      that drop every unsolicited packet: the punch finds no direct path,
#      both ask the server, which relays them through a pair of UDP ports
#      on 10.0.0.2 ([server] relay_listen): pings cross, each kernel sends
#      to the relay, and the server counts what it forwarded (encrypted:
#      the server has no key and no jazz device);
#   1b. the server restarts (SIGKILL): the devices log in again and keep
#      their peers, but the relay is gone; at the next retry the relay
#      answers no latch and a new one is asked for: pings cross again;
#   2. carol's NAT gets a port forward: at the next retry
#      ([client] path_retry = 5 s here) alice punches a direct path, her
#      kernel sends there, and carol's kernel follows alice's first
#      authenticated message (no longer through the relay);
#   3. carol is direct-only ([client] direct_only): the server refuses to
#      relay the pair (both ends are told why) and nothing is relayed;
#   Each step also checks what `jazzctl show` and `show --json` say of
#   the path (the record jazzd writes into jazz.ko): relayed since when
#   and why, then direct again (punched; the other end: followed by its
#   kernel), a later "since"; no record where no path was found;
#   4. hostile: 200 forged latches (the right ids, from another device's
#      address), 200 from bob behind alice's own NAT (her public IP, the
#      right ids, not her port's token) and 200 junk datagrams to alice's
#      relay port are not taken and the relayed pings go on (relay requests for devices that are
#      not linked: tests/host/nat-candidates.sh).
# About 210-280 s on a stock kernel under TCG; skipped without nftables NAT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib-nat.sh"

NATW_SERVER_EXTRA="relay_listen = 10.0.0.2
relay_ports = 40000-40099
relay_idle = 60"
natw_up
for n in alice carol; do natw_set "$n" path_retry 5; done

# path_of NODE PEER: "KIND|REASON|SINCE_NS" of NODE's path record for PEER
# as `jazzctl show --json` gives it ("none": null)
path_of() {
	ip netns exec "$(ns_name "$1")" "$JZ" show jazz0 --json | $PY -c '
import json, sys
p = [x["path"] for x in json.load(sys.stdin)["peers"] if x["name"] == sys.argv[1]]
print("%s|%s|%d" % (p[0]["kind"], p[0]["reason"], p[0]["since_ns"]) if p and p[0] else "none")' "$2"
}
# show_has NODE ERE: a line of NODE's `jazzctl show jazz0` matches
show_has() { ip netns exec "$(ns_name "$1")" "$JZ" show jazz0 | grep -Eq -- "$2"; }
# matches STRING ERE
matches() { printf '%s\n' "$1" | grep -Eq -- "$2"; }
SINCE='since [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}'

# ------------------------------------------------ 1. relayed
natw_rules na random drop
natw_rules nc random drop
natw_start alice carol
check "1: alice online" natw_online alice
check "1: carol online" natw_online carol
alice ping -c 1 -W 1 "$(natw_vip carol)" >/dev/null 2>&1	# the pair needs a path
# the end with the lower id asks, the other waits 3 s for the offer
check "1: alice: no direct path; she (or carol, the lower id) asks for the relay" natw_wait 60 alice \
	"path to carol-pc: no direct path found .*(asking the server to relay|the peer \(lower id\) asks for the relay first)"
check "1: the server opens a relay for the pair" \
	wait_for 30 grep -Eq "relay [0-9]+<->[0-9]+: ports 400[0-9][0-9] " "$W/srv.log"
check "1: alice: relayed via the server" natw_wait 30 alice "path to carol-pc: relayed via 10.0.0.2:400[0-9][0-9]"
check "1: carol: relayed via the server" natw_wait 30 carol "path to alice-pc: relayed via 10.0.0.2:400[0-9][0-9]"
check "1: both latched their relay ports" \
	wait_for 30 sh -c "[ \$(grep -c 'latched port' '$W/srv.log') -ge 2 ]"
check "1: alice's pings reach carol" natw_ping alice carol
check "1: alice's kernel sends to the relay" \
	sh -c "ip netns exec $(ns_name alice) $JZ show jazz0 --json | grep -q '10.0.0.2:400'"
check "1: carol's kernel sends to the relay" \
	sh -c "ip netns exec $(ns_name carol) $JZ show jazz0 --json | grep -q '10.0.0.2:400'"
to=$(natw_vip carol)
check "1: 20 pings over the relay, all answered" alice ping -c 20 -i 0.2 -W 3 "$to"
check "1: jazzctl show (alice): relayed since T (no direct path found in 10 s)" \
	wait_for 10 show_has alice "^  path: relayed $SINCE \(no direct path found in 10 s\)\$"
check "1: jazzctl show (carol): relayed since T, and why" wait_for 10 show_has carol \
	"^  path: relayed $SINCE \((no direct path found in 10 s|the peer found no direct path)\)\$"
p1=$(path_of alice carol-pc)
diag "alice's record for carol: $p1"
check "1: show --json (alice): kind relayed, the reason, since_ns" \
	matches "$p1" '^relayed\|no direct path found in 10 s\|[1-9][0-9]{17,}$'
check "1: show --json (carol): kind relayed" matches "$(path_of carol alice-pc)" '^relayed\|'
check "1: peer-path-changed published from alice's report: relayed, with her relay port" \
	wait_for 10 grep -Eq 'event peer-path-changed \{"by":"device","device":"alice-pc","how":"relay","path":"relayed","peer_device":"carol-pc".*"relay_ip":"10.0.0.2","relay_port":400[0-9][0-9]' "$W/srv.log"

# ------------------------------------------------ 1b. the server restarts: its relay is gone
# the devices log in again and keep their peers; the relay's ports are
# closed, so the kernels would send to a dead port: the next retry finds
# the relay silent and a new one is asked for
kill -9 "$NATW_SRV"
wait "$NATW_SRV" 2>/dev/null
echo "---- restart $(date +%T.%N)" >>"$W/srv.log"
bg srv "$JAZZD" -f -d -c "$W/server.conf" >>"$W/srv.log" 2>&1
NATW_SRV=$!
logins() { [ "$(natw_log alice | grep -c 'logged in as')" -ge 2 ] && [ "$(natw_log carol | grep -c 'logged in as')" -ge 2 ]; }
check "1b: alice and carol log in again after the server's restart" wait_for 60 logins
check "1b: the relay does not answer: a new one is asked for" wait_for 60 sh -c \
	"cat '$W/alice.log' '$W/carol.log' | grep -Eq 'path to (carol|alice)-pc: the relay at 10.0.0.2:400[0-9]+ does not answer; asking the server for a new one'"
check "1b: the restarted server opens a relay for the pair" \
	wait_for 30 sh -c "sed -n '/^---- restart/,\$p' '$W/srv.log' | grep -Eq 'relay [0-9]+<->[0-9]+: ports 400[0-9][0-9] '"
check "1b: both latched the new relay" wait_for 30 sh -c \
	"[ \$(sed -n '/^---- restart/,\$p' '$W/srv.log' | grep -c 'latched port') -ge 2 ]"
check "1b: alice's pings reach carol through the new relay" natw_ping alice carol
srvpid=$NATW_SRV

# ------------------------------------------------ 2. back to direct
echo "---- step 2: carol's port forward at $(date +%T.%N)" >>"$W/alice.log"
# a router with a port forward keeps its own input closed (fw), as the
# tests' NATs all do: docs/ARCHITECTURE.md "Which NATs"
natw_rules nc masq fwd fw
# a retry every path_retry (5 s) + a punch of up to 10 s: ~15 s a round
check "2: alice finds a direct path at a retry" \
	natw_wait 60 alice "path to carol-pc: direct to 10\.0\.3\.2:51820 "
diag "$(natw_log alice | grep -E 'path to carol-pc: direct to 10\.0\.3\.2:51820 ' | head -n 1)"
# for the log: both NATs' UDP connection tables once alice went direct (or not)
for ns in na nc; do $ns conntrack -L -p udp >"$W/ct-step2-$ns.txt" 2>&1; done
check "2: alice's kernel sends direct" \
	wait_for 20 sh -c "ip netns exec $(ns_name alice) $JZ show jazz0 --json | grep -q '10.0.3.2:51820'"
check "2: pings still answered" alice ping -c 5 -i 0.2 -W 3 "$to"
check "2: carol's kernel follows alice to her NAT's address, off the relay" \
	wait_for 30 sh -c "ip netns exec $(ns_name carol) $JZ show jazz0 --json | grep -q '\"10.0.1.2:[0-9]*\"'"
check "2: jazzctl show (alice): direct since T (punched in N ms, its candidate)" wait_for 20 \
	show_has alice "^  path: direct $SINCE \(punched in [0-9]+ ms, [a-z-]+ candidate\)\$"
p2=$(path_of alice carol-pc)
diag "alice's record for carol: $p2"
check "2: show --json (alice): kind direct, a later since_ns than the relayed one" \
	test "${p2%%|*}" = direct -a "${p2##*|}" -gt "${p1##*|}"
check "2: jazzctl show (carol): direct since T (her kernel followed alice's packets)" wait_for 30 \
	show_has carol "^  path: direct $SINCE \(the peer's packets came from 10\.0\.1\.2:[0-9]+\)\$"
check "2: peer-path-changed published from carol's report: direct, peer-seen" \
	wait_for 10 grep -Eq 'event peer-path-changed \{"by":"device","device":"carol-pc","how":"peer-seen","path":"direct","peer_device":"alice-pc".*"why":"the peer.s packets came from 10.0.1.2:[0-9]+"' "$W/srv.log"
pc=$(path_of carol alice-pc)
diag "carol's record for alice: $pc"
check "2: show --json (carol): kind direct, the address her kernel followed" \
	matches "$pc" "^direct\|the peer's packets came from 10\.0\.1\.2:[0-9]+\|[1-9][0-9]{17,}\$"
natw_stop alice carol

# ------------------------------------------------ 3. direct only
natw_rules na random drop
natw_rules nc random drop
natw_set carol direct_only yes
natw_start alice carol
natw_online alice && natw_online carol
alice ping -c 2 -W 2 "$(natw_vip carol)" >/dev/null 2>&1
check "3: carol (direct-only) finds no direct path and does not ask for a relay" \
	natw_wait 40 carol "path to alice-pc: no direct path found .*direct_only: not relayed"
check "3: alice asks, and the server refuses: the peer is direct-only" \
	natw_wait 40 alice "path to carol-pc: the server will not relay: the peer is direct-only"
check_fail "3: alice was never relayed" natw_has alice "path to carol-pc: relayed"
check_fail "3: alice's pings do not reach carol" alice ping -c 3 -W 2 "$(natw_vip carol)"
check_eq "3: show --json (alice): no path record (none found, none taken)" "$(path_of alice carol-pc)" none
check_eq "3: show --json (carol): no path record" "$(path_of carol alice-pc)" none
check_fail "3: jazzctl show (carol): no path line" show_has carol "^  path:"
natw_stop alice carol

# ------------------------------------------------ 4. hostile
natw_set carol direct_only no
natw_start alice carol
natw_online alice && natw_online carol
natw_ping alice carol >/dev/null
natw_wait 40 alice "path to carol-pc: relayed via" || true
port=$(natw_log alice | sed -n 's/.*path to carol-pc: relayed via 10.0.0.2:\([0-9]*\).*/\1/p' | tail -n 1)
diag "alice's relay port: ${port:-none}"
check "4: a relay port for alice" test -n "$port"
before=$(grep -c "latched port" "$W/srv.log")
aid=$(natw_log alice | sed -n 's/.*logged in as .*(id \([0-9]*\)).*/\1/p' | tail -n 1)
cid=$(natw_log carol | sed -n 's/.*logged in as .*(id \([0-9]*\)).*/\1/p' | tail -n 1)
# forge NS JUNK: from NS, 200 latches {alice, carol} to alice's port with
# random transaction ids (and, JUNK 1, 200 junk datagrams)
forge() {
	$1 $PY - "$port" "$aid" "$cid" "$2" <<'PYEOF'
import os, socket, struct, sys
port, aid, cid, junk = (int(x) for x in sys.argv[1:5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    m = struct.pack(">HHI", 1, 12, 0x2112A442) + os.urandom(12) + struct.pack(">HHII", 0xC0A7, 8, aid, cid)
    s.sendto(m, ("10.0.0.2", port))
    if junk:
        s.sendto(os.urandom(64), ("10.0.0.2", port))
PYEOF
}
# from carol's NAT (not alice's address): the right ids, the wrong source
forge carol 1
# from bob, behind alice's own NAT: her public IP, the right ids, but
# not her port's token (the offer's, over TLS) as the transaction id
forge bob 0
sleep 1
check_eq "4: forged latches are not taken (from another address; from alice's own public IP without her port's token)" \
	"$(grep -c 'latched port' "$W/srv.log")" "$before"
check "4: pings still cross the relay" alice ping -c 3 -i 0.3 -W 3 "$(natw_vip carol)"
natw_stop alice carol

check "the server is still running" kill -0 "$srvpid"
check "no client or server logged an error" \
	sh -c "! grep -E '\[(err|crit)\]' '$W/alice.log' '$W/carol.log' '$W/srv.log'"
dmesg_check "kernel log clean"
