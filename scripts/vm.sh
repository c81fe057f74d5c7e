#!/usr/bin/env bash
# Boot a stock Debian kernel in QEMU (TCG, no KVM) with the host's / as the
# guest's read-only root, and run test scripts inside it.
#
#   scripts/vm.sh [OPTIONS] -- COMMAND [ARGS...]     one command, one boot
#   scripts/vm.sh [OPTIONS] --each SCRIPT...         several tests, one boot
#
# Options:
#   --kernel K     6.1, 6.12, a full version, "debug", or "all" (default: all
#                  kernels with an image in /boot and modules in /lib/modules)
#                  "debug" is the debug kernel (KASAN, kmemleak, lockdep,
#                  UBSAN ...; scripts/build-debug-kernel.sh, built first if
#                  not cached - long): booted with panic_on_warn=1, tests get
#                  JAZZ_DEBUG_TIMEOUT_FACTOR (default 3) times the timeout,
#                  and after each test a kmemleak scan runs; any report fails it
#   --timeout S    per-test timeout inside the guest, seconds (default 900)
#   --out DIR      output directory (default out/vm-<kver>; must be below the
#                  checkout); results are written by the guest over virtio-9p
#   --mem MB       guest memory (default 1536)   --smp N  vCPUs (default 2)
#   --keep         do not clear the output directory first
#   -q, --quiet    do not print the tests' output, only TAP and # lines
#
# The host has 2 cores shared by everyone: at most JAZZ_VM_SLOTS (default 3)
# VMs run at once machine-wide (flock on /run/lock/jazz-vm-slot.N); a vm.sh
# that finds them all busy waits for a slot (its time limit starts at boot).
# JAZZ_VM_EXCLUSIVE=1 waits until it can hold every slot (scripts/bench.sh:
# measurements on a machine crowded with other VMs mean little).
#
# Each test's output goes to OUT/results/ID.log and its kernel log delta to
# OUT/results/ID.dmesg; the console is in OUT/console-N.log. The tests'
# output is printed on the host as each test finishes. For every test a TAP
# line "ok - [kver] ID: kernel log clean" (or "not ok ... WARNING: ...") is
# added; a test that exits non-zero without printing a "not ok" line, times
# out or crashes the VM gets a "not ok" line. If the VM dies, the remaining
# tests run in a fresh boot. Exit status: 0 when every test passed on every
# kernel and no kernel log finding was made, 1 otherwise, 2 on usage error.
#
# JAZZ_VM_START_BY (seconds since the epoch): no test starts after that time;
# those not started are reported "ok - [kver] ID # SKIP not started ..." (a
# caller's time budget, scripts/test.sh's debug pass).
#
# jazz.ko: when scripts/build-kmod.sh has built build/kmod-<kver>/jazz.ko
# and its index build/vm/modroot-<kver>/, `modprobe jazz` works in the
# guest (the index is mounted over /lib/modules/<kver>).
# Inside the guest: JAZZ_TOP (checkout), JAZZ_OUT (writable output
# directory), JAZZ_KVER, JAZZ_VM=1; cwd is the checkout.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TIMEOUT=900
MEM=1536
SMP=2
SLOTS=${JAZZ_VM_SLOTS:-3}
OUTOPT=
KEEP=0
QUIET=0
KERNELS=()
MODE=
TESTS=()

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "vm.sh: $*" >&2; exit 2; }

all_kernels() {
	local v k
	for v in /boot/vmlinuz-*-amd64; do
		[ -f "$v" ] || continue
		k=${v#/boot/vmlinuz-}
		[ -d "/lib/modules/$k/kernel" ] && echo "$k"
	done | sort -V
}

resolve_kernel() {
	local want=$1 k
	[ "$want" = debug ] && { echo debug; return 0; }
	[ -f "/boot/vmlinuz-$want" ] && { echo "$want"; return 0; }
	for k in $(all_kernels); do
		case "$k" in "$want".*|"$want"-*|"$want"+*) echo "$k"; return 0 ;; esac
	done
	echo "vm.sh: no kernel matching '$want' in /boot (installed: $(all_kernels | tr '\n' ' ')); run scripts/deps.sh" >&2
	return 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) [ $# -ge 2 ] || die "--kernel needs a value"
		if [ "$2" = all ]; then KERNELS+=($(all_kernels)); else KERNELS+=("$(resolve_kernel "$2")") || exit 2; fi
		shift ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	--out) OUTOPT=${2:?}; shift ;;
	--mem) MEM=${2:?}; shift ;;
	--smp) SMP=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	-q|--quiet) QUIET=1 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; MODE=cmd; TESTS=("$@"); break ;;
	--each) shift; MODE=each; TESTS=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
