#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The server's TLS context (userspace/jazzd/core/proto.c) seen from outside with
# openssl s_client against a real jazzd: TLS 1.3 only, a full (EC)DHE
# handshake every time with X25519 preferred, no session tickets at all (in
# TLS 1.3 SSL_OP_NO_TICKET alone still sends stateful tickets), so nothing
# can be resumed; the chain is sent as the cert file has it. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }

cp_setup || { echo "not ok 1 - setup"; exit 1; }
cp_server_conf
cp_start server
check "server starts and listens" wait_for "$T/server.log" "server listening" 5

# sc NAME [s_client options...]: a handshake; output in $T/NAME.out. stdin
# stays open 1 s so that post-handshake messages (tickets) are read.
sc() {
	local name=$1
	shift
	(sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
		-servername server.jazz.test -CAfile "$T/server.crt" "$@" \
		>"$T/$name.out" 2>&1
}

sc plain -sess_out "$T/sess.pem"
check "TLS 1.3 negotiated, server certificate verified" \
	grep -q 'Verification: OK' "$T/plain.out"
check "protocol is TLSv1.3" grep -q '^New, TLSv1.3,' "$T/plain.out"
check "key exchange X25519 (the server's first choice)" \
	grep -q 'Server Temp Key: X25519' "$T/plain.out"
n=$(grep -c 'New Session Ticket arrived' "$T/plain.out")
check "no session ticket sent (got $n)" test "$n" = 0
check "no ticket in the session either" bash -c "! grep -q 'TLS session ticket:' '$T/plain.out'"
# in TLS 1.3 s_client has a session to save only once a ticket arrived
resumed() { # resumed NAME [s_client options]: 0 if a saved session was resumed
	[ -s "$T/sess.pem" ] || return 1
	sc "$@" -sess_in "$T/sess.pem"
	grep -q '^Reused, ' "$T/$1.out"
}
check "nothing to resume (no session saved, or the saved one not resumed)" \
	bash -c "$(declare -f sc resumed); T=$T PORT=$PORT; ! resumed again"
sc p256 -groups P-256
check "a client offering only P-256 still connects (ECDH P-256)" \
	grep -q 'Server Temp Key: ECDH, prime256v1' "$T/p256.out"
sc tls12 -tls1_2
check "TLS 1.2 refused (protocol_version alert)" bash -c "grep -q 'alert protocol version' '$T/tls12.out' && ! grep -q '^New, TLSv1.2' '$T/tls12.out'"
check "psk_ke (no ECDHE) offered with the saved session: not resumed" \
	bash -c "$(declare -f sc resumed); T=$T PORT=$PORT; ! resumed psk -allow_no_dhe_kex"
n=$(grep -c 'BEGIN CERTIFICATE' <(openssl s_client -connect "127.0.0.1:$PORT" \
	-servername server.jazz.test -showcerts </dev/null 2>/dev/null))
check "chain sent as the cert file has it (one self-signed certificate, got $n)" test "$n" = 1
check "a Kerberos login still works" bash -c "$(declare -f jzc); JZCLIENT=$JZCLIENT PORT=$PORT T=$T KDC_REALM=$KDC_REALM jzc -c FILE:$T/alice.cc -d tls-pc login | grep -q '^welcome '"
check "server still running" kill -0 "$(cp_pid server)"
cp_done
