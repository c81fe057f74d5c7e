#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The tunnel follows a change of its own underlay address (issue 14,
# session 13: a DHCP renew, a Wi-Fi switch), with no daemon involved:
#
#   n1 (the roaming end) -- r (router) -- n2
#
#   1. n1's address changes as in tests/e2e/robustness.sh (ip addr del the
#      old, add the new, ip route replace default): n1's packets leave
#      from the new address (not a cached route or source of the old one),
#      n2's kernel moves the peer's endpoint to it, and n2's replies reach
#      n1 there; a ping running across the change loses only what was
#      sent while n1 had no address;
#   2. the same for an IPv6 outer endpoint;
#   3. a Wi-Fi switch: the default route moves to a second uplink while the
#      old address stays configured (and reachable) on the first;
#   4. a race: n1's address flips 12 times under a ping flood in both
#      directions (KASAN/lockdep/kmemleak on the debug kernel), then the
#      tunnel works from the last address.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/roam-source.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip ping tcpdump
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude

P1=10611	# n1's listen port
P2=10612	# n2's
ns_add n1 n2 r
veth n1 up1 r ra
veth n1 up2 r rc
veth n2 veth2 r rb
r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
addr r ra 10.0.61.1/24 fd61::1/64
addr r rb 10.0.62.1/24 fd62::1/64
addr r rc 10.0.63.1/24
addr n1 up1 10.0.61.2/24 fd61::2/64
addr n1 up2 10.0.63.2/24
addr n2 veth2 10.0.62.2/24 fd62::2/64
n1 ip route add default via 10.0.61.1
n1 ip -6 route add default via fd61::1
n2 ip route add default via 10.0.62.1
n2 ip -6 route add default via fd62::1
n1 ip link add jazz0 type jazz
n2 ip link add jazz0 type jazz
addr n1 jazz0 10.6.0.1/24
addr n2 jazz0 10.6.0.2/24
check "n1 config" n1 "$JZ" set jazz0 listen-port $P1 conncheck off \
	peer 2 remote-id 1 name n2 endpoint "10.0.62.2:$P2" allowed-ips 10.6.0.2/32
check "n2 config" n2 "$JZ" set jazz0 listen-port $P2 conncheck off \
	peer 1 remote-id 2 name n1 endpoint "10.0.61.2:$P1" allowed-ips 10.6.0.1/32
check "n1 key" n1 "$JZ" key jazz0 new peer 2 slot primary id 1 cipher chacha20-poly1305 tx "$K1:$S1" rx "$K2:$S2"
check "n2 key" n2 "$JZ" key jazz0 new peer 1 slot primary id 1 cipher chacha20-poly1305 tx "$K2:$S2" rx "$K1:$S1"
check "tunnel up from 10.0.61.2" n1 ping -c 2 -i 0.2 -W 2 10.6.0.2

ep2() { n2 "$JZ" show jazz0 endpoints | cut -f2; }
pong() { n1 ping -c 1 -W 1 10.6.0.2; }
# tunnel_from ADDR: n2 sees n1's tunnel packets from ADDR (a capture on
# n2's uplink while n1 pings) and takes it as the endpoint.
tunnel_from() {
	local f=$T/cap.$RANDOM
	n2 timeout 8 tcpdump -lni veth2 -c 2 "udp and dst port $P2" >"$f" 2>/dev/null &
	local cap=$!
	sleep 1
	n1 ping -c 3 -i 0.3 -W 1 10.6.0.2 >/dev/null 2>&1
	wait "$cap"
	diag "n2 captured: $(head -1 "$f" | cut -d' ' -f2-6)"
	grep -q " IP6\? $1\.$P1 > " "$f"
}
state() {
	diag "n1: $(n1 ip -br addr show "$1" | tr -s ' ') | $(n1 ip route get "$2" 2>&1 | head -1)"
	diag "n2 endpoint of n1: $(ep2)"
}

