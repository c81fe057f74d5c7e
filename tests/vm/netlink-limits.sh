#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Netlink defects of issue 14, each of which failed on the main of
# 2026-12-04 (commit 8cb5b22):
#
#   #2 peer-get (do) of a peer with 300 allowed-ips answered EMSGSIZE; a
#      dump of a device whose peer has thousands answered EMSGSIZE with no
#      message, so `jazzctl show` could not show it. Now the allowed-ips
#      are split across messages (do and dump) and jazzctl merges them;
#   dumps resumed by index had no consistency check: a peer or conn dump
#      that spans a change is now marked NLM_F_DUMP_INTR;
#   limits: peers and allowed-ips per device (module parameters
#      max_peers, max_allowedips) refused with ENOSPC and an extack text;
#   #6 the notify group (peer endpoints) refused to uid 65534;
#   the user-namespace boundary (needs user namespaces in the guest):
#      an admin of a user namespace that was handed a host-created device
#      configures its peers but may not change its listen-port or fwmark
#      (the sockets live in the host's namespace): EPERM, like WireGuard;
#      on a device it created itself it may.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/netlink-limits.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip setpriv
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude
P=/sys/module/jazz/parameters

ns_add n1
n1 ip link add jazz0 type jazz
n1 ip link set jazz0 up
check "peers 1 and 2" n1 "$JZ" set jazz0 peer 1 endpoint 10.9.0.1:1000 peer 2 endpoint 10.9.0.2:1000

# --------------------------------------------------- big peers (#2)
check "peer 1 gets 300 IPv6 allowed-ips" n1 $PY "$NLT" bigpeer jazz0 1 300 v6
out=$(n1 $PY "$NLT" peerget jazz0 1)
check_eq "peer-get (do), 300 allowed-ips: one message, all of them" "$out" "messages 1 aips 300 peers 1 error 0"
check "peer 2 gets 5000 IPv4 allowed-ips" n1 $PY "$NLT" bigpeer jazz0 2 5000 v4
out=$(n1 $PY "$NLT" peerget jazz0 2)
check_eq "peer-get (do), 5000 allowed-ips: all of them, one peer" "$(echo "$out" | sed 's/^messages [0-9]* //')" "aips 5000 peers 1 error 0"
check_eq "... in several messages" "$(echo "$out" | awk '{ print ($2 > 1) }')" 1
# A multi-part peer-get (do) answer is a dump that outlives the request:
# while a reader holds it half read, the module cannot go (the dump pins it).
coproc STALL { n1 $PY "$NLT" peergetstall jazz0 2; }
read -r line <&"${STALL[0]}"
check_eq "a reader stops after the first part of a peer-get (do) answer" "$line" stalled
check "rmmod is refused while that answer is pending (module in use)" \
	bash -c 'out=$(rmmod jazz 2>&1) && exit 1; echo "$out" | grep -q "in use"'
exec {STALL[1]}>&-
wait "$STALL_PID"
check "jazz is still loaded and serves" n1 "$JZ" show jazz0 peers
# A do answered as a dump while the same socket reads another dump: the
# do once started its dump holding genl_mutex, the dump's reads take them
# the other way round, and the two deadlocked every genetlink family.
check "peer-get (do) of a big peer and a dump on one socket, 8 s: no thread stuck" \
	n1 timeout 60 $PY "$NLT" peergetrace jazz0 2 8
check "generic netlink still answers afterwards" n1 timeout 10 "$JZ" show jazz0 peers
out=$(n1 $PY "$NLT" peerdump jazz0)
check_eq "peer-get dump: both peers, every allowed-ip" "$(echo "$out" | sed 's/^messages [0-9]* //')" "peers 2 aips 5300 intr 0 error 0"
check_eq "jazzctl show lists the 5300 allowed-ips" "$(n1 "$JZ" show jazz0 allowed-ips | tr '\t ' '\n\n' | grep -c /)" 5300

# ---------------------------------------- dump consistency (review)
n1 $PY "$NLT" peerchurn jazz0 15 100 >/dev/null 2>&1 &
churn=$!
intr=0 bad=0
for i in $(seq 30); do
	out=$(n1 $PY "$NLT" peerdump jazz0)
	case "$out" in *"intr 1"*) intr=$((intr + 1)) ;; esac
	case "$out" in *"error 0"*) ;; *) bad=$((bad + 1)); diag "$out" ;; esac
	kill -0 "$churn" 2>/dev/null || break
done
wait "$churn"
diag "$intr dumps interrupted"
check_eq "dumps spanning changes are marked NLM_F_DUMP_INTR" "$([ "$intr" -gt 0 ] && echo y)" y
check_eq "every dump ends cleanly" "$bad" 0

# ----------------------------------- conn dump consistency (review)
# conn-get dumps resume by position in the table's list: an entry deleted
# between two parts shifts the rest, so one is skipped or shown twice. A
# dump that spans a change must carry NLM_F_DUMP_INTR (the table's
# generation in cb->seq); one that does not must be a consistent list.
check "1500 connection entries for peer 1" n1 $PY "$NLT" connfill jazz0 1 1500
out=$(n1 $PY "$NLT" conndump jazz0)
check_eq "conn-get dump at rest: every entry once, not interrupted" "$(echo "$out" | sed 's/^messages [0-9]* //')" "conns 1500 dups 0 intr 0 error 0"
check_eq "... in several messages" "$(echo "$out" | awk '{ print ($2 > 1) }')" 1
check_eq "jazzctl conns reads the multi-part dump: 1500 distinct entries" \
	"$(n1 "$JZ" conns jazz0 | grep -o ' 10\.66\.[0-9.]*:1000 ' | sort -u | wc -l)" 1500
