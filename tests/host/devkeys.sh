#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Device-held keys (issue 18): every jazzd client makes its own X25519
# identity key, the server binds the public half to user@realm/device and
# lists it to the device's peers, and each pair agrees its keys with the
# Noise_KK handshake the server relays unread. Real MIT KDC, real TLS, a
# real jazzd server and clients with the fake kernel backend (whose log
# holds the keys each device installed):
#   - two devices agree keys (one's tx is the other's rx) and rotate them;
#   - the server has none of those keys: not in its log, its leases, nor
#     anywhere in its memory (/proc/PID/mem), though it has the public keys;
#   - a device that may not see another cannot get a handshake to it, and
#     a flood is cut by the relay's rate limit;
#   - malformed or missing identity keys at login are refused clearly;
#   - a device coming back with another key is logged, and its peer agrees
#     new keys with it;
#   - against a hostile server (rogue.c): replayed, forged and tampered
#     handshakes are refused by the device;
#   - an independent Noise_KK initiator (noise_ref.py, from the spec on
#     python3-cryptography) and jazzd's responder agree on every key.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
. "$(dirname "$0")/controlplane/rogue-lib.sh"

HSTOOL=$TOP/build/tests/hstool
KEYSCAN=$TOP/tests/host/devkeys/keyscan.py

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
build_rogue || { echo "not ok 1 - build rogue"; exit 1; }
build_test_tool "$HSTOOL" "openssl" "$TOP/tests/host/devkeys/hstool.c" \
	"$TOP/userspace/jazzd/client/noise.c" || { echo "not ok 1 - build hstool"; exit 1; }
has() { grep -q -- "$2" "$T/$1"; }
hasnt() { ! grep -q -- "$2" "$T/$1"; }

export JAZZ_SAMPLE_HIDE=bob:mallory-pc
cp_server_conf "[server]" "max_devices = 0" "keepalive = 2"
cp_start server
wait_for "$T/server.log" "server listening" 5 || nok "server starts"

# ---- 1. identity keys --------------------------------------------------
cp_client_conf alice-pc alice kerberos "rekey_interval = 2"
cp_start alice-pc
check "alice logs in" wait_for "$T/alice-pc.log" "logged in as alice"
cp_client_conf bob-pc bob password "rekey_interval = 2"
cp_start bob-pc
check "bob logs in" wait_for "$T/bob-pc.log" "logged in as bob"
check "the identity key file is made with mode 0600" \
	bash -c "[ \"\$(stat -c %a '$T/alice-pc.key')\" = 600 ]"
APUB=$("$HSTOOL" pub "$T/alice-pc.key")
BPUB=$("$HSTOOL" pub "$T/bob-pc.key")
check "the server bound alice's public key to alice@realm/alice-pc" \
	grep -qF "device alice@$KDC_REALM/alice-pc: identity key $APUB bound" "$T/server.log"
check "and bob's to bob's device" grep -qF "bob-pc: identity key $BPUB bound" "$T/server.log"
check "the leases file keeps the public key" \
	wait_for "$T/leases.json" "\"pubkey\": *\"${BPUB//+/\\+}\"" 5
check "no private key material in the client's login (only the public key)" \
	hasnt server.log "PRIVATE KEY"

