#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 20: devices report each change of their path to a peer ("path"
# {peer, kind, how, reason}, parsed at the edge in server/smsg.c), and the
# server publishes peer-path-changed for direct paths too
# (server/paths.c), with the relay's ports when the pair is relayed
# through it. Real KDC, real jazzd (events logged at debug), the test
# client standing in for three devices: pa reports, pb is linked to it,
# cx is carol's device hidden from bob's (not linked).
# Hostile: a report for a device that is not linked, that does not exist,
# for itself, a bad id, an unknown kind or how, a how that contradicts the
# kind, a reason over 95 bytes, a reason with a control byte, a reason
# that is not a string: refused (path_refused by name, or malformed in the
# log) and never published; a flood of 150 reports is cut to the budget
# (4 a second after a burst of 32) with one path_refused, and a linked
# device's own report right after is published untouched. About 30 s. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
RP=$(( (RANDOM % 200) * 100 + 42000 ))
cp_server_conf "[server]" "relay_listen = 127.0.0.1" "relay_ports = $RP-$((RP + 9))"
JAZZ_SAMPLE_HIDE=bob:cx cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5 || { cp_done; exit 1; }

jzc -m password -u carol -p carolpw -d cx cands - 16 >"$T/cx.out" 2>&1 &
CXP=$!
sleep 0.5
jzc -m password -u bob -p bobpw -d pb cands - 16 >"$T/pb.out" 2>&1 &
PBP=$!
for f in cx pb; do wait_for "$T/$f.out" "^id " 5; done
cx=$(sed -n 's/^id //p' "$T/cx.out" | head -n 1)
pb=$(sed -n 's/^id //p' "$T/pb.out" | head -n 1)
long=$(printf 'x%.0s' $(seq 1 96))
rep() { # rep PEER KIND HOW REASON-JSON
	echo "{\"type\":\"path\",\"peer\":$1,\"kind\":\"$2\",\"how\":\"$3\",\"reason\":$4}"
}
# pa reads its messages from a FIFO, written once its own id is known
mkfifo "$T/pa.fifo"
jzc -m password -u bob -p bobpw -d pa cands "$T/pa.fifo" 10 >"$T/pa.out" 2>&1 &
AP=$!
exec 3>"$T/pa.fifo"
wait_for "$T/pa.out" "^id " 5
pa=$(sed -n 's/^id //p' "$T/pa.out" | head -n 1)
echo "# pa $pa pb $pb cx $cx"
{
	echo "sleep 1"
	rep "$pb" direct srflx '"punched in 95 ms, srflx candidate"'
	echo '{"type":"relay_request","peer":'"$pb"'}'
	echo "sleep 0.3"
	rep "$pb" relayed relay '"no direct path found in 10 s"'
	rep "$cx" direct host '"unlinked-probe"'
	rep 99 direct host '"nonexistent-probe"'
	rep "$pa" direct host '"itself-probe"'
	rep 0 direct host '"zero-probe"'
	rep '"2"' direct host '"string-id-probe"'
	rep "$pb" sideways host '"kind-probe"'
	rep "$pb" direct warp '"how-probe"'
	rep "$pb" direct relay '"contradiction-probe"'
	rep "$pb" direct host "\"$long\""
	rep "$pb" direct host '"ctl\u0001-probe"'
	rep "$pb" direct host '42'
	rep "$pb" direct host '""'
	echo "sleep 1"
	for i in $(seq 1 150); do rep "$pb" direct host "\"flood $i\""; done
} >&3
exec 3>&-
sleep 4
# another device of bob's reports its path to pa right after the flood
printf '%s\n' "sleep 1" "$(rep "$pa" direct peer-seen '"the peer'"'"'s packets came from 10.0.0.2:40001"')" \
	>"$T/pb2.send"
jzc -m password -u bob -p bobpw -d pb2 cands "$T/pb2.send" 1 >"$T/pb2.out" 2>&1
sed 's/^/# pb2: /' "$T/pb2.out"
wait "$AP" "$PBP" "$CXP"

