#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# jazzd control plane, end to end on this machine: a real MIT KDC, real TLS,
# a jazzd server and several jazzd clients as real processes with the fake
# kernel backend, and the sample plugin as policy. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
export JAZZ_SAMPLE_OTP="carol:424242"
export JAZZ_SAMPLE_HIDE="bob:carol-pc"
export JAZZ_SAMPLE_DENY="bob:carol-pc,dave:alice-pc"
cp_server_conf
cp_start server
check "server starts and listens" wait_for "$T/server.log" "server listening" 5

# mode (a): Kerberos AP-REQ from alice's ccache
cp_client_conf alice-pc alice kerberos
cp_start alice-pc
check "kerberos login (AP-REQ from ccache) succeeds" \
	wait_for "$T/server.log" "login: alice@$KDC_REALM device alice-pc .*kerberos"
check "client verified the AP-REP (mutual auth)" \
	wait_for "$T/alice-pc.log" "authenticated as alice@$KDC_REALM; server verified"
check "client got its addresses" wait_for "$T/alice-pc.kernel" "^addr 10\.77\.0\.2/16 fd77:6a61:7a7a::2/64"

# mode (b): password login, user_key from the plugin
cp_client_conf bob-pc bob password
cp_start bob-pc
check "password login (encrypted timestamp) succeeds" \
	wait_for "$T/server.log" "login: bob@$KDC_REALM device bob-pc .*password"
check "alice and bob see each other (peer installed both ways)" \
	bash -c "$(declare -f wait_for); wait_for '$T/alice-pc.kernel' 'peer-new id=2 .*name=bob-pc' && wait_for '$T/bob-pc.kernel' 'peer-new id=1 .*name=alice-pc'"
