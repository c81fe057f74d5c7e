#!/usr/bin/env bash
# THE test command (README, `make test`, .ci/run). As root on Debian 12:
# installs what is missing (scripts/deps.sh), builds (make userspace,
# scripts/build-kmod.sh), and runs every suite:
#
#   unit   cmocka programs: tests/unit (built by tests/unit/Makefile when
#          there is one) -> every executable in build/tests/unit/
#   host   every tests/host/*.sh on this machine
#   kunit  scripts/kunit.sh (when present)
#   vm     every tests/vm/*.sh except lib*.sh and bench-*, on each stock
#          kernel, in one VM boot per kernel (scripts/vm.sh --each; a test
#          that crashes the VM is reported and the rest run in a new boot);
#          the stock kernels' boots run side by side (JAZZ_VM_PARALLEL=0:
#          one after the other). Under CI's budget (below) no stock test
#          starts after 75 minutes (JAZZ_STOCK_START_BY seconds; reported
#          as skipped) and the daemon-centred tests of $ONE_KERNEL_TESTS run
#          on one stock kernel each, half on each, swapped daily.
#          Then on the debug kernel (KASAN, kmemleak, lockdep, UBSAN ...;
#          scripts/build-debug-kernel.sh, built in the background while the
#          other suites run when it is not cached), where tests run 2-3x
#          slower under TCG (the whole suite there takes ~2.5 hours on
#          2 cores): the default run gives it the hostile subset first
#          ($DEBUG_TESTS below, or JAZZ_DEBUG_TESTS), then the rest of the
#          suite. `--kernel debug` runs the whole suite alone.
#
#          Time budget: under CI (CI set and not "false", or
#          JAZZ_BUDGET=ci), which stops a run at 90 minutes, the default
#          run keeps to one: the stock kernels' timings above, the debug
#          subset not started after 65 minutes (JAZZ_DEBUG_START_BY
#          seconds) and no test of the rest after 60
#          (JAZZ_DEBUG_REST_START_BY), in an order that rotates daily;
#          those are reported as skipped, and CI stays under 80. Anywhere
#          else (JAZZ_BUDGET=none) the default run has no budget: every VM
#          test on both stock kernels and the whole suite on the debug
#          kernel (about 4 hours on 2 cores).
#
# Usage: scripts/test.sh [OPTIONS] [SUITE...]       (default: all suites)
#   --kernel K     VM kernel(s) (6.1, 6.12, full version, debug, all = the
#                  stock ones; repeatable; default: all, then debug with
#                  its subset)
#   --no-deps      skip scripts/deps.sh          --no-build  skip building
#   --timeout S    per-test timeout, seconds (default 600)
#   -v, --verbose  print every test's full output, not only TAP and # lines
#   FILTER         a path such as tests/vm/smoke-wireguard.sh runs only that
#                  test (suite taken from its directory)
#
# Every test prints TAP lines (`ok N - ...` / `not ok N - ...`); this script
# counts them per suite, prints a summary with timings, and ends with exactly
# one line `jazz: N passed, M failed`. It exits non-zero when anything failed
# or a suite crashed or timed out (a test that exits non-zero without a
# `not ok` line counts as one failure). Full logs: out/test/ (VM tests:
# out/test/vm-<kver>/results/<test>.{log,dmesg}, console-N.log).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
LOG=$TOP/out/test
KERNELS=()
SUITES=()
FILTERS=()
DEPS=1
BUILD=1
TIMEOUT=600
VERBOSE=0

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNELS+=(--kernel "${2:?--kernel needs a value}"); shift ;;
	--no-deps) DEPS=0 ;;
	--no-build) BUILD=0 ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	-v|--verbose) VERBOSE=1 ;;
	-h|--help) usage; exit 0 ;;
	unit|host|kunit|vm) SUITES+=("$1") ;;
	tests/*) FILTERS+=("$1")
		case "$1" in tests/vm/*) SUITES+=(vm) ;; tests/host/*) SUITES+=(host) ;; tests/unit/*) SUITES+=(unit) ;; esac ;;
	*) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ ${#SUITES[@]} -gt 0 ] || SUITES=(unit host kunit vm)
want_kernel() { local i; for ((i = 1; i < ${#KERNELS[@]}; i += 2)); do [ "${KERNELS[i]}" = "$1" ] && return 0; done; return 1; }
# The debug kernel's part of the default run: the fuzzers, the hostile
# netlink tests (incl. the genetlink deadlock) and the user-namespace
# boundary (docs/TEAM-NOTES.md has the timings).
DEBUG_TESTS=${JAZZ_DEBUG_TESTS:-fuzz-genl.sh fuzz-packet.sh netlink-hostile.sh netlink-limits.sh userns.sh}
DEBUG_SUBSET=0
DEBUG_START_BY=${JAZZ_DEBUG_START_BY:-3900}
# ... and the rest of the suite there: no test of it starts after this (a
# long one, datapath.sh, takes ~10 minutes on the debug kernel).
DEBUG_REST_START_BY=${JAZZ_DEBUG_REST_START_BY:-3600}
# Daemon-centred VM tests (NAT traversal, relay, several servers, metrics,
# the packaged units): their kernel side (STUN in jazz.ko, counters, netlink)
# is covered on both stock kernels by nat-stun, nat-client, netlink* and
# datapath. In the default run each of them runs on ONE stock kernel, half
# on 6.1 and half on 6.12, swapped every day (so that two successive CI runs
# cover both): together they took ~19 minutes per kernel and pushed CI to
# 77 minutes with no time left for the debug kernel. `--kernel all` (or
# naming a kernel) runs every test on every kernel named.
ONE_KERNEL_TESTS=${JAZZ_ONE_KERNEL_TESTS-cluster-e2e.sh metrics-peers.sh nat-cluster.sh nat-punch.sh nat-rebind.sh nat-relay.sh systemd-units.sh}
# CI stops at 90 minutes: no stock-kernel VM test starts after 75 (they are
# reported as skipped; a red run for a slow machine would land nothing).
STOCK_START_BY=${JAZZ_STOCK_START_BY:-4500}
# Both stock kernels' VM suites at once (JAZZ_VM_PARALLEL=0: one by one).
PARALLEL=${JAZZ_VM_PARALLEL:-1}
# CI's 90 minutes: a budget for the default run (see the top of this file).
if [ -n "${JAZZ_BUDGET:-}" ]; then
	BUDGET=$JAZZ_BUDGET
elif [ -n "${CI:-}" ] && [ "$CI" != false ]; then
	BUDGET=ci
else
	BUDGET=none
fi
case "$BUDGET" in ci|none) ;; *) echo "test.sh: JAZZ_BUDGET must be ci or none, not '$BUDGET'" >&2; exit 2 ;; esac
echo "# time budget: $BUDGET$([ "$BUDGET" = ci ] && echo " (CI's 90 minutes; JAZZ_BUDGET=none runs everything)")"
if [ ${#KERNELS[@]} -eq 0 ] && [ ${#FILTERS[@]} -gt 0 ]; then
	KERNELS=(--kernel all)     # one test named: the stock kernels only
elif [ ${#KERNELS[@]} -eq 0 ]; then
	KERNELS=(--kernel all --kernel debug)
	DEBUG_SUBSET=1
fi
[ "$(id -u)" = 0 ] || { echo "test.sh: must run as root (installs packages, creates namespaces, boots VMs)" >&2; exit 2; }

mkdir -p "$LOG"
PASS=0
FAIL=0
SKIPPED=0
SUMMARY=()
T_ALL=$(date +%s)

want() { local s; for s in "${SUITES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
filtered() { # $1 = test path: run it?
	local f
	[ ${#FILTERS[@]} -eq 0 ] && return 0
	for f in "${FILTERS[@]}"; do [ "$f" = "$1" ] && return 0; done
	return 1
}
hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Run one step: its output goes to $LOG/NAME.log and (filtered) to stdout;
# TAP lines are counted. A non-zero exit without a "not ok" line is one
# failure. Usage: step SUITE NAME TIMEOUT CMD...
step_log() { local l=${2//[^A-Za-z0-9._+-]/_}; echo "$LOG/$1-${l%_}.log"; }
step() {
	local suite=$1 name=$2 tmo=$3 log t0
	shift 3
	log=$(step_log "$suite" "$name")
	t0=$(date +%s)
	echo "# ---- $suite: $name"
	if [ "$VERBOSE" = 1 ]; then
		timeout -k 30 "$tmo" "$@" </dev/null 2>&1 | tee "$log"
	else
		timeout -k 30 "$tmo" "$@" </dev/null 2>&1 | tee "$log" | grep --line-buffered -E '^((not )?ok\b|#)'
	fi
	step_count "$suite" "$name" "${PIPESTATUS[0]}" "$log" "$t0" "$tmo"
}

# The same in two halves, for a step that runs beside others (the stock
# kernels' VM suites): step_bg SUITE NAME TIMEOUT CMD... starts it with its
# output to its log only; step_wait SUITE NAME waits for it, then prints
# and counts its output as step does.
declare -A BG_PID BG_T0 BG_TMO
step_bg() {
	local suite=$1 name=$2 tmo=$3
	shift 3
	echo "# ---- $suite: $name (started beside the next step; its output follows when it ends)"
	timeout -k 30 "$tmo" "$@" </dev/null >"$(step_log "$suite" "$name")" 2>&1 &
	BG_PID[$suite/$name]=$!
	BG_T0[$suite/$name]=$(date +%s)
	BG_TMO[$suite/$name]=$tmo
}
step_wait() {
	local suite=$1 name=$2 log rc
	log=$(step_log "$suite" "$name")
	wait "${BG_PID[$suite/$name]}"
	rc=$?
	echo "# ---- $suite: $name (ended after $(hms $(($(date +%s) - BG_T0[$suite/$name]))))"
	if [ "$VERBOSE" = 1 ]; then cat "$log"; else grep -E '^((not )?ok\b|#)' "$log"; fi
	step_count "$suite" "$name" "$rc" "$log" "${BG_T0[$suite/$name]}" "${BG_TMO[$suite/$name]}"
}

# step_count SUITE NAME RC LOG T0 TIMEOUT: count a finished step's TAP lines.
step_count() {
	local suite=$1 name=$2 rc=$3 log=$4 secs=$(($(date +%s) - $5)) tmo=$6 p f s
	p=$(grep -cE '^ok\b' "$log")
	f=$(grep -cE '^not ok\b' "$log")
	s=$(grep -cE '^ok\b.*# *SKIP' "$log")
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "not ok - $suite: $name timed out after ${tmo}s"
		f=$((f + 1))
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $suite: $name exited with status $rc (log: ${log#"$TOP"/})"
		f=$((f + 1))
	fi
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	SKIPPED=$((SKIPPED + s))
	SUMMARY+=("$(printf '%-6s %-44s %4d passed %3d failed %3d skipped  %s' "$suite" "$name" "$p" "$f" "$s" "$(hms "$secs")")")
}

# ----------------------------------------------------------------- deps
if [ "$DEPS" = 1 ]; then
	step setup deps.sh 1800 bash scripts/deps.sh
fi

# ---------------------------------------------------------------- build
# The debug kernel takes long to build: start it now, in the background, and
# wait for it just before the VM suite needs it.
KBUILD_PID=
KBUILD_LOG=$LOG/build-debug-kernel.log
KBUILD_T0=$(date +%s)
if [ "$BUILD" = 1 ] && want vm && want_kernel debug && ! bash scripts/build-debug-kernel.sh --check; then
	echo "# build: the debug kernel is not cached; building it in the background (log: ${KBUILD_LOG#"$TOP"/})"
	bash scripts/build-debug-kernel.sh >"$KBUILD_LOG" 2>&1 &
	KBUILD_PID=$!
fi
if [ "$BUILD" = 1 ]; then
	step build "make userspace" 1200 nice make -j2 userspace
	if want vm; then
		step build build-kmod.sh 1200 bash scripts/build-kmod.sh --allow-missing
	fi
fi

# ----------------------------------------------------------------- unit
if want unit; then
	if [ -f tests/unit/Makefile ]; then
		step unit "build (make -C tests/unit)" 900 nice make -j2 -C tests/unit
	fi
	found=0
	for t in build/tests/unit/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		filtered "tests/unit/$(basename "$t")" || [ ${#FILTERS[@]} -eq 0 ] || continue
		found=1
		CMOCKA_MESSAGE_OUTPUT=TAP step unit "$(basename "$t")" "$TIMEOUT" "$t"
	done
	[ "$found" = 1 ] || echo "# unit: no cmocka programs in build/tests/unit/"
fi

# ----------------------------------------------------------------- host
if want host; then
	for t in tests/host/*.sh; do
		[ -f "$t" ] || continue
		filtered "$t" || continue
		step host "$(basename "$t")" "$TIMEOUT" nice bash "$t"
	done
fi

# ---------------------------------------------------------------- kunit
if want kunit && [ ${#FILTERS[@]} -eq 0 ]; then
	if [ -f scripts/kunit.sh ]; then
		step kunit kunit.sh 3000 nice bash scripts/kunit.sh
	else
		echo "# kunit: scripts/kunit.sh not present yet"
	fi
fi

# ------------------------------------------------------------------- vm
# The rest of the suite on the debug kernel (default run), after the
# subset. Under CI's budget: in an order that rotates daily (so that
# successive runs cover all of it), no test started past
# DEBUG_REST_START_BY (scripts/vm.sh's JAZZ_VM_START_BY; those are reported
# as skipped). Without a budget: all of it, in two boots side by side
# (JAZZ_VM_PARALLEL=0: one), since one would take over two hours.
# debug_vm OUT TEST...: scripts/vm.sh's command for TESTs on the debug
# kernel, into the array DEBUG_VM.
debug_vm() {
	local out=$1
	shift
	DEBUG_VM=(bash scripts/vm.sh $([ "$VERBOSE" = 1 ] || echo -q) --kernel debug
		--out "$LOG/$out" --timeout "$TIMEOUT" --each "$@")
}
debug_rest() {
	local rest=() part1=() part2=() t off n i
	for t in "${vmtests[@]}"; do
		[[ " $DEBUG_TESTS " == *" $(basename "$t") "* ]] || rest+=("$t")
	done
	n=${#rest[@]}
	[ "$n" -gt 0 ] || return 0
	if [ "$BUDGET" = ci ]; then
		off=$((10#$(date +%j) % n))
		rest=("${rest[@]:off}" "${rest[@]:0:off}")
		echo "# debug kernel: the rest of the suite, $n tests from $(basename "${rest[0]}") on (rotates daily); none starts after $(hms "$DEBUG_REST_START_BY")"
		debug_vm vm-debug-rest "${rest[@]}"
		step vm "debug: the rest ($n tests, as time allows)" $(((n + 1) * (TIMEOUT * f + 60))) \
			env JAZZ_VM_START_BY=$((T_ALL + DEBUG_REST_START_BY)) "${DEBUG_VM[@]}"
		return
	fi
	if [ "$PARALLEL" != 1 ] || [ "$n" -lt 2 ]; then
		debug_vm vm-debug-rest "${rest[@]}"
		step vm "debug: the rest ($n tests)" $(((n + 1) * (TIMEOUT * f + 60))) "${DEBUG_VM[@]}"
		return
	fi
	for ((i = 0; i < n; i++)); do
		if ((i % 2)); then part1+=("${rest[i]}"); else part2+=("${rest[i]}"); fi
	done
	debug_vm vm-debug-rest1 "${part1[@]}"
	step_bg vm "debug: the rest, part 1 (${#part1[@]} tests)" $(((${#part1[@]} + 1) * (TIMEOUT * f + 60))) "${DEBUG_VM[@]}"
	debug_vm vm-debug-rest2 "${part2[@]}"
	step vm "debug: the rest, part 2 (${#part2[@]} tests)" $(((${#part2[@]} + 1) * (TIMEOUT * f + 60))) "${DEBUG_VM[@]}"
	step_wait vm "debug: the rest, part 1 (${#part1[@]} tests)"
}

# one_kernel_share KVER KVERS: the VM tests KVER runs in the default run,
# one a line, in the suite's order: all but $ONE_KERNEL_TESTS, and of those
# the ones whose turn it is today (the i-th goes to stock kernel (i + day) % n).
one_kernel_share() {
	local kver=$1 kvers=$2 t i=0 mine n day
	n=$(wc -l <<<"$kvers")
	mine=$(grep -nxF "$kver" <<<"$kvers" | cut -d: -f1)
	day=$((10#$(date +%j)))
	for t in "${vmtests[@]}"; do
		if [[ " $ONE_KERNEL_TESTS " != *" $(basename "$t") "* ]]; then
			echo "$t"
			continue
		fi
		[ $(((i + day) % n + 1)) = "$mine" ] && echo "$t"
		i=$((i + 1))
	done
}

if want vm; then
	bgsteps=()
	vmtests=()
	for t in tests/vm/*.sh; do
		case "$(basename "$t")" in lib.sh|lib-*|bench-*) continue ;; esac
		filtered "$t" || continue
		vmtests+=("$t")
	done
	if [ ${#vmtests[@]} -gt 0 ]; then
		for ((i = 0; i < ${#KERNELS[@]}; i += 2)); do
			k=${KERNELS[i + 1]}
			if [ "$k" = all ]; then
				ks=$(for v in /boot/vmlinuz-*-amd64; do [ -f "$v" ] && echo "${v#/boot/vmlinuz-}"; done | sort -V)
				# Both stock kernels, or a loud failure naming the one missing.
				for kw in 6.1 6.12; do
					grep -Eq "^$kw[.-]" <<<"$ks" || {
						echo "not ok - vm: no $kw kernel in /boot (linux-image-$kw*-amd64; scripts/deps.sh installs it): the VM tests cannot run on both kernels"
						FAIL=$((FAIL + 1))
					}
				done
			else
				ks=$k
			fi
			for kk in $ks; do
				# CI stops a run at 90 minutes: the default run's debug
				# pass (~10 min) is not started past DEBUG_START_BY, it
				# is reported as skipped instead of failing everything.
				el=$(($(date +%s) - T_ALL))
				if [ "$kk" = debug ] && [ "$DEBUG_SUBSET" = 1 ] && [ "$BUDGET" = ci ] && [ "$el" -gt "$DEBUG_START_BY" ]; then
					echo "ok - vm: debug kernel # SKIP not started after $(hms "$el") (past $(hms "$DEBUG_START_BY"); CI's limit): run bash scripts/test.sh vm --kernel debug"
					SKIPPED=$((SKIPPED + 1))
					SUMMARY+=("$(printf '%-6s %-44s %s' vm debug "skipped: $(hms "$el") elapsed")")
					continue
				fi
				if [ "$kk" = debug ] && [ "$BUILD" = 1 ]; then
					if [ -n "$KBUILD_PID" ]; then
						echo "# ---- build: waiting for the debug kernel build"
						wait "$KBUILD_PID"
						krc=$?
						echo "# build: debug kernel build ended (exit $krc) after $(hms $(($(date +%s) - KBUILD_T0)))"
						grep -E '^build-debug-kernel.sh:' "$KBUILD_LOG"
						SUMMARY+=("$(printf '%-6s %-44s %4s %18s  %s' build build-debug-kernel.sh "" "exit $krc" "$(hms $(($(date +%s) - KBUILD_T0)))")")
						[ "$krc" = 0 ] || { echo "not ok - build: the debug kernel (log: ${KBUILD_LOG#"$TOP"/})"; FAIL=$((FAIL + 1)); tail -n 20 "$KBUILD_LOG" | sed 's/^/#   /'; continue; }
						KBUILD_PID=
					fi
					step build "build-kmod.sh debug" 1200 bash scripts/build-kmod.sh debug
				fi
				# Own output directory: developers' manual vm.sh runs use out/vm-<kver>.
				f=1
				ktests=("${vmtests[@]}")
				if [ "$kk" != debug ] && [ "$DEBUG_SUBSET" = 1 ] && [ "$BUDGET" = ci ] && [ "$k" = all ]; then
					mapfile -t ktests < <(one_kernel_share "$kk" "$ks")
				fi
				if [ "$kk" = debug ]; then
					f=${JAZZ_DEBUG_TIMEOUT_FACTOR:-3}
					if [ "$DEBUG_SUBSET" = 1 ]; then
						ktests=()
						for t in "${vmtests[@]}"; do
							[[ " $DEBUG_TESTS " == *" $(basename "$t") "* ]] && ktests+=("$t")
						done
						[ ${#ktests[@]} -gt 0 ] || continue
					fi
				fi
				vmcmd=(bash scripts/vm.sh $([ "$VERBOSE" = 1 ] || echo -q) --kernel "$kk"
					--out "$LOG/vm-$kk" --timeout "$TIMEOUT" --each "${ktests[@]}")
				vmtmo=$(((${#ktests[@]} + 1) * (TIMEOUT * f + 60)))
				if [ "$kk" != debug ] && [ "$BUDGET" = ci ]; then
					vmcmd=(env JAZZ_VM_START_BY=$((T_ALL + STOCK_START_BY)) "${vmcmd[@]}")
				fi
				# The stock kernels' suites run side by side (each VM
				# waits in its tests often enough that two share the
				# 2 cores well): every one but the last in the background.
				if [ "$k" = all ] && [ "$PARALLEL" = 1 ] && [ "$kk" != "$(tail -n1 <<<"$ks")" ]; then
					step_bg vm "$kk (${#ktests[@]} tests)" "$vmtmo" "${vmcmd[@]}"
					bgsteps+=("$kk (${#ktests[@]} tests)")
					continue
				fi
				step vm "$kk (${#ktests[@]} tests)" "$vmtmo" "${vmcmd[@]}"
				if [ "$kk" = debug ] && [ "$DEBUG_SUBSET" = 1 ]; then
					debug_rest
				fi
			done
			for b in "${bgsteps[@]}"; do step_wait vm "$b"; done
			bgsteps=()
		done
	else
		echo "# vm: no tests selected"
	fi
fi

echo "#"
echo "# summary (logs in ${LOG#"$TOP"/}/):"
for l in "${SUMMARY[@]}"; do echo "#   $l"; done
echo "# total time $(hms $(($(date +%s) - T_ALL))), $SKIPPED skipped"
echo "jazz: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
