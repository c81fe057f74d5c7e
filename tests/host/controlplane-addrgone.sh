#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The jazzd client's control connection when its own address goes away
# (issue 14, session 13: a DHCP renew, a Wi-Fi switch; client/addrwatch.c).
# Server and client in two network namespaces joined by a veth (server
# 10.9.9.1, client 10.9.9.2), fake kernel backend, password login:
#   - an unrelated address added and removed on the client: still connected;
#   - hostile: 2000 forged RTM_DELADDR messages for the connection's own
#     address, unicast from a local process to the client's rtnetlink
#     socket: still connected (only the kernel's messages make it look,
#     and a look checks the interfaces themselves);
#   - the client's address changes (10.9.9.2 deleted, 10.9.9.3 added): the
#     client drops the connection at once, saying why, and logs in again
#     from 10.9.9.3 (without the watch: at the dead timeout, 3 keepalives).
# About 10 s.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (network namespaces)"; exit 0; }
cp_setup || { echo "not ok 1 - setup"; exit 1; }
[ -n "${KEEP:-}" ] && echo "# T=$T"
NS_S=jzag-s-$$
NS_C=jzag-c-$$
ns_cleanup() {
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	cp_cleanup
}
trap ns_cleanup EXIT
ip netns add "$NS_S" && ip netns add "$NS_C" &&
	ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
	ip link add ag0 netns "$NS_S" type veth peer name ag1 netns "$NS_C" &&
	ip -n "$NS_S" addr add 10.9.9.1/24 dev ag0 && ip -n "$NS_S" link set ag0 up &&
	ip -n "$NS_C" addr add 10.9.9.2/24 dev ag1 && ip -n "$NS_C" link set ag1 up ||
	{ echo "not ok 1 - namespaces"; exit 1; }

# keepalive 10 s: the dead timeout (30 s) is far beyond what the checks wait
cp_server_conf "[server]" "keepalive = 10"
sed -i "s/^listen = .*/listen = 10.9.9.1:$PORT/" "$T/server.conf"
cp_client_conf bob-pc bob password
sed -i "s/^server = .*/server = 10.9.9.1:$PORT/; s/^keepalive = 2$/keepalive = 10/" "$T/bob-pc.conf"
ip netns exec "$NS_S" "$JAZZD" -f -d -c "$T/server.conf" >"$T/server.log" 2>&1 &
PIDS+=($!)
wait_for "$T/server.log" "server listening" 10 || nok "server starts"
ip netns exec "$NS_C" "$JAZZD" -f -d -c "$T/bob-pc.conf" >"$T/bob-pc.log" 2>&1 &
PIDS+=($!)
check "the client logs in from 10.9.9.2" wait_for "$T/server.log" "login: bob@.* from 10\.9\.9\.2:" 15

ip -n "$NS_C" addr add 10.9.9.50/24 dev ag1
ip -n "$NS_C" addr add fd09::2/64 dev ag1 nodad
sleep 0.5
ip -n "$NS_C" addr del 10.9.9.50/24 dev ag1
ip -n "$NS_C" addr del fd09::2/64 dev ag1
sleep 1
check "other addresses added and removed: still connected" \
	bash -c "! grep -q 'disconnected' '$T/bob-pc.log'"

forged=$(ip netns exec "$NS_C" /usr/bin/python3 - <<'PYEOF'
import socket, struct
# the client's rtnetlink socket: NETLINK_ROUTE (Eth 0) with the address groups
ports = []
for line in open("/proc/net/netlink").read().splitlines()[1:]:
    f = line.split()
    if f[1] == "0" and int(f[3], 16) & 0x110 == 0x110:
        ports.append(int(f[2]))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
addr = socket.inet_aton("10.9.9.2")
attr = struct.pack("=HH4s", 8, 2, addr) + struct.pack("=HH4s", 8, 1, addr)
body = struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 2) + attr
msg = struct.pack("=IHHII", 16 + len(body), 21, 0, 1, 0) + body   # RTM_DELADDR
sent = 0
for p in ports:
    for i in range(2000):
        try:
            s.sendto(msg, (p, 0))
            sent += 1
        except OSError:
            pass
print(len(ports), sent)
PYEOF
)
echo "# forged RTM_DELADDR: sockets found, messages sent: $forged"
sleep 1
check "hostile: forged RTM_DELADDR for its own address reached the client's socket" \
	bash -c "[ \"$(echo "$forged" | cut -d' ' -f1)\" -ge 1 ] && [ \"$(echo "$forged" | cut -d' ' -f2)\" -ge 1 ]"
check "hostile: ... and the client is still connected" \
	bash -c "! grep -q 'disconnected' '$T/bob-pc.log'"

ip -n "$NS_C" addr del 10.9.9.2/24 dev ag1
ip -n "$NS_C" addr add 10.9.9.3/24 dev ag1
check "its address gone, the client drops the connection and says why" \
	wait_for "$T/bob-pc.log" "disconnected from 10\.9\.9\.1:$PORT: local address 10\.9\.9\.2 is gone" 20
check "... and logs in again from 10.9.9.3" \
	wait_for "$T/server.log" "login: bob@.* from 10\.9\.9\.3:" 15
check "nothing logged an error" \
	bash -c "! grep -E '\[(err|crit)\]' '$T/bob-pc.log' '$T/server.log'"
cp_done
