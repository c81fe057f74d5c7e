#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Control plane at scale (issue 18), on this machine, fake kernel backend,
# everything on loopback: N devices of one user (jzsim, one process, real
# TLS and Kerberos logins against the tests' MIT KDC), each seeing all the
# others (the sample plugin's peer_filter keeps everyone). Then J more
# devices join one at a time, then the server is restarted.
#
#   scripts/bench-scale.sh [-n N (10000)] [-j J (3)] [--no-restart] [--no-known]
#
# Reports, per join: seconds until the newcomer has its complete list and
# until every other device has it (delta), the server's CPU for the join
# next to its idle CPU over the same span just before (keepalives: the
# baseline); the server's RSS with 0 and N devices (per device: the
# difference / N); after a SIGTERM and a restart, the seconds until every
# device is back online with a complete list, and how many of the devices
# were answered "peers_unchanged" (the list each kept, presented at login:
# "peers_known"); --no-known: logins without it, as clients from before
# it (every device gets its full list again). Targets (issue 18): join in
# 2 s, <= 50 ms server CPU, <= 512 MiB at 10,000, back within 60 s.
# Output in out/bench-scale/ (sim.out, server.log, results.md, also
# printed). Not a test: exits non-zero only if it could not run.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CMD="scripts/bench-scale.sh${*:+ $*}"
NDEV=10000
JOINS=3
RESTART=1
KNOWN=()
while [ $# -gt 0 ]; do
	case "$1" in
	-n) NDEV=${2:?}; shift ;;
	-j) JOINS=${2:?}; shift ;;
	--no-restart) RESTART=0 ;;
	--no-known) KNOWN=(-K) ;;
	-h|--help) sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-scale: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
. "$TOP/tests/scale/lib.sh"
OUT=$TOP/out/bench-scale
mkdir -p "$OUT"
make -C "$TOP" userspace >/dev/null || exit 1
build_jzsim || exit 1
# the run's directory under out/, not /tmp: a long run must not lose its
# KDC and ccache to someone's cleanup of /tmp/jazz-cp.* (seen once)
mktemp() { command mktemp -d "$OUT/run.XXXXXX"; }
cp_setup || { echo "bench-scale: setup failed" >&2; exit 1; }
cp_server_conf "[server]" "max_sessions = $((NDEV + JOINS + 100))" "${SCALE_LIMITS[@]}" "keepalive = 60" "dead_after = 600"
sed -i -e 's/^handshake_timeout = .*/handshake_timeout = 60/' \
	-e 's/^login_timeout = .*/login_timeout = 120/' "$T/server.conf"
# without -d: at debug level the log of every event costs more than the join
start_server() {
	"$JAZZD" -f -c "$T/server.conf" >>"$T/server.log" 2>&1 &
	SPID=$!
	PIDS+=($SPID)
	echo "$SPID" >"$OUT/server.pid"	# for the sampler, across the restart
}
start_server
wait_for "$T/server.log" "server listening" 20 || { echo "bench-scale: no server" >&2; exit 1; }
sleep 1
RSS0=$(awk '/^VmRSS/ {print $2}' "/proc/$SPID/status")
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
LIMIT=$((NDEV / 10 + 300))
R=()
[ "$RESTART" = 1 ] && R=(-R)
jzsim -k "$SPID" -j "$JOINS" "${R[@]}" "${KNOWN[@]}" -T "$((LIMIT * 4))" -P 128 "$NDEV" \
	> "$OUT/sim.out" 2> "$OUT/sim.err" &
SIM=$!
PIDS+=($SIM)
# every 30 s: logins so far, the server's RSS and its peak, its CPU, the load
sample() {
	local st
	echo "| UTC | logins | RSS (MiB) | peak RSS (MiB) | server CPU (s) | load |" >"$OUT/samples.md"
	echo "| --- | --- | --- | --- | --- | --- |" >>"$OUT/samples.md"
	local pid
	while kill -0 "$SIM" 2>/dev/null; do
		sleep 30
		pid=$(cat "$OUT/server.pid")
		st=/proc/$pid/status
		[ -r "$st" ] || continue
		echo "| $(date -u +%T) | $(grep -c ' login: ' "$T/server.log") |" \
			"$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "$st") |" \
			"$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "$st") |" \
			"$(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$pid/stat") |" \
			"$(cut -d' ' -f1 /proc/loadavg) |" >>"$OUT/samples.md"
	done
}
sample &
PIDS+=($!)
# wait for the joins; then restart the server under the simulator
for ((i = 0; i < LIMIT * 2; i++)); do
	[ "$(grep -c '^join ' "$OUT/sim.out")" -ge "$JOINS" ] && break
	kill -0 "$SIM" 2>/dev/null || break
	sleep 1
done
RSSN=$(awk '/^rss / {print $2}' "$OUT/sim.out")
HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$SPID/status" 2>/dev/null)
if [ "$RESTART" = 1 ] && kill -0 "$SIM" 2>/dev/null; then
	kill "$SPID"
	wait "$SPID"
	sleep 1
	start_server
	for ((i = 0; i < LIMIT; i++)); do
		grep -q '^recovered ' "$OUT/sim.out" && break
		kill -0 "$SIM" 2>/dev/null || break
		sleep 1
	done
fi
wait "$SIM"
SIMRC=$?
HWM2=$(awk '/^VmHWM/ {print $2}' "/proc/$SPID/status" 2>/dev/null)
cp "$T/server.log" "$OUT/server.log" 2>/dev/null
{
	echo "### bench-scale: $NDEV devices ($(date -u +%FT%TZ))"
	echo
	echo "\`$CMD\`; load average before / after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg) (2 cores, shared; everything under nice)"
	echo
	awk '/^online /{printf "- %d devices online in %.1f s", $2, $3}
	     /^complete /{printf ", every list complete at %.1f s\n", $3}' "$OUT/sim.out"
	echo "- server RSS: $RSS0 KiB with no device, ${RSSN:-?} KiB with $NDEV:" \
		"$(( (${RSSN:-0} - RSS0) / NDEV )) KiB per device; peak before the restart ${HWM:-?} KiB"
	echo
	echo "| join | newcomer's list (s) | every delta (s) | server CPU (ms) | of which system (ms) | idle CPU, same span (ms) |"
	echo "| --- | --- | --- | --- | --- | --- |"
	awk '/^join /{printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $7, $6}' "$OUT/sim.out"
	echo
	if [ "$RESTART" = 1 ]; then
		awk '/^recovered /{printf "- restart: all %d devices back with complete lists %.1f s after the first lost connection\n", $2, $3}' "$OUT/sim.out"
		awk '/^lists unchanged /{printf "- first lists after the restart: %d answered peers_unchanged, %d full lists to devices that presented theirs\n", $3, $5}' "$OUT/sim.out"
		grep -q '^recovered ' "$OUT/sim.out" || echo "- restart: not recovered (see $OUT/sim.out)"
		echo "- the restarted server's peak RSS: ${HWM2:-?} KiB"
	fi
	echo
	echo "Samples (login lines in the server log include reconnections):"
	echo
	cat "$OUT/samples.md"
	[ "$SIMRC" = 0 ] || echo "- jzsim exited $SIMRC: $(grep -E '^(fail|timeout)' "$OUT/sim.out" | head -3 | tr '\n' ';')"
} | tee "$OUT/results.md"
exit 0
