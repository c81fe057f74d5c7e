#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Raw libkrb5 verification rates of the two login modes (userspace/jazzd/auth/
# called directly, no daemon, no TLS): the baseline that jazzd's logins/s are
# compared against (issue 4: target >= 0.5x these).
#
#   ap-verify        jz_krb_ap_verify: krb5_rd_req with the file2 replay cache
#                    on (every token stored), + AP-REP; tokens pre-made
#   pw-password      jz_krb_pw_verify given the password: string-to-key
#                    (PBKDF2, 4096 rounds sha1 / 32768 rounds sha384) +
#                    decrypt + checks + replay memory + reply
#   pw-cached        the same with the server's key cache on (jazzd's
#                    default): one user logging in again and again, so one
#                    string-to-key in all
#   pw-rawkey        the same given the raw key (what a user_key callback
#                    returning JAZZ_USER_KEY_RAW costs): decrypt + checks
#
# Usage: scripts/bench-krb.sh [--quick] [THREADS...]   (default threads: 1 2)
# Prints two tables (per wall second; per CPU second of the process, i.e.
# the capacity of one core), then "raw.<name>.t<threads>=<per second>" and
# "raw.<name>.t<threads>.cpu=<per CPU second>" lines for scripts to pick up. Starts its own KDC on loopback (tests/host/lib/kdc.sh).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$ROOT/build}
CMD="scripts/bench-krb.sh${*:+ $*}"
QUICK=0
if [ "${1:-}" = --quick ]; then QUICK=1; shift; fi
THREADS=${*:-1 2}
N_AP=$((QUICK ? 500 : 4000))
N_SHA1=$((QUICK ? 20 : 200))
N_SHA384=$((QUICK ? 4 : 30))
N_RAW=$((QUICK ? 1000 : 20000))

nice make -s -C "$ROOT/tests/host/krbtool" B="$B" >/dev/null
K=$B/krbtool
T=$(mktemp -d /tmp/jazz-bench-krb.XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=../tests/host/lib/kdc.sh
. "$ROOT/tests/host/lib/kdc.sh"
kdc_start "$T/kdc" >/dev/null
kdc_add_user alice alice-bench-pw
kdc_add_service jazz/server.jazz.test "$T/server.keytab"
kdc_kinit alice alice-bench-pw "FILE:$T/alice.cc"

SHA1=aes256-cts-hmac-sha1-96
SHA384=aes256-cts-hmac-sha384-192
PW=(--user alice --realm JAZZ.TEST --password alice-bench-pw)
AP=(--keytab "$T/server.keytab" --service jazz/server.jazz.test@JAZZ.TEST
    --ccache "FILE:$T/alice.cc" --target jazz/server.jazz.test@JAZZ.TEST
    --rcache "file2:$T/bench.rcache2")

# run krbtool-args... -> prints "RATE CPU_RATE" (per wall second, per CPU second)
run() {
	local out
	out=$(nice "$K" "$@")
	sed -n 's/.* cpu_rate=\([0-9.]*\) rate=\([0-9.]*\) failures=0$/\2 \1/p' <<<"$out" | grep . ||
		{ echo "bench-krb: failed: $out" >&2; echo "n/a n/a"; }
}

declare -A R
declare -A C
# cell NAME THREADS krbtool-args...: wall rate in R, per-CPU-second rate in C
cell() {
	local name=$1 t=$2 r
	shift 2
	r=$(run "$@" --threads "$t")
	R[$name.$t]=${r% *}
	C[$name.$t]=${r#* }
}
for t in $THREADS; do
	cell ap-verify "$t" bench-ap "${AP[@]}" --n "$N_AP"
	cell pw-password-sha1 "$t" bench-pw "${PW[@]}" --enctype $SHA1 --n "$N_SHA1"
	cell pw-password-sha384 "$t" bench-pw "${PW[@]}" --enctype $SHA384 --n "$N_SHA384"
	cell pw-cached-sha384 "$t" bench-pw "${PW[@]}" --enctype $SHA384 --key-cache 0 --n "$N_RAW"
	cell pw-rawkey-sha1 "$t" bench-pw "${PW[@]}" --enctype $SHA1 --raw-key --n "$N_RAW"
	cell pw-rawkey-sha384 "$t" bench-pw "${PW[@]}" --enctype $SHA384 --raw-key --n "$N_RAW"
done

echo "# bench-krb: MIT krb5 $(pkg-config --modversion krb5), $(nproc) CPUs, $(date -u +%FT%TZ)"
echo "# command: $CMD (threads: $THREADS)"
printf "%-22s" "verifications/s"
for t in $THREADS; do printf " %12s" "${t} thread(s)"; done
printf "\n"
for m in ap-verify pw-password-sha1 pw-password-sha384 pw-cached-sha384 pw-rawkey-sha1 pw-rawkey-sha384; do
	printf "%-22s" "$m"
	for t in $THREADS; do printf " %12s" "${R[$m.$t]}"; done
	printf "\n"
done
printf "%-22s" "per CPU second"
for t in $THREADS; do printf " %12s" "${t} thread(s)"; done
printf "\n"
for m in ap-verify pw-password-sha1 pw-password-sha384 pw-cached-sha384 pw-rawkey-sha1 pw-rawkey-sha384; do
	printf "%-22s" "$m"
	for t in $THREADS; do printf " %12s" "${C[$m.$t]}"; done
	printf "\n"
done
for m in ap-verify pw-password-sha1 pw-password-sha384 pw-cached-sha384 pw-rawkey-sha1 pw-rawkey-sha384; do
	for t in $THREADS; do
		echo "raw.$m.t$t=${R[$m.$t]}"
		echo "raw.$m.t$t.cpu=${C[$m.$t]}"
	done
done
