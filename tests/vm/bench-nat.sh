#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmark (not a test; scripts/bench-nat.sh runs it, scripts/test.sh
# skips bench-*): NAT traversal (issue 20) in the NAT world of
# tests/vm/lib-nat.sh, one VM run, three paths between alice and carol:
#   direct   both NATs forward UDP 51820 to their device (no punch needed)
#   punched  port-preserving NATs that drop every unsolicited packet
#   relayed  fully-random NATs that drop every unsolicited packet: the
#            punch fails (10 s), the server relays ([server] relay_listen)
# For each: the time from alice's first ping to the first reply (fresh
# clients, no key, no verdict cached: approval + handshake + path), the
# round trip once established (20 pings), and TCP throughput alice ->
# carol (iperf3, 5 s); relayed throughput as a ratio to the punched and
# the direct paths', measured in the same run. Prints "# bench:" lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib-nat.sh"

need_cmd iperf3
NATW_SERVER_EXTRA="relay_listen = 10.0.0.2
relay_ports = 40000-40099"
natw_up

declare -A FIRST RTT BPS
run_case() { # NAME NA-RULES NC-RULES
	local name=$1 to start first
	natw_stop alice carol
	natw_rules na $2
	natw_rules nc $3
	natw_start alice carol
	natw_online alice && natw_online carol || { not_ok "$name: online"; return; }
	to=$(natw_vip carol)
	start=$(date +%s.%N)
	alice ping -D -i 0.2 -c 200 -W 1 "$to" >"$W/$name.ping" 2>&1 &
	local p=$!
	wait_for 60 grep -q "bytes from" "$W/$name.ping"
	kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
	first=$(sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$W/$name.ping" | head -n 1)
	FIRST[$name]=$(awk -v a="$start" -v b="$first" 'BEGIN { if (b == "") print "none"; else printf "%.2f", b - a }')
	RTT[$name]=$(alice ping -q -c 20 -i 0.2 -W 2 "$to" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
	carol iperf3 -s -1 -B "$to" >/dev/null 2>&1 &
	sleep 1
	alice iperf3 -c "$to" -t 5 -J >"$W/$name.iperf" 2>/dev/null
	BPS[$name]=$(iperf_bps "$W/$name.iperf" received)
	check "$name: first reply after ${FIRST[$name]} s, rtt ${RTT[$name]} ms, ${BPS[$name]} bit/s" \
		test "${FIRST[$name]}" != none
	diag "paths: alice $(natw_path alice carol-pc), carol $(natw_path carol alice-pc)"
}

run_case direct "masq fw fwd" "masq fw fwd"
run_case punched "masq drop" "masq drop"
run_case relayed "random drop" "random drop"
check "relayed: alice's kernel sends to the relay" \
	sh -c "ip netns exec $(ns_name alice) $JZ show jazz0 --json | grep -q '10.0.0.2:400'"
natw_stop alice carol
ratio=$(awk -v r="${BPS[relayed]:-0}" -v d="${BPS[punched]:-0}" 'BEGIN { if (d > 0) printf "%.2f", r / d; else print "n/a" }')
dratio=$(awk -v r="${BPS[relayed]:-0}" -v d="${BPS[direct]:-0}" 'BEGIN { if (d > 0) printf "%.2f", r / d; else print "n/a" }')
echo "# bench: first ping to first reply (s): direct ${FIRST[direct]}, punched ${FIRST[punched]}, relayed ${FIRST[relayed]}"
echo "# bench: rtt established (ms): direct ${RTT[direct]}, punched ${RTT[punched]}, relayed ${RTT[relayed]}"
echo "# bench: TCP alice->carol (bit/s): direct ${BPS[direct]}, punched ${BPS[punched]}, relayed ${BPS[relayed]}; relayed/punched $ratio, relayed/direct $dratio"
echo "# bench: host load $(cut -d' ' -f1-3 /proc/loadavg)"
