#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Generic netlink fuzzing of jazz.ko (tests/fuzz-kernel/genl_fuzz.py, built
# from netlink/jazz.yaml): valid, boundary and mutated messages for every
# command and nested attribute, interleaved with link add/del, netns delete
# and module reload; run as root, then as root of an unprivileged user's
# user namespace (uid 65534, unshare -U -r -n). Fails on a request left
# unanswered, valid requests never accepted, the module no longer serving,
# an object left behind at unload, or (scripts/vm.sh) any kernel report.
#
#   FUZZ_SECONDS (default 60 per run), FUZZ_SEED (default random; printed).
# Replay a finding: FUZZ_SEED=N FUZZ_SECONDS=... scripts/vm.sh --kernel debug
#   -- bash tests/vm/fuzz-genl.sh, or the `replay:` command it printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fuzz.sh"

need_root
need_cmd unshare setpriv ip
need_module jazz
T=$(mktemp -d)
chmod 0755 "$T"
on_exit rm -rf "$T"
dmesg_mark
seed=$(fuzz_seed)
diag "seed $seed, ${FUZZ_SECONDS} s per run"

log=$(fuzz_log genl-root.log)
diag "root run: step log $log"
fuzz_tap root unshare -n "$PY" "$FUZZDIR/genl_fuzz.py" --seed "$seed" --seconds "$FUZZ_SECONDS" --log "$log"

modprobe jazz
log=$(fuzz_log genl-userns.log)
diag "user namespace run (uid 65534): step log $log"
fuzz_tap userns setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- \
	unshare -U -r -n env JAZZ_TOP="$JAZZ_TOP" "$PY" "$FUZZDIR/genl_fuzz.py" --userns \
	--seed "$((seed + 1))" --seconds "$FUZZ_SECONDS" --log "$log"

fuzz_leak_check
dmesg_check "kernel log clean"
