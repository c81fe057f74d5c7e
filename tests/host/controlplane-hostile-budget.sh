#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 15, item 3 (pre-login limits): the per-user budget of password key
# derivations (user_login_rate, user_login_burst). The server keeps no
# derived keys (key_cache = 0), so every password login would run
# string-to-key; the source limits are out of the way (login_rate 1000).
# Junk logins naming dave come from four sources at 40 per second: at
# most the budget of them reaches the key check (bad-key), the rest are
# answered rate-limited; meanwhile bob (another user, never logged in, his
# own budget) logs in. Real KDC-style keys, real jazzd. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
cp_server_conf "[server]" "key_cache = 0" "user_login_rate = 1" "user_login_burst = 4" \
	"login_rate = 1000" "login_burst = 1000" "max_per_source = 200" "login_timeout = 20"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }

w=()
for i in 2 3 4 5; do
	jzc -b 127.0.0.$i -m password -u dave -p wrong -d dave-junk junk 30 10 \
		>"$T/junk$i.out" 2>&1 &
	w+=($!)
done
sleep 1.5
jzc -b 127.0.0.1 -m password -u bob -p bobpw -d bob-pc login >"$T/bob.out" 2>&1
wait "${w[@]}"
cat "$T"/junk*.out | sed 's/^/# /'
echo "# bob during the flood: $(cat "$T/bob.out")"
sum() { # sum REASON: that answer's count over the four junk runs
	cat "$T"/junk*.out | grep -o "\[$1\]=[0-9]*" | awk -F= '{ s += $2 } END { print s + 0 }'
}
secs=$(cat "$T"/junk*.out | awk '{ if ($4 > m) m = $4 } END { print int(m) + 1 }')
keys=$(sum bad-key) limited=$(sum rate-limited)
allowed=$((4 + 1 * (secs + 1)))
echo "# 120 junk logins for dave in ${secs} s: $keys reached the key check (budget $allowed), $limited rate-limited"
check "all 120 junk logins were answered (bad-key or rate-limited)" test $((keys + limited)) = 120
check "at most the budget (burst 4 + 1/s) of them ran a key derivation" test "$keys" -le "$allowed"
check "the rest were refused before any derivation (rate-limited)" test "$limited" -ge $((120 - allowed))
check "the server says why: too many logins for this user" \
	grep -q "too many logins for this user" "$T/server.log"
check "bob logs in during dave's flood (his own budget)" grep -q "^welcome " "$T/bob.out"
r=$(jzc -b 127.0.0.1 -m password -u carol -p carolpw -d carol-pc login 2>&1)
echo "# carol after the flood: $r"
check "carol logs in after it" grep -q "^welcome " <<<"$r"
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
