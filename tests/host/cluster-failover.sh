#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Failures of a jazz cluster (issue 21, stage 3), all on loopback with the
# fake kernel backend: three jazzd servers (a, b, c) on a Redis primary
# with one replica and three Sentinels (short timeouts: a primary is down
# after 1 s), a fourth server (d) reaching Redis through a proxy this test
# can stop, and real jazzd clients each listing the servers in another
# order ([client] servers =). Real KDC and TLS.
#   1. server a is SIGKILLed: its devices are logged in on b or c within
#      10 s with the same addresses, the others never notice, no address is
#      leased twice, and the device-moved events name a;
#   2. the same device logging in on two servers at once ends with exactly
#      one session;
#   3. server d is cut off from Redis: after session_ttl_ms it drops its
#      device (which moves to b) and refuses logins, saying why; when
#      Redis is back it takes logins again;
#   4. the Redis primary is SIGKILLed: the Sentinels promote the replica,
#      the servers follow it, logins resume, and a lease written before the
#      failure (with WAIT 1) is there;
#   5. the old primary comes back as a replica and a planned switch-over
#      (SENTINEL FAILOVER) makes it the primary again: the servers follow
#      (the Sentinels are asked every ~2 s, and a demoted node's READONLY
#      sends them back to the Sentinels too), logins go on, leases kept.
# About 70 s on a quiet machine.
set -u
. "$(dirname "$0")/cluster/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
R1=$(free_port); R2=$(free_port)
S1=$(free_port); S2=$(free_port); S3=$(free_port)
PA=$(free_port); PB=$(free_port); PC=$(free_port); PD=$(free_port); PX=$(free_port)
P=jazz
R=$KDC_REALM

check "Redis primary starts" redis_start r1 "$R1"
check "its replica starts" redis_start r2 "$R2" --replicaof 127.0.0.1 "$R1"
check "the replica is in sync" bash -c "for i in \$(seq 100); do
	redis-cli -p $R2 info replication | grep -q master_link_status:up && exit 0; sleep 0.1; done; exit 1"
if sentinel_start s1 "$S1" "$R1" && sentinel_start s2 "$S2" "$R1" &&
	sentinel_start s3 "$S3" "$R1"; then ok "three Sentinels start"; else nok "three Sentinels start"; fi
check "the Sentinels know each other and the replica" bash -c "for i in \$(seq 200); do
	m=\$(redis-cli -p $S1 sentinel master jz | tr '\n' ' ')
	grep -q 'num-other-sentinels 2' <<<\"\$m\" && grep -q 'num-slaves 1' <<<\"\$m\" && exit 0
	sleep 0.1; done; exit 1"

SENT="127.0.0.1:$S1 127.0.0.1:$S2,127.0.0.1:$S3"
for s in sa:$PA sb:$PB sc:$PC; do
	cl_server_conf "${s%%:*}" "${s#*:}" "sentinels = $SENT" "master = jz" \
		"wait_replicas = 1" "heartbeat_ms = 300" "session_ttl_ms = 8000"
	cp_start "${s%%:*}"
done
for s in sa sb sc; do
	check "server $s found the primary through the Sentinels" \
		wait_for "$T/$s.log" "cluster: Redis primary 127.0.0.1:$R1 \\(from Sentinel\\)" 10
done

logins() { count "$T/$1.log" "logged in as"; }
vip() { grep "logged in as" "$T/$1.log" | sed -n "${2:-1}p" | sed 's/.*): \([0-9.]*\) .*/\1/'; }

cl_client d1 bob password "$PA" "$PB" "$PC"
cl_client d2 carol password "$PB" "$PC" "$PA"
cl_client d3 dave password "$PC" "$PA" "$PB"
cl_client d4 alice kerberos "$PA" "$PC" "$PB"
for d in d1 d2 d3 d4; do
	check "client $d logs in" wait_for "$T/$d.log" "logged in as" 15
done

# ---- 1. a server killed ---------------------------------------------------------
p=$(cp_pid sa); { kill -9 "$p"; wait "$p"; } 2>/dev/null
check "d1 (on a) is back on another server within 10 s" \
	bash -c "for i in \$(seq 100); do [ \$(grep -c 'logged in as' $T/d1.log) -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
