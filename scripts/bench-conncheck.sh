#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark of the direct-connection checks (issue 3), in one VM boot per
# kernel. Not a test. Two netns n1 -> n2 joined by jazz0 (ChaCha20);
# n1 runs the auto-approving listener `jazzctl answer jazz0 approve-all
# --quiet` (C, libmnl), n2 has the checks off so that exactly one approval
# is on the path.
#
#   genl-rtt     baseline: one generic netlink request + reply, dev-get do
#                without NLM_F_ACK, from C with libmnl like the answering
#                path (`jazzctl rtt jazz0 --count 1000`, median, us); the
#                old Python (netlink_tool.py) round trip is printed beside
#   first-pkt    RTT of a new UDP flow's first packet (held -> request ->
#                verdict -> released) minus the RTT of its second packet,
#                per flow, median of 200 flows; from C (udprobe, compiled
#                here from the source below), with the checks on and off;
#                the approval's own cost is the difference (on - off),
#                compared to genl-rtt. Measured twice: "pinned", every
#                process (prober, echo server, answer, rtt) on vCPU 0, and
#                "free", left to the scheduler (a wakeup of the other vCPU
#                in QEMU TCG costs a host thread wakeup on a crowded host)
#   in-kernel    measured by the kernel itself, same boot, same listener
#                (`jazzctl answer`), same clock (ktime_get_ns) and points:
#                approval wait = median over the 200 flows of the checks-on
#                first-packet run of the conn attribute wait-ns (first held
#                packet -> request -> verdict -> held packets released),
#                with verdict-ns beside it (the same wait until the
#                verdict's handler started: without the release);
#                approver round trip = median of `jazzctl probe jazz0
#                --count 1000` (approver-probe-ntf multicast on approvals ->
#                the listener's approver-probe-reply handled), the
#                kernel-initiated round trip an approval is made of; ratio
#                wait / probe round trip (issue 3 target: <= 2); and the
#                same probe started cold (200 probes, a new `jazzctl probe`
#                process each, so the listener sleeps between them while
#                other processes run, as between two flows), median
#   ping-pong    for scale: the round trip of one byte between two
#                processes over two pipes (C), i.e. two wakeups and
#                context switches, which an approval cannot avoid and a
#                genl round trip does not have
#   conn/s       new UDP flows approved per second: N flows (100 and 1000)
#                sent back to back, time from the burst's first send (the
#                sockets are made before) until the sink on n2 got all
#                of them (and, as before, first-to-last datagram, which
#                leaves out the first flow's wait); checks on vs off; after each burst the counters that
#                could explain a loss (n1/n2 jazz drops, n1 entries not
#                approved, n2 UDP receive errors, softnet drops)
#   tcp on/off   iperf3 TCP single stream over an approved connection with
#                the checks on, and with them off (interleaved repetitions,
#                the order on/off swapped every repetition; issue 19's
#                target: on/off >= 0.95), each repetition's ratio and the
#                median ratio
#
# The keys are ChaCha20-Poly1305 with zero salts, as the devices' handshake
# (version 2) makes them: jazz.ko runs them on lib/crypto.
#
#   scripts/bench-conncheck.sh [--kernel 6.1|6.12|all] [--reps N] [--out DIR]
#                              [--tcp-only] [--time S]
# --tcp-only: only the TCP on/off part; --time: its iperf3 runs (default 3 s).
# Results: DIR/bench-conncheck-<kver>.txt (default DIR out/bench-conncheck/vm)
# and on stdout.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != --guest ]; then
	KERNEL=all
	REPS=3
	OUT=$TOP/out/bench-conncheck/vm
	PARTS=all
	TIME=3
	while [ $# -gt 0 ]; do
		case "$1" in
		--kernel) KERNEL=$2; shift 2 ;;
		--reps) REPS=$2; shift 2 ;;
		--out) OUT=$(realpath -m "$2"); shift 2 ;;
		--tcp-only) PARTS=tcp; shift ;;
		--time) TIME=$2; shift 2 ;;
		*) echo "usage: $0 [--kernel K] [--reps N] [--out DIR] [--tcp-only] [--time S]" >&2
			exit 2 ;;
		esac
	done
	mkdir -p "$TOP/out/bench-conncheck"
	# The UDP prober: C, so that the first-packet delay is measured the
	# way the baseline (jazzctl rtt, C) is, without Python's jitter.
	cat >"$TOP/out/bench-conncheck/udprobe.c" <<'CEOF'
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double med(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	char b[64];

	if (argc == 3 && !strcmp(argv[1], "echo")) {	/* echo PORT */
		struct sockaddr_in from;
		socklen_t fl;
		ssize_t n;
		int s = socket(AF_INET, SOCK_DGRAM, 0);

		a.sin_port = htons(atoi(argv[2]));
		if (bind(s, (void *)&a, sizeof(a)))
			return perror("bind"), 1;
		for (;;) {
			fl = sizeof(from);
			n = recvfrom(s, b, sizeof(b), 0, (void *)&from, &fl);
			if (n > 0)
				sendto(s, b, n, 0, (void *)&from, fl);
		}
	}
	if (argc == 6 && !strcmp(argv[1], "first")) {	/* first DST PORT N BASE */
		int n = atoi(argv[4]), base = atoi(argv[5]), i, k;
		double *f = calloc(n, sizeof(double)), *sc = calloc(n, sizeof(double));
		double *d = calloc(n, sizeof(double));
		struct sockaddr_in src = { .sin_family = AF_INET };

		inet_pton(AF_INET, argv[2], &a.sin_addr);
		a.sin_port = htons(atoi(argv[3]));
		for (i = 0; i < n; i++) {
			int s = socket(AF_INET, SOCK_DGRAM, 0);

			src.sin_port = htons(base + i);
			if (bind(s, (void *)&src, sizeof(src)))
				return perror("bind"), 1;
			setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			for (k = 0; k < 2; k++) {
				double t0 = now_us();

				sendto(s, "p", 1, 0, (void *)&a, sizeof(a));
				if (recv(s, b, sizeof(b), 0) < 0)
					return perror("recv"), 1;
				(k ? sc : f)[i] = now_us() - t0;
			}
			d[i] = f[i] - sc[i];
			close(s);
		}
		printf("%.0f %.0f %.0f\n", med(f, n), med(sc, n), med(d, n));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "pingpong")) {	/* pingpong N */
		int n = atoi(argv[2]), i, ab[2], ba[2];
		double *d = calloc(n, sizeof(double));
		char c = 0;

		if (pipe(ab) || pipe(ba))
			return perror("pipe"), 1;
		if (!fork()) {
			/* Only our ends: EOF when the parent is done, and no
			 * stdout of ours keeps a $(...) waiting.
			 */
			close(ab[1]);
			close(ba[0]);
			close(1);
			while (read(ab[0], &c, 1) == 1)
				if (write(ba[1], &c, 1) != 1)
					break;
			_exit(0);
		}
		close(ab[0]);
		close(ba[1]);
		for (i = 0; i < n; i++) {
			double t0 = now_us();

			if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
				return perror("pipe"), 1;
			d[i] = now_us() - t0;
		}
		close(ab[1]);
		printf("%.0f\n", med(d, n));
		return 0;
	}
	fprintf(stderr, "usage: udprobe echo PORT | first DST PORT N BASE | pingpong N\n");
	return 2;
}
CEOF
	echo "# host: $(uptime)"
	cc -O2 -Wall -o "$TOP/out/bench-conncheck/udprobe" "$TOP/out/bench-conncheck/udprobe.c" || exit 1
	exec "$TOP/scripts/vm.sh" --kernel "$KERNEL" --out "$OUT" -- \
		env BENCH_REPS="$REPS" BENCH_PARTS="$PARTS" BENCH_TIME="$TIME" \
		"$TOP/scripts/bench-conncheck.sh" --guest
