#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# STUN on the tunnel socket (issue 20, stage 1): datagrams with the STUN
# magic cookie that reach a jazz device's UDP port go to the "stun" generic
# netlink group (stun-rx-ntf), rate-limited and bounded; stun-send sends one
# from the device's socket. Checked, on real sockets:
#   - a binding request (IPv4, IPv6, 1280 bytes) reaches a listener with its
#     source, the local port and its bytes; the data path does not count it;
#     a listener in another namespace gets nothing;
#   - malformed STUN (length field lies, over 1280 bytes) and cookie
#     look-alikes (top bits set, too short) are counted drops, never handed on;
#   - stun-send leaves from the tunnel's port with the exact bytes (IPv4, IPv6);
#     malformed requests get their errno and extack (tests/vm/nat_tool.py
#     hostile), and the STUN cookie cannot be a peer id;
#   - an unprivileged user can neither send nor join the group; a user
#     namespace's admin given a device whose sockets live in the initial
#     namespace may listen but not send;
#   - a flood of 4000 requests: every datagram is counted exactly once, the
#     listener gets at most stun_rate (50) a second, a listener that never
#     reads holds no more than its receive buffer, tunnel pings all come back;
#   - stun-send racing the device's deletion, with a flood arriving: no
#     crash, no leak, clean kernel log.
# About 3 minutes on a stock kernel under TCG at load 15.
#
# Usage (inside the VM): scripts/vm.sh --each tests/vm/nat-stun.sh
#   n1: veth1 10.99.0.1/24 fd99::1  jazz0 10.201.0.1 port 51901
#   n2: veth2 10.99.0.2/24 fd99::2  jazz0 10.201.0.2 port 51902
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"

need_root
need_cmd ip ping setpriv unshare nsenter
need_module jazz
jazz_prelude
NT=$JAZZ_TOP/tests/vm/nat_tool.py
RATE=50
P=/sys/module/jazz/parameters/stun_rate
[ -w $P ] || { not_ok "module parameter stun_rate exists"; exit 1; }
old_rate=$(cat $P)
on_exit sh -c "echo $old_rate > $P"
echo $RATE >$P	# read when a device is created: before pair_devices

pair_devices 10.99.0 10.201.0 fd01 fd99
pair_config 10.99.0 10.201.0 fd01 51900
check "tunnel ping before" n1 ping -c 2 -W 5 10.201.0.2

# snap: n1's jazz0 counters into $T/st (one netlink_tool.py run); sv NAME: one of them.
snap() { n1 $PY "$NLT" stats jazz0 >"$T/st"; }
sv() { sed -n "s/^$1=//p" "$T/st"; }
# Receive-side sum (pkt_fuzz.py's rule): rx_packets, rx_stun and every
# drop_* but the send-only ones, from the last snap.
sum_rx() {
	awk -F= '$1 ~ /^drop_(no_endpoint|key_exhausted|loop|tx_error)$/ { next }
		$1 == "rx_packets" || $1 == "rx_stun" || $1 ~ /^drop_/ { s += $2 }
		END { print s + 0 }' "$T/st"
}
ntf_count() { if [ -s "$1" ]; then wc -l <"$1"; else echo 0; fi; }
ntf_ge() { [ "$(ntf_count "$1")" -ge "$2" ]; }

# ------------------------------------------------------- receiving
bg n1 $PY "$NT" listen "$T/ntf1" 900 >"$T/l1.out"
LISTENER=$!
bg n2 $PY "$NT" listen "$T/ntf2" 900 >"$T/l2.out"
bg n2 $PY "$NT" udprecv 40001 "$T/recv4" 1 900 >"$T/r4.out"
check "listener joined the stun group" wait_for 30 grep -q listening "$T/l1.out"
wait_for 30 grep -q listening "$T/l2.out"
wait_for 30 grep -q listening "$T/r4.out"
snap
rx0=$(sv rx_packets)
m0=$(sv drop_stun_malformed)
j0=$(sv drop_malformed)
REQ=$($PY "$NT" request)
n2 $PY "$NT" udpsend 10.99.0.1 51901 "$REQ" 1 40000 >/dev/null
check "IPv4 binding request reaches the listener" wait_for 10 ntf_ge "$T/ntf1" 1
check_eq "its source, local port and bytes" \
	"$(pylines "$T/ntf1" 'L[0]["addr"], L[0]["port"], L[0]["local_port"], L[0]["data"] == "'"$REQ"'", "unknown" in L[0]')" \
	"('10.99.0.2', 40000, 51901, True, False)"

