#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 18, peer lists of any size: 500 devices of alice online (jzsim,
# one process, real TLS and Kerberos logins), then a real jazzd client as
# the 501st. Its list is ~84 KB, more than the client's 65,536-byte frame
# limit: it must come in parts, and the client must apply all 500 peers
# without a reconnect; every simulated device must see the newcomer.
# Hostile: a list whose parts come out of order, or a delta inside a list
# in parts, is refused by the simulated device (a protocol error). TAP.
set -u
. "$(dirname "$0")/../scale/lib.sh"
JAZZD=${JAZZD_BIN:-$JAZZD}	# JAZZD_BIN=/path/jazzd: test another build
NDEV=${SCALE_FRAMES_N:-500}

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_tools() { build_jzsim && build_jzclient; }
check "jzsim and jzclient build" build_tools
cp_server_conf "[server]" "max_sessions = 4000" "${SCALE_LIMITS[@]}"
sed -i -e 's/^login_timeout = .*/login_timeout = 60/' -e 's/^handshake_timeout = .*/handshake_timeout = 30/' "$T/server.conf"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 10

jzsim -v -x 1 -H 150 -T 170 "$NDEV" > "$T/sim.out" 2> "$T/sim.err" &
SIM=$!
PIDS+=($SIM)
check "$NDEV simulated devices online" wait_for "$T/sim.out" "^online $NDEV " 120

cp_client_conf big-pc alice kerberos
cp_start big-pc
check "the real client (the $((NDEV + 1))th device) logs in" \
	wait_for "$T/big-pc.log" "logged in as alice" 30
check "the real client applies a list of all $NDEV peers" \
	wait_for "$T/big-pc.log" "peer list: $NDEV visible, $NDEV installed" 60
sleep 3
check "the real client never disconnected" \
	bash -c "! grep -E 'disconnected from' '$T/big-pc.log'"
grep -E 'disconnected from' "$T/big-pc.log" | head -3 | sed 's/^/# /'
check "the real client logged in once" \
	test "$(count "$T/server.log" "login: alice@$KDC_REALM device big-pc")" = 1
fk=$(grep -c "peer-new\|peer_set\|peer add" "$T/big-pc.kernel" 2>/dev/null || true)
echo "# fake kernel lines about peers: $fk"
check "every simulated device has the real client in its list (id by id)" \
	wait_for "$T/sim.out" "^complete $NDEV " 60
# a client from before "peers_more" (jzclient lists "peers_delta" only):
# one frame, whatever its size, and the server says so
jzc -u alice -c "FILE:$T/alice.cc" -d old-pc lists 8 > "$T/old.out" 2>&1
check "a client without peers_more gets the whole list in one message" \
	test "$(awk '/^peers /{print $2}' "$T/old.out" | head -1 | tr ',' '\n' | grep -c .)" = $((NDEV + 1))
check "... and the server warns that the frame is over the part size" \
	wait_for "$T/server.log" "device old-pc is one frame of [0-9]+ bytes: the client did not list" 5
check "jzsim: no simulated device lost its connection or its list" \
	bash -c "! grep -Eq '^(fail|timeout)' '$T/sim.out' && ! grep -q '^jzsim: ' '$T/sim.err'"
# $SIM is the subshell running the jzsim function: end the simulator itself
kill $(ps -o pid= --ppid "$SIM") "$SIM" 2>/dev/null
wait "$SIM" 2>/dev/null
sed 's/^/# sim: /' "$T/sim.out" | head -8
sed 's/^/# sim.err: /' "$T/sim.err" | head -5
grep -c "list in parts\|frame of" "$T/server.log" | sed 's/^/# server warnings about list frames: /'
cp_done
