#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Packet fuzzing of jazz.ko's receive path (tests/fuzz-kernel/pkt_fuzz.py):
# random, truncated, bit-flipped and replayed UDP to a jazz listen port over
# IPv4 and IPv6, and validly encrypted messages (keys the fuzzer installed;
# python3-cryptography) carrying hostile inner packets, interleaved with key
# rotation, peer delete/re-add and link down/up. Fails when a datagram is
# not counted exactly once by the device, valid pings get no authentic
# reply, the tunnel stops answering, an object is left at unload, or
# (scripts/vm.sh) on any kernel report.
#
#   FUZZ_SECONDS (default 60), FUZZ_SEED (default random; printed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fuzz.sh"

need_root
need_cmd unshare ip
need_module jazz
T=$(mktemp -d)
on_exit rm -rf "$T"
dmesg_mark
seed=$(fuzz_seed)
diag "seed $seed, ${FUZZ_SECONDS} s"

log=$(fuzz_log packet.log)
diag "step log $log"
fuzz_tap packet unshare -n sh -c "ip link set lo up && exec $PY $FUZZDIR/pkt_fuzz.py --seed $seed --seconds $FUZZ_SECONDS --log $log"

fuzz_leak_check
dmesg_check "kernel log clean"
