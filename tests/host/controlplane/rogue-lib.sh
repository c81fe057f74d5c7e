# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests/host/client-*.sh: the rogue server (rogue.c) against a
# real jazzd client with the fake kernel backend. Source after lib.sh.

ROGUE=$TOP/build/tests/rogue
build_rogue() {
	build_test_tool "$ROGUE" "krb5 jansson openssl" \
		"$TOP/tests/host/controlplane/rogue.c" "$TOP"/userspace/jazzd/auth/*.c
}

# rogue_start NAME PROOF SCRIPT-JSON [rogue args...]: the rogue on $PORT,
# its record in $T/NAME.rec
rogue_start() {
	local name=$1 proof=$2 script=$3
	shift 3
	printf '%s\n' "$script" >"$T/$name.json"
	: >"$T/$name.rec"
	"$ROGUE" -l "$PORT" -c "$T/server.crt" -k "$T/server.key" -x "$T/$name.json" \
		-o "$T/$name.rec" -P "$proof" "$@" 2>"$T/$name.rogue.err" &
	ROGUE_PID=$!
	PIDS+=($ROGUE_PID)
	wait_for "$T/$name.rec" "^listening" 5
}
rogue_stop() {
	kill "$ROGUE_PID" 2>/dev/null
	wait "$ROGUE_PID" 2>/dev/null
}

# a client session against the rogue: NAME USER METHOD [conf lines...];
# waits until the rogue is done (or 20 s), then stops the client. The
# client takes pair keys from the server (the rogue sends "key"), unless
# ROGUE_PAIR_KEYS=device.
rogue_client() {
	local name=$1 user=$2 method=$3
	shift 3
	cp_client_conf "$name" "$user" "$method" "pair_keys = ${ROGUE_PAIR_KEYS:-server}" "$@"
	cp_start "$name"
	wait_for "$T/$name.rec" "^done" 20
	cp_stop "$name"
	rogue_stop
}

# the standard messages of a login that gets as far as it can
W_CHALLENGE='{"type":"challenge","round":0,"prompts":[{"code":"otp","text":"One-time code","secret":true}]}'
welcome() { # welcome VIP4 VIP6 [ID]
	printf '{"type":"welcome","user":"bob","realm":"%s","device":"d","id":%s,"vip4":"%s","prefix4":16,"vip6":"%s","prefix6":64,"keepalive":15,"cipher":"chacha20-poly1305","endpoint":{"ip":"127.0.0.1","port":51820}}' \
		"$KDC_REALM" "${3:-7}" "$1" "$2"
}
peer() { # peer ID VIP4 VIP6 [ENDPOINT-IP]
	printf '{"id":%s,"device":"p%s","user":"eve","realm":"%s","vip4":"%s","vip6":"%s","linked":true,"endpoint":{"ip":"%s","port":51820}}' \
		"$1" "$1" "$KDC_REALM" "$2" "$3" "${4:-127.0.0.9}"
}
KEY_B64=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
key_msg() { # key_msg PEER
	printf '{"type":"key","peer":%s,"key_id":1,"cipher":"chacha20-poly1305","tx":{"key":"%s","salt":"AQIDBA=="},"rx":{"key":"%s","salt":"BQYHCA=="}}' \
		"$1" "$KEY_B64" "$KEY_B64"
}
