#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# First-packet wait with on-demand pair keys (issue 18, item 3): how long
# an approved connection's first packet is held when the pair has no key
# yet (approval + Noise_KK handshake through the server) beside a pair
# that has one (approval only). A real jazzd server (TLS 1.3, the sample
# plugin's peer_connection, real KDC) and two jazzd clients with the fake
# kernel backend, all on loopback.
#
# Each round: alice's kernel (the fake's FIFO) asks about a new connection
# to bob after bob's pair went idle and both ends dropped its keys
# ([client] pair_idle = 8): approval + handshake. Then, with the key in
# place and after the same kind of pause (3 s: on this machine a process
# that slept answers slower than one that just ran, docs/TEAM-NOTES.md),
# a second connection on another port (a new peer_connection call, not
# the server's verdict cache): approval only. Both are the client's
# own measure (client/demand.c, from the kernel's request reaching jazzd
# to the verdict going into the kernel; the clients log at debug level,
# which the approval-only line needs); the kernel's hold before it and
# the release after it are not included (the VM's e2e prints a real
# first ping's round trip).
#
# Usage: scripts/bench-demand.sh [-r ROUNDS]
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
R=20
while getopts r: o; do
	case $o in
	r) R=$OPTARG ;; *) exit 2 ;;
	esac
done
CMD="scripts/bench-demand.sh -r $R"
. "$TOP/tests/host/controlplane/lib.sh"
nice make -s -C "$TOP" userspace >/dev/null || exit 1
cp_setup || exit 1
cp_server_conf "[server]" "keepalive = 5" "[jazzd]" "log_level = warning"
"$JAZZD" -f -c "$T/server.conf" >"$T/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	ss -Hltn "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ss -Hltn "sport = :$PORT" | grep -q . || { echo "server did not start"; cat "$T/server.log"; exit 1; }
CP_PAIR_HANDSHAKE="on-demand"
cp_client_conf alice-pc alice kerberos "pair_idle = 8"
cp_client_conf bob-pc bob password "pair_idle = 8"
cp_start alice-pc
wait_for "$T/alice-pc.log" "logged in as alice" 10 || exit 1
cp_start bob-pc
wait_for "$T/bob-pc.log" "logged in as bob" 10 || exit 1
A=$(sed -n 's/.*logged in as .*(id [0-9]*): \([0-9.]*\) .*/\1/p' "$T/alice-pc.log" | tail -1)
B=$(sed -n 's/.*logged in as .*(id [0-9]*): \([0-9.]*\) .*/\1/p' "$T/bob-pc.log" | tail -1)
wait_for "$T/alice-pc.kernel" "^peer-new id=2 " 10 || exit 1

keyed() { awk '/^key-new peer=2 / { k = 1 } /^key-del peer=2 slot=secondary/ { k = 0 } END { exit !k }' "$T/alice-pc.kernel"; }
for i in $(seq "$R"); do
	# both ends idle and without keys
	for _ in $(seq 200); do keyed || break; sleep 0.1; done
	sleep 1.2
	n=$(count "$T/alice-pc.log" "first packet held")
	inject alice-pc "request proto=tcp src=$A:$((30000 + i)) dst=$B:80 cookie=$((100 + i))"
	for _ in $(seq 100); do [ "$(count "$T/alice-pc.log" "first packet held")" -gt "$n" ] && break; sleep 0.05; done
	sleep 3
	n=$(count "$T/alice-pc.log" "verdict after")
	inject alice-pc "request proto=tcp src=$A:$((40000 + i)) dst=$B:81 cookie=$((500 + i))"
	for _ in $(seq 100); do [ "$(count "$T/alice-pc.log" "verdict after")" -gt "$n" ] && break; sleep 0.05; done
done

# "first packet held T ms: approval A ms + handshake H ms" / "verdict after V ms"
sed -n 's/.*first packet held \([0-9]*\) ms: approval \([0-9]*\) ms + handshake \([0-9]*\) ms.*/\1 \2 \3/p' \
	"$T/alice-pc.log" >"$T/held.txt"
sed -n 's/.*peer bob-pc: verdict after \([0-9]*\) ms.*/\1/p' "$T/alice-pc.log" >"$T/only.txt"
stats() { # column of a file: median p90 max (ms)
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) { print "- - - 0"; exit }
		      printf "%s %s %s %d\n", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5) ? int(NR * 0.9 + 0.5) : 1], v[NR], NR }'
}
read -r tm t9 tx tn < <(stats "$T/held.txt" 1)
read -r am a9 ax _ < <(stats "$T/held.txt" 2)
read -r hm h9 hx _ < <(stats "$T/held.txt" 3)
read -r om o9 ox on < <(stats "$T/only.txt" 1)
echo "# $CMD ($(date -u '+%F %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "| first packet of a connection alice -> bob | n | median (ms) | p90 (ms) | max (ms) |"
echo "| --- | --- | --- | --- | --- |"
echo "| no key yet: approval + handshake, held in all | $tn | $tm | $t9 | $tx |"
echo "| ... of which the approval | $tn | $am | $a9 | $ax |"
echo "| ... of which the handshake (messages 1 and 2 relayed) | $tn | $hm | $h9 | $hx |"
echo "| key in place: approval only | $on | $om | $o9 | $ox |"
cp_done >/dev/null
