# SPDX-License-Identifier: GPL-2.0
# Shared setup of the NAT traversal VM tests (tests/vm/nat-*.sh; issue 20),
# sourced after lib.sh and lib-pair.sh:
#   nat_prelude      the tools and modules they need (skip_all without),
#                    jazz_prelude, then nat_topology
#   nat_topology     namespaces c1, nat, srv (skip_all without nftables NAT):
#                      c1: v-c1 192.168.1.2/24, default via .1; jazz0 port 51820, up
#                      nat: v-in 192.168.1.1/24 | v-out 203.0.113.1/24, forwarding
#                      srv: v-srv 203.0.113.2/24
#   nat_rule [OPT]   masquerade out of v-out (OPT: fully-random, ...), with an
#                    empty connection table
#   ct_port DPORT    the NAT's public port of c1's 51820 towards srv:DPORT
#   nat_servers P... a jazzd server in srv answering STUN on 203.0.113.2:P
#                    for each P (TLS on P+4000; no KDC needed); $JAZZD

nat_prelude() {
	need_root
	need_cmd ip nft conntrack openssl
	need_module jazz
	modprobe nf_conntrack_netlink 2>/dev/null
	jazz_prelude
	nat_topology
}

nat_topology() {
	JAZZD=$JAZZ_TOP/build/jazzd
	[ -x "$JAZZD" ] || skip_all "build/jazzd not built"
	ns_add c1 nat srv
	# nftables NAT available? (stock kernels: modules; the debug kernel: none)
	nat nft add table ip t 2>/dev/null &&
		nat nft add chain ip t p '{ type nat hook postrouting priority 100; }' 2>/dev/null &&
		nat nft add rule ip t p masquerade 2>/dev/null ||
		skip_all "the kernel has no nftables masquerade"
	nat nft delete table ip t
	veth c1 v-c1 nat v-in
	veth nat v-out srv v-srv
	addr c1 v-c1 192.168.1.2/24
	addr nat v-in 192.168.1.1/24
	addr nat v-out 203.0.113.1/24
	addr srv v-srv 203.0.113.2/24
	c1 ip route add default via 192.168.1.1
	nat sysctl -qw net.ipv4.ip_forward=1
	c1 ip link add jazz0 type jazz
	check "jazz0 listens on 51820" c1 "$JZ" set jazz0 listen-port 51820
	c1 ip link set jazz0 up
}

nat_rule() {
	nat nft delete table ip nat 2>/dev/null
	nat conntrack -F >/dev/null 2>&1
	nat nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "v-out" masquerade $*
	}
}
NFT
}

ct_port() {
	nat conntrack -L -p udp --orig-src 192.168.1.2 --orig-port-src 51820 \
		--orig-port-dst "$1" 2>/dev/null |
		sed -n 's/.*src=203.0.113.2 dst=203.0.113.1 sport=[0-9]* dport=\([0-9]*\).*/\1/p' | head -n 1
}

