#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 15, items 4-8 (server side), with the test client's hostile modes
# against a real KDC: user names cannot be enumerated (unknown user and
# wrong password answer alike), the enctype floor, names from the password
# token cannot forge log lines or break events, device names are checked,
# a user's devices are limited and unused leases expire, the protocol
# reaches the policy by its canonical name, an announced endpoint must be
# the address the server sees, and a session ends with its ticket. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

KDC_ENCTYPES="aes256-cts-hmac-sha1-96:normal aes256-cts-hmac-sha384-192:normal aes128-cts-hmac-sha1-96:normal"
cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
# a service whose only key is aes128, and a short ticket for alice
kdc_add_service jazz/weak.jazz.test "$T/weak.keytab" >/dev/null
_kdc_kadmin "cpw -randkey -e aes128-cts-hmac-sha1-96:normal jazz/weak.jazz.test" &&
	_kdc_kadmin "ktadd -k $T/server.keytab -e aes128-cts-hmac-sha1-96:normal jazz/weak.jazz.test" ||
	nok "aes128-only service"
cp_server_conf "[server]" "max_devices = 3" "lease_expiry = 2"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }

raw() { # raw USER-OPTS... JSON: the whole answer as JSON
	jzc "$@"
}
# a well-formed identity key (32 bytes, as a device sends): this test is about the login token
login_json='{"type":"login","method":"password","device":"x1","token":"@","listen_port":1,"pubkey":"vMNW20uIKRFOrJDiAuxDJlszjbwQmY5hfGrmSYhSGlk="}'

# item 4: enumeration
a=$(jzc -m password -u nobody -p x rawlogin "$login_json")
b=$(jzc -m password -u bob -p wrong rawlogin "$login_json")
echo "# unknown user: $a"
echo "# wrong password: $b"
check "unknown user and wrong password get the same answer" test "$a" = "$b"
check "... and that answer is bad-key" grep -q "^reject bad-key" <<<"$a"
t() { # median of 5 logins' wall time in ms
	for i in 1 2 3 4 5; do
		s=$(date +%s%N); jzc -b 127.0.0.$((20 + i)) "$@" rawlogin "$login_json" >/dev/null
		echo $(( ($(date +%s%N) - s) / 1000000 ))
	done | sort -n | sed -n 3p
}
echo "# median ms, sha384: unknown $(t -m password -u nobody2 -p x -e aes256-cts-hmac-sha384-192)," \
	"wrong password $(t -m password -u carol -p x -e aes256-cts-hmac-sha384-192)"
check "the unknown user's key is derived like a real one's (server log)" \
	grep -q "(unknown user)" "$T/server.log"

# item 6: enctype floor (configurable): the default takes aes128, a floor
# of AES-256 only refuses the aes128 ticket
svc() { sed -i "s|^service = .*|service = $1@$KDC_REALM|" "$T/server.conf"; }
svc jazz/weak.jazz.test
kill -HUP "$(cp_pid server)"
sleep 1
r=$(jzc -c "FILE:$T/alice.cc" -S "jazz/weak.jazz.test@$KDC_REALM" -d w1 login)
echo "# aes128 ticket, default enctypes: $r"
check "an aes128 ticket is accepted by default" grep -q "^welcome" <<<"$r"
sed -i 's/^max_devices = 3$/max_devices = 3\nenctypes = aes256-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192/' "$T/server.conf"
kill -HUP "$(cp_pid server)"
sleep 1
r=$(jzc -c "FILE:$T/alice.cc" -S "jazz/weak.jazz.test@$KDC_REALM" -d w1 login)
echo "# aes128 ticket, enctypes = AES-256 only: $r"
check "with enctypes = AES-256 only an aes128 ticket is refused" grep -q "^reject unsupported" <<<"$r"
check "... and says why" grep -q "not accepted" "$T/server.log"
svc jazz/server.jazz.test
kill -HUP "$(cp_pid server)"
sleep 1
r=$(jzc -c "FILE:$T/alice.cc" -d w2 login)
check "an AES-256 ticket still logs in" grep -q "^welcome" <<<"$r"

# item 7: log and event injection through the password token's user name
jzc -m password -u $'admin\njazzd[info]: login: admin@JAZZ.TEST device pc from 1.2.3.4' \
	-p x rawlogin "$login_json" >/dev/null
jzc -m password -u $'\xff\xfeevil' -p x rawlogin "$login_json" >/dev/null
sleep 0.5
check "a newline in a user name cannot forge a log line" \
	bash -c "! grep -q '^jazzd\[info\]: login: admin' '$T/server.log'"
check "the name is logged escaped" grep -q 'admin\\x0ajazzd' "$T/server.log"
check "a non-UTF-8 name still gives a user-login-failed event with the name" \
	grep -q 'event user-login-failed {.*"user": *"\\\\xff\\\\xfeevil"' "$T/server.log"
check "no empty event" bash -c "! grep -q 'event user-login-failed {}' '$T/server.log'"

# item 5: device names, per-user device limit, lease expiry
for d in $'pc\x01' 'a b' '../x' "$(printf 'd%.0s' $(seq 80))" '-lead'; do
	r=$(jzc -m password -u bob -p bobpw -d "$d" login)
	grep -q "^reject bad-device" <<<"$r" || { nok "device name '$d' refused ($r)"; continue; }
	ok "device name $(printf %q "$d" | cut -c1-20) refused"
done
for i in 1 2 3; do jzc -m password -u bob -p bobpw -d "bob-$i" login >/dev/null; done
r=$(jzc -m password -u bob -p bobpw -d bob-4 login)
check "a 4th device of one user is refused (max_devices = 3): $r" grep -q "^reject too-many-devices" <<<"$r"
sleep 3.5
check "unused leases expire (lease_expiry = 2)" wait_for "$T/server.log" "leases: [0-9]+ unused" 6
r=$(jzc -m password -u bob -p bobpw -d bob-4 login)
check "after expiry the 4th device gets an address" grep -q "^welcome" <<<"$r"

# item 8: canonical protocol, announced endpoint, ticket lifetime
r=$(jzc -m password -u carol -p carolpw -d carol-ep -E 8.8.8.8 login)
check "an announced endpoint that is not the seen address is not taken" \
	grep -q "announced endpoint 8.8.8.8 is not the address seen" "$T/server.log"
kdc_kinit alice alicepw "FILE:$T/short.cc" -l 8s >/dev/null || nok "short ticket"
r=$(jzc -c "FILE:$T/short.cc" -d alice-short hold 30)
echo "# 8 s ticket: $r"
check "a session ends when its ticket expires" grep -q "^welcome" <<<"$r"
check "... when the ticket ends (not held 30 s)" grep -Eq "^ended after ([0-9]|1[0-9])\." <<<"$r"
check "... and the server says why" grep -q "Kerberos ticket expired" "$T/server.log"
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
