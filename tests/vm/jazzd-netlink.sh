#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run inside the VM by scripts/test.sh (vm suite), or by hand:
#   scripts/vm.sh --kernel 6.12 --each tests/vm/jazzd-netlink.sh
# A jazzd client with the real netlink backend on jazz0 (jazz.ko loaded)
# next to a fake-kernel client: addresses, peer, keys and the approval
# bridge through the real module, and jazzd answering approver probes.
# TAP output.
set -u
. "$(dirname "$0")/../host/controlplane/lib.sh"

modprobe jazz || { echo "not ok 1 - modprobe jazz"; exit 1; }
ip link set lo up
ip link add jazz0 type jazz || { echo "not ok 1 - ip link add jazz0 type jazz"; exit 1; }
cp_setup || { echo "not ok 1 - setup"; exit 1; }
# Device-agreed pair keys (the default): the netlink client and the fake
# one run the Noise_KK handshake through the server. jazz0 is down when
# jazzd starts: the client must bring it up before it reads the listen
# port it announces at login.
cp_server_conf
cp_start server
# the finding behind this test's device-key failure: a jazz device made
# without a port has none (0) until it is up, when jazz.ko binds its socket
check "jazz0 is down and has no listen port yet (0)" bash -c "
	! ip link show jazz0 | grep -q ',UP' &&
	'$TOP/build/jazzctl' show jazz0 | grep -q 'listen-port: 0\$'"
check "server starts" wait_for "$T/server.log" "server listening" 10
cp_client_conf alice-pc alice kerberos "[kernel]" "backend = netlink" "ifname = jazz0"
cp_start alice-pc
check "netlink client logs in" wait_for "$T/alice-pc.log" "logged in as alice" 20
cp_client_conf bob-pc bob password
cp_start bob-pc
check "fake client logs in" wait_for "$T/bob-pc.log" "logged in as bob" 20
sleep 2
ip addr show dev jazz0 | sed 's/^/# /'
check "jazz0 has the leased IPv4 address" bash -c "ip -4 addr show dev jazz0 | grep -q '10.77.0.2/16'"
check "jazz0 has the leased IPv6 address" bash -c "ip -6 addr show dev jazz0 | grep -q 'fd77:6a61:7a7a::2/64'"
check "jazz0 is up" bash -c "ip link show jazz0 | grep -q ',UP'"
"$TOP/build/jazzctl" show jazz0 | sed 's/^/# /'
check "peer bob-pc installed in the kernel with allowed-ips and endpoint" bash -c "
	'$TOP/build/jazzctl' show jazz0 | grep -q bob-pc && '$TOP/build/jazzctl' show jazz0 allowed-ips | grep -q '10.77.0.3/32'"
# alice (id 1, the lower) starts the Noise_KK handshake; bob (fake) answers
# and installs the agreed key in its primary slot; both name it by one id
kid_real() { "$TOP/build/jazzctl" show jazz0 keys | grep -o "$1:[0-9]*" | head -n1 | cut -d: -f2; }
kid_fake() { sed -n "s/^key-new peer=1 slot=$1 key-id=\([0-9]*\) .*/\1/p" "$T/bob-pc.kernel" | tail -n1; }
port=$("$TOP/build/jazzctl" show jazz0 | awk '/listen-port:/ { print $2; exit }')
echo "# jazz0 listen port: ${port:-none}"
check "alice announced jazz0's real listen port (not 0): bob installed it as alice's endpoint" \
	wait_for "$T/bob-pc.kernel" "^peer-new id=1 .* endpoint=127\.0\.0\.1:${port:-none}\$" 5
check "no peer skipped for its endpoint" bash -c "! grep -q 'endpoint is not an address' '$T/bob-pc.log' '$T/alice-pc.log'"
check "device handshake: a key in jazz0's primary slot for bob" bash -c "
	for i in \$(seq 150); do
		'$TOP/build/jazzctl' show jazz0 keys | grep -q primary && exit 0
		sleep 0.1
	done; exit 1"
k1=$(kid_real primary); k2=$(kid_fake primary)
echo "# key id: jazz0 ${k1:-none}, bob's fake kernel ${k2:-none}"
check "device handshake: both ends installed the same key id" test -n "$k1" -a "$k1" = "$k2"
check "alice logged the agreed key" grep -q "key $k1 for peer bob-pc agreed and in use" "$T/alice-pc.log"
ping -c1 -W3 10.77.0.3 >/dev/null 2>&1 &
check "kernel approval request reaches the server through the client" \
	wait_for "$T/server.log" "approval: alice-pc -> bob-pc icmp" 10
check "verdict installed at the destination (fake)" wait_for "$T/bob-pc.kernel" "verdict approve peer=1 .*proto=icmp" 10
check "verdict installed in the real kernel at the origin" wait_for "$T/alice-pc.log" "verdict approve for icmp" 10
"$TOP/build/jazzctl" conns jazz0 | sed 's/^/# /'
# jazzd is the only listener on approvals here: the probe's answer is its.
check "jazzd answers an approver probe (jazzctl probe, rtt > 0)" bash -c "
	'$TOP/build/jazzctl' probe jazz0 --timeout 3000 >'$T/probe' &&
	awk '{ exit !(\$6 > 0) }' '$T/probe'"
sed 's/^/# /' "$T/probe"
check "jazzd answers 20 probes in a row" bash -c "'$TOP/build/jazzctl' probe jazz0 --count 20 --timeout 3000 | grep -q ' 20 answered'"
# a burst of new connections must not overrun jazzd's approvals socket:
# find it by its group membership (its port id is not the pid, so ss
# cannot name the process) and read its receive buffer
approvals_rcvbuf() {
	local grp mask
	grp=$(sed -n 's/.*approvals group \([0-9]*\)$/\1/p' "$T/alice-pc.log" | tail -n1)
	[ -n "$grp" ] || return 1
	mask=$(printf '0x%08x' $((1 << (grp - 1))))
	ss -f netlink -em | grep 'genl:' | grep "groups=$mask" | grep -o 'rb[0-9]*' | tr -d rb
}
rb=$(approvals_rcvbuf | sort -n | tail -n1)
echo "# approvals socket receive buffer: ${rb:-not found}"
check "jazzd's approvals socket has an 8 MiB receive buffer" test "${rb:-0}" -ge 8388608
check "no netlink errors in the client log" bash -c "! grep -q 'netlink:\|rtnetlink:' '$T/alice-pc.log'"
grep -E 'netlink|kernel' "$T/alice-pc.log" | sed 's/^/# /'
cp_stop alice-pc
cp_stop bob-pc
cp_done
