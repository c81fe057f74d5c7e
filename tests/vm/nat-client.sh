#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A jazzd client finds its public mapping by itself (issue 20): with
# [client] stun_server it asks jazzd's STUN port every stun_interval
# seconds from its jazz device's socket (kernel stun-send / stun-rx-ntf, its
# own netlink socket) and logs what the NAT gives that socket; when the NAT
# rebinds (the connection table flushed and the rule made fully-random),
# the next refresh finds the new mapping, which is the NAT's new entry.
# Forged answers (3000, random transaction ids) are not taken and do not
# stop discovery. The client has no server to log in to here (its control
# connection is refused and retried): discovery does not depend on the login.
# About 80 s on a stock kernel under TCG; skipped without nftables NAT.
#
#   c1: jazz0 port 51820, jazzd client   nat: masquerade   srv: jazzd STUN 3478
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/lib-nat.sh"

nat_prelude
nat_servers 3478
nat_rule

cat >"$T/c1.conf" <<CONF
[jazzd]
mode = client
[client]
server = 203.0.113.2:9
ca = $T/c.pem
device = c1-pc
method = password
user = alice
realm = JAZZ.TEST
password = x
identity_key = $T/c1.key
reconnect_min = 1
reconnect_max = 2
stun_server = 203.0.113.2:3478
stun_interval = 2
[kernel]
backend = netlink
ifname = jazz0
CONF
bg c1 "$JAZZD" -f -d -c "$T/c1.conf" >"$T/c1.log" 2>&1
CLIENT=$!
check "the client asks 203.0.113.2:3478 every 2 s from jazz0's socket" \
	wait_for 30 grep -q "endpoint discovery: asking 203.0.113.2:3478 every 2 s from jazz0's socket" "$T/c1.log"
check "it finds jazz0's public mapping: the NAT's address, port 51820 kept" \
	wait_for 60 grep -q "endpoint discovery: jazz0 is 203.0.113.1:51820 from outside (local port 51820, STUN server 203.0.113.2:3478)" "$T/c1.log"
check_eq "the NAT's entry is for jazz0's port 51820" "$(ct_port 3478)" 51820

# Rebinding: a fresh connection table and random ports.
nat_rule fully-random
check "the next refresh finds the new mapping" \
	wait_for 60 grep -q "endpoint discovery: jazz0 moved from 203.0.113.1:51820 to 203.0.113.1:" "$T/c1.log"
new=$(sed -n 's/.*jazz0 moved from 203.0.113.1:51820 to 203.0.113.1:\([0-9]*\) .*/\1/p' "$T/c1.log" | head -n 1)
check_eq "the new mapping is the NAT's new entry" "$new" "$(ct_port 3478)"
check "kept open: refreshes go on (several answers counted on jazz0)" \
	sh -c "ip netns exec $(ns_name c1) $PY '$NLT' stats jazz0 | grep -Eq '^rx_stun=([3-9]|[1-9][0-9]+)$'"
# Hostile: forged answers (random transaction ids, a mapping of
# 6.6.6.6:666) from a socket next to the client, 3000 in bursts, and from
# the server's own address but another port: none is taken, and discovery
# works after them (the NAT made port-preserving again is found).
c1 $PY -c '
import os, socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    tx = os.urandom(12)
    ip = bytes(b ^ k for b, k in zip(socket.inet_aton("6.6.6.6"), struct.pack(">I", 0x2112A442)))
    body = struct.pack(">HHBBH", 0x20, 8, 0, 1, 666 ^ 0x2112) + ip
    s.sendto(struct.pack(">HHI", 0x0101, len(body), 0x2112A442) + tx + body, ("192.168.1.2", 51820))
    if i % 500 == 499:
        time.sleep(0.5)
'
nat_rule
check "after the forged answers the client finds the port-preserving mapping again" \
	wait_for 60 grep -q "endpoint discovery: jazz0 moved from 203.0.113.1:$new to 203.0.113.1:51820 " "$T/c1.log"
check "no forged mapping was taken" sh -c "! grep -q '6.6.6.6' '$T/c1.log'"
check "the kernel rate-limited the flood (drop_stun_rate > 0)" \
	sh -c "ip netns exec $(ns_name c1) $PY '$NLT' stats jazz0 | grep -Eq '^drop_stun_rate=[1-9]'"
check "the client is still running" kill -0 "$CLIENT"
kill "$CLIENT"
check "it stops cleanly" wait_for 20 grep -q "jazzd stopped" "$T/c1.log"
check "nothing logged an error" sh -c "! grep -E '\[(err|crit)\]' '$T/c1.log'"
dmesg_check "kernel log clean"
