#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared state in Redis (issue 21, stage 1): two jazzd servers with
# [cluster] backend = redis on one real redis-server, real KDC and TLS, the
# test client (jzclient) logging in through both. Shows:
#   - leases are one per device across servers: a login race of 50 devices
#     through both servers at once, 10 of them through both at the same
#     time, ends with every device on one address and no address twice
#     (the LEASE script); max_devices counts a user's devices on all servers;
#   - one session per device: the same device held on both servers at once
#     ends with exactly one session (the ONLINE script and the change feed);
#   - a client lying about its device (another user's device name, a name
#     made to look like a Redis key) gets nothing of the other device;
#   - Redis holding malformed or oversized values (a lease that is not an
#     index, 2 MB where an index should be, an index outside the pool or
#     leased to another device, a public key that is not one, a feed that
#     is not a stream, garbage feed entries): the login is refused or the
#     value ignored, with a log line saying which, and the server goes on.
# About 20 s on a quiet machine.
set -u
. "$(dirname "$0")/cluster/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
RP=$(free_port)
PA=$(free_port)
PB=$(free_port)
check "redis-server starts" redis_start r0 "$RP"
cl_server_conf sa "$PA" "redis = 127.0.0.1:$RP"
cl_server_conf sb "$PB" "redis = 127.0.0.1:$RP"
cp_start sa
cp_start sb
check "server a takes its state from Redis" wait_for "$T/sa.log" "cluster: server sa, state in Redis" 5
check "server b too" wait_for "$T/sb.log" "server listening" 5
ja() { JZPORT=$PA jzc "$@"; }
jb() { JZPORT=$PB jzc "$@"; }
P=jazz
R=$KDC_REALM

# ---- 0. [cluster] is parsed at the edge --------------------------------------
badconf() { # DESC EXPECTED-ERROR LINES...: jazzd -t refuses the configuration
	local d=$1 e=$2
	shift 2
	cp "$T/sa.conf" "$T/bad.conf"
	printf '%s\n' "$@" >>"$T/bad.conf"
	check "$d" bash -c "! '$JAZZD' -f -t -c '$T/bad.conf' >'$T/bad.out' 2>&1 && grep -q '$e' '$T/bad.out'"
}
badconf "a server_id that is not a name is refused" "bad value for \[cluster\] server_id" \
	"server_id = a b"
badconf "a prefix with a colon is refused" "bad value for \[cluster\] prefix" "prefix = jazz:x"
badconf "an unknown backend is refused" "bad value for \[cluster\] backend" "backend = etcd"
badconf "session_ttl_ms under twice heartbeat_ms is refused" "at least twice heartbeat_ms" \
	"heartbeat_ms = 1000" "session_ttl_ms = 1500"
cp_server_conf "[cluster]" "backend = redis" "redis = 127.0.0.1:$RP"
check "backend = redis without a server_id is refused, saying so" \
	bash -c "! '$JAZZD' -f -t -c '$T/server.conf' >'$T/bad.out' 2>&1 && grep -q 'needs server_id' '$T/bad.out'"
check "the configuration of the servers passes -t" bash -c "'$JAZZD' -f -t -c '$T/sa.conf' >/dev/null 2>&1"

# ---- 1. the lease race ------------------------------------------------------
ja -m password -u bob -p bobpw -d ra many 20 >"$T/ra.out" &
p1=$!
jb -m password -u carol -p carolpw -d rb many 20 >"$T/rb.out" &
p2=$!
ja -m password -u dave -p davepw -d rs many 10 >"$T/rsa.out" &
p3=$!
jb -m password -u dave -p davepw -d rs many 10 >"$T/rsb.out" &
p4=$!
wait $p1 $p2 $p3 $p4
cat "$T"/ra.out "$T"/rb.out "$T"/rsa.out "$T"/rsb.out | grep -v '^#' | sed 's/^/# /'
check "all 60 logins of the race were welcomed" \
	bash -c "[ \$(grep -c '^ok \\(20/20\\|10/10\\)' $T/ra.out $T/rb.out $T/rsa.out $T/rsb.out | awk -F: '{s+=\$2} END {print s}') = 4 ]"
