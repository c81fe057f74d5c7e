#!/usr/bin/env bash
# The VM loads the module DKMS built from the jazz-dkms package (issue 17):
# a VM booted on each stock kernel from the installed state that
# tests/host/package-install.sh left (out/package-root/, run here first when
# missing) modprobes jazz, gets DKMS's build (same GNU build ID) and drives
# it with the packaged jazzctl and jazz-ifup (tests/host/package/guest.sh).
# Then dpkg --purge removes everything, DKMS's builds included, and the
# state is deleted: the machine is as found (it never saw the install).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/package/lib.sh"

# ---------------------------------------------------------------- inside
if [ "${1:-}" = --inside ]; then
	work=$2
	pkg_inside "$work"
	# One VM per kernel, both at once (vm.sh takes the machine's VM slots).
	t0=$(date +%s)
	for k in "${KERNELS[@]}"; do
		bash "$TOP/scripts/vm.sh" -q --kernel "$k" --out "$work/vm-$k" --timeout 240 \
			-- bash "$TOP/tests/host/package/guest.sh" >"$work/vm-$k.log" 2>&1 &
		echo $! >"$work/vm-$k.pid"
	done
	for k in "${KERNELS[@]}"; do
		if wait "$(cat "$work/vm-$k.pid")"; then
			ok "[$k] the VM loads DKMS's build and the packaged tools drive it"
		else
			not_ok "[$k] the VM loads DKMS's build and the packaged tools drive it"
		fi
		grep -E '^(ok|not ok|#)' "$work/vm-$k.log" | sed 's/^/#   /'
	done
	echo "# VMs: $(($(date +%s) - t0)) s"

	if nice dpkg --purge jazz-tools jazz-dkms >"$work/purge.log" 2>&1; then
		ok "dpkg --purge jazz-tools jazz-dkms"
	else
		not_ok "dpkg --purge jazz-tools jazz-dkms"
		tail -n 20 "$work/purge.log" | sed 's/^/#   /'
	fi
	check "after purge: DKMS knows no jazz" sh -c '[ -z "$(dkms status jazz 2>/dev/null)" ]'
	check "after purge: no jazz.ko under /lib/modules" sh -c '! ls /lib/modules/*/updates/dkms/jazz.ko* >/dev/null 2>&1'
	check "after purge: /usr/src/jazz-$VERSION gone" test ! -e "/usr/src/jazz-$VERSION"
	check "after purge: no jazz unit, completion or config left" \
		sh -c '! ls /lib/systemd/system/jazzd-* /usr/share/bash-completion/completions/jazz* /usr/sbin/jazzd >/dev/null 2>&1'
	echo "$n $fails" >"$work/count"
	exit
fi

# --------------------------------------------------------------- outside
[ "$(id -u)" = 0 ] || { echo "not ok 1 - must run as root (dpkg, mount namespaces, VMs)"; exit 1; }
mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/package-vm.XXXXXX")
trap 'rm -rf "$work" "$PKG_STATE"' EXIT
if [ ! -e "$PKG_STATE/installed" ]; then
	echo "# no installed state from tests/host/package-install.sh: running it first"
	if bash "$TOP/tests/host/package-install.sh" >"$work/install.log" 2>&1; then
		ok "install state made (tests/host/package-install.sh)"
	else
		not_ok "install state made (tests/host/package-install.sh)"
		grep -E '^not ok' "$work/install.log" | sed 's/^/#   /'
		exit 1
	fi
fi

pkg_run_inside "$0" "$work"

check "outside the namespace: no jazz package known to dpkg" sh -c '! dpkg -l jazz-tools jazz-dkms >/dev/null 2>&1'
check "outside the namespace: no DKMS jazz.ko" sh -c '! ls /lib/modules/*/updates/dkms/jazz.ko* /var/lib/dkms/jazz >/dev/null 2>&1'
[ "$fails" -eq 0 ]