REQ6=$($PY "$NT" request 1280)
n2 $PY "$NT" udpsend fd99::1 51901 "$REQ6" 1 40000 >/dev/null
check "IPv6 binding request of 1280 bytes reaches the listener" wait_for 10 ntf_ge "$T/ntf1" 2
check_eq "its source and bytes" \
	"$(pylines "$T/ntf1" 'L[1]["addr"], L[1]["port"], len(L[1]["data"]) // 2, L[1]["data"] == "'"$REQ6"'"')" \
	"('fd99::2', 40000, 1280, True)"

# Malformed STUN is counted, never handed on; cookie look-alikes are jazz's.
LIE=0001000c2112a442$(printf '%024x' 7)0000000000000000      # length 12, body 8
BIG=$($PY -c 'import struct; print((struct.pack(">HHI",1,1264,0x2112a442)+b"x"*1276).hex())')
TOPBIT=c0010000${REQ:8}                                    # 0xc001: not STUN
SHORT=${REQ:0:38}                                          # 19 bytes
n2 $PY "$NT" udpsend 10.99.0.1 51901 "$LIE,$BIG,$TOPBIT,$SHORT,$REQ" 1 40000 >/dev/null
check "the valid request after them arrives" wait_for 10 ntf_ge "$T/ntf1" 3
snap
check_eq "length field lie and 1284 bytes: drop_stun_malformed +2" "$(sv drop_stun_malformed)" $((m0 + 2))
check_eq "cookie look-alikes (top bits, 19 bytes): jazz's drop_malformed +2" "$(sv drop_malformed)" $((j0 + 2))
check_eq "nothing malformed was handed on" "$(pylines "$T/ntf1" 'len(L)')" 3
check_eq "counted in rx_stun" "$(sv rx_stun)" 3
check_eq "not in rx_packets" "$(sv rx_packets)" "$rx0"
check_eq "n2's listener got none of n1's datagrams" "$(ntf_count "$T/ntf2")" 0

# ------------------------------------------------------- sending
check_eq "stun-send IPv4" "$(n1 $PY "$NT" send jazz0 10.99.0.2 40001 "$REQ")" ok
check "it arrives" wait_for 10 test -s "$T/recv4"
check_eq "from the tunnel's port 51901, with the exact bytes" "$(cat "$T/recv4")" "10.99.0.1 51901 $REQ"
n2 $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", 40003)); s.settimeout(60)
open(sys.argv[1], "w").write("ready\n")
d, a = s.recvfrom(2000); open(sys.argv[2], "w").write("%s %d %s\n" % (a[0], a[1], d.hex()))' "$T/r6ready" "$T/recv6" &
P6=$!
wait_for 30 test -s "$T/r6ready"
check_eq "stun-send IPv6" "$(n1 $PY "$NT" send jazz0 fd99::2 40003 "$REQ6")" ok
wait "$P6"
check_eq "it arrives from [fd99::1]:51901 with the exact bytes" "$(cat "$T/recv6" 2>/dev/null)" "fd99::1 51901 $REQ6"
snap
check_eq "both counted in tx_stun" "$(sv tx_stun)" 2

tap_of n1 $PY "$NT" hostile jazz0 10.99.0.2 40001

# ------------------------------------------------------- permissions
tap_of n1 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- $PY "$NT" unpriv jazz0 10.99.0.2 40001

# A user namespace's admin handed a device whose sockets live in n1.
mkdir -m 777 "$T/u"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
	unshare -U -r -n $PY "$NT" userns jzu0 10.99.0.2 40001 "$T/u/ready" "$T/u/go" >"$T/userns.out" 2>&1 &
UNS=$!
_T_PIDS+=($UNS)
check "the user namespace's process is ready" wait_for 30 test -s "$T/u/ready"
check "a device created in n1" n1 ip link add jzu0 type jazz
check "moves into the user namespace's netns" n1 ip link set jzu0 netns "/proc/$UNS/ns/net"
touch "$T/u/go"
wait "$UNS"
tap_of cat "$T/userns.out"

