#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Python callbacks through real logins: a real MIT KDC (lib/kdc.sh), real
# TLS, a jazzd server with [callbacks] python = <script> (no C plugin) and
# jazzd clients as real processes with the fake kernel backend (approval
# requests injected through its FIFO). Covers the seed's sample unchanged,
# each callback deciding, exceptions, wrong return types, missing
# functions, slow callbacks (timeout while others are served) and SIGHUP
# reload with a good and a broken file. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
S=$TOP/tests/host/python/scripts

# cp_* helpers come from the control-plane tests; check prints TAP
like() { # like DESC FILE REGEX [SECONDS]: wait for a matching line
	if wait_for "$2" "$3" "${4:-10}"; then ok "$1"; else
		nok "$1"; echo "#   no line matching: $3 in $(basename "$2")"
		tail -n 15 "$2" 2>/dev/null | sed 's/^/#   | /'
	fi
}
unlike() { # unlike DESC FILE REGEX
	if ! grep -Eq -- "$3" "$2" 2>/dev/null; then ok "$1"; else
		nok "$1"; echo "#   unexpected: $(grep -Em1 -- "$3" "$2")"; fi
}
vip() { grep -m1 '^addr ' "$T/$1.kernel" | sed 's/^addr \([0-9.]*\)\/.*/\1/'; }
# py_server NAME SCRIPT [conf lines...]: a server using only events.py
py_server() {
	local name=$1 script=$2
	shift 2
	PORT=$(free_port)
	cp_server_conf "plugin =" "python = $script" "$@"
	mv "$T/server.conf" "$T/$name.conf"
	cp_start "$name"
	wait_for "$T/$name.log" "server listening" 10
}
# client NAME USER METHOD [PASSWORD] [jazzd args...]
client() {
	local name=$1 user=$2 method=$3 pw=${4:-}
	shift 3
	[ $# -gt 0 ] && shift
	cp_client_conf "$name" "$user" "$method" "[client]" ${pw:+"password = $pw"}
	cp_start "$name" "$@"
}

# Our own temporary directory: /tmp/jazz-cp.* directories get swept by
# other sessions' clean-ups while this test runs (seen twice).
mktemp() {
	if [ "${1:-}" = -d ] && [[ "${2:-}" == /tmp/jazz-cp.* ]]; then
		command mktemp -d /tmp/jazz-pylogin.XXXXXX
	else
		command mktemp "$@"
	fi
}
cp_setup || { echo "not ok 1 - setup (KDC, certificates, jazzd)"; exit 1; }
[ -x "$JAZZD" ] || { echo "not ok 1 - build/jazzd exists"; exit 1; }

# ---- 1. the seed's sample, unchanged -----------------------------------
py_server seed "$TOP/examples/events.py"
L=$T/seed.log
like "seed sample: server loads examples/events.py" "$L" "callbacks: loaded python:$TOP/examples/events.py"
client eve-pc eve password password
like "seed sample: password login with 'password' from user_key" "$L" "login: eve@$KDC_REALM device eve-pc .*password"
like "seed sample: accept_conn's jazz.log line in the daemon log" "$L" \
	"python: accept_conn received: \{'source': '127\.0\.0\.1:[0-9]+', 'ip': '127\.0\.0\.1', 'port': [0-9]+\}"
like "seed sample: user_key's jazz.log line" "$L" \
	"python: user_key received: \{'username': 'eve', 'realm': '$KDC_REALM', 'source': '127\.0\.0\.1:[0-9]+'.*'enctype': 'aes256-"
like "seed sample: validate_user's jazz.log line" "$L" \
	"python: validate_user received: \{'username': 'eve', 'realm': '$KDC_REALM', 'device': 'eve-pc', .*'method': 'password', 'other_data': \[\], 'round': 0\}"
client seed-alice alice kerberos
like "seed sample: kerberos login next to it" "$L" "login: alice@$KDC_REALM device seed-alice .*kerberos"
like "seed sample: peer_filter's jazz.log line (peers listed)" "$L" \
	"python: peer_filter received: \{'username': '(alice|eve)'.*'users': \[.*'peers': \[\{'device': '(eve-pc|seed-alice)'"
like "seed sample: peers see each other" "$T/eve-pc.kernel" "peer-new .*name=seed-alice"
A=$(vip seed-alice) E=$(vip eve-pc)
inject seed-alice "request proto=tcp src=$A:40000 dst=$E:80 cookie=3"
like "seed sample: peer_connection's jazz.log line" "$L" \
	"python: peer_connection received: \{'origin_username': 'alice', 'origin_realm': '$KDC_REALM', 'origin_device': 'seed-alice', 'origin': '$A:40000', .*'destination_device': 'eve-pc', 'destination': '$E:80', .*'protocol': 'tcp', 'relayed': False\}"
like "seed sample: peer_connection True approves" "$T/seed-alice.kernel" "verdict approve .*cookie=3 proto=tcp"
client eve-bad eve password wrongpassword
like "seed sample: a wrong password is refused" "$T/eve-bad.log" "login rejected"
cp_stop eve-bad; cp_stop eve-pc; cp_stop seed-alice; cp_stop seed

# ---- 2. each callback decides (policy.py) --------------------------------
export JAZZ_PY_BLOCKLIST=$T/blocklist
echo 127.0.0.1 >"$JAZZ_PY_BLOCKLIST"
py_server pol "$S/policy.py"
L=$T/pol.log
client bob-pc bob password bob-from-python
like "accept_conn False: the connection is refused before TLS" "$L" "connection from 127\.0\.0\.1:[0-9]+ refused by accept_conn$"
like "accept_conn: the script's reason is logged" "$L" "python: policy: refusing 127\.0\.0\.1:"
unlike "accept_conn False: no login happened" "$L" "login: bob@"
: >"$JAZZ_PY_BLOCKLIST"
like "accept_conn True (source unblocked): bob logs in on reconnect" "$L" "login: bob@$KDC_REALM device bob-pc .*password" 15
client bob-bad bob password not-bobs
like "user_key: a wrong password is refused" "$T/bob-bad.log" "login rejected"
client nobody-pc nobody password whatever
like "user_key None: unknown user refused" "$T/nobody-pc.log" "login rejected: bad-key"
cp_stop bob-bad; cp_stop nobody-pc
client carol-pc carol password carol-from-python -a otp=424242
like "validate_user MORE_DATA: the server asks for the code" "$L" "python: policy: asking carol for a one-time code \(round 0\)"
like "validate_user: the right code is accepted" "$L" "login: carol@$KDC_REALM device carol-pc"
client carol-bad carol password carol-from-python -a otp=000000
like "validate_user: a wrong code is rejected with the script's message" "$T/carol-bad.log" "login rejected: .*wrong one-time code"
cp_stop carol-bad
client alice-pc alice kerberos
client hidden-pc dave password dave-from-python
like "hidden-pc logs in" "$L" "login: dave@$KDC_REALM device hidden-pc"
like "peer_filter: alice sees bob-pc" "$T/alice-pc.kernel" "peer-new .*name=bob-pc"
like "peer_filter: alice sees carol-pc" "$T/alice-pc.kernel" "peer-new .*name=carol-pc"
like "peer_filter: the script logs what it hides" "$L" "python: policy: hiding hidden-pc from alice"
sleep 1
unlike "peer_filter: hidden-pc is hidden from alice" "$T/alice-pc.kernel" "name=hidden-pc"
unlike "peer_filter: hidden-pc is hidden from bob" "$T/bob-pc.kernel" "name=hidden-pc"
like "peer_filter: each viewer is filtered on its own (bob too)" "$L" "python: policy: hiding hidden-pc from bob"
A=$(vip alice-pc) B=$(vip bob-pc)
inject alice-pc "request proto=tcp src=$A:40000 dst=$B:22 cookie=5"
like "peer_connection False: ssh denied at the origin" "$T/alice-pc.kernel" "verdict deny .*cookie=5 proto=tcp $A:40000->$B:22"
like "peer_connection: the script logs why" "$L" "python: policy: no ssh from $A:40000 to $B:22"
inject alice-pc "request proto=tcp src=$A:40001 dst=$B:80 cookie=6"
like "peer_connection (True, 120): approved with the script's lifetime" "$T/alice-pc.kernel" "verdict approve .*cookie=6 proto=tcp $A:40001->$B:80 lifetime=120"
like "peer_connection: the destination got the verdict too" "$T/bob-pc.kernel" "verdict approve .*proto=tcp $A:40001->$B:80 lifetime=120"
for c in bob-pc carol-pc alice-pc hidden-pc pol; do cp_stop $c; done

# ---- 2b. user_key answering raw keys (bytes) -----------------------------
kdc_user_keytab erin "$T/erin.keytab" >/dev/null
klist -k -K -e "$T/erin.keytab" |
	sed -n 's/^ *[0-9]* erin@[^ ]* (\([a-z0-9-]*\)) *(0x\([0-9a-f]*\)).*/erin \1 \2/p' >"$T/keys"
export JAZZ_PY_KEYS=$T/keys
if [ "$(wc -l <"$T/keys")" -ge 2 ]; then ok "raw keys exported from the KDC (both enctypes)"; else nok "raw keys exported from the KDC"; fi
py_server raw "$S/rawkey.py"
client raw-erin erin password erinpw
like "user_key bytes: password login with the raw key (aes256-cts-hmac-sha1-96)" "$T/raw.log" "login: erin@$KDC_REALM device raw-erin .*password"
cp_client_conf raw-erin384 erin password "[client]" "password = erinpw" "enctype = aes256-cts-hmac-sha384-192"
cp_start raw-erin384
like "user_key bytes: the raw key for the client's enctype (aes256-cts-hmac-sha384-192)" "$T/raw.log" "login: erin@$KDC_REALM device raw-erin384 .*password"
client raw-bad erin password not-erins
like "user_key bytes: a wrong password does not match the raw key" "$T/raw-bad.log" "login rejected"
for c in raw-erin raw-erin384 raw-bad raw; do cp_stop $c; done

# ---- 3. exceptions and wrong return types: fail-closed -------------------
faults() { # MODE WHAT-THE-LOG-SAYS-FOR-accept_conn
	local m=$1 F=$T/flags-$1 L
	mkdir -p "$F"
	export JAZZ_PY_FLAGS=$F JAZZ_PY_FAULT=$m
	py_server "f-$m" "$S/faulty.py"
	L=$T/f-$m.log
	touch "$F/accept_conn"
	client "$m-bob" bob password bob-from-python
	like "$m: accept_conn -> connection refused (fail-closed)" "$L" "refused by accept_conn \(fail-closed\)"
	like "$m: accept_conn: the reason is logged" "$L" "$2"
	mv "$F/accept_conn" "$F/user_key"
	like "$m: user_key -> login refused" "$L" "login from .*bob@.* failed" 15
	like "$m: user_key: the reason is logged" "$L" "python: user_key: (RuntimeError: user_key exploded on purpose|wrong return type: expected str \(password\), bytes \(raw key\) or None, got int)"
	mv "$F/user_key" "$F/validate_user"
	like "$m: validate_user -> rejected" "$T/$m-bob.log" "login rejected: .*user validation failed" 15
	like "$m: validate_user: the reason is logged" "$L" "python: validate_user: (RuntimeError: validate_user exploded on purpose|wrong return type: expected a jazz.VALIDATE_USER_STATUS_\* int, got bool)"
	rm "$F/validate_user"
	like "$m: bob logs in once the callbacks behave" "$L" "login: bob@$KDC_REALM device $m-bob" 15
	client "$m-alice" alice kerberos
	like "$m: alice logs in" "$L" "login: alice@$KDC_REALM device $m-alice"
	like "$m: alice sees bob" "$T/$m-alice.kernel" "peer-new .*name=$m-bob"
	touch "$F/peer_connection"
	A=$(vip "$m-alice") B=$(vip "$m-bob")
	inject "$m-alice" "request proto=tcp src=$A:40000 dst=$B:80 cookie=21"
	like "$m: peer_connection -> denied" "$T/$m-alice.kernel" "verdict deny .*cookie=21 proto=tcp"
	like "$m: peer_connection: the reason is logged" "$L" "python: peer_connection: (RuntimeError: peer_connection exploded on purpose|wrong return type: expected bool or \(bool, lifetime_s\), got str)"
	touch "$F/peer_filter"
	client "$m-erin" erin kerberos
	like "$m: erin logs in" "$L" "login: erin@$KDC_REALM device $m-erin"
	like "$m: peer_filter -> erin's list hides everyone" "$L" "peer_filter for erin@$KDC_REALM failed: hiding every peer"
	like "$m: peer_filter: the reason is logged" "$L" "python: peer_filter: (RuntimeError: peer_filter exploded on purpose|wrong return type: expected None, a dict with users/peers or a list of peers, got int)"
	sleep 1
	unlike "$m: erin got no peers" "$T/$m-erin.kernel" "peer-new"
	if kill -0 "$(cp_pid "f-$m")" 2>/dev/null; then ok "$m: server still running"; else nok "$m: server still running"; fi
	for c in "$m-bob" "$m-alice" "$m-erin" "f-$m"; do cp_stop "$c"; done
}
faults raise "python: accept_conn:   File \".*faulty.py\", line [0-9]+, in accept_conn"
like "raise: the whole traceback is logged (last line)" "$T/f-raise.log" "python: accept_conn: RuntimeError: accept_conn exploded on purpose"
faults wrongtype "python: accept_conn: wrong return type: expected bool, got str"

# ---- 4. missing functions: the defaults apply ---------------------------
py_server part "$S/partial.py"
L=$T/part.log
like "missing functions: only peer_connection registered" "$L" "python $S/partial.py: loaded, defines: peer_connection$"
client part-bob bob password bob-from-python
like "no user_key: password login refused (default)" "$T/part-bob.log" "login rejected: (unknown-user|password-login-disabled)"
cp_stop part-bob
client part-alice alice kerberos
client part-erin erin kerberos
like "no accept_conn/validate_user: kerberos login accepted (defaults)" "$L" "login: erin@$KDC_REALM device part-erin"
like "no peer_filter: everyone seen (default)" "$T/part-alice.kernel" "peer-new .*name=part-erin"
A=$(vip part-alice) E=$(vip part-erin)
inject part-alice "request proto=tcp src=$A:40000 dst=$E:80 cookie=31"
like "the one defined function decides (peer_connection False)" "$T/part-alice.kernel" "verdict deny .*cookie=31"
for c in part-alice part-erin part; do cp_stop $c; done

# ---- 5. slow callbacks: timeout, others served meanwhile ----------------
py_server slow "$S/slow_login.py"
L=$T/slow.log
client slow-erin erin kerberos
wait_for "$L" "python: slow: spinning for erin" 10
client slow-alice alice kerberos
like "while erin's validate_user spins, alice logs in" "$L" "login: alice@$KDC_REALM device slow-alice" 10
like "erin's validate_user timed out (dispatcher)" "$L" "callback validate_user \(python:.*\) timed out after 1500 ms"
# Not a timing assertion: the server's own log order shows alice was served
# while erin's callback still held its worker (before the timeout fired).
la=$(grep -n "login: alice@$KDC_REALM device slow-alice" "$L" | head -1 | cut -d: -f1)
le=$(grep -nE "callback validate_user \(python:.*\) timed out" "$L" | head -1 | cut -d: -f1)
[ -n "$la" ] && [ -n "$le" ] && [ "$la" -lt "$le" ] &&
	ok "alice's login was logged before erin's callback timed out (line $la < $le)" ||
	nok "alice's login was logged before erin's callback timed out (alice at line ${la:-none}, timeout at ${le:-none})"
like "the runaway loop was interrupted (jazz.CallbackTimeout)" "$L" "python: validate_user: interrupted: ran past its time limit"
like "erin is rejected (fail-closed)" "$T/slow-erin.log" "login rejected: .*user validation failed"
cp_stop slow-erin
client slow-bob bob password bob-from-python
like "bob's user_key sleeps past the timeout" "$L" "callback user_key \(python:.*\) timed out after 1500 ms" 10
cp_stop slow-bob
client slow-carol carol password bob-from-python
like "... and another password login is served meanwhile" "$L" "login: carol@$KDC_REALM device slow-carol" 10
if kill -0 "$(cp_pid slow)" 2>/dev/null; then ok "slow: server still running"; else nok "slow: server still running"; fi
for c in slow-alice slow-carol slow; do cp_stop $c; done

# ---- 6. SIGHUP reload: good file, then a broken one ---------------------
cp "$S/reload_v1.py" "$T/events.py"
py_server rl "$T/events.py"
L=$T/rl.log
client rl-alice alice kerberos
client rl-erin erin kerberos
like "reload: both clients online" "$T/rl-alice.kernel" "peer-new .*name=rl-erin"
A=$(vip rl-alice) E=$(vip rl-erin)
inject rl-alice "request proto=tcp src=$A:40000 dst=$E:80 cookie=41"
like "reload: version 1 denies" "$T/rl-alice.kernel" "verdict deny .*cookie=41"
cp "$S/reload_v2.py" "$T/events.py"
kill -HUP "$(cp_pid rl)"
like "reload: SIGHUP loads the new file" "$L" "python: reload: version 2 loaded"
sleep 0.3
inject rl-alice "request proto=tcp src=$A:40001 dst=$E:80 cookie=42"
like "reload: version 2 approves" "$T/rl-alice.kernel" "verdict approve .*cookie=42"
cp "$S/broken.py" "$T/events.py"
kill -HUP "$(cp_pid rl)"
like "reload: a broken file is refused, and the log says why" "$L" \
	"callbacks failed to load, keeping the old ones: python $T/events.py: SyntaxError: expected ':'"
like "reload: the traceback names the line" "$L" "python: load $T/events.py:     def accept_conn\(info\)"
sleep 0.3
inject rl-alice "request proto=tcp src=$A:40002 dst=$E:80 cookie=43"
like "reload: version 2 still answers after the failed reload" "$T/rl-alice.kernel" "verdict approve .*cookie=43"
if kill -0 "$(cp_pid rl)" 2>/dev/null; then ok "reload: server still running"; else nok "reload: server still running"; fi
for c in rl-alice rl-erin rl; do cp_stop $c; done

# ---- 7. Python next to the C plugin: [callbacks] order ------------------
# partial.py defines only peer_connection (deny); the sample plugin defines
# all five (user_key from JAZZ_SAMPLE_PASSWORDS, approvals for 600 s).
if [ -f "$PLUGIN" ]; then
	export JAZZ_SAMPLE_LIFETIME=600
	PORT=$(free_port)
	cp_server_conf "python = $S/partial.py" "order = python,plugin"
	mv "$T/server.conf" "$T/both.conf"
	cp_start both
	wait_for "$T/both.log" "server listening" 10
	L=$T/both.log
	like "order python,plugin: both backends loaded" "$L" "callbacks: loaded python:$S/partial.py"
	client both-bob bob password bobpw
	like "order python,plugin: user_key missing in Python, answered by the plugin" "$L" "login: bob@$KDC_REALM device both-bob .*password"
	client both-alice alice kerberos
	like "order python,plugin: both online" "$T/both-alice.kernel" "peer-new .*name=both-bob"
	A=$(vip both-alice) B=$(vip both-bob)
	inject both-alice "request proto=tcp src=$A:40000 dst=$B:80 cookie=51"
	like "order python,plugin: peer_connection answered by Python (deny)" "$T/both-alice.kernel" "verdict deny .*cookie=51"
	sed -i 's/^order = python,plugin$/order = plugin,python/' "$T/both.conf"
	kill -HUP "$(cp_pid both)"
	like "order plugin,python after SIGHUP: reloaded" "$L" "reload done"
	inject both-alice "request proto=tcp src=$A:40001 dst=$B:80 cookie=52"
	like "order plugin,python: peer_connection answered by the plugin (approve, 600 s)" "$T/both-alice.kernel" "verdict approve .*cookie=52 .*lifetime=600"
	for c in both-bob both-alice both; do cp_stop $c; done
else
	nok "order: the sample plugin $PLUGIN is not built"
fi

cp_done
