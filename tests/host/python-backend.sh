#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Python callback backend (userspace/jazzd/python*.c) driven directly
# by tests/host/python/pydrive.c: the five callbacks, their argument and
# answer shapes, exceptions, wrong types, missing functions, interrupting
# a runaway call, concurrency while a call sleeps, output capture, reload.
# The real-login tests (jazzd server + client + KDC) are in python-login.sh.
#
# TAP on stdout; exits non-zero if anything failed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$ROOT/build}
S=$ROOT/tests/host/python/scripts
D=$B/tests/pydrive
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check DESC FILE REGEX: the file has a line matching REGEX
check() {
	if grep -Eq -- "$3" "$2"; then ok "$1"; else
		nok "$1"; echo "#   no line matching: $3"; sed 's/^/#   | /' "$2" | tail -n 30; fi
}
checknot() {
	if ! grep -Eq -- "$3" "$2"; then ok "$1"; else nok "$1"; echo "#   unexpected: $3"; fi
}

"$ROOT/tests/host/python/build.sh" "$B" || { echo "not ok 1 - build pydrive"; exit 1; }

run() { # NAME ARGS...: stdout+stderr of pydrive into $OUT/NAME
	local name=$1; shift
	timeout 60 "$D" "$@" >"$OUT/$name" 2>&1
	echo "exit=$?" >>"$OUT/$name"
}

EP="a EXAMPLE.ORG laptop 10.99.0.2 40000 printer 10.99.0.7"
AES=aes256-cts-hmac-sha1-96

# ---- the seed's sample, unchanged ---------------------------------------
seed=$(sed -n '/^```py$/,/^```$/p' /work/shared/seeds/000_9c5a283f26f58165.txt 2>/dev/null | sed '1d;$d')
if [ -z "$seed" ] || [ "$seed" = "$(cat "$ROOT/examples/events.py")" ]; then
	ok "examples/events.py is the seed's sample verbatim"
else
	nok "examples/events.py is the seed's sample verbatim"
fi
run seed load "$ROOT/examples/events.py" accept 127.0.0.1 5555 \
	user_key alice EXAMPLE.ORG ::1 443 $AES \
	validate alice EXAMPLE.ORG laptop 127.0.0.1 5555 password 0 1 otp=1 \
	filter alice EXAMPLE.ORG 127.0.0.1 5555 2 alice@EXAMPLE.ORG bob@EXAMPLE.ORG \
		2 laptop/alice@EXAMPLE.ORG/10.99.0.2/fd99::2 pc/bob@EXAMPLE.ORG/10.99.0.3/ \
	conn $EP 631 tcp
f=$OUT/seed
check "sample: all five callbacks defined" $f "defines: accept_conn user_key validate_user peer_filter peer_connection"
check "sample: accept_conn -> True" $f "^accept rc=0 accept=1"
check "sample: accept_conn dict" $f "accept_conn received: \{'source': '127.0.0.1:5555', 'ip': '127.0.0.1', 'port': 5555\}"
check "sample: user_key -> 'password'" $f "^user_key rc=0 kind=password password=password "
check "sample: user_key dict (IPv6 source in brackets)" $f "user_key received: \{'username': 'alice', 'realm': 'EXAMPLE.ORG', 'source': '\[::1\]:443', 'source_ip': '::1', 'source_port': 443, 'enctype': '$AES'\}"
check "sample: validate_user -> ACCEPTED" $f "^validate rc=0 status=0 "
check "sample: validate_user dict" $f "validate_user received: \{'username': 'alice', 'realm': 'EXAMPLE.ORG', 'device': 'laptop', 'source': '127.0.0.1:5555', 'source_ip': '127.0.0.1', 'source_port': 5555, 'method': 'password', 'other_data': \[\{'code': 'otp', 'value': '1'\}\], 'round': 0\}"
check "sample: peer_filter -> None keeps all" $f "^filter rc=0 users=11 peers=11"
check "sample: peer_filter dict" $f "peer_filter received: .*'users': \[\{'username': 'alice', 'realm': 'EXAMPLE.ORG'\}, \{'username': 'bob'.*'peers': \[\{'device': 'laptop', 'username': 'alice', 'realm': 'EXAMPLE.ORG', 'vip4': '10.99.0.2', 'vip6': 'fd99::2'\}"
check "sample: peer_connection -> True" $f "^conn rc=0 approve=1 lifetime=0"
check "sample: peer_connection dict" $f "peer_connection received: \{'origin_username': 'a', 'origin_realm': 'EXAMPLE.ORG', 'origin_device': 'laptop', 'origin': '10.99.0.2:40000', 'origin_ip': '10.99.0.2', 'origin_port': 40000, 'destination_device': 'printer', 'destination': '10.99.0.7:631', 'destination_ip': '10.99.0.7', 'destination_port': 631, 'protocol': 'tcp', 'relayed': False\}"
check "embedded interpreter is Debian's (prefix /usr)" $f "python: started 3\.11.*\(prefix /usr\)"

