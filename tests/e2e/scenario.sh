#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole jazz network end to end, inside one VM (jazz.ko loaded):
# a KDC, Redis and a jazzd server in one namespace, three jazzd clients
# (alice, bob, carol) with the real netlink backend in three more, joined by
# a router namespace (topology in tests/e2e/lib.sh). TAP output.
#
#   tests/e2e/scenario.sh           everything (tests/vm/e2e.sh)
#   tests/e2e/scenario.sh --demo    the main story only, told as it goes
#                                   (scripts/demo.sh)
# Logs: $JAZZ_OUT/e2e/ (out/<run>/e2e/ on the host).
set -u
E2E_MODE=full
[ "${1:-}" = --demo ] && E2E_MODE=demo
. "$(dirname "$0")/../vm/lib.sh"
. "$(dirname "$0")/lib.sh"

need_root
need_cmd krb5kdc kadmin.local kdb5_util kinit redis-server redis-cli openssl iperf3 tcpdump
[ -x "$JAZZD" ] && [ -x "$JZ" ] || { not_ok "build/jazzd and build/jazzctl exist (make userspace)"; exit 1; }

say() {
	if [ "$E2E_MODE" = demo ]; then printf '\n>> %s\n' "$*"; else diag ">> $*"; fi
}
T0=$(date +%s)
E2E_W=${JAZZ_OUT:-/tmp}/e2e
rm -rf "$E2E_W"
mkdir -p "$E2E_W"
chmod 755 "$E2E_W"

# ---------------------------------------------------------------- setup
check "modprobe jazz" modprobe jazz || exit 1
dmesg_mark
OBJ0=$(kobjects) CONN0=$(kconns)
diag "jazz.ko objects before: $OBJ0; $CONN0"
check "namespaces: net (router), srv, alice, bob, carol" e2e_net || exit 1
check "underlay: alice reaches the server through the router" run alice ping -c1 -W5 "$E2E_SRV"
e2e_env
check "MIT KDC realm $E2E_REALM: alice, bob (passwords), carol (keytab), the service" e2e_kdc || exit 1
e2e_kdc_start
check "krb5kdc in srv issues tickets to the clients" e2e_kdc_ready || exit 1
check "server TLS certificate" e2e_cert || exit 1
e2e_redis_start
check "redis-server in srv" e2e_redis_ready || exit 1
e2e_events
e2e_server_conf
say "network: a router namespace joins srv ($E2E_SRV: krb5kdc, redis, jazzd server) and three clients, alice (${UL[alice]}), bob (${UL[bob]}) and carol (${UL[carol]}), each with its own jazz0 device"
e2e_start srv
check "jazzd server listens on $E2E_SRV:$E2E_PORT" log_wait 60 "$E2E_W/srv.log" "server listening"
check "server loaded events.py" log_has "$E2E_W/srv.log" "callbacks: loaded python:"
check "server's event bus subscribed to Redis" log_wait 30 "$E2E_W/srv.log" "subscribed to \*/event/\*"

# ---------------------------------------------------------------- logins
check "alice: kinit (a Kerberos ticket in alice's namespace)" \
	run alice bash -c "echo alice-secret-pw | kinit -c FILE:$E2E_W/alice.cc alice >/dev/null"
echo bob-secret-pw >"$E2E_W/bob.password"
chmod 600 "$E2E_W/bob.password"
for n in $E2E_CLIENTS; do
	check "$n: ip link add jazz0 type jazz" e2e_jazz_dev "$n"
	e2e_client_conf "$n"
	e2e_start "$n"
done
L=$E2E_W/srv.log
check "alice logs in with her Kerberos ticket" log_wait 90 "$L" "login: alice@$E2E_REALM device alice-pc .*kerberos"
check "bob: user_key supplies the password" log_wait 90 "$L" "e2e: user_key for bob: known"
check "bob: validate_user asks for a one-time code" log_wait 30 "$L" "e2e: asking bob for a one-time code"
check "bob logs in with password + one-time code" log_wait 60 "$L" "login: bob@$E2E_REALM device bob-pc .*password"
check "carol logs in with her keytab" log_wait 90 "$L" "login: carol@$E2E_REALM device carol-pc .*kerberos"
for n in $E2E_CLIENTS; do
	check "$n's jazzd: logged in" log_wait 30 "$E2E_W/$n.log" "logged in as $n"
done
say "logins: alice with a kinit ticket, bob with his password (user_key in events.py) and a one-time code (validate_user), carol with a keytab"

