#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Server-made pair keys (`pair_keys = server`, for clients from before
# device keys): a real jazzd server and two real clients with the fake
# kernel backend, real MIT KDC and TLS on loopback.
#   - both ends get the same key, one's tx the other's rx, also when the
#     first one reached a client before the list naming its peer (the
#     server sends a key not acked by both ends anew);
#   - ChaCha20-Poly1305 keys come with zero salts (what handshake version 2
#     makes: jazz.ko runs them on lib/crypto), AES-256-GCM keys with random
#     ones, and no two keys share a salt there.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
# KERNEL-LOG PEER: "cipher tx rx" of each key-new for that peer, a line each
keys_of() { sed -n "s/^key-new peer=$2 .*cipher=\([^ ]*\) tx=\([^ ]*\) rx=\(.*\)/\1 \2 \3/p" "$1"; }

run_pair() { # CIPHER: server and both clients up, a key agreed
	cp_server_conf "[server]" "pair_keys = server" "cipher = $1" "keepalive = 2"
	cp_start server
	wait_for "$T/server.log" "server listening" 5 || nok "server starts ($1)"
	cp_client_conf alice-pc alice kerberos "pair_keys = server"
	cp_client_conf bob-pc bob password "pair_keys = server"
	: >"$T/alice-pc.kernel"
	: >"$T/bob-pc.kernel"
	cp_start alice-pc
	cp_start bob-pc
	check "$1: alice got a key for bob from the server" \
		wait_for "$T/alice-pc.kernel" "^key-new peer=2 .*cipher=$1 " 10
	check "$1: bob got the same key for alice" \
		wait_for "$T/bob-pc.kernel" "^key-new peer=1 .*cipher=$1 " 10
	a=$(keys_of "$T/alice-pc.kernel" 2 | head -1)
	b=$(keys_of "$T/bob-pc.kernel" 1 | head -1)
	echo "# alice: $a"
	check "$1: alice's tx is bob's rx and the other way round" same_key
	# the first key often reaches a client before the list naming the
	# peer, which drops it: the server then sends a new one (links.c)
	if grep -q "key for unknown peer" "$T/alice-pc.log" "$T/bob-pc.log"; then
		check "$1: a key an end dropped (peer not listed yet) was sent anew" \
			grep -q "not acked by both ends after 2 s: a new one" "$T/server.log"
	fi
}
same_key() { [ -n "$a" ] && [ "$a" = "$(echo "$b" | awk '{print $1, $3, $2}')" ]; }
stop_all() {
	cp_stop alice-pc
	cp_stop bob-pc
	cp_stop server
}

run_pair chacha20-poly1305
check "chacha20-poly1305: both salts are zero" \
	bash -c "[[ '$a' =~ ^chacha20-poly1305\ [0-9a-f]{64}:00000000\ [0-9a-f]{64}:00000000$ ]]"
stop_all

run_pair aes-256-gcm
check "aes-256-gcm: random salts, different per direction" bash -c "
	tx=\$(echo '$a' | awk '{print \$2}'); rx=\$(echo '$a' | awk '{print \$3}')
	[ \"\${tx#*:}\" != 00000000 ] && [ \"\${rx#*:}\" != 00000000 ] &&
	[ \"\${tx#*:}\" != \"\${rx#*:}\" ]"
stop_all

cp_done
