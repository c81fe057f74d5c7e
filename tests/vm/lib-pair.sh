# SPDX-License-Identifier: GPL-2.0
# Shared setup of the jazzctl-driven VM tests (datapath.sh, parallel.sh,
# tunnel-defects.sh, conn-verdict-bind.sh, netlink-limits.sh,
# crypto-async.sh, crypto-lib.sh), sourced by them after lib.sh:
#   jazz_prelude      $JZ (build/jazzctl; skip_all when not built), $NLT
#                     (netlink_tool.py), $T (a scratch directory removed at
#                     exit, readable by other users) and the kernel log mark
#   pylines FILE EXPR EXPR over L, the list of JSON lines in FILE
#   pair_devices / pair_config   namespaces n1 and n2 joined by a veth
#                     (veth1, veth2), a jazz0 in each, configured with
#                     jazzctl and fixed test keys (below)
#   iperf_step        one iperf3 run n1 -> n2, reported with its rate/loss
#   swap_under_flood  a key 2 (AES-256-GCM unless told) swapped in at both
#                     ends under a ping flood, with zero loss (datapath,
#                     crypto-async, crypto-lib)
#   drivers NS        the driver of every key of NS's jazz0

jazz_prelude() {
	JZ=$JAZZ_TOP/build/jazzctl
	NLT=$JAZZ_TOP/tests/vm/netlink_tool.py
	[ -x "$JZ" ] || skip_all "build/jazzctl not built"
	T=$(mktemp -d)
	chmod 755 "$T"
	on_exit rm -rf "$T"
	dmesg_mark
}