# ---- one script per callback --------------------------------------------
run reject load $S/reject_source.py accept 127.0.0.66 1000 accept 127.0.0.1 1000
check "accept_conn False refuses the source" $OUT/reject "^accept rc=0 accept=0"
check "accept_conn True accepts another" $OUT/reject "^accept rc=0 accept=1"

run pw load $S/password.py user_key alice R 127.0.0.1 1 $AES user_key zed R 127.0.0.1 1 $AES \
	user_key carol R 127.0.0.1 1 $AES user_key carol R 127.0.0.1 1 aes128-cts-hmac-sha1-96
check "user_key str is a password" $OUT/pw "^user_key rc=0 kind=password password=alice-secret "
check "user_key None is an unknown user" $OUT/pw "^user_key rc=0 kind=unknown "
check "user_key bytes is a raw key" $OUT/pw "^user_key rc=0 kind=raw password= key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
check "user_key raw key of the wrong length is an error" $OUT/pw "raw key of 32 bytes for aes128-cts-hmac-sha1-96 \(want 16\)"

run otp load $S/otp.py validate alice R lap 127.0.0.1 1 password 0 0 \
	validate alice R lap 127.0.0.1 1 password 1 1 otp=424242 \
	validate alice R lap 127.0.0.1 1 password 1 1 otp=999
check "validate_user MORE_DATA with a secret prompt" $OUT/otp "^validate rc=0 status=2 message= prompts=\[otp\|One-time code\|1\]"
check "validate_user ACCEPTED with the right code" $OUT/otp "^validate rc=0 status=0 message= prompts= "
check "validate_user REJECTED with a message (dict form)" $OUT/otp "^validate rc=0 status=1 message=wrong one-time code prompts= "

run hide load $S/hide.py filter bob R 127.0.0.1 5 3 a@R ghost@R b@R \
	3 lap/a@R/10.0.0.1/fd::1 secret/b@R/10.0.0.2/ ph/b@R/10.0.0.3/
check "peer_filter hides a peer and a user" $OUT/hide "^filter rc=0 users=101 peers=101"

run deny load $S/deny.py conn $EP 22 tcp conn $EP 80 tcp
check "peer_connection False denies" $OUT/deny "^conn rc=0 approve=0 lifetime=0"
check "peer_connection (True, 60) approves with a lifetime" $OUT/deny "^conn rc=0 approve=1 lifetime=60"

# ---- examples/policy.py (documented in docs/CALLBACKS.md) ---------------
run policy load "$ROOT/examples/policy.py" accept 192.0.2.5 1 accept 127.0.0.1 1 \
	validate carol R d 1.1.1.1 1 password 0 0 validate carol R d 1.1.1.1 1 password 1 1 otp=424242 \
	filter bob R 1.1.1.1 5 1 bob@R 2 pbx/carol@R/1/2 lap/carol@R/3/4 \
	conn $EP 22 tcp conn $EP 80 tcp user_key bob R 1.1.1.1 1 $AES
f=$OUT/policy
check "examples/policy.py: blocked network refused" $f "^accept rc=0 accept=0"
check "examples/policy.py: other source accepted" $f "^accept rc=0 accept=1"
check "examples/policy.py: one-time code asked" $f "^validate rc=0 status=2 .*prompts=\[otp\|One-time code\|1\]"
check "examples/policy.py: one-time code accepted" $f "^validate rc=0 status=0 "
check "examples/policy.py: private device hidden" $f "^filter rc=0 users=1 peers=01"
check "examples/policy.py: ssh denied, rest approved for 3600 s" $f "^conn rc=0 approve=1 lifetime=3600"
check "examples/policy.py: password from the table" $f "^user_key rc=0 kind=password password=bob-secret "

# ---- errors -------------------------------------------------------------
run raise load $S/raise.py accept 1.1.1.1 1 user_key a R 1.1.1.1 1 $AES \
	validate a R d 1.1.1.1 1 password 0 0 filter b R 1.1.1.1 5 1 a@R 1 l/a@R/1/2 \
	conn $EP 22 tcp accept 1.1.1.1 1
f=$OUT/raise
for cb in accept user_key validate filter conn; do
	check "exception in $cb -> JAZZ_CB_ERROR" $f "^$cb rc=-1 "
done
check "traceback logged, every line (frame)" $f "python: user_key:   File \".*raise.py\", line 3, in helper"
check "traceback logged, every line (exception)" $f "python: user_key: KeyError: 'no-such-key'"
check "SystemExit in a callback does not end the process" $f "^exit=0"
check "calls go on after an exception" $f "python: peer_connection: SystemExit: 3"

run wrong load $S/wrongtype.py accept 1.1.1.1 1 user_key a R 1.1.1.1 1 $AES \
	validate a R d 1.1.1.1 1 password 0 0 filter b R 1.1.1.1 5 1 a@R 1 l/a@R/1/2 conn $EP 22 tcp
f=$OUT/wrong
for cb in accept user_key validate filter conn; do
	check "wrong return type in $cb -> JAZZ_CB_ERROR" $f "^$cb rc=-1 "
done
check "wrong type logged with both types" $f "accept_conn: wrong return type: expected bool, got str"
check "a bool is not a validate_user status" $f "validate_user: wrong return type: expected a jazz.VALIDATE_USER_STATUS_\* int, got bool"
check "peer_filter cannot add an entry" $f "peer_filter: peers\[0\] is not one of the entries passed in"

