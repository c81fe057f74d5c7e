#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The server holds no traffic key (issue 18): a real jazzd server (TLS 1.3,
# MIT KDC, debug logging, events published to a redis-server) and four
# jazzd clients with the fake kernel backend, whose log holds every key a
# device installed. alice and bob agree keys at once and rotate them every
# 2 s; carol and dave are on demand and agree theirs when a connection
# between them is approved. Then every traffic key the devices installed
# is looked for (tests/host/devkeys/keyscan.py: raw, hex in either case,
# base64 and base64url at every alignment) in:
#   - the server's memory (/proc/PID/mem, every private and anonymous
#     mapping, the process stopped while it is read);
#   - its log (debug level), its state directory (leases, replay cache),
#     the events it published (a PSUBSCRIBE record) and Redis (its memory
#     and a SAVEd dump).
# Controls, so a clean scan means something: the scanner finds a key
# planted in each form; the same scan finds every key in the devices'
# kernel logs; the server's memory holds every device's public key.
# About 30 s.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
KEYSCAN=(/usr/bin/python3 "$TOP/tests/host/devkeys/keyscan.py")

cp_setup || { echo "not ok 1 - setup"; exit 1; }
has() { grep -q -- "$2" "$T/$1"; }
waitn() { # SECONDS CMD...
	local i lim=$(($1 * 10))
	shift
	for ((i = 0; i < lim; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}

# ---- 0. the scanner itself --------------------------------------------
mkdir -p "$T/plant"
check "scanner control: a key planted raw, in hex, base64 and base64url at every alignment is found in each" \
	/usr/bin/python3 - "$T/plant" "${KEYSCAN[1]}" <<'PYEOF'
import base64, os, subprocess, sys
d, scanner = sys.argv[1], sys.argv[2]
k = os.urandom(32)
open(f"{d}/keys", "w").write(k.hex() + "\n")
os.mkdir(f"{d}/in")
want = {"raw": [], "hex": [], "base64@0": [], "base64@1": [], "base64@2": []}
open(f"{d}/in/raw", "wb").write(os.urandom(9) + k + os.urandom(9)); want["raw"].append("raw")
open(f"{d}/in/hex", "w").write("x" + k.hex().upper() + "y"); want["hex"].append("hex")
for pad in range(3):
    for url, enc in ((0, base64.b64encode), (1, base64.urlsafe_b64encode)):
        f = f"b{pad}{url}"
        open(f"{d}/in/{f}", "wb").write(b'"' + enc(os.urandom(pad) + k + os.urandom(4)) + b'"')
        want[f"base64@{pad}"].append(f)
open(f"{d}/in/none", "wb").write(os.urandom(65536))
out = subprocess.run(["/usr/bin/python3", scanner, "files", f"{d}/keys", f"{d}/in"],
                     capture_output=True, text=True, check=True).stdout
got = {}
for line in out.splitlines():
    if line.startswith("found "):
        _, _, form, where = line.split(" ", 3)
        got.setdefault(form, []).append(os.path.basename(where))
ok = all(sorted(got.get(f, [])) == sorted(v) for f, v in want.items()) and "none" not in str(got)
sys.exit(0 if ok else print(out) or 1)
PYEOF

# ---- 1. a server with every output it has ----------------------------
SOCK=$T/redis.sock
mkdir -p "$T/redis" "$T/srv"
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T/redis" \
	>"$T/redis.log" 2>&1 &
RPID=$!
PIDS+=($RPID)
rping() { redis-cli -s "$SOCK" ping >/dev/null 2>&1; }
check "redis-server on a unix socket" waitn 10 rping
redis-cli -s "$SOCK" PSUBSCRIBE '*/event/*' >"$T/events.rec" 2>&1 &
PIDS+=($!)
cp_server_conf "[server]" "max_devices = 0" "keepalive = 2" \
	"[redis]" "address = unix:$SOCK" "[events]" "module_id = jazz9"
# the server's state in its own directory, so all of it is scanned
sed -i -e "s|^leases = .*|leases = $T/srv/leases.json|" \
	-e "s|^rcache = .*|rcache = file2:$T/srv/rcache|" "$T/server.conf"
cp_start server
check "the server starts (debug log, events to Redis)" wait_for "$T/server.log" "server listening" 10

# ---- 2. devices agree and rotate keys --------------------------------
cp_client_conf alice-pc alice kerberos "rekey_interval = 2"
cp_client_conf bob-pc bob password "rekey_interval = 2"
CP_PAIR_HANDSHAKE=on-demand cp_client_conf carol-pc carol password
CP_PAIR_HANDSHAKE=on-demand cp_client_conf dave-pc dave password
for d in alice-pc bob-pc carol-pc dave-pc; do
	cp_start "$d"
	wait_for "$T/$d.log" "logged in as" 10 || nok "$d logs in"
done
id_of() { sed -n 's/.*logged in as .*(id \([0-9]*\)): .*/\1/p' "$T/$1.log" | tail -1; }
vip_of() { sed -n 's/.*logged in as .*(id [0-9]*): \([0-9.]*\) .*/\1/p' "$T/$1.log" | tail -1; }
A=$(id_of alice-pc) B=$(id_of bob-pc) C=$(id_of carol-pc) D=$(id_of dave-pc)
check "four devices online (ids $A $B $C $D)" test -n "$A" -a -n "$B" -a -n "$C" -a -n "$D"
check "dave knows carol before she asks" wait_for "$T/dave-pc.kernel" "^peer-new id=$C " 10
check "carol and dave have no key yet (on demand)" bash -c "! grep -q '^key-new peer=$D ' '$T/carol-pc.kernel'"
inject carol-pc "request proto=tcp src=$(vip_of carol-pc):40000 dst=$(vip_of dave-pc):22 cookie=7"
check "an approved connection carol -> dave: carol's key, then the verdict" \
	wait_for "$T/carol-pc.kernel" "^verdict approve peer=$D cookie=7 " 15
check "dave installed the same pair's key" wait_for "$T/dave-pc.kernel" "^key-new peer=$C " 5
swaps() { [ "$(count "$T/alice-pc.kernel" "^key-swap peer=$B")" -ge "$1" ]; }
check "alice and bob rotated their key at least three times (rekey_interval = 2)" waitn 20 swaps 3

# every traffic key any device installed (tx and rx: the same keys seen
# from both ends)
sed -n 's/^key-new .* tx=\([0-9a-f]*\):[0-9a-f]* rx=\([0-9a-f]*\):.*/\1\n\2/p' \
	"$T"/*-pc.kernel | sort -u >"$T/keys"
nk=$(wc -l <"$T/keys")
check "$nk distinct traffic keys installed (at least 8)" [ "$nk" -ge 8 ]

# ---- 3. controls ---------------------------------------------------------
ctl=$("${KEYSCAN[@]}" files "$T/keys" "$T"/*-pc.kernel)
check "control: the scan finds every one of the $nk keys in the devices' kernel logs" \
	[ "$(grep '^found ' <<<"$ctl" | awk '{print $2}' | sort -u | wc -l)" = "$nk" ]
for d in alice-pc bob-pc carol-pc dave-pc; do
	sed -n "s/.*device [^ ]*\/$d: identity key \([A-Za-z0-9+\/=]*\) bound.*/\1/p" "$T/server.log" |
		tail -1 | base64 -d | xxd -p -c 64
done >"$T/pubs"
SPID=$(cp_pid server)
kill -STOP "$SPID"
pubscan=$("${KEYSCAN[@]}" mem "$SPID" "$T/pubs")
check "control: the server's memory holds each of the 4 devices' public keys" \
	[ "$(grep '^found .* raw ' <<<"$pubscan" | awk '{print $2}' | sort -u | wc -l)" = 4 ]

# ---- 4. the server has none of them -------------------------------------
mem=$("${KEYSCAN[@]}" mem "$SPID" "$T/keys")
kill -CONT "$SPID"
echo "$mem" | tail -1 | sed 's/^/# server memory: /'
grep '^found' <<<"$mem" | head -5 | sed 's/^/# /'
check "none of the $nk keys is anywhere in the server's memory, in any form" \
	bash -c "! grep -q '^found' <<<'$mem'"
redis-cli -s "$SOCK" SAVE >/dev/null
check "the events the server published were recorded" grep -q "device-connected" "$T/events.rec"
files=$("${KEYSCAN[@]}" files "$T/keys" "$T/server.log" "$T/srv" "$T/events.rec" "$T/redis")
echo "$files" | tail -1 | sed 's/^/# server log, state dir, events, Redis dump: /'
check "... nor in its log (debug level)" bash -c "! grep -q '^found .* $T/server.log$' <<<'$files'"
check "... nor in its state directory (leases, replay cache)" bash -c "! grep -q '^found .* $T/srv/' <<<'$files'"
check "... nor in the events it published, nor in Redis's dump" bash -c "! grep '^found' <<<'$files' | grep -q '$T/events.rec\|$T/redis/'"
rmem=$("${KEYSCAN[@]}" mem "$RPID" "$T/keys")
check "... nor in Redis's memory" bash -c "! grep -q '^found' <<<'$rmem'"

# the state the server leaves behind when it stops
cp_stop server
files=$("${KEYSCAN[@]}" files "$T/keys" "$T/server.log" "$T/srv")
check "after a clean stop: none in its log and state directory either" \
	bash -c "! grep -q '^found' <<<'$files'"
check "the leases file was written (the scan saw the server's state)" \
	grep -q '"pubkey"' "$T/srv/leases.json"
cp_done
