#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Endpoint discovery through a NAT (issue 20): `jazzctl stun` asks the
# jazzd server's STUN port ([server] stun_listen) from the jazz device's own
# UDP socket (the kernel's stun-send / stun-rx-ntf) and prints the public
# mapping the NAT gave that socket. The NAT is an nftables namespace; the
# NAT's own connection table is the reference for what the mapping is.
#   - port-preserving masquerade: the mapping is the NAT's address with the
#     device's listen port, the same towards two servers (endpoint
#     independent), and the NAT's entry is for the device's port: the
#     request left from the tunnel socket;
#   - `masquerade fully-random` (iptables: random-fully): each server sees another port, each the
#     one in the NAT's entry for that server (endpoint dependent);
#   - an answer with the wrong transaction id is not taken (jazzctl times
#     out), and the device's counters count what went through it.
# About 90 s on a stock kernel under TCG. Needs nft and conntrack, and a
# kernel with nftables NAT (skipped otherwise: the debug kernel has none).
#
#   c1: veth 192.168.1.2/24, default via .1    jazz0 port 51820
#   nat: 192.168.1.1/24 | 203.0.113.1/24, forwarding, nft masquerade out
#   srv: 203.0.113.2/24: jazzd servers with STUN on 3478 and 3479
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/lib-nat.sh"

nat_prelude
nat_servers 3478 3479

# ------------------------------------------------------- port-preserving
nat_rule
# A generous timeout: under TCG at load 20 an answer through three
# namespaces and jazzd's loop can take seconds (it is a bound, not a measure).
W="--timeout 15000"
out1=$(c1 "$JZ" stun jazz0 203.0.113.2:3478 $W)
check_eq "masquerade: jazzctl stun prints the NAT's address and the listen port" \
	"$out1" "jazz0: mapped 203.0.113.1:51820 (local port 51820, asked 203.0.113.2:3478)"
check_eq "the NAT's entry is for the device's port 51820 (the request left from jazz0)" \
	"$(ct_port 3478)" 51820
out2=$(c1 "$JZ" stun jazz0 203.0.113.2:3479 --json $W)
check_eq "the same mapping towards a second server (endpoint independent), JSON" \
	"$out2" '{"ifname":"jazz0","server":"203.0.113.2:3479","mapped":"203.0.113.1:51820","local_port":51820}'

# ------------------------------------------------------- fully-random
nat_rule fully-random
mapped() { $PY -c 'import json,sys; print(json.load(sys.stdin)["mapped"])' 2>/dev/null; }
m1=$(c1 "$JZ" stun jazz0 203.0.113.2:3478 --json $W | mapped)
m2=$(c1 "$JZ" stun jazz0 203.0.113.2:3479 --json $W | mapped)
if [ -z "$m1" ] || [ -z "$m2" ]; then
	diag "NAT entries: $(nat conntrack -L -p udp 2>/dev/null)"
	diag "c1 jazz0: $(c1 $PY "$NLT" stats jazz0 | grep stun | tr '\n' ' ')"
	diag "servers: $(tail -n 3 "$T"/s347?.log)"
fi
diag "fully-random: $m1 towards 3478, $m2 towards 3479 (listen port 51820)"
check_eq "fully-random: the mapping towards 3478 is the NAT's entry" "$m1" "203.0.113.1:$(ct_port 3478)"
check_eq "and towards 3479 the other entry (endpoint dependent)" "$m2" "203.0.113.1:$(ct_port 3479)"
check "two entries, two public ports" test "${m1##*:}" != "${m2##*:}"

# ------------------------------------------------------- wrong answers
nat_rule
# A "server" on 3999 that answers every request with another transaction id.
bg srv $PY -c '
import os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("203.0.113.2", 3999))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(2000)
    ip = bytes(b ^ k for b, k in zip(socket.inet_aton(a[0]), d[4:8]))
    body = struct.pack(">HHBBH", 0x20, 8, 0, 1, a[1] ^ 0x2112) + ip
    s.sendto(struct.pack(">HH", 0x0101, len(body)) + d[4:8] + os.urandom(12) + body, a)
' >"$T/liar.out"
wait_for 30 grep -q ready "$T/liar.out"
c1 "$JZ" stun jazz0 203.0.113.2:3999 --timeout 1500 >"$T/liar.stdout" 2>"$T/liar.stderr"
rc=$?
check_eq "answers with another transaction id are not taken (exit 1)" "$rc" 1
check "it says nothing answered" grep -q "no answer from 203.0.113.2:3999 within 1500 ms" "$T/liar.stderr"
check "and prints no mapping" test ! -s "$T/liar.stdout"
check "jazz0 counted the requests it sent and the answers it got" \
	sh -c "c=\$(ip netns exec $(ns_name c1) $PY '$NLT' stats jazz0); echo \"\$c\" | grep -Eq '^tx_stun=([6-9]|[1-9][0-9]+)$' && echo \"\$c\" | grep -Eq '^rx_stun=([6-9]|[1-9][0-9]+)$'"
check "jazzd's STUN ports still answer" c1 "$JZ" stun jazz0 203.0.113.2:3478 $W
dmesg_check "kernel log clean"
