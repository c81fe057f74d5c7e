#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Hostile input to jazz.ko: malformed generic netlink requests and garbage
# UDP packets. Nothing may crash or hang; every request gets its specific
# errno and extack text; every garbage packet is a counted drop; valid
# requests and the tunnel keep working afterwards.
#
#   netlink: wrong attribute types and lengths, truncated attributes and
#     headers, oversized strings and binaries, missing required attributes,
#     unknown attributes and flag bits, out-of-range values, keys and salts
#     of the wrong length, cipher/slot out of range, lo's and unknown
#     ifindexes, unknown cookies/peers, unknown commands
#     (tests/vm/netlink_tool.py hostile), then 1000 random requests (fuzz);
#     an unprivileged user is refused requests, the approvals group and
#     the approver probe (request and reply); the peer's path record
#     (tests/vm/netlink_path.py: malformed, oversized, bad kinds,
#     unprintable reasons; nobody and another netns's user namespace root
#     cannot write it).
#   UDP: random, truncated, bit-flipped copies of captured tunnel packets,
#     and real headers with random bodies, sent at the listen port: the sum
#     of the drop counters grows by exactly the number sent, rx_packets not.
#
# Usage (inside the VM): scripts/vm.sh --each tests/vm/netlink-hostile.sh
#   n1: veth1 10.98.0.1/24  jazz0 10.200.0.1/24 port 51830
#   n2: veth2 10.98.0.2/24  jazz0 10.200.0.2/24 port 51831
. "$(dirname "$0")/lib.sh"

need_root
need_cmd ip ping setpriv
need_module jazz
JZ=$JAZZ_TOP/build/jazzctl
TOOL=$JAZZ_TOP/tests/vm/netlink_tool.py
[ -x "$JZ" ] || { not_ok "build/jazzctl exists (run make userspace on the host)"; exit 1; }
T=$(mktemp -d)
chmod 755 "$T"
on_exit rm -rf "$T"
SEED=${JAZZ_SEED:-$(date +%s)}
diag "seed $SEED (JAZZ_SEED=$SEED reproduces)"
dmesg_mark

ns_add n1 n2
check "veth underlay" veth n1 veth1 n2 veth2
addr n1 veth1 10.98.0.1/24
addr n2 veth2 10.98.0.2/24
K1=1111111111111111111111111111111111111111111111111111111111111111
K2=2222222222222222222222222222222222222222222222222222222222222222
# (Re)configure both ends: run again after the hostile requests, in case
# one of them was wrongly accepted and changed peer 1.
configure() {
	local n o
	for n in 1 2; do
		o=$((3 - n))
		check "configure jazz0 in n$n${1:+ $1}" "n$n" "$JZ" set jazz0 listen-port $((51829 + n)) \
			conncheck off peer 1 remote-id 1 name "n$o" endpoint "10.98.0.$o:$((51829 + o))" \
			replace-allowed-ips allowed-ips "10.200.0.$o/32"
	done
	check "key n1${1:+ $1}" n1 "$JZ" key jazz0 new peer 1 slot primary id 1 \
		cipher chacha20-poly1305 tx "$K1:01010101" rx "$K2:02020202"
	check "key n2${1:+ $1}" n2 "$JZ" key jazz0 new peer 1 slot primary id 1 \
		cipher chacha20-poly1305 tx "$K2:02020202" rx "$K1:01010101"
}
for n in 1 2; do
	check "jazz0 in n$n" ip -n "$(ns_name n$n)" link add jazz0 type jazz
	addr "n$n" jazz0 "10.200.0.$n/24"
done
configure

# ------------------------------------------------------------ netlink
tap_of n1 $PY "$TOOL" hostile jazz0 1
check "jazz0 for fuzzing (jazzfz)" ip -n "$(ns_name n1)" link add jazzfz type jazz
tap_of n1 $PY "$TOOL" fuzz jazzfz 1000 "$SEED"
tap_of n1 setpriv --reuid=65534 --regid=65534 --clear-groups $PY "$TOOL" unpriv jazz0
err=$(n1 setpriv --reuid=65534 --regid=65534 --clear-groups "$JZ" show jazz0 2>&1)
check_eq "jazzctl as nobody: refused, exit 1" "$?:$err" "1:jazzctl: jazz0: Operation not permitted"
err=$(n1 timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups "$JZ" monitor --group approvals 2>&1)
rc=$?
check_eq "jazzctl monitor as nobody: approvals refused, exit 1" "$rc:$err" \
	"1:jazzctl: cannot join multicast group 'approvals': Operation not permitted"
err=$(n1 setpriv --reuid=65534 --regid=65534 --clear-groups "$JZ" probe jazz0 2>&1)
check_eq "jazzctl probe as nobody: refused, exit 1" "$?:$err" "1:jazzctl: probe jazz0: Operation not permitted"
check "jazzctl still works as root" n1 "$JZ" show jazz0

