#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Direct-connection checks of jazz.ko, the listener side (issue 3): split
# from conncheck.sh to keep each test inside the VM time limit. Two
# namespaces n1 and n2 joined by a veth, a jazz0 in each:
#   n1: veth1 10.98.0.1/24  jazz0 10.202.0.1/24 fd00:202::1/64 port 51850
#   n2: veth2 10.98.0.2/24  jazz0 10.202.0.2/24 fd00:202::2/64 port 51851
#
# A reply that comes before this end's verdict is held with the opener's
# packets and shares the verdict (approve: both released, each its own
# way; deny: both dropped); bursts of 1000 new connections answered by
# `jazzctl answer` with its 8 MiB receive buffer (nothing lost, no
# overflow) and with a 4 KiB one (overflow reported, resync, nothing lost).
#
# Run in the VM: scripts/vm.sh --each tests/vm/conncheck-burst.sh
. "$(dirname "$0")/lib-conncheck.sh"

# ------------------------------------------------------------ reply before the verdict
# n2 opens udp 10.202.0.2:6001 -> 10.202.0.1:5001 (ingress at n1, pending:
# n1's listener is silent); n1's own packet of that connection goes out
# before n1 decided. Both wait in the one hold queue and leave with the
# verdict, in order, each its own way.
n2 "$JZ" set jazz0 conncheck off
bg n1 "$JZ" monitor --json --group approvals >"$T/mon7" 2>&1
mon7=$!
sleep 1
cc0=$(jstat n1 drop_conncheck)
tool n2 udpboth 10.202.0.2 6001 10.202.0.1 5001 0 60 >"$T/both2" &
b2=$!
tool n1 udpboth 10.202.0.1 5001 10.202.0.2 6001 1.5 60 >"$T/both1" &
b1=$!
if expect "[('ingress', 'pending', 2)]" 20 is conns n1 '[(c["direction"], c["state"], c["held"]) for c in d]'; then
	ok "early reply: n1's pending ingress entry holds the peer's packet and its own reply"
else
	not_ok "early reply: n1's pending ingress entry holds the peer's packet and its own reply" "$(cat "$T/c.json")"
fi
check_eq "early reply: nothing dropped meanwhile" "$(($(jstat n1 drop_conncheck) - cc0))" 0
check "early reply: approve by cookie" n1 "$JZ" conn jazz0 approve cookie "$(conns n1 'd[0]["cookie"]')"
wait $b1 $b2
check_eq "early reply: both released, each its own way (n1 got 1, n2 got 1)" "$(cat "$T/both1")/$(cat "$T/both2")" "1/1"
check_eq "early reply: n1 held nothing after the verdict" "$(jstat n1 held)/$(($(jstat n1 drop_conncheck) - cc0))" "0/0"
n1 "$JZ" conn jazz0 flush
# The same with a deny: both directions dropped, counted once each.
tool n2 udpboth 10.202.0.2 6002 10.202.0.1 5002 0 4 >/dev/null &
b2=$!
tool n1 udpboth 10.202.0.1 5002 10.202.0.2 6002 1.5 4 >"$T/both1" &
b1=$!
expect "[2]" 20 is conns n1 '[c["held"] for c in d]'
check "early reply: deny by cookie" n1 "$JZ" conn jazz0 deny cookie "$(conns n1 'd[0]["cookie"]')"
wait $b1 $b2
check_eq "early reply, denied: both held packets dropped (drop-conncheck +2), none delivered" \
	"$(($(jstat n1 drop_conncheck) - cc0))/$(cat "$T/both1")/$(jstat n1 held)" "2/0/0"
stop "$mon7"
n1 "$JZ" conn jazz0 flush

