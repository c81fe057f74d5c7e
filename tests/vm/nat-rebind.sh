#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A NAT's mapping changes mid-flow (issue 20): alice and carol behind
# NATs that drop unsolicited packets (tests/vm/lib-nat.sh "NAT world")
# have a punched direct path; while alice pings carol five times a second,
# alice's NAT gets a new public address (an ISP's new lease: its
# connection table is gone, and every mapping with it). alice's next STUN
# refresh ([client] stun_interval = 2 s here) finds the new mapping; she
# sends her new candidates and punches again, carol gets them in a delta
# and punches too, and the path comes back, direct, to alice's new
# mapping. Stated recovery: the change is seen within one stun_interval,
# the path is back within 10 s after that (one punch); the pings lost
# must fit in stun_interval + 10 s (here 12 s: 60 pings), and every
# ping after the recovery is answered. About 100 s on a stock kernel
# under TCG; skipped without nftables NAT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-pair.sh"
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib-nat.sh"

natw_up
natw_rules na masq drop
natw_rules nc masq drop
natw_start alice carol
check "alice logs in with her public mapping" natw_online alice
check "carol too" natw_online carol
check "alice's pings reach carol" natw_ping alice carol
check "the path is direct: carol's kernel sends to alice's 10.0.1.2:51820" \
	wait_for 20 sh -c "[ \"\$(ip netns exec $(ns_name carol) $JZ show jazz0 --json | grep -o '10.0.1.2:51820' | head -n 1)\" = 10.0.1.2:51820 ]"

to=$(natw_vip carol)
alice ping -D -i 0.2 -c 250 -W 1 "$to" >"$W/ping.out" 2>&1 &
PING=$!
sleep 8
date +%s.%N >"$W/changed"
na ip addr del 10.0.1.2/24 dev wan
na ip addr add 10.0.1.3/24 dev wan
na ip route replace default via 10.0.1.1
na conntrack -F >/dev/null 2>&1
check "alice's next refresh finds the new mapping" \
	natw_wait 30 alice "jazz0 moved from 10.0.1.2:51820 to 10.0.1.3:51820"
check "alice sends her new candidates" \
	natw_wait 30 alice "candidates: [0-9]+ sent to the server \(public mapping"
check "carol punches to alice's new mapping" \
	natw_wait 40 carol "path to alice-pc: direct to 10.0.1.3:51820 \(srflx candidate, punched"
check "carol's kernel sends to alice's new mapping" \
	wait_for 20 sh -c "ip netns exec $(ns_name carol) $JZ show jazz0 --json | grep -q '10.0.1.3:51820'"
wait "$PING"
# the longest run of unanswered pings after the change, and the answers after it
$PY - "$W/ping.out" "$(cat "$W/changed")" >"$W/loss" <<'PYEOF'
import re, sys
seqs = set()
for line in open(sys.argv[1]):
    m = re.search(r"icmp_seq=(\d+)", line)
    if m and "bytes from" in line:
        seqs.add(int(m.group(1)))
last = 250
lost = [s for s in range(1, last + 1) if s not in seqs]
run = best = 0
prev = None
for s in range(1, last + 1):
    run = run + 1 if s not in seqs else 0
    best = max(best, run)
tail_ok = all(s in seqs for s in range(last - 20, last + 1))
print(len(lost), best, int(tail_ok))
PYEOF
read -r lost gap tail_ok <"$W/loss"
diag "pings: 250 at 5/s, $lost lost in all, the longest gap $gap pings ($(( gap / 5 )) s)"
check "the path came back: the last 20 pings were answered" test "$tail_ok" = 1
check "the loss fits the stated recovery (stun_interval + 10 s = 60 pings; lost $gap in a row)" \
	test "$gap" -le 60
natw_stop alice carol
check "the server is still running" kill -0 "$NATW_SRV"
check "no client or server logged an error" \
	sh -c "! grep -E '\[(err|crit)\]' '$W/alice.log' '$W/carol.log' '$W/srv.log'"
dmesg_check "kernel log clean"