nat_servers() {
	local p
	[ -s "$T/c.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/k.pem" -out "$T/c.pem" -days 2 -subj /CN=srv.jazz.test 2>/dev/null
	for p in "$@"; do
		cat >"$T/s$p.conf" <<CONF
[jazzd]
mode = server
[server]
listen = 203.0.113.2:$((p + 4000))
cert = $T/c.pem
key = $T/k.pem
leases = $T/leases$p.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
stun_listen = 203.0.113.2:$p
CONF
		bg srv "$JAZZD" -f -c "$T/s$p.conf" >"$T/s$p.log" 2>&1
		wait_listen srv udp "$p" 30 || not_ok "jazzd's STUN port $p listening"
	done
}

# ---------------------------------------------------------------------
# The NAT world of the hole-punching tests (nat-punch.sh, nat-rebind.sh),
# sourced after lib.sh, lib-pair.sh and ../e2e/lib.sh (its KDC helpers):
#
#            net: the "internet" router (forwarding, no NAT)
#     10.0.0.1/24          10.0.1.1/24              10.0.3.1/24
#         |                    |                        |
#   srv 10.0.0.2         na wan 10.0.1.2          nc wan 10.0.3.2
#   krb5kdc :88          (spare 10.0.1.3)         lan 192.168.1.1/24
#   jazzd server :7443   lan 192.168.1.1/24 |         |
#   STUN :3478              lan2 192.168.2.1/24  carol 192.168.1.2
#                         |             |
#                alice 192.168.1.2   bob 192.168.2.2
#
# alice and bob are behind one NAT (na, two LAN ports routed without
# NAT between them); carol behind another (nc) with the same private
# subnet as alice's. Every device: jazz0 on UDP 51820, jazzd client
# (Kerberos), [client] stun_server = 10.0.0.2:3478.
#   natw_up                 the world, the KDC, the server (skip_all without NAT)
#                           NATW_CLUSTER=1 (set before): two servers sharing
#                           their state in Redis (redis-server in srv):
#                           s1 on 10.0.0.2 ($W/srv.log, NATW_SRV, extra
#                           [server] lines NATW_SERVER_EXTRA) and s2 on
#                           10.0.0.3 ($W/srv2.log, NATW_SRV2,
#                           NATW_SERVER2_EXTRA), each with STUN on :3478,
#                           the sample policy plugin (JAZZ_SAMPLE_* from
#                           the environment) and events published on
#                           Redis (module_id jazzs1, jazzs2);
#                           NATW_HOME[NAME]=2 logs NAME in on s2
#   natw_rules NS MODE...   NS's nftables: MODE is "masq" (port-preserving),
#                           "random" (fully-random), "fw" (the router's own
#                           input closed to unsolicited packets from the wan,
#                           as home routers have it), "drop" (every
#                           unsolicited packet from the wan dropped, forwarded
#                           or not), "fwd" (UDP 51820 forwarded to the
#                           device); the NAT's UDP mappings flushed.
#                           Its TCP entries stay: a router whose rules
#                           change does not cut the devices' control
#                           connections (flushing them reset carol's
#                           session mid-test, and the pair was linked anew
#                           while nat-relay.sh pinged).
#                           Why "fw" by default: a NAT whose own input takes
#                           unsolicited packets records them in its
#                           connection table, and the masquerade of a later
#                           punch towards that peer then moves to another
#                           port (the reply tuple is taken): docs/ARCHITECTURE.md
#                           "NAT traversal" 
#   natw_start NAME...      jazz0 made anew and jazzd started (logs $W/NAME.log)
#   natw_stop NAME...       jazzd stopped (SIGTERM)
#   natw_set NAME KEY VAL   a [client] setting of NAME (for its next start)
#   natw_online NAME        logged in and its candidates sent
#   natw_path NAME PEER     the endpoint NAME's kernel has for PEER's device
# ---------------------------------------------------------------------
declare -A NATW_NS=([alice]=na [bob]=na [carol]=nc)
declare -A NATW_DEV=([alice]=alice-pc [bob]=bob-pc [carol]=carol-pc)
declare -A NATW_HOME=()
declare -A NATW_SRV_IP=([1]=10.0.0.2 [2]=10.0.0.3)

natw_up() {
	need_root
	need_cmd ip nft conntrack openssl krb5kdc kadmin.local kdb5_util kinit ping
	need_module jazz
	modprobe nf_conntrack_netlink 2>/dev/null
	jazz_prelude
	JAZZD=$JAZZ_TOP/build/jazzd
	[ -x "$JAZZD" ] || skip_all "build/jazzd not built"
	# logs where the harness keeps them (JAZZ_OUT), else in $T
	W=${JAZZ_OUT:-$T}/$(basename "$0" .sh)
	rm -rf "$W"
	mkdir -p "$W"
	chmod 755 "$W"
	E2E_W=$W
	ns_add net srv na nc alice bob carol
	na nft add table ip t 2>/dev/null &&
		na nft add chain ip t p '{ type nat hook postrouting priority 100; }' 2>/dev/null &&
		na nft add rule ip t p masquerade 2>/dev/null ||
		skip_all "the kernel has no nftables masquerade"
	na nft delete table ip t
	net sysctl -qw net.ipv4.ip_forward=1
	na sysctl -qw net.ipv4.ip_forward=1
	nc sysctl -qw net.ipv4.ip_forward=1
	veth net to-srv srv eth0 && veth net to-na na wan && veth net to-nc nc wan &&
		veth na lan alice eth0 && veth na lan2 bob eth0 && veth nc lan carol eth0 ||
		{ not_ok "the NAT world's links"; exit 1; }
	addr net to-srv 10.0.0.1/24; addr net to-na 10.0.1.1/24; addr net to-nc 10.0.3.1/24
	addr srv eth0 10.0.0.2/24
	addr na wan 10.0.1.2/24; addr na lan 192.168.1.1/24; addr na lan2 192.168.2.1/24
	addr nc wan 10.0.3.2/24; addr nc lan 192.168.1.1/24
	addr alice eth0 192.168.1.2/24; addr bob eth0 192.168.2.2/24
	addr carol eth0 192.168.1.2/24
	srv ip route add default via 10.0.0.1
	na ip route add default via 10.0.1.1; nc ip route add default via 10.0.3.1
	alice ip route add default via 192.168.1.1; bob ip route add default via 192.168.2.1
	carol ip route add default via 192.168.1.1
	natw_rules na masq fw
	natw_rules nc masq fw
	e2e_env
	e2e_kdc || { not_ok "MIT KDC realm"; exit 1; }
	e2e_kdc_start
	wait_for 30 srv env KRB5CCNAME=MEMORY:probe kinit -k -t "$W/carol.keytab" carol ||
		{ not_ok "krb5kdc issues tickets"; exit 1; }
	echo alice-secret-pw | alice kinit -c "FILE:$W/alice.cc" alice >/dev/null &&
		echo bob-secret-pw | bob kinit -c "FILE:$W/bob.cc" bob >/dev/null ||
		{ not_ok "alice's and bob's tickets"; exit 1; }
	e2e_cert || { not_ok "server certificate"; exit 1; }
	if [ -n "${NATW_CLUSTER:-}" ]; then
		need_cmd redis-server redis-cli
		addr srv eth0 10.0.0.3/24
		e2e_redis_start
		e2e_redis_ready || { not_ok "redis-server in srv"; exit 1; }
		natw_server 1 srv "${NATW_SERVER_EXTRA:-}"
		natw_server 2 srv2 "${NATW_SERVER2_EXTRA:-}"
	else
		natw_server 1 srv "${NATW_SERVER_EXTRA:-}"
	fi
	local n
	for n in alice bob carol; do
		local sip=${NATW_SRV_IP[${NATW_HOME[$n]:-1}]}
		cat >"$W/$n.conf" <<CONF
[client]
server = $sip:7443
server_name = server.jazz.test
ca = $W/server.crt
device = ${NATW_DEV[$n]}
service = $E2E_SERVICE
realm = $E2E_REALM
method = kerberos
reconnect_min = 1
reconnect_max = 2
identity_key = $W/$n.key
stun_server = $sip:3478
stun_interval = ${NATW_STUN_INTERVAL:-2}
CONF
		case $n in
		carol) printf 'keytab = FILE:%s\nprincipal = carol@%s\n' "$W/carol.keytab" "$E2E_REALM" ;;
		*) printf 'ccache = FILE:%s\n' "$W/$n.cc" ;;
		esac >>"$W/$n.conf"
		printf '\n[kernel]\nbackend = netlink\nifname = jazz0\n' >>"$W/$n.conf"
	done
}

