#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# jazz data path end to end, WireGuard netns.sh style. Two namespaces n1
# and n2 joined by a veth (outer 192.168.241.0/24 and fd00:aa::/64), a jazz0
# in each (inner 10.0.0.0/24 and fd00::/64), configured with jazzctl.
#
#   ping/iperf3 over IPv4 and IPv6 inner and outer, key swap under a ping
#   flood with zero loss, replayed and wrong-key packets dropped and
#   counted, roaming, MTU, tunnel in tunnel, routing loop, many devices and
#   peers, rmmod under traffic, every object freed, clean kernel log.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/datapath.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip iperf3 ping tcpdump
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude

pair_devices 192.168.241 10.0.0 fd00 fd00:aa
pair_config 192.168.241 10.0.0 fd00 10000

# ---------------------------------------------------------------- basics
check "ping IPv4 inner / IPv4 outer" n1 ping -c 3 -i 0.2 -W 2 10.0.0.2
check "ping IPv6 inner / IPv4 outer" n1 ping -6 -c 3 -i 0.2 -W 2 fd00::2
check "ping back n2 -> n1" n2 ping -c 2 -i 0.2 -W 2 10.0.0.1
check_eq "n2 tx_packets counted on the device" "$([ "$(jstat n2 jazz0 tx_packets)" -ge 2 ] && echo y)" y

bg n2 iperf3 -s -1 -p 5201
wait_listen n2 tcp 5201
if to_file "$T/tcp.json" n1 iperf3 -c 10.0.0.2 -p 5201 -t 3 -J; then
	bps=$(iperf_bps "$T/tcp.json" received)
	ok "iperf3 TCP over jazz ($((bps / 1000000)) Mbit/s)"
else
	not_ok "iperf3 TCP over jazz" "$(tail -5 "$T/tcp.json")"
fi
bg n2 iperf3 -s -1 -p 5202
wait_listen n2 tcp 5202
if to_file "$T/udp.json" n1 iperf3 -c fd00::2 -p 5202 -u -b 20M -l 1200 -t 3 -J; then
	lost=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["end"]["sum"]["lost_percent"])' "$T/udp.json")
	ok "iperf3 UDP over jazz, IPv6 inner (loss ${lost}%)"
else
	not_ok "iperf3 UDP over jazz" "$(tail -5 "$T/udp.json")"
fi

# ---------------------------------------------------------------- IPv6 outer
check "switch endpoints to IPv6" bash -c "ip netns exec $(ns_name n1) $JZ set jazz0 peer 2 endpoint '[fd00:aa::2]:10002' &&
	ip netns exec $(ns_name n2) $JZ set jazz0 peer 1 endpoint '[fd00:aa::1]:10001'"
check "ping IPv4 inner / IPv6 outer" n1 ping -c 3 -i 0.2 -W 2 10.0.0.2
check "ping IPv6 inner / IPv6 outer" n1 ping -6 -c 3 -i 0.2 -W 2 fd00::2
check_eq "n2 still sees the IPv6 endpoint" "$(n2 "$JZ" show jazz0 endpoints | cut -f2)" "[fd00:aa::1]:10001"
n1 "$JZ" set jazz0 peer 2 endpoint 192.168.241.2:10002
n2 "$JZ" set jazz0 peer 1 endpoint 192.168.241.1:10001

# ---------------------------------------------------------------- MTU
check "MTU 1420 by default" test "$(n1 cat /sys/class/net/jazz0/mtu)" = 1420
check "1420-byte IPv4 packet passes with DF" n1 ping -c 2 -i 0.2 -W 2 -M do -s 1392 10.0.0.2
check_fail "1421-byte IPv4 packet with DF refused" n1 ping -c 1 -W 1 -M do -s 1393 10.0.0.2
check "MTU can be changed" n1 ip link set jazz0 mtu 1300
check_fail "1301-byte packet refused at MTU 1300" n1 ping -c 1 -W 1 -M do -s 1273 10.0.0.2
check "1300-byte packet passes at MTU 1300" n1 ping -c 1 -W 2 -M do -s 1272 10.0.0.2
n1 ip link set jazz0 mtu 1420

# ---------------------------------------------------------------- key swap
# Both ends install key 2 in the secondary slot (accepted on receive), then
# swap one after the other while a ping flood runs: no packet may be lost.
swap_under_flood 10.0.0.2 600
check "old key removed, traffic still flows" bash -c "ip netns exec $(ns_name n1) $JZ key jazz0 del peer 2 slot secondary &&
	ip netns exec $(ns_name n2) $JZ key jazz0 del peer 1 slot secondary && ip netns exec $(ns_name n1) ping -c 2 -i 0.2 -W 2 10.0.0.2"

