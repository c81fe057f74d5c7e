#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Cost of the cluster state (issue 21): a jazzd server with its state in
# memory and the leases file (no [cluster]) beside the same server with
# [cluster] backend = redis (a redis-server on loopback), alternated in one
# run; then failover times on a 2-server cluster with a Redis primary,
# replica and three Sentinels. Real KDC and TLS 1.3, the test client
# (jzclient) on loopback.
#
#   login: N new devices logging in (concurrent threads, each logs in and
#          leaves), CPU seconds of jazzd (+ redis-server for the Redis
#          backend) per login, and wall time;
#   join:  the same while H devices stay online (each login also goes into
#          H peer lists: the peer_filter calls and deltas of a join);
#   failover: a server SIGKILLed -> its device logged in on the other
#          (client log); the primary SIGKILLed -> the first login welcomed
#          again (a login tried every 100 ms).
# Ratios are Redis / in-memory from the same run.
#
# Usage: scripts/bench-cluster.sh [-n LOGINS] [-H HELD] [-r ROUNDS]
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
NL=100 H=50 R=3
while getopts n:H:r: o; do
	case $o in
	n) NL=$OPTARG ;; H) H=$OPTARG ;; r) R=$OPTARG ;; *) exit 2 ;;
	esac
done
CMD="scripts/bench-cluster.sh -n $NL -H $H -r $R"
. "$TOP/tests/host/cluster/lib.sh"
nice make -s -C "$TOP" userspace >/dev/null || exit 1
cp_setup || exit 1
build_jzclient || exit 1
export JAZZ_SAMPLE_PASSWORDS="$JAZZ_SAMPLE_PASSWORDS,u1:u1pw,u2:u2pw,u3:u3pw,u4:u4pw,u5:u5pw,u6:u6pw"

cpu() { # PID...: utime+stime in clock ticks
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)

RP=$(free_port)
redis_start rb "$RP" || exit 1
run_one() { # BACKEND ROUND -> "cpu_per_login_ms wall_s" for logins and joins
	local be=$1 rnd=$2 port name pids held=() c0 w0 p u
	port=$(free_port)
	name=b$be$rnd
	if [ "$be" = redis ]; then
		cl_server_conf "$name" "$port" "redis = 127.0.0.1:$RP" "prefix = bench$rnd" \
			"heartbeat_ms = 1000" "session_ttl_ms = 6000"
		pids="$(rpid rb)"
	else
		cp_server_conf "[server]" "max_devices = 0" "keepalive = 5"
		sed -e "s|^listen = .*|listen = 127.0.0.1:$port|" \
			-e "s|^leases = .*|leases = $T/$name.leases.json|" "$T/server.conf" >"$T/$name.conf"
		pids=""
	fi
	sed -i "s/^max_devices = .*/max_devices = 0/; s/^login_rate = .*//" "$T/$name.conf"
	printf '[callbacks]\ntimeout_ms = 10000\n[server]\nlogin_timeout = 30\nlogin_burst = 100000\nlogin_rate = 100000\nuser_login_burst = 100000\nuser_login_rate = 100000\n[jazzd]\nlog_level = warning\n' >>"$T/$name.conf"
	"$JAZZD" -f -c "$T/$name.conf" >"$T/$name.log" 2>&1 &
	p=$!
	PIDS+=("$p")
	wait_for "$T/$name.log" "server listening" 10 >/dev/null 2>&1 ||
		for _ in $(seq 50); do ss -ltn | grep -q ":$port " && break; sleep 0.1; done
	pids="$p $pids"
	# logins: each user its own key-derivation budget
	c0=$(cpu $pids); w0=$(date +%s.%N)
	JZPORT=$port jzc -m password -u u1 -p u1pw -d "l$rnd" many "$NL" >"$T/$name.l.out"
	echo "$(( ($(cpu $pids) - c0) * 1000000 / HZ / NL )) $(echo "$(date +%s.%N) - $w0" | bc)" >"$T/$name.login"
	# joins: H devices held online, then N more logins
	for u in $(seq 1 "$H"); do
		JZPORT=$port jzc -m password -u u2 -p u2pw -d "h$u" hold 600 >/dev/null 2>&1 &
		held+=($!)
	done
	for _ in $(seq 300); do
		[ "$(grep -c "device h" "$T/$name.log" 2>/dev/null)" -ge 0 ] || break
		sleep 0.1
		[ "$(ss -tn | grep -c ":$port ")" -ge "$H" ] && break
	done
	sleep 2
	c0=$(cpu $pids); w0=$(date +%s.%N)
	JZPORT=$port jzc -m password -u u3 -p u3pw -d "j$rnd" many "$NL" >"$T/$name.j.out"
	echo "$(( ($(cpu $pids) - c0) * 1000000 / HZ / NL )) $(echo "$(date +%s.%N) - $w0" | bc)" >"$T/$name.join"
	for p in "${held[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${held[@]}"; do wait "$p" 2>/dev/null; done
	kill "${pids%% *}"
	wait "${pids%% *}" 2>/dev/null
	echo "# $be round $rnd: login $(cat "$T/$name.login") ($(tail -1 "$T/$name.l.out")), join $(cat "$T/$name.join") ($(tail -1 "$T/$name.j.out"))"
}
echo "# $CMD ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
for rnd in $(seq 1 "$R"); do
	run_one local "$rnd"
	run_one redis "$rnd"