# ------------------------------------------------------------ path record
# The peer's path record (issue 20, netlink_path.py): malformed, oversized,
# out-of-range and unprintable records are refused; nobody cannot write
# one; a user namespace's root reaches no device of another netns, by
# name or by ifindex, but writes its own device's records.
PT=$JAZZ_TOP/tests/vm/netlink_path.py
tap_of n1 $PY "$PT" hostile jazz0 1
rec=$(n1 $PY "$PT" get jazz0 1)
err=$(n1 setpriv --reuid=65534 --regid=65534 --clear-groups $PY "$PT" set jazz0 1 direct forged 2>&1)
check_eq "path record as nobody: refused" "${err%% *}" EPERM
ifx=$(n1 cat /sys/class/net/jazz0/ifindex)
tap_of setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
	unshare -U -r -n $PY "$PT" foreign jazz0 "$ifx" 1
check_eq "the record is unchanged by nobody and the user namespace" "$(n1 $PY "$PT" get jazz0 1)" "$rec"
check "jazzctl show prints the record" sh -c \
	"ip netns exec $(ns_name n1) $JZ show jazz0 | grep -Eq '^  path: relayed since [0-9-]+ [0-9:]+ \(no direct path found in 10 s\)\$'"
check "a user namespace's root writes the record of its own device's peer" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- unshare -U -r -n sh -c \
	"ip link add jzp0 type jazz && $JZ set jzp0 peer 5 && $PY $PT set jzp0 5 direct 'punched in 5 ms' | grep -qx ok && $JZ show jzp0 | grep -q 'path: direct since .* (punched in 5 ms)'"
configure again

# ------------------------------------------------------------ UDP
n2 $PY "$TOOL" sniff veth2 51831 5 "$T/caps" &
spid=$!
wait_for 20 test -e "$T/caps.ready" || diag "sniffer not ready after 20 s"
check "ping through the tunnel" n1 ping -c 8 -i 0.2 -W 3 10.200.0.2
if wait "$spid" && [ -s "$T/caps" ]; then
	ok "captured 5 tunnel packets to port 51831"
else
	not_ok "captured tunnel packets" "sniffer failed; using random bases"
	head -c 100 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/caps"
	echo >>"$T/caps"
fi

# The drop counters would also count what n2's own jazz0 fails to send;
# take the send side out, leaving the drops of received packets. (jazz0 no
# longer autoconfigures an IPv6 link-local address, so it sends nothing by
# itself: the router solicitations that address sent to no peer were the
# source of the "N + 1" once seen on 6.12 - a tx drop landing between
# statsum's two reads made the first sample one short.)
statsum() { # NS: "receive drops, rx_packets"
	local d r tx
	read -r d r < <("$1" $PY "$TOOL" stats jazz0 | awk -F= '/^drop_/ { d += $2 } /^rx_packets=/ { r = $2 } END { print d + 0, r + 0 }')
	tx=$(($(link_stat "$1" jazz0 tx_dropped) + $(link_stat "$1" jazz0 tx_errors)))
	echo "$((d - tx)) $r"
}
read -r d0 r0 < <(statsum n2)
N=400
sent=$(n1 $PY "$TOOL" udpfuzz 10.98.0.1 10.98.0.2 51831 "$T/caps" "$N" "$SEED")
check_eq "sent $N garbage packets" "$sent" "$N"
# Packets that pass the header checks are counted after the decrypt
# workers ran; allow them a moment.
for _ in $(seq 50); do
	read -r d1 r1 < <(statsum n2)
	[ $((d1 - d0)) -ge "$N" ] && break
	sleep 0.1
done
extra=$((d1 - d0 - N))
[ "$extra" = 0 ] || diag "$extra drop(s) beyond the $N garbage packets;" \
	"jazz0 rx_dropped $(link_stat n2 jazz0 rx_dropped) tx_dropped $(link_stat n2 jazz0 tx_dropped)"
check_eq "every garbage packet counted as exactly one drop" "$extra" 0
check_eq "no garbage packet accepted (rx_packets unchanged)" "$((r1 - r0))" 0
n2 $PY "$TOOL" stats jazz0 | grep '^drop_' | grep -v '=0$' | sed 's/^/# /'
check "tunnel still works after the garbage" n1 ping -c 3 -i 0.2 -W 3 10.200.0.2
check "netlink still works" n2 "$JZ" show jazz0

check "rmmod-safe teardown: delete devices" bash -c \
	"ip -n $(ns_name n1) link del jazz0 && ip -n $(ns_name n1) link del jazzfz && ip -n $(ns_name n2) link del jazz0"
dmesg_check "kernel log clean"
