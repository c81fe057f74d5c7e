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
rate() { awk -v n="$1" '{ for (i = 1; i <= NF; i++) if ($i == "s") t = $(i - 1) } END { printf "%.1f", n / t }'; }

ka=() pw=() ap=()
for r in $(seq "$R"); do
	o=$(jzc -c "$T/alice.cc" -d k$r many "$NL"); grep -q "^ok $NL/$NL" <<<"$o" || echo "# kerberos run $r: $o"
	ka+=("$(rate "$NL" <<<"$o")")
	o=$(jzc -m password -u dave -p davepw -d p$r many "$NL"); grep -q "^ok $NL/$NL" <<<"$o" || echo "# password run $r: $o"
	pw+=("$(rate "$NL" <<<"$o")")
	o=$(jzc -m password -u bob -p bobpw -d a$r approvals "$NA"); grep -q "^approvals $NA/$NA" <<<"$o" || echo "# approvals run $r: $o"
	ap+=("$(rate "$NA" <<<"$o")")
done
K=$(printf '%s\n' "${ka[@]}" | best)
P=$(printf '%s\n' "${pw[@]}" | best)
A=$(printf '%s\n' "${ap[@]}" | best)
cp_stop server

raw=$(nice "$TOP/scripts/bench-krb.sh" --quick 1 2 2>/dev/null | grep '^raw\.')
get() { sed -n "s/^raw\.$1=//p" <<<"$raw" | head -1; }
RAP=$(printf "%s\n" "$(get ap-verify.t1)" "$(get ap-verify.t2)" | best)
RPW=$(printf '%s\n' "$(get pw-password-sha1.t1)" "$(get pw-password-sha1.t2)" | best)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "# $CMD   ($(nproc) cores, best of $R; raw rates: best of 1 and 2 threads)"
printf '%-36s %12s %14s %8s\n' "measure" "per second" "raw libkrb5/s" "ratio"
printf '%-36s %12s %14s %8s\n' "logins, Kerberos AP-REQ ($NL at once)" "$K" "$RAP" "$(ratio "$K" "$RAP")"
printf '%-36s %12s %14s %8s\n' "logins, password ($NL at once)" "$P" "$RPW" "$(ratio "$P" "$RPW")"
printf '%-36s %12s %14s %8s\n' "approvals (peer_connection, C plugin)" "$A" "-" "-"
echo "control.login.kerberos=$K control.login.password=$P control.approvals=$A raw.ap=$RAP raw.pw=$RPW"