n1 $PY "$NLT" connchurn jazz0 1 15 1500 >"$T/connchurn" 2>&1 &
churn=$!
intr=0 bad=0
for i in $(seq 30); do
	out=$(n1 $PY "$NLT" conndump jazz0)
	case "$out" in
	*"intr 1 error 0") intr=$((intr + 1)) ;;
	# Not interrupted: no change during the dump, at most the one entry
	# the churn had deleted and not yet put back is missing.
	*" conns 1500 dups 0 intr 0 error 0" | *" conns 1499 dups 0 intr 0 error 0") ;;
	*) bad=$((bad + 1)); diag "$out" ;;
	esac
	kill -0 "$churn" 2>/dev/null || break
done
wait "$churn"
diag "$intr of $i conn dumps interrupted; churn: $(cat "$T/connchurn")"
check_eq "conn dumps spanning changes are marked NLM_F_DUMP_INTR" "$([ "$intr" -gt 0 ] && echo y)" y
check_eq "every other conn dump is consistent" "$bad" 0
check "conn flush" n1 "$JZ" conn jazz0 flush

# ------------------------------------------------------ limits (review)
for p in $(seq 101 108); do n1 "$JZ" set jazz0 peer "$p" remove 2>/dev/null; done
old_peers=$(cat $P/max_peers) old_aips=$(cat $P/max_allowedips)
on_exit sh -c "echo $old_peers > $P/max_peers; echo $old_aips > $P/max_allowedips"
echo 3 >$P/max_peers
check "a third peer fits max_peers=3" n1 "$JZ" set jazz0 peer 3
out=$(n1 "$JZ" set jazz0 peer 4 2>&1)
check_eq "a fourth is refused: ENOSPC with the limit named" "$?:$(echo "$out" | grep -c 'max_peers')" "1:1"
echo 5302 >$P/max_allowedips
check "two more allowed-ips fit max_allowedips" n1 "$JZ" set jazz0 peer 3 allowed-ips 10.77.0.1/32,10.77.0.2/32
out=$(n1 "$JZ" set jazz0 peer 3 allowed-ips 10.77.0.3/32 2>&1)
check_eq "one more is refused: ENOSPC with the limit named" "$?:$(echo "$out" | grep -c 'max_allowedips')" "1:1"
check "an existing prefix can still move to another peer" n1 "$JZ" set jazz0 peer 1 allowed-ips 10.77.0.2/32
check "removing a peer frees its allowed-ips" n1 "$JZ" set jazz0 peer 3 remove
check "then new ones fit" n1 "$JZ" set jazz0 peer 1 allowed-ips 10.77.0.4/32
echo "$old_peers" >$P/max_peers
echo "$old_aips" >$P/max_allowedips

# ------------------------------------------------- notify group (#6)
out=$(n1 setpriv --reuid 65534 --regid 65534 --clear-groups $PY "$NLT" unpriv jazz0 2>&1)
case "$out" in
*"PASS unprivileged join of 'notify' refused"*) ok "uid 65534 cannot join the notify group" ;;
*) not_ok "uid 65534 cannot join the notify group" "$out" ;;
esac

# ----------------------------------------- user-namespace admin (review)
if setpriv --reuid 65534 --regid 65534 --clear-groups unshare -U -r -n true 2>/dev/null; then
	mkdir -m 777 "$T/u"
	setpriv --reuid 65534 --regid 65534 --clear-groups unshare -U -r -n sh -c "echo \$\$ > $T/u/pid; exec sleep 120" &
	_T_PIDS+=($!)
	wait_for 10 test -s "$T/u/pid"
	upid=$(cat "$T/u/pid")
	ip link add jzhost type jazz
	ip link set jzhost netns "$upid"
	u() { nsenter -t "$upid" -U -n "$@"; }
	u ip link set jzhost up
	check "userns admin: peers of a handed-over device" u "$JZ" set jzhost peer 1 endpoint 10.9.0.1:1000 allowed-ips 10.8.0.1/32
	out=$(u "$JZ" set jzhost listen-port 30000 2>&1)
	check_eq "userns admin: its listen-port is refused (EPERM)" "$?:$(echo "$out" | grep -c 'not permitted')" "1:1"
	out=$(u "$JZ" set jzhost fwmark 7 2>&1)
	check_eq "userns admin: its fwmark is refused (EPERM)" "$?:$(echo "$out" | grep -c 'not permitted')" "1:1"
	check "userns admin: a device of its own" u ip link add jzown type jazz
	check "userns admin: its own device's listen-port" u "$JZ" set jzown listen-port 30001 fwmark 7
	u ip link del jzown
	u ip link del jzhost
else
	skip "user-namespace admin boundary" "no user namespaces in this guest (chroot)"
fi

n1 ip link del jazz0
check "every object freed" wait_for 15 bash -c '[ "$(cat '$P'/objects)" = "devices 0 peers 0 keys 0" ]'
dmesg_check
