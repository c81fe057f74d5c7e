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
check "alice logged the agreed key" wait_for "$T/alice-pc.log" "key $k1 for peer bob-pc agreed and in use" 5
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
	local grp line g
	grp=$(sed -n 's/.*approvals group \([0-9]*\)$/\1/p' "$T/alice-pc.log" | tail -n1)
	[ -n "$grp" ] || return 1
	# the same socket also takes the "notify" group (key-rotate): any
	# socket whose group mask has the approvals bit
	ss -f netlink -em | grep 'genl:' | while read -r line; do
		g=$(grep -o 'groups=0x[0-9a-f]*' <<<"$line" | cut -d= -f2)
		[ -n "$g" ] && (( g & (1 << (grp - 1)) )) && grep -o 'rb[0-9]*' <<<"$line" | tr -d rb
	done
}
rb=$(approvals_rcvbuf | sort -n | tail -n1)
echo "# approvals socket receive buffer: ${rb:-not found}"
check "jazzd's approvals socket has an 8 MiB receive buffer" test "${rb:-0}" -ge 8388608
check "no netlink errors in the client log" bash -c "! grep -q 'netlink:\|rtnetlink:' '$T/alice-pc.log'"
grep -E 'netlink|kernel' "$T/alice-pc.log" | sed 's/^/# /'

# Rotation by packet count through the real module: jazz.ko sends
# key-rotate-ntf once a key has sent tx_soft_limit packets; jazzd (alice,
# the lower id) starts a handshake, bob answers, the new key goes into
# jazz0's secondary slot and is swapped in.
P=/sys/module/jazz/parameters
old_soft=$(cat $P/tx_soft_limit)
kr0=$(kid_real primary)
nb=$(count "$T/bob-pc.kernel" "^key-swap peer=1")
echo 3 >$P/tx_soft_limit
ping -c 5 -i 0.3 -W 2 10.77.0.3 >/dev/null 2>&1
check "jazz0's key $kr0 hit the soft limit: alice's jazzd got the notification" \
	wait_for "$T/alice-pc.log" "peer bob-pc: key $kr0 sent [0-9]+ packets, near its limit: a new key is due" 10
check "alice started the handshake for it" \
	wait_for "$T/alice-pc.log" "handshake for key [0-9]+ started \(rotation by packet count\)" 5
