#!/usr/bin/env bash
# scripts/deps.sh picks the two test kernels from their own suites (issue 22):
# bookworm's 6.1 (or bookworm-security's, when newer) and
# bookworm-backports' 6.12, whatever apt's candidate for the metapackage is.
#
# Each case builds an apt state in a temporary directory (APT_CONFIG with its
# own sources, preferences, dpkg status and lists): synthetic file:
# repositories made here, then the machine's real lists under a backports pin.
# `apt-get update` only copies our own files into our own lists; nothing is
# installed and the machine's apt state is not touched.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/lib/tap.sh"
is() { # DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:  '$2'"; echo "#   want: '$3'"; fi
}

mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/deps-kernels.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A package stanza; $3 = Depends (optional).
stanza() { # NAME VERSION [DEPENDS]
	printf 'Package: %s\nVersion: %s\nArchitecture: amd64\n' "$1" "$2"
	[ -z "${3:-}" ] || printf 'Depends: %s\n' "$3"
	printf 'Filename: pool/main/%s_%s_amd64.deb\nSize: 1000\nDescription: synthetic %s\n\n' "$1" "$2" "$1"
}

# A file: repository with one dist: DIR/dists/DIST; Release says CODENAME.
# Stanzas come on stdin.
make_repo() { # DIR DIST CODENAME
	local d=$1/dists/$2 p=main/binary-amd64/Packages
	mkdir -p "$d/main/binary-amd64"
	cat >"$d/$p"
	{
		printf 'Origin: Debian\nLabel: Debian\nSuite: %s\nCodename: %s\n' "$2" "$3"
		printf 'Date: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n' "$(LC_ALL=C date -u -R)"
		printf ' %s %s %s\n' "$(sha256sum <"$d/$p" | cut -d' ' -f1)" "$(stat -c %s "$d/$p")" "$p"
	} >"$d/Release"
}

# Kernel metapackages and the versioned packages they point to.
meta() { # METAVERSION KVER
	local k
	for k in image headers; do
		stanza "linux-$k-amd64" "$1" "linux-$k-$2"
		stanza "linux-$k-$2" "${1%%-*}-1"
	done
}
make_repo "$work/repo-main" bookworm bookworm < <(meta 6.1.170-1 6.1.0-50-amd64)
make_repo "$work/repo-sec" bookworm-security bookworm-security < <(meta 6.1.192-1 6.1.0-57-amd64)
make_repo "$work/repo-bpo" bookworm-backports bookworm-backports < <(meta 6.12.95-1~bpo12+1 6.12.95+deb12-amd64)
# The same backports suite, named as some admins write it in their sources.
make_repo "$work/repo-bpo" oldstable-backports bookworm-backports < <(meta 6.12.95-1~bpo12+1 6.12.95+deb12-amd64)

# An apt state: STATE/apt.conf plus its etc/, lists/, cache/, status.
# SOURCES lines are "DIR DIST"; LISTS is a directory of existing lists
# ("" = fresh, filled by apt-get update from SOURCES).
new_state() { # STATE LISTS SOURCES...
	local s=$1 lists=$2 src
	shift 2
	mkdir -p "$s/etc/sources.list.d" "$s/etc/preferences.d" "$s/etc/apt.conf.d" "$s/cache" "$s/lists/partial"
	: >"$s/status"
	: >"$s/etc/preferences"
	: >"$s/etc/sources.list"
	for src in "$@"; do
		set -- $src
		echo "deb [trusted=yes] file:$1 $2 main" >>"$s/etc/sources.list"
	done
	cat >"$s/apt.conf" <<EOF
Dir::State "$s";
Dir::State::lists "${lists:-$s/lists}";
Dir::State::status "$s/status";
Dir::Cache "$s/cache";
Dir::Etc::sourcelist "$s/etc/sources.list";
Dir::Etc::sourceparts "$s/etc/sources.list.d";
Dir::Etc::preferences "$s/etc/preferences";
Dir::Etc::preferencesparts "$s/etc/preferences.d";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Debug::NoLocking "true";
EOF
	if [ -z "$lists" ]; then
		APT_CONFIG=$s/apt.conf apt-get -qq update >"$s/update.log" 2>&1 ||
			{ echo "# apt-get update in $s failed:"; sed 's/^/#   /' "$s/update.log"; }
	fi
}

# dpkg status: the metapackage was installed from backports.
installed_from_backports() { # STATE
	cat >"$1/status" <<'EOF'
Package: linux-image-amd64
Status: install ok installed
Priority: optional
Section: kernel
Installed-Size: 13
Maintainer: Debian Kernel Team <debian-kernel@lists.debian.org>
Architecture: amd64
Source: linux-signed-amd64 (6.12.95+1~bpo12+1)
Version: 6.12.95-1~bpo12+1
Depends: linux-image-6.12.95+deb12-amd64
Description: Linux for 64-bit PCs (meta-package)

EOF
}

pin_backports() { # STATE
	printf 'Package: *\nPin: release n=bookworm-backports\nPin-Priority: 990\n' >"$1/etc/preferences"
}