done
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in login join; do
	lc=$(cat "$T"/blocal*."$what" | awk '{print $1}' | med)
	rc=$(cat "$T"/bredis*."$what" | awk '{print $1}' | med)
	lw=$(cat "$T"/blocal*."$what" | awk '{print $2}' | med)
	rw=$(cat "$T"/bredis*."$what" | awk '{print $2}' | med)
	echo "$what: CPU per login in-memory ${lc} us, Redis ${rc} us (jazzd + redis-server): $(echo "scale=2; $rc / $lc" | bc)x; wall for $NL: ${lw} s vs ${rw} s"
done

# ---- failover times ----
R1=$(free_port); R2=$(free_port); S1=$(free_port); S2=$(free_port); S3=$(free_port)
PA=$(free_port); PB=$(free_port)
redis_start f1 "$R1" && redis_start f2 "$R2" --replicaof 127.0.0.1 "$R1" || exit 1
for _ in $(seq 100); do redis-cli -p "$R2" info replication | grep -q master_link_status:up && break; sleep 0.1; done
sentinel_start s1 "$S1" "$R1" && sentinel_start s2 "$S2" "$R1" && sentinel_start s3 "$S3" "$R1" || exit 1
for _ in $(seq 200); do
	m=$(redis-cli -p "$S1" sentinel master jz | tr '\n' ' ')
	grep -q 'num-other-sentinels 2' <<<"$m" && grep -q 'num-slaves 1' <<<"$m" && break
	sleep 0.1
done
SENT="127.0.0.1:$S1 127.0.0.1:$S2 127.0.0.1:$S3"
for s in fa:$PA fb:$PB; do
	cl_server_conf "${s%%:*}" "${s#*:}" "sentinels = $SENT" "master = jz" "wait_replicas = 1" \
		"heartbeat_ms = 300" "session_ttl_ms = 8000"
	cp_start "${s%%:*}"
done
wait_for "$T/fa.log" "Redis primary" 10 && wait_for "$T/fb.log" "Redis primary" 10 || exit 1
for i in $(seq 1 "$R"); do
	cp_client_conf "fc$i" alice kerberos
	sed -i "s|^server = .*|servers = 127.0.0.1:$PA 127.0.0.1:$PB|; s|^device = .*|device = fc$i|" "$T/fc$i.conf"
	cp_start "fc$i"
	wait_for "$T/fc$i.log" "logged in as" 15 || exit 1
done
pa=$(cp_pid fa)
t0=$(date +%s.%N)
{ kill -9 "$pa"; wait "$pa"; } 2>/dev/null
for i in $(seq 1 "$R"); do
	for _ in $(seq 300); do [ "$(count "$T/fc$i.log" "logged in as")" -ge 2 ] && break; sleep 0.02; done
done
t1=$(date +%s.%N)
echo "server killed: all $R of its devices logged in on the other server after $(echo "$t1 - $t0" | bc | cut -c1-5) s"
t0=$(date +%s.%N)
p=$(rpid f1); { kill -9 "$p"; wait "$p"; } 2>/dev/null
k=0
until JZPORT=$PB jzc -m password -u bob -p bobpw -d "fo$k" login | grep -q '^welcome'; do
	k=$((k + 1)); [ $k -gt 600 ] && break; sleep 0.1
done
t1=$(date +%s.%N)
echo "primary killed: the first login welcomed again after $(echo "$t1 - $t0" | bc | cut -c1-5) s ($k refused before; Sentinel down-after 1 s)"
