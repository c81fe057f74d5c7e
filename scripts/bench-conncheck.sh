#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark of the direct-connection checks (issue 3), in one VM boot per
# kernel. Not a test. Two netns n1 -> n2 joined by jazz0 (ChaCha20);
# n1 runs the auto-approving listener `jazzctl answer jazz0 approve-all`,
# n2 has the checks off so that exactly one approval is on the path.
#
#   genl-rtt     baseline: one generic netlink request + reply (dev-get do)
#                from Python, microseconds
#   first-pkt    RTT of a new UDP flow's first packet (held -> request ->
#                verdict -> released) minus the RTT of its second packet
#   conn/s       new UDP flows approved per second: 100 flows sent back
#                to back, time until the sink on n2 got all of them; next
#                to it the genl round trips per second (1 / genl-rtt)
#   tcp on/off   iperf3 TCP single stream over an approved connection with
#                the checks on, and with them off (interleaved repetitions)
#
#   scripts/bench-conncheck.sh [--kernel 6.1|6.12|all] [--reps N]
# Results: out/bench-conncheck/vm/bench-conncheck-<kver>.txt and on stdout.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != --guest ]; then
	KERNEL=all
	REPS=3
	while [ $# -gt 0 ]; do
		case "$1" in
		--kernel) KERNEL=$2; shift 2 ;;
		--reps) REPS=$2; shift 2 ;;
		*) echo "usage: $0 [--kernel K] [--reps N]" >&2; exit 2 ;;
		esac
	done
	mkdir -p "$TOP/out/bench-conncheck"
	exec "$TOP/scripts/vm.sh" --kernel "$KERNEL" --out "$TOP/out/bench-conncheck/vm" -- \
		env BENCH_REPS="$REPS" "$TOP/scripts/bench-conncheck.sh" --guest
fi

# ---------------------------------------------------------------- guest
. "$TOP/tests/vm/lib.sh"
need_root
need_cmd ip iperf3
modprobe jazz || exit 1
JZ=$TOP/build/jazzctl
NLT=$TOP/tests/vm/netlink_tool.py
REPS=${BENCH_REPS:-3}
KVER=$(uname -r)
# The guest sees the checkout read-only; JAZZ_OUT is its writable results
# directory (out/bench-conncheck/vm/ on the host).
RES=${JAZZ_OUT:-/tmp}/bench-conncheck-$KVER.txt
W=$(mktemp -d)
on_exit rm -rf "$W"

ns_add n1 n2
veth n1 vb1 n2 vb2
addr n1 vb1 10.98.0.1/24
addr n2 vb2 10.98.0.2/24
for n in 1 2; do
	o=$((3 - n))
	ip -n "$(ns_name "n$n")" link add jazz0 type jazz
	ip netns exec "$(ns_name "n$n")" "$JZ" set jazz0 listen-port $((51859 + n)) \
		approval-timeout 30s hold-max 8192 \
		peer 1 remote-id 1 name "node$o" endpoint "10.98.0.$o:$((51859 + o))" \
		allowed-ips "10.203.0.$o/32"
	ip netns exec "$(ns_name "n$n")" "$JZ" key jazz0 new peer 1 slot primary id 1 \
		cipher chacha20-poly1305 tx "$(printf "%064d" "$n"):0000000$n" \
		rx "$(printf "%064d" "$o"):0000000$o"
	addr "n$n" jazz0 "10.203.0.$n/24"
done
n2 "$JZ" set jazz0 conncheck off

cat >"$W/b.py" <<'PYEOF'
import os, socket, statistics, sys, time
mode = sys.argv[1]
if mode == "genl":		# genl N NLT: median dev-get round trip, us
    sys.path.insert(0, os.path.dirname(sys.argv[3]))
    import netlink_tool as nt
    g = nt.Genl()
    d = []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        r = g.req(nt.J["JAZZ_CMD_DEV_GET"], nt.dev("jazz0"))
        d.append(time.perf_counter() - t0)
        assert r.error == 0
    print(round(statistics.median(d) * 1e6))