# ---- 2. keys agreed end to end, and rotated ----------------------------
check "alice installed a key for bob" wait_for "$T/alice-pc.kernel" "^key-new peer=2 " 10
check "bob installed a key for alice" wait_for "$T/bob-pc.kernel" "^key-new peer=1 " 10
# KERNEL-LOG PEER KEYID: "tx rx" of that key
keys_of() { grep "^key-new peer=$2 .*key-id=$3 " "$1" | tail -1 | sed 's/.* tx=\([^ ]*\) rx=\(.*\)/\1 \2/'; }
pair_matches() { # KEYID: alice's tx is bob's rx and the other way round
	local a b
	a=$(keys_of "$T/alice-pc.kernel" 2 "$1")
	b=$(keys_of "$T/bob-pc.kernel" 1 "$1")
	[ -n "$a" ] && [ "$a" = "$(echo "$b" | awk '{print $2, $1}')" ]
}
first=$(grep -m1 '^key-new peer=2 ' "$T/alice-pc.kernel" | sed 's/.*key-id=\([0-9]*\).*/\1/')
check "the first key agreed: alice's tx is bob's rx and bob's tx alice's rx" pair_matches "$first"
check "rotation: alice swapped in three new keys (rekey_interval = 2)" bash -c "
	for i in \$(seq 150); do [ \$(grep -c '^key-swap peer=2' '$T/alice-pc.kernel') -ge 3 ] && exit 0; sleep 0.1; done; exit 1"
