#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configuration racing teardown (issue 14, defect 1 and the race tests):
#
#   peer-new by ifindex (with an endpoint and a 1 s keepalive) while
#     `ip link del` removes the device, for ROUNDS rounds: on main the
#     module kept peers of deleted devices (160 after 60 rounds) and 6.12
#     panicked in their keepalive timers;
#   peer-new/set/get/del and key-new/swap against link delete;
#   the same while the device's creating namespace (where its sockets
#     live) is deleted, with listen-port changes;
#   peer-new against rmmod, then the module loads again.
#
# After each: the module's object counters (devices, peers, keys) are back
# to zero, and the kernel log is clean. JAZZ_ROUNDS (default 12).
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/race-teardown.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip
need_module jazz

TOP=${JAZZ_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
NLT=$TOP/tests/vm/netlink_tool.py
ROUNDS=${JAZZ_ROUNDS:-12}
T=$(mktemp -d)
on_exit rm -rf "$T"
dmesg_mark

objects() { cat /sys/module/jazz/parameters/objects; }
zero() { [ "$(objects)" = "devices 0 peers 0 keys 0" ]; }
check_zero() {
	if wait_for 15 zero; then ok "$1: every object freed"; else not_ok "$1: every object freed" "$(objects)"; fi
}
check_zero "before the races"

ns_add a b
a ip link add dummy0 type dummy
a ip addr add 10.250.0.2/24 dev dummy0
a ip link set dummy0 up

# ------------------------------------------- peer-new vs link delete (#1)
accepted=0
for r in $(seq "$ROUNDS"); do
	a ip link add jz0 type jazz && a ip link set jz0 up
	idx=$(a cat /sys/class/net/jz0/ifindex)
	a $PY "$NLT" peerstorm "$idx" 20 $((r * 100000)) 1 >"$T/storm" 2>&1 &
	pid=$!
	sleep $((RANDOM % 2 + 1)).$((RANDOM % 10))
	a ip link del jz0
	wait "$pid"
	n=$(sed -n 's/^accepted //p' "$T/storm")
	[ -n "$n" ] || { not_ok "peerstorm round $r" "$(cat "$T/storm")"; break; }
	accepted=$((accepted + n))
done
diag "$ROUNDS rounds, $accepted peers accepted"
check_eq "peers were accepted while the device existed" "$([ "$accepted" -gt 0 ] && echo y)" y
check_zero "peer-new vs link delete"
sleep 3	# the leaked peers' keepalive timers fired within 1-2 s on main
check_zero "3 s later (keepalive timers)"

# --------------------------- peer/key churn vs link delete, 2 clients
for r in $(seq $((ROUNDS / 2))); do
	a ip link add jz0 type jazz && a ip link set jz0 up
	a $PY "$NLT" peerchurn jz0 20 >"$T/churn1" 2>&1 &
	p1=$!
	a $PY "$NLT" peerchurn jz0 20 >"$T/churn2" 2>&1 &
	p2=$!
	sleep $((RANDOM % 3 + 1)).$((RANDOM % 10))	# python starts slowly under TCG
	a ip link del jz0
	wait "$p1"; r1=$?
	wait "$p2"; r2=$?
	[ "$r1$r2" = 00 ] || { not_ok "peerchurn round $r" "$(cat "$T/churn1" "$T/churn2")"; break; }
done
diag "last churn: $(cat "$T/churn1")"
check_zero "peer/key churn vs link delete"

# ---------------------------------- creating namespace deleted (sockets)
for r in $(seq $((ROUNDS / 2))); do
	ns_add c
	c ip link add jz0 type jazz
	c ip link set jz0 netns "$(ns_name a)"
	a ip link set jz0 up
	a $PY "$NLT" peerchurn jz0 3 >"$T/churn1" 2>&1 &
	p1=$!
	for i in 1 2 3 4 5; do a "$TOP/build/jazzctl" set jz0 listen-port $((20000 + i)) 2>/dev/null; done &
	p2=$!
	sleep 1.$((RANDOM % 10))
	ip netns del "$(ns_name c)"
	wait "$p1" "$p2"
	a ip link del jz0
done
check_zero "configuration vs deleting the creating namespace"

# ------------------------------------------------ device namespace deleted
for r in $(seq $((ROUNDS / 2))); do
	ns_add d
	d ip link add jz0 type jazz
	d ip link set jz0 up
	d $PY "$NLT" peerchurn jz0 1 >/dev/null 2>&1
	ip netns del "$(ns_name d)"
done
check_zero "namespace with a configured device deleted"

# --------------------------------------------------- peer-new vs rmmod
a ip link add jz0 type jazz && a ip link set jz0 up
idx=$(a cat /sys/class/net/jz0/ifindex)
a $PY "$NLT" peerstorm "$idx" 10 1 1 >"$T/storm" 2>&1 &
pid=$!
sleep 1
if modprobe -r jazz; then
	wait "$pid"
	ok "rmmod while peer-new runs ($(cat "$T/storm"))"
	check "the module loads again" modprobe jazz
	check_zero "peer-new vs rmmod"
else
	wait "$pid"
	skip "rmmod while peer-new runs" "module busy"
	a ip link del jz0
fi
dmesg_check