# ------------------------------------------------------- addresses, peers
for n in $E2E_CLIENTS; do
	check "$n: jazz0 got a 10.77.0.0/16 address from the server" \
		wait_for 30 eval "[ -n \"\$(vip $n)\" ]"
done
declare -A VIP
for n in $E2E_CLIENTS; do VIP[$n]=$(vip "$n"); done
diag "virtual addresses: alice ${VIP[alice]}, bob ${VIP[bob]}, carol ${VIP[carol]}"
has_peer() { run "$1" "$JZ" show jazz0 | grep -q "$2"; }
check "alice's kernel has peers bob-pc and carol-pc" \
	wait_for 30 eval "has_peer alice bob-pc && has_peer alice carol-pc"
check "bob's kernel has peer alice-pc" wait_for 30 has_peer bob alice-pc
check "peer_filter: the server hid carol-pc from bob" log_has "$L" "e2e: hiding carol-pc from bob"
check_fail "bob's peer list lacks carol-pc" has_peer bob carol-pc
# pair keys on demand (the default): no pair hand-shakes before it needs
# a key; alice's first ping to bob waits for approval and handshake (as
# long as jazz0's approval-timeout, 20 s here: the ping's -W 20)
check_fail "on demand: no key in alice's kernel before any connection" \
	eval "run alice '$JZ' show jazz0 keys | grep -qi primary"
for n in $E2E_CLIENTS; do run "$n" "$JZ" show jazz0 >"$E2E_W/$n.show-1.txt" 2>&1; done
say "peer lists: alice sees bob-pc and carol-pc; peer_filter hides carol-pc from bob"

# ------------------------------------------------- alice -> bob, approved
cap_start net to-bob router-bob
cap_start srv eth0 server
check "ping alice -> bob over the tunnel (approved by peer_connection)" \
	to_file "$E2E_W/ping-first.txt" run alice ping -c 3 -i 0.5 -W 20 "${VIP[bob]}"
diag "first ping (approval + handshake): $(grep -m1 'icmp_seq=1 ' "$E2E_W/ping-first.txt" | sed 's/.*icmp_seq=1 //')"
diag "alice's jazzd: $(grep -m1 'peer bob-pc: first packet held' "$E2E_W/alice.log" | sed 's/.*peer bob-pc: //')"
check "the first ping's packet got through (icmp_seq=1 answered)" grep -q 'icmp_seq=1 ' "$E2E_W/ping-first.txt"
check "alice's kernel has a key for bob-pc, agreed on demand" \
	eval "run alice '$JZ' show jazz0 keys | grep -qi primary"
check "that key runs on lib/crypto (handshake version 2: zero salts)" \
	eval "run alice '$JZ' show jazz0 | grep -q 'key: primary.* driver chacha20poly1305-lib'"
check "alice started that handshake for the approved connection" \
	log_has "$E2E_W/alice.log" "peer bob-pc: handshake for key [0-9]+ started \\(on demand: a connection approved\\)"
check "server: peer_connection approved alice-pc -> bob-pc" \
	log_has "$L" "e2e: approve icmp alice-pc .* -> bob-pc"
ip netns exec "$(ns_name bob)" iperf3 -s -1 -p 5201 >"$E2E_W/iperf3-server.txt" 2>&1 &
_T_PIDS+=($!)
wait_listen bob tcp 5201 20
check "TCP transfer alice -> bob over the tunnel (iperf3, 3 s)" \
	to_file "$E2E_W/iperf3.json" run alice iperf3 -J -c "${VIP[bob]}" -p 5201 -t 3
BPS=$(iperf_bps "$E2E_W/iperf3.json" 2>/dev/null || echo 0)
diag "iperf3 alice -> bob: $((BPS / 1000000)) Mbit/s"
check "the TCP connection was approved too" log_has "$L" "e2e: approve tcp alice-pc .* -> bob-pc .*:5201"
diag "alice's jazzd, a later connection to bob (approval only): $(grep 'peer bob-pc: verdict after' "$E2E_W/alice.log" | tail -1 | sed 's/.*peer bob-pc: //')"
check_eq "alice's endpoint for bob-pc is bob's underlay address" "$(peer_endpoint alice bob-pc)" "${UL[bob]}:51820"
check_eq "bob's endpoint for alice-pc is alice's underlay address" "$(peer_endpoint bob alice-pc)" "${UL[alice]}:51820"
NR=$(cap_stop router-bob) NS=$(cap_stop server)
check "the router forwarded the tunnel packets between alice and bob ($NR packets)" [ "$NR" -gt 20 ]
check_eq "the server's namespace saw no tunnel packet" "$NS" 0
run alice "$JZ" conns jazz0 >"$E2E_W/alice.conns-1.txt" 2>&1
say "alice -> bob: ping and a TCP transfer ($((BPS / 1000000)) Mbit/s in TCG) went directly ${UL[alice]} <-> ${UL[bob]}; the server saw none of it"

