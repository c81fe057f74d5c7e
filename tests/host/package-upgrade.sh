#!/usr/bin/env bash
# Upgrading the Debian packages (issue 17, docs/DEPLOY.md "Upgrading"): the
# tree's packages (VERSION) and the same tree built again as VERSION.1 (a
# new changelog entry, nothing else), installed one after the other with
# dpkg -i like an apt upgrade does:
#  - the admin's configuration under /etc/jazz (the package ships no
#    conffile there; examples are in /usr/share/doc) is kept byte for byte,
#    with no .dpkg-* file beside it;
#  - DKMS builds jazz/NEW for both stock kernels and removes jazz/OLD (its
#    modules, /usr/src/jazz-OLD, /var/lib/dkms/jazz/OLD);
#  - the packaged dkms.conf names the package's version;
#  - a running jazzd is left running, as docs/DEPLOY.md says (the packages
#    restart no daemon: a device's tunnel would drop): same pid, still the
#    old program, until the admin restarts it; then it is the new one;
#  - dpkg --audit is clean, and a purge afterwards leaves only the admin's
#    own files.
# Everything happens in a private mount namespace with overlays on /usr, /etc
# and /var (tests/host/package/lib.sh) in out/package-upgrade-root/: the
# machine never sees the install.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/package/lib.sh"
PKG_STATE=$TOP/out/package-upgrade-root	# not package-install.sh's state
NEW=$VERSION.1

# exe_is PID PATH: the process runs PATH (waits up to 10 s for its exec)
exe_is() {
	local i
	for i in $(seq 100); do [ "$(readlink "/proc/$1/exe")" = "$2" ] && return 0; sleep 0.1; done
	return 1
}

# ---------------------------------------------------------------- inside
if [ "${1:-}" = --inside ]; then
	work=$2
	pkg_inside "$work"
	ND=$work/new
	if nice dpkg -i "$DEB/jazz-dkms_${VERSION}_all.deb" "$DEB/jazz-tools_${VERSION}_amd64.deb" >"$work/old.log" 2>&1; then
		ok "dpkg -i jazz $VERSION (DKMS builds for ${KERNELS[*]})"
	else
		not_ok "dpkg -i jazz $VERSION"; tail -n 20 "$work/old.log" | sed 's/^/#   /'
	fi
	for k in "${KERNELS[@]}"; do
		check "[$k] DKMS installed jazz/$VERSION" sh -c "dkms status jazz/$VERSION -k $k | grep -q ': installed'"
	done
	# the admin's configuration, as docs/DEPLOY.md has them write it
	mkdir -p /etc/jazz
	cp /usr/share/doc/jazz-tools/examples/client.conf /etc/jazz/office.conf
	printf '\n; local change\n[metrics]\nlisten = 127.0.0.1:9477\n' >>/etc/jazz/office.conf
	echo 'secret' >/etc/jazz/office.password
	chmod 600 /etc/jazz/office.password
	sum0=$(cd /etc/jazz && md5sum office.conf office.password)
	check "the admin's configuration is valid for the old jazzd" sh -c "/usr/sbin/jazzd -t -c /etc/jazz/office.conf >/dev/null"
	# a running client (fake kernel, its server unreachable: it keeps retrying)
	cat >"$work/running.conf" <<-EOF
	[client]
	server = 127.0.0.1:1
	server_name = vpn.example.com
	ca = /etc/ssl/certs/ca-certificates.crt
	identity_key = $work/device.key
	device = upgrade-test
	method = password
	user = nobody
	password = x
	[kernel]
	backend = fake
	EOF
	/usr/sbin/jazzd -f -c "$work/running.conf" >"$work/running.log" 2>&1 &
	jpid=$!
	exe_is "$jpid" /usr/sbin/jazzd
	check "a jazzd $VERSION is running (pid $jpid)" exe_is "$jpid" /usr/sbin/jazzd
	check "jazz-tools ships no conffile (configurations are the admin's)" \
		sh -c '[ -z "$(dpkg-query -W -f="\${Conffiles}" jazz-tools)" ]'

	if nice dpkg -i "$ND/jazz-dkms_${NEW}_all.deb" "$ND/jazz-tools_${NEW}_amd64.deb" >"$work/new.log" 2>&1; then
		ok "dpkg -i jazz $NEW over $VERSION"
	else
		not_ok "dpkg -i jazz $NEW over $VERSION"; tail -n 30 "$work/new.log" | sed 's/^/#   /'
	fi
	grep -E '^(Unpacking|Setting up|Building|Deleting|Removing|Module)' "$work/new.log" | sed 's/^/# dpkg: /'
	check "both packages are at $NEW (ii)" sh -c "dpkg-query -W -f='\${db:Status-Abbrev}\${Version}\n' jazz-dkms jazz-tools | grep -c '^ii *$NEW\$' | grep -qx 2"
	check "the admin's configuration is unchanged" test "$(cd /etc/jazz && md5sum office.conf office.password)" = "$sum0"
	check "no .dpkg-old/-new/-dist file in /etc/jazz" sh -c '! ls /etc/jazz/*.dpkg-* >/dev/null 2>&1'
	check "the new jazzd accepts it" sh -c "/usr/sbin/jazzd -t -c /etc/jazz/office.conf >/dev/null"
	check "the password file is still 0600" test "$(stat -c %a /etc/jazz/office.password)" = 600
	check "packaged dkms.conf names $NEW" grep -qx "PACKAGE_VERSION=\"$NEW\"" "/usr/src/jazz-$NEW/dkms.conf"
	st=$(dkms status jazz 2>/dev/null)
	echo "$st" | sed 's/^/# dkms status: /'
	for k in "${KERNELS[@]}"; do
		check "[$k] DKMS built and installed jazz/$NEW" sh -c "grep -F 'jazz/$NEW, $k, ' | grep -q ': installed'" <<<"$st"
		ko=$(ls /lib/modules/"$k"/updates/dkms/jazz.ko* 2>/dev/null)
		check "[$k] one jazz.ko under updates/dkms, DKMS's $NEW build" \
			sh -c "[ \$(echo '$ko' | wc -w) = 1 ] && cmp -s '$ko' /var/lib/dkms/jazz/$NEW/$k/x86_64/module/\$(basename '$ko')"
		check "[$k] modprobe resolves jazz to it" sh -c "modprobe -S '$k' --show-depends jazz | grep -qF 'insmod $ko'"
	done
	check "jazz/$VERSION is gone from DKMS" sh -c "! grep -qF 'jazz/$VERSION,' && [ ! -e /var/lib/dkms/jazz/$VERSION ]" <<<"$st"
	check "/usr/src/jazz-$VERSION is gone" test ! -e "/usr/src/jazz-$VERSION"
	check "the running jazzd was left alone (same pid, still the old program)" \
		test "$(readlink /proc/$jpid/exe)" = "/usr/sbin/jazzd (deleted)"
	kill "$jpid"; wait "$jpid" 2>/dev/null
	/usr/sbin/jazzd -f -c "$work/running.conf" >"$work/running2.log" 2>&1 &
	jpid=$!
	exe_is "$jpid" /usr/sbin/jazzd
	check "restarted, it runs the new program" exe_is "$jpid" /usr/sbin/jazzd
	kill "$jpid"; wait "$jpid" 2>/dev/null
	check "dpkg --audit is clean" sh -c '[ -z "$(dpkg --audit 2>&1)" ]'

	nice dpkg --purge jazz-tools jazz-dkms >"$work/purge.log" 2>&1 || { not_ok "purge"; tail "$work/purge.log"; }
	check "after purge: DKMS knows no jazz, no module, no source" \
		sh -c '[ -z "$(dkms status jazz)" ] && ! ls /lib/modules/*/updates/dkms/jazz.ko* /usr/src/jazz-* >/dev/null 2>&1'
	check "after purge: the admin's own files stay (dpkg never owned them)" \
		test "$(cd /etc/jazz && md5sum office.conf office.password)" = "$sum0"
	echo "$n $fails" >"$work/count"
	exit
