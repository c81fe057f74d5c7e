#!/usr/bin/env bash
# The README's first command: install what is missing, build, boot the stock
# Debian 12 kernel in QEMU and run a whole jazz network inside it: an MIT
# KDC, Redis, a jazzd server and three jazzd clients (alice, bob, carol),
# each in its own network namespace behind a router namespace. alice logs
# in with a kinit ticket, bob with a password and a one-time code (events.py),
# carol with a keytab; alice's connections to bob are approved and go
# directly between their devices, alice's to carol are denied, handler
# scripts record the events from Redis. Prints what happened as it goes.
#
#   bash scripts/demo.sh [--kernel 6.1|6.12]
#
# The scenario is tests/e2e/scenario.sh --demo (tests/vm/e2e.sh runs the same
# one plus restarts, roaming, key rotation and failures); logs: out/demo/.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
KERNEL=6.1
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=${2:?--kernel needs a value}; shift ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
echo "== booting Linux $KERNEL in QEMU (software emulation: this takes a few minutes)"
rc=0
bash scripts/vm.sh --kernel "$KERNEL" --out "$TOP/out/demo" --timeout 900 \
	-- tests/e2e/scenario.sh --demo || rc=$?
cat <<EOF

== where to look (out/demo/)
   e2e/srv.log          the jazzd server: logins, events.py's decisions (e2e: ...), events
   e2e/alice.log, bob.log, carol.log    the clients' jazzd: login, peers, keys, verdicts
   e2e/events.log       written by the handler step tests/e2e/handlers/10-record
                        (one line per event jazzd received from Redis)
   e2e/connections.log  written by the eventsgw.conf action record-connection
   e2e/kdc/kdc.log      the MIT KDC     e2e/*.show-*.txt  jazzctl show snapshots
   results/*.dmesg      the guest's kernel log     console-*.log  the VM console
   configuration: e2e/server.conf, e2e/alice.conf ...; policy: tests/e2e/events.py
   how it fits together: docs/ARCHITECTURE.md ("End to end")
EOF
if [ "$rc" = 0 ]; then
	echo "== demo finished: every step passed"
else
	echo "== demo FAILED (exit $rc): see the 'not ok' lines above and out/demo/" >&2
fi
exit "$rc"