check "rotation: bob swapped too, after the initiator's confirm" bash -c "
	for i in \$(seq 50); do [ \$(grep -c '^key-swap peer=1' '$T/bob-pc.kernel') -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
last=$(grep '^key-new peer=2 ' "$T/alice-pc.kernel" | tail -1 | sed 's/.*key-id=\([0-9]*\).*/\1/')
check "the rotated key (id $last) matches at both ends too" pair_matches "$last"
check "each rotated key went into the secondary slot first" \
	grep -q "^key-new peer=1 slot=secondary key-id=$last " "$T/bob-pc.kernel"
check "every key is new (no key installed twice)" bash -c "
	[ -z \"\$(grep -o 'tx=[0-9a-f]*' '$T/alice-pc.kernel' | sort | uniq -d)\" ]"
check "the server sent no key message in device mode" hasnt bob-pc.log "the server sent a pair key"
check "handshake version 2: every agreed key has zero salts (lib/crypto in jazz.ko)" bash -c "
	grep '^key-new peer=2 ' '$T/alice-pc.kernel' | grep -q . &&
	! grep '^key-new peer=2 ' '$T/alice-pc.kernel' | grep -v 'tx=[0-9a-f]*:00000000 rx=[0-9a-f]*:00000000\$'"

# ---- 3. the server never had a traffic key ------------------------------
hexkeys=$(sed -n 's/^key-new .* tx=\([0-9a-f]*\):[0-9a-f]* rx=\([0-9a-f]*\):.*/\1 \2/p' \
	"$T/alice-pc.kernel" "$T/bob-pc.kernel" | tr ' ' '\n' | sort -u)
nk=$(echo "$hexkeys" | grep -c .)
echo "# $nk distinct traffic keys installed by alice and bob"
leak=0
for k in $hexkeys; do
	b64=$(echo "$k" | xxd -r -p | base64)
	grep -rqiF -e "$k" -e "$b64" "$T/server.log" "$T/leases.json" && leak=$((leak + 1))
done
check "none of the $nk keys is in the server's log or leases file (hex or base64)" [ "$leak" = 0 ]
bpub_hex=$(echo "$BPUB" | base64 -d | xxd -p -c 64)
# shellcheck disable=SC2086
printf '%s\n' "$bpub_hex" $hexkeys >"$T/scan.keys"
scan=$(/usr/bin/python3 "$KEYSCAN" mem "$(cp_pid server)" "$T/scan.keys")
echo "$scan" | tail -1 | sed 's/^/# server memory: /'
check "memory scan control: bob's public key is in the server's memory" \
	grep -q "^found $bpub_hex " <<<"$scan"
check "none of the $nk traffic keys is anywhere in the server's memory (raw, hex, base64)" \
	bash -c "! grep '^found' <<<'$scan' | grep -qv '^found $bpub_hex '"

# ---- 4. who may hand-shake with whom ------------------------------------
bad_init=$(head -c 58 /dev/urandom | base64 -w0)
r=$(jzc -m password -u mallory -p malpw -d mallory-pc pairflood 2 "$bad_init" 3)
echo "$r" | sed 's/^/# mallory-pc -> bob-pc: /'
check "a device bob may not see gets no handshake to bob (not-linked, each time)" \
	bash -c "[ \$(grep -c '^pair_refused not-linked' <<<'$r') = 3 ]"
check "the refusal is logged by the server" has server.log "mallory-pc: handshake for peer 2 not relayed: not-linked"
check "bob never heard of it" hasnt bob-pc.log "handshake from peer 3\|peer mallory-pc"
r=$(jzc -m password -u mallory -p malpw -d mallory-pc pairflood 1 "$bad_init" 40)
echo "$r" | tail -1 | sed 's/^/# mallory-pc -> alice-pc flood: /'
check "a flood of handshakes to a visible device is cut by the relay's rate limit" \
	grep -q "^pair_refused rate-limited" <<<"$r"
check "what got through was refused by alice (no key for mallory's device)" \
	hasnt alice-pc.kernel "^key-new peer=3 "
r=$(jzc -m password -u mallory -p malpw -d mallory-pc pairflood 1 '!!notbase64!!' 2)
check "a relay message that is not base64 is refused as malformed" \
	grep -q "^pair_refused malformed" <<<"$r"

# ---- 5. identity keys at the edge ---------------------------------------
r=$(jzc -m password -u dave -p davepw rawlogin \
	'{"type":"login","method":"password","device":"d1","token":"@","listen_port":1,"pubkey":"AAAA"}')
echo "# $r"
check "a pubkey that is not 32 bytes is refused at login (bad-pubkey)" grep -q "bad-pubkey" <<<"$r"
r=$(jzc -m password -u dave -p davepw rawlogin \
	'{"type":"login","method":"password","device":"d1","token":"@","listen_port":1,"pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}')
check "an all-zero pubkey is refused (bad-pubkey)" grep -q "bad-pubkey" <<<"$r"
r=$(jzc -m password -u dave -p davepw rawlogin \
	'{"type":"login","method":"password","device":"d1","token":"@","listen_port":1}')
check "no pubkey at all: refused, saying the server needs one (no-pubkey)" grep -q "no-pubkey" <<<"$r"
chmod 644 "$T/alice-pc.key"
cp_client_conf alice-ro alice kerberos "identity_key = $T/alice-pc.key"
timeout 10 "$JAZZD" -f -c "$T/alice-ro.conf" >"$T/alice-ro.log" 2>&1
check "a client refuses to start with an identity key others can read" \
	grep -q "not a regular file of mode 0600" "$T/alice-ro.log"
chmod 600 "$T/alice-pc.key"

# ---- 6. a device back with another key -----------------------------------
nb=$(count "$T/alice-pc.kernel" "^key-new peer=2 ")
cp_stop bob-pc
mv "$T/bob-pc.key" "$T/bob-pc.key.old"
cp_start bob-pc
BPUB2=$(for i in $(seq 50); do [ -s "$T/bob-pc.key" ] && break; sleep 0.1; done; "$HSTOOL" pub "$T/bob-pc.key")
check "the server logs the change of bob's key, old and new" \
	wait_for "$T/server.log" "bob-pc: identity key changed from ${BPUB//+/\\+} to ${BPUB2//+/\\+}" 10
check "alice agrees a new key with bob's new identity" bash -c "
	for i in \$(seq 100); do [ \$(grep -c '^key-new peer=2 ' '$T/alice-pc.kernel') -gt $nb ] && exit 0; sleep 0.1; done; exit 1"
cp_stop alice-pc
# from here alice rotates every 120 s (the default): any new key below
# comes from a reason other than the schedule
cp_client_conf alice-pc alice kerberos
cp_start alice-pc
check "alice back: the same identity key is reused (no change logged)" bash -c "
	wait_for() { for i in \$(seq 100); do grep -q 'logged in as alice' '$T/alice-pc.log' && return 0; sleep 0.1; done; return 1; }
	wait_for && ! grep -q 'alice-pc: identity key changed' '$T/server.log'"

# a session lost while the process lives (a stall, roaming): bob removes
# alice's peer and makes it anew without a key when she is back; the
# server's pair_start on the new link has alice agree a key at once
nd=$(count "$T/bob-pc.kernel" "^peer-del id=1")
kill -STOP "$(cp_pid alice-pc)"
check "a stalled alice is dropped by the server" \
	wait_for "$T/server.log" "\\(alice-pc\\): closed: keepalive timeout" 15
check "... and her peer removed from bob's kernel" bash -c "
	for i in \$(seq 50); do [ \$(grep -c '^peer-del id=1' '$T/bob-pc.kernel') -gt $nd ] && exit 0; sleep 0.1; done; exit 1"
kill -CONT "$(cp_pid alice-pc)"
check "alice back: bob's new peer for her gets a key agreed with her (pair_start)" bash -c "
	for i in \$(seq 150); do
		awk '/^peer-new id=1 / { k = 0 } /^key-new peer=1 / { k = 1 } END { exit !k }' '$T/bob-pc.kernel' && exit 0
		sleep 0.1
	done; exit 1"
check "server still running" kill -0 "$(cp_pid server)"

# ---- 7. a peer running a jazzd from before handshake version 2 ---------
# jzclient oldpeer plays one with jazzd's own noise.c and that jazzd's
# rules: a message of type 4 is dropped unread (its parser knew types 1-3),
# a version-1 message 1 is answered. dave-old logs in after alice and bob,
# so both start handshakes to it (eager, lower id).
"$HSTOOL" pub "$T/old.key" >/dev/null
JZCLIENT_IDKEY=$T/old.key jzc -m password -u dave -p davepw -d dave-old oldpeer 45 \
	>"$T/old.out" 2>&1 &
oldpid=$!
check "the older jazzd drops alice's version-2 message 1 unread" \
	wait_for "$T/old.out" "^dropped type 4 from 1\$" 15
check "alice gets no answer and falls back to version 1" \
	wait_for "$T/alice-pc.log" "no answer to a version-2 handshake: trying version 1" 15
check "the older jazzd answers alice's version-1 message 1" \
	wait_for "$T/old.out" "^answered v1 1 " 10
check "alice's confirm authenticates at the older jazzd" wait_for "$T/old.out" "^confirm 1 [0-9]* ok\$" 10
old_tx=$(sed -n 's/^answered v1 1 [0-9]* //p' "$T/old.out" | tail -1)
echo "# the older jazzd sends with $old_tx"
check "alice installed that key: her rx is its tx, with version 1's HKDF salt (not zero)" \
	bash -c "[ -n '$old_tx' ] && [ '${old_tx#*:}' != 00000000 ] &&
		grep -q ' rx=$old_tx\$' '$T/alice-pc.kernel'"
check "bob agrees one with it the same way" wait_for "$T/old.out" "^confirm 2 [0-9]* ok\$" 20
kill "$oldpid" 2>/dev/null
wait "$oldpid" 2>/dev/null

cp_stop alice-pc
cp_stop bob-pc
cp_stop server	# the rogue takes its port

# ---- 8. a hostile server: replay, forgery, tampering --------------------
# the device's key exists before it starts (and is reused); peer 2 is the
# rogue's "p2", whose private key hstool holds; m.key is another device's
"$HSTOOL" pub "$T/victim.key" >/dev/null
VPUB=$("$HSTOOL" pub "$T/victim.key")
vsum=$(sha256sum <"$T/victim.key")
P2PUB=$("$HSTOOL" pub "$T/p2.key")
"$HSTOOL" pub "$T/m.key" >/dev/null
now=$(date +%s%N)
init=$("$HSTOOL" init "$T/p2.key" "$VPUB" 5 "$now")
init1=$("$HSTOOL" init "$T/p2.key" "$VPUB" 8 $((now + 2000)) 1)	# an older jazzd's
older=$("$HSTOOL" init "$T/p2.key" "$VPUB" 6 $((now - 1000)))
forged=$("$HSTOOL" init "$T/m.key" "$VPUB" 7 $((now + 1000)))
tampered=$(/usr/bin/python3 -c '
import base64, sys
b = bytearray(base64.b64decode(sys.argv[1])); b[40] ^= 1
print(base64.b64encode(bytes(b)).decode())' "$init")
badkid=$(/usr/bin/python3 -c '
import base64, sys
b = bytearray(base64.b64decode(sys.argv[1])); b[1] ^= 1
print(base64.b64encode(bytes(b)).decode())' "$init")
pm() { printf '{"type":"pair","peer":2,"msg":"%s"}' "$1"; }
P2="{\"id\":2,\"device\":\"p2\",\"user\":\"eve\",\"realm\":\"$KDC_REALM\",\"vip4\":\"10.77.0.2\",\"vip6\":\"fd77:6a61:7a7a::2\",\"linked\":true,\"endpoint\":{\"ip\":\"127.0.0.9\",\"port\":51820},\"pubkey\":\"$P2PUB\"}"
SCRIPT="[$(welcome 10.77.0.7 fd77:6a61:7a7a::7),
{\"type\":\"peers\",\"peers\":[$P2],\"users\":[]},{\"type\":\"_sleep\",\"ms\":300},
$(pm "$init"),{\"type\":\"_read\"},$(pm "$init1"),{\"type\":\"_read\"},$(pm "$init"),$(pm "$older"),$(pm "$tampered"),
$(pm "$badkid"),$(pm "$forged"),{\"type\":\"_sleep\",\"ms\":500}]"
rogue_start victim valid "$SCRIPT" -n 1 -w 2 -p bobpw
ROGUE_PAIR_KEYS=device rogue_client victim bob password
check "hostile server: the device answered the two genuine handshakes, version 2 and 1" \
	bash -c "[ \$(grep -c '^recv pair ' '$T/victim.rec') = 2 ]"
check "... and installed exactly one key for each" \
	bash -c "[ \$(grep -c '^key-new peer=2 ' '$T/victim.kernel') = 2 ]"
check "the version-2 key has zero salts, the version-1 key HKDF's" bash -c "
	grep -q '^key-new peer=2 slot=primary key-id=5 .*tx=[0-9a-f]*:00000000 rx=[0-9a-f]*:00000000\$' '$T/victim.kernel' &&
	grep '^key-new peer=2 slot=secondary key-id=8 ' '$T/victim.kernel' | grep -qv ':00000000'"
check "the identity key made beforehand was reused, unchanged" \
	bash -c "[ \"\$(sha256sum <'$T/victim.key')\" = '$vsum' ]"
check "a replayed handshake is refused" has victim.log "peer p2: handshake refused: replayed"
check "an older handshake (a replay of an earlier one) is refused" \
	bash -c "[ \$(grep -c 'handshake refused: replayed' '$T/victim.log') = 2 ]"
check "a tampered handshake and one with a changed key id do not authenticate" \
	bash -c "[ \$(grep -c 'handshake refused: it does not authenticate' '$T/victim.log') = 3 ]"

# ---- 9. it is Noise_KK as specified ------------------------------------
# an independent initiator written from the Noise specification on
# python3-cryptography (HMAC-SHA-256 HKDF, its own X25519 and AEAD) against
# jazzd's responder code
"$HSTOOL" pub "$T/ref.key" >/dev/null
for v in 1 2; do
	while read -r line; do
		case $line in
		"ok - "*) ok "Noise reference: ${line#ok - }" ;;
		*) nok "Noise reference: ${line#not ok - }" ;;
		esac
	done < <(/usr/bin/python3 "$TOP/tests/host/devkeys/noise_ref.py" "$T/ref.key" "$VPUB" 9 \
		"$HSTOOL" "$T/victim.key" "$v" 2>&1)
done

cp_done