# ---------------------------------------------------------------- replay
# Capture one encrypted packet n1 -> n2 on the wire, send it again. One
# echo request, a 158-byte frame: a larger one would be a UDP GSO batch of
# several datagrams (tx_gso), which the veth hands on uncut.
n2 tcpdump -Z root -i veth2 -c 1 -U -w "$T/cap.pcap" udp dst port 10002 and less 200 \
	2>"$T/tcpdump.err" &
SNIFF=$!
wait_for 20 grep -q listening "$T/tcpdump.err"
n1 ping -c 2 -i 0.5 -W 2 10.0.0.2 >/dev/null
# bounded: with no single-datagram frame tcpdump would wait for ever
reap_within 30 "$SNIFF"
# pcap: 24-byte file header, 16-byte record header, Ethernet, IPv4, UDP.
$PY -c '
import struct, sys
d = open(sys.argv[1], "rb").read()[40:]
ihl = (d[14] & 15) * 4
print(d[14 + ihl + 8:].hex())' "$T/cap.pcap" >"$T/cap.hex" 2>/dev/null
check "captured an encrypted packet" test -s "$T/cap.hex"
before=$(jstat n2 jazz0 drop_replay)
rx_before=$(jstat n2 jazz0 rx_packets)
cat >"$T/replay.py" <<'PYEOF'
import socket, sys
data = bytes.fromhex(open(sys.argv[1]).readline().strip())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(data, ("192.168.241.2", 10002))
PYEOF
n1 $PY "$T/replay.py" "$T/cap.hex"
sleep 0.5
after=$(jstat n2 jazz0 drop_replay)
check_eq "replayed packet dropped and counted (drop-replay +3)" "$((after - before))" 3
check_eq "replayed packet not delivered" "$(jstat n2 jazz0 rx_packets)" "$rx_before"

# A flipped bit in the replayed packet fails authentication instead.
auth_before=$(jstat n2 jazz0 drop_auth)
n1 $PY -c "
import socket,sys
d=bytearray(bytes.fromhex(open('$T/cap.hex').readline().strip())); d[20]^=1
socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(bytes(d),('192.168.241.2',10002))"
sleep 0.3
check_eq "bit-flipped packet dropped as drop-auth" "$(( $(jstat n2 jazz0 drop_auth) - auth_before ))" 1

# ---------------------------------------------------------------- wrong key
auth_before=$(jstat n2 jazz0 drop_auth)
check "n1 installs a wrong key with the same id" n1 "$JZ" key jazz0 new peer 2 slot primary id 2 cipher aes-256-gcm tx "$K1:$S1" rx "$K4:$S2"
check_fail "ping fails under the wrong key" n1 ping -c 3 -i 0.2 -W 1 10.0.0.2
check "wrong-key packets dropped and counted (drop-auth)" test "$(( $(jstat n2 jazz0 drop_auth) - auth_before ))" -ge 3
noid_before=$(jstat n2 jazz0 drop_no_key)
n1 "$JZ" key jazz0 new peer 2 slot primary id 9 cipher aes-256-gcm tx "$K3:$S1" rx "$K4:$S2"
n1 ping -c 2 -i 0.2 -W 1 10.0.0.2 >/dev/null
check "unknown key id dropped and counted (drop-no-key)" test "$(( $(jstat n2 jazz0 drop_no_key) - noid_before ))" -ge 2
# A fresh key pair on both ends (a new key starts a new replay window).
check "fresh keys on both ends restore traffic" bash -c "ip netns exec $(ns_name n1) $JZ key jazz0 new peer 2 slot primary id 4 cipher aes-256-gcm tx '$K2:$S1' rx '$K3:$S2' &&
	ip netns exec $(ns_name n2) $JZ key jazz0 new peer 1 slot primary id 4 cipher aes-256-gcm tx '$K3:$S2' rx '$K2:$S1' &&
	ip netns exec $(ns_name n1) ping -c 2 -i 0.2 -W 2 10.0.0.2"

