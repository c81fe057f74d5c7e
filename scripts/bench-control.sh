#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# jazzd control-plane benchmark: logins per second in both modes (Kerberos
# AP-REQ and password login) and approvals per second through a real jazzd
# server (TLS 1.3, sample plugin, real KDC on loopback), next to the raw
# libkrb5 verification rates measured in the same run by
# scripts/bench-krb.sh (jazzd/auth/ alone, no daemon, no TLS).
#
# Next to them: the TLS 1.3 handshake alone (tests/host/controlplane/tlsbench,
# server side, jazzd's own TLS context), and the floor it sets with the raw
# check: a login cannot cost the server less CPU than handshake + check.
#
# Logins: tests/host/controlplane/jzclient "many N": N clients connect at
# once, each a full TLS handshake + token + login + lease + welcome; the
# clients make their tokens on the same 2 cores (for the password mode the
# client's own string-to-key costs as much as the server's).
# Approvals: two logged-in devices, one sends N conn_request (64 in flight);
# each one runs peer_connection in the plugin and the verdict goes to the
# destination, is acknowledged, then to the origin.
#
# Usage: scripts/bench-control.sh [-n LOGINS] [-a APPROVALS] [-r ROUNDS]
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
NL=200 NA=5000 R=3
while getopts n:a:r: o; do
	case $o in
	n) NL=$OPTARG ;; a) NA=$OPTARG ;; r) R=$OPTARG ;; *) exit 2 ;;
	esac
done
CMD="scripts/bench-control.sh -n $NL -a $NA -r $R"
. "$TOP/tests/host/controlplane/lib.sh"
nice make -s -C "$TOP" userspace >/dev/null || exit 1
build_jzclient || exit 1
build_tlsbench || exit 1
cp_setup || exit 1
cp_server_conf "[server]" "max_devices = 0" "login_burst = 100000" "login_rate = 100000" "max_per_source = 100000" "max_halfopen = 100000" "login_timeout = 60" "handshake_timeout = 30" \
	"[jazzd]" "log_level = warning"
# not cp_start: that adds -d (debug logging), which a production server
# does not run with; log_level = warning is what is measured
"$JAZZD" -f -c "$T/server.conf" >"$T/server.log" 2>&1 &
PID_server=$!
PIDS+=("$PID_server")
for _ in $(seq 100); do
	ss -Hltn "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ss -Hltn "sport = :$PORT" | grep -q . || { echo "server did not start"; cat "$T/server.log"; exit 1; }

best() { sort -g | tail -1; }
# CPU figures: the median round
med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
SP=$(cp_pid server)
# the server's CPU seconds, all its threads (jazzd's threads live as long as
# it does), in nanoseconds from schedstat: utime + stime in /proc/PID/stat
# come in 10 ms ticks, 5 % of a 200-login round
cpu() { cat /proc/"$SP"/task/*/schedstat | awk '{ s += $1 } END { printf "%.6f", s / 1e9 }'; }
# the server's CPU time once it is idle again: the work a round leaves behind
# (the last peer computation, closing sessions) is counted in that round
cpu_idle() {
	local a b i
	a=$(cpu)
	for i in $(seq 30); do
		sleep 0.3
		b=$(cpu)
		# idle: under 1 ms of CPU in 0.3 s (timers still tick)
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(b - a < 0.001) }' && break
		a=$b
	done
	echo "$a"
}
# N per second of the server's own CPU time spent between two cpu() readings
per_cpu() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > a) printf "%.1f", n / (b - a); else print "n/a" }'; }
rate() { awk -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == "s") t = $(i - 1) } END { printf "%.1f", n / t }'; }

ka=() pw=() ap=() kc=() pc=() ac=()
for r in $(seq "$R"); do
	c0=$(cpu_idle)
	o=$(jzc -c "$T/alice.cc" -d k$r many "$NL"); grep -q "^ok $NL/$NL" <<<"$o" || echo "# kerberos run $r: $o"
	c1=$(cpu_idle)
	ka+=("$(rate "$NL" <<<"$o")") kc+=("$(per_cpu "$NL" "$c0" "$c1")")
	o=$(jzc -m password -u dave -p davepw -d p$r many "$NL"); grep -q "^ok $NL/$NL" <<<"$o" || echo "# password run $r: $o"
	c2=$(cpu_idle)
	pw+=("$(rate "$NL" <<<"$o")") pc+=("$(per_cpu "$NL" "$c1" "$c2")")
	o=$(jzc -m password -u bob -p bobpw -d a$r approvals "$NA"); grep -q "^approvals $NA/$NA" <<<"$o" || echo "# approvals run $r: $o"
	c3=$(cpu_idle)
	ap+=("$(rate "$NA" <<<"$o")") ac+=("$(per_cpu "$NA" "$c2" "$c3")")
done
K=$(printf '%s\n' "${ka[@]}" | best) KC=$(printf '%s\n' "${kc[@]}" | med)
P=$(printf '%s\n' "${pw[@]}" | best) PC=$(printf '%s\n' "${pc[@]}" | med)
A=$(printf '%s\n' "${ap[@]}" | best) AC=$(printf '%s\n' "${ac[@]}" | med)
echo "# per round: kerberos wall ${ka[*]} cpu ${kc[*]}; password wall ${pw[*]} cpu ${pc[*]}; approvals wall ${ap[*]} cpu ${ac[*]}"
cp_stop server

# a clean environment: bench-krb.sh starts its own KDC
raw=$(env -i PATH="$PATH" HOME="${HOME:-/root}" nice "$TOP/scripts/bench-krb.sh" --quick 1 2 2>/dev/null | grep '^raw\.')
get() { sed -n "s/^raw\.$1=//p" <<<"$raw" | head -1; }
# wall: best of 1 and 2 threads; per CPU second: the 1-thread run (one core)
RAP=$(printf "%s\n" "$(get ap-verify.t1)" "$(get ap-verify.t2)" | best)
RPC=$(printf "%s\n" "$(get pw-cached-sha384.t1)" "$(get pw-cached-sha384.t2)" | best)
RPW=$(printf '%s\n' "$(get pw-password-sha1.t1)" "$(get pw-password-sha1.t2)" | best)
RAPC=$(get ap-verify.t1.cpu) RPCC=$(get pw-cached-sha384.t1.cpu) RPWC=$(get pw-password-sha1.t1.cpu)
# the TLS 1.3 handshake alone (server side, jazzd's context, in memory): best of 3
tls=$(for _ in 1 2 3; do nice "$TLSBENCH" "$T/server.crt" "$T/server.key" 300; done)
TLSC=$(sed -n 's/.* cpu_rate=//p' <<<"$tls" | best)
# the client's side of a handshake (ms): the 200 client threads pay it on the same cores
TLSCLI=$(sed -n 's/.* client_cpu_seconds=\([0-9.]*\) .*/\1/p' <<<"$tls" | sort -g | head -1 |
	awk '{ printf "%.2f", $1 * 1000 / 300 }')
