#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Hole punching through NATs (issue 20), real jazzd clients and server,
# Kerberos logins, nftables NAT namespaces (tests/vm/lib-nat.sh "NAT
# world"). Each device sends its candidates (its own addresses and the
# public mapping its STUN refresh found) to the server, which lists them to
# the linked peers; when a pair first needs a path (its on-demand
# handshake), both ends send STUN checks to each other's candidates from
# the tunnel socket, and a check answered picks the kernel's endpoint.
# Each case checks which path was taken (the client's log and the
# kernel's endpoint) and that pings cross:
#   1. port-preserving masquerade at both ends (the routers' own input
#      closed, as home routers have it): direct, public mappings;
#   2. both NATs drop every unsolicited packet: direct, punched;
#   3. fully-random (endpoint-dependent) mapping at alice's end, carol's
#      port forwarded: direct; carol's kernel learns alice's per-peer
#      mapping from her first authenticated packet (the NAT's entry);
#   4. two devices behind the same NAT: direct over their own addresses
#      (host candidates), never through the NAT's public side;
#   5. fully-random at both ends (and filtering): no direct path exists;
#      both ends say so (relaying is a later stage of issue 20).
# About 150 s on a stock kernel under TCG; skipped without nftables NAT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib-nat.sh"

natw_up

# ct_pub NS SRC DST DPORT: the public port NS's NAT gave SRC:51820 towards DST:DPORT
ct_pub() {
	$1 conntrack -L -p udp --orig-src "$2" --orig-port-src 51820 --orig-dst "$3" \
		--orig-port-dst "$4" 2>/dev/null | sed -n 's/.* dport=\([0-9]*\) *\(\[\|mark\|use\|$\).*/\1/p' | tail -n 1
}

# ------------------------------------------------ 1. port-preserving
natw_start alice carol
check "1: alice logs in and sends her candidates (public mapping found)" natw_online alice
check "1: carol too" natw_online carol
check "1: the server takes alice's candidates (first: her NAT's 10.0.1.2:51820)" \
	wait_for 20 grep -q "alice-pc: [0-9] candidate(s), first 10.0.1.2 (srflx)" "$W/srv.log"
check "1: alice's pings reach carol over the tunnel" natw_ping alice carol
check "1: alice: the path to carol is direct to carol's public mapping" \
	natw_wait 20 alice "path to carol-pc: direct to 10.0.3.2:51820 \(srflx candidate, punched"
check "1: carol: the path to alice is direct to alice's public mapping" \
	natw_wait 20 carol "path to alice-pc: direct to 10.0.1.2:51820 \(srflx candidate, punched"
check_eq "1: alice's kernel sends to carol's public mapping" "$(natw_path alice carol-pc)" 10.0.3.2:51820
check "1: the server publishes peer-path-changed from alice's report: direct, srflx, since" \
	wait_for 10 grep -Eq 'event peer-path-changed \{"by":"device","device":"alice-pc","how":"srflx","path":"direct","peer_device":"carol-pc".*"since":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"' "$W/srv.log"
check_eq "1: carol's kernel sends to alice's public mapping" "$(natw_path carol alice-pc)" 10.0.1.2:51820
natw_stop alice carol

# ------------------------------------------------ 2. unsolicited dropped
natw_rules na masq drop
natw_rules nc masq drop
natw_start alice carol
natw_online alice && natw_online carol
check "2: behind NATs that drop unsolicited packets, alice's pings reach carol" natw_ping alice carol
check "2: alice: punched a direct path to carol's public mapping" \
	natw_wait 20 alice "path to carol-pc: direct to 10.0.3.2:51820 \(srflx candidate, punched"
check "2: carol: punched a direct path to alice's public mapping" \
	natw_wait 20 carol "path to alice-pc: direct to 10.0.1.2:51820 \(srflx candidate, punched"
check_eq "2: alice's kernel sends to carol's public mapping" "$(natw_path alice carol-pc)" 10.0.3.2:51820
diag "nc's drop rules: $(nc nft list table ip nat 2>/dev/null | grep -o 'counter packets [0-9]*' | tr '\n' ' ')"
natw_stop alice carol

# ------------------------------------------------ 3. fully-random at one end
natw_rules na random fw
natw_rules nc masq fwd
natw_start alice carol
natw_online alice && natw_online carol
check "3: alice behind fully-random mapping: her pings reach carol" natw_ping alice carol
check "3: alice: a direct path to carol (port forwarded: 10.0.3.2:51820)" \
	natw_wait 20 alice "path to carol-pc: direct to 10.0.3.2:51820"
pub=$(ct_pub na 192.168.1.2 10.0.3.2 51820)
diag "na's public port for alice towards carol: ${pub:-none}"
check "3: alice's NAT has a per-destination port for carol" test -n "$pub"
check "3: carol's kernel sends to that port (the source of alice's authenticated packets)" \
	wait_for 20 sh -c "[ \"\$(ip netns exec $(ns_name carol) $JZ show jazz0 --json | grep -o '10.0.1.2:[0-9]*' | head -n 1)\" = 10.0.1.2:$pub ]"
natw_stop alice carol

# ------------------------------------------------ 4. two devices behind one NAT
natw_rules na masq fw
natw_rules nc masq fw
natw_start alice bob
natw_online alice && natw_online bob
check "4: alice's pings reach bob (the same NAT)" natw_ping alice bob
check "4: alice: direct to bob's own address (host candidate)" \
	natw_wait 20 alice "path to bob-pc: direct to 192.168.2.2:51820 \(host candidate"
check "4: bob: direct to alice's own address (host candidate)" \
	natw_wait 20 bob "path to alice-pc: direct to 192.168.1.2:51820 \(host candidate"
check_eq "4: alice's kernel sends to bob's own address" "$(natw_path alice bob-pc)" 192.168.2.2:51820
check_eq "4: bob's kernel sends to alice's own address" "$(natw_path bob alice-pc)" 192.168.1.2:51820
natw_stop alice bob

# ------------------------------------------------ 5. fully-random at both ends
natw_rules na random drop
natw_rules nc random drop
natw_start alice carol
natw_online alice && natw_online carol
to=$(natw_vip carol)
alice ping -c 3 -W 1 "$to" >/dev/null 2>&1
check "5: alice: no direct path to carol, and she says so" \
	natw_wait 40 alice "path to carol-pc: no direct path found"
check "5: carol: none to alice either" natw_wait 40 carol "path to alice-pc: no direct path found"
check_fail "5: no path to carol was claimed direct" natw_has alice "path to carol-pc: direct"
natw_stop alice carol

# ------------------------------------------------ end
check "the server is still running" kill -0 "$NATW_SRV"
check "no client or server logged an error" \
	sh -c "! grep -E '\[(err|crit)\]' '$W/alice.log' '$W/bob.log' '$W/carol.log' '$W/srv.log'"
dmesg_check "kernel log clean"
