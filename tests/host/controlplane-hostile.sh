#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 15, item 1: a logged-in device acting for another one. mallory
# (the test client's hostile "forge" mode) asks about connections "ingress"
# from alice-pc's address with a cookie of its own choosing. A verdict may
# go only to the device that asked, about its own connection, and a cookie
# only back to the device that chose it: alice-pc's (fake) kernel must never
# get mallory's cookie, whether the two see each other or peer_filter hides
# them. The in-flight limit holds on this path too. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
# carol-pc is hidden from mallory both ways; alice and mallory see each other
export JAZZ_SAMPLE_HIDE="mallory:carol-pc,carol:mal-pc"
cp_server_conf
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }

for who in alice:alice-pc:kerberos carol:carol-pc:password; do
	IFS=: read -r u d m <<<"$who"
	cp_client_conf "$d" "$u" "$m"
	cp_start "$d"
	wait_for "$T/server.log" "login: $u@$KDC_REALM device $d " 10 ||
		nok "$d logs in"
done
vip() { sed -n "s/.*login: [a-z]*@[^ ]* device $1 .* -> \([0-9.]*\) .*/\1/p" "$T/server.log" | tail -1; }
VA=$(vip alice-pc)
VC=$(vip carol-pc)
check "alice-pc and carol-pc have addresses ($VA, $VC)" test -n "$VA" -a -n "$VC"

# linked pair: mallory forges "ingress from alice-pc" with cookie 4242
jzc -m password -u mallory -p malpw -d mal-pc forge "$VA" 4242 1 >"$T/forge1.out" 2>&1
sed 's/^/# /' "$T/forge1.out"
check "mallory logged in" grep -q "^welcome " "$T/forge1.out"
sleep 0.5
check "alice-pc's kernel never got mallory's cookie (linked pair)" \
	bash -c "! grep -q 'cookie=4242' '$T/alice-pc.kernel'"
check "alice-pc's kernel got no verdict for mallory's forged tuple" \
	bash -c "! grep -q 'verdict .*$VA:40000->' '$T/alice-pc.kernel'"
check "mallory got its answer, for its own side (ingress)" \
	grep -Eq "^verdict ingress 4242 (approve|deny)$" "$T/forge1.out"

# hidden pair: mallory forges "ingress from carol-pc" with cookie 4343
jzc -m password -u mallory -p malpw -d mal-pc forge "$VC" 4343 1 >"$T/forge2.out" 2>&1
sed 's/^/# /' "$T/forge2.out"
sleep 0.5
check "carol-pc's kernel never got mallory's cookie (hidden pair)" \
	bash -c "! grep -q 'cookie=4343' '$T/carol-pc.kernel'"
check "carol-pc's kernel got no verdict at all from mallory's request" \
	bash -c "! grep -q '^verdict ' '$T/carol-pc.kernel'"
check "mallory is denied (no such reachable device)" \
	grep -Eq "^verdict ingress 4343 deny$" "$T/forge2.out"

# in-flight limit on the ingress path: 2000 requests at once, a slow policy
# would pile them up; the server must cap what it has outstanding per device
n0=$(count "$T/server.log" "peer_connection mallory|peer_connection alice")
jzc -m password -u mallory -p malpw -d mal-pc forge "$VA" 5151 2000 >"$T/forge3.out" 2>&1
tail -1 "$T/forge3.out" | sed 's/^/# /'
sleep 0.5
check "alice-pc's kernel got none of 2000 forged cookies" \
	bash -c "! grep -q 'cookie=5151' '$T/alice-pc.kernel'"
check "no pending-verdict entries left at alice-pc's expense (no verdict ack timeouts)" \
	bash -c "! grep -q 'did not confirm verdict' '$T/server.log'"

# in-flight limit on the egress path: a destination that never acks
# (mute) would keep every verdict pending for 2 s; the asker may not have
# more than 256 of them
jzc -m password -u dave -p davepw -d mute-pc mute 12 >"$T/mute.out" 2>&1 &
mp=$!
wait_for "$T/server.log" "login: dave@$KDC_REALM device mute-pc " 10
VM=$(vip mute-pc)
sleep 1.5
JZ_FORGE_DIR=egress jzc -m password -u mallory -p malpw -d mal-pc forge "$VM" 6161 1000 \
	>"$T/forge4.out" 2>&1
tail -1 "$T/forge4.out" | sed 's/^/# /'
check "1000 requests to a destination that never acks: the in-flight limit answers deny" \
	grep -q "approval from mal-pc: 256 requests already pending; denied" "$T/server.log"
check "... to the asker only, with its own cookie" grep -q "^verdict egress 6161 deny$" "$T/forge4.out"
wait $mp

# a real connection of alice's still works afterwards, with her own cookie
inject alice-pc "request proto=tcp src=$VA:40000 dst=$VC:80 cookie=7"
check "alice's own request gets her cookie back" \
	wait_for "$T/alice-pc.kernel" "verdict (approve|deny) peer=[0-9]+ cookie=7 " 5
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