fi

# --------------------------------------------------------------- outside
[ "$(id -u)" = 0 ] || { echo "not ok 1 - must run as root (dpkg, mount namespaces)"; exit 1; }
mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/package-upgrade.XXXXXX")
trap 'rm -rf "$work" "$PKG_STATE"' EXIT
before=$(md5sum /var/lib/dpkg/status | cut -d' ' -f1)
rm -rf "$PKG_STATE"
if ! pkg_debs "$work/make.log"; then
	not_ok "make deb"; tail -n 30 "$work/make.log" | sed 's/^/#   /'; exit 1
fi
ok "packages $VERSION (make deb)"
# The same tree as version $NEW: VERSION and a changelog entry.
src=$work/src/jazz-$NEW
mkdir -p "$src" "$work/new"
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
	tar --null -T - -cf -) | tar -xf - -C "$src"
echo "$NEW" >"$src/VERSION"
{
	printf 'jazz (%s) unstable; urgency=medium\n\n  * Upgrade test build.\n\n' "$NEW"
	printf ' -- jazz maintainers <jazz@example.org>  %s\n\n' "$(date -R)"
	cat "$TOP/debian/changelog"
} >"$src/debian/changelog"
if (cd "$src" && nice dpkg-buildpackage -us -uc -b -j2) >"$work/new-build.log" 2>&1 &&
	mv "$work/src/"*.deb "$work/new/"; then
	ok "packages $NEW (the same tree, version bumped)"
else
	not_ok "packages $NEW"; tail -n 30 "$work/new-build.log" | sed 's/^/#   /'; exit 1
fi

pkg_run_inside "$0" "$work"

check "outside the namespace: dpkg's status file unchanged" \
	test "$(md5sum /var/lib/dpkg/status | cut -d' ' -f1)" = "$before"
check "outside the namespace: no DKMS jazz" sh -c '! ls /lib/modules/*/updates/dkms/jazz.ko* /var/lib/dkms/jazz >/dev/null 2>&1'
check "outside the namespace: no /etc/jazz/office.conf" test ! -e /etc/jazz/office.conf
tap_done
