#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Device keys rotated by packet count (issue 18): jazz.ko sends
# key-rotate-ntf when a key nears its packet limit; the fake backend takes
# the same notification from its FIFO ("rotate peer=ID key=KEYID"). Real
# MIT KDC, TLS, jazzd server and two jazzd clients (fake kernel backend,
# whose log holds every key installed):
#   - the lower id (alice) and the higher id (bob) each start a new
#     Noise_KK handshake when their kernel asks; the new key goes into the
#     secondary slot at both ends and is swapped in, initiator first;
#   - crossed handshakes (both ends asked at once, held at a stopped
#     server so they really cross) end the same way at both ends: alice's
#     (the lower id) goes on, bob's is dropped, one key agreed;
#   - hostile notifications: a stale key id, an unknown peer, malformed
#     lines and floods change nothing beyond one rotation, and the log
#     stays short.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
has() { grep -q -- "$2" "$T/$1"; }

cp_server_conf "[server]" "keepalive = 2"
cp_start server
wait_for "$T/server.log" "server listening" 5 || nok "server starts"
# rekey_interval long: every new key below is one the kernel asked for
cp_client_conf alice-pc alice kerberos "rekey_interval = 3600"
cp_start alice-pc
check "alice logs in" wait_for "$T/alice-pc.log" "logged in as alice"
cp_client_conf bob-pc bob password "rekey_interval = 3600"
cp_start bob-pc
check "bob logs in" wait_for "$T/bob-pc.log" "logged in as bob"
check "alice (id 1) and bob (id 2) agree a first key" bash -c "
	for i in \$(seq 100); do grep -q '^key-new peer=1 ' '$T/bob-pc.kernel' &&
		grep -q '^key-new peer=2 ' '$T/alice-pc.kernel' && exit 0; sleep 0.1; done; exit 1"

