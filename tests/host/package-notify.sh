#!/usr/bin/env bash
# jazzd's systemd readiness protocol (the Type=notify units of issue 17),
# without systemd as PID 1: jazzd runs with NOTIFY_SOCKET pointing at a
# datagram socket this test reads (tests/host/package/notify_listen.py),
# against the tests' real KDC and TLS certificate. Checks: READY=1 only once
# the server really accepts TLS connections (the listener connects the
# moment READY=1 arrives), RELOADING=1 then READY=1 around SIGHUP (also
# when the reload fails), STOPPING=1 on SIGTERM, the client's READY=1, the
# -m role check the units use, and the descriptor limit that max_sessions
# needs (raised to fit, or a refusal naming LimitNOFILE=), and a server run
# as nobody with no capability at all serving a login (the server unit).
set -uo pipefail

. "$(dirname "$0")/controlplane/lib.sh"
cp_setup || { nok "setup (KDC, certificate, build)"; exit 1; }
LISTEN=$TOP/tests/host/package/notify_listen.py

# notify_start NAME: a listener on $T/NAME.sock logging to $T/NAME.msgs
notify_start() {
	/usr/bin/python3 "$LISTEN" "$T/$1.sock" "$T/$1.msgs" "127.0.0.1:$PORT" &
	PIDS+=($!)
	for _ in $(seq 50); do [ -S "$T/$1.sock" ] && return 0; sleep 0.1; done
	return 1
}
msgs() { cat "$T/$1.msgs" 2>/dev/null; }

cp_server_conf
notify_start srv || nok "notify listener started"
NOTIFY_SOCKET=$T/srv.sock cp_start server -m server
check "server: READY=1 sent" wait_for "$T/srv.msgs" '^READY=1' 20
check "server: when READY=1 arrived, the TLS port already accepted a connection" \
	wait_for "$T/srv.msgs" '^# port accepting at READY' 2
check "server: READY=1 comes with MAINPID and STATUS=serving" \
	sh -c "grep -q '^MAINPID=$(cp_pid server)\$' '$T/srv.msgs' && grep -q '^STATUS=serving' '$T/srv.msgs'"
check "server: a TLS 1.3 handshake works after READY=1" \
	sh -c "openssl s_client -connect 127.0.0.1:$PORT -tls1_3 -servername server.jazz.test </dev/null 2>/dev/null | grep -q 'TLSv1.3'"

# Only this reload's messages (the start's READY=1 must not answer for it).
: >"$T/srv.msgs"
kill -HUP "$(cp_pid server)"
check "SIGHUP: RELOADING=1" wait_for "$T/srv.msgs" '^RELOADING=1' 10
check "SIGHUP: READY=1 again after RELOADING=1" \
	wait_for "$T/srv.msgs" '^READY=1(.|$)' 10
check "SIGHUP: READY=1 again after RELOADING=1 (order)" \
	sh -c "awk '/^RELOADING=1/ { r = NR } /^READY=1/ && r && NR > r { ok = 1 } END { exit !ok }' '$T/srv.msgs'"
# A broken configuration: the reload fails, jazzd keeps serving and says so.
cp "$T/server.conf" "$T/server.conf.good"
echo 'no_such_key = 1' >>"$T/server.conf"
: >"$T/srv.msgs"
kill -HUP "$(cp_pid server)"
check "failed reload: RELOADING=1 then READY=1 with STATUS saying it failed" \
	wait_for "$T/srv.msgs" '^STATUS=reload failed' 10
check "failed reload: READY=1 sent (still serving the old configuration)" grep -q '^READY=1' "$T/srv.msgs"
check "failed reload: the server still serves TLS" \
	sh -c "openssl s_client -connect 127.0.0.1:$PORT -tls1_3 -servername server.jazz.test </dev/null 2>/dev/null | grep -q 'TLSv1.3'"
cp "$T/server.conf.good" "$T/server.conf"

pid=$(cp_pid server)
kill -TERM "$pid"
check "SIGTERM: STOPPING=1" wait_for "$T/srv.msgs" '^STOPPING=1' 10
wait "$pid" 2>/dev/null
echo "# server messages:"; sed 's/^/#   /' "$T/srv.msgs"

