#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# On-demand pair keys (issue 18, item 3): with [client] pair_handshake =
# on-demand (jazzd's default) a linked pair hand-shakes only when it first
# needs a key. Real MIT KDC, TLS, jazzd server and three jazzd clients with
# the fake kernel backend (its log holds every key, key-del and verdict in
# order; its FIFO injects the kernel's approval requests, traffic and
# drops):
#   - no pair has a key after login; an approved connection alice -> bob
#     gives exactly that pair a key, and alice's verdict (which releases
#     the held first packet) is installed only once the key is in place at
#     both ends: the first packet waits for approval and handshake;
#   - an idle pair's keys go after pair_idle (alice: 4 s; bob: never),
#     one end alone; the peer still sending (no-key drops at alice) brings
#     a fresh handshake; the next connection after a drop brings keys back;
#   - traffic keeps a pair's keys (carol, pair_idle 4 s, fed traffic);
#   - hostile: 300 connection requests at once cost one handshake; handshake
#     messages from a device that never asked are cut by the relay's budget
#     and install nothing;
#   - eager mode still keys every linked pair at login.
# The first-packet wait (approval + handshake, and approval alone) is
# printed as # lines (docs/BENCHMARKS.md), not asserted.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
has() { grep -q -- "$2" "$T/$1"; }
hasnt() { ! grep -q -- "$2" "$T/$1"; }
# line number of the first line matching RE after line FROM (0: none)
line_of() { # LOG RE [FROM]
	awk -v re="$2" -v from="${3:-0}" 'NR > from && $0 ~ re { print NR; exit }' "$T/$1" |
		grep . || echo 0
}
lines() { wc -l <"$T/$1"; }
vip_of() { sed -n 's/.*logged in as .*(id [0-9]*): \([0-9.]*\) .*/\1/p' "$T/$1.log" | tail -1; }
# KERNEL-LOG PEER KEYID: "tx rx" of that key
keys_of() { grep "^key-new peer=$2 .*key-id=$3 " "$1" | tail -1 | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\1 \2/'; }
pair_matches() { # A-LOG A-PEER B-LOG B-PEER KEYID
	local a b
	a=$(keys_of "$T/$1" "$2" "$5")
	b=$(keys_of "$T/$3" "$4" "$5")
	[ -n "$a" ] && [ "$a" = "$(echo "$b" | awk '{print $2, $1}')" ]
}
last_kid() { grep "^key-new peer=$2 " "$T/$1" | tail -1 | sed 's/.*key-id=\([0-9]*\).*/\1/'; }
waitn() { # SECONDS CMD...: until CMD succeeds
	local i lim=$(($1 * 10))
	shift
	for ((i = 0; i < lim; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
after() { # LOG RE FROM: a line matching RE after line FROM
	[ "$(line_of "$1" "$2" "$3")" != 0 ]
}

export JAZZ_SAMPLE_HIDE=bob:mallory-pc
cp_server_conf "[server]" "max_devices = 0" "keepalive = 2"
cp_start server
wait_for "$T/server.log" "server listening" 5 || nok "server starts"

# jazzd's default: no pair_handshake line at all
export CP_PAIR_HANDSHAKE=
cp_client_conf alice-pc alice kerberos "pair_idle = 4"
cp_client_conf bob-pc bob password "pair_idle = 3600"
cp_client_conf carol-pc carol password "pair_idle = 4"
for n in alice bob carol; do
	cp_start "$n-pc"
	check "$n logs in (on demand, the default)" wait_for "$T/$n-pc.log" "logged in as $n" 10
done
A=$(vip_of alice-pc) B=$(vip_of bob-pc) C=$(vip_of carol-pc)
echo "# alice $A (id 1), bob $B (id 2), carol $C (id 3)"
check "alice installed bob and carol as peers" bash -c "
	for i in \$(seq 50); do grep -q '^peer-new id=2 ' '$T/alice-pc.kernel' &&
		grep -q '^peer-new id=3 ' '$T/alice-pc.kernel' && exit 0; sleep 0.1; done; exit 1"
sleep 3
check "3 s after login no pair has a key (no handshake at install)" bash -c "
	! grep -q '^key-new' '$T/alice-pc.kernel' '$T/bob-pc.kernel' '$T/carol-pc.kernel'"
check "... and no handshake went through the server" hasnt alice-pc.log "handshake for key"

# ---- 1. the first approved connection: approval + handshake --------------
inject alice-pc "request proto=tcp src=$A:40000 dst=$B:80 cookie=7"
check "approval alice -> bob: alice's verdict (cookie 7) installed" \
	wait_for "$T/alice-pc.kernel" "^verdict approve peer=2 cookie=7 " 10
check "alice started the handshake on demand" has alice-pc.log "peer bob-pc: handshake for key [0-9]* started (on demand: a connection approved)"
kid=$(last_kid alice-pc.kernel 2)
check "alice and bob agreed a key (alice's tx is bob's rx)" \
	pair_matches alice-pc.kernel 2 bob-pc.kernel 1 "$kid"
kn=$(line_of alice-pc.kernel "^key-new peer=2 ")
vn=$(line_of alice-pc.kernel "^verdict approve peer=2 cookie=7 ")
check "alice's verdict came after her key (the held first packet leaves with a key)" \
	[ "$kn" -gt 0 ] && [ "$vn" -gt "$kn" ]
check "bob held the key before alice released the packet (message 1, then 2)" \
	has bob-pc.kernel "^key-new peer=1 slot=primary key-id=$kid "
check "exactly that pair: no key for carol anywhere" bash -c "
	! grep -q '^key-new peer=3 ' '$T/alice-pc.kernel' '$T/bob-pc.kernel' &&
	! grep -q '^key-new' '$T/carol-pc.kernel'"
wait1=$(grep -m1 "peer bob-pc: first packet held" "$T/alice-pc.log" | sed 's/.*first packet held/first packet held/')
echo "# on demand, alice -> bob: $wait1"
check "alice logged the first packet's wait (approval + handshake)" [ -n "$wait1" ]

inject alice-pc "request proto=tcp src=$A:40001 dst=$B:81 cookie=8"
check "a second connection alice -> bob: verdict at once (the key is there)" \
	wait_for "$T/alice-pc.kernel" "^verdict approve peer=2 cookie=8 " 5
wait2=$(grep -m1 "peer bob-pc: verdict after" "$T/alice-pc.log" | sed 's/.*verdict after/approval only:/')
echo "# alice -> bob with a key: $wait2"
check "no second handshake for it" bash -c "[ \$(grep -c '^key-new peer=2 ' '$T/alice-pc.kernel') = 1 ]"

# ---- 2. idle: one end drops, the other still sends -----------------------
check "alice (pair_idle 4) dropped the idle pair's keys, both slots" bash -c "
	for i in \$(seq 120); do grep -q '^key-del peer=2 slot=primary' '$T/alice-pc.kernel' &&
		grep -q '^key-del peer=2 slot=secondary' '$T/alice-pc.kernel' && exit 0; sleep 0.1; done; exit 1"
check "alice says why" has alice-pc.log "peer bob-pc: keys dropped (no traffic for 4 s)"
check "... and ended the pair's connections (the next packet asks again)" \
	has alice-pc.kernel "^conn-flush peer=2"
check "bob (pair_idle 3600) keeps his" hasnt bob-pc.kernel "^key-del"
nb=$(lines bob-pc.kernel) na=$(lines alice-pc.kernel)
# bob still sends with the key alice dropped: her kernel drops it (no key)
inject alice-pc "drop peer=2 reason=no_key count=3"
check "packets from bob without a key at alice: she hand-shakes again" \
	waitn 10 after alice-pc.kernel "^key-new peer=2 " "$na"
check "alice logs why" has alice-pc.log "handshake for key [0-9]* started (on demand: the peer sends with a key this end has not)"
kid2=$(last_kid alice-pc.kernel 2)
check "the fresh key matches at both ends" waitn 5 pair_matches alice-pc.kernel 2 bob-pc.kernel 1 "$kid2"
check "bob, still keyed, took it in the secondary slot and swapped it in" bash -c "
	for i in \$(seq 50); do
		tail -n +$((nb + 1)) '$T/bob-pc.kernel' | grep -q '^key-new peer=1 slot=secondary key-id=$kid2 ' &&
		tail -n +$((nb + 1)) '$T/bob-pc.kernel' | grep -q '^key-swap peer=1' && exit 0; sleep 0.1; done; exit 1"

# ---- 3. the next connection after an idle drop brings keys back -----------
nd=$(count "$T/alice-pc.kernel" "^key-del peer=2 slot=primary")
check "alice drops the pair again when idle" bash -c "
	for i in \$(seq 120); do [ \$(grep -c '^key-del peer=2 slot=primary' '$T/alice-pc.kernel') -gt $nd ] && exit 0; sleep 0.1; done; exit 1"
na=$(lines alice-pc.kernel)
inject alice-pc "request proto=tcp src=$A:40002 dst=$B:82 cookie=9"
check "a new connection after the drop: verdict installed" \
	wait_for "$T/alice-pc.kernel" "^verdict approve peer=2 cookie=9 " 10
kn=$(line_of alice-pc.kernel "^key-new peer=2 " "$na")
vn=$(line_of alice-pc.kernel "^verdict approve peer=2 cookie=9 " "$na")
check "... after a fresh key (keys back on the next connection)" [ "$kn" -gt 0 ] && [ "$vn" -gt "$kn" ]
wait3=$(grep "peer bob-pc: first packet held" "$T/alice-pc.log" | tail -1 | sed 's/.*first packet held/first packet held/')
echo "# alice -> bob after an idle drop (bob still keyed): $wait3"

# ---- 4. traffic keeps a pair's keys ---------------------------------------
inject bob-pc "request proto=udp src=$B:5000 dst=$C:53 cookie=21"
check "bob -> carol approved, with keys at both ends" bash -c "
	for i in \$(seq 100); do grep -q '^verdict approve peer=3 cookie=21 ' '$T/bob-pc.kernel' &&
		grep -q '^key-new peer=2 ' '$T/carol-pc.kernel' && exit 0; sleep 0.1; done; exit 1"
for i in $(seq 8); do
	inject carol-pc "traffic peer=2 rx=1:100"
	inject bob-pc "traffic peer=3 tx=1:100"
	sleep 1
done
check "8 s of traffic: carol (pair_idle 4) kept the keys" hasnt carol-pc.kernel "^key-del"
# then keepalives only (jazz.ko counts them: a tx packet of 32 bytes,
# header and tag; an rx packet of no inner bytes): not data
for i in $(seq 8); do
	inject carol-pc "traffic peer=2 tx=1:32 rx=1:0"
	sleep 1
done
check "keepalives alone do not keep them: carol dropped them by herself" \
	wait_for "$T/carol-pc.kernel" "^key-del peer=2 slot=primary" 5
check "bob (pair_idle 3600) still holds his" hasnt bob-pc.kernel "^key-del"
nc=$(lines carol-pc.kernel)
# jazz.ko sends a keyless peer's keepalive every 25 s, a tx no-key drop
inject carol-pc "drop peer=2 reason=tx_no_key"
sleep 2.5
check "one tx no-key drop (a keepalive of the keyless peer) starts no handshake" \
	bash -c "! tail -n +$((nc + 1)) '$T/carol-pc.kernel' | grep -q '^key-new'"
inject carol-pc "drop peer=2 reason=tx_no_key"
check "a second one soon after (data, on a device without connection checks): a handshake" \
	waitn 10 after carol-pc.kernel "^key-new peer=2 " "$nc"
check "carol says why" has carol-pc.log "peer bob-pc: handshake for key [0-9]* started (on demand: packets to it went without a key)"

# ---- 4b. the peer's kernel peer made anew while this end keeps its keys ----
# bob (id 2, pair_idle 3600) keeps his keys for alice; a stalled bob is
# dropped by the server, alice (id 1) removes his peer and makes it anew
# without a key when he is back: the server's pair_start has bob, the
# end with keys, start a handshake although he has the higher id
na=$(lines alice-pc.kernel)
kill -STOP "$(cp_pid bob-pc)"
check "a stalled bob is dropped: alice removes his peer" \
	waitn 20 after alice-pc.kernel "^peer-del id=2" "$na"
kill -CONT "$(cp_pid bob-pc)"
check "bob back: alice's new peer for him gets a key with no connection asked" \
	waitn 20 bash -c "tail -n +$((na + 1)) '$T/alice-pc.kernel' | awk '/^peer-new id=2 / { k = 0 } /^key-new peer=2 / { k = 1 } END { exit !k }'"
check "bob, who kept his keys, started it (the pair was linked anew)" \
	has bob-pc.log "peer alice-pc: handshake for key [0-9]* started (on demand: the pair was linked anew)"
check "nothing asked for a connection meanwhile" bash -c "
	! tail -n +$((na + 1)) '$T/alice-pc.kernel' | grep -q '^injected-request'"

# ---- 5. hostile: a flood of connections, handshakes nobody asked for ------
hs0=$(count "$T/alice-pc.log" "handshake for key [0-9]* started")
k0=$(count "$T/carol-pc.kernel" "^key-new peer=1 ")
for i in $(seq 300); do
	echo "request proto=tcp src=$A:$((41000 + i)) dst=$C:443 cookie=$((1000 + i))"
done >"$T/alice-pc.fifo"
check "300 connections alice -> carol: every one got its verdict" bash -c "
	for i in \$(seq 300); do [ \$(grep -c '^verdict [a-z]* peer=3 cookie=1[0-9][0-9][0-9] ' '$T/alice-pc.kernel') -ge 300 ] && exit 0; sleep 0.1; done; exit 1"
hs=$(($(count "$T/alice-pc.log" "handshake for key [0-9]* started") - hs0))
kc=$(($(count "$T/carol-pc.kernel" "^key-new peer=1 ") - k0))
echo "# 300 requests: $hs handshake(s) started by alice, $kc key(s) at carol; $(count "$T/alice-pc.kernel" '^verdict deny peer=3 cookie=1') denied past the server's in-flight budget"
check "they cost one handshake (one key at carol)" [ "$hs" = 1 ] && [ "$kc" = 1 ]
check "the server is still running" kill -0 "$(cp_pid server)"
bad_init=$(head -c 58 /dev/urandom | base64 -w0)
r=$(jzc -m password -u mallory -p malpw -d mallory-pc pairflood 1 "$bad_init" 40)
echo "$r" | tail -1 | sed 's/^/# mallory-pc -> alice-pc, 40 handshake messages: /'
check "handshake messages nobody asked for: cut by the relay's budget" \
	grep -q "^pair_refused rate-limited" <<<"$r"
check "... and what reached alice installed nothing (it does not authenticate)" \
	bash -c "! grep -q '^key-new peer=4 ' '$T/alice-pc.kernel'"

# ---- 6. eager mode keys every linked pair at login ------------------------
for n in alice bob carol; do cp_stop "$n-pc"; done
export CP_PAIR_HANDSHAKE=eager
na=$(lines alice-pc.kernel) nb=$(lines bob-pc.kernel) nc=$(lines carol-pc.kernel)
cp_client_conf alice-pc alice kerberos
cp_client_conf bob-pc bob password
cp_client_conf carol-pc carol password
for n in alice bob carol; do
	cp_start "$n-pc"
	check "$n logs in again, eager" wait_for "$T/$n-pc.log" "logged in as $n" 10
done
check "eager: every linked pair has a key without any connection" bash -c "
	for i in \$(seq 150); do
		tail -n +$((na + 1)) '$T/alice-pc.kernel' | grep -q '^key-new peer=2 ' &&
		tail -n +$((na + 1)) '$T/alice-pc.kernel' | grep -q '^key-new peer=3 ' &&
		tail -n +$((nb + 1)) '$T/bob-pc.kernel' | grep -q '^key-new peer=3 ' &&
		tail -n +$((nc + 1)) '$T/carol-pc.kernel' | grep -q '^key-new peer=2 ' && exit 0
		sleep 0.1
	done; exit 1"
check "eager: no connection was asked for" bash -c "
	! tail -n +$((na + 1)) '$T/alice-pc.kernel' | grep -q '^injected-request'"
for n in alice bob carol; do cp_stop "$n-pc"; done
cp_done
