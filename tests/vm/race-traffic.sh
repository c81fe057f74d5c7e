#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configuration racing the data path (issue 14 race tests):
#
#   peer delete and re-add under bidirectional ping floods;
#   key-new and key-swap under the floods (both ends);
#   peer/key churn from two clients under the floods;
#   connection verdicts (jazzctl answer approve-all) racing peer delete,
#     with connection checks on and new connections every few ms.
#
# Afterwards the devices are deleted: the module's object counters are
# back to zero and the kernel log is clean. JAZZ_ROUNDS (default 20).
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/race-traffic.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip ping
need_module jazz

TOP=${JAZZ_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
JZ=$TOP/build/jazzctl
NLT=$TOP/tests/vm/netlink_tool.py
ROUNDS=${JAZZ_ROUNDS:-20}
[ -x "$JZ" ] || skip_all "build/jazzctl not built"
T=$(mktemp -d)
on_exit rm -rf "$T"
dmesg_mark
zero() { [ "$(cat /sys/module/jazz/parameters/objects)" = "devices 0 peers 0 keys 0" ]; }

. "$(dirname "$0")/lib-pair.sh"
pair_devices 192.168.244 10.0.4 fd04
pair_config 192.168.244 10.0.4 fd04 10400
check "tunnel up" n1 ping -c 2 -i 0.2 -W 2 10.0.4.2

readd() { # NS PEER REMOTE-ID OTHER: put the peer back with its key
	local ns=$1 p=$2 rid=$3 o=$4 tx rx
	if [ "$ns" = n1 ]; then tx="$K1:$S1" rx="$K2:$S2"; else tx="$K2:$S2" rx="$K1:$S1"; fi
	"$ns" "$JZ" set jazz0 peer "$p" remote-id "$rid" endpoint "192.168.244.$o:$((10400 + o))" \
		allowed-ips "10.0.4.$o/32,fd04::$o/128" persistent-keepalive 1 &&
	"$ns" "$JZ" key jazz0 new peer "$p" slot primary id 1 cipher chacha20-poly1305 tx "$tx" rx "$rx"
}

flood() {
	bg n1 ping -f -q -w "$1" 10.0.4.2
	bg n2 ping -f -q -w "$1" 10.0.4.1
	bg n1 ping -6 -f -q -w "$1" fd04::2
}

# ------------------------------------------------ peer delete under floods
flood 60
fails=0
for r in $(seq "$ROUNDS"); do
	n1 "$JZ" set jazz0 peer 2 remove || fails=$((fails + 1))
	[ $((r % 2)) = 0 ] && { n2 "$JZ" set jazz0 peer 1 remove || fails=$((fails + 1)); }
	sleep 0.0$((RANDOM % 9 + 1))
	readd n1 2 1 2 || fails=$((fails + 1))
	[ $((r % 2)) = 0 ] && { readd n2 1 2 1 || fails=$((fails + 1)); }
	sleep 0.$((RANDOM % 3))
done
check_eq "$ROUNDS peer delete/re-add rounds under floods" "$fails" 0
check "tunnel works after the deletes" n1 ping -c 2 -i 0.2 -W 2 10.0.4.2

# ----------------------------------------------- key new/swap under floods
fails=0
for r in $(seq "$ROUNDS"); do
	n1 "$JZ" key jazz0 new peer 2 slot secondary id $((r % 200 + 2)) cipher chacha20-poly1305 tx "$K3:$S1" rx "$K4:$S2" || fails=$((fails + 1))
	n1 "$JZ" key jazz0 swap peer 2 || fails=$((fails + 1))
	n2 "$JZ" key jazz0 new peer 1 slot secondary id $((r % 200 + 2)) cipher chacha20-poly1305 tx "$K4:$S2" rx "$K3:$S1" || fails=$((fails + 1))
	n2 "$JZ" key jazz0 swap peer 1 || fails=$((fails + 1))
	n1 "$JZ" key jazz0 del peer 2 slot secondary || fails=$((fails + 1))
	n2 "$JZ" key jazz0 del peer 1 slot secondary || fails=$((fails + 1))
done
check_eq "$ROUNDS key new/swap/del rounds under floods" "$fails" 0

# ------------------------------------------- churn of other peers, floods
n1 $PY "$NLT" peerchurn jazz0 8 100 >"$T/c1" 2>&1 &
p1=$!
n1 $PY "$NLT" peerchurn jazz0 8 100 >"$T/c2" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
check_eq "two clients churn peers 101..108 under floods" "$r1$r2" 00
diag "churn: $(cat "$T/c1")"
for p in $(seq 101 108); do n1 "$JZ" set jazz0 peer "$p" remove 2>/dev/null; done

# ----------------------------------------- verdicts racing peer delete
check "connection checks on at both ends" bash -c \
	"ip netns exec $(ns_name n1) $JZ set jazz0 conncheck on approval-timeout 2s &&
	 ip netns exec $(ns_name n2) $JZ set jazz0 conncheck on approval-timeout 2s"
bg n1 "$JZ" answer jazz0 approve-all --quiet
bg n2 "$JZ" answer jazz0 approve-all --quiet
sleep 1
for r in $(seq "$ROUNDS"); do
	for i in 1 2 3; do n1 ping -c 1 -W 1 10.0.4.2 >/dev/null 2>&1 & done
	n2 ping -c 1 -W 1 10.0.4.1 >/dev/null 2>&1 &
	sleep 0.0$((RANDOM % 9 + 1))
	n1 "$JZ" set jazz0 peer 2 remove
	n2 "$JZ" set jazz0 peer 1 remove
	readd n1 2 1 2 >/dev/null
	readd n2 1 2 1 >/dev/null
	wait_for 1 false
done
wait_for 5 n1 ping -c 1 -W 1 10.0.4.2
check "tunnel with checks works after the verdict races" n1 ping -c 2 -i 0.2 -W 2 10.0.4.2

n1 ip link del jazz0
n2 ip link del jazz0
if wait_for 15 zero; then ok "every object freed"; else not_ok "every object freed" "$(cat /sys/module/jazz/parameters/objects)"; fi
dmesg_check
