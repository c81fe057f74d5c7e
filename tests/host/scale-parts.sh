#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile peer lists in parts against a real jazzd client (fake kernel
# backend): a lying server (tests/scale/partsrv.py) sends a good list in
# 3 parts, then a part without a list in progress, a delta inside a list,
# a missing part, and "part"/"more" of the wrong type, one connection
# each. The client must install the good lists whole, refuse each bad one
# as a protocol error (drop the connection, log in again) and never
# install an entry of a refused list. TAP.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
/usr/bin/python3 "$TOP/tests/scale/partsrv.py" "$PORT" "$T/server.crt" "$T/server.key" \
	> "$T/partsrv.out" 2>&1 &
PIDS+=($!)
check "the lying server listens" wait_for "$T/partsrv.out" "^listening" 10
cp_client_conf alice-pc alice kerberos
cp_start alice-pc
check "a list in 3 parts is installed whole (5 peers)" \
	wait_for "$T/alice-pc.log" "peer list: 5 visible, 5 installed" 20
check "a part without a list in progress: refused, reconnect" \
	wait_for "$T/partsrv.out" "^conn 1 closed" 20
check "a delta inside a list in parts: refused" \
	wait_for "$T/alice-pc.log" "peer list delta inside a list in parts" 20
check "a missing part, a wrong 'part', a wrong 'more': refused" \
	wait_for "$T/partsrv.out" "^conn 5 closed" 30
check "each refusal says why" \
	test "$(count "$T/alice-pc.log" "disconnected from .*: bad peer list part")" -ge 4
check "the last good list (2 parts) is installed: p2 p3 p4 p8" \
	wait_for "$T/alice-pc.log" "peer list: 4 visible" 20
sleep 1
check "no entry of a refused list reached the kernel (p7 p10-p12 p20-p22 p30 p40)" \
	bash -c "! grep -Eq 'name=p(7|1[0-2]|2[0-2]|30|40) ' '$T/alice-pc.kernel'"
check "p8, from the last list's second part, reached the kernel" \
	grep -q 'peer-new id=8 .*name=p8 ' "$T/alice-pc.kernel"
cp_done
