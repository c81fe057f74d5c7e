#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make fuzz-kernel`: the kernel fuzzers for as long as asked, on the debug
# kernel (KASAN, kmemleak, lockdep, UBSAN; scripts/build-debug-kernel.sh).
#
#   FUZZ_SECONDS=3600 make fuzz-kernel            each fuzzer run this long
#   FUZZ_SEED=N make fuzz-kernel                  replay a seed
#   FUZZ_KERNEL=6.12 make fuzz-kernel             on a stock kernel instead
#   FUZZERS="genl" make fuzz-kernel               only one (genl, packet)
#
# Each fuzzer boots its own VM (scripts/vm.sh --kernel debug -- ...), so a
# kernel panic in one does not stop the other. Output and the fuzzers' step
# logs: out/fuzz-kernel/<fuzzer>/ (fuzz/*.log holds every step with its
# time, for a crash the seed's replay does not reproduce). Exit 1 if any
# run failed or the kernel reported anything.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
SECS=${FUZZ_SECONDS:-300}
KERNEL=${FUZZ_KERNEL:-debug}
SEED=${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
FUZZERS=${FUZZERS:-genl packet}

bash scripts/build-kmod.sh "$KERNEL" || exit 1
rc=0
for f in $FUZZERS; do
	case "$f" in genl|packet) ;; *) echo "run.sh: unknown fuzzer '$f' (genl, packet)" >&2; exit 2 ;; esac
	echo "# fuzz-kernel: $f on $KERNEL for ${SECS}s per run, seed $SEED"
	# genl runs twice (root, user namespace); leave room for setup and the
	# debug kernel's slowness.
	bash scripts/vm.sh --kernel "$KERNEL" --out "$TOP/out/fuzz-kernel/$f" --timeout $((SECS * 3 + 600)) \
		-- env FUZZ_SECONDS="$SECS" FUZZ_SEED="$SEED" bash "tests/vm/fuzz-$f.sh" || rc=1
done
echo "# fuzz-kernel: seed $SEED: $([ $rc = 0 ] && echo clean || echo 'FINDINGS (see above)')"
exit $rc