# ---------------------------------------------------------------- roaming
n2 timeout 20 "$JZ" monitor --json --count 1 --group notify >"$T/mon.json" 2>&1 &
MON=$!
sleep 0.5
n1 sysctl -qw net.ipv4.conf.veth1.promote_secondaries=1
addr n1 veth1 192.168.241.3/24
n1 ip addr del 192.168.241.1/24 dev veth1
check "ping from the new underlay address" n1 ping -c 2 -i 0.2 -W 2 10.0.0.2
check_eq "n2 follows n1 to its new address" "$(n2 "$JZ" show jazz0 endpoints | cut -f2)" "192.168.241.3:10001"
wait $MON
check "peer-roam notification seen" grep -q roam "$T/mon.json"
check "n2 can reach n1 at the new address" n2 ping -c 2 -i 0.2 -W 2 10.0.0.1

# ---------------------------------------------------------------- tunnel in tunnel
# jazz1 runs over jazz0's inner addresses: it must work (nested encryption).
n1 ip link add jazz1 type jazz
n2 ip link add jazz1 type jazz
addr n1 jazz1 10.9.0.1/24
addr n2 jazz1 10.9.0.2/24
n1 "$JZ" set jazz1 listen-port 20001 conncheck off peer 2 remote-id 1 endpoint 10.0.0.2:20002 allowed-ips 10.9.0.2/32
n2 "$JZ" set jazz1 listen-port 20002 conncheck off peer 1 remote-id 2 endpoint 10.0.0.1:20001 allowed-ips 10.9.0.1/32
n1 "$JZ" key jazz1 new peer 2 slot primary id 1 cipher chacha20-poly1305 tx "$K2:$S1" rx "$K3:$S2"
n2 "$JZ" key jazz1 new peer 1 slot primary id 1 cipher chacha20-poly1305 tx "$K3:$S2" rx "$K2:$S1"
check "ping through jazz1 inside jazz0" n1 ping -c 3 -i 0.2 -W 2 10.9.0.2
# Now route jazz1's endpoint into jazz1 itself, and jazz0's into jazz1:
# the packet must be dropped (drop-loop), not circle forever.
loop_before=$(jstat n1 jazz1 drop_loop)
n1 "$JZ" set jazz1 peer 2 allowed-ips 10.0.0.0/24
n1 ip route add 10.0.0.2/32 dev jazz1
n1 ping -c 3 -i 0.2 -W 1 10.9.0.2 >/dev/null 2>&1
n1 ping -c 3 -i 0.2 -W 1 10.0.0.2 >/dev/null 2>&1
loops=$(( $(jstat n1 jazz1 drop_loop) + $(jstat n1 jazz0 drop_loop) - loop_before ))
check "routing loop dropped and counted ($loops drop-loop)" test "$loops" -ge 1
n1 ip route del 10.0.0.2/32 dev jazz1
n1 "$JZ" set jazz1 peer 2 replace-allowed-ips allowed-ips 10.9.0.2/32
check "tunnel in tunnel still works after the loop" n1 ping -c 2 -i 0.2 -W 2 10.9.0.2
n1 ip link del jazz1
n2 ip link del jazz1

# ---------------------------------------------------------------- netns move
# A device created in n1 and moved to n4 keeps its UDP socket in n1.
ns_add n4
n1 ip link add jazzm type jazz
n2 ip link add jazzm type jazz
n1 "$JZ" set jazzm listen-port 30001 conncheck off peer 2 remote-id 1 endpoint 192.168.241.2:30002 allowed-ips 10.5.0.2/32
n2 "$JZ" set jazzm listen-port 30002 conncheck off peer 1 remote-id 2 endpoint 192.168.241.3:30001 allowed-ips 10.5.0.1/32
n1 "$JZ" key jazzm new peer 2 slot primary id 1 cipher chacha20-poly1305 tx "$K4:$S1" rx "$K1:$S2"
n2 "$JZ" key jazzm new peer 1 slot primary id 1 cipher chacha20-poly1305 tx "$K1:$S2" rx "$K4:$S1"
check "move jazzm from n1 to n4" n1 ip link set jazzm netns "$(ns_name n4)"
addr n4 jazzm 10.5.0.1/24
addr n2 jazzm 10.5.0.2/24
check "ping from n4 over the moved device (socket stays in n1)" n4 ping -c 3 -i 0.2 -W 2 10.5.0.2
check "UDP socket still in n1" bash -c "ss -N $(ns_name n1) -uln 'sport = :30001' | grep -q 30001"
check_fail "no UDP socket in n4" bash -c "ss -N $(ns_name n4) -uln 'sport = :30001' | grep -q 30001"
check "jazzctl sees the moved device in n4" n4 "$JZ" show jazzm peers
ip netns del "$(ns_name n4)"
wait_for 10 bash -c "! ip netns exec $(ns_name n1) ip link show jazzm" 2>/dev/null
n2 ip link del jazzm

