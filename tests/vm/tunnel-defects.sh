#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Data path defects of issue 14, each of which failed on the main of
# 2026-12-04 (commit 8cb5b22):
#
#   make before break: a listen-port change to a port already bound fails
#     with EADDRINUSE and the tunnel keeps its old socket and works (#3);
#   scrubbing: encapsulated packets leave the underlay without the inner
#     packet's conntrack entry, IPv6 and IPv4 outer (#4: tc flower
#     ct_state +trk on the veth matched every IPv6-outer packet);
#   PMTU: with a 1400-byte underlay and the default jazz MTU, a DF packet
#     too big for the outer path is answered with ICMP frag-needed /
#     packet-too-big (IPv4 and IPv6 inner, IPv6 and IPv4 outer, #5), and
#     a packet that may be fragmented gets through;
#   tx_packets of the jazz device count each packet once (was twice);
#   a failed register (ifindex taken) leaves the live-devices counter as
#     it was (it went to -1).
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/tunnel-defects.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip ping tc ss
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude

pair_devices 192.168.243 10.0.3 fd03 fd00:ac
pair_config 192.168.243 10.0.3 fd03 10300
check "tunnel up" n1 ping -c 2 -i 0.2 -W 2 10.0.3.2

# ------------------------------------------------- tx counted once (#review)
before=$(link_stat n1 jazz0 tx_packets)
n1 ping -c 5 -i 0.1 -W 2 10.0.3.2 >/dev/null
after=$(link_stat n1 jazz0 tx_packets)
check_eq "jazz0 tx_packets grows by 5 for 5 pings" "$((after - before))" 5

# ---------------------------------------------- make before break (#3)
n1 $PY -c 'import socket,time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 10399))
open("'"$T"'/bound", "w").close(); time.sleep(120)' &
_T_PIDS+=($!)
wait_for 10 test -e "$T/bound"
out=$(n1 "$JZ" set jazz0 listen-port 10399 2>&1)
rc=$?
check_eq "listen-port to a bound port is refused" "$rc:$(echo "$out" | grep -c 'in use\|EADDRINUSE')" "1:1"
check_eq "listen-port still 10301" "$(n1 "$JZ" show jazz0 | sed -n "s/^ *listen-port: //p")" 10301
check "the old socket is still bound" bash -c "ss -N $(ns_name n1) -ulnH 'sport = :10301' | grep -q ."
check "the tunnel still works after the refused change" n1 ping -c 2 -i 0.2 -W 2 10.0.3.2
check "a free port can still be set" n1 "$JZ" set jazz0 listen-port 10301

# ---------------------------------------------------------- scrubbing (#4)
# act_ct on jazz0's egress gives every inner packet a conntrack entry; a
# flower filter on the underlay counts outer packets that still carry one.
trk_count() { # NS DEV PREF: packets the filter PREF matched
	tc -n "$(ns_name "$1")" -s filter show dev "$2" egress pref "$3" |
		awk '/Sent .* pkt/ { for (i = 1; i < NF; i++) if ($(i + 1) == "pkt") { print $i; exit } }'
}
if n1 tc qdisc add dev jazz0 clsact 2>/dev/null &&
	n1 tc filter add dev jazz0 egress pref 1 matchall action ct 2>/dev/null; then
	n1 tc qdisc add dev veth1 clsact
	n1 tc filter add dev veth1 egress pref 1 protocol ipv6 flower ip_proto udp ct_state +trk action pass
	n1 tc filter add dev veth1 egress pref 2 protocol ipv6 flower ip_proto udp action pass
	n1 tc filter add dev veth1 egress pref 3 protocol ip flower ip_proto udp ct_state +trk action pass
	n1 tc filter add dev veth1 egress pref 4 protocol ip flower ip_proto udp action pass
	n1 "$JZ" set jazz0 peer 2 endpoint '[fd00:ac::2]:10302'
	n2 "$JZ" set jazz0 peer 1 endpoint '[fd00:ac::1]:10301'
	n1 ping -c 9 -i 0.1 -W 2 10.0.3.2 >/dev/null
	all6=$(trk_count n1 veth1 2)
	check_eq "IPv6 outer: 9+ packets counted by the control filter" "$([ "${all6:-0}" -ge 9 ] && echo y)" y
	check_eq "IPv6 outer: no packet carries the inner conntrack entry" "$(trk_count n1 veth1 1)" 0
	n1 "$JZ" set jazz0 peer 2 endpoint 192.168.243.2:10302
	n2 "$JZ" set jazz0 peer 1 endpoint 192.168.243.1:10301
	n1 ping -c 9 -i 0.1 -W 2 10.0.3.2 >/dev/null
	all4=$(trk_count n1 veth1 4)
	check_eq "IPv4 outer: 9+ packets counted by the control filter" "$([ "${all4:-0}" -ge 9 ] && echo y)" y
	check_eq "IPv4 outer: no packet carries the inner conntrack entry" "$(trk_count n1 veth1 3)" 0
	n1 tc qdisc del dev jazz0 clsact
	n1 tc qdisc del dev veth1 clsact
