#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# "peers_known" (server/known.c, docs/PROTOCOL-control.md): a jazzd client
# that reconnects presents the list it kept (digest, count); a server that
# would send the same list answers "peers_unchanged". With real jazzd
# clients (fake kernel backend), the test plugin's rules (filterplug.c) and
# server restarts: an unchanged list is not sent again and its tunnels stay
# (no peer-del), deltas follow; a list that changed while the server was
# down (a peer gone, a peer new, a policy that now hides a peer) gets the
# full, correct list; a forged, oversized or malformed "peers_known" gets
# the full list or a clear refusal; a login without it (an old client)
# gets the full list. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
cc -O2 -Wall -shared -fPIC -I"$TOP/userspace/include" -o "$T/filterplug.so" \
	"$TOP/tests/host/controlplane/filterplug.c" || { echo "not ok 1 - build plugin"; exit 1; }
export JZT_RULES=$T/rules
: >"$JZT_RULES"
cp_server_conf "[callbacks]" "plugin = $T/filterplug.so"
restart() { # the server again, same leases; its log starts anew
	cp_stop server
	cp_start server
	wait_for "$T/server.log" "server listening" 5
}
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5
client() { # client NAME USER
	cp_client_conf "$1" "$2" password
	cp_start "$1"
}
wait_set() { # NAME "SET " [SECONDS]: until the kernel's peers are SET
	local i
	for ((i = 0; i < ${3:-15} * 10; i++)); do
		[ "$(final_set "$T/$1.kernel")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "# $1: $(final_set "$T/$1.kernel")" >&2
	return 1
}
dels() { count "$T/$1.kernel" "^peer-del "; }
srvlog() { grep -c -- "device $1: $2" "$T/server.log"; }

client bob-pc bob
client carol-pc carol
client dave-pc dave
check "three devices, each with the other two" bash -c "$(declare -f final_set wait_set); T=$T; \
	wait_set bob-pc 'carol-pc dave-pc ' && wait_set carol-pc 'bob-pc dave-pc ' && \
	wait_set dave-pc 'bob-pc carol-pc '"

# 1. a restart, nothing changed
d0=$(( $(dels bob-pc) + $(dels carol-pc) + $(dels dave-pc) ))
restart
check "after a restart each presents its list and is answered unchanged" \
	bash -c "$(declare -f wait_for); for d in bob-pc carol-pc dave-pc; do \
	wait_for '$T/server.log' \"device \$d: 2 entries, as it holds them: unchanged\" 20 || exit 1; done"
check "... the clients take it (the kept entries are current)" bash -c "$(declare -f wait_for); \
	for d in bob-pc carol-pc dave-pc; do \
	wait_for '$T/'\$d.log 'the 2 entries kept from the last session are current' 10 || exit 1; done"
check "... no full list was sent" [ "$(count "$T/server.log" ": the full list$")" = 0 ]
check "... and no tunnel went down (no peer-del)" \
	[ "$(( $(dels bob-pc) + $(dels carol-pc) + $(dels dave-pc) ))" = "$d0" ]
client dave-2 dave
check "then a join reaches them as a delta" bash -c "$(declare -f final_set wait_set); T=$T; \
	wait_set bob-pc 'carol-pc dave-2 dave-pc ' && wait_set carol-pc 'bob-pc dave-2 dave-pc '"
check "... and the newcomer (no list kept) gets the full list" \
	wait_for "$T/dave-2.log" "peer list: 3 visible, 3 installed" 10

# 2. a peer left while the server was down
cp_stop server
cp_stop dave-2
cp_start server
check "a peer gone meanwhile: bob-pc gets the full list (after its wait)" \
	wait_for "$T/server.log" "device bob-pc: sees fewer than it holds: the full list" 20
check "... which the client applies: dave-2 removed" \
	bash -c "$(declare -f final_set wait_set); T=$T; wait_set bob-pc 'carol-pc dave-pc ' 30"
check "... and no device was answered unchanged" [ "$(count "$T/server.log" "unchanged$")" = 0 ]

# 3. a peer new while the server was down
cp_stop server
cp_start server
client erin-pc erin
check "a peer new meanwhile: bob-pc ends with it" bash -c "$(declare -f final_set wait_set); T=$T; \
	wait_set bob-pc 'carol-pc dave-pc erin-pc ' 20"
check "... as do carol-pc and dave-pc" bash -c "$(declare -f final_set wait_set); T=$T; \
	wait_set carol-pc 'bob-pc dave-pc erin-pc ' && wait_set dave-pc 'bob-pc carol-pc erin-pc '"

# 4. the policy changed while the server was down: bob no longer sees carol-pc
sleep 1
echo "dev bob carol-pc" >"$JZT_RULES"
cp_stop server
cp_start server
check "policy now hides carol-pc from bob: bob-pc is not answered unchanged" \
	wait_for "$T/server.log" "device bob-pc: sees fewer than it holds: the full list" 20
check "... carol-pc (bob-pc now one-sided) is not either" \
	wait_for "$T/server.log" "device carol-pc: not the list it holds: the full list" 20
check "... dave-pc, whose list is the same, is" \
	wait_for "$T/server.log" "device dave-pc: 3 entries, as it holds them: unchanged" 20
check "... bob-pc loses carol-pc (after the carry-over grace)" \
	bash -c "$(declare -f final_set wait_set); T=$T; wait_set bob-pc 'dave-pc erin-pc ' 40"
check "... and carol-pc loses bob-pc" \
	bash -c "$(declare -f final_set wait_set); T=$T; wait_set carol-pc 'dave-pc erin-pc ' 40"

# 5. logins made by hand (jzclient): old, forged, oversized, malformed
jzp() { jzc -m password -u dave -p davepw -d "$1" lists "$2"; }
jzp old-client 3 >"$T/old.out"
check "a login without peers_known (an old client) gets the full list" \
	grep -q "^peers .*bob-pc" "$T/old.out"
A44=$(printf 'A%.0s' $(seq 43))=
JZCLIENT_KNOWN="{\"digest\":\"$A44\",\"count\":4}" jzp forged 3 >"$T/forged.out"
check "a forged digest (the right count) gets the full list" grep -q "^peers .*bob-pc" "$T/forged.out"
check "... never peers_unchanged" bash -c "! grep -q peers_unchanged '$T/forged.out'"
JZCLIENT_KNOWN="{\"digest\":\"$A44\",\"count\":16777215}" jzp forged-count 10 >"$T/fcount.out"
check "a count it cannot reach gets the full list (once the wait ends)" \
	grep -q "^peers .*bob-pc" "$T/fcount.out"
B64=$(head -c 64 /dev/zero | base64 -w0)
for k in "{\"digest\":\"$B64\",\"count\":4}" "\"junk\"" "{\"digest\":\"$A44\",\"count\":-1}" \
	"{\"digest\":\"$A44\",\"count\":\"4\"}" "{\"digest\":\"$A44\",\"count\":4,\"x\":1}" \
	"{\"digest\":\"not base64!\",\"count\":4}" "{\"count\":4}"; do
	out=$(JZCLIENT_KNOWN="$k" jzp bad-known 2)
	check "peers_known $k: refused (reject protocol), no list" \
		bash -c "[ '$(echo "$out" | head -1)' = 'reject protocol' ] && ! echo '$out' | grep -q '^peers'"
done
check "... saying what is wrong" grep -q 'failed: .*peers_known must be {"digest": base64 of 32 bytes' \
	"$T/server.log"
cp_done
