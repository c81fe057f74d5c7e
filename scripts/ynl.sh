#!/usr/bin/env bash
# The kernel's own YNL tools (from Debian's linux-source-6.12), unpacked once
# into a cache outside the repository.
#   scripts/ynl.sh dir          print the unpacked tools/net/ynl directory
#   scripts/ynl.sh regen        regenerate netlink/jazz.h from netlink/jazz.yaml
#   scripts/ynl.sh check        fail if netlink/jazz.h differs from the spec
#   scripts/ynl.sh cli ARGS...  run tools/net/ynl/cli.py on the jazz spec
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${JAZZ_CACHE:-/var/cache/jazz}
SRC_TAR=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n1 || true)
TREE=$CACHE/ynl-6.12

unpack() {
	[ -f "$TREE/.done" ] && return
	[ -n "$SRC_TAR" ] || { echo "ynl.sh: linux-source-6.12 is not installed (scripts/deps.sh)" >&2; exit 1; }
	rm -rf "$TREE" && mkdir -p "$TREE"
	tar -xf "$SRC_TAR" -C "$TREE" --strip-components=1 \
		--wildcards '*/tools/net/ynl/*' '*/Documentation/netlink/*.yaml'
	touch "$TREE/.done"
}

# ynl-gen-c.py finds the schema next to the spec's parent directory and names
# the spec by its path below a directory holding MAINTAINERS: lay out a tiny
# tree so the generated header says "netlink/jazz.yaml".
spec_tree() {
	local t
	t=$(mktemp -d)
	touch "$t/MAINTAINERS"
	cp "$TREE/Documentation/netlink/genetlink-legacy.yaml" "$t/"
	mkdir "$t/netlink" && cp "$TOP/netlink/jazz.yaml" "$t/netlink/"
	echo "$t"
}

generate() { # $1 = output file
	local t
	t=$(spec_tree)
	(cd "$TREE/tools/net/ynl" &&
		/usr/bin/python3 ynl-gen-c.py --mode uapi --header --spec "$t/netlink/jazz.yaml" -o "$1")
	rm -rf "$t"
}

unpack
case "${1:-}" in
dir) echo "$TREE/tools/net/ynl" ;;
regen) generate "$TOP/netlink/jazz.h" ;;
check)
	out=$(mktemp)
	generate "$out"
	if ! diff -u "$TOP/netlink/jazz.h" "$out"; then
		rm -f "$out"
		echo "ynl.sh: netlink/jazz.h does not match netlink/jazz.yaml; run scripts/ynl.sh regen" >&2
		exit 1
	fi
	rm -f "$out"
	echo "ynl.sh: netlink/jazz.h matches netlink/jazz.yaml"
	;;
cli)
	shift
	t=$(spec_tree)
	trap 'rm -rf "$t"' EXIT
	/usr/bin/python3 "$TREE/tools/net/ynl/cli.py" --spec "$t/netlink/jazz.yaml" "$@"
	;;
*) echo "usage: scripts/ynl.sh dir|regen|check|cli ARGS..." >&2; exit 2 ;;
esac