# ------------------------------- 1. the address changes (DHCP renew)
ping_across() {	# a ping running across the change, one id throughout
	n1 ping -c "$1" -i 0.1 -W 1 10.6.0.2 >"$T/across.txt" 2>&1 &
	ACROSS=$!
	sleep 1
}
ping_across 100
n1 ip addr del 10.0.61.2/24 dev up1
n1 ip addr add 10.0.61.3/24 dev up1
n1 ip route replace default via 10.0.61.1
check "ping n1 -> n2 from the new address 10.0.61.3" wait_for 20 pong
wait "$ACROSS"
diag "ping across the change: $(grep -o '[0-9]* received.*loss' "$T/across.txt")"
check "the ping running across the change got answers after it" \
	bash -c "[ \"\$(grep -c 'bytes from' '$T/across.txt')\" -ge 20 ]"
state up1 10.0.62.2
check_eq "n2's kernel follows: endpoint of n1" "$(ep2)" "10.0.61.3:$P1"
check "n1's packets leave from 10.0.61.3 (no cached source of 10.0.61.2)" tunnel_from 10.0.61.3

# ----------------------------------------------------- 2. IPv6 outer
check "n1's peer endpoint set to n2's IPv6 address" \
	n1 "$JZ" set jazz0 peer 2 endpoint "[fd62::2]:$P2"
check "tunnel up over IPv6 from fd61::2" wait_for 20 pong
check_eq "n2's endpoint of n1 is fd61::2" "$(ep2)" "[fd61::2]:$P1"
n1 ip addr del fd61::2/64 dev up1
n1 ip addr add fd61::3/64 dev up1 nodad
n1 ip -6 route replace default via fd61::1
check "ping n1 -> n2 from the new IPv6 address fd61::3" wait_for 20 pong
state up1 fd62::2
check_eq "n2's kernel follows: IPv6 endpoint of n1" "$(ep2)" "[fd61::3]:$P1"
check "n1's packets leave from fd61::3" tunnel_from fd61::3
n1 "$JZ" set jazz0 peer 2 endpoint "10.0.62.2:$P2"
check "back to IPv4 outer" wait_for 20 pong

# ------------------------------------------ 3. a Wi-Fi switch (uplinks)
n1 ip route replace default via 10.0.63.1 dev up2
check "ping n1 -> n2 after the default route moved to the second uplink" wait_for 20 pong
state up2 10.0.62.2
check_eq "n2's kernel follows: endpoint of n1 on the second uplink" "$(ep2)" "10.0.63.2:$P1"
check "n1's packets leave from 10.0.63.2 (the old address is still up)" tunnel_from 10.0.63.2
n1 ip route replace default via 10.0.61.1 dev up1
check "and back on the first uplink" wait_for 20 pong
check_eq "n2's endpoint of n1 back on 10.0.61.3" "$(ep2)" "10.0.61.3:$P1"

# ----------------------------------- 4. address flips under a flood (race)
n1 ping -f -w 15 -W 1 10.6.0.2 >"$T/flood1.txt" 2>&1 &
F1=$!
n2 ping -f -w 15 -W 1 10.6.0.1 >"$T/flood2.txt" 2>&1 &
F2=$!
cur=10.0.61.3
for i in $(seq 12); do
	new=10.0.61.$((4 + i % 2))
	n1 ip addr del "$cur/24" dev up1
	n1 ip addr add "$new/24" dev up1
	n1 ip route replace default via 10.0.61.1 dev up1
	cur=$new
	sleep 0.3
done
wait "$F1" "$F2"
diag "flood n1 -> n2 across the flips: $(grep -o '[0-9]* received.*loss' "$T/flood1.txt")"
diag "flood n2 -> n1 across the flips: $(grep -o '[0-9]* received.*loss' "$T/flood2.txt")"
check "ping n1 -> n2 from the last address $cur" wait_for 20 pong
check_eq "n2's endpoint of n1 is the last address" "$(ep2)" "$cur:$P1"
check "n2 -> n1 works too" n2 ping -c 2 -i 0.2 -W 2 10.6.0.1

n1 ip link del jazz0
n2 ip link del jazz0
check "every jazz.ko object freed" wait_for 20 eval '[ "$(objects)" = "devices 0 peers 0 keys 0" ]'
dmesg_check