run partial load $S/partial.py accept 1.1.1.1 1 user_key a R 1.1.1.1 1 $AES \
	validate a R d 1.1.1.1 1 password 0 0 conn $EP 22 tcp
check "missing functions are not registered" $OUT/partial "defines: peer_connection$"
check "missing accept_conn: pointer NULL (default applies)" $OUT/partial "^accept undefined"
check "missing user_key: pointer NULL" $OUT/partial "^user_key undefined"
check "defined function still called" $OUT/partial "^conn rc=0 approve=0"
check "jazz.info at module level" $OUT/partial "\[info\]: python: partial.py loaded"

run output load $S/output.py accept 1.1.1.1 1
f=$OUT/output
check "print at module level -> log" $f "\[info\]: python: module level print"
check "print of two lines -> two log lines (1)" $f "\[info\]: python: first line$"
check "print of two lines -> two log lines (2)" $f "\[info\]: python: second line$"
check "stderr -> warning log line" $f "\[warning\]: python: stderr: an error line$"
check "an unfinished line is flushed when the call ends" $f "\[info\]: python: no newline yet$"

# ---- timeouts ------------------------------------------------------------
# a runaway loop: interrupt() ends it; the backend serves others meanwhile
run loop load $S/slow.py bg conn $EP 22 tcp sleep 200 user_key a R 1.1.1.1 1 $AES \
	interrupt 500 join 3000 user_key a R 1.1.1.1 1 $AES
f=$OUT/loop
check "runaway loop: another call answered meanwhile" $f "^user_key rc=0 kind=password password=quick key= elapsed_ms=([0-9]|[1-9][0-9])$"
check "runaway loop ended by interrupt -> JAZZ_CB_ERROR" $f "^conn rc=-1 .* elapsed_ms=(5[0-9][0-9]|6[0-9][0-9]|7[0-9][0-9])$"
check "interrupt logged with the traceback" $f "python: peer_connection: jazz.CallbackTimeout"
check "the interpreter works after the interrupt" $f "^user_key rc=0 kind=password password=quick key= elapsed_ms=[0-9]+$"
# blocked in time.sleep: the GIL is free, other calls go on; the call is abandoned
run sleep load $S/slow.py bg accept 1.1.1.1 3000 sleep 100 user_key a R 1.1.1.1 1 $AES \
	interrupt 300 join 300
check "sleeping call: another call answered meanwhile" $OUT/sleep "^user_key rc=0 kind=password password=quick key= elapsed_ms=[0-9]{1,2}$"
check "sleeping call is still running (abandoned by the dispatcher)" $OUT/sleep "^bg still running"

# ---- reload --------------------------------------------------------------
run reload load $S/reject_source.py accept 127.0.0.66 1 \
	load $S/broken.py accept 127.0.0.66 1 \
	load $S/importerr.py load $S/notcallable.py load /nonexistent/events.py \
	load $S/version2.py accept 127.0.0.1 1 \
	load $S/reject_source.py accept 127.0.0.1 1
f=$OUT/reload
check "syntax error: load fails with the reason" $f "^load failed: python .*broken.py: SyntaxError: expected ':' \(broken.py, line 3\)"
check "syntax error: the source line is logged" $f "python: load .*broken.py:     def accept_conn\(info\)"
check "import error: load fails with the reason" $f "^load failed: python .*importerr.py: ModuleNotFoundError: No module named 'no_such_module_for_jazz'"
check "non-callable callback: load fails" $f "^load failed: .*accept_conn is a bool, not a function"
check "missing file: load fails" $f "^load failed: .*FileNotFoundError"
if [ "$(grep -c '^accept rc=0 accept=0' $f)" = 3 ]; then
	ok "old module still answers after failed loads"
else
	nok "old module still answers after failed loads"
fi
check "a good reload takes effect" $f "^accept rc=0 accept=1"

# module code that hangs at load time: interrupted, or abandoned if blocked in C
JAZZD_PYTHON_LOAD_TIMEOUT_MS=500 run hang load $S/version2.py load $S/hang_load.py accept 1.1.1.1 1 \
	load $S/sleep_load.py accept 1.1.1.1 1 sleep 2500 load $S/reject_source.py accept 1.1.1.1 1
f=$OUT/hang
check "a load spinning past its limit is interrupted" $f "^load failed: python .*hang_load.py: loading took longer than 500 ms; interrupted"
check "... with the traceback of where it was" $f "python: load .*hang_load.py:   File \".*hang_load.py\", line 4, in <module>"
check "a load blocked in C is abandoned" $f "^load failed: python .*sleep_load.py: loading took longer than 500 ms \(module code blocked\); abandoned"
if [ "$(grep -c '^accept rc=0 accept=0' $f)" = 2 ]; then
	ok "the previous module answers after both"
else
	nok "the previous module answers after both"
fi
check "the next load works" $f "^accept rc=0 accept=1"

echo "# python-backend: $((n - failed)) passed, $failed failed"
[ $failed = 0 ]