check "d4 (on a) too" \
	bash -c "for i in \$(seq 100); do [ \$(grep -c 'logged in as' $T/d4.log) -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
check "d1 kept its address ($(vip d1 1) -> $(vip d1 2))" [ "$(vip d1 1)" = "$(vip d1 2)" ]
check "d4 kept its address ($(vip d4 1) -> $(vip d4 2))" [ "$(vip d4 1)" = "$(vip d4 2)" ]
check "d2 and d3 (on b and c) never noticed" bash -c "[ $(logins d2) = 1 ] && [ $(logins d3) = 1 ]"
check "device-moved events say d1 and d4 left server a" bash -c "
	grep -h 'event device-moved' $T/sb.log $T/sc.log | grep -q '\"device\":\"d1\".*\"from\":\"sa\"' &&
	grep -h 'event device-moved' $T/sb.log $T/sc.log | grep -q '\"device\":\"d4\".*\"from\":\"sa\"'"
vips=$(for d in d1 d2 d3 d4; do vip "$d" "$(logins "$d")"; done | sort)
check "no address leased twice: ${vips//$'\n'/ }" [ "$(echo "$vips" | uniq -d)" = "" ]
bij=$(for k in $(rcr "$R1" --scan --pattern "$P:lk:*"); do
	i=$(rcr "$R1" get "$k"); [ "$(rcr "$R1" get "$P:li:$i")" = "${k#"$P:lk:"}" ] && echo "$i"
done | sort -u | wc -l)
check "every lease in Redis maps back to its device ($bij of 4)" [ "$bij" = 4 ]

# ---- 2. the same device on two servers at once ------------------------------------
JZPORT=$PB jzc -m password -u dave -p davepw -d twice hold 5 >"$T/tb.out" &
p1=$!
JZPORT=$PC jzc -m password -u dave -p davepw -d twice hold 5 >"$T/tc.out" &
p2=$!
wait $p1 $p2
check "the same device logging in on b and c at once: exactly one session ends" \
	[ "$(cat "$T/tb.out" "$T/tc.out" | grep -c '^ended after [0-4]\.')" = 1 ]

# ---- 3. a server cut off from Redis ------------------------------------------------
/usr/bin/python3 "$TOP/tests/host/cluster/tcpproxy.py" "$PX" "$R1" &
PROXY=$!
PIDS+=("$PROXY")
sleep 0.3
cl_server_conf sd "$PD" "redis = 127.0.0.1:$PX" "session_ttl_ms = 2000"
cp_start sd
check "server d reaches Redis through the proxy" wait_for "$T/sd.log" "Redis primary 127.0.0.1:$PX" 10
cl_client d5 erin kerberos "$PD" "$PB"
check "d5 logs in on d" wait_for "$T/sd.log" "device d5 from" 15
kill -STOP "$PROXY"
check "server d says Redis is gone and drops its device" \
	wait_for "$T/sd.log" "cluster: Redis has not answered for .* dropping them and refusing logins" 15
check "d5 moves to server b" \
	bash -c "for i in \$(seq 150); do grep -q 'device d5 from' $T/sb.log && exit 0; sleep 0.1; done; exit 1"
r=$(JZPORT=$PD jzc -m password -u carol -p carolpw -d cut login)
check "server d refuses a login it cannot record ($r)" grep -q "^reject state-unavailable" <<<"$r"
check "... and says so in its log" \
	grep -q "login of carol@$R/cut refused: the cluster state (Redis) cannot record it now" "$T/sd.log"
kill -CONT "$PROXY"
check "Redis back: server d takes logins again" bash -c "for i in \$(seq 40); do
	JZPORT=$PD $JZCLIENT -s 127.0.0.1:$PD -C $T/server.crt -r $R -S jazz/server.jazz.test@$R \
		-m password -u carol -p carolpw -d cut2 login | grep -q '^welcome' && exit 0; sleep 0.25; done; exit 1"
cp_stop d5
cp_stop sd
kill "$PROXY"

