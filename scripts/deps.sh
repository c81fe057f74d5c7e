#!/usr/bin/env bash
# Install everything jazz needs to build, test and demo on Debian 12 (bookworm).
# Idempotent: packages already present are left alone; safe to run again.
#
#   scripts/deps.sh                   install (as root)
#   scripts/deps.sh --print-kernels   only resolve the two test kernels from
#                                     the apt lists (honours APT_CONFIG) and
#                                     print "IMAGE HEADERS" for 6.1, then 6.12
set -euo pipefail

# The two kernels jazz is tested on, each resolved from its own suite:
# bookworm's 6.1 (bookworm-security's when it is newer) and
# bookworm-backports' 6.12. Never from the metapackage's candidate, which
# on a machine running a backports kernel (linux-image-amd64 installed from
# backports, or backports pinned) is the 6.12 one for both.
KERNEL_61_SUITES="bookworm bookworm-security"
KERNEL_612_SUITES="bookworm-backports"

# Versioned kernel package that linux-$1-amd64 depends on, in its highest
# version from the suites $2... Suites are matched by the codename (n=) of
# their Release files, as `apt-cache policy` lists them, so sources that say
# "oldstable-backports" or pin priorities change nothing.
kernel_pkg() { # $1 = image|headers, $2... = suite codenames
	local kind=$1 ver
	shift
	ver=$({ LC_ALL=C apt-cache policy; echo '@@'; LC_ALL=C apt-cache policy "linux-$kind-amd64"; } |
		awk -v want=" $* " '
		$0 == "@@" { table = 1; next }
		# "Package files:": an index line, then its Release fields.
		!table && /^ *-?[0-9]+ / { idx = $0; sub(/^ *-?[0-9]+ /, "", idx); next }
		!table && /^ +release / && match($0, /[ ,]n=[^,]*/) {
			code[idx] = substr($0, RSTART + 3, RLENGTH - 3); next }
		# The version table, highest version first: a version line,
		# then one line per index that carries it.
		table && /^(     | \*\*\* )[^ ]/ { v = ($1 == "***") ? $2 : $1; next }
		table && v != "" && /^ +-?[0-9]+ / {
			i = $0; sub(/^ *-?[0-9]+ /, "", i)
			if ((i in code) && index(want, " " code[i] " ")) { print v; exit }
		}')
	[ -n "$ver" ] || return 1
	LC_ALL=C apt-cache depends "linux-$kind-amd64=$ver" | awk '/^ *Depends: linux-/ { print $2; exit }'
}

resolve_kernels() {
	local kind var suites pkg
	for kind in image headers; do
		for var in 61 612; do
			suites=KERNEL_${var}_SUITES
			pkg=$(kernel_pkg "$kind" ${!suites}) || pkg=
			if [ -z "$pkg" ]; then
				echo "deps.sh: no linux-$kind-amd64 in ${!suites// / or } (apt sources; run apt-get update?)" >&2
				return 1
			fi
			printf -v "K${var}_${kind^^}" %s "$pkg"
		done
	done
	if [ "$K61_IMAGE" = "$K612_IMAGE" ]; then
		echo "deps.sh: 6.1 and 6.12 resolved to the same kernel $K61_IMAGE" >&2
		return 1
	fi
}

if [ "${1:-}" = --print-kernels ]; then
	resolve_kernels || exit 1
	echo "$K61_IMAGE $K61_HEADERS"
	echo "$K612_IMAGE $K612_HEADERS"
	exit 0
fi
[ $# -eq 0 ] || { echo "deps.sh: unknown argument '$1'" >&2; exit 2; }

[ "$(id -u)" = 0 ] || { echo "deps.sh: must run as root" >&2; exit 1; }

BACKPORTS=/etc/apt/sources.list.d/jazz-bookworm-backports.sources
STAMP=/var/lib/jazz-deps.stamp
HERE=$(cd "$(dirname "$0")" && pwd)

have_backports() {
	grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
}

if ! have_backports; then
	cat >"$BACKPORTS" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	rm -f "$STAMP"
fi

# Refresh the package lists at most once a day (or when the sources changed).
if [ ! -e "$STAMP" ] || [ -n "$(find "$STAMP" -mmin +1440)" ]; then
	apt-get update -qq
	touch "$STAMP"
fi

export DEBIAN_FRONTEND=noninteractive

resolve_kernels || exit 1

PKGS=(
	# build
	build-essential pkg-config kmod bc bison flex libelf-dev dkms
	# userspace libraries
	libmnl-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libssl-dev
	libkrb5-dev libhiredis-dev libjansson-dev libevent-dev libinih-dev
	uuid-dev  # jazzd: NS8 task ids (libuuid)
	libcmocka-dev python3-dev libsystemd-dev libmicrohttpd-dev
	# libFuzzer harnesses (tests/fuzz, make fuzz-userspace)
	clang libclang-rt-dev
	# the kernel packet fuzzer encrypts with python3-cryptography (tests/fuzz-kernel)
	python3-cryptography
	# Debian packages (make deb) and their checks (systemd-analyze); bash completion
	debhelper dh-dkms fakeroot lintian bash-completion curl systemd
	# the metrics tests parse the page with the reference Prometheus client parser
	python3-prometheus-client
	# systemd-nspawn: the units under a real systemd in the VM (tests/vm/systemd-units.sh)
	systemd-container
	# servers and tools the tests start
	krb5-kdc krb5-admin-server krb5-user redis-server redis-tools openssl
	# a Redis primary, replica and Sentinels for the cluster tests (issue 21)
	redis-sentinel
	iproute2 iperf3 wireguard-tools iputils-ping socat netcat-openbsd tcpdump
	# NAT namespaces of the NAT traversal tests (tests/vm/nat-*.sh)
	nftables conntrack
	# the VM harness and KUnit
	qemu-system-x86 busybox-static cpio xz-utils zstd linux-source-6.1 python3-yaml python3-jsonschema
	# kernels to test on: bookworm 6.1 and bookworm-backports 6.12
	"$K61_IMAGE" "$K61_HEADERS" "$K612_IMAGE" "$K612_HEADERS"
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	# Kernel images need no initramfs here: the VM harness builds its own.
	INITRD=No apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# linux-source-6.12 (for the kernel's YNL client) comes from backports or security.
if ! ls /usr/src/linux-source-6.12.tar.* >/dev/null 2>&1; then
	apt-get install -y -q --no-install-recommends linux-source-6.12 ||
		apt-get install -y -q --no-install-recommends -t bookworm-backports linux-source-6.12
fi

# The test servers are started by the tests themselves, never as system services.
for svc in redis-server redis-sentinel krb5-kdc krb5-admin-server; do
	systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

echo "deps.sh: kernels: ${K61_IMAGE#linux-image-} ${K612_IMAGE#linux-image-}"
