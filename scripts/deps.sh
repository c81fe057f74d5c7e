#!/usr/bin/env bash
# Install everything jazz needs to build, test and demo on Debian 12 (bookworm).
# Idempotent: packages already present are left alone; safe to run again.
set -euo pipefail

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

# Versioned kernel package a metapackage depends on, for a given suite.
kernel_pkg() { # $1 = image|headers, $2 = suite ("" for the default)
	local ver
	if [ -n "$2" ]; then
		ver=$(apt-cache policy "linux-$1-amd64" | awk -v s="$2" '
			/^(     | \*\*\* )[^ ]/ { v = ($1 == "***") ? $2 : $1 }
			$0 ~ s"/main" && v != "" { print v; exit }')
	else
		ver=$(apt-cache policy "linux-$1-amd64" | awk '/Candidate:/ { print $2 }')
	fi
	apt-cache depends "linux-$1-amd64=$ver" | awk '/Depends: linux-/ { print $2; exit }'
}

K61_IMAGE=$(kernel_pkg image "")
K61_HEADERS=$(kernel_pkg headers "")
K612_IMAGE=$(kernel_pkg image bookworm-backports)
K612_HEADERS=$(kernel_pkg headers bookworm-backports)

PKGS=(
	# build
	build-essential pkg-config kmod bc bison flex libelf-dev dkms
	# userspace libraries
	libmnl-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libssl-dev
	libkrb5-dev libhiredis-dev libjansson-dev libevent-dev libinih-dev
	uuid-dev  # jazzd: NS8 task ids (libuuid)
	libcmocka-dev python3-dev
	# servers and tools the tests start
	krb5-kdc krb5-admin-server krb5-user redis-server redis-tools openssl
	iproute2 iperf3 wireguard-tools iputils-ping socat netcat-openbsd tcpdump
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
for svc in redis-server krb5-kdc krb5-admin-server; do
	systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

echo "deps.sh: kernels: ${K61_IMAGE#linux-image-} ${K612_IMAGE#linux-image-}"
