#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the libFuzzer harnesses (tests/fuzz/Makefile) and runs each one
# for FUZZ_SECONDS (default 20) from its seed corpus (tests/fuzz/corpus/
# NAME/; what it finds goes to build/fuzz/NAME/corpus, not to the tree).
# TAP: one line per harness; a crash, leak, UB report or timeout fails it,
# and the reproducer is printed (path, base64, and the command to rerun).
#
#   bash tests/fuzz/run.sh [NAME...]          (make fuzz-userspace; tests/host/fuzz.sh)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=$TOP/build/fuzz
SECS=${FUZZ_SECONDS:-20}
N=0 FAILED=0

if ! command -v clang >/dev/null; then
	echo "not ok 1 - clang is missing (scripts/deps.sh installs clang and libclang-rt-dev)"
	exit 1
fi
if ! nice make -s -C "$TOP/tests/fuzz" -j2 B="$B" >"$B.build.log" 2>&1; then
	echo "not ok 1 - build the harnesses"
	sed 's/^/# /' "$B.build.log" | tail -30
	exit 1
fi
names=("$@")
if [ ${#names[@]} = 0 ]; then
	for f in "$TOP"/tests/fuzz/fuzz_*.c; do
		f=${f##*/fuzz_}
		names+=("${f%.c}")
	done
fi
for name in "${names[@]}"; do
	N=$((N + 1))
	out=$B/$name
	mkdir -p "$out/corpus"
	rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/slow-unit-*
	# -timeout: a single input running 10 s is a hang; -rss_limit_mb bounds memory
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	nice "$B/fuzz_$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$out/" \
		"$out/corpus" "$TOP/tests/fuzz/corpus/$name" >"$out/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log")
	repro=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -n1)
	if [ "$rc" = 0 ] && [ -z "$repro" ]; then
		echo "ok $N - fuzz $name: ${runs:-?} inputs in ${SECS}s, no crash, leak or UB"
		continue
	fi
	FAILED=$((FAILED + 1))
	echo "not ok $N - fuzz $name (exit $rc)"
	grep -E "ERROR:|SUMMARY:|runtime error:|^    #[0-9]" "$out/log" | head -25 | sed 's/^/# /'
	if [ -n "$repro" ]; then
		echo "# reproducer: $repro"
		echo "# base64: $(base64 -w0 "$repro" | head -c 2000)"
		echo "# rerun: $B/fuzz_$name $repro"
	fi
done
echo "# $N harnesses, $FAILED failed"
[ "$FAILED" = 0 ]