candidate() { # STATE: apt's candidate for linux-image-amd64 (what deps.sh used to take)
	APT_CONFIG=$1/apt.conf LC_ALL=C apt-cache policy linux-image-amd64 | awk '/Candidate:/ { print $2 }'
}

kernels() { # STATE: deps.sh's answer, on one line
	APT_CONFIG=$1/apt.conf bash "$TOP/scripts/deps.sh" --print-kernels 2>"$1/err" | tr '\n' ' '
}

want61="linux-image-6.1.0-57-amd64 linux-headers-6.1.0-57-amd64"
want612="linux-image-6.12.95+deb12-amd64 linux-headers-6.12.95+deb12-amd64"

# 1. linux-image-amd64 installed from backports (the issue's machine).
s=$work/installed
new_state "$s" "" "$work/repo-main bookworm" "$work/repo-sec bookworm-security" "$work/repo-bpo bookworm-backports"
installed_from_backports "$s"
is "metapackage installed from backports: apt's candidate is the backports one (the issue's state)" \
	"$(candidate "$s")" "6.12.95-1~bpo12+1"
is "metapackage installed from backports: 6.1 from bookworm-security, 6.12 from backports" \
	"$(kernels "$s")" "$want61 $want612 "

# 2. backports pinned above the release.
s=$work/pinned
new_state "$s" "" "$work/repo-main bookworm" "$work/repo-sec bookworm-security" "$work/repo-bpo bookworm-backports"
pin_backports "$s"
is "backports pinned at 990: apt's candidate is the backports one" "$(candidate "$s")" "6.12.95-1~bpo12+1"
is "backports pinned at 990: 6.1 from bookworm-security, 6.12 from backports" \
	"$(kernels "$s")" "$want61 $want612 "

# 3. no security suite in the sources: bookworm's own 6.1.
s=$work/nosec
new_state "$s" "" "$work/repo-main bookworm" "$work/repo-bpo bookworm-backports"
installed_from_backports "$s"
pin_backports "$s"
is "no bookworm-security: 6.1 from bookworm" "$(kernels "$s")" \
	"linux-image-6.1.0-50-amd64 linux-headers-6.1.0-50-amd64 $want612 "

# 4. backports written as oldstable-backports in the sources: matched by
#    the Release file's codename, not the sources' spelling.
s=$work/alias
new_state "$s" "" "$work/repo-main bookworm" "$work/repo-sec bookworm-security" "$work/repo-bpo oldstable-backports"
pin_backports "$s"
is "sources say oldstable-backports: still resolved by codename" "$(kernels "$s")" "$want61 $want612 "

# 5. no backports at all: a clear failure naming the suite, not a silent
#    single kernel.
s=$work/nobpo
new_state "$s" "" "$work/repo-main bookworm" "$work/repo-sec bookworm-security"
out=$(kernels "$s")
rc=$?
if [ -z "$out" ] && grep -q 'no linux-image-amd64 in bookworm-backports' "$s/err"; then
	ok "no backports suite: fails, naming bookworm-backports"
else
	not_ok "no backports suite: fails, naming bookworm-backports (rc=$rc, printed '$out')"
	sed 's/^/#   /' "$s/err"
fi
if APT_CONFIG=$s/apt.conf bash "$TOP/scripts/deps.sh" --print-kernels >/dev/null 2>&1; then
	not_ok "no backports suite: deps.sh --print-kernels exits non-zero"
else
	ok "no backports suite: deps.sh --print-kernels exits non-zero"
fi

# 6. the machine's real lists (left by scripts/deps.sh), with the issue's
#    state laid over them: backports pinned and the metapackage installed
#    from there.
s=$work/real
new_state "$s" /var/lib/apt/lists
rm -f "$s/etc/sources.list"
cp /etc/apt/sources.list "$s/etc/sources.list" 2>/dev/null || : >"$s/etc/sources.list"
cp /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources "$s/etc/sources.list.d/" 2>/dev/null
installed_from_backports "$s"
pin_backports "$s"
cand=$(candidate "$s")
case "$cand" in
*bpo*) ok "real lists, backports pinned: apt's candidate is the backports one ($cand)" ;;
*) not_ok "real lists, backports pinned: apt's candidate is the backports one (got '$cand')" ;;
esac
read -r img61 hdr61 img612 hdr612 <<<"$(kernels "$s")"
echo "# real lists: $img61 $hdr61 $img612 $hdr612"
if [[ "$img61" =~ ^linux-image-6\.1\.0-[0-9]+-amd64$ ]] && [ "$hdr61" = "${img61/image/headers}" ]; then
	ok "real lists: the 6.1 kernel and its headers come from bookworm"
else
	not_ok "real lists: the 6.1 kernel and its headers come from bookworm"
	sed 's/^/#   /' "$s/err"
fi
if [[ "$img612" =~ ^linux-image-6\.12\.[0-9]+\+deb12-amd64$ ]] && [ "$hdr612" = "${img612/image/headers}" ]; then
	ok "real lists: the 6.12 kernel and its headers come from bookworm-backports"
else
	not_ok "real lists: the 6.12 kernel and its headers come from bookworm-backports"
fi

[ "$fails" -eq 0 ]