# A NOTIFY_SOCKET that nobody reads must not hurt: the server starts anyway.
NOTIFY_SOCKET=$T/nobody.sock cp_start server2 -c "$T/server.conf"
check "NOTIFY_SOCKET without a listener: the server still starts" \
	wait_for "$T/server2.log" 'server listening on' 10
cp_stop server2

# The client (fake kernel backend): READY=1 once running.
PORT2=$(free_port)
cp_client_conf laptop alice kerberos
mkfifo "$T/laptop.fifo"
notify_start cli || nok "notify listener (client) started"
NOTIFY_SOCKET=$T/cli.sock cp_start laptop -m client
check "client: READY=1 sent" wait_for "$T/cli.msgs" '^READY=1' 20
cp_stop laptop

# -m: the units start a configuration only in its own role.
check "-m server on a server configuration: accepted" "$JAZZD" -t -m server -c "$T/server.conf"
if "$JAZZD" -f -t -m client -c "$T/server.conf" >"$T/m.out" 2>&1; then
	nok "-m client on a server configuration: refused"
else
	check "-m client on a server configuration: refused, saying why" grep -q 'configures a server, not a client' "$T/m.out"
fi
if "$JAZZD" -f -t -m router -c "$T/server.conf" >"$T/m.out" 2>&1; then nok "-m router: refused"; else ok "-m router: refused"; fi

# Descriptors for max_sessions.
cp_server_conf "[server]" "max_sessions = 1000"
prlimit --nofile=256:256 "$JAZZD" -f -c "$T/server.conf" >"$T/lim.out" 2>&1 &
lp=$!
PIDS+=($lp)
if wait_for "$T/lim.out" 'server listening on' 10; then
	check "max_sessions 1000 with a hard limit of 256 descriptors: warns naming LimitNOFILE= and takes 192 sessions" \
		grep -q 'descriptor limit 256 is lower (LimitNOFILE=); taking at most 192 sessions' "$T/lim.out"
else
	nok "max_sessions 1000 with a hard limit of 256 descriptors: the server starts (fewer sessions)"
fi
kill "$lp" 2>/dev/null
prlimit --nofile=256:4096 "$JAZZD" -f -c "$T/server.conf" >"$T/lim.log" 2>&1 &
lp=$!
PIDS+=($lp)
if wait_for "$T/lim.log" 'server listening on' 10; then
	soft=$(awk '/Max open files/ { print $4 }' "/proc/$lp/limits")
	check "max_sessions 1000, limit 256:4096: soft limit raised to 1064 (got $soft)" test "$soft" = 1064
else
	nok "max_sessions 1000, limit 256:4096: the server starts"
fi
kill "$lp" 2>/dev/null

# The server unit gives jazzd no capability and a user of its own: a server
# run as nobody with every capability dropped (empty bounding set,
# no_new_privs, as CapabilityBoundingSet=CAP_NET_BIND_SERVICE minus that one
# for a port above 1024) serves logins.
if command -v setpriv >/dev/null; then
	mkdir -p "$T/nobody"
	chown 65534:65534 "$T/nobody"
	chmod 0755 "$T"
	chmod 0644 "$T/server.keytab" "$T/server.key" "$T/server.crt" "$KRB5_CONFIG"
	cp_server_conf "[server]" "rcache = file2:$T/nobody/rcache2" "leases = $T/nobody/leases.json"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		--no-new-privs env NOTIFY_SOCKET= "$JAZZD" -f -m server -c "$T/server.conf" >"$T/nobody.log" 2>&1 &
	np=$!
	PIDS+=($np)
	check "unprivileged server (nobody, no capabilities) listens" wait_for "$T/nobody.log" "server listening" 10
	check "its capability sets are empty" sh -c "grep -Eq '^CapEff:\s+0+$' /proc/$np/status && grep -Eq '^CapBnd:\s+0+$' /proc/$np/status"
	cp_client_conf alice-np alice kerberos
	cp_start alice-np
	check "unprivileged server: a Kerberos login works (replay cache and leases in its state dir)" \
		wait_for "$T/nobody.log" "login: alice@$KDC_REALM device alice-np" 20
	for _ in $(seq 50); do [ -s "$T/nobody/leases.json" ] && break; sleep 0.1; done
	cp_stop alice-np
	check "unprivileged server: leases written to its state dir" test -s "$T/nobody/leases.json"
	kill "$np" 2>/dev/null
fi

cp_done