pylines() { $PY -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(eval(sys.argv[2]))' "$1" "$2"; }

K1=1111111111111111111111111111111111111111111111111111111111111111
K2=2222222222222222222222222222222222222222222222222222222222222222
K3=3333333333333333333333333333333333333333333333333333333333333333
K4=4444444444444444444444444444444444444444444444444444444444444444
S1=a1a1a1a1
S2=b2b2b2b2

# jstat NS DEV NAME: a device counter (netlink_tool.py: a client of its own).
jstat() { ip netns exec "$(ns_name "$1")" $PY "$NLT" stats "$2" | sed -n "s/^$3=//p"; }
objects() { cat /sys/module/jazz/parameters/objects; }
# refusals NS [COUNTER...]: the receiver's refusals that a bad batch or
# super-packet would cause: drop_auth + drop_malformed + drop_replay (+ the
# COUNTERs) of NS's jazz0, + its UdpInCsumErrors (tunnel-gso.sh, rx-gro.sh).
refusals() {
	local ns=$1 c s=0
	shift
	for c in drop_auth drop_malformed drop_replay "$@"; do
		s=$((s + $(jstat "$ns" jazz0 "$c")))
	done
	echo $((s + $(nstat_get "$ns" UdpInCsumErrors)))
}

# pair_devices NET4 INNER4 INNER6 [NET6]: n1 and n2 with the veth on
# NET4.1/.2 (and NET6::1/::2) and jazz0 on INNER4.1/.2 and INNER6::1/::2,
# e.g. pair_devices 192.168.241 10.0.0 fd00 fd00:aa.
pair_devices() {
	ns_add n1 n2
	veth n1 veth1 n2 veth2
	addr n1 veth1 "$1.1/24" ${4:+"$4::1/64"}
	addr n2 veth2 "$1.2/24" ${4:+"$4::2/64"}
	n1 ip link add jazz0 type jazz
	n2 ip link add jazz0 type jazz
	addr n1 jazz0 "$2.1/24" "$3::1/64"
	addr n2 jazz0 "$2.2/24" "$3::2/64"
}

# pair_config NET4 INNER4 INNER6 PORT: each end the other's peer (n1 is peer
# 1 at n2, n2 peer 2 at n1; n1 listens on PORT+1, n2 on PORT+2) with the
# checks off (tested in conncheck*.sh) and a ChaCha20-Poly1305 primary key.
pair_config() {
	check "n1 config" n1 "$JZ" set jazz0 listen-port $(($4 + 1)) conncheck off \
		peer 2 remote-id 1 name n2 endpoint "$1.2:$(($4 + 2))" allowed-ips "$2.2/32,$3::2/128"
	check "n2 config" n2 "$JZ" set jazz0 listen-port $(($4 + 2)) conncheck off \
		peer 1 remote-id 2 name n1 endpoint "$1.1:$(($4 + 1))" allowed-ips "$2.1/32,$3::1/128"
	check "n1 key" n1 "$JZ" key jazz0 new peer 2 slot primary id 1 cipher chacha20-poly1305 tx "$K1:$S1" rx "$K2:$S2"
	check "n2 key" n2 "$JZ" key jazz0 new peer 1 slot primary id 1 cipher chacha20-poly1305 tx "$K2:$S2" rx "$K1:$S1"
}

# pair_endpoints ADDR1 ADDR2 PORT: n1 sends to ADDR2:PORT+2, n2 to
# ADDR1:PORT+1 (pair_config's ports; an IPv6 ADDR in brackets), checked.
pair_endpoints() {
	check "endpoints $1 / $2" bash -c "ip netns exec $(ns_name n1) $JZ set jazz0 peer 2 endpoint '$2:$(($3 + 2))' &&
		ip netns exec $(ns_name n2) $JZ set jazz0 peer 1 endpoint '$1:$(($3 + 1))'"
}

# iperf_step PORT LABEL FILE ARGS...: one iperf3 run from n1 (ARGS: the
# server address and options) to a one-client server on n2 at PORT; ok
# LABEL with the rate it reached (TCP) or the loss (UDP), or not_ok.
iperf_step() {
	local port=$1 label=$2 file=$3
	shift 3
	bg n2 iperf3 -s -1 -p "$port"
	wait_listen n2 tcp "$port"
	if to_file "$file" n1 iperf3 -p "$port" "$@" -J; then
		ok "$label ($($PY -c '
import json, sys
s = json.load(open(sys.argv[1]))["end"]
if "lost_percent" in s.get("sum", {}):
    print("%s%% lost" % s["sum"]["lost_percent"])
else:
    print("%d Mbit/s" % (s["sum_received"]["bits_per_second"] / 1e6))' "$file"))"
	else
		not_ok "$label" "$(tail -5 "$file")"
	fi
}

# swap_under_flood DST COUNT [CIPHER [SALT]]: key 2 (CIPHER, default
# AES-256-GCM; K3/K4 with the salts S1/S2, or SALT both ways) in the
# secondary slot at both ends (accepted on receive), then n1 and n2 swap
# one after the other while COUNT pings flood DST: none may be lost, and
# n1 then sends with key 2.
swap_under_flood() {
	local flood cipher=${3:-aes-256-gcm} s1=${4:-$S1} s2=${4:-$S2}
	check "key 2 secondary on n1" n1 "$JZ" key jazz0 new peer 2 slot secondary id 2 cipher "$cipher" tx "$K3:$s1" rx "$K4:$s2"
	check "key 2 secondary on n2" n2 "$JZ" key jazz0 new peer 1 slot secondary id 2 cipher "$cipher" tx "$K4:$s2" rx "$K3:$s1"
	n1 ping -c "$2" -i 0.005 -W 2 -q "$1" >"$T/flood.txt" 2>&1 &
	flood=$!
	sleep 1
	n1 "$JZ" key jazz0 swap peer 2
	sleep 0.5
	n2 "$JZ" key jazz0 swap peer 1
	wait "$flood"
	check_eq "ping flood across the key swap: zero loss" "$(grep -o '[0-9.]*% packet loss' "$T/flood.txt")" "0% packet loss"
	check_eq "n1 now sends with key 2 ($cipher)" "$(n1 "$JZ" show jazz0 keys | cut -f2)" "primary:2:$cipher"
}

# drivers NS: the driver of every key of NS's jazz0, one a line (--json).
drivers() {
	"$1" "$JZ" show jazz0 --json | $PY -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if "driver" in o:
            print(o["driver"])
        for v in o.values():
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(sys.stdin))'
}
