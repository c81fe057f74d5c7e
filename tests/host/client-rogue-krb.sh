#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The rogue server (controlplane/rogue.c) against a jazzd client that logs
# in with a Kerberos ticket from the tests' MIT KDC: no proof, a garbage
# AP-REP, a real AP-REP (the rogue holds the service keytab) whose `auth`
# names another principal, and a real one (the positive control). Then the
# answers file: -A FILE and -A - (stdin) keep one-time codes out of the
# process list, and -a warns that it does not.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
. "$TOP/tests/host/controlplane/rogue-lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_rogue || { echo "not ok 1 - build the rogue server"; exit 1; }
R=$KDC_REALM
has() { grep -q -- "$2" "$T/$1"; }
hasnt() { ! grep -q -- "$2" "$T/$1"; }
KT=(-K "FILE:$T/server.keytab" -S "jazz/server.jazz.test@$R")

FULL="[$W_CHALLENGE,{\"type\":\"_read\"},$(welcome 10.77.0.7 fd77:6a61:7a7a::7),
{\"type\":\"peers\",\"peers\":[$(peer 2 10.77.0.2 fd77:6a61:7a7a::2)],\"users\":[]},
$(key_msg 2),{\"type\":\"_read\"}]"

for mode in none garbage other; do
	rogue_start "k$mode" "$mode" "$FULL" -n 1 -w 2 "${KT[@]}" -U bob
	rogue_client "k$mode" alice kerberos "[answers]" "otp = 424242"
	check "kerberos, proof '$mode': the rogue got the login" has "k$mode.rec" "^login method=kerberos"
	check "kerberos, proof '$mode': the one-time code was not sent" hasnt "k$mode.rec" "recv answer"
	check "kerberos, proof '$mode': no address installed" hasnt "k$mode.kernel" "^addr "
	check "kerberos, proof '$mode': no peer installed" hasnt "k$mode.kernel" "^peer-new"
	check "kerberos, proof '$mode': no key installed" hasnt "k$mode.kernel" "^key-new"
done
check "kerberos, no proof: reason logged" has knone.log "before proving its identity"
check "kerberos, garbage AP-REP: mutual authentication failure logged" \
	has kgarbage.log "server failed mutual authentication"
check "kerberos, a real AP-REP naming bob: refused with both names" \
	has kother.log "its proof names bob@$R, not alice@$R"

rogue_start kvalid valid "$FULL" -n 1 -w 2 "${KT[@]}"
rogue_client kvalid alice kerberos "[answers]" "otp = 424242"
check "kerberos, real proof (control): the rogue made a proof" has kvalid.rec "^proof valid"
check "kerberos, real proof: the prompt is answered" has kvalid.rec '"value":"424242"'
check "kerberos, real proof: the address is installed" has kvalid.kernel "^addr 10.77.0.7/16"
check "kerberos, real proof: the peer is installed" has kvalid.kernel "^peer-new id=2 "
check "kerberos, real proof: its key is installed" has kvalid.kernel "^key-new peer=2 "

# answers from a file and from stdin, not from argv
printf '# one-time code\notp=55501\n' >"$T/answers"
chmod 600 "$T/answers"
rogue_start afile valid "[$W_CHALLENGE,{\"type\":\"_read\"}]" -n 1 -w 2 -p bobpw
cp_client_conf afile bob password
cp_start afile -A "$T/answers"
wait_for "$T/afile.rec" "recv answer" 10
pid=$(cp_pid afile)
check "-A FILE: the answer reaches the server" has afile.rec '"value":"55501"'
check "-A FILE: the answer is not in the process's command line" \
	bash -c "! tr '\0' ' ' </proc/$pid/cmdline | grep -q 55501"
wait_for "$T/afile.rec" "^done" 10
cp_stop afile
rogue_stop

rogue_start astdin valid "[$W_CHALLENGE,{\"type\":\"_read\"}]" -n 1 -w 2 -p bobpw
cp_client_conf astdin bob password
"$JAZZD" -f -d -c "$T/astdin.conf" -A - <<<"otp=55502" >"$T/astdin.log" 2>&1 &
PIDS+=($!)
apid=$!
wait_for "$T/astdin.rec" "^done" 15
kill "$apid" 2>/dev/null
rogue_stop
check "-A - (stdin): the answer reaches the server" has astdin.rec '"value":"55502"'

cp_client_conf aargv bob password
cp_start aargv -a otp=55503
wait_for "$T/aargv.log" "visible to every local user" 5
check "-a still works but warns that ps shows it" has aargv.log "answers on the command line are visible to every local user"
cp_stop aargv
printf 'no equals sign\n' >"$T/bad-answers"
"$JAZZD" -t -c "$T/aargv.conf" -A "$T/bad-answers" >"$T/badans.out" 2>&1
rc=$?
check "-A with a malformed line: exit 2 with a clear error (got $rc)" \
	bash -c "[ $rc = 2 ] && grep -q 'not CODE=VALUE lines' '$T/badans.out'"
cp_done
