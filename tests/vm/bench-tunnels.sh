#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Throughput benchmark, run inside the VM by scripts/bench.sh (not a test).
# Two hosts (netns n1, n2); iperf3 from n1 to n2 over
#   veth         plain veth (10.98.0.0/24, MTU 1500): the baseline
#   wireguard    stock WireGuard (10.100.0.0/24)
#   jazz-chacha  jazz, ChaCha20-Poly1305 with zero salts, as the devices'
#                handshake (version 2) agrees them: lib/crypto's
#                chacha20poly1305, WireGuard's own (10.101.0.0/24)
#   jazz-aes     jazz, AES-256-GCM (10.102.0.0/24)
#   jazz-chacha-tpl  jazz, ChaCha20-Poly1305 with random salts (a pair with
#                a device from before handshake version 2): the crypto
#                API's rfc7539 template (10.103.0.0/24); not by default
# The tunnels run over a second veth pair (10.99.0.0/24, MTU 1600) and have
# MTU 1500, so every path carries the same 1500-byte inner packets and the
# 1400-byte UDP payload is never fragmented.
# Tests: TCP 1 stream, TCP 4 streams, UDP 64-byte and 1400-byte payloads
# (unlimited rate; the rate received is what counts). Repetitions are
# interleaved: for each repetition, every test on every path in turn.
# Raw results: $JAZZ_OUT/bench.tsv (kernel, path, test, repetition, bit/s);
# the crypto each path used: $JAZZ_OUT/drivers.tsv (path, driver): jazz's
# from `jazzctl show --json` at both ends, WireGuard's own ChaCha20-Poly1305
# (lib/crypto) with the arch modules it runs on.
#
# Environment: BENCH_TIME (seconds per run, default 3), BENCH_REPS (5),
# BENCH_PATHS (default "veth wireguard jazz-chacha jazz-aes"),
# BENCH_TESTS (default "tcp1 tcp4 udp64 udp1400"), BENCH_UNDERLAY (plain;
# gro: vu1 without TSO/USO, GRO on vu2, see scripts/bench.sh --underlay-gro).
. "$(dirname "$0")/lib.sh"

need_root
need_cmd ip iperf3 wg
T=${BENCH_TIME:-3}
REPS=${BENCH_REPS:-5}
PATHS=${BENCH_PATHS:-veth wireguard jazz-chacha jazz-aes}
TESTS=${BENCH_TESTS:-tcp1 tcp4 udp64 udp1400}
OUTDIR=${JAZZ_OUT:-$JAZZ_TOP/out/bench}
TSV=$OUTDIR/bench.tsv
KVER=$(uname -r)
JAZZCTL=$JAZZ_TOP/build/jazzctl
mkdir -p "$OUTDIR"
printf 'kernel\tpath\ttest\trep\tbps\n' >"$TSV"
: >"$OUTDIR/unavailable.tsv"
dmesg_mark

ns_add n1 n2
veth n1 vb1 n2 vb2
addr n1 vb1 10.98.0.1/24
addr n2 vb2 10.98.0.2/24
veth n1 vu1 n2 vu2
ip -n "$(ns_name n1)" link set vu1 mtu 1600
ip -n "$(ns_name n2)" link set vu2 mtu 1600
addr n1 vu1 10.99.0.1/24
addr n2 vu2 10.99.0.2/24
if [ "${BENCH_UNDERLAY:-plain}" = gro ]; then
	check "underlay: GRO on vu2" n2 $PY "$JAZZ_TOP/tests/vm/ethtool_feat.py" vu2 rx-gro=on
	check "underlay: no TSO/USO on vu1" n1 $PY "$JAZZ_TOP/tests/vm/ethtool_feat.py" vu1 \
		tx-tcp-segmentation=off tx-tcp6-segmentation=off tx-tcp-ecn-segmentation=off \
		tx-tcp-mangleid-segmentation=off tx-udp-segmentation=off
fi
check "underlay ping" n1 ping -c 1 -W 2 10.99.0.2

