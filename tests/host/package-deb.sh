#!/usr/bin/env bash
# The Debian packages (issue 17): `make deb` builds jazz-dkms and jazz-tools
# with dpkg-buildpackage into out/deb/, lintian finds no error or warning
# (its default level) in the source or either package, and each package
# holds what it should. tests/host/package-install.sh installs them.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/package/lib.sh"

# --------------------------------------------------------------- outside
for t in dpkg-buildpackage lintian dh_dkms; do
	command -v "$t" >/dev/null || { not_ok "$t is installed (scripts/deps.sh)"; exit 1; }
done
mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/package-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)

if nice make -s -C "$TOP" deb >"$work/make.log" 2>&1; then
	ok "make deb ($(($(date +%s) - t0)) s)"
else
	not_ok "make deb"
	tail -n 30 "$work/make.log" | sed 's/^/#   /'
	exit 1
fi
for p in "jazz-dkms_${VERSION}_all" "jazz-tools_${VERSION}_amd64"; do
	check "out/deb/$p.deb built" test -f "$DEB/$p.deb"
done
check "nothing written next to the tree (../*.deb)" sh -c "! ls '$TOP'/../jazz*_${VERSION}_*.deb >/dev/null 2>&1"

lint=$(lintian --no-cfg "$DEB/jazz_${VERSION}_amd64.changes" 2>&1 | grep -v 'running with root privileges')
if ! grep -Eq '^[EW]: ' <<<"$lint"; then
	ok "lintian: no error or warning (source and both packages)"
else
	not_ok "lintian: no error or warning (source and both packages)"
fi
[ -z "$lint" ] || echo "$lint" | sed 's/^/#   /'

tools=$(dpkg-deb -c "$DEB/jazz-tools_${VERSION}_amd64.deb" | awk '{ print $6 }')
for f in usr/sbin/jazzd usr/bin/jazzctl usr/include/jazz/events.h usr/lib/jazz/sample.so \
	usr/lib/jazz/jazz-ifup lib/systemd/system/jazzd-server@.service lib/systemd/system/jazzd-client@.service \
	usr/share/man/man8/jazzd.8.gz usr/share/man/man8/jazzctl.8.gz usr/share/man/man5/jazzd.conf.5.gz \
	usr/share/bash-completion/completions/jazzctl usr/share/bash-completion/completions/jazzd \
	usr/share/doc/jazz-tools/examples/server.conf usr/share/doc/jazz-tools/examples/client.conf \
	usr/lib/sysusers.d/jazz-tools.conf; do
	check "jazz-tools ships /$f" grep -qx "./$f" <<<"$tools"
done
dk=$(dpkg-deb -c "$DEB/jazz-dkms_${VERSION}_all.deb" | awk '{ print $6 }')
for f in dkms.conf Kbuild kmod/Kbuild kmod/main.c netlink/jazz.h; do
	check "jazz-dkms ships /usr/src/jazz-$VERSION/$f" grep -qx "./usr/src/jazz-$VERSION/$f" <<<"$dk"
done
check "jazz-dkms depends on dkms" sh -c "dpkg-deb -f '$DEB/jazz-dkms_${VERSION}_all.deb' Depends | grep -q dkms"
check "dkms.conf's PACKAGE_VERSION is VERSION ($VERSION)" grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$TOP/dkms.conf"
check "debian/changelog's version is VERSION ($VERSION)" \
	test "$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)" = "$VERSION"

[ "$fails" -eq 0 ]