elif mode == "echo":		# echo PORT: UDP echo server
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    while True:
        b, a = s.recvfrom(100)
        s.sendto(b, a)
elif mode == "first":		# first DST PORT N BASE: median first-second RTT, us
    dst, port, n, base = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    first, second = [], []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", base + i))
        s.settimeout(5)
        for lst in (first, second):
            t0 = time.perf_counter()
            s.sendto(b"p", (dst, port))
            s.recv(100)
            lst.append(time.perf_counter() - t0)
        s.close()
    f, sc = statistics.median(first), statistics.median(second)
    print(round(f * 1e6), round(sc * 1e6), round((f - sc) * 1e6))
elif mode == "sink":		# sink PORT N: seconds from first to N-th datagram
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.settimeout(60)
    n = int(sys.argv[3])
    s.recv(100)
    t0 = time.perf_counter()
    for _ in range(n - 1):
        s.recv(100)
    print(time.perf_counter() - t0)
elif mode == "burst":		# burst DST PORT N BASE: one datagram per new flow
    dst, port, n, base = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", base + i))
        socks.append(s)
    for s in socks:
        s.sendto(b"b", (dst, port))
PYEOF
py() { local ns=$1; shift; ip netns exec "$(ns_name "$ns")" $PY "$W/b.py" "$@"; }

bg n2 $PY "$W/b.py" echo 7777
bg n1 "$JZ" answer jazz0 approve-all >/dev/null 2>&1
sleep 1
{
echo "# bench-conncheck.sh on $KVER ($(nproc) vCPU, QEMU TCG), $REPS repetitions, medians"
for r in $(seq "$REPS"); do
	rtt=$(py n1 genl 300 "$NLT")
	read -r f s extra < <(py n1 first 10.203.0.2 7777 100 $((20000 + r * 1000)))
	n1 "$JZ" conn jazz0 flush
	n1 "$JZ" set jazz0 conncheck off
	read -r f0 s0 extra0 < <(py n1 first 10.203.0.2 7777 100 $((30000 + r * 1000)))
	n1 "$JZ" set jazz0 conncheck on
	echo "rep $r: genl-rtt ${rtt} us; checks on: first ${f} us second ${s} us extra ${extra} us; checks off: first ${f0} us second ${s0} us extra ${extra0} us; extra/genl-rtt $(awk -v a="$extra" -v b="$rtt" 'BEGIN { printf "%.2f", a / b }')"
done
for r in $(seq "$REPS"); do
	for mode in on off; do
		n1 "$JZ" conn jazz0 flush
		n1 "$JZ" set jazz0 conncheck "$mode"
		py n2 sink 7000 100 >"$W/sink" &
		sk=$!
		sleep 1
		py n1 burst 10.203.0.2 7000 100 $((40000 + r * 3000))
		wait $sk
		secs=$(cat "$W/sink")
		echo "rep $r: 100 new flows, checks $mode: $(awk -v s="$secs" 'BEGIN { printf "%.0f flows/s (%.3f s)", 99 / s, s }')"
	done
done
n1 "$JZ" set jazz0 conncheck on
n1 "$JZ" conn jazz0 flush
for r in $(seq "$REPS"); do
	for mode in on off; do
		n1 "$JZ" set jazz0 conncheck "$mode"
		bg n2 iperf3 -s -1 -p 5201 >/dev/null
		wait_listen n2 tcp 5201
		bps=$(n1 iperf3 -c 10.203.0.2 -p 5201 -t 3 -J | $PY -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
		echo "rep $r: tcp checks $mode $(awk -v b="$bps" 'BEGIN { printf "%.0f Mbit/s", b / 1e6 }')"
	done
done
echo "conn_objects: $(cat /sys/module/jazz/parameters/conn_objects)"
} | tee "$RES"
ok "bench-conncheck ran"