nk=$(rcr "$RP" --scan --pattern "$P:lk:*" | wc -l)
check "Redis holds 50 leases, one per device ($nk)" [ "$nk" = 50 ]
bij=$(for k in $(rcr "$RP" --scan --pattern "$P:lk:*"); do
	d=${k#"$P:lk:"}; i=$(rcr "$RP" get "$k")
	[ "$(rcr "$RP" get "$P:li:$i")" = "$d" ] && echo "$i"
done | sort -u | wc -l)
check "each device's index maps back to it, no index twice ($bij distinct)" [ "$bij" = 50 ]
dups=$(grep -h "^.*login: .* -> " "$T/sa.log" "$T/sb.log" | sed -n 's/.* device \([^ ]*\) from .* -> \([0-9.]*\) .*/\1 \2/p' |
	sort -u | awk '{n[$2]++; if (n[$2] > 1) print $2}')
check "the servers' logs give no address to two devices" [ -z "$dups" ]
same=$(for i in $(seq 0 9); do
	a=$(grep -h "device rs-$i from" "$T/sa.log" | sed -n 's/.* -> \([0-9.]*\) .*/\1/p' | sort -u)
	b=$(grep -h "device rs-$i from" "$T/sb.log" | sed -n 's/.* -> \([0-9.]*\) .*/\1/p' | sort -u)
	[ -n "$a" ] && [ "$a" = "$b" ] && echo same
done | wc -l)
check "a device logging in through both servers at once got one address on both ($same of 10)" [ "$same" = 10 ]
r=$(ja -m password -u bob -p bobpw -d ra-3 login)
check "a device back gets its address again: $r" grep -q "^welcome $(vip_of "$T/sb.log" "$T/sa.log" ra-3)\$" <<<"$r"

# max_devices (40) counts every server's leases: bob has 20 (through a)
# (bob's logins may be rate-limited by user_login_rate: fill up to 40 by retries)
for i in $(seq 0 19); do
	for _ in 1 2 3 4 5; do
		jb -m password -u bob -p bobpw -d "rc-$i" login | grep -q '^welcome' && break
		sleep 1
	done
done
nb=$(rcr "$RP" scard "$P:u:bob@$R")
check "bob has 40 devices, 20 of them through server b ($nb)" [ "$nb" = 40 ]
r=$(jb -m password -u bob -p bobpw -d one-too-many login)
check "a user's 41st device is refused on the other server (max_devices): $r" \
	grep -q "^reject too-many-devices" <<<"$r"

# ---- 2. one session per device -----------------------------------------------
ja -m password -u dave -p davepw -d dup hold 6 >"$T/dupa.out" &
p1=$!
jb -m password -u dave -p davepw -d dup hold 6 >"$T/dupb.out" &
p2=$!
wait $p1 $p2
cat "$T/dupa.out" "$T/dupb.out" | sed 's/^/# dup: /'
early=$(cat "$T/dupa.out" "$T/dupb.out" | grep -c "^ended after [0-5]\.")
check "the same device held on two servers at once: exactly one session was ended" [ "$early" = 1 ]
check "the server that lost it says where it went" \
	grep -q "(dup): closed: replaced \(on server s[ab]\|by a new session\)" "$T/sa.log" "$T/sb.log"
idx=$(rcr "$RP" get "$P:lk:dave@$R/dup")
check "Redis names no owner for it after both ended, or one only" \
	bash -c "[ \$(redis-cli -p $RP --raw get $P:on:$idx | wc -w) -le 2 ]"

# ---- 3. lying about the device ------------------------------------------------
cp_client_conf alice-pc alice kerberos
sed -i "s|^server = .*|server = 127.0.0.1:$PA|" "$T/alice-pc.conf"
cp_start alice-pc
check "alice-pc (a real jazzd client) logs in through server a" \
	wait_for "$T/alice-pc.log" "logged in as alice" 10
aidx=$(rcr "$RP" get "$P:lk:alice@$R/alice-pc")
r=$(jb -m password -u carol -p carolpw -d alice-pc login)
check "carol naming her device alice-pc gets another address than alice's: $r" \
	bash -c "grep -q '^welcome' <<<'$r' && ! grep -q '^welcome $(vip_of "$T/sa.log" alice-pc)\$' <<<'$r'"
check "alice's online record still names server a" \
	bash -c "redis-cli -p $RP --raw get $P:on:$aidx | grep -q '^sa '"
check "alice's session was not replaced" bash -c "! grep -q '(alice-pc): closed: replaced' $T/sa.log"
r=$(jb -m password -u bob -p bobpw -d "x:on:$aidx" login)
check "a device name made to look like a Redis key is refused (bad-device): $r" \
	grep -q "^reject bad-device" <<<"$r"
check "... and reaches nothing in Redis" bash -c "[ -z \"\$(redis-cli -p $RP --raw --scan --pattern '*x:on*')\" ]"

# ---- 4. malformed and oversized values in Redis --------------------------------
rcr "$RP" set "$P:lk:dave@$R/bad1" "not-an-index" >/dev/null
r=$(ja -m password -u dave -p davepw -d bad1 login)
check "a lease that is not an index: login refused ($r)" grep -q "^reject state-malformed" <<<"$r"
check "... the log says so" grep -q "lease of dave@$R/bad1 refused: .*is not an index" "$T/sa.log"
head -c 2000000 /dev/zero | tr '\0' 7 | rcr "$RP" -x set "$P:lk:dave@$R/bad2" >/dev/null
r=$(ja -m password -u dave -p davepw -d bad2 login)
check "2 MB where an index should be: refused ($r)" grep -q "^reject state-malformed" <<<"$r"
check "... the log names the size" grep -q "lk:dave@$R/bad2 holds 2000000 bytes" "$T/sa.log"
rcr "$RP" set "$P:lk:dave@$R/bad3" 99999999 >/dev/null
r=$(jb -m password -u dave -p davepw -d bad3 login)
check "an index outside the pool: refused ($r)" grep -q "^reject state-malformed" <<<"$r"
rcr "$RP" set "$P:lk:dave@$R/bad4" "$aidx" >/dev/null
r=$(jb -m password -u dave -p davepw -d bad4 login)
check "an index leased to another device (alice's): refused ($r)" grep -q "^reject state-malformed" <<<"$r"
check "... the log says whose it is not" grep -q "index $aidx is leased to another device" "$T/sb.log"
rcr "$RP" lpush "$P:lk:dave@$R/bad5" x >/dev/null
r=$(jb -m password -u dave -p davepw -d bad5 login)
check "a lease of the wrong type (a list): refused ($r)" grep -q "^reject state-malformed" <<<"$r"
b3=$(rcr "$RP" get "$P:lk:bob@$R/ra-3")
rcr "$RP" hset "$P:d:$b3" pub "this is not a key at all, and longer than one" >/dev/null
r=$(ja -m password -u bob -p bobpw -d ra-3 login)
check "a malformed identity key in Redis is ignored, the login goes on ($r)" grep -q "^welcome" <<<"$r"
rcr "$RP" del "$P:feed" >/dev/null
rcr "$RP" set "$P:feed" "not a stream" >/dev/null
r=$(jb -m password -u bob -p bobpw -d ra-4 login)
check "a change feed that is not a stream is replaced, the login goes on ($r)" grep -q "^welcome" <<<"$r"
rcr "$RP" xadd "$P:feed" '*' t on i 999999999999999999999 s sb sid 1 >/dev/null
rcr "$RP" xadd "$P:feed" '*' t on i "$aidx" s 'bad name!' sid 1 >/dev/null
rcr "$RP" xadd "$P:feed" '*' t on >/dev/null
head -c 100000 /dev/zero | tr '\0' A | rcr "$RP" -x xadd "$P:feed" '*' t >/dev/null
sleep 1
check "garbage feed entries (bad index, bad server name, missing and huge fields) drop no session" \
	bash -c "! grep -q '(alice-pc): closed: replaced' $T/sa.log"
rcr "$RP" eval "for i = 1, 5000 do redis.call('XADD', KEYS[1], '*', 't', 'x') end" 1 "$P:feed" >/dev/null
check "5000 feed entries at once: the server says it lags and resyncs" \
	wait_for "$T/sa.log" "the change feed runs ahead of this server; resyncing" 10
sleep 1
check "... and drops no session for it" bash -c "! grep -q '(alice-pc): closed: replaced' $T/sa.log"
check "server a still running" kill -0 "$(cp_pid sa)"
check "server b still running" kill -0 "$(cp_pid sb)"
r=$(jb -m password -u carol -p carolpw -d after login)
check "and logins work after all that ($r)" grep -q "^welcome" <<<"$r"
cp_done