[ -n "$MODE" ] && [ ${#TESTS[@]} -gt 0 ] || { usage >&2; exit 2; }
[ ${#KERNELS[@]} -gt 0 ] || KERNELS=($(all_kernels))
[ ${#KERNELS[@]} -gt 0 ] || die "no kernel images in /boot; run scripts/deps.sh"
[ ${#KERNELS[@]} -eq 1 ] || [ -z "$OUTOPT" ] || die "--out needs a single --kernel"
[ "$(id -u)" = 0 ] || die "must run as root (9p export of /)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing; run scripts/deps.sh"
[ -x /bin/busybox ] || die "busybox-static missing; run scripts/deps.sh"

# ------------------------------------------------------------ initramfs
# build/vm/initramfs-<kver>.cpio.gz: busybox, /init (scripts/vm-init), and
# the modules needed to mount 9p, decompressed (busybox insmod does not read
# .ko.xz), listed in load order. Rebuilt when an input changes.
# Two runs of one kernel (a host test's VM beside the VM suite) may both
# find it stale: one builds while the other waits on the lock.
build_initramfs() {
	local img=$TOP/build/vm/initramfs-$1.cpio.gz lock rc
	mkdir -p "$TOP/build/vm" || return 1
	exec {lock}>"$img.lock"
	flock "$lock"
	build_initramfs_locked "$@"
	rc=$?
	exec {lock}>&-
	return "$rc"
}
build_initramfs_locked() {
	local kver=$1 moddir=${2:-/lib/modules/$1} img=$TOP/build/vm/initramfs-$1.cpio.gz dir m f
	local want="virtio_pci 9pnet_virtio 9p"
	if [ -f "$img" ] && [ "$img" -nt "$TOP/scripts/vm-init" ] && [ "$img" -nt /bin/busybox ] &&
		[ "$img" -nt "$moddir/modules.dep" ]; then
		echo "$img"
		return 0
	fi
	dir=$TOP/build/vm/initramfs-$kver.d
	rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/modules" || return 1
	cp /bin/busybox "$dir/bin/busybox"
	cp "$TOP/scripts/vm-init" "$dir/init"
	chmod 0755 "$dir/init"
	: >"$dir/modules.list"
	for m in $(/usr/bin/python3 - "$moddir" $want <<'PY'
import sys
moddir, want = sys.argv[1], sys.argv[2:]
deps = {}
for line in open(f"{moddir}/modules.dep"):
    mod, _, rest = line.partition(":")
    deps[mod] = rest.split()
def name(p):
    b = p.rsplit("/", 1)[-1]
    return b.split(".ko")[0].replace("-", "_")
byname = {name(p): p for p in deps}
order = []
def visit(p):
    if p in order:
        return
    # modules.dep lists a module's dependencies deepest last
    for d in reversed(deps[p]):
        visit(d)
    order.append(p)
for w in want:
    if w in byname:
        visit(byname[w])
    # else: built into this kernel
print("\n".join(order))
PY
	); do
		f=$moddir/$m
		case "$m" in
		*.ko.xz) xz -dc "$f" >"$dir/modules/$(basename "${m%.xz}")" ;;
		*.ko.zst) zstd -qdc "$f" >"$dir/modules/$(basename "${m%.zst}")" ;;
		*.ko.gz) gzip -dc "$f" >"$dir/modules/$(basename "${m%.gz}")" ;;
		*) cp "$f" "$dir/modules/" ;;
		esac || return 1
		basename "${m%.ko*}.ko" >>"$dir/modules.list"
	done
	(cd "$dir" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$img.tmp" || return 1
	mv "$img.tmp" "$img"
	rm -rf "$dir"
	echo "$img"
}

# Kernel log findings that fail a run (same list as scripts/vm-init).
BAD='(WARNING:|BUG:|BUG |Oops|general protection fault|kernel BUG|Call Trace:|lockdep|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|refcount_t|KASAN|kmemleak|UBSAN|list_add corruption|list_del corruption|stack-protector|sleeping function called from invalid context|scheduling while atomic|unreferenced object|Kernel panic|hung_task|blocked for more than|soft lockup|hard LOCKUP|rcu_sched self-detected|RCU stall)'

# Lines of a debug kernel's boot that name a checker without reporting
# anything ("RCU lockdep checking is enabled.", "kmemleak: Kernel memory
# leak detector initialized"); same list as scripts/vm-init.
BENIGN='(RCU lockdep checking is enabled|kmemleak: Kernel memory leak detector initialized|kmemleak: Automatic memory scanning thread|Lock dependency validator: Copyright|lockdep: Copyright)'

tap() { echo "$*"; }

# QEMU's TCG now and then runs a stale translation of kernel text that the
# kernel has just re-patched (a static key flipped through int3): the guest
# dies of "Oops: int3" at a patch site although the bytes there are already
# the new ones. That is the emulator, not the code under test, unless the
# trap is in jazz itself. Seen once in 25 CI runs (6.12, in
# kmem_cache_alloc while systemd created memory cgroups).
emulator_int3() { # $1 = console log
	grep -q 'Oops: int3' "$1" &&
		! grep -A 6 'Oops: int3' "$1" | grep -q 'RIP:.*\[jazz\]'
}

# Print a finished test's result (once).
report_test() {
	local kver=$1 id=$2 out=$3 r=$3/results/$2 rc secs
	[ -e "$r.reported" ] && return 0
	# vm-init renames $r.rc into place whole: never seen empty here.
	rc=$(cat "$r.rc" 2>/dev/null || echo crash)
	if [ "$rc" = skip ]; then
		tap "ok - [$kver] $id # SKIP not started: past the caller's time budget (JAZZ_VM_START_BY)"
		touch "$r.reported"
		return 0
	fi
	secs=$(cat "$r.secs" 2>/dev/null || echo "?")
	echo "# ---- [$kver] $id (exit $rc, ${secs}s) ----"
	if [ -f "$r.log" ]; then
		if [ "$QUIET" = 1 ]; then
			grep -E '^((not )?ok\b|# )' "$r.log"
		else
			cat "$r.log"
		fi
	fi
	if [ "$rc" = crash ]; then
		tap "not ok - [$kver] $id: the VM crashed or hung during this test (see ${CONSOLE#"$TOP"/})"
		# The kernel's report: from its first finding on.
		grep -Ev "$BENIGN" "$CONSOLE" |
			awk -v bad="$BAD" 'n == 0 && $0 ~ bad { n = 1 } n > 0 && n <= 60 { print; n++ }' | sed 's/^/#   /'
		FAILED=1
	elif [ -e "$r.timeout" ]; then
		tap "not ok - [$kver] $id: timed out after ${RUN_TIMEOUT}s"
		FAILED=1
	elif [ "$rc" != 0 ]; then
		FAILED=1
		grep -Eq '^not ok\b' "$r.log" 2>/dev/null ||
			tap "not ok - [$kver] $id: exited with status $rc"
	fi
	if [ -s "$r.kbad" ]; then
		tap "not ok - [$kver] $id: kernel log clean: $(head -n 1 "$r.kbad" | sed 's/^\[ *[0-9.]*\] //' | cut -c1-120) (see ${r#"$TOP"/}.dmesg, .kmemleak)"
		sed 's/^/#   /' "$r.kbad"
		FAILED=1
	elif [ "$rc" != crash ]; then
		tap "ok - [$kver] $id: kernel log clean"
	fi
	touch "$r.reported"
}

# Take a VM slot (or all of them with JAZZ_VM_EXCLUSIVE=1); the lock fds are
# inherited by QEMU, so a slot stays taken while the VM runs.
SLOT_FDS=()
take_slot() {
	local i fd waited=0 want=1 got
	mkdir -p /run/lock
	if [ "${JAZZ_VM_EXCLUSIVE:-0}" = 1 ]; then
		# Hold each slot as it frees up, in order (no starvation; two
		# exclusive runs cannot deadlock since both go in the same order).
		for ((i = 1; i <= SLOTS; i++)); do
			exec {fd}>"/run/lock/jazz-vm-slot.$i"
			if ! flock -n "$fd"; then
				[ "$waited" = 1 ] || echo "# waiting for every VM slot (exclusive run; other VMs must finish)" >&2
				waited=1
				flock "$fd"
			fi
			SLOT_FDS+=("$fd")
		done
		return 0
	fi
	while :; do
		got=0
		for ((i = 1; i <= SLOTS && got < want; i++)); do
			exec {fd}>"/run/lock/jazz-vm-slot.$i"
			if flock -n "$fd"; then
				SLOT_FDS+=("$fd")
				got=$((got + 1))
			else
				exec {fd}>&-
			fi
		done
		[ "$got" -ge "$want" ] && return 0
		release_slots
		if [ "$waited" = 0 ]; then
			echo "# waiting for a free VM slot ($SLOTS VMs already running on this machine; JAZZ_VM_SLOTS)" >&2
			waited=1
		fi
		sleep 3
	done
}
release_slots() {
	local fd
	for fd in "${SLOT_FDS[@]}"; do exec {fd}>&-; done
	SLOT_FDS=()
}

past_start_by() { [ -n "${JAZZ_VM_START_BY:-}" ] && [ "$(date +%s)" -ge "$JAZZ_VM_START_BY" ]; }

run_kernel() {
	local kver=$1 out initrd boot=0 qpid t_start deadline id tmo cmd pending n now
	local kimg=/boot/vmlinuz-$1 moddir= append= mem=$MEM kdir
	RUN_TIMEOUT=$TIMEOUT
	if [ "$kver" = debug ]; then
		kdir=$(bash "$TOP/scripts/build-debug-kernel.sh" --dir)
		if [ ! -f "$kdir/done" ]; then
			echo "# the debug kernel is not built yet: building it now (scripts/build-debug-kernel.sh; long)"
			bash "$TOP/scripts/build-debug-kernel.sh" || die "cannot build the debug kernel"
		fi
		kver=$(cat "$kdir/kernelrelease")
		kimg=$kdir/bzImage
		moddir=$kdir/mods/lib/modules/$kver
		append="panic_on_warn=1 jazz.moddir=$moddir"
		# KASAN's shadow and kmemleak's metadata need room.
		[ "$mem" -ge 2048 ] || mem=2048
		RUN_TIMEOUT=$((TIMEOUT * ${JAZZ_DEBUG_TIMEOUT_FACTOR:-3}))
	fi
	out=${OUTOPT:-$TOP/out/vm-$kver}
	mkdir -p "$out" && out=$(cd "$out" && pwd)
	case "$out/" in "$TOP"/*) ;; *) die "--out must be inside $TOP" ;; esac
	# Several developers share this machine: one VM per output directory.
	exec {LOCKFD}>"$out/.lock"
	if ! flock -n "$LOCKFD"; then
		echo "# [$kver] ${out#"$TOP"/} is in use by another vm.sh; waiting" >&2
		flock "$LOCKFD"
	fi
	[ "$KEEP" = 1 ] || rm -rf "$out/results" "$out"/console-*.log "$out/plan" "$out/finished" "$out/booted" "$out/boot-dmesg.txt"
	rm -f "$out/stop-starting"
	mkdir -p "$out/results"
	initrd=$(build_initramfs "$kver" $moddir) || die "cannot build the initramfs for $kver"

	# The plan: one test per line, "ID<TAB>TIMEOUT<TAB>COMMAND".
	: >"$out/plan"
	if [ "$MODE" = cmd ]; then
		printf '%s\t%s\t%s\n' "$(basename "${TESTS[0]}")" "$RUN_TIMEOUT" "$(printf '%q ' "${TESTS[@]}")" >>"$out/plan"
	else
		for t in "${TESTS[@]}"; do
			[ -f "$TOP/$t" ] || [ -f "$t" ] || die "no such test: $t"
			t=$(realpath --relative-to="$TOP" "$t")
			printf '%s\t%s\t%s\n' "$(basename "$t")" "$RUN_TIMEOUT" "$(printf '%q' "$t")" >>"$out/plan"
		done
	fi
	if [ -f "$TOP/build/vm/modroot-$kver/extra/jazz.ko" ]; then
		echo "# [$kver] jazz.ko: build/vm/modroot-$kver/extra/jazz.ko (modprobe jazz works in the guest)"
	else
		echo "# [$kver] jazz.ko not built (scripts/build-kmod.sh); tests that need it will fail or skip"
	fi

	n=$(wc -l <"$out/plan")
	while :; do
		pending=0
		while IFS=$'\t' read -r id tmo cmd; do
			[ -e "$out/results/$id.rc" ] || [ -e "$out/results/$id.started" ] || pending=$((pending + 1))
		done <"$out/plan"
		[ "$pending" -gt 0 ] || break
		if past_start_by; then
			# Out of time before this boot: report the rest as skipped.
			while IFS=$'\t' read -r id tmo cmd; do
				[ -e "$out/results/$id.rc" ] || [ -e "$out/results/$id.started" ] ||
					echo skip >"$out/results/$id.rc"
				report_test "$kver" "$id" "$out"
			done <"$out/plan"
			break
		fi
		boot=$((boot + 1))
		take_slot
		CONSOLE=$out/console-$boot.log
		rm -f "$out/finished" "$out/booted"
		t_start=$(date +%s)
		# Whole-VM limit: every pending test's timeout, plus boot and slack.
		deadline=$((t_start + pending * (RUN_TIMEOUT + 30) + 180))
		echo "# [$kver] boot $boot: $pending of $n test(s) to run"
		# no_timer_check: the kernel's early IO-APIC timer check counts
		# ticks in a busy-wait; an emulated CPU on a loaded host misses
		# them and the boot panics ("IO-APIC + timer doesn't work!",
		# seen in a vm-harness.sh rerun at load 7). Cloud images boot
		# VMs with it for the same reason.
		qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max \
			-smp "$SMP" -m "$mem" -no-reboot -nodefaults -display none \
			-kernel "$kimg" -initrd "$initrd" \
			-append "console=ttyS0 loglevel=5 oops=panic panic=-1 rdinit=/init random.trust_cpu=on no_timer_check jazz.out=$out jazz.top=$TOP $append" \
			-serial "file:$CONSOLE" -monitor none -nic none \
			-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap" \
			-device virtio-9p-pci,fsdev=root,mount_tag=root \
			-fsdev "local,id=out,path=$out,security_model=none,multidevs=remap" \
			-device virtio-9p-pci,fsdev=out,mount_tag=out \
			-device virtio-rng-pci &
		qpid=$!
		QPID=$qpid
		# Print results as tests finish; enforce the deadline.
		while kill -0 "$qpid" 2>/dev/null; do
			for r in "$out"/results/*.rc; do
				[ -e "$r" ] || continue
				id=$(basename "$r" .rc)
				report_test "$kver" "$id" "$out"
			done
			now=$(date +%s)
			# The guest starts no further test once this file exists.
			past_start_by && [ ! -e "$out/stop-starting" ] && touch "$out/stop-starting"
			if [ -f "$out/booted" ] && [ ! -f "$out/booted.shown" ]; then
				echo "# [$kver] booted in $((now - t_start))s (guest uptime $(cat "$out/booted")s)"
				touch "$out/booted.shown"
			fi
			if [ "$now" -gt "$deadline" ]; then
				echo "# [$kver] VM exceeded its time limit; killing it" >&2
				kill "$qpid" 2>/dev/null
				sleep 2
				kill -9 "$qpid" 2>/dev/null
				break
			fi
			sleep 1
		done
		wait "$qpid" 2>/dev/null
		release_slots
		rm -f "$out/booted.shown"
		for r in "$out"/results/*.rc; do
			[ -e "$r" ] && report_test "$kver" "$(basename "$r" .rc)" "$out"
		done
		# A test that started but has no exit code crashed or hung the VM.
		for r in "$out"/results/*.started; do
			[ -e "$r" ] || continue
			id=$(basename "$r" .started)
			[ -e "$out/results/$id.rc" ] && continue
			if emulator_int3 "$CONSOLE" && [ ! -e "$out/results/$id.retried" ]; then
				echo "# [$kver] $id: the VM died of an int3 in re-patched kernel text (a QEMU TCG fault, not jazz; see ${CONSOLE#"$TOP"/}); running it once more"
				grep -A 6 'Oops: int3' "$CONSOLE" | sed 's/^/#   /'
				touch "$out/results/$id.retried"
				rm -f "$out/results/$id".{started,log,dmesg,kbad,kmemleak,secs,timeout}
				continue
			fi
			echo crash >"$out/results/$id.rc"
			report_test "$kver" "$id" "$out"
		done
		if [ ! -f "$out/booted" ]; then
			echo "not ok - [$kver] VM boot failed (see ${CONSOLE#"$TOP"/})"
			tail -n 20 "$CONSOLE" | sed 's/^/#   /'
			FAILED=1
			break
		fi
		echo "# [$kver] boot $boot: VM ran $(($(date +%s) - t_start))s"
	done
	exec {LOCKFD}>&-
	# Kernel findings outside any test's window (boot, shutdown).
	if [ -s "$out/boot-kmemleak.txt" ]; then
		echo "# [$kver] kmemleak at boot (before any test; not counted): $(grep -c '^unreferenced object' "$out/boot-kmemleak.txt") object(s), see ${out#"$TOP"/}/boot-kmemleak.txt"
	fi
	if grep -Ev "$BENIGN" "$out/boot-dmesg.txt" 2>/dev/null | grep -Eq "$BAD"; then
		echo "not ok - [$kver] boot: kernel log clean"
		grep -Ev "$BENIGN" "$out/boot-dmesg.txt" | grep -E "$BAD" | head -n 5 | sed 's/^/#   /'
		FAILED=1
	fi
}

# Interrupted (Ctrl-C, a caller's timeout): take the VM down with us.
QPID=
trap '[ -z "$QPID" ] || kill "$QPID" 2>/dev/null; exit 130' INT TERM HUP

FAILED=0
for k in "${KERNELS[@]}"; do
	run_kernel "$k"
done
exit "$FAILED"
