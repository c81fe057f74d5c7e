#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# User namespaces in the guest: an unprivileged user (uid 65534, no
# capabilities) creates a user + net namespace with `unshare -U -r -n`, is
# root there, and administers that namespace's network (and a jazz device
# in it), while outside it the same user is refused. This needs the VM's
# root to be a real mount namespace root (scripts/vm-init switch_root), not a
# chroot: the kernel refuses CLONE_NEWUSER to chrooted processes (EPERM).
#
# Usage (inside the VM): scripts/vm.sh --each tests/vm/userns.sh
. "$(dirname "$0")/lib.sh"

need_root
need_cmd unshare setpriv ip
dmesg_mark

# nobody CMD...: run CMD as uid/gid 65534 with no supplementary groups and
# no capabilities.
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"; }

check "uid 65534 is really unprivileged: creating a dummy link in the initial netns is refused" \
	sh -c '! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- ip link add jzun0 type dummy 2>/dev/null'
check_eq "uid 65534 sees itself as 65534 outside" "$(nobody id -u)" 65534

out=$(nobody unshare -U -r -n sh -c 'id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/net' 2>&1)
rc=$?
if [ $rc = 0 ]; then
	ok "uid 65534 creates a user + net namespace (unshare -U -r -n)"
else
	not_ok "uid 65534 creates a user + net namespace (unshare -U -r -n)" "exit $rc: $out"
fi
set -- $out
check_eq "inside it, uid 0" "${1:-}" 0
check "its user namespace is a new one" test "${2:-}" != "$(readlink /proc/self/ns/user)"
check "its net namespace is a new one" test "${3:-}" != "$(readlink /proc/self/ns/net)"

# Admin of its own netns: addresses, routes, a veth pair (built in or loaded
# by root first: a user namespace cannot load modules).
modprobe veth 2>/dev/null
check "in its netns, uid 65534 brings lo up, adds an address and pings it" \
	nobody unshare -U -r -n sh -c 'ip link set lo up && ip addr add 10.77.0.1/24 dev lo && ping -c 1 -W 5 10.77.0.1 >/dev/null'
check "in its netns, uid 65534 creates a veth pair with addresses on both ends" \
	nobody unshare -U -r -n sh -c 'ip link add va type veth peer name vb && ip addr add 10.78.0.1/24 dev va && ip addr add 10.78.0.2/24 dev vb && ip link set va up && ip link set vb up && ip -o addr show dev vb | grep -q 10.78.0.2'
check "the namespace is gone with its last process (no veth left in the initial netns)" \
	sh -c '! ip link show va 2>/dev/null'

# jazz from a user namespace: root loads the module, the unprivileged user's
# namespace root creates a device and reads it back over generic netlink.
if modprobe jazz 2>/dev/null && [ -x "$JAZZ_TOP/build/jazzctl" ]; then
	check "in its netns, uid 65534 creates a jazz device and jazzctl shows it" \
		nobody unshare -U -r -n sh -c "ip link add jz0 type jazz && \"$JAZZ_TOP/build/jazzctl\" show jz0 >/dev/null"
	check "outside a user namespace uid 65534 cannot create a jazz device" \
		sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- ip link add jzun1 type jazz 2>/dev/null"
else
	not_ok "jazz.ko and build/jazzctl available (scripts/build-kmod.sh, make userspace)"
fi

dmesg_check "kernel log clean"
