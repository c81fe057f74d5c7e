#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 20: a device's candidates (where its tunnel socket may be reached)
# go to the server in a "candidates" message, parsed at the edge
# (server/smsg.c), kept on the session (server/cands.c) and put in the
# device's list entry for the devices linked to it; a change mid-session
# reaches them as a peers_delta (server/peers.c peers_cands_changed()).
# Hostile input: too many candidates, addresses no peer can use
# (loopback, unspecified, multicast), port 0, unknown kinds, duplicates,
# wrong types are refused by name and change nothing; a flood of changes
# is cut to 1 a second (burst 5) and the server keeps serving. Real KDC,
# real jazzd, the test client. About 20 s. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
cp_server_conf
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }

C1='{"type":"candidates","cands":[{"ip":"198.51.100.7","port":40001,"kind":"srflx"},{"ip":"192.168.1.2","port":51820,"kind":"host"}]}'
C2='{"type":"candidates","cands":[{"ip":"198.51.100.9","port":40002,"kind":"srflx"},{"ip":"2001:db8::2","port":51820,"kind":"host"}]}'
nine=$(/usr/bin/python3 -c 'import json; print(json.dumps({"type": "candidates", "cands": [{"ip": "192.0.2.%d" % i, "port": 1000 + i, "kind": "host"} for i in range(9)]}))')
absent() { ! grep -qF -- "$1" "$T/watch.out"; }
{
	echo "sleep 1.5"
	echo "$C1"
	echo "sleep 2"
	echo "$nine"
	echo '{"type":"candidates","cands":[{"ip":"127.0.0.1","port":51820,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"0.0.0.0","port":51820,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"::","port":51820,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"239.1.1.1","port":51820,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"::ffff:127.0.0.1","port":51820,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"192.0.2.1","port":0,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"192.0.2.1","port":70000,"kind":"host"}]}'
	echo '{"type":"candidates","cands":[{"ip":"192.0.2.1","port":1,"kind":"relay"}]}'
	echo '{"type":"candidates","cands":[{"ip":"192.0.2.1","port":1,"kind":"host"},{"ip":"192.0.2.1","port":1,"kind":"srflx"}]}'
	echo '{"type":"candidates","cands":[{"ip":"not-an-ip","port":1,"kind":"host"}]}'
	echo '{"type":"candidates","cands":"192.0.2.1"}'
	echo '{"type":"candidates"}'
	echo "sleep 2"
	echo "$C2"
	echo "sleep 2"
	for i in $(seq 1 60); do
		echo "{\"type\":\"candidates\",\"cands\":[{\"ip\":\"203.0.113.$i\",\"port\":5000,\"kind\":\"srflx\"}]}"
	done
} >"$T/send"

jzc -m password -u bob -p bobpw -d watcher cands - 14 >"$T/watch.out" 2>&1 &
W=$!
sleep 2
jzc -m password -u bob -p bobpw -d sender cands "$T/send" 4 >"$T/send.out" 2>&1
wait "$W"
sed 's/^/# watcher: /' "$T/watch.out" | head -30
grep -c '^entry sender' "$T/watch.out" | sed 's/^/# sender entries seen: /'

check "the sender logs in" grep -q '^welcome ' "$T/send.out"
check "the watcher first lists the sender without candidates" grep -q '^entry sender -$' "$T/watch.out"
check "a delta brings the sender's candidates" \
	grep -qF 'entry sender [{"ip":"198.51.100.7","port":40001,"kind":"srflx"},{"ip":"192.168.1.2","port":51820,"kind":"host"}]' "$T/watch.out"
check "a change mid-session is re-announced (IPv6 host candidate too)" \
	grep -qF 'entry sender [{"ip":"198.51.100.9","port":40002,"kind":"srflx"},{"ip":"2001:db8::2","port":51820,"kind":"host"}]' "$T/watch.out"
for bad in 127.0.0.1 0.0.0.0 '"::"' 239.1.1.1 ::ffff:127.0.0.1 192.0.2.0 192.0.2.1 not-an-ip relay; do
	check "nothing malformed was listed ($bad)" absent "$bad"
done
check "9 candidates refused by name" grep -q "malformed candidates (cands must be an array of at most 8" "$T/server.log"
check "loopback refused by name" grep -q "127.0.0.1 is not a unicast address a peer can reach" "$T/server.log"
check "the v4-mapped loopback too" grep -q "::ffff:127.0.0.1 is not a unicast address" "$T/server.log"
check "port 0 refused" grep -q "candidate 0: needs ip, port 1-65535 and kind host|srflx" "$T/server.log"
check "a duplicate refused" grep -q "192.0.2.1 port 1 twice" "$T/server.log"
check "the flood is cut: 'more often than 1 a second'" grep -q "candidates more often than 1 a second: ignored" "$T/server.log"
n=$(grep -c '^entry sender \[{"ip":"203.0.113' "$T/watch.out")
check "the flood of 60 changes reached the watcher as at most 16 entries ($n)" test "$n" -le 16
check "... and at least one of them" test "$n" -ge 1
check "the sender was not disconnected" sh -c "! grep -q '^closed' '$T/send.out'"
check "the watcher was not disconnected" sh -c "! grep -q '^closed' '$T/watch.out'"
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
