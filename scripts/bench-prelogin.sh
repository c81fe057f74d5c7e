#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Pre-login flood (issue 15): a legitimate password login's time while one
# source (127.0.0.2) holds 1,000 idle TCP connections and sends 100 junk
# password logins per second, against the same login on a quiet server in
# the same run (the baseline); and the server's resident memory meanwhile.
# The server runs with its default limits (max_per_source 256,
# max_halfopen 1024, login_rate 10/s burst 256), a real KDC on loopback.
#
# Usage: scripts/bench-prelogin.sh [SECONDS=30]
# Prints the baseline and flood login times (median, max), their ratio and
# the RSS before and at its peak.
set -u
case "${1:-}" in
-h | --help)
	sed -n '3,13s/^# \{0,1\}//p' "$0"
	exit 0 ;;
"" | *[!0-9]*)
	[ -z "${1:-}" ] || { echo "usage: $0 [SECONDS]" >&2; exit 2; } ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-30}
. "$ROOT/tests/host/controlplane/lib.sh"
cp_setup >/dev/null || { echo "setup failed"; exit 1; }
build_jzclient || exit 1
cp_server_conf "[server]" "handshake_timeout = $((SECS + 20))" \
	"login_timeout = $((SECS + 20))" >/dev/null
# descriptors for 4096 sessions (what LimitNOFILE in the unit gives)
prlimit --nofile=8192:8192 "$JAZZD" -f -c "$T/server.conf" >"$T/server.log" 2>&1 &
SP=$!
PIDS+=($SP)
wait_for "$T/server.log" "server listening" 5 || { echo "server did not start"; exit 1; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SP/status"; }
ms() { # one legitimate login from 127.0.0.1: prints ms, or "fail"
	local s=$(date +%s%N)
	if jzc -b 127.0.0.1 -m password -u bob -p bobpw -d bob-pc login >>"$T/legit.out" 2>&1; then
		echo $(( ($(date +%s%N) - s) / 1000000 ))
	else
		echo fail
	fi
}
stats() { # median max of the numbers on stdin (fail counted as 99999)
	sed 's/fail/99999/' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)], a[NR] }'
}
jzc -b 127.0.0.1 -m password -u bob -p bobpw -d bob-pc login >/dev/null	# key cached
base=$(for i in $(seq 10); do ms "q$i"; sleep 0.2; done | stats)
r0=$(rss)

jzc -b 127.0.0.2 idle 1000 "$((SECS + 5))" >"$T/idle.out" 2>&1 &
IP=$!
jzc -b 127.0.0.2 -m password -u carol -p wrong junk $((SECS * 100)) 100 >"$T/junk.out" 2>&1 &
JP=$!
sleep 3
peak=$r0
flood=$(for i in $(seq $((SECS / 3 > 3 ? SECS / 3 : 3))); do
	ms "f$i"
	r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
	echo "$peak" >"$T/peak"
	sleep 2
done | stats)
peak=$(cat "$T/peak")
wait $JP $IP 2>/dev/null
echo "command: scripts/bench-prelogin.sh $SECS"
echo "flood: $(grep '^idle made' "$T/idle.out"), $(cat "$T/junk.out")"
set -- $base; bmed=$1 bmax=$2
set -- $flood; fmed=$1 fmax=$2
echo "legit login, quiet server:  median ${bmed} ms, max ${bmax} ms"
echo "legit login, under flood:   median ${fmed} ms, max ${fmax} ms"
awk -v a="$fmed" -v b="$bmed" 'BEGIN { printf "ratio flood/quiet (median): %.2f\n", a / b }'
echo "server RSS: ${r0} kB before the flood, peak ${peak} kB during it"
grep -v '^welcome' "$T/legit.out" | sort | uniq -c | sed 's/^/legit failures: /'
grep -E "refused by accept_conn|timed out" "$T/server.log" | sed 's/.*jazzd/jazzd/; s/[0-9]\{4,\}/N/g' | sort | uniq -c | head -5
echo "under 1 s under flood: $([ "$fmax" -lt 1000 ] && echo yes || echo NO)"
