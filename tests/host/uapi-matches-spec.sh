#!/usr/bin/env bash
# netlink/jazz.h must be what the kernel's ynl-gen-c.py makes of
# netlink/jazz.yaml (scripts/ynl.sh regen after changing the spec).
TOP=$(cd "$(dirname "$0")/../.." && pwd)
if out=$(bash "$TOP/scripts/ynl.sh" check 2>&1); then
	echo "ok 1 - netlink/jazz.h matches netlink/jazz.yaml"
	echo "1..1"
else
	echo "not ok 1 - netlink/jazz.h matches netlink/jazz.yaml"
	printf '%s\n' "$out" | sed 's/^/#   /'
	echo "1..1"
	exit 1
fi