# ------------------------------------------------------------ bursts answered
# 1000 new connections at once, answered by `jazzctl answer` (8 MiB
# receive buffer): every one approved and delivered. Then the same with a
# receive buffer too small on purpose: the overflow is reported, the
# answerer resyncs from a dump and the kernel repeats the pending
# requests (NETLINK_BROADCAST_ERROR: it was not taken for "nobody
# listens"), so nothing is lost either.
n1 "$JZ" set jazz0 hold-max 4096
burst() { # NAME RCVBUF DPORT
	local name=$1 rb=$2 dport=$3 ans sink
	bg n1 "$JZ" answer jazz0 approve-all --quiet --rcvbuf "$rb" 2>"$T/$name.err"
	ans=$!
	sleep 1
	tool n2 sink 10.202.0.2 "$dport" 1000 60 >"$T/$name.sink" &
	sink=$!
	wait_listen n2 udp "$dport"
	check_eq "$name: 1000 new UDP connections sent" "$(tool n1 flood 10.202.0.1 10.202.0.2 "$dport" 1000)" 1000
	wait $sink
	check_eq "$name: all 1000 delivered at the peer" "$(cat "$T/$name.sink")" 1000 || {
		diag "n2 $(ip netns exec "$(ns_name n2)" grep Udp: /proc/net/snmp | tr '\n' ' ')"
		diag "answer $(kill -0 "$ans" 2>/dev/null && echo still running || echo exited), its stderr:"
		diag "$(tail -n 8 "$T/$name.err")"
	}
	check_eq "$name: n1 has 1000 approved entries, none pending" \
		"$(conns n1 "len([c for c in d if c['dport'] == $dport and c['state'] == 'approved'])")/$(jstat n1 held)" "1000/0"
	stop "$ans"
}
cc0=$(jstat n1 drop_conncheck)
to0=$(jstat n1 drop_timeout)
of0=$(jstat n1 drop_hold_overflow)
# Where a drop-conncheck would come from: n1's direction (tx: its own
# packets, rx: from n2) and what n2 sent back (ICMP unreachables for UDP
# to a closed port).
tx0=$(link_stat n1 jazz0 tx_dropped)
rx0=$(link_stat n1 jazz0 rx_dropped)
np0=$(nstat_get n2 UdpNoPorts)
du0=$(nstat_get n2 IcmpOutDestUnreachs)
burst "burst 8 MiB" 8388608 9100
check "burst 8 MiB: no overflow reported" test ! -s "$T/burst 8 MiB.err"
n1 "$JZ" conn jazz0 flush
burst "burst 4 KiB" 4096 9200
check "burst 4 KiB: the overflow is reported, with a resync" \
	grep -q "approval requests lost: receive buffer overflow.*resyncing" "$T/burst 4 KiB.err"
# drop-conncheck is only reported: ICMP errors from n2 (a port nobody
# listens on) were seen counted there in loaded runs, not yet explained.
diag "bursts: n1 drop-conncheck +$(($(jstat n1 drop_conncheck) - cc0)), n1 jazz0 tx_dropped" \
	"+$(($(link_stat n1 jazz0 tx_dropped) - tx0)) rx_dropped +$(($(link_stat n1 jazz0 rx_dropped) - rx0));" \
	"n2 UdpNoPorts +$(($(nstat_get n2 UdpNoPorts) - ${np0:-0})) IcmpOutDestUnreachs" \
	"+$(($(nstat_get n2 IcmpOutDestUnreachs) - ${du0:-0}))"
check_eq "bursts: nothing timed out or overflowed at n1" \
	"$(($(jstat n1 drop_timeout) - to0))/$(($(jstat n1 drop_hold_overflow) - of0))" "0/0" ||
	diag "n1: $(ip netns exec "$(ns_name n1)" $PY "$NLT" stats jazz0 | tr '\n' ' ')"
n1 "$JZ" conn jazz0 flush
n1 "$JZ" set jazz0 hold-max 1024
n2 "$JZ" set jazz0 conncheck on

dmesg_check "kernel log clean (no WARN, oops, lockdep, leak)"