declare -A DST
DST[veth]=10.98.0.2
AVAILABLE=(veth)

unavailable() { # path reason
	diag "$1 unavailable: $2"
	printf '%s\t%s\n' "$1" "$2" >>"$OUTDIR/unavailable.tsv"
}

setup_wireguard() {
	local k1 k2 p1 p2
	modprobe wireguard || { unavailable wireguard "modprobe wireguard failed"; return 1; }
	k1=$(wg genkey); k2=$(wg genkey)
	p1=$(wg pubkey <<<"$k1"); p2=$(wg pubkey <<<"$k2")
	ip -n "$(ns_name n1)" link add wg0 mtu 1500 type wireguard &&
	ip -n "$(ns_name n2)" link add wg0 mtu 1500 type wireguard &&
	n1 wg set wg0 private-key <(echo "$k1") listen-port 51821 \
		peer "$p2" endpoint 10.99.0.2:51822 allowed-ips 10.100.0.2/32 &&
	n2 wg set wg0 private-key <(echo "$k2") listen-port 51822 \
		peer "$p1" endpoint 10.99.0.1:51821 allowed-ips 10.100.0.1/32 &&
	addr n1 wg0 10.100.0.1/24 && addr n2 wg0 10.100.0.2/24 ||
		{ unavailable wireguard "setup failed"; return 1; }
	DST[wireguard]=10.100.0.2
}

hexrand() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# jazz device $4 in n1 and n2 for path $1, cipher $2, inner subnet
# 10.$3.0.0/24, UDP ports $5 (n1) and $5+1 (n2).
setup_jazz() {
	local path=$1 cipher=$2 net=$3 dev=$4 port=$5 ka kb err
	if ! modprobe jazz 2>/dev/null; then
		unavailable "$path" "jazz.ko not loadable (scripts/build-kmod.sh)"
		return 1
	fi
	[ -x "$JAZZCTL" ] || { unavailable "$path" "build/jazzctl missing (make userspace)"; return 1; }
	# SALT (environment): both directions' salt instead of random ones.
	ka=$(hexrand 32):${SALT:-$(hexrand 4)}
	kb=$(hexrand 32):${SALT:-$(hexrand 4)}
	err=$( {
		ip -n "$(ns_name n1)" link add "$dev" type jazz &&
		ip -n "$(ns_name n2)" link add "$dev" type jazz &&
		ip -n "$(ns_name n1)" link set "$dev" mtu 1500 &&
		ip -n "$(ns_name n2)" link set "$dev" mtu 1500 &&
		n1 "$JAZZCTL" set "$dev" listen-port "$port" conncheck off \
			peer 2 remote-id 1 name n2 endpoint "10.99.0.2:$((port + 1))" allowed-ips "10.$net.0.2/32" &&
		n2 "$JAZZCTL" set "$dev" listen-port "$((port + 1))" conncheck off \
			peer 1 remote-id 2 name n1 endpoint "10.99.0.1:$port" allowed-ips "10.$net.0.1/32" &&
		n1 "$JAZZCTL" key "$dev" new peer 2 slot primary id 1 cipher "$cipher" tx "$ka" rx "$kb" &&
		n2 "$JAZZCTL" key "$dev" new peer 1 slot primary id 1 cipher "$cipher" tx "$kb" rx "$ka" &&
		addr n1 "$dev" "10.$net.0.1/24" && addr n2 "$dev" "10.$net.0.2/24" &&
		n1 ping -c 2 -i 0.3 -W 3 "10.$net.0.2"
	} 2>&1 ) || { unavailable "$path" "setup failed: $(echo "$err" | tail -n 3 | tr '\n' ' ')"; return 1; }
	DST[$path]=10.$net.0.2
}

