#!/usr/bin/env bash
# The VM harness judges the kernel log, not only the test's exit status
# (issue 14): scripts/vm.sh runs four guest scripts (tests/host/vm-harness/)
# on a stock kernel and this checks its verdicts.
# - clean.sh passes with a clean log: "ok ... kernel log clean".
# - warn.sh passes its own checks but leaves a WARNING in the kernel log:
#   the run fails with "not ok ... kernel log clean: WARNING: ...".
# - int3.sh crashes the guest after an "Oops: int3" outside jazz (what
#   QEMU TCG's stale-text fault looks like): vm.sh runs it once more, then
#   reports the crash.
# - int3-jazz.sh crashes after an int3 in jazz: reported at once, no rerun.
# A time budget (JAZZ_VM_START_BY): a second run whose first test spends it
# (budget-spent.sh) skips the next one, reported as skipped, not failed;
# and a run whose budget is spent before the boot boots nothing.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/lib/tap.sh"

K=${JAZZ_HARNESS_KERNEL:-6.12}
out=$TOP/out/vm-harness
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bash "$TOP/scripts/vm.sh" -q --kernel "$K" --out "$out" --timeout 60 --each \
	tests/host/vm-harness/clean.sh tests/host/vm-harness/warn.sh \
	tests/host/vm-harness/int3.sh tests/host/vm-harness/int3-jazz.sh >"$log" 2>&1
rc=$?
sed 's/^/#   /' "$log"

check "vm.sh fails the run (exit $rc)" [ "$rc" -ne 0 ]
check "a clean test passes" grep -Eq '^ok - \[[^]]*\] clean\.sh: kernel log clean$' "$log"
check "a WARNING in the kernel log fails a test that passed" \
	grep -Eq '^not ok - \[[^]]*\] warn\.sh: kernel log clean: WARNING: CPU: 0 PID: [0-9]+ at vm-harness self-test' "$log"
check "the WARNING's report is shown" grep -q '^#   .*WARNING: CPU: 0 PID: [0-9]* at vm-harness self-test' "$log"
check "an int3 outside jazz is rerun once" \
	[ "$(grep -c 'int3\.sh: the VM died of an int3 in re-patched kernel text' "$log")" = 1 ]
check "the rerun's crash is reported" grep -Eq '^not ok - \[[^]]*\] int3\.sh: the VM crashed or hung during this test' "$log"
check "an int3 in jazz is not rerun" bash -c "! grep -q 'int3-jazz\.sh: the VM died of an int3' '$log'"
check "an int3 in jazz is reported as a crash" \
	grep -Eq '^not ok - \[[^]]*\] int3-jazz\.sh: the VM crashed or hung during this test' "$log"
check "the crash report shows the oops" grep -q '^#   .*Oops: int3' "$log"
check "no test is reported with an empty exit status (the guest renames its .rc into place)" \
	bash -c "! grep -Eq 'exited with status \$' '$log'"

JAZZ_VM_START_BY=$(($(date +%s) + 3600)) bash "$TOP/scripts/vm.sh" -q --kernel "$K" \
	--out "$out-budget" --timeout 60 --each tests/host/vm-harness/budget-spent.sh \
	tests/host/vm-harness/clean.sh >"$log" 2>&1
rc=$?
sed 's/^/#   /' "$log"
check "a run whose budget ends mid-way passes (exit $rc)" [ "$rc" = 0 ]
check "the test that ran passed" grep -Eq '^ok - \[[^]]*\] budget-spent\.sh: kernel log clean$' "$log"
check "the test after the budget's end did not start, reported as skipped" \
	grep -Eq '^ok - \[[^]]*\] clean\.sh # SKIP not started: past the caller' "$log"
check "... and never ran" test ! -e "$out-budget/results/clean.sh.started"
JAZZ_VM_START_BY=$(($(date +%s) - 1)) bash "$TOP/scripts/vm.sh" -q --kernel "$K" \
	--out "$out-budget" --timeout 60 --each tests/host/vm-harness/clean.sh >"$log" 2>&1
rc=$?
sed 's/^/#   /' "$log"
check "a run out of time before its boot skips every test (exit $rc)" bash -c "
	[ $rc = 0 ] && grep -Eq '^ok - \[[^]]*\] clean\.sh # SKIP' '$log' && ! grep -q 'boot 1' '$log'"
tap_done
