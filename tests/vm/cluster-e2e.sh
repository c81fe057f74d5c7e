#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Two jazzd servers as one network, end to end on a real kernel (issue
# 21): the e2e topology (tests/e2e/lib.sh: a router namespace, srv with a
# KDC, Redis and here two jazzd servers sharing their state in Redis
# ([cluster] backend = redis), alice and carol with jazz0 and the netlink
# backend). alice lists server 1 first, carol server 2: they are on
# different servers, see each other through Redis, get their connection
# approved and agree their keys through the relay. Then alice pings carol
# over the tunnel while server 1 (alice's) is SIGKILLed: alice moves to
# server 2 and the ping loses nothing (the data path never depends on a
# server). TAP output; logs in $JAZZ_OUT/cluster-e2e/. About 2 minutes
# under TCG.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../e2e/lib.sh"

need_root
need_cmd krb5kdc kadmin.local kdb5_util kinit redis-server redis-cli openssl
[ -x "$JAZZD" ] && [ -x "$JZ" ] || { not_ok "build/jazzd and build/jazzctl exist (make userspace)"; exit 1; }
E2E_CLIENTS="alice carol"
E2E_W=${JAZZ_OUT:-/tmp}/cluster-e2e
rm -rf "$E2E_W"
mkdir -p "$E2E_W"
chmod 755 "$E2E_W"

check "modprobe jazz" modprobe jazz || exit 1
dmesg_mark
check "namespaces: net (router), srv, alice, carol" e2e_net || exit 1
e2e_env
check "MIT KDC realm with alice, carol and the service" e2e_kdc || exit 1
e2e_kdc_start
check "krb5kdc issues tickets" e2e_kdc_ready || exit 1
check "server TLS certificate" e2e_cert || exit 1
e2e_redis_start
check "redis-server in srv" e2e_redis_ready || exit 1

# server_conf N: jazzd server N of the cluster, port 7442+N
server_conf() {
	cat >"$E2E_W/s$1.conf" <<EOF
[server]
listen = $E2E_SRV:$((7442 + $1))
cert = $E2E_W/server.crt
key = $E2E_W/server.key
keytab = FILE:$E2E_W/server.keytab
service = $E2E_SERVICE
rcache = file2:$E2E_W/kdc/rcache/s$1
leases = $E2E_W/s$1.leases.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
keepalive = 5
handshake_timeout = 10
login_timeout = 30
peer_debounce_ms = 50

[callbacks]
plugin = $TOP/build/plugins/sample.so
timeout_ms = 10000

[cluster]
backend = redis
redis = 127.0.0.1:6379
server_id = s$1
heartbeat_ms = 300
session_ttl_ms = 6000
EOF
}
for i in 1 2; do
	server_conf "$i"
	ip netns exec "$(ns_name srv)" "$JAZZD" -f -d -c "$E2E_W/s$i.conf" >>"$E2E_W/s$i.log" 2>&1 &
	E2E_PID[s$i]=$!
	_T_PIDS+=($!)
done
for i in 1 2; do
	check "jazzd server $i listens, state in Redis" \
		log_wait 60 "$E2E_W/s$i.log" "cluster: server s$i, state in Redis"
done

check "alice: kinit" \
	run alice bash -c "echo alice-secret-pw | kinit -c FILE:$E2E_W/alice.cc alice >/dev/null"
for n in alice carol; do
	check "$n: ip link add jazz0 type jazz" e2e_jazz_dev "$n"
	e2e_client_conf "$n"
done
sed -i "s|^server = .*|servers = $E2E_SRV:7443 $E2E_SRV:7444|" "$E2E_W/alice.conf"
sed -i "s|^server = .*|servers = $E2E_SRV:7444 $E2E_SRV:7443|" "$E2E_W/carol.conf"
e2e_start alice
e2e_start carol
check "alice logs in on server 1" log_wait 90 "$E2E_W/s1.log" "login: alice@$E2E_REALM device alice-pc"
check "carol logs in on server 2" log_wait 90 "$E2E_W/s2.log" "login: carol@$E2E_REALM device carol-pc"
declare -A VIP
for n in alice carol; do
	check "$n: jazz0 got its address" wait_for 30 eval "[ -n \"\$(vip $n)\" ]"
	VIP[$n]=$(vip "$n")
done
diag "alice ${VIP[alice]} (server 1), carol ${VIP[carol]} (server 2)"
check "alice's kernel has carol as a peer (listed by server 1 from Redis)" \
	wait_for 30 eval "[ -n \"\$(peer_endpoint alice carol-pc)\" ]"

check "server 1 lists carol (server 2) with her candidates, read from Redis (issue 20)" \
	log_wait 30 "$E2E_W/s1.log" "device [0-9]+ \\(server s2\\): [1-9] candidate\\(s\\) from its record"

# first ping: approval (relayed verdict) and handshake (relayed) across servers
check "ping alice -> carol across servers (approval and keys through Redis)" \
	to_file "$E2E_W/ping-first.txt" run alice ping -c 3 -i 0.5 -W 20 "${VIP[carol]}"
check "server 2 delivered the verdict server 1 decided" \
	log_has "$E2E_W/s2.log" "approval: alice-pc -> carol-pc icmp: approved \\(decided by the origin's server\\)"

# ping through the failover of alice's server
ip netns exec "$(ns_name alice)" ping -i 0.2 -c 75 -W 2 "${VIP[carol]}" >"$E2E_W/ping-failover.txt" 2>&1 &
PING=$!
sleep 3
kill -9 "${E2E_PID[s1]}"
wait "${E2E_PID[s1]}" 2>/dev/null
E2E_PID[s1]=
check "alice is logged in on server 2 after server 1 died" \
	log_wait 30 "$E2E_W/s2.log" "login: alice@$E2E_REALM device alice-pc"
wait "$PING"
diag "$(tail -2 "$E2E_W/ping-failover.txt" | head -1)"
check "the ping across the failover lost nothing (75 of 75)" \
	grep -q ' 75 received, 0% packet loss' "$E2E_W/ping-failover.txt"
check "alice kept her address" eval "[ \"\$(vip alice)\" = '${VIP[alice]}' ]"

# ---------------------------------------------------------------- the end
for n in alice carol s2; do e2e_stop "$n"; done
for n in alice carol; do run "$n" ip link del jazz0; done
check "every jazz.ko object freed" wait_for 20 eval '[ "$(kobjects)" = "devices 0 peers 0 keys 0" ]'
check "every connection object freed" wait_for 20 eval '[ "$(kconns)" = "tables 0 conns 0 held 0" ]'
check "rmmod jazz" rmmod jazz
dmesg_check "kernel log: no WARN/BUG/Oops"
