#!/usr/bin/env bash
# The README's first command: install what is missing, build, boot the stock
# Debian 12 kernel in QEMU and run a two-host jazz tunnel inside it with a
# direct-connection check answered from userspace. Prints what happened.
#
#   bash scripts/demo.sh [--kernel 6.1|6.12]
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
KERNEL=6.1
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=${2:?--kernel needs a value}; shift ;;
	-h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "demo.sh: must run as root" >&2; exit 2; }

echo "== installing what is missing (scripts/deps.sh)"
bash scripts/deps.sh
echo "== building jazzctl, jazzd and jazz.ko for the stock kernels"
make -s userspace
bash scripts/build-kmod.sh >/dev/null
echo "== booting Linux $KERNEL in QEMU (software emulation: give it a minute)"
exec bash scripts/vm.sh --kernel "$KERNEL" --out "$TOP/out/demo" -- scripts/demo-guest.sh
