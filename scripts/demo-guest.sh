#!/usr/bin/env bash
# Runs inside the demo VM (scripts/demo.sh): two hosts, a jazz tunnel
# between them, and a connection held until userspace approves it.
# Each step is a TAP check (tests/vm/lib.sh), so a failure is visible and
# the VM harness reports it.
set -uo pipefail
. "$(dirname "$0")/../tests/vm/lib.sh"
TOP=${JAZZ_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
JZ=$TOP/build/jazzctl
say() { printf '\n>> %s\n' "$*"; }

check "modprobe jazz" modprobe jazz
ns_add alice bob
check "underlay link" veth alice eth0 bob eth0
addr alice eth0 192.168.50.1/24
addr bob eth0 192.168.50.2/24
n() { ip netns exec "$(ns_name "$1")" "${@:2}"; }
check "underlay reachable" n alice ping -c 1 -W 2 192.168.50.2
say "alice and bob are two hosts joined by an underlay link (192.168.50.0/24)"
check "ip link add jazz0 type jazz (alice)" n alice ip link add jazz0 type jazz
check "ip link add jazz0 type jazz (bob)" n bob ip link add jazz0 type jazz
addr alice jazz0 10.77.0.1/24
addr bob jazz0 10.77.0.2/24
check "jazzctl set (alice)" n alice "$JZ" set jazz0 listen-port 51901 peer 2 remote-id 1 name bob \
	endpoint 192.168.50.2:51902 allowed-ips 10.77.0.2/32
check "jazzctl set (bob)" n bob "$JZ" set jazz0 listen-port 51902 peer 1 remote-id 2 name alice \
	endpoint 192.168.50.1:51901 allowed-ips 10.77.0.1/32
KA=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n'); SA=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
KB=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n'); SB=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
check "keys (alice)" n alice "$JZ" key jazz0 new peer 2 slot primary id 1 cipher chacha20-poly1305 tx "$KA:$SA" rx "$KB:$SB"
check "keys (bob)" n bob "$JZ" key jazz0 new peer 1 slot primary id 1 cipher chacha20-poly1305 tx "$KB:$SB" rx "$KA:$SA"
say "each has a jazz0 device (ip link add jazz0 type jazz) with fresh ChaCha20-Poly1305 keys:"
n alice "$JZ" show jazz0

say "connection checks are on: with nobody answering, alice's ping is refused (fail closed)"
check_fail "ping refused while nobody approves" n alice ping -c 1 -W 2 10.77.0.2

say "now an approver answers on both ends (jazzctl answer approve-all; jazzd does this in a real network)"
n alice "$JZ" conn jazz0 flush
n bob "$JZ" conn jazz0 flush
n alice "$JZ" answer jazz0 approve-all >"$JAZZ_OUT/answer-alice.log" 2>&1 &
A1=$!
n bob "$JZ" answer jazz0 approve-all >"$JAZZ_OUT/answer-bob.log" 2>&1 &
A2=$!
# The approvers need a moment to join the group under software emulation.
wait_for 30 n alice ping -c 1 -W 3 10.77.0.2 >/dev/null 2>&1
check "ping approved and answered" n alice ping -c 3 -i 0.3 -W 3 10.77.0.2
say "the approved connections, as the kernel sees them:"
n alice "$JZ" conns jazz0
n bob "$JZ" conns jazz0

say "a TCP transfer through the tunnel (iperf3, 3 seconds):"
n bob iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
sleep 1
n alice iperf3 -c 10.77.0.2 -p 5201 -t 3 >"$JAZZ_OUT/iperf3.txt" 2>&1
check "TCP transfer completed" grep -q receiver "$JAZZ_OUT/iperf3.txt"
tail -4 "$JAZZ_OUT/iperf3.txt"
kill "$A1" "$A2" 2>/dev/null || true

say "counters after the demo:"
n alice "$JZ" show jazz0
say "done: logs of the approvers are in out/demo/; see docs/ARCHITECTURE.md for what ran where"