# KERNEL-LOG PEER KEYID: "tx rx" of that key
keys_of() { grep "^key-new peer=$2 .*key-id=$3 " "$1" | tail -1 | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\1 \2/'; }
pair_matches() { # KEYID: alice's tx is bob's rx and the other way round
	local a b
	a=$(keys_of "$T/alice-pc.kernel" 2 "$1")
	b=$(keys_of "$T/bob-pc.kernel" 1 "$1")
	[ -n "$a" ] && [ "$a" = "$(echo "$b" | awk '{print $2, $1}')" ]
}
# the key an end sends with: its last primary key-new, or the last
# secondary one swapped in after it
active() { # KERNEL-LOG PEER
	awk -v p="$2" '
		$1 == "key-new" && $2 == "peer=" p { split($4, a, "="); id = a[2]
			if ($3 == "slot=primary") { cur = id; pend = "" } else pend = id }
		$1 == "key-swap" && $2 == "peer=" p && pend != "" { cur = pend; pend = "" }
		END { print cur }' "$1"
}
nkeys() { count "$T/$1" "^key-new peer=$2 "; }
nswaps() { count "$T/$1" "^key-swap peer=$2"; }
settle() { sleep "${1:-1.5}"; }

# Waits until both ends swapped N more times than A0/B0 (alice, bob).
swapped() { # A0 B0 N
	local i
	for i in $(seq 100); do
		[ "$(nswaps alice-pc.kernel 2)" -ge $(($1 + $3)) ] &&
			[ "$(nswaps bob-pc.kernel 1)" -ge $(($2 + $3)) ] && return 0
		sleep 0.1
	done
	return 1
}
# every key-new after line FROM of a log went into the secondary slot and
# was swapped in before the next one (no key overwritten before its swap)
secondary_then_swap() { # KERNEL-LOG PEER FROM
	tail -n +"$(($3 + 1))" "$1" | awk -v p="$2" '
		$1 == "key-new" && $2 == "peer=" p { if ($3 != "slot=secondary" || open) bad = 1; open = 1 }
		$1 == "key-swap" && $2 == "peer=" p { open = 0 }
		END { exit bad || open }'
}
lines() { wc -l <"$T/$1"; }

# ---- 1. the lower id's kernel asks --------------------------------------
k0=$(active "$T/alice-pc.kernel" 2)
a0=$(nswaps alice-pc.kernel 2); b0=$(nswaps bob-pc.kernel 1)
la=$(lines alice-pc.kernel); lb=$(lines bob-pc.kernel)
settle
inject alice-pc "rotate peer=2 key=$k0 counter=1000"
check "alice's kernel asks (key $k0): alice logs the rotation" \
	wait_for "$T/alice-pc.log" "peer bob-pc: key $k0 sent 1000 packets, near its limit: a new key is due" 5
check "a new handshake: both ends swap in a new key" swapped "$a0" "$b0" 1
k1=$(active "$T/alice-pc.kernel" 2)
check "the new key ($k1) differs from the old ($k0) and is bob's too" \
	bash -c "[ '$k1' != '$k0' ] && [ '$(active "$T/bob-pc.kernel" 1)' = '$k1' ]"
check "alice's tx is bob's rx and the other way round" pair_matches "$k1"
check "alice: the new key went into the secondary slot, then key-swap" \
	secondary_then_swap "$T/alice-pc.kernel" 2 "$la"
check "bob: the same (swapped after alice's confirm)" \
	secondary_then_swap "$T/bob-pc.kernel" 1 "$lb"

# ---- 2. the higher id's kernel asks -------------------------------------
a0=$(nswaps alice-pc.kernel 2); b0=$(nswaps bob-pc.kernel 1)
la=$(lines alice-pc.kernel); lb=$(lines bob-pc.kernel)
settle
inject bob-pc "rotate peer=1 key=$k1 counter=5"
check "bob (the higher id) starts the handshake himself" \
	wait_for "$T/bob-pc.log" "peer alice-pc: handshake for key [0-9]* started \(rotation by packet count\)" 5
check "both ends swap in a new key" swapped "$a0" "$b0" 1
k2=$(active "$T/bob-pc.kernel" 1)
check "the new key ($k2) is new and the same at both ends" \
	bash -c "[ '$k2' != '$k1' ] && [ '$(active "$T/alice-pc.kernel" 2)' = '$k2' ] "
check "bob's tx is alice's rx and the other way round" pair_matches "$k2"
check "bob (initiator this time): secondary slot, then key-swap" \
	secondary_then_swap "$T/bob-pc.kernel" 1 "$lb"
check "alice (responder this time): secondary slot, swapped on bob's confirm" \
	secondary_then_swap "$T/alice-pc.kernel" 2 "$la"

# ---- 3. crossed handshakes ----------------------------------------------
# Both kernels ask while the server is stopped: both message 1s wait in
# the server's socket and are relayed together, so each end receives the
# other's while its own is running. Three rounds.
for round in 1 2 3; do
	k=$(active "$T/alice-pc.kernel" 2)
	a0=$(nswaps alice-pc.kernel 2); b0=$(nswaps bob-pc.kernel 1)
	na=$(nkeys alice-pc.kernel 2); nb=$(nkeys bob-pc.kernel 1)
	ca=$(count "$T/alice-pc.log" "crossed handshakes: this device's \(the lower id\) goes on")
	cb=$(count "$T/bob-pc.log" "crossed handshakes: the peer's \(the lower id\) goes on")
	sa=$(count "$T/alice-pc.log" "handshake for key [0-9]* started")
	sb=$(count "$T/bob-pc.log" "handshake for key [0-9]* started")
	settle
	kill -STOP "$(cp_pid server)"
	inject alice-pc "rotate peer=2 key=$k"
	inject bob-pc "rotate peer=1 key=$k"
	started=0
	for i in $(seq 50); do
		[ "$(count "$T/alice-pc.log" "handshake for key [0-9]* started")" -gt "$sa" ] &&
			[ "$(count "$T/bob-pc.log" "handshake for key [0-9]* started")" -gt "$sb" ] &&
			{ started=1; break; }
		sleep 0.1
	done
	kill -CONT "$(cp_pid server)"
	check "crossed $round: both ends started a handshake (server stopped meanwhile)" test "$started" = 1
	check "crossed $round: both ends swap in one new key" swapped "$a0" "$b0" 1
	settle 1
	check "crossed $round: alice keeps hers (the lower id's)" \
		test "$(count "$T/alice-pc.log" "crossed handshakes: this device's \(the lower id\) goes on")" = $((ca + 1))
	check "crossed $round: bob drops his and answers alice's" \
		test "$(count "$T/bob-pc.log" "crossed handshakes: the peer's \(the lower id\) goes on")" = $((cb + 1))
	check "crossed $round: exactly one key installed at each end" \
		test "$(nkeys alice-pc.kernel 2)" = $((na + 1)) -a "$(nkeys bob-pc.kernel 1)" = $((nb + 1))
	kc=$(active "$T/alice-pc.kernel" 2)
	check "crossed $round: a new key ($kc) in use at both ends" \
		test "$kc" != "$k" -a "$(active "$T/bob-pc.kernel" 1)" = "$kc"
	check "crossed $round: alice's tx is bob's rx and the other way round" pair_matches "$kc"
done
check "no handshake was refused in the crossings" \
	bash -c "! grep -q 'handshake refused\|answer refused\|confirm refused\|for no handshake in progress' '$T/alice-pc.log' '$T/bob-pc.log'"

# ---- 4. hostile notifications -------------------------------------------
k=$(active "$T/alice-pc.kernel" 2)
na=$(nkeys alice-pc.kernel 2); nb=$(nkeys bob-pc.kernel 1)
settle
inject alice-pc "rotate peer=99 key=$k"
inject alice-pc "rotate peer=2 key=$(( (k + 128) % 256 ))"
inject alice-pc "rotate peer=2 key=$k slot=secondary"
for bad in "rotate" "rotate peer=2" "rotate key=$k" "rotate peer=0 key=$k" "rotate peer=2 key=256" \
	"rotate peer=-2 key=$k" "rotate peer=2 key=$k slot=tertiary" "rotate peer=2 key=1x" \
	"rotate peer=4294967296 key=$k" "rotate peer=2 key=$k counter=-1" "rotate peer=2 key=$k junk"; do
	inject alice-pc "$bad"
done
settle 2
check "a stale key id, a secondary slot, an unknown peer: no handshake, no key" \
	test "$(nkeys alice-pc.kernel 2)" = "$na" -a "$(nkeys bob-pc.kernel 1)" = "$nb"
check "the unknown peer is logged" has alice-pc.log "key-rotate for peer 99: not an installed peer with a key: ignored"
check "the stale key id is logged" has alice-pc.log "key-rotate for peer 2: not for the key it sends with"
check "the malformed lines are logged (sparsely: one line for 11)" \
	test "$(count "$T/alice-pc.log" "malformed rotate injection")" = 1
# floods: 2,000 notifications for an unknown peer, 2,000 malformed ones
# and 2,000 for the key in use, at once
for i in $(seq 2000); do echo "rotate peer=$((1000 + i)) key=1"; done >"$T/flood"
for i in $(seq 2000); do echo "rotate peer=2 key=x$i"; done >>"$T/flood"
for i in $(seq 2000); do echo "rotate peer=2 key=$k counter=$i"; done >>"$T/flood"
wa=$(lines alice-pc.log)
a0=$(nswaps alice-pc.kernel 2); b0=$(nswaps bob-pc.kernel 1)
cat "$T/flood" >"$T/alice-pc.fifo"
check "flood: the key in use is rotated once" swapped "$a0" "$b0" 1
settle 3
check "flood: exactly one new key at each end (6,000 notifications)" \
	test "$(nkeys alice-pc.kernel 2)" = $((na + 1)) -a "$(nkeys bob-pc.kernel 1)" = $((nb + 1))
check "flood: every notification reached the client (the fake logged 4,000 well-formed)" \
	bash -c "[ \$(grep -c '^injected-rotate' '$T/alice-pc.kernel') -ge 4000 ]"
grown=$(( $(lines alice-pc.log) - wa ))
echo "# alice's log grew by $grown lines during the flood"
check "flood: alice's log grew by a few lines only ($grown < 20)" test "$grown" -lt 20
kf=$(active "$T/alice-pc.kernel" 2)
check "flood: the new key ($kf) matches at both ends" pair_matches "$kf"
# still working: a real notification for the new key rotates again
a0=$(nswaps alice-pc.kernel 2); b0=$(nswaps bob-pc.kernel 1)
inject alice-pc "rotate peer=2 key=$kf"
check "after the floods, a notification for the key in use still rotates it" swapped "$a0" "$b0" 1
check "both clients still run" bash -c "kill -0 $(cp_pid alice-pc) && kill -0 $(cp_pid bob-pc)"

cp_stop alice-pc
cp_stop bob-pc
cp_done
