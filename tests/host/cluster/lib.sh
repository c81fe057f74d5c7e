# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests/host/cluster-*.sh (issue 21): Redis servers, replicas
# and Sentinels on loopback started here (each its own port and directory
# under the test's $T), and jazzd servers of one cluster: the same
# certificate, keytab and pools, each its own port, rcache and server_id.
# Builds on controlplane/lib.sh (KDC, certificates, clients, TAP).

. "$(dirname "${BASH_SOURCE[0]}")/../controlplane/lib.sh"

# redis_start NAME PORT [redis-server args...]: $T/NAME.redis.log
redis_start() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$T/$name.rdir"
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T/$name.rdir" --logfile "$T/$name.redis.log" "$@" &
	eval "RPID_$name=$!"
	PIDS+=($!)
	redis_wait "$port"
}

# redis_wait PORT: a redis-server or Sentinel on PORT answers PING (5 s)
redis_wait() {
	for _ in $(seq 100); do
		redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

rpid() { local v="RPID_$1"; echo "${!v}"; }

# sentinel_start NAME PORT MASTER_PORT: a Sentinel watching the primary
# "jz" with short timeouts (down after 1 s, failover within a few)
sentinel_start() {
	local name=$1 port=$2 mport=$3
	mkdir -p "$T/$name.rdir"
	cat >"$T/$name.sentinel.conf" <<EOC
port $port
bind 127.0.0.1
dir $T/$name.rdir
logfile $T/$name.redis.log
sentinel monitor jz 127.0.0.1 $mport 2
sentinel down-after-milliseconds jz 1000
sentinel failover-timeout jz 4000
sentinel parallel-syncs jz 1
EOC
	redis-server "$T/$name.sentinel.conf" --sentinel &
	eval "RPID_$name=$!"
	PIDS+=($!)
	redis_wait "$port"
}

# cl_server_conf NAME PORT [cluster lines...]: $T/NAME.conf, a jazzd server
# of the cluster (server_id NAME), the rest as controlplane's server
cl_server_conf() {
	local name=$1 port=$2
	shift 2
	cp_server_conf "[server]" "max_devices = 40" "keepalive = 2"
	sed -e "s|^listen = .*|listen = 127.0.0.1:$port|" \
		-e "s|^rcache = .*|rcache = file2:$T/$name.rcache|" \
		-e "s|^leases = .*|leases = $T/$name.leases.json|" \
		"$T/server.conf" >"$T/$name.conf"
	{
		echo "[cluster]"
		echo "backend = redis"
		echo "server_id = $name"
		echo "heartbeat_ms = 200"
		echo "session_ttl_ms = 2000"
		echo "timeout_ms = 300"
		printf '%s\n' "$@"
	} >>"$T/$name.conf"
}

# cl_client NAME USER METHOD SERVERPORTS...: a jazzd client listing servers
# ([client] servers = 127.0.0.1:PORT ..., in that order)
cl_client() {
	local name=$1 user=$2 method=$3 list="" p
	shift 3
	for p in "$@"; do list="$list 127.0.0.1:$p"; done
	cp_client_conf "$name" "$user" "$method"
	sed -i "s|^server = .*|servers =$list|" "$T/$name.conf"
	cp_start "$name"
}

# rcr PORT ARGS...: redis-cli on a port, raw output
rcr() { local p=$1; shift; redis-cli -p "$p" --raw "$@"; }

# vip_of LOGFILE... DEVICE: the address the servers' logs gave DEVICE last
vip_of() {
	local dev=${*: -1}
	grep -h "device $dev from" "${@:1:$#-1}" 2>/dev/null | tail -1 |
		sed -n 's/.* -> \([0-9.]*\) .*/\1/p'
}
