# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tests/e2e/lib.sh - the end-to-end jazz network, shared by the VM test
# (tests/vm/e2e.sh) and the demo (scripts/demo.sh -> tests/e2e/scenario.sh).
# Source it after tests/vm/lib.sh (namespaces, TAP); needs root and jazz.ko.
#
# Topology (all inside one guest, one network namespace each):
#
#                 +----------------- net (router, the "internet") ------------------+
#                 | 10.0.0.1/24     10.0.1.1/24       10.0.2.1/24       10.0.3.1/24  |
#                 +----|---------------|-----------------|-----------------|--------+
#                 10.0.0.2        10.0.1.2 (.3)     10.0.2.2          10.0.3.2
#     srv: krb5kdc :88, redis   alice: jazz0       bob: jazz0        carol: jazz0
#          jazzd server :7443   jazzd (kinit)      jazzd (password   jazzd (keytab)
#                                                   + one-time code)
#
# Each client's jazz0 listens on UDP 51820; the server has no jazz device:
# tunnel packets go client to client through "net", never through srv.
#
# Variables: E2E_W (work dir, logs), E2E_REALM, E2E_SRV (server underlay
# address), UL_<name> (client underlay addresses).

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${JAZZ_TOP:-$(cd "$E2E_DIR/../.." && pwd)}
JAZZD=${JAZZD:-$TOP/build/jazzd}
JZ=${JZ:-$TOP/build/jazzctl}
E2E_REALM=JAZZ.TEST
E2E_SRV=10.0.0.2
E2E_PORT=7443
E2E_SERVICE=jazz/server.jazz.test@$E2E_REALM
E2E_CLIENTS="alice bob carol"
declare -A UL=([alice]=10.0.1.2 [bob]=10.0.2.2 [carol]=10.0.3.2)
declare -A SUBNET=([srv]=0 [alice]=1 [bob]=2 [carol]=3)
declare -A DEVICE=([alice]=alice-pc [bob]=bob-pc [carol]=carol-pc)
declare -A E2E_PID=()

# run NS CMD...: CMD inside a scenario namespace. Not for "&": a function
# in the background is a subshell and $! would not be the program's pid;
# background programs use "ip netns exec $(ns_name NS) ..." directly.
run() { ip netns exec "$(ns_name "$1")" "${@:2}"; }

# e2e_net: the namespaces, the router and the underlay addresses.
e2e_net() {
	local n i
	ns_add net srv $E2E_CLIENTS || return 1
	run net sysctl -qw net.ipv4.ip_forward=1 || return 1
	for n in srv $E2E_CLIENTS; do
		i=${SUBNET[$n]}
		veth net "to-$n" "$n" eth0 || return 1
		addr net "to-$n" "10.0.$i.1/24" || return 1
	done
	addr srv eth0 "$E2E_SRV/24" || return 1
	for n in $E2E_CLIENTS; do
		addr "$n" eth0 "${UL[$n]}/24" || return 1
	done
	for n in srv $E2E_CLIENTS; do
		run "$n" ip route add default via "10.0.${SUBNET[$n]}.1" || return 1
	done
}

# cap_start NS IF NAME: capture tunnel packets (UDP 51820) on IF in NS
# (tcpdump) until cap_stop NAME, which prints how many were seen. This is
# the proof that the tunnel goes client to client: the router forwards
# them alice <-> bob, the server's namespace never sees one.
cap_start() {
	ip netns exec "$(ns_name "$1")" tcpdump -i "$2" -n -U -w "$E2E_W/$3.pcap" udp port 51820 \
		>"$E2E_W/$3.tcpdump.log" 2>&1 &
	E2E_PID[cap-$3]=$!
	_T_PIDS+=($!)
	wait_for 10 grep -q 'listening on' "$E2E_W/$3.tcpdump.log"
}
cap_stop() {
	sleep 0.5
	kill -INT "${E2E_PID[cap-$1]}" 2>/dev/null
	wait "${E2E_PID[cap-$1]}" 2>/dev/null
	tcpdump -n -r "$E2E_W/$1.pcap" 2>/dev/null | wc -l
}

# e2e_env: the Kerberos environment of everything started afterwards (call
# it in the main shell, not in a subshell such as check's).
e2e_env() {
	local d=$E2E_W/kdc
	mkdir -p "$d/db" "$d/rcache"
	export KRB5_CONFIG=$d/krb5.conf KRB5_KDC_PROFILE=$d/kdc.conf
	export KRB5RCACHEDIR=$d/rcache KRB5CCNAME=FILE:$d/default.ccache
}

