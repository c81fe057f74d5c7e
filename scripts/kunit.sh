#!/usr/bin/env bash
# KUnit tests of jazz.ko (kmod/selftest/jazz_kunit.c: replay window,
# allowed-ips trie against a naive model, wire header parsing), run by the
# kernel's own tools/testing/kunit/kunit.py on User Mode Linux.
#
#   scripts/kunit.sh            build (incrementally) and run; KTAP on stdout
#
# Debian's linux-source-6.1 is unpacked once into $JAZZ_CACHE/kunit (default
# /var/cache/jazz/kunit), outside the repository; the UML build directory is
# kept there too, so reruns only rebuild what changed (a cold build takes a
# few minutes). kmod/ is copied into the tree as drivers/net/jazz/ with a
# Kconfig entry JAZZ_KUNIT_TEST. Exit status: non-zero if any test failed.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${JAZZ_CACHE:-/var/cache/jazz}/kunit
SRC_TAR=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1 || true)
TREE=$CACHE/linux-source-6.1
BUILD=$CACHE/build-um
JOBS=${JOBS:-2}
PY=/usr/bin/python3

mkdir -p "$CACHE"
# One UML tree serves every checkout on this machine (git worktrees too):
# take it exclusively so two runs never mix their sources.
exec 8>"$CACHE.lock"
flock -n 8 || { echo "# kunit.sh: another KUnit run holds $CACHE; waiting" >&2; flock 8; }
if [ ! -f "$TREE/.jazz-unpacked" ]; then
	[ -n "$SRC_TAR" ] || { echo "kunit.sh: linux-source-6.1 is not installed (scripts/deps.sh)" >&2; exit 1; }
	echo "# kunit.sh: unpacking $SRC_TAR into $CACHE" >&2
	rm -rf "$TREE"
	nice tar -xf "$SRC_TAR" -C "$CACHE"
	touch "$TREE/.jazz-unpacked"
fi

# drivers/net/jazz: our sources plus a Kconfig/Makefile for the test only.
D=$TREE/drivers/net/jazz
mkdir -p "$D/selftest" "$D/netlink"
# Copy only changed files so the UML build stays incremental.
sync_tree() { # SRC DST
	local f rel
	(cd "$1" && find . -type f \( -name '*.c' -o -name '*.h' \)) | while read -r rel; do
		mkdir -p "$2/$(dirname "$rel")"
		cmp -s "$1/$rel" "$2/$rel" || cp "$1/$rel" "$2/$rel"
	done
}
sync_tree "$TOP/kmod" "$D/src"
cmp -s "$TOP/netlink/jazz.h" "$D/netlink/jazz.h" || cp "$TOP/netlink/jazz.h" "$D/netlink/jazz.h"
write_if_changed() { # FILE (content on stdin)
	local tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}
write_if_changed "$D/Kconfig" <<'KEOF'
# SPDX-License-Identifier: GPL-2.0
config JAZZ_KUNIT_TEST
	bool "KUnit tests for the jazz VPN data path" if !KUNIT_ALL_TESTS
	depends on KUNIT && NET && INET
	default KUNIT_ALL_TESTS
	help
	  Replay window, allowed-ips trie and wire header tests of jazz.ko.
KEOF
write_if_changed "$D/Makefile" <<'KEOF'
# SPDX-License-Identifier: GPL-2.0
ccflags-y += -I$(srctree)/$(src)/netlink
obj-$(CONFIG_JAZZ_KUNIT_TEST) += src/selftest/jazz_kunit.o
obj-$(CONFIG_JAZZ_KUNIT_TEST) += src/selftest/conn_kunit.o
KEOF
write_if_changed "$D/.kunitconfig" <<'KEOF'
CONFIG_KUNIT=y
CONFIG_NET=y
CONFIG_INET=y
CONFIG_IPV6=y
CONFIG_JAZZ_KUNIT_TEST=y
KEOF
grep -q 'drivers/net/jazz/Kconfig' "$TREE/drivers/net/Kconfig" ||
	sed -i 's|^endif # NETDEVICES|source "drivers/net/jazz/Kconfig"\n\nendif # NETDEVICES|' "$TREE/drivers/net/Kconfig"
grep -q 'jazz/' "$TREE/drivers/net/Makefile" ||
	echo 'obj-y += jazz/' >>"$TREE/drivers/net/Makefile"

cd "$TREE"
set +e
nice "$PY" tools/testing/kunit/kunit.py run --arch=um --jobs="$JOBS" \
	--build_dir="$BUILD" --kunitconfig=drivers/net/jazz/.kunitconfig \
	--raw_output=kunit 2>&1 | tee "$CACHE/last-run.log" | grep -v '^\[' 
rc=${PIPESTATUS[0]}
set -e
# --raw_output leaves the verdict to us. A run that crashed (UML panics
# on a bad pointer) prints no "not ok" at all: every suite of the top-level
# plan must have reported, or the run failed.
log=$CACHE/last-run.log
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$log" | head -n1)
done_suites=$(grep -cE '^(not )?ok [0-9]+ ' "$log" || true)
if grep -q '^ *not ok' "$log" || ! grep -q '^ *ok' "$log"; then
	rc=1
elif [ -z "$plan" ] || [ "$done_suites" -ne "$plan" ]; then
	echo "kunit.sh: the run ended after ${done_suites} of ${plan:-?} suites (crashed?): see $log" >&2
	grep -E 'Kernel panic|BUG:|RIP:' "$log" | head -n 5 >&2
	rc=1
fi
exit "$rc"
