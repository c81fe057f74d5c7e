#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# jazzd keeps its FILE keytab in memory (auth/krb.c: a MEMORY copy per Kerberos
# slot, checked against the file with stat() before every AP-REQ check).
# A long-running server must still follow every change of the file at once,
# without a restart or SIGHUP: a key added by ktadd (appended in place), a
# key removed by ktremove (rewritten in place, same size), a new file
# renamed over the old one; and after SIGHUP. Real KDC, real TLS, real
# jazzd; TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }

cp_setup || { echo "not ok 1 - setup"; exit 1; }
SVC=jazz/server.jazz.test@$KDC_REALM
cp_server_conf
cp_start server
check "server starts and listens" wait_for "$T/server.log" "server listening" 5

# login CCACHE DEVICE: one Kerberos login; prints jzclient's verdict
login() { jzc -c "FILE:$T/$1" -d "$2" login 2>&1 | tail -1; }
welcome() { login "$1" "$2" | grep -q '^welcome '; }
not_welcome() { ! welcome "$@"; }
rejected() { # rejected CCACHE DEVICE REASON
	local o
	o=$(login "$1" "$2")
	grep -q "^reject $3" <<<"$o" || { echo "# got: $o"; return 1; }
}
# ticket CCACHE: alice's TGT and a service ticket for the current kvno
ticket() { kdc_kinit alice alicepw "FILE:$T/$1" && kdc_kvno "$SVC" "FILE:$T/$1"; }

ticket k1.cc
check "first key: login (the keytab is loaded)" welcome k1.cc d1
check "first key again (served from the copy in memory)" welcome k1.cc d1b

# ktadd appends a second key (next kvno) to the same file, in place
kdc_rekey_service "$SVC" "$T/server.keytab"
ticket k2.cc
check "key rotated in place (ktadd, no SIGHUP): ticket under the new kvno accepted" welcome k2.cc d2
check "ticket under the first kvno still accepted (its key is still in the file)" welcome k1.cc d3

# ktremove ... old rewrites the file in place without the first key; the
# size stays the same (MIT leaves a hole), so only the file times tell
size0=$(stat -c %s "$T/server.keytab")
sleep 0.1 # past the 20 ms window in which auth/krb.c distrusts the file times
n0=$(klist -k "$T/server.keytab" | grep -c jazz/)
kadmin.local -r "$KDC_REALM" -q "ktremove -k $T/server.keytab $SVC old" >"$T/ktremove.out" 2>&1
check "ktremove removed the first key's entries" \
	test "$(klist -k "$T/server.keytab" | grep -c jazz/)" -lt "$n0"
check "ktremove kept the keytab size (the case stat's size cannot see)" \
	test "$(stat -c %s "$T/server.keytab")" = "$size0"
check "first key removed from the file: its ticket rejected at once (bad-key)" \
	rejected k1.cc d4 bad-key
check "ticket under the second kvno still accepted" welcome k2.cc d5

# a new keytab renamed over the old one: only a third key (ktadd on a fresh
# file randomises the key again), the second one is gone
kdc_rekey_service "$SVC" "$T/new.keytab"
ticket k3.cc
mv "$T/new.keytab" "$T/server.keytab"
check "keytab replaced by rename: third key accepted" welcome k3.cc d6
check "keytab replaced by rename: second key rejected (bad-key)" rejected k2.cc d7 bad-key

# rewritten in place twice with contents of the same size (one key each):
# inode and size stay, only the file times change
cp "$T/server.keytab" "$T/k3.keytab"
kdc_rekey_service "$SVC" "$T/k4.keytab"
ticket k4.cc
cat "$T/k4.keytab" >"$T/server.keytab"
welcome k4.cc d8
cat "$T/k3.keytab" >"$T/server.keytab"
check "same-size in-place rewrites (fourth key, then back to the third): fourth rejected" \
	rejected k4.cc d9 bad-key
check "... and the third accepted" welcome k3.cc d10

# SIGHUP: a new Kerberos server object, loaded from the file as it is now
cat "$T/k4.keytab" >"$T/server.keytab"
kill -HUP "$(cp_pid server)"
check "after SIGHUP the reload is logged" wait_for "$T/server.log" "SIGHUP: reloading" 5
check "after SIGHUP: fourth key accepted" welcome k4.cc d11
check "after SIGHUP: third key rejected (bad-key)" rejected k3.cc d12 bad-key

# a missing keytab fails the check (fails closed) and recovers with the file
mv "$T/server.keytab" "$T/gone.keytab"
check "keytab missing: login refused" not_welcome k4.cc d13
mv "$T/gone.keytab" "$T/server.keytab"
check "keytab back: fourth key accepted" welcome k4.cc d14
check "server still running" kill -0 "$(cp_pid server)"
cp_done