for p in $PATHS; do
	case "$p" in
	veth) ;;
	wireguard) setup_wireguard && AVAILABLE+=(wireguard) ;;
	jazz-chacha) SALT=00000000 setup_jazz jazz-chacha chacha20-poly1305 101 jz0 51831 &&
		AVAILABLE+=(jazz-chacha) ;;
	jazz-aes) setup_jazz jazz-aes aes-256-gcm 102 jz1 51841 && AVAILABLE+=(jazz-aes) ;;
	jazz-chacha-tpl) setup_jazz jazz-chacha-tpl chacha20-poly1305 103 jz2 51851 &&
		AVAILABLE+=(jazz-chacha-tpl) ;;
	*) unavailable "$p" "unknown path" ;;
	esac
done
for p in "${AVAILABLE[@]}"; do
	check "$p: ping ${DST[$p]}" n1 ping -c 1 -W 3 "${DST[$p]}"
done

# jazz_drivers DEV: the drivers of DEV's keys at both ends, comma separated.
jazz_drivers() {
	local ns
	for ns in n1 n2; do
		"$ns" "$JAZZCTL" show "$1" --json | $PY -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if "driver" in o:
            print(o["driver"])
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(sys.stdin))'
	done | sort -u | paste -sd, -
}
# WireGuard calls lib/crypto's ChaCha20-Poly1305, which uses the x86_64
# SIMD modules when they are loaded.
wg_driver() {
	local m arch=
	for m in chacha_x86_64 poly1305_x86_64; do
		[ -d "/sys/module/$m" ] && arch="$arch${arch:+, }$m"
	done
	echo "WireGuard's own ChaCha20-Poly1305 (lib/crypto${arch:+; $arch})"
}
: >"$OUTDIR/drivers.tsv"
for p in "${AVAILABLE[@]}"; do
	case "$p" in
	wireguard) d=$(wg_driver) ;;
	jazz-chacha) d=$(jazz_drivers jz0) ;;
	jazz-aes) d=$(jazz_drivers jz1) ;;
	jazz-chacha-tpl) d=$(jazz_drivers jz2) ;;
	*) continue ;;
	esac
	printf '%s\t%s\n' "$p" "$d" >>"$OUTDIR/drivers.tsv"
	diag "$p crypto: $d"
done

bg n2 iperf3 -s -p 5201 >/dev/null 2>&1
wait_listen n2 tcp 5201 || { not_ok "iperf3 server listening"; exit 1; }

run_one() { # path test -> prints bit/s
	local dst=${DST[$1]} json args try
	case "$2" in
	tcp1) args=(-P 1) ;;
	tcp4) args=(-P 4) ;;
	udp64) args=(-u -b 0 -l 64) ;;
	udp1400) args=(-u -b 0 -l 1400) ;;
	esac
	json=$(mktemp)
	# The run's retransmissions (TCP) or datagrams lost between the sender
	# and the receiving socket (UDP), and iperf3's CPU use, for the log.
	: >"$OUTDIR/iperf-cpu"
	for try in 1 2 3; do
		# The server handles one test at a time; it may still be closing the last.
		if n1 timeout $((T + 20)) iperf3 -c "$dst" -p 5201 -t "$T" -J "${args[@]}" >"$json" 2>/dev/null &&
			iperf_bps "$json"; then
			jq -r '.end | .cpu_utilization_percent as $c |
				"retrans=\(.sum_sent.retransmits // "-") lost=\(if .sum.lost_percent then (.sum.lost_percent | floor | tostring) + "%" else "-" end) sender=\($c.host_total | floor)% (sys \($c.host_system | floor)) receiver=\($c.remote_total | floor)% (sys \($c.remote_system | floor))"' \
				"$json" >"$OUTDIR/iperf-cpu" 2>/dev/null
			rm -f "$json"
			return 0
		fi
		sleep 1
	done
	rm -f "$json"
	return 1
}

