#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 15, item 6: weak Kerberos enctypes are refused. The tests' MIT KDC
# runs with allow_weak_crypto (KDC_WEAK=1) and two services whose only
# keys are des3-cbc-sha1 and arcfour-hmac, so it issues tickets encrypted
# with them; jazzd (same libkrb5 settings, so the library itself would take
# them) refuses both by its default enctype floor with a clear error, and
# takes them once `enctypes` lists them: the refusal is jazzd's. A weak
# session key: MIT krb5 1.20's KDC issues none here (session_enctypes set
# to the weak enctype, allow_weak_crypto on); the test shows that (and if a
# KDC does issue one, that jazzd refuses it). Password tokens naming
# arcfour-hmac or des3-cbc-sha1 are refused too. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

export KDC_WEAK=1
KDC_ENCTYPES="aes256-cts-hmac-sha1-96:normal aes256-cts-hmac-sha384-192:normal des3-cbc-sha1:normal arcfour-hmac:normal"
cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
weak_svc() { # weak_svc NAME ENCTYPE: a service with only that key, in the server keytab
	_kdc_kadmin "addprinc -randkey -e $2:normal jazz/$1.jazz.test" &&
		_kdc_kadmin "ktadd -k $T/server.keytab -e $2:normal jazz/$1.jazz.test"
}
check "KDC: a service with only a des3-cbc-sha1 key" weak_svc d3 des3-cbc-sha1
check "KDC: a service with only an arcfour-hmac key" weak_svc rc4 arcfour-hmac
for s in d3 rc4; do
	kdc_kvno "jazz/$s.jazz.test@$KDC_REALM" "FILE:$T/alice.cc"
done
klist -e -c "FILE:$T/alice.cc" | sed 's/^/# /'
check "the KDC issued a ticket encrypted with des3-cbc-sha1" \
	bash -c "klist -e -c 'FILE:$T/alice.cc' | grep -A1 'jazz/d3' | grep -q 'des3-cbc-sha1'"
check "the KDC issued a ticket encrypted with arcfour-hmac" \
	bash -c "klist -e -c 'FILE:$T/alice.cc' | grep -A1 'jazz/rc4' | grep -q 'arcfour-hmac'"

# no service line: any principal of the keytab, so both weak ones
cp_server_conf "[server]" "max_devices = 0"
sed -i '/^service = /d' "$T/server.conf"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }
ap() { jzc -c "FILE:$1" -S "jazz/$2.jazz.test@$KDC_REALM" -d "$2-$3" login 2>&1; }
for s in d3:des3-cbc-sha1 rc4:arcfour-hmac; do
	r=$(ap "$T/alice.cc" "${s%%:*}" a)
	echo "# ${s#*:} ticket, default enctypes: $r"
	check "the ${s#*:} ticket is refused by default (reject unsupported)" grep -q "^reject unsupported" <<<"$r"
	check "... and the log says which enctype" \
		grep -q "ticket enctype ${s#*:} / session key .* not accepted" "$T/server.log"
done

# password tokens naming a weak enctype: a real token with its enctype
# field (bytes 2-5, docs/PROTOCOL-kerberos.md) changed
jzc -m password -u bob -p bobpw -d pw-a -T "$T/pw.tok" login >/dev/null 2>&1
for e in 16:des3-cbc-sha1 23:arcfour-hmac; do
	/usr/bin/python3 - "$T/pw.tok" "$T/pw-${e%%:*}.tok" "${e%%:*}" <<'PY'
import sys
t = bytearray(open(sys.argv[1], "rb").read())
t[2:6] = int(sys.argv[3]).to_bytes(4, "big")
open(sys.argv[2], "wb").write(t)
PY
	r=$(jzc -m password -u bob -p bobpw -d pw-b -T "$T/pw-${e%%:*}.tok" login 2>&1)
	echo "# password token with ${e#*:}: $r"
	check "a password token naming ${e#*:} is refused (reject unsupported)" \
		grep -q "^reject unsupported" <<<"$r"
done
check "... and the log names the enctype" grep -q "enctype arcfour-hmac (23) not allowed" "$T/server.log"

# weak session keys: ask the KDC for one
_kdc_kadmin "setstr jazz/d3.jazz.test session_enctypes des3-cbc-sha1"
_kdc_kadmin "setstr jazz/rc4.jazz.test session_enctypes arcfour-hmac"
kdc_kinit alice alicepw "FILE:$T/skey.cc" >/dev/null
for s in d3 rc4; do
	if kdc_kvno "jazz/$s.jazz.test@$KDC_REALM" "FILE:$T/skey.cc"; then
		r=$(ap "$T/skey.cc" "$s" s)
		echo "# weak session key for $s: $r"
		check "a ticket with a weak session key ($s) is refused" grep -q "^reject unsupported" <<<"$r"
	else
		check "MIT krb5 $(krb5-config --version 2>/dev/null | awk '{ print $NF }')'s KDC issues no weak session key for $s (BAD_ENCRYPTION_TYPE), even with allow_weak_crypto" \
			grep -q "BAD_ENCRYPTION_TYPE.*jazz/$s.jazz.test" "$KDC_LOG"
	fi
done

# the control: the refusal is jazzd's floor, not libkrb5's
sed -i 's/^max_devices = 0$/max_devices = 0\nenctypes = aes256-cts-hmac-sha1-96 des3-cbc-sha1 arcfour-hmac/' "$T/server.conf"
kill -HUP "$(cp_pid server)"
wait_for "$T/server.log" "Kerberos settings applied" 5
for s in d3:des3-cbc-sha1 rc4:arcfour-hmac; do
	r=$(ap "$T/alice.cc" "${s%%:*}" c)
	echo "# ${s#*:} ticket, enctypes listing it: $r"
	check "with enctypes listing ${s#*:}, the same ticket logs in (the floor is jazzd's)" \
		grep -q "^welcome " <<<"$r"
done
cp_done