# the public-key operations inside that handshake, each alone (server side:
# one X25519 keygen + derive, one ECDSA P-256 signature)
CRYPTO=$(nice "$TLSBENCH" crypto 1000)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# what a login cannot cost less than: the handshake plus the check, per CPU second
floor() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f", 1 / (1 / a + 1 / b); else print "n/a" }'; }
FAP=$(floor "$TLSC" "$RAPC") FPC=$(floor "$TLSC" "$RPCC") FPW=$(floor "$TLSC" "$RPWC")

echo "# $CMD   ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wall: best of $R rounds, cpu: median round)"
echo "# wall: N / elapsed time, 200 client threads on the same 2 cores; cpu: N / server CPU seconds (one core's capacity)"
echo "# raw wall: auth/ alone, best of 1 and 2 threads; raw cpu: the same per CPU second (1 thread)"
echo "# floor cpu: a TLS 1.3 handshake (server side, $TLSC/s alone) plus the raw check, per CPU second"
echo "# (each client's side of its handshake alone costs $TLSCLI ms of CPU on the same cores)"
echo "# ${CRYPTO#crypto } (us of CPU per operation, OpenSSL $(openssl version | cut -d' ' -f2))"
echo "# ceiling: a server doing only the handshake and the check reaches cpu/raw = floor/raw = $(ratio "$FAP" "$RAPC") (Kerberos)"
printf '%-38s %8s %9s %9s %9s %9s %8s %8s %9s\n' "measure" "wall/s" "cpu/s" "raw wall" "raw cpu" "floor cpu" "wall/raw" "cpu/raw" "cpu/floor"
printf '%-38s %8s %9s %9s %9s %9s %8s %8s %9s\n' "logins, Kerberos AP-REQ ($NL at once)" "$K" "$KC" "$RAP" "$RAPC" "$FAP" "$(ratio "$K" "$RAP")" "$(ratio "$KC" "$RAPC")" "$(ratio "$KC" "$FAP")"
printf '%-38s %8s %9s %9s %9s %9s %8s %8s %9s\n' "logins, password ($NL at once)" "$P" "$PC" "$RPW" "$RPWC" "$FPW" "$(ratio "$P" "$RPW")" "$(ratio "$PC" "$RPWC")" "$(ratio "$PC" "$FPW")"
printf '%-38s %8s %9s %9s %9s %9s %8s %8s %9s\n' "  (raw with the key cache)" "" "" "$RPC" "$RPCC" "$FPC" "$(ratio "$P" "$RPC")" "$(ratio "$PC" "$RPCC")" "$(ratio "$PC" "$FPC")"
printf '%-38s %8s %9s %9s %9s %9s %8s %8s %9s\n' "approvals (C plugin)" "$A" "$AC" "-" "-" "-" "-" "-" "-"
echo "control.login.kerberos=$K control.login.kerberos.cpu=$KC control.login.password=$P control.login.password.cpu=$PC control.approvals=$A control.approvals.cpu=$AC raw.ap=$RAP raw.ap.cpu=$RAPC raw.pw=$RPW raw.pw.cpu=$RPWC raw.pw_cached=$RPC raw.pw_cached.cpu=$RPCC raw.tls.cpu=$TLSC client.tls.ms=$TLSCLI"