check "jazz0 sends with a new key" bash -c "
	for i in \$(seq 100); do
		k=\$('$TOP/build/jazzctl' show jazz0 keys | grep -o 'primary:[0-9]*' | cut -d: -f2)
		[ -n \"\$k\" ] && [ \"\$k\" != '$kr0' ] && exit 0
		sleep 0.1
	done; exit 1"
kr1=$(kid_real primary)
"$TOP/build/jazzctl" show jazz0 keys | sed 's/^/# keys: /'
check "bob installed key $kr1 in its secondary slot and swapped it in after alice's confirm" bash -c "
	grep -q '^key-new peer=1 slot=secondary key-id=$kr1 ' '$T/bob-pc.kernel' &&
	for i in \$(seq 50); do [ \$(grep -c '^key-swap peer=1' '$T/bob-pc.kernel') -gt $nb ] && exit 0; sleep 0.1; done; exit 1"
check "no key-rotate notification was refused or ignored" \
	bash -c "! grep -q 'key-rotate.*ignored' '$T/alice-pc.log'"
echo "$old_soft" >$P/tx_soft_limit

# A local process forges key-rotate-ntf for the key in use, sent straight
# to jazzd's notification socket: well-formed, but not from the kernel
# (sender port id not 0): refused, nothing rotates.
jazzd_mc_port() { # the port id of the socket in the approvals group
	local grp line g
	grp=$(sed -n 's/.*approvals group \([0-9]*\)$/\1/p' "$T/alice-pc.log" | tail -n1)
	ss -f netlink -em | grep 'genl:' | while read -r line; do
		g=$(grep -o 'groups=0x[0-9a-f]*' <<<"$line" | cut -d= -f2)
		[ -n "$g" ] && (( g & (1 << (grp - 1)) )) && awk '{ print $3 }' <<<"$line" | sed 's/.*[:\/]//'
	done | head -n1
}
mcport=$(jazzd_mc_port)
fam=$(sed -n 's/.*family jazz id \([0-9]*\),.*/\1/p' "$T/alice-pc.log" | tail -n1)
kr=$(kid_real primary)
echo "# jazzd's notification socket: port ${mcport:-?}, family ${fam:-?}, key in use ${kr:-?}"
nrot=$(count "$T/alice-pc.log" "near its limit")
forge() { # forge MODE: 50 well-formed MODE (rotate, conn) messages to that port
	/usr/bin/python3 - "$1" "$TOP/netlink/jazz.h" "${mcport:-0}" "${fam:-0}" \
		"$(cat /sys/class/net/jazz0/ifindex)" "${kr:-0}" <<'PYFORGE'
import re, socket, struct, sys
mode, hdr = sys.argv[1], sys.argv[2]
port, fam, ifindex, kid = (int(x) for x in sys.argv[3:7])
val = {}
for body in re.findall(r"enum(?: \w+)? \{(.*?)\};", open(hdr).read(), re.S):
    n = 0
    for name, eq in re.findall(r"(JAZZ_\w+)\s*(=\s*\d+)?\s*,", body):
        n = int(eq.split("=")[1]) if eq else n
        val[name] = n
        n += 1
def attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)
if mode == "rotate":
    cmd, nest = "JAZZ_CMD_KEY_ROTATE_NTF", "JAZZ_A_KEY"
    inner = attr(val["JAZZ_A_KEYCONF_PEER_ID"], struct.pack("=I", 2)) + \
        attr(val["JAZZ_A_KEYCONF_SLOT"], struct.pack("=I", val["JAZZ_KEY_SLOT_PRIMARY"])) + \
        attr(val["JAZZ_A_KEYCONF_KEY_ID"], struct.pack("=B", kid))
else:  # a new UDP connection alice -> bob, port 4444, as jazz.ko would ask
    cmd, nest = "JAZZ_CMD_CONN_REQUEST_NTF", "JAZZ_A_CONN"
    inner = attr(val["JAZZ_A_CONN_COOKIE"], struct.pack("=Q", 4444)) + \
        attr(val["JAZZ_A_CONN_PEER_ID"], struct.pack("=I", 2)) + \
        attr(val["JAZZ_A_CONN_DIRECTION"], struct.pack("=B", val["JAZZ_DIRECTION_EGRESS"])) + \
        attr(val["JAZZ_A_CONN_PROTO"], struct.pack("=B", 17)) + \
        attr(val["JAZZ_A_CONN_SRC_ADDR"], socket.inet_aton("10.77.0.2")) + \
        attr(val["JAZZ_A_CONN_SRC_PORT"], struct.pack("!H", 40000)) + \
        attr(val["JAZZ_A_CONN_DST_ADDR"], socket.inet_aton("10.77.0.3")) + \
        attr(val["JAZZ_A_CONN_DST_PORT"], struct.pack("!H", 4444))
body = struct.pack("=BBH", val[cmd], 1, 0) + \
       attr(val["JAZZ_A_IFINDEX"], struct.pack("=I", ifindex)) + attr(val[nest] | 0x8000, inner)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
s.bind((0, 0))
for i in range(50):
    s.sendto(struct.pack("=IHHII", 16 + len(body), fam, 0, i, 0) + body, (port & 0xffffffff, 0))
PYFORGE
}
forge rotate
check "forged key-rotate (sent by a process, not the kernel) is refused and logged" \
	wait_for "$T/alice-pc.log" "netlink: key-rotate not from the kernel: ignored" 5
sleep 1.5
check "... and nothing rotates: key $kr still in use, no new rotation" bash -c "
	[ '$(kid_real primary)' = '$kr' ] && [ \$(grep -c 'near its limit' '$T/alice-pc.log') = $nrot ]"
check "the 50 forged messages took one log line" \
	test "$(count "$T/alice-pc.log" "key-rotate not from the kernel")" = 1

# The same for an approval request: a local process asking jazzd, as if
# it were jazz.ko, to get a UDP connection to bob approved. jazzd must not
# take it to the server (which would approve it and install verdicts).
forge conn
check "forged conn-request (sent by a process, not the kernel) is refused and logged" \
	wait_for "$T/alice-pc.log" "netlink: conn-request not from the kernel: ignored" 5
sleep 1.5
check "... and the server never heard of it (no UDP approval)" \
	bash -c "! grep -q 'approval: alice-pc -> bob-pc udp' '$T/server.log'"
check "... and bob got no verdict for it" bash -c "! grep -q 'verdict .*proto=udp' '$T/bob-pc.kernel'"
cp_stop alice-pc
cp_stop bob-pc
cp_done
