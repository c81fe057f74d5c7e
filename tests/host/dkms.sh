#!/usr/bin/env bash
# dkms.conf works: DKMS rebuilds jazz.ko from a source tree laid out the way
# a distribution package would install it (/usr/src/jazz-<version>), for
# every kernel whose headers are installed (6.1 and 6.12 here). DKMS runs
# with its own --sourcetree/--dkmstree under out/, so nothing is added to
# the machine's /var/lib/dkms module tree or /lib/modules.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { # DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

conf_value() { # KEY: value of KEY="..." in dkms.conf
	sed -n "s/^$1=\"\\(.*\\)\"$/\\1/p" "$TOP/dkms.conf"
}

if ! command -v dkms >/dev/null; then
	not_ok "dkms is installed (scripts/deps.sh installs it)"
	exit 1
fi

name=$(conf_value PACKAGE_NAME)
version=$(conf_value PACKAGE_VERSION)
check "dkms.conf names package jazz with a version" test "$name" = jazz -a -n "$version"

mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/dkms.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/src/$name-$version
mkdir -p "$src" "$work/tree"
# What a source package ships: the files dkms.conf's MAKE line needs.
cp -r "$TOP/Kbuild" "$TOP/dkms.conf" "$TOP/kmod" "$TOP/netlink" "$src/"

kernels=0
for build in /lib/modules/*/build; do
	[ -e "$build/Makefile" ] || continue
	kver=$(basename "$(dirname "$build")")
	kernels=$((kernels + 1))
	log=$work/build-$kver.log
	if nice dkms build -m "$name" -v "$version" -k "$kver" \
		--sourcetree "$work/src" --dkmstree "$work/tree" >"$log" 2>&1; then
		ok "[$kver] dkms build succeeds"
	else
		not_ok "[$kver] dkms build succeeds"
		sed 's/^/# /' "$log" | tail -n 20
		continue
	fi
	ko=$(find "$work/tree/$name/$version/$kver" -name 'jazz.ko*' | head -n1)
	check "[$kver] dkms produced jazz.ko for this kernel" test -n "$ko"
	[ -n "$ko" ] || continue
	info=$(modinfo "$ko")
	check "[$kver] vermagic is $kver" \
		grep -q "^vermagic: *$kver " <<<"$info"
	check "[$kver] module autoloads for 'ip link add type jazz'" \
		grep -q '^alias: *rtnl-link-jazz$' <<<"$info"
	check "[$kver] module autoloads for the jazz genl family" \
		grep -q '^alias: *net-pf-16-proto-16-family-jazz$' <<<"$info"
done
check "at least one kernel's headers are installed" test "$kernels" -gt 0

[ "$fails" -eq 0 ]
