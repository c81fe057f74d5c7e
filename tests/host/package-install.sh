#!/usr/bin/env bash
# Installing the Debian packages really works (issue 17): dpkg -i runs the
# maintainer scripts, DKMS builds and installs jazz.ko for both stock
# kernels (6.1 and 6.12, whose headers scripts/deps.sh installs), the
# sysusers user exists, the installed units pass systemd-analyze verify, the
# installed jazzd runs. tests/host/package-vm.sh then boots a VM on each
# kernel from this installed state and purges it.
#
# The install happens in a private mount namespace with overlays on /usr,
# /etc and /var whose upper layers are out/package-root/
# (tests/host/package/lib.sh): dpkg and DKMS see a machine with the packages
# installed, while the machine itself and everyone else's tests never do;
# checked at the end. The packages come from out/deb/ (`make deb`, rebuilt
# here when missing or older than a file of the tree).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/package/lib.sh"

# ---------------------------------------------------------------- inside
if [ "${1:-}" = --inside ]; then
	work=$2
	pkg_inside "$work"
	echo "# kernels with headers: ${KERNELS[*]}"
	check "both stock kernels have headers (6.1 and 6.12)" \
		sh -c 'ls -d /lib/modules/6.1.*/build/Makefile /lib/modules/6.12.*/build/Makefile >/dev/null 2>&1'

	t0=$(date +%s)
	if nice dpkg -i "$DEB/jazz-dkms_${VERSION}_all.deb" "$DEB/jazz-tools_${VERSION}_amd64.deb" >"$work/install.log" 2>&1; then
		ok "dpkg -i jazz-dkms jazz-tools ($(($(date +%s) - t0)) s, DKMS builds included)"
	else
		not_ok "dpkg -i jazz-dkms jazz-tools"
		tail -n 30 "$work/install.log" | sed 's/^/#   /'
	fi
	grep -E '^(Building|Loading|Removing|It is likely)' "$work/install.log" | sed 's/^/# dpkg: /'
	st=$(dkms status jazz/"$VERSION" 2>/dev/null)
	echo "$st" | sed 's/^/# dkms status: /'
	for k in "${KERNELS[@]}"; do
		check "[$k] DKMS built and installed jazz/$VERSION" \
			sh -c "grep -F 'jazz/$VERSION, $k, ' | grep -q ': installed'" <<<"$st"
		ko=$(ls /lib/modules/"$k"/updates/dkms/jazz.ko* 2>/dev/null | head -n 1)
		check "[$k] DKMS's ${ko:-jazz.ko} has vermagic $k" \
			sh -c "[ -n '$ko' ] && modinfo -F vermagic '$ko' | grep -qF '$k '"
		check "[$k] modules.dep resolves jazz to DKMS's build" \
			sh -c "[ -n '$ko' ] && modprobe -S '$k' --show-depends jazz | grep -qF 'insmod $ko'"
	done
	check "the _jazz system user exists (sysusers)" sh -c 'getent passwd _jazz >/dev/null'
	check "installed jazzd runs (-t on the example client configuration)" \
		sh -c '/usr/sbin/jazzd -t -c /usr/share/doc/jazz-tools/examples/client.conf >/dev/null'
	for u in jazzd-server@test jazzd-client@test; do
		out=$(cd / && systemd-analyze verify "/lib/systemd/system/$u.service" 2>&1)
		if [ -z "$out" ]; then ok "systemd-analyze verify $u.service: clean"; else
			not_ok "systemd-analyze verify $u.service: clean"; echo "$out" | sed 's/^/#   /'; fi
		echo "# $(systemd-analyze security --offline=yes "/lib/systemd/system/$u.service" 2>/dev/null | tail -n 1)"
	done
	check "bash completion installed for jazzctl and jazzd" \
		test -f /usr/share/bash-completion/completions/jazzctl -a -f /usr/share/bash-completion/completions/jazzd
	[ "$fails" -eq 0 ] && touch "$PKG_STATE/installed"
	echo "$n $fails" >"$work/count"
	exit
fi

# --------------------------------------------------------------- outside
[ "$(id -u)" = 0 ] || { echo "not ok 1 - must run as root (dpkg, mount namespaces)"; exit 1; }
for t in dkms unshare; do
	command -v "$t" >/dev/null || { not_ok "$t is installed (scripts/deps.sh)"; exit 1; }
done
mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/package-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
before=$(md5sum /var/lib/dpkg/status | cut -d' ' -f1)
rm -rf "$PKG_STATE"
if ! pkg_debs "$work/make.log"; then
	not_ok "make deb"
	tail -n 30 "$work/make.log" | sed 's/^/#   /'
	exit 1
fi

pkg_run_inside "$0" "$work"
[ "$fails" -eq 0 ] || rm -rf "$PKG_STATE"

check "outside the namespace: dpkg's status file unchanged" \
	test "$(md5sum /var/lib/dpkg/status | cut -d' ' -f1)" = "$before"
check "outside the namespace: no jazz package known to dpkg" sh -c '! dpkg -l jazz-tools jazz-dkms >/dev/null 2>&1'
check "outside the namespace: no DKMS jazz.ko" sh -c '! ls /lib/modules/*/updates/dkms/jazz.ko* /var/lib/dkms/jazz >/dev/null 2>&1'
[ "$fails" -eq 0 ]