fi

# ---------------------------------------------------------------- guest
. "$TOP/tests/vm/lib.sh"
need_root
need_cmd ip iperf3
modprobe jazz || exit 1
JZ=$TOP/build/jazzctl
NLT=$TOP/tests/vm/netlink_tool.py
REPS=${BENCH_REPS:-3}
PARTS=${BENCH_PARTS:-all}
TIME=${BENCH_TIME:-3}
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
		cipher chacha20-poly1305 tx "$(printf "%064d" "$n"):00000000" \
		rx "$(printf "%064d" "$o"):00000000"
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
elif mode == "sink":		# sink PORT N: "seconds count last" first to last datagram, last's wall time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 1 << 23)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.settimeout(60)
    n = int(sys.argv[3])
    s.recv(100)
    t0 = t1 = time.perf_counter()
    got = 1
    s.settimeout(10)
    try:
        while got < n:
            s.recv(100)
            got += 1
            t1 = time.perf_counter()
    except socket.timeout:
        pass
    print(t1 - t0, got, time.time() - (time.perf_counter() - t1))
elif mode == "burst":		# burst DST PORT N BASE: one datagram per new flow; prints the start
    dst, port, n, base = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", base + i))
        socks.append(s)
    print(time.time(), flush=True)	# wall clock of the first send
    for s in socks:
        s.sendto(b"b", (dst, port))