# e2e_kdc: a real MIT KDC in srv (ideas from tests/host/lib/kdc.sh, but
# listening on the server's underlay address so the clients reach it).
# Creates the realm and the keytabs; e2e_kdc_start starts krb5kdc.
e2e_kdc() {
	local d=$E2E_W/kdc
	cat >"$d/krb5.conf" <<EOF
[libdefaults]
	default_realm = $E2E_REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	kdc_timeout = 3000
	max_retries = 3
[realms]
	$E2E_REALM = {
		kdc = $E2E_SRV:88
		admin_server = 127.0.0.1:1
	}
EOF
	cat >"$d/kdc.conf" <<EOF
[kdcdefaults]
	kdc_listen = $E2E_SRV:88
	kdc_tcp_listen = $E2E_SRV:88
[realms]
	$E2E_REALM = {
		database_name = $d/db/principal
		key_stash_file = $d/db/stash
		acl_file = $d/kadm5.acl
		max_life = 10h
		max_renewable_life = 0
		master_key_type = aes256-cts-hmac-sha1-96
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes256-cts-hmac-sha384-192:normal
		default_principal_flags = -preauth
	}
[logging]
	kdc = FILE:$d/kdc.log
	default = FILE:$d/krb5lib.log
EOF
	: >"$d/kadm5.acl"
	kdb5_util -r "$E2E_REALM" create -s -P "e2e-master-$$-$RANDOM" >"$d/kdb5_util.out" 2>&1 || return 1
	kadm "addprinc -pw alice-secret-pw alice" || return 1
	kadm "addprinc -pw bob-secret-pw bob" || return 1
	kadm "addprinc -randkey carol" || return 1
	kadm "ktadd -k $E2E_W/carol.keytab carol" || return 1
	kadm "addprinc -randkey $E2E_SERVICE" || return 1
	kadm "ktadd -k $E2E_W/server.keytab $E2E_SERVICE"
}
e2e_kdc_start() {
	ip netns exec "$(ns_name srv)" krb5kdc -n -r "$E2E_REALM" >"$E2E_W/kdc/krb5kdc.out" 2>&1 &
	E2E_PID[kdc]=$!
	_T_PIDS+=($!)
}
# e2e_kdc_ready: a client gets a ticket (carol's keytab, from alice's netns)
e2e_kdc_ready() {
	wait_for 30 run alice env KRB5CCNAME=MEMORY:probe kinit -k -t "$E2E_W/carol.keytab" carol
}
kadm() {
	local out
	out=$(kadmin.local -r "$E2E_REALM" -q "$1" 2>&1)
	printf '%s\n' "$out" >>"$E2E_W/kdc/kadmin.out"
	! grep -qE ' while |^[a-z_.]+: ' <<<"$out"
}

# e2e_cert: the server's TLS certificate (self-signed, the clients' CA)
e2e_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$E2E_W/server.key" -out "$E2E_W/server.crt" -days 2 \
		-subj /CN=server.jazz.test -addext subjectAltName=DNS:server.jazz.test \
		>/dev/null 2>&1
}

# e2e_redis_start / e2e_redis_ready / e2e_redis_stop: redis-server in srv
# on 127.0.0.1:6379
e2e_redis_start() {
	ip netns exec "$(ns_name srv)" redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
		--dir "$E2E_W" >>"$E2E_W/redis.log" 2>&1 &
	E2E_PID[redis]=$!
	_T_PIDS+=($!)
}
e2e_redis_ready() { wait_for 20 run srv redis-cli -p 6379 ping; }
e2e_redis_stop() {
	kill "${E2E_PID[redis]}" 2>/dev/null
	wait "${E2E_PID[redis]}" 2>/dev/null
	E2E_PID[redis]=
}

# e2e_events: handler step scripts for every event (events dir) and an
# eventsgw.conf action for the connection events; both write to files.
E2E_EVENTS="user-logged-in user-login-failed device-connected device-disconnected
	peer-list-changed connection-approved connection-denied connection-expired key-rotated"
e2e_events() {
	local e
	for e in $E2E_EVENTS; do
		mkdir -p "$E2E_W/events/$e"
		cp "$E2E_DIR/handlers/10-record" "$E2E_W/events/$e/10-record"
	done
	mkdir -p "$E2E_W/actions/record-connection"
	cp "$E2E_DIR/handlers/10-record-connection" "$E2E_W/actions/record-connection/10-record"
	cp "$E2E_DIR/eventsgw.conf" "$E2E_W/eventsgw.conf"
	: >"$E2E_W/events.log"
	: >"$E2E_W/connections.log"
}

