#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The client asks the person at the terminal for what validate_user's
# prompts need (and for the password) when the value is neither in its
# configuration nor on its command line. Run for real: a jazzd client on a
# pseudo-terminal (controlplane/ptydrive.py) against a jazzd server whose
# plugin (controlplane/filterplug.c) asks carol for a secret "PIN" and a
# non-secret "Favourite colour". Checks the prompt texts, echo off for the
# secret ones and on for the other, that typed answers are accepted and
# wrong ones rejected, and that without a terminal (or with interactive
# off) the client stops at once with a clear error instead of hanging.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
cc -O2 -Wall -shared -fPIC -I"$TOP/userspace/include" -o "$T/filterplug.so" \
	"$TOP/tests/host/controlplane/filterplug.c" || { echo "not ok 1 - build plugin"; exit 1; }
export JZT_PROMPT=carol
# a person needs time to type: a longer login timeout than the other tests
cp_server_conf "[server]" "login_timeout = 60" "[callbacks]" "plugin = $T/filterplug.so"
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 5

# pty NAME SCRIPT-LINES... : the client NAME on a terminal, playing the script
pty() {
	local name=$1 line
	shift
	printf '%s\n' "$@" >"$T/$name.script"
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) nok "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done < <(/usr/bin/python3 "$TOP/tests/host/controlplane/ptydrive.py" "$T/$name.log" \
		"$T/$name.script" -- "$JAZZD" -f -c "$T/$name.conf" 2>&1)
}
TAB=$'\t'

# 1. everything typed: the password, a wrong PIN, then the right one
cp_client_conf tty-1 carol password "interactive = yes"
sed -i '/^password = /d' "$T/tty-1.conf"
pty tty-1 \
	"expect${TAB}Password: \$${TAB}password prompt on the terminal" \
	"echo${TAB}off${TAB}password: echo off" \
	"send${TAB}carolpw" \
	"expect${TAB}PIN: \$${TAB}validate_user prompt 'PIN' on the terminal" \
	"echo${TAB}off${TAB}secret prompt: echo off" \
	"send${TAB}1111" \
	"expect${TAB}Favourite colour: \$${TAB}second prompt of the round: 'Favourite colour'" \
	"echo${TAB}on${TAB}non-secret prompt: echo on" \
	"send${TAB}blue" \
	"present${TAB}blue${TAB}the non-secret answer was echoed" \
	"waitlog${TAB}$T/server.log${TAB}validate_user carol round 1: pin wrong, color blue${TAB}the typed answers reached validate_user (wrong PIN)" \
	"expect${TAB}PIN: \$${TAB}asked again after the wrong PIN" \
	"send${TAB}2468" \
	"expect${TAB}Favourite colour: \$${TAB}colour asked again" \
	"send${TAB}blue" \
	"waitlog${TAB}$T/server.log${TAB}login: carol@$KDC_REALM device tty-1 ${TAB}the right PIN typed at the terminal is accepted" \
	"absent${TAB}carolpw${TAB}the password was not echoed" \
	"absent${TAB}2468${TAB}the right PIN was not echoed" \
	"absent${TAB}1111${TAB}the wrong PIN was not echoed" \
	"stop"
check "the client logged in (its own log)" grep -q "logged in as carol@$KDC_REALM, device tty-1" "$T/tty-1.log"

# 2. wrong three times: rejected
cp_client_conf tty-2 carol password "interactive = yes"
pty tty-2 \
	"expect${TAB}PIN: \$${TAB}wrong answers: PIN asked" \
	"send${TAB}1" "expect${TAB}colour: \$${TAB}wrong answers: colour asked" "send${TAB}red" \
	"expect${TAB}PIN: \$${TAB}round 1" "send${TAB}2" "expect${TAB}colour: \$${TAB}round 1 colour" "send${TAB}red" \
	"expect${TAB}PIN: \$${TAB}round 2" "send${TAB}3" "expect${TAB}colour: \$${TAB}round 2 colour" "send${TAB}red" \
	"waitlog${TAB}$T/tty-2.log${TAB}login rejected: rejected: wrong PIN or colour${TAB}wrong answers typed three times: the login is rejected" \
	"stop"
check "no login for tty-2" bash -c "! grep -q 'device tty-2 ' '$T/server.log'"

# 3. answers on the command line: no prompt even on a terminal
cp_client_conf tty-3 carol password "interactive = yes"
printf '%s\n' "waitlog${TAB}$T/server.log${TAB}login: carol@$KDC_REALM device tty-3 ${TAB}-a answers: logged in" \
	"absent${TAB}PIN${TAB}-a answers: no prompt on the terminal" "stop" >"$T/tty-3.script"
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) nok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(/usr/bin/python3 "$TOP/tests/host/controlplane/ptydrive.py" "$T/tty-3.log" \
	"$T/tty-3.script" -- "$JAZZD" -f -c "$T/tty-3.conf" -a pin=2468 -a color=blue 2>&1)

# 4. no terminal: standard input is not one, nothing configured -> a clear error, exit 1
cp_client_conf notty carol password "interactive = yes"
start=$(date +%s)
timeout 20 setsid "$JAZZD" -f -c "$T/notty.conf" </dev/null >"$T/notty.log" 2>&1
rc=$? took=$(( $(date +%s) - start ))
check "no terminal: the client exits with status 1 (got $rc after ${took}s; 124 = hung)" [ "$rc" = 1 ]
check "no terminal: the error says what is asked, where answers go, and why it cannot ask" \
	grep -q "the server asks for 'pin' (PIN): no answer in the configuration (\[answers\] pin = ...) or on the command line (-a pin=...), and none can be asked: standard input is not a terminal; giving up" "$T/notty.log"

# 5. interactive off: same, with that reason
cp_client_conf noask carol password
timeout 20 "$JAZZD" -f -c "$T/noask.conf" >"$T/noask.log" 2>&1 </dev/null
rc=$?
check "interactive off: exits with status 1 (got $rc)" [ "$rc" = 1 ]
check "interactive off: the error names the reason" \
	grep -q "none can be asked: \[client\] interactive is off; giving up" "$T/noask.log"

if kill -0 "$(cp_pid server)" 2>/dev/null; then ok "server still running"; else nok "server still running"; fi
cp_done
