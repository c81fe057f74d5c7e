#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The event bus inside the real daemon: a jazzd server with [redis] and
# [events] sections (a redis-server on a unix socket started here), a jazzd
# client logging in (real KDC, TLS, fake kernel backend; helpers from
# tests/host/controlplane/lib.sh). Checks the events on Redis with
# redis-cli PSUBSCRIBE and that handler steps run for jazzd's own events,
# also after a SIGHUP that changes the events dirs; then SIGUSR1, NS8's
# graceful stop: the running handler ends, jazzd exits 0. TAP output.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
JAZZD=${JAZZD_BIN:-$JAZZD}	# JAZZD_BIN=/path/jazzd: test another build

cp_setup || { echo "not ok 1 - setup"; exit 1; }
if ! nm "$JAZZD" 2>/dev/null | grep -q ' T jz_bus_new$'; then
	nok "build/jazzd has the event bus linked in (events/bus.c)"
	cp_done
	exit 1
fi
SOCK=$T/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" \
	> "$T/redis.log" 2>&1 &
PIDS+=($!)
check "redis-server on a unix socket" bash -c "for i in \$(seq 100); do redis-cli -s '$SOCK' ping >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1"

mkdir -p "$T/events/user-logged-in" "$T/events2/device-disconnected"
printf '#!/bin/sh\nprintf "%%s %%s %%s\\n" "$AGENT_EVENT_NAME" "$AGENT_EVENT_SOURCE" "$(cat)" >> %s\necho handled\n' \
	"$T/handled" > "$T/events/user-logged-in/10-record"
cp "$T/events/user-logged-in/10-record" "$T/events2/device-disconnected/10-record"
chmod 755 "$T/events/user-logged-in/10-record" "$T/events2/device-disconnected/10-record"

cp_server_conf "[redis]" "address = unix:$SOCK" "[events]" "module_id = jazz7" \
	"events_dir = $T/events"
redis-cli -s "$SOCK" PSUBSCRIBE '*/event/*' > "$T/rec" 2>&1 &
PIDS+=($!)
cp_start server
check "server starts and listens" wait_for "$T/server.log" "server listening" 5
check "server's event bus subscribed" wait_for "$T/server.log" "subscribed to \*/event/\*" 5

cp_client_conf alice-pc alice kerberos
cp_start alice-pc
check "alice logs in" wait_for "$T/server.log" "login: alice@$KDC_REALM device alice-pc"
check "user-logged-in on module/jazz7/event/user-logged-in" \
	wait_for "$T/rec" '^module/jazz7/event/user-logged-in$' 5
j=$(grep -A1 '^module/jazz7/event/user-logged-in$' "$T/rec" | tail -1)
echo "# user-logged-in $j"
check "user-logged-in payload has user, realm, device" /usr/bin/python3 -c "
import json, sys
e = json.loads(sys.argv[1])
assert e['user'] == 'alice' and e['device'] == 'alice-pc' and e['realm'] == sys.argv[2], e
" "$j" "$KDC_REALM"
check "device-connected published" wait_for "$T/rec" '^module/jazz7/event/device-connected$' 5
j=$(grep -A1 '^module/jazz7/event/device-connected$' "$T/rec" | tail -1)
echo "# device-connected $j"
check "device-connected payload has device and vip4/vip6" /usr/bin/python3 -c "
import json, sys
e = json.loads(sys.argv[1])
assert e['device'] == 'alice-pc' and e['vip4'] == '10.77.0.2' and e['vip6'], e
" "$j"
check "jazzd ran the user-logged-in handler for its own event (source module/jazz7)" \
	wait_for "$T/handled" '^user-logged-in module/jazz7 \{.*"user":"alice"' 5
check "the handler's stdout is in jazzd's log with the step name" \
	wait_for "$T/server.log" 'event user-logged-in step 10-record\[[0-9]+\]: handled' 5

# a second device: peer lists change; a wrong password: login failed
cp_client_conf bob-pc bob password
cp_start bob-pc
check "peer-list-changed published when bob-pc joins" \
	wait_for "$T/rec" '^module/jazz7/event/peer-list-changed$' 10
j=$(grep -A1 '^module/jazz7/event/peer-list-changed$' "$T/rec" | tail -1)
echo "# peer-list-changed $j"
cp_client_conf bob-bad bob password "password = notbobpw"
cp_start bob-bad
check "user-login-failed published for a wrong password" \
	wait_for "$T/rec" '^module/jazz7/event/user-login-failed$' 10
j=$(grep -A1 '^module/jazz7/event/user-login-failed$' "$T/rec" | tail -1)
echo "# user-login-failed $j"
check "user-login-failed payload has user and reason" /usr/bin/python3 -c "
import json, sys
e = json.loads(sys.argv[1])
assert e['user'] == 'bob' and e['reason'], e
" "$j"
cp_stop bob-bad
cp_stop bob-pc

# SIGHUP: a second events dir with a device-disconnected handler
sed -i "s|^events_dir = .*|events_dir = $T/events:$T/events2|" "$T/server.conf"
kill -HUP "$(cp_pid server)"
check "SIGHUP reloads the event bus" wait_for "$T/server.log" "event bus reloaded: 2 events dir" 5
cp_stop alice-pc
check "device-disconnected published after the client left" \
	wait_for "$T/rec" '^module/jazz7/event/device-disconnected$' 10
check "the handler from the reloaded events dir ran" \
	wait_for "$T/handled" '^device-disconnected module/jazz7 \{.*"device":"alice-pc"' 5

# SIGUSR1 while a handler runs: it ends, no new one starts, exit status 0
mkdir -p "$T/events2/slow-event" "$T/events2/too-late"
printf '#!/bin/sh\ntouch %s\nsleep 2\necho done > %s\n' "$T/slow.started" "$T/slow.done" \
	> "$T/events2/slow-event/10-slow"
printf '#!/bin/sh\ntouch %s\n' "$T/too-late.ran" > "$T/events2/too-late/10-mark"
chmod 755 "$T/events2/slow-event/10-slow" "$T/events2/too-late/10-mark"
redis-cli -s "$SOCK" PUBLISH module/ns8/event/slow-event '{}' > /dev/null
check "a slow handler started" bash -c "for i in \$(seq 100); do [ -e '$T/slow.started' ] && exit 0; sleep 0.05; done; exit 1"
spid=$(cp_pid server)
kill -USR1 "$spid"
check "SIGUSR1: jazzd unsubscribes" wait_for "$T/server.log" "graceful stop: unsubscribed" 5
# a reload or a second SIGUSR1 during the stop must not restart or hang it
kill -HUP "$spid"
kill -USR1 "$spid"
check "SIGHUP during the graceful stop is ignored" \
	wait_for "$T/server.log" "SIGHUP ignored: graceful stop in progress" 5
redis-cli -s "$SOCK" PUBLISH module/ns8/event/too-late '{}' > /dev/null
wait "$spid"
rc=$?
check "jazzd exits with status 0 after SIGUSR1 ($rc)" test "$rc" = 0
check "the running handler ended first (NS8's completed line in jazzd's log)" \
	bash -c "test -s '$T/slow.done' && grep -qF 'Handler of module/ns8/event/slow-event exited with status \"completed\" (0) at step 10-slow' '$T/server.log'"
check "no handler started after SIGUSR1" test ! -e "$T/too-late.ran"
cp_done