# natw_server N LOG EXTRA: jazzd server N (NATW_SRV_IP[N]) started, its
# log $W/LOG.log, its pid NATW_SRV (N 1) or NATW_SRV2; $W/server.conf for
# server 1, $W/server2.conf for server 2
natw_server() {
	local n=$1 ip=${NATW_SRV_IP[$1]} conf=$W/server.conf
	[ "$1" = 1 ] || conf=$W/server$1.conf
	cat >"$conf" <<CONF
[server]
listen = $ip:7443
cert = $W/server.crt
key = $W/server.key
keytab = FILE:$W/server.keytab
service = $E2E_SERVICE
rcache = file2:$W/kdc/rcache/jazzd$n
leases = $W/leases$n.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
peer_debounce_ms = 50
stun_listen = $ip:3478
$3
CONF
	if [ -n "${NATW_CLUSTER:-}" ]; then cat >>"$conf" <<CONF

[callbacks]
plugin = $TOP/build/plugins/sample.so

[cluster]
backend = redis
redis = 127.0.0.1:6379
server_id = s$n
heartbeat_ms = 300
session_ttl_ms = 6000
# Redis in a TCG guest at load 10 missed the 500 ms default (EAGAIN), and
# a relay offer that cannot go through Redis is refused
timeout_ms = 2000

[redis]
address = 127.0.0.1:6379

[events]
module_id = jazzs$n
CONF
	fi
	bg srv "$JAZZD" -f -d -c "$conf" >"$W/$2.log" 2>&1
	if [ "$n" = 1 ]; then NATW_SRV=$!; else NATW_SRV2=$!; fi
	wait_for 30 srv sh -c "ss -Htln 'sport = :7443' | grep -q '$ip:7443'" ||
		{ not_ok "the jazzd server $n listens"; exit 1; }
}

