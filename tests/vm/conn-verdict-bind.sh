#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A connection verdict applies only to the connection it was asked about
# (issue 15, kernel side; on main cookies were sequential and a verdict
# was matched by cookie alone):
#
#   cookies are random values below 2^53 (exact in JSON), not consecutive;
#   a verdict whose peer-id is not the held connection's peer is refused
#     (EINVAL, extack) and the connection stays pending;
#   a verdict whose addresses are not the connection's is refused too;
#   with the right peer and addresses it is taken; a cookie alone still is
#     (older callers), and jazzctl answer (which now sends both) works.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/conn-verdict-bind.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip ping
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude
stop() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; true; }

pair_devices 192.168.245 10.0.5 fd05
pair_config 192.168.245 10.0.5 fd05 10500
check "connection checks on in n1 (60 s to decide)" n1 "$JZ" set jazz0 conncheck on approval-timeout 60s

bg n1 "$JZ" monitor --json --group approvals >"$T/mon" 2>&1
mon=$!
sleep 1
udp() { n1 $PY -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.5.1", int(sys.argv[1]))); s.sendto(b"x", ("10.0.5.2", 6666))' "$1"; }
udp 5555
udp 5556
# (A pending connection is asked about again while it waits: same cookie.)
cookies() { pylines "$T/mon" '" ".join(dict.fromkeys(str(x["cookie"]) for x in L if x["event"] == "conn-request"))'; }
two_cookies() { [ "$(cookies | wc -w)" -ge 2 ]; }
wait_for 20 two_cookies
read -r c1 c2 _ < <(cookies)
diag "cookies $c1 $c2"
check "two connections held" test -n "$c2"
check_eq "cookies are not a sequence" "$($PY -c "print(abs($c1 - $c2) > 1 and 2**32 < $c1 < 2**53 and 2**32 < $c2 < 2**53)")" True

pending() { n1 "$JZ" conns jazz0 | grep -q "10.0.5.1:$1 -> 10.0.5.2:6666 pending"; }
out=$(n1 $PY "$NLT" verdict jazz0 "$c1" 7)
check_eq "verdict with another peer's id: refused" "$out" "EINVAL peer-id is not the connection's peer"
check "... and the connection is still pending" pending 5555
out=$(n1 $PY "$NLT" verdict jazz0 "$c1" 2 17,10.0.5.1:5556,10.0.5.2:6666)
check_eq "verdict with another connection's addresses: refused" "$out" "EINVAL addresses are not the connection's"
check "... still pending" pending 5555
out=$(n1 $PY "$NLT" verdict jazz0 "$c1" 2 17,10.0.5.2:6666,10.0.5.1:5555)
check_eq "verdict with its peer and addresses (either orientation): taken" "$out" "OK"
check "... approved" bash -c "ip netns exec $(ns_name n1) $JZ conns jazz0 | grep -q '10.0.5.1:5555 -> 10.0.5.2:6666 approved'"
out=$(n1 $PY "$NLT" verdict jazz0 "$c2" -)
check_eq "verdict by cookie alone (older callers): taken" "$out" "OK"
stop "$mon"

bg n1 "$JZ" answer jazz0 approve-all --json >"$T/ans" 2>&1
ans=$!
sleep 1
check "jazzctl answer (peer-id and addresses sent) approves a ping" n1 ping -c 2 -i 0.3 -W 5 10.0.5.2
check_eq "answer reports the verdict taken" "$(pylines "$T/ans" '[(x["verdict"], x["ok"]) for x in L][:1]')" "[('approve', True)]"
udp 5557
wait_for 5 bash -c "ip netns exec $(ns_name n1) $JZ conns jazz0 | grep -q '10.0.5.1:5557 -> 10.0.5.2:6666 approved'"
check "jazzctl answer approves a UDP connection" bash -c "ip netns exec $(ns_name n1) $JZ conns jazz0 | grep -q '10.0.5.1:5557 -> 10.0.5.2:6666 approved'"
stop "$ans"

n1 ip link del jazz0
n2 ip link del jazz0
dmesg_check