else
	skip "scrubbing" "act_ct not available"
fi

# --------------------------------------------------------------- PMTU (#5)
n1 ip link set veth1 mtu 1400
n2 ip link set veth2 mtu 1400
pmtu_case() { # OUTER: 4 or 6
	local o=$1 out
	if [ "$o" = 6 ]; then
		n1 "$JZ" set jazz0 peer 2 endpoint '[fd00:ac::2]:10302'
		n2 "$JZ" set jazz0 peer 1 endpoint '[fd00:ac::1]:10301'
	else
		n1 "$JZ" set jazz0 peer 2 endpoint 192.168.243.2:10302
		n2 "$JZ" set jazz0 peer 1 endpoint 192.168.243.1:10301
	fi
	n1 ip route flush cache 2>/dev/null
	n1 ip -6 route flush cache 2>/dev/null
	out=$(n1 ping -M do -s 1392 -c 3 -i 0.3 -W 2 10.0.3.2 2>&1)
	if echo "$out" | grep -qiE 'frag needed|message too long|mtu'; then
		ok "IPv$o outer: DF ping too big gets frag-needed (IPv4 inner)"
	else
		not_ok "IPv$o outer: DF ping too big gets frag-needed (IPv4 inner)" "$out"
	fi
	check "IPv$o outer: the learnt MTU fits (DF ping of 1200)" n1 ping -M do -s 1200 -c 2 -i 0.2 -W 2 10.0.3.2
	check "IPv$o outer: a fragmentable ping of 1392 gets through" n1 ping -M dont -s 1392 -c 2 -i 0.2 -W 2 10.0.3.2
	out=$(n1 ping -6 -M do -s 1392 -c 3 -i 0.3 -W 2 fd03::2 2>&1)
	if echo "$out" | grep -qiE 'packet too big|message too long|mtu'; then
		ok "IPv$o outer: too big IPv6 inner ping gets packet-too-big"
	else
		not_ok "IPv$o outer: too big IPv6 inner ping gets packet-too-big" "$out"
	fi
	check "IPv$o outer: IPv6 inner ping of 1200 gets through" n1 ping -6 -s 1200 -c 2 -i 0.2 -W 2 fd03::2
}
pmtu_case 6
pmtu_case 4
n1 ip link set veth1 mtu 1500
n2 ip link set veth2 mtu 1500

# ------------------------------------------ failed register (#review)
before=$(objects)
out=$(n1 ip link add jzbad index 1 type jazz 2>&1)
check_eq "link add with a taken ifindex fails" "$([ $? != 0 ] && echo y)" y
check_eq "the objects counter is unchanged after the failed register" "$(objects)" "$before"

n1 ip link del jazz0
n2 ip link del jazz0
check "every device, peer and key freed" wait_for 10 bash -c '[ "$(cat /sys/module/jazz/parameters/objects)" = "devices 0 peers 0 keys 0" ]'
dmesg_check
