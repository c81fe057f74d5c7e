#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A rogue server against the real jazzd client (password login, fake kernel
# backend). The rogue (controlplane/rogue.c) presents a certificate the
# client trusts and speaks the control protocol, but proves nothing (no
# `auth`), proves garbage, or proves well but names another principal;
# then, as a compromised server holding the user's password, sends hostile
# welcomes, peers, keys and prompts. Checks what the client installed in its
# kernel (the fake backend's log), what it answered (the rogue's record) and
# why it said it refused (its log).
set -u
. "$(dirname "$0")/controlplane/lib.sh"
. "$TOP/tests/host/controlplane/rogue-lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_rogue || { echo "not ok 1 - build the rogue server"; exit 1; }
R=$KDC_REALM
has() { grep -q -- "$2" "$T/$1"; }
hasnt() { ! grep -q -- "$2" "$T/$1"; }

# a full hostile login: challenge, welcome, a peer with a foreign address,
# its key, then whatever the client says
FULL="[$W_CHALLENGE,{\"type\":\"_read\"},$(welcome 10.77.0.7 fd77:6a61:7a7a::7),
{\"type\":\"peers\",\"peers\":[$(peer 2 8.8.8.8 fd77:6a61:7a7a::2 198.51.100.7)],\"users\":[]},
$(key_msg 2),{\"type\":\"_read\"}]"

nothing_acted() { # NAME WHAT
	check "$2: the one-time code was not sent to the server" hasnt "$1.rec" "recv answer"
	check "$2: no address installed" hasnt "$1.kernel" "^addr "
	check "$2: no peer installed" hasnt "$1.kernel" "^peer-new"
	check "$2: no key installed" hasnt "$1.kernel" "^key-new"
}

# 1. no proof at all
rogue_start noproof none "$FULL" -n 1 -w 2
rogue_client noproof bob password "[answers]" "otp = 424242"
nothing_acted noproof "no proof"
check "no proof: the client says why it dropped the server" \
	has noproof.log "before proving its identity"

# 2. a proof of random bytes
rogue_start garbage garbage "$FULL" -n 1 -w 2
rogue_client garbage bob password "[answers]" "otp = 424242"
nothing_acted garbage "garbage proof"
check "garbage proof: mutual authentication failure logged" \
	has garbage.log "mutual authentication failed"

# 3. a real proof, but for another principal than the one that logged in
rogue_start other other "$FULL" -n 1 -w 2 -p bobpw -U admin
rogue_client other bob password "[answers]" "otp = 424242"
nothing_acted other "proof naming admin"
check "proof naming another principal: refused with both names" \
	has other.log "names admin@$R, not bob@$R"

# 4. a compromised server (a valid proof) sends an address outside the pool
rogue_start badaddr valid "[$(welcome 8.8.8.8 fd77:6a61:7a7a::7)]" -n 1 -w 2 -p bobpw
rogue_client badaddr bob password
check "welcome 8.8.8.8: no address installed" hasnt badaddr.kernel "^addr "
check "welcome 8.8.8.8: refusal logged with the accepted pool" \
	has badaddr.log "address 8.8.8.8 is outside the accepted pool 10.77.0.0/16"

rogue_start badplen valid "[$(welcome 10.77.0.7 fd77:6a61:7a7a::7 | sed 's/"prefix4":16/"prefix4":0/')]" \
	-n 1 -w 2 -p bobpw
rogue_client badplen bob password
check "welcome prefix4 0 (a default route): no address installed" hasnt badplen.kernel "^addr "
check "welcome prefix4 0: refusal logged" has badplen.log "prefix length 0"

rogue_start badaddr6 valid "[$(welcome 10.77.0.7 2001:db8::7)]" -n 1 -w 2 -p bobpw
rogue_client badaddr6 bob password
check "welcome with a foreign IPv6 address: nothing installed" hasnt badaddr6.kernel "^addr "
check "welcome with a foreign IPv6 address: refusal logged" \
	has badaddr6.log "address 2001:db8::7 is outside the accepted pool fd77:6a61:7a7a::/64"

# 5. a compromised server: hostile peers among good ones
PEERS="[$(welcome 10.77.0.7 fd77:6a61:7a7a::7),
{\"type\":\"peers\",\"peers\":[$(peer 2 10.77.0.2 fd77:6a61:7a7a::2),$(peer 3 8.8.8.8 fd77:6a61:7a7a::3),
$(peer 4 10.77.0.4 2001:db8::4),$(peer 5 0.0.0.0/0 fd77:6a61:7a7a::5),$(peer 7 10.77.0.8 fd77:6a61:7a7a::8),
$(peer 6 10.77.0.6 fd77:6a61:7a7a::6 not-an-ip),$(peer 11 10.77.0.11 fd77:6a61:7a7a::b | sed 's/"port":51820/"port":0/'),
$(peer 12 10.77.0.12 fd77:6a61:7a7a::c | sed 's/"port":51820/"port":65536/')],\"users\":[]},
$(key_msg 2),$(key_msg 3),$(key_msg 5),{\"type\":\"_read\"},{\"type\":\"_read\"},
{\"type\":\"peers_delta\",\"set\":[$(peer 9 8.8.4.4 fd77:6a61:7a7a::9),$(peer 10 10.77.0.10 fd77:6a61:7a7a::a)],\"del\":[]},
{\"type\":\"_sleep\",\"ms\":300}]"
rogue_start peers valid "$PEERS" -n 1 -w 2 -p bobpw
rogue_client peers bob password
check "good welcome installed (positive control)" has peers.kernel "^addr 10.77.0.7/16 fd77:6a61:7a7a::7/64"
check "a peer inside the pool is installed" has peers.kernel "^peer-new id=2 .*allowed=10.77.0.2/32"
check "its key is installed" has peers.kernel "^key-new peer=2 slot=primary key-id=1 "
check "and acknowledged by peer and key id" has peers.rec '{"key_id":1,"peer":2,"type":"key_ack"'
check "allowed-ips 8.8.8.8/32: peer not installed" hasnt peers.kernel "^peer-new id=3 "
check "allowed-ips 8.8.8.8/32: refusal logged" \
	has peers.log "peer 3 (p3): allowed-ips 8.8.8.8 outside the accepted pool 10.77.0.0/16: not installed"
check "a foreign IPv6 allowed-ip: peer not installed" hasnt peers.kernel "^peer-new id=4 "
check "allowed-ips 0.0.0.0/0: peer not installed" hasnt peers.kernel "^peer-new id=5 "
check "allowed-ips 0.0.0.0/0: refusal logged" has peers.log "peer 5 (p5): allowed-ips 0.0.0.0/0 is not an IPv4 address"
check "a peer claiming this device's own id: not installed" hasnt peers.kernel "^peer-new id=7 "
check "an endpoint that is not an address: peer not installed" hasnt peers.kernel "^peer-new id=6 "
check "endpoint port 0 (the peer announced none): installed, without an endpoint" \
	has peers.kernel "^peer-new id=11 .*allowed=10.77.0.11/32,.* endpoint=-:0$"
check "endpoint port 65536: peer not installed" hasnt peers.kernel "^peer-new id=12 "
check "no key for a refused peer" hasnt peers.kernel "^key-new peer=3 \|^key-new peer=5 "
check "peers_delta: the foreign peer is refused" hasnt peers.kernel "^peer-new id=9 "
check "peers_delta: the good peer is installed" has peers.kernel "^peer-new id=10 "

# the same compromised server against a device that agrees its own keys
# (the default): the server's keys are never installed
rogue_start peersdev valid "$PEERS" -n 1 -w 2 -p bobpw
ROGUE_PAIR_KEYS=device rogue_client peersdev bob password
check "device keys: the good peer is installed (positive control)" has peersdev.kernel "^peer-new id=2 "
check "device keys: a key chosen by the server is not installed" hasnt peersdev.kernel "^key-new"
check "device keys: the refusal is logged" has peersdev.log "the server sent a pair key, but this device agrees its own"

# 5b. compact entries (the client listed peers_compact): no owner and no
# addresses; the client makes them from the id in the welcome's pools
# (10.77.0.0/16: id N is 10.77.0.0 + N + 1, as core/leases.c), and an id
# past the pool gets none (refused)
compact() { # compact ID
	printf '{"id":%s,"device":"c%s","linked":true,"endpoint":{"ip":"127.0.0.9","port":51820}}' "$1" "$1"
}
CPEERS="[$(welcome 10.77.0.7 fd77:6a61:7a7a::7),
{\"type\":\"peers\",\"peers\":[$(compact 2),$(compact 65533),$(compact 65534),$(compact 4294967295),
$(peer 20 10.77.0.21 fd77:6a61:7a7a::15)],\"users\":[]},{\"type\":\"_read\"},
{\"type\":\"peers_delta\",\"set\":[$(compact 300)],\"del\":[]},{\"type\":\"_sleep\",\"ms\":300}]"
rogue_start compact valid "$CPEERS" -n 1 -w 2 -p bobpw
rogue_client compact bob password
check "compact: the client lists peers_compact at login" has compact.rec '^login .*features=.*"peers_compact"'
check "compact: id 2 installed as 10.77.0.3, fd77:6a61:7a7a::3" \
	has compact.kernel "^peer-new id=2 .*allowed=10.77.0.3/32,fd77:6a61:7a7a::3/128"
check "compact: id 65533, the pool's last address 10.77.255.254" \
	has compact.kernel "^peer-new id=65533 .*allowed=10.77.255.254/32,fd77:6a61:7a7a::fffe/128"
check "compact: id 65534 (the broadcast address) not installed" hasnt compact.kernel "^peer-new id=65534 "
check "compact: id 4294967295 not installed" hasnt compact.kernel "^peer-new id=4294967295 "
check "compact: the refusal is logged" has compact.log "peer 65534 (c65534): no allowed-ips: not installed"
check "compact: an entry with addresses keeps them" \
	has compact.kernel "^peer-new id=20 .*allowed=10.77.0.21/32,fd77:6a61:7a7a::15/128"
check "compact: a delta's entry too (id 300: 10.77.1.45)" \
	has compact.kernel "^peer-new id=300 .*allowed=10.77.1.45/32,fd77:6a61:7a7a::12d/128"

# 6. an oversized list: capped by max_peers, with a clear log line
big=$(for i in $(seq 100 399); do printf '%s,' "$(peer "$i" "10.77.1.$((i % 250 + 1))" "fd77:6a61:7a7a::1:$i")"; done)
printf '[%s,{"type":"peers","peers":[%s],"users":[]},{"type":"_sleep","ms":500}]\n' \
	"$(welcome 10.77.0.7 fd77:6a61:7a7a::7)" "${big%,}" >"$T/big.script"
rogue_start big valid "$(cat "$T/big.script")" -n 1 -w 2 -p bobpw
rogue_client big bob password "max_peers = 50"
n=$(count "$T/big.kernel" "^peer-new")
check "300 peers with max_peers = 50: 50 installed (got $n)" [ "$n" = 50 ]
check "the cap is logged" has big.log "peer list: 300 entries, more than max_peers = 50: the rest are ignored"

# a reload that shrinks max_peers while the client holds a longer list:
# a delta must not grow the list past either bound
l40=$(for i in $(seq 100 139); do printf '%s,' "$(peer "$i" "10.77.2.$((i - 99))" "fd77:6a61:7a7a::2:$i")"; done)
d30=$(for i in $(seq 200 229); do printf '%s,' "$(peer "$i" "10.77.3.$((i - 199))" "fd77:6a61:7a7a::3:$i")"; done)
printf '[%s,{"type":"peers","peers":[%s],"users":[]},{"type":"_sleep","ms":2500},{"type":"peers_delta","set":[%s],"del":[]},{"type":"_sleep","ms":500}]\n' \
	"$(welcome 10.77.0.7 fd77:6a61:7a7a::7)" "${l40%,}" "${d30%,}" >"$T/shrink.script"
rogue_start shrink valid "$(cat "$T/shrink.script")" -n 1 -w 2 -p bobpw
cp_client_conf shrink bob password "max_peers = 50"
cp_start shrink
wait_for "$T/shrink.log" "peer list: 40 visible" 10
sed -i 's/^max_peers = 50/max_peers = 10/' "$T/shrink.conf"
kill -HUP "$(cp_pid shrink)"
wait_for "$T/shrink.rec" "^done" 15
check "max_peers shrunk by a reload: the delta adds nothing past it" \
	has shrink.log "more than max_peers = 10: the rest are ignored"
check "max_peers shrunk by a reload: the client is still running" kill -0 "$(cp_pid shrink)"
n=$(count "$T/shrink.kernel" "^peer-new")
check "max_peers shrunk by a reload: 40 peers installed, none from the delta (got $n)" [ "$n" = 40 ]
cp_stop shrink
rogue_stop

# 7. prompt and message text with terminal escapes and a forged log line
ESC_CH='{"type":"challenge","round":0,"message":"hi\u001b]0;pwned\u0007\njazzd[info]: logged in as admin","prompts":[{"code":"otp","text":"Code\u001b[2J\r","secret":false}]}'
rogue_start esc valid "[$ESC_CH,{\"type\":\"_read\"}]" -n 1 -w 2 -p bobpw
rogue_client esc bob password "[answers]" "otp = 1"
check "server message: no escape byte reaches the log" bash -c "! grep -q $'\e' '$T/esc.log'"
check "server message: no forged log line" bash -c "! grep -q '^jazzd\[info\]: logged in as admin' '$T/esc.log'"
check "server message: shown escaped" has esc.log 'hi\\x1b]0;pwned\\x07\\njazzd'
check "after a valid proof the prompt is answered" has esc.rec '"value":"1"'

# the same prompt on a terminal (interactive)
cp_client_conf tty bob password "interactive = yes"
rogue_start tty valid "[$ESC_CH,{\"type\":\"_read\"}]" -n 1 -w 4 -p bobpw
printf '%s\n' "expect	Code\\\\x1b\\[2J\\\\r: \$	the prompt text is shown with its escapes made visible" \
	"send	777" "waitlog	$T/tty.rec	recv answer	the typed answer is sent" "stop" >"$T/tty.script"
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) nok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(/usr/bin/python3 "$TOP/tests/host/controlplane/ptydrive.py" "$T/tty.log" \
	"$T/tty.script" -- "$JAZZD" -f -c "$T/tty.conf" 2>&1)
rogue_stop
check "terminal: no raw escape in what the client printed" bash -c "! grep -q $'\e\\[2J' '$T/tty.log'"

cp_done
