#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 15: a hostile client's malformed login messages, end to end (the
# parsers themselves are fuzzed by tests/fuzz/fuzz_server_msg.c): each is
# rejected with "protocol" and the reason, before any Kerberos work or
# callback, and the server keeps serving. Real KDC, real jazzd. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
cp_server_conf "[server]" "max_devices = 0"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }

items=$(/usr/bin/python3 -c 'import json; print(json.dumps([{"code": "c%d" % i, "value": "v"} for i in range(33)]))')
long=$(printf 'd%.0s' $(seq 300))
big=$(/usr/bin/python3 -c 'print("x" * 1025)')
bad() { # bad DESC JSON REASON-REGEX
	local r
	r=$(jzc -m password -u bob -p bobpw rawlogin "$2" 2>&1)
	echo "# $1: $r"
	check "$1: reject $3" grep -Eq "^reject $3" <<<"$r"
}
L='"type":"login","method":"password","device":"m1"'
bad "listen_port 70000" "{$L,\"token\":\"@\",\"listen_port\":70000}" protocol
bad "listen_port a string" "{$L,\"token\":\"@\",\"listen_port\":\"1\"}" protocol
bad "33 other_data items" "{$L,\"token\":\"@\",\"other_data\":$items}" protocol
bad "an answer of 1025 bytes" "{$L,\"token\":\"@\",\"other_data\":[{\"code\":\"c\",\"value\":\"$big\"}]}" protocol
bad "an item without a code" "{$L,\"token\":\"@\",\"other_data\":[{\"value\":\"v\"}]}" protocol
bad "a token that is not base64" "{$L,\"token\":\"%%%\"}" protocol
bad "no token" "{$L}" protocol
bad "features not an array" "{$L,\"token\":\"@\",\"features\":\"peers_delta\"}" protocol
bad "method unknown" '{"type":"login","method":"ntlm","device":"m1","token":"@"}' protocol
bad "a device name of 300 bytes" "{\"type\":\"login\",\"method\":\"password\",\"device\":\"$long\",\"token\":\"@\"}" protocol
bad "a device name with a slash" '{"type":"login","method":"password","device":"a/b","token":"@"}' bad-device
bad "a pubkey that is not one" "{$L,\"token\":\"@\",\"pubkey\":\"AAAA\"}" bad-pubkey
check "the server says why (listen_port)" grep -q "listen_port must be 0-65535" "$T/server.log"
r=$(jzc -m password -u bob -p bobpw -d m2 rawlogin "{$L,\"token\":\"@\",\"listen_port\":51820,\"pubkey\":\"vMNW20uIKRFOrJDiAuxDJlszjbwQmY5hfGrmSYhSGlk=\",\"other_data\":[{\"code\":\"c\",\"value\":\"v\"}]}" 2>&1)
echo "# a well-formed raw login: $r"
check "a well-formed raw login of the same shape is welcome" grep -q "^welcome " <<<"$r"
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