# ---------------------------------------------------------------- keepalive
n2 "$JZ" set jazz0 peer 1 persistent-keepalive 1
rx1=$(jstat n1 jazz0 rx_packets)
sleep 3.5
check "persistent keepalive: n1 receives keepalives" test "$(( $(jstat n1 jazz0 rx_packets) - rx1 ))" -ge 2
n2 "$JZ" set jazz0 peer 1 persistent-keepalive off

# ---------------------------------------------------------------- key limits
# Lowered limits (module parameters): key-rotate-ntf at the soft limit,
# sending stops at the hard limit.
P=/sys/module/jazz/parameters
old_soft=$(cat $P/tx_soft_limit); old_hard=$(cat $P/tx_hard_limit)
n1 "$JZ" key jazz0 new peer 2 slot primary id 2 cipher aes-256-gcm tx "$K3:$S1" rx "$K4:$S2"
n2 "$JZ" key jazz0 new peer 1 slot primary id 2 cipher aes-256-gcm tx "$K4:$S2" rx "$K3:$S1"
echo 5 >$P/tx_soft_limit
echo 10 >$P/tx_hard_limit
n1 timeout 20 "$JZ" monitor --json --count 1 --group notify >"$T/rot.json" 2>&1 &
MON=$!
sleep 0.5
n1 ping -c 15 -i 0.1 -W 1 10.0.0.2 >"$T/lim.txt" 2>&1
wait $MON
check "key-rotate notification at the soft limit" grep -qi rotate "$T/rot.json"
check_eq "exactly tx_hard_limit packets sent with the key" \
	"$(n1 "$JZ" show jazz0 --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print([k["tx_counter"] for p in d["peers"] for k in p["keys"] if k["slot"]=="primary"][0])')" 10
check "sending stops at the hard limit (drop-key-exhausted)" test "$(jstat n1 jazz0 drop_key_exhausted)" -ge 5
echo "$old_soft" >$P/tx_soft_limit
echo "$old_hard" >$P/tx_hard_limit
n1 "$JZ" key jazz0 new peer 2 slot primary id 3 cipher chacha20-poly1305 tx "$K1:$S1" rx "$K2:$S2"
n2 "$JZ" key jazz0 new peer 1 slot primary id 3 cipher chacha20-poly1305 tx "$K2:$S2" rx "$K1:$S1"
check "fresh key sends again" n1 ping -c 2 -i 0.2 -W 2 10.0.0.2

# ---------------------------------------------------------------- scale
ns_add n3
start=$(date +%s)
for i in $(seq 1 100); do n3 ip link add "jz$i" type jazz || break; done
check_eq "100 devices created" "$(n3 ip -o link show type jazz | wc -l)" 100
args=()
for i in $(seq 1 1000); do
	args+=(peer "$i" endpoint "192.0.2.$((i % 250 + 1)):$((1000 + i))" \
		allowed-ips "10.$((i / 250)).$((i % 250)).0/24")
done
check "1000 peers on one device" n3 "$JZ" set jz1 "${args[@]}"
check_eq "dump returns 1000 peers" "$(n3 "$JZ" show jz1 peers | wc -l)" 1000
for i in $(seq 1 100); do n3 ip link del "jz$i"; done
check_eq "100 devices deleted" "$(n3 ip -o link show type jazz | wc -l)" 0
diag "100 devices + 1000 peers took $(( $(date +%s) - start )) s"
ip netns del "$(ns_name n3)"

# ---------------------------------------------------------------- rmmod under traffic
n1 ping -f -W 1 10.0.0.2 >/dev/null 2>&1 &
PF=$!
bg n2 iperf3 -s -1 -p 5203
wait_listen n2 tcp 5203
n1 iperf3 -c 10.0.0.2 -p 5203 -t 30 >/dev/null 2>&1 &
IP3=$!
sleep 2
check "rmmod while traffic flows" rmmod jazz
kill $PF $IP3 2>/dev/null
wait $PF $IP3 2>/dev/null
check "module gone" test ! -d /sys/module/jazz
check "every object freed at unload" bash -c "dmesg | grep 'jazz: unloaded' | tail -1 | grep -q 'devices 0 peers 0 keys 0'"
modprobe jazz
dmesg_check