# ------------------------------------------------- denied connections
PING=$(run alice ping -c 2 -i 0.5 -W 3 "${VIP[carol]}" 2>&1)
check_fail "ping alice -> carol fails" grep -q ' 0% packet loss' <<<"$PING"
check "peer_connection denied alice-pc -> carol-pc" log_wait 20 "$L" "e2e: deny icmp alice-pc .* -> carol-pc"
PING=$(run alice ping -c 2 -i 0.5 -W 3 "${VIP[carol]}" 2>&1)
diag "$PING"
check "the sender gets ICMP administratively prohibited" grep -qi 'filtered\|prohibited' <<<"$PING"
run alice "$JZ" show jazz0 >"$E2E_W/alice.show-denied.txt" 2>&1
check "alice's kernel counted the denied packets (peer carol-pc: drops conncheck)" \
	bash -c "sed -n '/name: carol-pc/,/^\$/p' '$E2E_W/alice.show-denied.txt' | grep -Eq 'drops:.* conncheck [1-9]'"
check_fail "ping bob -> carol fails (carol-pc is not bob's peer)" run bob ping -c 1 -W 3 "${VIP[carol]}"
check_fail "on demand: the denied pair alice/carol never hand-shook" \
	grep -q 'peer carol-pc: handshake for key [0-9]* started' "$E2E_W/alice.log"
say "denied: alice -> carol refused by peer_connection (ICMP admin-prohibited at alice, counted); bob cannot reach carol at all"

# ---------------------------------------------------------------- events
EV=$E2E_W/events.log
for e in "user-logged-in .*\"user\":\"alice\"" "user-logged-in .*\"user\":\"bob\".*\"method\":\"password\"" \
	"user-logged-in .*\"user\":\"carol\"" "device-connected .*\"device\":\"bob-pc\"" \
	"peer-list-changed .*\"device\":\"bob-pc\"" \
	"connection-approved .*\"origin_device\":\"alice-pc\".*\"destination_device\":\"bob-pc\"" \
	"connection-denied .*\"origin_device\":\"alice-pc\".*\"destination_device\":\"carol-pc\""; do
	check "handler step recorded: ${e%% *} (${e#* .*})" log_wait 20 "$EV" "^$e"
done
check "eventsgw.conf action recorded connection-approved" log_wait 20 "$E2E_W/connections.log" '^connection-approved .*"bob-pc"'
check "eventsgw.conf action recorded connection-denied" log_wait 20 "$E2E_W/connections.log" '^connection-denied .*"carol-pc"'
check "bob's last peer-list-changed lacks carol-pc" bash -c \
	"grep '^peer-list-changed .*\"device\":\"bob-pc\"' '$EV' | tail -1 | grep -vq carol-pc"
say "events: jazzd published them on Redis; handler steps wrote $E2E_W/events.log, the eventsgw.conf action $E2E_W/connections.log"

if [ "$E2E_MODE" = demo ]; then
	say "what the kernels hold now (jazzctl show / conns in alice's namespace):"
	run alice "$JZ" show jazz0 | sed 's/^/   /'
	run alice "$JZ" conns jazz0 | sed 's/^/   /'
fi

# ======================================================= robustness (full)
if [ "$E2E_MODE" = full ]; then
	[ -f "$(dirname "$0")/robustness.sh" ] && . "$(dirname "$0")/robustness.sh"
fi

# ---------------------------------------------------------------- the end
for n in $E2E_CLIENTS srv; do e2e_stop "$n"; done
check "jazzd server exited cleanly" true
for n in $E2E_CLIENTS; do run "$n" ip link del jazz0; done
check "every jazz.ko object freed (devices, peers, keys)" wait_for 20 eval '[ "$(kobjects)" = "devices 0 peers 0 keys 0" ]'
check "every connection object freed (tables, conns, held)" wait_for 20 eval '[ "$(kconns)" = "tables 0 conns 0 held 0" ]'
diag "jazz.ko objects after: $(kobjects); $(kconns)"
check "rmmod jazz" rmmod jazz
dmesg_check "kernel log: no WARN/BUG/Oops during the scenario"
dmesg_since_mark >"$E2E_W/dmesg.txt"
say "done in $(( $(date +%s) - T0 )) s; logs: $E2E_W (srv.log, alice.log, bob.log, carol.log, events.log, connections.log, kdc/, iperf3.json, *.show-*.txt)"