# The devices agree the pair's keys (Noise_KK through the server, started
# within a second of both seeing each other): wait for both installs.
check "pair key delivered to both (tx of one is rx of the other)" bash -c "
	for i in \$(seq 100); do
		a=\$(grep -m1 'key-new peer=2 ' '$T/alice-pc.kernel' | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\1 \2/')
		b=\$(grep -m1 'key-new peer=1 ' '$T/bob-pc.kernel' | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\2 \1/')
		[ -n \"\$a\" ] && [ -n \"\$b\" ] && break
		sleep 0.1
	done
	[ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]"
check "endpoint is the underlay address the server saw" \
	grep -q 'peer-new id=2 .*endpoint=127.0.0.1:51820' "$T/alice-pc.kernel"

# MFA round trip: carol must answer the "otp" prompt
cp_client_conf carol-pc carol password "listen_port = 51900"
cp_start carol-pc -a otp=424242
check "MFA: validate_user asked for more data and accepted the answer" \
	wait_for "$T/server.log" "login: carol@$KDC_REALM device carol-pc"
check "peer_filter hides carol-pc from bob" bash -c "
	sleep 1; ! grep -q 'name=carol-pc' '$T/bob-pc.kernel'"
wait_for "$T/alice-pc.kernel" "peer-new id=3 .*name=carol-pc" 5
check "alice sees carol-pc" grep -q 'peer-new id=3 .*name=carol-pc.*endpoint=127.0.0.1:51900' "$T/alice-pc.kernel"

# MFA wrong code
cp_client_conf carol-2 carol password
cp_start carol-2 -a otp=000000
check "MFA with a wrong code is rejected" wait_for "$T/carol-2.log" "login rejected: rejected: wrong one-time code"
cp_stop carol-2

# wrong password / unknown user
cp_client_conf bob-bad bob password "password = notbobpw"
cp_start bob-bad
check "wrong password is refused" wait_for "$T/bob-bad.log" "login rejected: badkey|login rejected: bad"
cp_stop bob-bad
cp_client_conf nobody-pc nobody password
cp_start nobody-pc
check "unknown user is refused like a wrong password (issue 15)" wait_for "$T/nobody-pc.log" "login rejected: bad-key"
cp_stop nobody-pc

# approval allowed: alice -> bob
inject alice-pc "request proto=tcp src=10.77.0.2:40000 dst=10.77.0.3:80 cookie=7"
check "approval alice->bob: verdict installed at the destination" \
	wait_for "$T/bob-pc.kernel" "verdict approve peer=1 cookie=0 proto=tcp 10.77.0.2:40000->10.77.0.3:80"
check "approval alice->bob: verdict installed at the origin with its cookie" \
	wait_for "$T/alice-pc.kernel" "verdict approve peer=2 cookie=7 proto=tcp 10.77.0.2:40000->10.77.0.3:80"
check "destination got the verdict before the origin" bash -c "
	[ \$(stat -c %Y '$T/bob-pc.kernel') -le \$(stat -c %Y '$T/alice-pc.kernel') ]"
check "peer_connection ran in the plugin" grep -q "peer_connection alice@.* alice-pc 10.77.0.2:40000 -> bob-pc 10.77.0.3:80 tcp: approve" "$T/server.log"

# approval denied: bob -> carol is not even linked (hidden); bob -> alice allowed;
# the deny policy: carol... use alice's view: deny bob:alice-pc? test deny via DENY list
inject carol-pc "request proto=udp src=10.77.0.4:5000 dst=10.77.0.2:53 cookie=9"
check "approval carol->alice (allowed) reaches both" \
	wait_for "$T/carol-pc.kernel" "verdict approve peer=1 cookie=9 proto=udp"
inject bob-pc "request proto=tcp src=10.77.0.3:41000 dst=10.77.0.4:22 cookie=11"
check "approval bob->carol denied (hidden and denied by policy)" \
	wait_for "$T/bob-pc.kernel" "verdict deny .*cookie=11 proto=tcp 10.77.0.3:41000->10.77.0.4:22"
inject alice-pc "request proto=tcp src=10.77.0.9:40000 dst=10.77.0.3:80 cookie=13"
sleep 0.5
check "a spoofed source address is not taken from the client" bash -c "
	grep -q 'address 10.77.0.9/10.77.0.3 is not its own' '$T/server.log' && ! grep -q 'cookie=13 .*approve' '$T/alice-pc.kernel'"

# denied by peer_connection: dave -> alice (both see each other)
cp_client_conf dave-pc dave password "fingerprint = $FPR" "ca ="
cp_start dave-pc
check "TLS with a pinned server fingerprint instead of a CA" wait_for "$T/dave-pc.log" "logged in as dave"
sleep 0.5
inject dave-pc "request proto=tcp src=10.77.0.5:42000 dst=10.77.0.2:443 cookie=21"
check "approval dave->alice denied by peer_connection: installed at the destination" \
	wait_for "$T/alice-pc.kernel" "verdict deny peer=4 cookie=0 proto=tcp 10.77.0.5:42000->10.77.0.2:443"
check "... and at the origin with its cookie" \
	wait_for "$T/dave-pc.kernel" "verdict deny peer=1 cookie=21 proto=tcp 10.77.0.5:42000->10.77.0.2:443"
check "the plugin said deny" grep -q "peer_connection dave@.* dave-pc 10.77.0.5:42000 -> alice-pc 10.77.0.2:443 tcp: deny" "$T/server.log"
n1=$(count "$T/server.log" "peer_connection alice@.*40000 -> bob-pc")
inject alice-pc "request proto=tcp src=10.77.0.2:40000 dst=10.77.0.3:80 cookie=23"
check "a cached verdict is installed again without asking the plugin" bash -c "
	grep -q 'verdict approve peer=2 cookie=23' <(for i in \$(seq 50); do cat '$T/alice-pc.kernel'; sleep 0.1; grep -q cookie=23 '$T/alice-pc.kernel' && break; done; cat '$T/alice-pc.kernel') &&
	[ \$(grep -c 'peer_connection alice@.*40000 -> bob-pc' '$T/server.log') = $n1 ]"
cp_client_conf eve-pc dave password "fingerprint = 00:11:22" "ca ="
cp_start eve-pc
check "a wrong pinned fingerprint is refused by the client" wait_for "$T/eve-pc.log" "is not the pinned one"
cp_stop eve-pc

# a client leaving updates the others
cp_stop carol-pc
check "carol leaving removes her device from alice's kernel" wait_for "$T/alice-pc.kernel" "peer-del id=3"

kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
