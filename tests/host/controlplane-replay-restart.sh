#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 15, item 8 (persistent replay cache): a login token captured before
# a server restart is refused after it. The server runs without channel
# binding (with it, a token is bound to its TLS session and cannot be used
# on another connection at all), so the replay cache is all that stops a
# replay; its configuration names no rcache, so the default (file2 next to
# the leases, the state directory) is what is tested. Both login tokens:
# the Kerberos AP-REQ and the password mode's encrypted timestamp. Then the
# cache file is wiped, as PrivateTmp= did to /var/tmp at each restart: the
# same kind of replay is accepted, which shows it is the persisted cache
# that refuses it. Real KDC, real jazzd. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_jzclient || { echo "not ok 1 - build jzclient"; exit 1; }
cp_server_conf "[server]" "channel_binding = no" "max_devices = 0"
sed -i '/^rcache = /d' "$T/server.conf"
RC=$T/krb5.rcache2

restart() {
	cp_stop server
	[ "${1:-}" = wipe ] && rm -f -- "$RC"
	cp_start server
	wait_for "$T/server.log" "server listening" 5
}
ap() { jzc -c "FILE:$T/alice.cc" -d "$1" -T "$2" login 2>&1; }
pw() { jzc -m password -u bob -p bobpw -d "$1" -T "$2" login 2>&1; }

cp_start server
check "server starts (no rcache configured)" wait_for "$T/server.log" "server listening" 5

r=$(ap ap-1 "$T/ap.tok"); echo "# AP-REQ, captured: $r"
check "Kerberos login with the token being captured is welcome" grep -q "^welcome " <<<"$r"
r=$(pw pw-1 "$T/pw.tok"); echo "# password, captured: $r"
check "password login with the token being captured is welcome" grep -q "^welcome " <<<"$r"
check "the default replay cache is a file in the state directory ($RC)" test -s "$RC"
r=$(ap ap-2 "$T/ap.tok"); echo "# AP-REQ replayed, same server: $r"
check "replayed AP-REQ, same server: reject replay" grep -q "^reject replay" <<<"$r"

check "server restarts" restart
r=$(ap ap-3 "$T/ap.tok"); echo "# AP-REQ replayed after the restart: $r"
check "AP-REQ captured before the restart is refused after it (reject replay)" \
	grep -q "^reject replay" <<<"$r"
r=$(pw pw-3 "$T/pw.tok"); echo "# password token replayed after the restart: $r"
check "password token captured before the restart is refused after it (reject replay)" \
	grep -q "^reject replay" <<<"$r"
r=$(jzc -c "FILE:$T/alice.cc" -d ap-4 login 2>&1); echo "# fresh AP-REQ: $r"
check "a fresh Kerberos token after the restart is welcome" grep -q "^welcome " <<<"$r"
r=$(jzc -m password -u bob -p bobpw -d pw-4 login 2>&1); echo "# fresh password token: $r"
check "a fresh password token after the restart is welcome" grep -q "^welcome " <<<"$r"

# the control: what a wiped cache (PrivateTmp) let through
r=$(ap ap-5 "$T/ap5.tok"); r2=$(pw pw-5 "$T/pw5.tok")
check "two more tokens captured" bash -c "grep -q '^welcome ' <<<'$r' && grep -q '^welcome ' <<<'$r2'"
check "server restarts with its replay cache wiped" restart wipe
r=$(ap ap-6 "$T/ap5.tok"); echo "# AP-REQ replayed after a wiping restart: $r"
r2=$(pw pw-6 "$T/pw5.tok"); echo "# password token replayed after a wiping restart: $r2"
check "with the cache wiped the replays are accepted: the persisted file is what refuses them" \
	bash -c "grep -q '^welcome ' <<<'$r' && grep -q '^welcome ' <<<'$r2'"
grep -E "replay" "$T/server.log" | tail -4 | sed 's/^/# server: /'
cp_done
