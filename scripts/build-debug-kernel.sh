#!/usr/bin/env bash
# Build the debug kernel for the VM tests (KASAN, kmemleak, lockdep, PROVE_RCU,
# UBSAN, debug objects ...), once, from Debian's linux-source-6.12, like
# WireGuard's own qemu harness does.
#
#   scripts/build-debug-kernel.sh            build if not cached; print nothing else
#   scripts/build-debug-kernel.sh --dir      print the cache directory (built or not)
#   scripts/build-debug-kernel.sh --check    exit 0 if it is built, 1 if not
#
# Config: `make allnoconfig` with kvm_guest.config + scripts/debug-kernel/jazz-debug.config
# as preset values (everything built in; see the fragment).
# Cache: $JAZZ_DEBUG_KERNEL_CACHE (default /var/cache/jazz/debug-kernel)/<hash>/
# where <hash> covers the fragment, this script and the source package's
# version, so the kernel is rebuilt only when one of them changes. It holds
#   linux/             the configured, built source tree (KDIR for jazz.ko)
#   bzImage            the kernel image
#   mods/lib/modules/<kver>/  modules.builtin & co. (everything is built in)
#   kernelrelease      e.g. 6.12.118-jazzdebug
#   build.log, build-secs, done
# Builds are niced, -j${JOBS:-2}, and serialized machine-wide by a lock.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC_TAR=${JAZZ_DEBUG_KERNEL_SRC:-/usr/src/linux-source-6.12.tar.xz}
FRAG=$TOP/scripts/debug-kernel/jazz-debug.config
ROOT=${JAZZ_DEBUG_KERNEL_CACHE:-/var/cache/jazz/debug-kernel}
JOBS=${JOBS:-2}

die() { echo "build-debug-kernel.sh: $*" >&2; exit 1; }

[ -f "$SRC_TAR" ] || die "$SRC_TAR missing; run scripts/deps.sh (linux-source-6.12)"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || stat -c %s-%Y "$SRC_TAR")
hash=$( { echo "$srcver"; cat "$FRAG"; sed -n '/^# ---- recipe/,$p' "$0"; } | sha256sum | cut -c1-16)
DIR=$ROOT/$hash

case "${1:-}" in
--dir) echo "$DIR"; exit 0 ;;
--check) [ -f "$DIR/done" ]; exit ;;
-h|--help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) die "unknown argument $1" ;;
esac

# ---- recipe (a change below this line rebuilds the kernel)
[ -f "$DIR/done" ] && exit 0
mkdir -p "$ROOT"
exec 8>"$ROOT/.lock"
if ! flock -n 8; then
	echo "build-debug-kernel.sh: another build is running; waiting" >&2
	flock 8
fi
[ -f "$DIR/done" ] && exit 0
t0=$(date +%s)
mkdir -p "$DIR"
log=$DIR/build.log
echo "build-debug-kernel.sh: building the debug kernel in $DIR (log: $log); takes long on 2 cores" >&2
{
	if [ ! -f "$DIR/linux/Makefile" ]; then
		rm -rf "$DIR/linux" "$DIR/linux.tmp"
		mkdir -p "$DIR/linux.tmp"
		nice tar -xJf "$SRC_TAR" -C "$DIR/linux.tmp" --strip-components=1
		mv "$DIR/linux.tmp" "$DIR/linux"
	fi
	cd "$DIR/linux"
	# allnoconfig with kvm_guest.config + the fragment as its preset values:
	# only what the guest uses is built (defconfig builds three times more).
	cat kernel/configs/kvm_guest.config "$FRAG" >"$DIR/allconfig"
	make -s KCONFIG_ALLCONFIG="$DIR/allconfig" allnoconfig
	make -s olddefconfig
	# Every option the fragment sets must have stuck (a typo or an unmet
	# dependency otherwise goes unnoticed).
	missing=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" .config || { echo "config: $line did not stick: $(grep "^${line%%=*}=" .config || echo unset)"; missing=1; } ;;
		esac
	done <"$FRAG"
	[ "$missing" = 0 ] || { echo "config fragment does not apply cleanly"; exit 1; }
	nice make -j"$JOBS" bzImage modules
	rm -rf "$DIR/mods"
	make -s INSTALL_MOD_PATH="$DIR/mods" modules_install
	make -s kernelrelease >"$DIR/kernelrelease"
	cp arch/x86/boot/bzImage "$DIR/bzImage"
} >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "build failed (see $log)"; }
# Module symlinks point into the source tree; the guest sees that path too.
echo $(($(date +%s) - t0)) >"$DIR/build-secs"
touch "$DIR/done"
echo "build-debug-kernel.sh: $(cat "$DIR/kernelrelease") built in $(cat "$DIR/build-secs") s" >&2