# ------------------------------------------------------- flood
bg n1 $PY "$NT" hold 4096 900 >"$T/hold.out"
HOLDPID=$!
wait_for 30 grep -q portid "$T/hold.out"
HOLD=$(sed -n 's/portid //p' "$T/hold.out")
n_before=$(ntf_count "$T/ntf1")
udp0=$(nstat_get n1 UdpInDatagrams)
snap
c0=$(sum_rx)
rate0=$(sv drop_stun_rate)
n1 ping -c 20 -i 0.1 -W 5 10.201.0.2 >"$T/ping" 2>&1 &
PING=$!
t0=$(date +%s%N)
# 8 bursts of 500, 0.5 s apart: the flood spans several of the limit's windows.
check_eq "flood of 4000 binding requests sent" "$(n2 $PY "$NT" udpsend 10.99.0.1 51901 "$REQ" 4000 40000 500 0.5)" "sent 4000"
t1=$(date +%s%N)
wait "$PING"
check "every tunnel ping during the flood came back" grep -q ' 20 received' "$T/ping"
diag "$(grep -E 'packets|rtt' "$T/ping")"
sleep 1
elapsed=$(((t1 - t0 + 999999999) / 1000000000))
udp1=$(nstat_get n1 UdpInDatagrams)
snap
c1=$(sum_rx)
check_eq "every datagram the socket took is counted once (rx + drops = UdpInDatagrams)" \
	"$((c1 - c0))" "$((udp1 - udp0))"
check "the flood went over the rate: drop_stun_rate grew" test "$(sv drop_stun_rate)" -gt "$rate0"
got=$(($(ntf_count "$T/ntf1") - n_before))
diag "flood: ${elapsed}s, listener got $got, rx_stun $(sv rx_stun), drop_stun_rate $(sv drop_stun_rate), drop_stun_no_listener $(sv drop_stun_no_listener)"
check "the listener got more than one window's $RATE (the limit is per second)" test "$got" -gt "$RATE"
check "and at most stun_rate a second ($got <= $RATE x ($elapsed + 2))" \
	test "$got" -le $((RATE * (elapsed + 2)))
read -r rmem drops < <(n1 awk -v p="$HOLD" '$3 == p { print $5, $9 }' /proc/net/netlink)
diag "the listener that never reads: Rmem $rmem, Drops $drops"
check "it holds no more than its receive buffer (Rmem $rmem <= 2 x 4096 + one message)" \
	test "${rmem:-999999}" -le $((2 * 4096 + 4096))
check "the kernel dropped for it instead of queueing (Drops $drops > 0)" test "${drops:-0}" -gt 0
# send_until_more N: one more request unless the listener has more than N.
send_until_more() {
	[ "$(ntf_count "$T/ntf1")" -gt "$1" ] && return 0
	n2 $PY "$NT" udpsend 10.99.0.1 51901 "$REQ" 1 40000 >/dev/null
	return 1
}
check "after the flood a request arrives again" wait_for 20 send_until_more $((n_before + got))
# Only the full listener left: a datagram nobody took. Then nobody at all.
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
snap
nl0=$(sv drop_stun_no_listener)
n2 $PY "$NT" udpsend 10.99.0.1 51901 "$REQ" 3 40000 >/dev/null
nl_is() { n1 $PY "$NLT" stats jazz0 | grep -qx "drop_stun_no_listener=$1"; }
check "with only a full listener, drop_stun_no_listener +3" wait_for 10 nl_is $((nl0 + 3))
kill "$HOLDPID" 2>/dev/null
wait "$HOLDPID" 2>/dev/null
n2 $PY "$NT" udpsend 10.99.0.1 51901 "$REQ" 1 40000 >/dev/null
check "with no listener, drop_stun_no_listener +1 more" wait_for 10 nl_is $((nl0 + 4))

# ------------------------------------------------------- teardown races
bg n1 $PY "$NT" sendstorm jazz0 10.99.0.2 40009 120 >"$T/storm"
STORM=$!
bg n2 $PY "$NT" udpsend 10.99.0.1 51901 "$REQ" 20000 >/dev/null
FLOOD=$!
check "stun-send storm running" wait_for 30 grep -q running "$T/storm"
sleep 1
check "delete n1's jazz0 while stun-send and a flood run" n1 ip link del jazz0
wait "$STORM"
diag "stun-send storm: $(tail -n 1 "$T/storm")"
check "the storm sent some, then got ENODEV" grep -Eq '^ENODEV 1 ok [0-9]+$' "$T/storm"
kill "$FLOOD" 2>/dev/null
wait "$FLOOD" 2>/dev/null
n2 ip link del jazz0
check "no jazz object left" wait_for 30 grep -q 'devices 0 peers 0 keys 0' /sys/module/jazz/parameters/objects
dmesg_check "kernel log clean"