PYEOF
py() { local ns=$1; shift; ip netns exec "$(ns_name "$ns")" $PY "$W/b.py" "$@"; }

UP=$TOP/out/bench-conncheck/udprobe
[ -x "$UP" ] || { not_ok "udprobe built on the host"; exit 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# first_pkt LABEL CPU-PREFIX...: one repetition of the first-packet part.
first_pkt() {
	local label=$1 r=$2 base rtt prtt f s extra f0 s0 extra0 ans echo
	shift 2
	bg n2 "$@" "$UP" echo 7777 >/dev/null
	echo=$!
	bg n1 "$@" "$JZ" answer jazz0 approve-all --quiet >/dev/null 2>>"$W/answer.err"
	ans=$!
	sleep 1
	rtt=$(n1 "$@" "$JZ" rtt jazz0 --count 1000 | awk '{ print $6 }')
	# approver-probe jazz0: N answered, rtt median X us min Y us p90 Z us max W us
	read -r probe probemin probep90 < <(n1 "$@" "$JZ" probe jazz0 --count 1000 |
		awk '{ print $7, $10, $13 }')
	# The same round trip started cold, like a flow's: 200 probes, each
	# from a new process (the listener sleeps between them while other
	# processes run), median.
	for _ in $(seq 200); do n1 "$@" "$JZ" probe jazz0 | awk '{ print $6 }'; done >"$W/cold"
	probecold=$(sort -n "$W/cold" | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }')
	pp=$(n1 "$@" "$UP" pingpong 1000)
	prtt=$(n1 "$@" $PY "$W/b.py" genl 300 "$NLT")
	base=$((20000 + r * 1000 + (${#label} == 6) * 10000))
	n1 "$JZ" conn jazz0 flush
	read -r f s extra < <(n1 "$@" "$UP" first 10.203.0.2 7777 200 "$base")
	# The kernel's own decision wait of those 200 flows (us): n, median, p90.
	n1 "$JZ" conns jazz0 --json >"$W/conns.json"
	read -r nw wait waitp90 vwait < <($PY -c '
import json, sys
b = int(sys.argv[2])
d = [c for c in json.load(open(sys.argv[1]))
     if "wait_ns" in c and b <= c["sport"] < b + 200 and c["dport"] == 7777]
w = sorted(c["wait_ns"] / 1e3 for c in d)
v = sorted(c.get("verdict_ns", 0) / 1e3 for c in d)
m = lambda x, q: round(x[int(len(x) * q)], 1) if x else 0
print(len(w), m(w, 0.5), m(w, 0.9), m(v, 0.5))' "$W/conns.json" "$base")
	n1 "$JZ" conn jazz0 flush
	n1 "$JZ" set jazz0 conncheck off
	read -r f0 s0 extra0 < <(n1 "$@" "$UP" first 10.203.0.2 7777 200 $((base + 300)))
	n1 "$JZ" set jazz0 conncheck on
	stop_bg "$ans" "$echo"
	echo "rep $r $label: in-kernel: approval wait median ${wait} us (p90 ${waitp90} us, ${nw} flows; verdict arrived after median ${vwait} us); approver round trip median ${probe} us (min ${probemin} us, p90 ${probep90} us, 1000 probes); wait / round trip $(ratio "$wait" "$probe") x; cold round trip (200 probes, one process each) median ${probecold} us, wait / cold $(ratio "$wait" "$probecold") x"
	echo "rep $r $label: genl-rtt C ${rtt} us (Python ${prtt} us); pipe ping-pong between 2 processes ${pp} us; checks on: first ${f} us second ${s} us extra ${extra} us; checks off: first ${f0} us second ${s0} us extra ${extra0} us; approval (on-off) $((extra - extra0)) us = $(ratio "$((extra - extra0))" "$rtt") x genl-rtt; extra with checks on = $(ratio "$extra" "$rtt") x genl-rtt"
}
stop_bg() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; true; }
# snap FILE: counters that could explain a lost datagram, as "name value" lines.
snap() {
	{
		n1 $PY "$NLT" stats jazz0 | sed 's/^/n1_/'
		n2 $PY "$NLT" stats jazz0 | sed 's/^/n2_/'
		n2 cat /proc/net/snmp | awk '/^Udp:/ { if (h) { for (i = 2; i <= NF; i++) print "n2_udp_" k[i] "=" $i } else { h = 1; for (i = 2; i <= NF; i++) k[i] = $i } }'
		local a b c rest d=0 q=0
		while read -r a b c rest; do d=$((d + 0x$b)); q=$((q + 0x$c)); done </proc/net/softnet_stat
		echo "softnet_dropped=$d"
		echo "softnet_squeezed=$q"
	} | tr '=' ' ' >"$1"
}
# lossdiag BEFORE AFTER: the counters that grew, "name +delta ...".
lossdiag() {
	awk 'NR == FNR { b[$1] = $2; next } $2 != b[$1] && $1 !~ /(rx|tx)_(packets|bytes)$|udp_(InDatagrams|OutDatagrams)$/ { printf "%s +%d ", $1, $2 - b[$1] }' "$1" "$2"
}
{
echo "# bench-conncheck.sh on $KVER ($(nproc) vCPU, QEMU TCG), $REPS repetitions, medians; guest loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# key driver: $(n1 "$JZ" show jazz0 keys | grep -o 'driver [^ ]*' | head -1)"
if [ "$PARTS" = all ]; then
for r in $(seq "$REPS"); do
	first_pkt pinned "$r" taskset -c 0
	first_pkt free "$r" env
done
bg n2 $PY "$W/b.py" echo 7777 >/dev/null
bgecho=$!
bg n1 "$JZ" answer jazz0 approve-all --quiet >/dev/null 2>>"$W/answer.err"
bgans=$!
sleep 1
for n in 100 1000; do
	for r in $(seq "$REPS"); do
		for mode in on off; do
			n1 "$JZ" conn jazz0 flush
			n1 "$JZ" set jazz0 conncheck "$mode"
			py n2 sink 7000 "$n" >"$W/sink" &
			sk=$!
			sleep 1
			snap "$W/before"
			start=$(py n1 burst 10.203.0.2 7000 "$n" $((40000 + r * 3000 + (n == 1000) * 10000)))
			wait $sk
			snap "$W/after"
			read -r secs got last <"$W/sink"
			# From the burst's first send (the first flow's wait included) to
			# the last datagram; the old first-to-last figure beside it
			# leaves the first flow's wait out.
			echo "rep $r: $n new flows, checks $mode: $(awk -v a="$start" -v b="$last" -v n="$got" 'BEGIN { printf "%.0f flows/s (%.3f s from the first send)", n / (b - a), b - a }'), first-to-last $(awk -v s="$secs" -v n="$got" 'BEGIN { printf "%.0f flows/s (%.3f s)", (n - 1) / s, s }'), $got of $n received"
			[ "$got" = "$n" ] || echo "rep $r: $n flows, checks $mode, loss: $(lossdiag "$W/before" "$W/after") n1 entries by state: $(n1 "$JZ" conns jazz0 --json | $PY -c 'import json,sys,collections; print(dict(collections.Counter(c["state"] for c in json.load(sys.stdin))))')"
		done
	done
done
stop_bg "$bgecho" "$bgans"
fi
bg n1 "$JZ" answer jazz0 approve-all --quiet >/dev/null 2>>"$W/answer.err"
sleep 1
n1 "$JZ" set jazz0 conncheck on
n1 "$JZ" conn jazz0 flush
: >"$W/tcp"
for r in $(seq "$REPS"); do
	order="on off"
	[ $((r % 2)) = 0 ] && order="off on"
	for mode in $order; do
		n1 "$JZ" set jazz0 conncheck "$mode"
		bg n2 iperf3 -s -1 -p 5201 >/dev/null
		wait_listen n2 tcp 5201
		bps=$(n1 iperf3 -c 10.203.0.2 -p 5201 -t "$TIME" -J | $PY -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
		echo "$r $mode $bps" >>"$W/tcp"
		echo "rep $r: tcp checks $mode $(awk -v b="$bps" 'BEGIN { printf "%.0f Mbit/s", b / 1e6 }')"
	done
done
# each repetition's on/off, and their median
$PY -c '
import statistics, sys
v = {}
for line in open(sys.argv[1]):
    r, mode, bps = line.split()
    v.setdefault(int(r), {})[mode] = float(bps)
x = [v[r]["on"] / v[r]["off"] for r in sorted(v)]
print("tcp on/off per repetition: %s; median %.2f; lowest %.2f" %
      (", ".join("%.2f" % q for q in x), statistics.median(x), min(x)))' "$W/tcp"
echo "conn_objects: $(cat /sys/module/jazz/parameters/conn_objects)"
echo "answer stderr: $(tr '\n' ' ' <"$W/answer.err")"
} | tee "$RES"
ok "bench-conncheck ran"
