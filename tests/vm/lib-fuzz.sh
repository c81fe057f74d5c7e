# SPDX-License-Identifier: GPL-2.0
# Shared by tests/vm/fuzz-*.sh (sourced after lib.sh; scripts/test.sh does
# not run lib-*.sh as tests).
#
#   FUZZ_SECONDS   run time of each fuzzer run (default 60 on the debug kernel, 20 else)
#   FUZZ_SEED      seed (default: random; printed, and a failure prints the
#                  command that replays it)
#
#   fuzz_seed                      the seed to use (FUZZ_SEED or random)
#   fuzz_log NAME                  a log file for a fuzzer's step-by-step trace:
#                                  in $JAZZ_OUT/fuzz/ (survives a VM crash) or $T
#   fuzz_tap PREFIX CMD...         run a fuzzer; its PASS/FAIL lines become TAP
#                                  lines, its # lines are shown; a fuzzer that
#                                  dies without a verdict is not ok
#   fuzz_leak_check                no jazz device left, conn objects all freed,
#                                  then unload: "objects left: devices 0 peers 0 keys 0"
# Default: 60 s per run on the debug kernel, 20 s on the stock ones (the
# whole suite runs on those too).
case "${JAZZ_KVER:-$(uname -r)}" in
*jazzdebug*) FUZZ_SECONDS=${FUZZ_SECONDS:-60} ;;
*) FUZZ_SECONDS=${FUZZ_SECONDS:-20} ;;
esac
FUZZDIR=$JAZZ_TOP/tests/fuzz-kernel

fuzz_seed() { echo "${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"; }

fuzz_log() {
	local d=${JAZZ_OUT:+$JAZZ_OUT/fuzz}
	d=${d:-$T}
	mkdir -p "$d"
	: >"$d/$1"
	chmod 0666 "$d/$1"
	echo "$d/$1"
}

fuzz_tap() {
	local prefix=$1 line verdicts=0 rc
	shift
	while IFS= read -r line; do
		case "$line" in
		PASS\ *) ok "$prefix: ${line#PASS }"; verdicts=$((verdicts + 1)) ;;
		FAIL\ *) not_ok "$prefix: ${line#FAIL }"; verdicts=$((verdicts + 1)) ;;
		\#*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <("$@" 2>&1; echo "# exit status $?")
	[ "$verdicts" -gt 0 ] || not_ok "$prefix: the fuzzer ran to a verdict" "it printed no PASS/FAIL line"
}

fuzz_leak_check() {
	local left objs
	left=$(ip -o link show type jazz 2>/dev/null | wc -l)
	check_eq "no jazz device left in the initial netns" "$left" 0
	objs=$(cat /sys/module/jazz/parameters/conn_objects 2>/dev/null)
	check_eq "connection objects all freed (conn_objects)" "$objs" "tables 0 conns 0 held 0"
	dmesg_mark
	check "jazz unloads" modprobe -r jazz
	check "unload reports every object freed (devices 0 peers 0 keys 0)" \
		bash -c "dmesg | tail -n 50 | grep -q 'unloaded, objects left: devices 0 peers 0 keys 0'"
}