# e2e_server_conf: jazzd.conf of the server
e2e_server_conf() {
	cat >"$E2E_W/server.conf" <<EOF
[server]
listen = $E2E_SRV:$E2E_PORT
cert = $E2E_W/server.crt
key = $E2E_W/server.key
keytab = FILE:$E2E_W/server.keytab
service = $E2E_SERVICE
rcache = file2:$E2E_W/kdc/rcache/jazzd
leases = $E2E_W/leases.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
rekey_interval = ${E2E_REKEY:-3600}
keepalive = 5
handshake_timeout = 10
login_timeout = 30
peer_debounce_ms = 50

[callbacks]
python = $E2E_DIR/events.py
timeout_ms = 10000

[redis]
address = 127.0.0.1:6379
reconnect_min = 100
reconnect_max = 1000
connect_timeout = 2000

[events]
module_id = jazz1
events_dir = $E2E_W/events
actions_dir = $E2E_W/actions
eventsgw_conf = $E2E_W/eventsgw.conf
step_timeout = 20
EOF
}

# e2e_client_conf NAME: jazzd.conf of a client (netlink backend, jazz0)
e2e_client_conf() {
	local n=$1
	{
		cat <<EOF
[client]
server = $E2E_SRV:$E2E_PORT
server_name = server.jazz.test
ca = $E2E_W/server.crt
device = ${DEVICE[$n]}
service = $E2E_SERVICE
realm = $E2E_REALM
reconnect_min = 1
reconnect_max = 4
keepalive = 5
identity_key = $E2E_W/$n.key
rekey_interval = ${E2E_CLIENT_REKEY:-120}
EOF
		# unset: jazzd's default (on-demand pair keys)
		[ -n "${E2E_PAIR_HANDSHAKE:-}" ] && echo "pair_handshake = $E2E_PAIR_HANDSHAKE"
		case $n in
		alice) echo "method = kerberos"; echo "ccache = FILE:$E2E_W/alice.cc" ;;
		bob) echo "method = password"; echo "user = bob"
		     echo "password_file = $E2E_W/bob.password" ;;
		carol) echo "method = kerberos"; echo "keytab = FILE:$E2E_W/carol.keytab"
		       echo "principal = carol@$E2E_REALM" ;;
		esac
		[ "$n" = bob ] && printf '\n[answers]\notp = 424242\n'
		printf '\n[kernel]\nbackend = netlink\nifname = jazz0\n'
	} >"$E2E_W/$n.conf"
}

# e2e_jazz_dev NAME: jazz0 in NAME's namespace, listening on UDP 51820
e2e_jazz_dev() {
	run "$1" ip link add jazz0 type jazz &&
		run "$1" "$JZ" set jazz0 listen-port 51820 approval-timeout 20000
}

# e2e_start NAME: start jazzd for srv or a client (log in $E2E_W/NAME.log)
e2e_start() {
	local n=$1 conf=$1
	[ "$n" = srv ] && conf=server
	ip netns exec "$(ns_name "$n")" env E2E_RECORD_DIR="$E2E_W" "$JAZZD" -f -d -c "$E2E_W/$conf.conf" \
		>>"$E2E_W/$n.log" 2>&1 &
	E2E_PID[$n]=$!
	_T_PIDS+=($!)
}
# e2e_stop NAME [SIGNAL]
e2e_stop() {
	[ -n "${E2E_PID[$1]:-}" ] || return 0
	kill "-${2:-TERM}" "${E2E_PID[$1]}" 2>/dev/null
	wait "${E2E_PID[$1]}" 2>/dev/null
	E2E_PID[$1]=
}

# log_has FILE REGEX: grep -E in a log; log_wait SECS FILE REGEX
log_has() { grep -Eq -- "$2" "$1" 2>/dev/null; }
log_wait() { wait_for "$1" log_has "$2" "$3"; }
# log_count FILE REGEX
log_count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }

# vip NAME: the client's leased IPv4 address (from jazz0)
vip() { run "$1" ip -4 -o addr show dev jazz0 | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -1; }

# peer_endpoint NAME PEER-DEVICE: the endpoint NAME's kernel has for a peer
peer_endpoint() {
	run "$1" "$JZ" show jazz0 --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
devs = d if isinstance(d, list) else [d]
for dev in devs:
    for p in dev.get("peers", []):
        if p.get("name") == sys.argv[1]:
            print(p.get("endpoint", ""))
' "$2"
}

# kernel object counters of jazz.ko
kobjects() { cat /sys/module/jazz/parameters/objects; }
kconns() { cat /sys/module/jazz/parameters/conn_objects; }