# ---- 4. the Redis primary killed ----------------------------------------------------
r=$(JZPORT=$PB jzc -m password -u carol -p carolpw -d keep login)
check "a lease written before the failure: $r" grep -q "^welcome" <<<"$r"
kvip=${r#welcome }
p=$(rpid r1); { kill -9 "$p"; wait "$p"; } 2>/dev/null
check "the Sentinels promote the replica" bash -c "for i in \$(seq 300); do
	redis-cli -p $S1 sentinel get-master-addr-by-name jz | grep -qx $R2 && exit 0; sleep 0.1; done; exit 1"
check "server b follows the new primary" wait_for "$T/sb.log" "cluster: Redis primary 127.0.0.1:$R2" 20
check "server c too" wait_for "$T/sc.log" "cluster: Redis primary 127.0.0.1:$R2" 20
check "logins resume" bash -c "for i in \$(seq 80); do
	$JZCLIENT -s 127.0.0.1:$PB -C $T/server.crt -r $R -S jazz/server.jazz.test@$R \
		-m password -u carol -p carolpw -d after-failover login | grep -q '^welcome' && exit 0
	sleep 0.25; done; exit 1"
r=$(JZPORT=$PC jzc -m password -u carol -p carolpw -d keep login)
check "the lease written before is there: same address ($kvip, now $r)" [ "$r" = "welcome $kvip" ]
check "the devices' leases are on the new primary" \
	bash -c "[ \$(redis-cli -p $R2 --raw --scan --pattern '$P:lk:*' | grep -c 'd[1-4]\$') = 4 ]"

# ---- 5. a planned switch-over back to the old primary ------------------------------
check "the old primary comes back as a replica of the new one" \
	redis_start r1b "$R1" --replicaof 127.0.0.1 "$R2"
check "... and is in sync" bash -c "for i in \$(seq 300); do
	redis-cli -p $R1 info replication | grep -q master_link_status:up && exit 0; sleep 0.1; done; exit 1"
# Seen once at load 8 (session 15): not in sync after 30 s. Keep what the
# two Redis servers said for the next time.
redis-cli -p "$R1" info replication | grep -q master_link_status:up || {
	echo "# the returning primary's replication, and the two servers' logs:"
	redis-cli -p "$R1" info replication | sed 's/^/#   /'
	tail -n 30 "$T/r1b.redis.log" | sed 's/^/#   r1b: /'
	tail -n 20 "$T/r2.redis.log" | sed 's/^/#   r2: /'
}
check "the Sentinels count it as a good replica" bash -c "for i in \$(seq 400); do
	redis-cli -p $S1 sentinel replicas jz | tr '\n' ' ' | grep -q \"port $R1 .*flags slave \" && exit 0
	sleep 0.1; done; exit 1"
n1=$(count "$T/sb.log" "cluster: Redis primary 127.0.0.1:$R1 ")
check "SENTINEL FAILOVER switches the primary back" bash -c "for i in \$(seq 40); do
	redis-cli -p $S1 sentinel failover jz >/dev/null 2>&1
	for j in \$(seq 10); do
		redis-cli -p $S1 sentinel get-master-addr-by-name jz | grep -qx $R1 && exit 0; sleep 0.1
	done; done; exit 1"
check "server b follows the switch-over" bash -c "for i in \$(seq 200); do
	[ \$(grep -c 'cluster: Redis primary 127.0.0.1:$R1 ' $T/sb.log) -gt $n1 ] && exit 0; sleep 0.1; done; exit 1"
check "logins go on after the switch-over" bash -c "for i in \$(seq 80); do
	$JZCLIENT -s 127.0.0.1:$PC -C $T/server.crt -r $R -S jazz/server.jazz.test@$R \
		-m password -u carol -p carolpw -d after-switch login | grep -q '^welcome' && exit 0
	sleep 0.25; done; exit 1"
r=$(JZPORT=$PB jzc -m password -u carol -p carolpw -d keep login)
check "the lease is still the same ($kvip, now $r)" [ "$r" = "welcome $kvip" ]
for s in sb sc; do check "server $s still running" kill -0 "$(cp_pid "$s")"; done
cp_done
