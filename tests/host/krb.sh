#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/host/krb.sh - the two Kerberos login modes of userspace/jazzd/auth/
# against a real MIT KDC (tests/host/lib/kdc.sh), driven by tests/host/krbtool.
# TAP lines; exits non-zero if anything failed.
#
# What "skew" tests mean here: no libfaketime, so the client's clock is moved
# with krb5_set_real_time() on its own krb5 context (krb.h time_offset, a
# testing aid); the server uses the real clock. The expired-ticket test is
# real: a 3-second ticket, waited out, with a 1-second skew limit.
#
# KRB_SAN=1 builds krbtool with ASan+UBSan (into $B/san) and fails any check
# whose run reports a sanitizer error or leak.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$ROOT/build}
SAN=${KRB_SAN:-0}
[ "$SAN" = 1 ] && B=$B/san
K=$B/krbtool
T=$(mktemp -d /tmp/jazz-krb.XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=tests/host/lib/kdc.sh
. "$ROOT/tests/host/lib/kdc.sh"

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# check DESC EXPECTED-RESULT-REGEX krbtool-args...: run krbtool, match the
# "result=" line; a crash (signal) always fails.
check() {
	local desc=$1 want=$2 out rc
	shift 2
	out=$("$K" "$@" 2>&1)
	rc=$?
	if [ $rc -lt 2 ] && grep -qE "^result=($want)( |\$)" <<<"$out" &&
	   ! grep -qE 'Sanitizer|runtime error' <<<"$out"; then
		ok "$desc"
	else
		notok "$desc"
		sed 's/^/#   /' <<<"$out"
		echo "#   (exit $rc)"
	fi
}

nice make -s -C "$ROOT/tests/host/krbtool" B="$B" SAN="$SAN" >"$T/build.log" 2>&1 ||
	{ cat "$T/build.log"; echo "not ok 1 - build krbtool"; exit 1; }

SVC=jazz/server.jazz.test
REALM=JAZZ.TEST
if ! kdc_start "$T/kdc" ||
   ! kdc_add_user alice alice-pw-1 ||
   ! kdc_add_user bob 'bob pw with spaces' ||
   ! kdc_add_service "$SVC" "$T/server.keytab" ||
   ! kdc_add_service jazz/other.jazz.test "$T/other.keytab" ||
   ! kdc_user_keytab bob "$T/bob.keytab" ||
   ! kdc_user_keytab alice "$T/users.keytab" ||
   ! kdc_user_keytab bob "$T/users.keytab" ||
   ! kdc_kinit alice alice-pw-1 "FILE:$T/alice.cc"; then
	echo "not ok 1 - start KDC and create principals"
	exit 1
fi
ok "KDC up on 127.0.0.1:$KDC_PORT, realm $REALM"
echo "# KRB5RCACHEDIR=$KRB5RCACHEDIR"

S=(--keytab "$T/server.keytab" --service "$SVC@$REALM")
CA=(--ccache "FILE:$T/alice.cc" --target "$SVC@$REALM")

echo "# --- mode (a): AP-REQ"
out=$("$K" ap "${S[@]}" "${CA[@]}")
if grep -q '^result=ok user=alice realm=JAZZ.TEST' <<<"$out" &&
   grep -q 'mutual authentication ok' <<<"$out"; then
	ok "AP-REQ from ccache accepted, user/realm split, AP-REP verified by client"
else
	notok "AP-REQ from ccache"; sed 's/^/#   /' <<<"$out"
fi
check "AP-REQ from a client keytab (MEMORY ccache) accepted, mutual auth" 'ok user=bob' \
	ap "${S[@]}" --client-keytab "$T/bob.keytab" --target "$SVC"
check "client keytab with explicit principal" 'ok user=bob' \
	ap "${S[@]}" --client-keytab "$T/bob.keytab" --principal bob@$REALM --target "$SVC"
check "server with service NULL accepts any principal of its keytab" 'ok user=alice' \
	ap --keytab "$T/server.keytab" --service - "${CA[@]}"
# both.keytab: the two service keytabs merged (ktutil).
printf 'rkt %s\nrkt %s\nwkt %s\nq\n' "$T/server.keytab" "$T/other.keytab" \
	"$T/both.keytab" | ktutil >/dev/null 2>&1
check "ticket for another service (keytab has both): wrong-principal" 'wrong-principal' \
	ap --keytab "$T/both.keytab" --service "jazz/other.jazz.test@$REALM" "${CA[@]}"
check "keytab without the service key: wrong-principal" 'wrong-principal' \
	ap --keytab "$T/other.keytab" --service - "${CA[@]}"
# Same principal and kvno, different key: what a stale/wrong keytab looks like.
kvno=$(klist -k "$T/server.keytab" | awk '/jazz\/server/ {print $1; exit}')
for e in aes256-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192; do
	printf 'addent -password -p %s -k %s -e %s\nnot-the-key\nwkt %s\nq\n' \
		"$SVC@$REALM" "$kvno" "$e" "$T/wrong.keytab"
done | ktutil >/dev/null 2>&1
check "wrong service key (same kvno, other key): bad-key" 'bad-key' \
	ap --keytab "$T/wrong.keytab" --service "$SVC@$REALM" "${CA[@]}"
check "replayed AP-REQ (same server object): replay" 'replay' \
	ap "${S[@]}" "${CA[@]}" --replay
check "AP-REQ saved for a replay in another process" 'ok user=alice' \
	ap "${S[@]}" "${CA[@]}" --save "$T/apreq.bin"
check "replayed AP-REQ in a new process (file2 rcache on disk): replay" 'replay' \
	ap "${S[@]}" --load "$T/apreq.bin"
out=$("$K" bench-ap "${S[@]}" "${CA[@]}" --same --n 16 --threads 8 2>&1)
if [ $? -eq 0 ]; then
	ok "one AP-REQ verified by 8 threads at once: exactly one accepted"
else
	notok "concurrent replay"; sed 's/^/#   /' <<<"$out"
fi
check "AP-REP tampered: client refuses mutual auth" 'bad-key|malformed' \
	ap "${S[@]}" "${CA[@]}" --tamper-reply
check "channel binding equal on both sides: accepted" 'ok user=alice' \
	ap "${S[@]}" "${CA[@]}" --client-cb tls-exporter-A --server-cb tls-exporter-A
check "channel binding different (replay over another TLS session): channel-binding" \
	'channel-binding' \
	ap "${S[@]}" "${CA[@]}" --client-cb tls-exporter-A --server-cb tls-exporter-B
check "server expects a channel binding, AP-REQ has none: channel-binding" \
	'channel-binding' ap "${S[@]}" "${CA[@]}" --server-cb tls-exporter-A
check "client clock +30 s, limit 60 s: accepted" 'ok user=alice' \
	ap "${S[@]}" --skew 60 "${CA[@]}" --client-offset 30
check "client clock +120 s, limit 60 s (jazz's own check): skew" 'skew' \
	ap "${S[@]}" --skew 60 "${CA[@]}" --client-offset 120
check "client clock -120 s, limit 60 s: skew" 'skew' \
	ap "${S[@]}" --skew 60 "${CA[@]}" --client-offset -120
check "server clock +120 s (client right), limit 60 s: skew" 'skew' \
	ap "${S[@]}" --skew 60 "${CA[@]}" --server-offset 120
check "client clock +400 s, default limit 300 s (libkrb5's check): skew" 'skew' \
	ap "${S[@]}" "${CA[@]}" --client-offset 400
check "garbage instead of an AP-REQ: malformed" 'malformed' \
	ap "${S[@]}" "${CA[@]}" --garbage 200
check "empty AP-REQ: malformed" 'malformed' ap "${S[@]}" "${CA[@]}" --garbage 0
check "truncated AP-REQ: malformed" 'malformed' ap "${S[@]}" "${CA[@]}" --truncate 100
check "AP-REQ with a flipped ciphertext byte: rejected (bad-key)" 'bad-key' \
	ap "${S[@]}" "${CA[@]}" --flip 580
check "AP-REQ with trailing bytes: rejected cleanly" 'malformed|ok user=alice' \
	ap "${S[@]}" "${CA[@]}" --append 7
check "no credential cache: no-credentials" 'no-credentials' \
	ap "${S[@]}" --ccache "FILE:$T/none.cc" --target "$SVC"
if ! kdc_kinit carol whatever "FILE:$T/carol.cc" 2>/dev/null; then
	ok "unknown user: the KDC refuses kinit (no ticket, no AP-REQ)"
else
	notok "unknown user got a TGT"
fi

# Expired ticket: a 3 s ticket, waited out; the AP-REQ is made after it ended
# (krbtool --stale-ticket: fresh authenticator, expired ticket), server skew
# limit 1 s. jz_krb_client itself refuses an expired ticket (no-credentials).
kdc_kinit alice alice-pw-1 "FILE:$T/short.cc" -l 3s && kdc_kvno "$SVC@$REALM" "FILE:$T/short.cc"
sleep 5
check "expired ticket (3 s lifetime, waited out, limit 1 s): expired" 'expired' \
	ap "${S[@]}" --skew 1 --ccache "FILE:$T/short.cc" --target "$SVC@$REALM" --stale-ticket
check "client with only an expired ticket: no-credentials (no KDC round trip helps)" \
	'no-credentials' ap "${S[@]}" --ccache "FILE:$T/short.cc" --target "$SVC@$REALM"

# Service key rotation: ktadd appends the new kvno to the same keytab file,
# which auth/krb.c reloads when the file changes (no restart needed; the long-running
# case is tests/host/controlplane-keytab.sh); tickets
# under the old kvno keep working until they expire.
kdc_kinit alice alice-pw-1 "FILE:$T/old.cc" && kdc_kvno "$SVC@$REALM" "FILE:$T/old.cc"
kdc_rekey_service "$SVC@$REALM" "$T/server.keytab"
kdc_kinit alice alice-pw-1 "FILE:$T/new.cc"
check "service key rotated (new kvno in the keytab): new ticket accepted" 'ok user=alice' \
	ap "${S[@]}" --ccache "FILE:$T/new.cc" --target "$SVC@$REALM"
check "service key rotated: ticket under the old kvno still accepted" 'ok user=alice' \
	ap "${S[@]}" --ccache "FILE:$T/old.cc" --target "$SVC@$REALM"

echo "# --- mode (b): password (encrypted timestamp)"
PA=(--user alice --realm $REALM --password alice-pw-1)
for e in aes256-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192; do
	check "password login $e, server has the password, mutual auth" \
		"ok user=alice realm=$REALM enctype=$e" \
		pw "${PA[@]}" --enctype $e --server-password alice-pw-1
	check "password login $e, server has the KDC's key (standard salt)" \
		"ok user=alice realm=$REALM enctype=$e" \
		pw "${PA[@]}" --enctype $e --server-keytab-db "$T/users.keytab"
	check "password with spaces, $e, KDC key" "ok user=bob" \
		pw --user bob --realm $REALM --password 'bob pw with spaces' --enctype $e \
		--server-keytab-db "$T/users.keytab"
	check "wrong password, $e: bad-key" 'bad-key' \
		pw --user alice --realm $REALM --password wrong --enctype $e \
		--server-keytab-db "$T/users.keytab"
	check "replayed password token, $e: replay" 'replay' \
		pw "${PA[@]}" --enctype $e --server-password alice-pw-1 --replay
done
s2k=$("$K" s2k aes256-cts-hmac-sha1-96 alice $REALM alice-pw-1)
kt=$(klist -kK "$T/users.keytab" 2>/dev/null | awk '/alice@JAZZ.TEST/ && !done {print $NF; done=1}' | tr -d '()' | sed 's/^0x//')
if [ -n "$s2k" ] && [ "$s2k" = "$kt" ]; then
	ok "jz_krb_pw_string_to_key equals the KDC's key for alice"
else
	notok "string-to-key vs KDC key ($s2k vs $kt)"
fi
check "unknown user (user_key has nothing): rejected" 'bad-key' \
	pw --user carol --realm $REALM --password x --server-keytab-db "$T/users.keytab"
check "right password, other realm in the token: bad-key" 'bad-key' \
	pw --user alice --realm OTHER.TEST --password alice-pw-1 \
	--server-keytab-db "$T/users.keytab" 2>/dev/null
check "clear user name changed in transit (alice->bobby): bad-key" 'bad-key' \
	pw "${PA[@]}" --server-password alice-pw-1 --tamper-user bobby
check "user_key returns a wrong-length raw key: bad-key" 'bad-key' \
	pw "${PA[@]}" --enctype aes256-cts-hmac-sha1-96 --no-secret 2>/dev/null
check "client clock +30 s, limit 60 s: accepted" 'ok user=alice' \
	pw "${PA[@]}" --server-password alice-pw-1 --skew 60 --client-offset 30
check "client clock +120 s, limit 60 s: skew" 'skew' \
	pw "${PA[@]}" --server-password alice-pw-1 --skew 60 --client-offset 120
check "server clock +120 s (client right), limit 60 s: skew" 'skew' \
	pw "${PA[@]}" --server-password alice-pw-1 --skew 60 --server-offset 120
check "client clock -400 s, default limit 300 s: skew" 'skew' \
	pw "${PA[@]}" --server-password alice-pw-1 --client-offset -400
check "channel binding equal: accepted" 'ok user=alice' \
	pw "${PA[@]}" --server-password alice-pw-1 --client-cb cbA --server-cb cbA
check "channel binding different: channel-binding" 'channel-binding' \
	pw "${PA[@]}" --server-password alice-pw-1 --client-cb cbA --server-cb cbB
check "server expects a binding, token has none: channel-binding" 'channel-binding' \
	pw "${PA[@]}" --server-password alice-pw-1 --server-cb cbA
check "reply token tampered: client refuses mutual auth" 'bad-key' \
	pw "${PA[@]}" --server-password alice-pw-1 --tamper-reply
check "garbage token: malformed" 'malformed' \
	pw "${PA[@]}" --server-password alice-pw-1 --garbage 64
check "empty token: malformed" 'malformed' \
	pw "${PA[@]}" --server-password alice-pw-1 --garbage 0
check "truncated token: malformed" 'malformed' \
	pw "${PA[@]}" --server-password alice-pw-1 --truncate 40
check "token with trailing bytes: malformed" 'malformed' \
	pw "${PA[@]}" --server-password alice-pw-1 --append 3
check "unknown version byte: malformed" 'malformed' \
	pw "${PA[@]}" --server-password alice-pw-1 --flip 0
check "enctype changed to aes128-cts-hmac-sha256-128 (19): unsupported" 'unsupported' \
	pw "${PA[@]}" --server-password alice-pw-1 --flip 5
check "flipped ciphertext byte: bad-key (integrity)" 'bad-key' \
	pw "${PA[@]}" --server-password alice-pw-1 --flip 60
check "replay after a reload (new server object adopts the old memory): replay" 'replay' \
	pw "${PA[@]}" --server-password alice-pw-1 --replay --reload
# Password key cache (on by default): repeat logins skip string-to-key.
for e in aes256-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192; do
	check "5 logins on one server, $e (key cache on)" 'ok user=alice' \
		pw "${PA[@]}" --enctype $e --server-password alice-pw-1 --logins 5
done
check "key cached, then the client types a wrong password: bad-key" 'bad-key' \
	pw "${PA[@]}" --server-password alice-pw-1 --logins 2 --then-password wrong-pw
check "key cached, then the user database changes the password: old one refused" 'bad-key' \
	pw "${PA[@]}" --server-password alice-pw-1 --logins 2 --then-server-password new-pw
check "key cached, then both sides use the new password: accepted" 'ok user=alice' \
	pw "${PA[@]}" --server-password alice-pw-1 --logins 2 --then-password new-pw \
	--then-server-password new-pw
check "key cache off (-1): repeat logins still work" 'ok user=alice' \
	pw "${PA[@]}" --server-password alice-pw-1 --logins 3 --key-cache -1
check "replay memory bounded (2 tuples): 2 logins pass" 'ok user=alice' \
	pw "${PA[@]}" --server-password alice-pw-1 --logins 2 --replay-max 2
check "replay memory full within the skew window: refused (fail closed)" \
	'replay-memory-full' \
	pw "${PA[@]}" --server-password alice-pw-1 --logins 3 --replay-max 2
out=$("$K" bench-pw "${PA[@]}" --raw-key --same --n 16 --threads 8 2>&1)
if [ $? -eq 0 ]; then
	ok "one password token verified by 8 threads at once: exactly one accepted"
else
	notok "concurrent password replay"; sed 's/^/#   /' <<<"$out"
fi

kdc_stop
echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