natw_rules() {
	local ns=$1 m masq="" fwd="" drop="" indrop=""
	shift
	for m in "$@"; do
		case $m in
		masq) masq='oifname "wan" masquerade' ;;
		random) masq='oifname "wan" masquerade fully-random' ;;
		fwd) fwd='iifname "wan" udp dport 51820 dnat to 192.168.1.2:51820' ;;
		fw) indrop='iifname "wan" ct state != { established, related } counter drop' ;;
		drop) drop='iifname "wan" ct state != { established, related } counter drop'
		      indrop=$drop ;;
		esac
	done
	# one transaction: the old table out, the new one in, never a moment
	# without rules (a check arriving then would be recorded unNATed)
	$ns nft -f - <<NFT || { not_ok "$ns: nftables rules $*"; return 1; }
table ip nat
delete table ip nat
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		$fwd
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		$masq
	}
	chain fw {
		type filter hook forward priority filter; policy accept;
		$drop
	}
	chain in {
		type filter hook input priority filter; policy accept;
		$indrop
	}
}
NFT
	$ns conntrack -D -p udp >/dev/null 2>&1
	return 0
}

natw_start() {
	local n
	for n in "$@"; do
		$n ip link del jazz0 2>/dev/null
		$n ip link add jazz0 type jazz &&
			$n "$JZ" set jazz0 listen-port 51820 approval-timeout 20000 &&
			$n ip link set jazz0 up || { not_ok "$n: jazz0"; return 1; }
		: >>"$W/$n.log"
		echo "---- start $(date +%T.%N)" >>"$W/$n.log"
		ip netns exec "$(ns_name "$n")" "$JAZZD" -f -d -c "$W/$n.conf" >>"$W/$n.log" 2>&1 &
		NATW_PID[$n]=$!
		_T_PIDS+=($!)
	done
}
declare -A NATW_PID=()

natw_set() {
	sed -i "/^$2 = /d; s|^\[kernel\]|$2 = $3\n\n[kernel]|" "$W/$1.conf"
}

natw_stop() {
	local n
	for n in "$@"; do
		[ -n "${NATW_PID[$n]:-}" ] || continue
		kill "${NATW_PID[$n]}" 2>/dev/null
		wait "${NATW_PID[$n]}" 2>/dev/null
		NATW_PID[$n]=
	done
}

# the lines of NAME's log since its last start
natw_log() { sed -n '/^---- start/h; /^---- start/!H; ${x;p}' "$W/$1.log"; }
natw_has() { natw_log "$1" | grep -Eq -- "$2"; }
natw_wait() { wait_for "$1" natw_has "$2" "$3"; }

natw_online() {
	natw_wait 60 "$1" "logged in as" && natw_wait 30 "$1" "candidates: [0-9]+ sent to the server \(public mapping"
}

natw_path() {
	$1 "$JZ" show jazz0 --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
for dev in (d if isinstance(d, list) else [d]):
    for p in dev.get("peers", []):
        if p.get("name") == sys.argv[1]:
            print(p.get("endpoint", ""))
' "$2"
}

natw_vip() { $1 ip -4 -o addr show dev jazz0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1; }

# natw_ping FROM TO: FROM's pings reach TO over the tunnel (within 30 s)
natw_ping() {
	local to
	to=$(natw_vip "$2")
	[ -n "$to" ] && wait_for 40 $1 ping -c 1 -W 5 "$to" && return 0
	# what went wrong, for the log
	{
		echo "==== $1 -> $2 ($to) failed at $(date +%T.%N)"
		$1 ip addr show dev jazz0; $1 ip route
		$1 "$JZ" show jazz0; $2 "$JZ" show jazz0
		$1 ping -c 1 -W 2 "$to"
	} >>"$W/natw-ping-fail.txt" 2>&1
	return 1
}
