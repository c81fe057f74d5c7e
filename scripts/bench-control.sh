#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# jazzd control-plane benchmark: logins per second in both modes (Kerberos
# AP-REQ and password login) and approvals per second through a real jazzd
# server (TLS 1.3, sample plugin, real KDC on loopback), next to the raw
# libkrb5 verification rates measured in the same run by
# scripts/bench-krb.sh (krb.c alone, no daemon, no TLS).
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
cp_setup || exit 1
cp_server_conf "[server]" "login_timeout = 60" "handshake_timeout = 30" \
	"[jazzd]" "log_level = warning"
cp_start server
wait_for "$T/server.log" "jazzd started" 5 || { echo "server did not start"; exit 1; }
sleep 0.3

best() { sort -g | tail -1; }
HZ=$(getconf CLK_TCK)
SP=$(cp_pid server)
cpu() { awk -v hz="$HZ" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$SP/stat"; }
# N per second of the server's own CPU time spent between two cpu() readings
per_cpu() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > a) printf "%.1f", n / (b - a); else print "n/a" }'; }
rate() { awk -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == "s") t = $(i - 1) } END { printf "%.1f", n / t }'; }

ka=() pw=() ap=() kc=() pc=() ac=()
for r in $(seq "$R"); do
	c0=$(cpu)
	o=$(jzc -c "$T/alice.cc" -d k$r many "$NL"); grep -q "^ok $NL/$NL" <<<"$o" || echo "# kerberos run $r: $o"
	c1=$(cpu)
	ka+=("$(rate "$NL" <<<"$o")") kc+=("$(per_cpu "$NL" "$c0" "$c1")")
	o=$(jzc -m password -u dave -p davepw -d p$r many "$NL"); grep -q "^ok $NL/$NL" <<<"$o" || echo "# password run $r: $o"
	c2=$(cpu)
	pw+=("$(rate "$NL" <<<"$o")") pc+=("$(per_cpu "$NL" "$c1" "$c2")")
	o=$(jzc -m password -u bob -p bobpw -d a$r approvals "$NA"); grep -q "^approvals $NA/$NA" <<<"$o" || echo "# approvals run $r: $o"
	c3=$(cpu)
	ap+=("$(rate "$NA" <<<"$o")") ac+=("$(per_cpu "$NA" "$c2" "$c3")")
done
K=$(printf '%s\n' "${ka[@]}" | best) KC=$(printf '%s\n' "${kc[@]}" | best)
P=$(printf '%s\n' "${pw[@]}" | best) PC=$(printf '%s\n' "${pc[@]}" | best)
A=$(printf '%s\n' "${ap[@]}" | best) AC=$(printf '%s\n' "${ac[@]}" | best)
cp_stop server

# a clean environment: bench-krb.sh starts its own KDC
raw=$(env -i PATH="$PATH" HOME="${HOME:-/root}" nice "$TOP/scripts/bench-krb.sh" --quick 1 2 2>/dev/null | grep '^raw\.')
get() { sed -n "s/^raw\.$1=//p" <<<"$raw" | head -1; }
RAP=$(printf "%s\n" "$(get ap-verify.t1)" "$(get ap-verify.t2)" | best)
RPC=$(printf "%s\n" "$(get pw-cached-sha384.t1)" "$(get pw-cached-sha384.t2)" | best)
RPW=$(printf '%s\n' "$(get pw-password-sha1.t1)" "$(get pw-password-sha1.t2)" | best)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "# $CMD   ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), best of $R; raw: best of 1 and 2 threads)"
echo "# wall: N / elapsed time (clients on the same cores); cpu: N / server CPU seconds"
printf '%-34s %9s %10s %14s %10s %10s\n' "measure" "wall/s" "cpu/s" "raw libkrb5/s" "wall/raw" "cpu/raw"
printf '%-34s %9s %10s %14s %10s %10s\n' "logins, Kerberos AP-REQ ($NL at once)" "$K" "$KC" "$RAP" "$(ratio "$K" "$RAP")" "$(ratio "$KC" "$RAP")"
printf '%-34s %9s %10s %14s %10s %10s\n' "logins, password ($NL at once)" "$P" "$PC" "$RPW" "$(ratio "$P" "$RPW")" "$(ratio "$PC" "$RPW")"
printf '%-34s %9s %10s %14s %10s %10s\n' "  (raw with the key cache)" "" "" "$RPC" "$(ratio "$P" "$RPC")" "$(ratio "$PC" "$RPC")"
printf '%-34s %9s %10s %14s %10s %10s\n' "approvals (C plugin)" "$A" "$AC" "-" "-" "-"
echo "control.login.kerberos=$K control.login.kerberos.cpu=$KC control.login.password=$P control.login.password.cpu=$PC control.approvals=$A control.approvals.cpu=$AC raw.ap=$RAP raw.pw=$RPW raw.pw_cached=$RPC"