/usr/bin/python3 - "$T/server.log" >"$T/ev.out" <<'PYEOF'
import json, re, sys
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"event peer-path-changed (\{.*\})$", line)
    if not m:
        continue
    e = json.loads(m.group(1))
    ok_since = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e.get("since", "")) is not None
    print("ev", e["by"], e["device"], e["peer_device"], e["path"], e["how"] or "-",
          "relay=%s:%d/%d" % (e["relay_ip"] or "-", e["relay_port"], e["peer_relay_port"]),
          "since-ok" if ok_since else "since-bad", "why=" + e["why"])
PYEOF
sed 's/^/# /' "$T/ev.out" | grep -v flood
nflood=$(grep -c 'why=flood' "$T/ev.out")
echo "# flood reports published: $nflood"
sed 's/^/# pa: /' "$T/pa.out"

has() { grep -qF -- "$1" "$T/ev.out"; }
hasnt() { ! grep -qF -- "$1" "$T/ev.out"; }
check "a direct path report is published (by device, how srflx, since, why)" \
	has "ev device pa pb direct srflx relay=-:0/0 since-ok why=punched in 95 ms, srflx candidate"
check "the relay's own event stays (by relay, its ports)" \
	grep -qE '^ev relay (pa pb|pb pa) relayed relay relay=127.0.0.1:[0-9]+/[0-9]+ since-ok' "$T/ev.out"
rport=$(sed -n 's/^relay [0-9]* 127.0.0.1 \([0-9]*\) [0-9a-f]*$/\1/p' "$T/pa.out" | head -n 1)
check "a relayed report carries the relay's ports, the reporter's first ($rport)" \
	grep -qE "^ev device pa pb relayed relay relay=127.0.0.1:$rport/[0-9]+ since-ok why=no direct path found in 10 s" "$T/ev.out"
check "an unlinked device: path_refused by name" grep -q "^path_refused $cx not a linked device online" "$T/pa.out"
check "a device that does not exist: path_refused" grep -q "^path_refused 99 not a linked device online" "$T/pa.out"
for p in unlinked nonexistent itself zero string-id kind how contradiction ctl; do
	check "nothing published for the $p probe" hasnt "$p-probe"
done
check "id 0: malformed, by name" grep -q "malformed path (peer must be a device id)" "$T/server.log"
check "an unknown kind: malformed" grep -q 'malformed path (kind must be "direct" or "relayed")' "$T/server.log"
check "an unknown how, or one against the kind: malformed" \
	sh -c "[ \$(grep -c 'malformed path (how must be host, srflx' '$T/server.log') -ge 2 ]"
check "a reason of 96 bytes: malformed (1-95)" hasnt "$long"
check "... by name" grep -q "malformed path (reason must be a string of 1-95 bytes)" "$T/server.log"
check "a control byte in the reason: malformed" grep -q "malformed path (reason must be printable ASCII)" "$T/server.log"
check "the flood: the server says so once in its log" grep -q "path reports more often than 4 a second: ignored" "$T/server.log"
check "... and the device gets one path_refused for it" \
	sh -c "[ \$(grep -c '^path_refused $pb more than 4 path reports a second' '$T/pa.out') = 1 ]"
check "the flood of 150 is cut to the budget ($nflood published, at most 40)" test "$nflood" -le 40
check "... after its burst (at least 20)" test "$nflood" -ge 20
check "another device's report right after is published" \
	has "ev device pb2 pa direct peer-seen relay=-:0/0 since-ok why=the peer's packets came from 10.0.0.2:40001"
check "pa was not disconnected" sh -c "! grep -q '^closed' '$T/pa.out'"
check "itself: path_refused" grep -q "^path_refused $pa not a linked device online" "$T/pa.out"
check "pb was not disconnected and got no refusal" sh -c "! grep -qE '^(closed|path_refused)' '$T/pb.out'"
kill -0 "$(cp_pid server)" && ok "server still running" || nok "server still running"
cp_done