# BENCH_PERF=1: instead of the repetitions, one run of each test on each
# path (jazz paths once more with tx_gso=0, as "<path>/nogso") with
#   - busy CPU time of the whole guest (/proc/stat: all CPUs, both
#     namespaces, not idle or iowait),
#   - the path's counters (path_counters: packets sent, crossing the
#     underlay, received, dropped; context switches, NET_RX softirqs, CPU
#     time by thread kind) as a "# counters" line, and
#   - ftrace function_graph durations of each stage's entry function,
#     summed (WireGuard's workers handle many packets a call, so only sums
#     compare),
# both divided by the packets the far tunnel end received. Raw data in
# perf.tsv and trace-<path>-<test>.txt; scripts/bench-profile.py (run by
# scripts/bench.sh --profile) makes the table. A perf cpu-clock profile
# was tried first: under TCG its samples land where interrupts are
# re-enabled (spin_unlock_irqrestore, finish_task_switch), never in the
# cipher, so it cannot split the time by stage.
# BENCH_STAGES_JAZZ / BENCH_STAGES_WG replace the traced entry functions
# (scripts/bench-trace-sum.py sums any of them from the saved traces).
STAGES_JAZZ=${BENCH_STAGES_JAZZ:-"jazz_xmit jazz_tx_crypt jazz_tx_done __udp_gso_segment jazz_udp_recv jazz_rx_crypt jazz_rx_done"}
STAGES_WG=${BENCH_STAGES_WG:-"wg_xmit wg_packet_encrypt_worker wg_packet_tx_worker __udp_gso_segment wg_packet_receive wg_packet_decrypt_worker wg_packet_rx_poll"}
TR=/sys/kernel/tracing
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# Counters along the path, as name=value words: packets the sender's
# tunnel device sent and dropped, the underlay's packets each way, the
# receiver's tunnel device, context switches and the NET_RX softirqs.
path_counters() { # receiving tunnel device
	local d=$1 s=/sys/class/net/%s/statistics/%s
	local s1=$d
	[ "$d" = vb2 ] && s1=vb1
	printf 'n1_tx=%s n1_txdrop=%s vu1_tx=%s vu2_rx=%s vu2_rxdrop=%s n2_rx=%s n2_rxdrop=%s ctxt=%s netrx=%s' \
		"$(n1 cat "$(printf "$s" "$s1" tx_packets)" 2>/dev/null || echo 0)" \
		"$(n1 cat "$(printf "$s" "$s1" tx_dropped)" 2>/dev/null || echo 0)" \
		"$(n1 cat "$(printf "$s" vu1 tx_packets)")" "$(n2 cat "$(printf "$s" vu2 rx_packets)")" \
		"$(n2 cat "$(printf "$s" vu2 rx_dropped)")" \
		"$(n2 cat "$(printf "$s" "$d" rx_packets)")" "$(n2 cat "$(printf "$s" "$d" rx_dropped)")" \
		"$(awk '/^ctxt/ { print $2 }' /proc/stat)" \
		"$(awk '/NET_RX/ { s = 0; for (i = 2; i <= NF; i++) s += $i; print s }' /proc/softirqs)"
	# CPU time (µs): user, system, softirq (/proc/stat), and by thread
	# kind (schedstat run time: kworkers, ksoftirqd, iperf3).
	awk '/^cpu / { printf " usr=%d sys=%d sirq=%d", ($2 + $3) * 10000, $4 * 10000, $8 * 10000 }' /proc/stat
	local pid comm run kw=0 ks=0 ip=0
	for pid in /proc/[0-9]*; do
		read -r comm <"$pid/comm" 2>/dev/null || continue
		read -r run _ <"$pid/schedstat" 2>/dev/null || continue
		case "$comm" in
		kworker*) kw=$((kw + run / 1000)) ;;
		ksoftirqd*) ks=$((ks + run / 1000)) ;;
		iperf3) ip=$((ip + run / 1000)) ;;
		esac
	done
	printf ' kworker=%d ksoftirqd=%d iperf3=%d' "$kw" "$ks" "$ip"
	# Inter-processor interrupts (dear under TCG): rescheduling, function call.
	awk '$1 == "RES:" || $1 == "CAL:" { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i
		printf " %s=%d", tolower(substr($1, 1, 3)), s }' /proc/interrupts
}
profile_one() { # path label test
	local p=$1 label=$2 t=$3 dev pk0 pk1 b0 b1 bps f
	case "$p" in
	veth) dev=vb2 ;; wireguard) dev=wg0 ;; jazz-chacha) dev=jz0 ;; jazz-aes) dev=jz1 ;; *) dev=jz2 ;;
	esac
	case "$p" in
	veth) f= ;; wireguard) f=$STAGES_WG ;; *) f=$STAGES_JAZZ ;;
	esac
	echo 0 >$TR/tracing_on
	echo nop >$TR/current_tracer
	echo >$TR/trace
	if [ -n "$f" ]; then
		echo >$TR/set_ftrace_filter
		for x in $f; do echo "$x" >>$TR/set_ftrace_filter 2>/dev/null || diag "no ftrace of $x"; done
		echo function_graph >$TR/current_tracer
		# Closing braces name their function (scripts/bench-trace-sum.py).
		echo 1 >$TR/options/funcgraph-tail 2>/dev/null
		# BENCH_TRACE_OWN=1: a function's own time, without the time its
		# task was scheduled out or interrupts ran inside it.
		if [ "${BENCH_TRACE_OWN:-0}" = 1 ]; then
			echo 0 >$TR/options/sleep-time
			echo 0 >$TR/options/funcgraph-irqs
		fi
		echo 1 >$TR/tracing_on
	fi
	pk0=$(n2 cat /sys/class/net/$dev/statistics/rx_packets)
	local c0 c1
	c0=$(path_counters "$dev")
	b0=$(busy_jiffies)
	bps=$(run_one "$p" "$t") || bps=NA
	b1=$(busy_jiffies)
	c1=$(path_counters "$dev")
	pk1=$(n2 cat /sys/class/net/$dev/statistics/rx_packets)
	diag "counters $label $t: $(paste -d' ' <(tr ' ' '\n' <<<"$c0") <(tr ' ' '\n' <<<"$c1") |
		awk '{ split($1, a, "="); split($2, b, "="); printf "%s=%d ", a[1], b[2] - a[2] }') $(cat "$OUTDIR/iperf-cpu" 2>/dev/null)"
	echo 0 >$TR/tracing_on
	[ -n "$f" ] && cp $TR/trace "$OUTDIR/trace-${label//\//-}-$t.txt"
	echo nop >$TR/current_tracer
	printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$t" "$((pk1 - pk0))" "$bps" \
		"$(((b1 - b0) * 1000000 / $(getconf CLK_TCK)))" >>"$OUTDIR/perf.tsv"
	ok "profile $t $label: $((pk1 - pk0)) packets, $bps bit/s"
}
if [ "${BENCH_PERF:-0}" = 1 ]; then
	mountpoint -q $TR || mount -t tracefs nodev $TR
	echo 16384 >$TR/buffer_size_kb
	: >"$OUTDIR/perf.tsv"
	for t in $TESTS; do
		for p in "${AVAILABLE[@]}"; do
			profile_one "$p" "$p" "$t"
			case "$p" in jazz-*) ;; *) continue ;; esac
			[ -w /sys/module/jazz/parameters/tx_gso ] || continue
			echo 0 >/sys/module/jazz/parameters/tx_gso
			profile_one "$p" "$p/nogso" "$t"
			echo 1 >/sys/module/jazz/parameters/tx_gso
		done
	done
	echo >$TR/set_ftrace_filter
	REPS=0
fi

for ((rep = 1; rep <= REPS; rep++)); do
	for t in $TESTS; do
		for p in "${AVAILABLE[@]}"; do
			if bps=$(run_one "$p" "$t"); then
				printf '%s\t%s\t%s\t%s\t%s\n' "$KVER" "$p" "$t" "$rep" "$bps" >>"$TSV"
				ok "rep $rep $t $p: $((bps / 1000000)) Mbit/s $(cat "$OUTDIR/iperf-cpu" 2>/dev/null)"
			else
				printf '%s\t%s\t%s\t%s\t%s\n' "$KVER" "$p" "$t" "$rep" "NA" >>"$TSV"
				not_ok "rep $rep $t $p: iperf3 failed"
			fi
		done
	done
done
dmesg_check
