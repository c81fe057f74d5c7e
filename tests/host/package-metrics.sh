#!/usr/bin/env bash
# jazzd's Prometheus metrics (issue 17, docs/METRICS.md): scraped with curl
# from the opt-in [metrics] listener of a real server (the tests' MIT KDC,
# real TLS, jazzd clients with the fake kernel backend) while devices log in,
# fail to log in and leave; the values move as they should. Then the
# listener's edges: off by default, bound only where configured, and
# hostile requests (oversized headers, garbage, wrong methods and paths,
# a flood of idle connections) get HTTP errors or nothing, while jazzd goes
# on serving logins and scrapes work again afterwards.
set -uo pipefail

. "$(dirname "$0")/controlplane/lib.sh"
cp_setup || { nok "setup (KDC, certificate, build)"; exit 1; }
MPORT=$(free_port)
URL=http://127.0.0.1:$MPORT/metrics

scrape() { curl -sS --max-time 5 "$URL"; }
metric() { # NAME{LABELS}: its value in a fresh scrape ("" if absent)
	scrape | awk -v k="$1" '$1 == k { print $2 }'
}
is() { # DESC WANT NAME
	local got
	got=$(metric "$3")
	if [ "$got" = "$2" ]; then ok "$1"; else nok "$1 (got '$got')"; fi
}

# Off by default: a server without [metrics] opens only its TLS port.
cp_server_conf
cp_start server
wait_for "$T/server.log" "server listening" 10 || nok "server (no metrics) starts"
check "off by default: the server has one listening socket (its TLS port)" \
	test "$(ss -Hltnp | grep -c "pid=$(cp_pid server),")" = 1
cp_stop server

SOCK=$T/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($REDIS_PID)
check "redis-server on a unix socket" bash -c "for i in \$(seq 100); do redis-cli -s '$SOCK' ping >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1"
cp_server_conf "[metrics]" "listen = 127.0.0.1:$MPORT" "[redis]" "address = unix:$SOCK" \
	"[events]" "module_id = jazzm" "handle = no"
cp_start server
check "server with [metrics] starts" wait_for "$T/server.log" "server listening" 10
listeners=$(ss -Hltnp | grep "pid=$(cp_pid server)," | awk '{ print $4 }' | sort | tr '\n' ' ')
check "listens on the TLS port and 127.0.0.1:$MPORT only (got: $listeners)" \
	test "$listeners" = "$(printf '127.0.0.1:%s\n' "$MPORT" "$PORT" | sort | tr '\n' ' ')"
curl -sS -o /dev/null -D "$T/hdr" "$URL"
check "GET /metrics: 200, Prometheus text format 0.0.4" \
	sh -c "grep -q '^HTTP/1.1 200' '$T/hdr' && grep -qi '^content-type: text/plain; version=0.0.4' '$T/hdr'"
is "before any login: jazz_logins_total 0" 0 jazz_logins_total
is "before any login: jazz_devices_online 0" 0 jazz_devices_online
check "every sample has HELP and TYPE, names follow the conventions" sh -c "
	scrape() { curl -sS --max-time 5 '$URL'; }
	scrape | /usr/bin/python3 -c '
import re, sys
help, typ, bad = set(), {}, []
for l in sys.stdin:
    l = l.rstrip(\"\\n\")
    if l.startswith(\"# HELP \"): help.add(l.split()[2]); continue
    if l.startswith(\"# TYPE \"): typ[l.split()[2]] = l.split()[3]; continue
    name = re.match(r\"[a-zA-Z_:][a-zA-Z0-9_:]*\", l).group(0)
    base = re.sub(r\"_(bucket|sum|count)$\", \"\", name) if name not in typ else name
    if base not in help or base not in typ: bad.append(\"no HELP/TYPE: \" + name)
    if not base.startswith(\"jazz_\"): bad.append(\"not jazz_: \" + name)
    if typ.get(base) == \"counter\" and not base.endswith(\"_total\"): bad.append(\"counter without _total: \" + base)
    if typ.get(base) == \"histogram\" and not base.endswith(\"_seconds\"): bad.append(\"histogram not in seconds: \" + base)
print(\"\\n\".join(bad)); sys.exit(1 if bad else 0)'"

# A real Kerberos login.
cp_client_conf alice-pc alice kerberos
cp_start alice-pc
check "alice logs in" wait_for "$T/server.log" "login: alice@$KDC_REALM device alice-pc" 20
is "after alice's login: jazz_logins_total 1" 1 jazz_logins_total
is "after alice's login: jazz_devices_online 1" 1 jazz_devices_online
is "after alice's login: jazz_sessions 1" 1 jazz_sessions
is "login histogram counted it: jazz_login_duration_seconds_count 1" 1 jazz_login_duration_seconds_count
sum=$(metric jazz_login_duration_seconds_sum)
check "login duration sum is positive and under 60 s ($sum)" \
	/usr/bin/python3 -c "import sys; s = float('$sum'); sys.exit(0 if 0 < s < 60 else 1)"
is "+Inf bucket equals the count" 1 'jazz_login_duration_seconds_bucket{le="+Inf"}'

v=$(metric 'jazz_callback_duration_seconds_count{callback="validate_user"}')
check "the sample plugin's validate_user ran and was timed (count $v)" test "${v:-0}" -ge 1
v=$(metric jazz_callback_calls_total)
check "jazz_callback_calls_total counts the calls ($v)" test "${v:-0}" -ge 1
is "no callback timed out" 0 jazz_callback_timeouts_total
for _ in $(seq 30); do [ "$(metric jazz_events_published_total)" -ge 2 ] 2>/dev/null && break; sleep 0.2; done
v=$(metric jazz_events_published_total)
check "Redis acknowledged the login's events: jazz_events_published_total $v >= 2 (user-logged-in, device-connected)" test "${v:-0}" -ge 2
is "jazz_redis_connected{connection=\"publish\"} 1" 1 'jazz_redis_connected{connection="publish"}'
is "nothing buffered while Redis is up" 0 jazz_events_buffered

# Failed logins, by reason.
cp_client_conf bob-bad bob password "password = notbobpw"
cp_start bob-bad
wait_for "$T/bob-bad.log" "login rejected" 20 || nok "bob's wrong password is rejected"
cp_stop bob-bad
reason=$(sed -n 's/.*login rejected: \([a-z0-9-]*\).*/\1/p' "$T/bob-bad.log" | head -n 1)
tries=$(grep -c "login rejected: $reason" "$T/bob-bad.log")
is "wrong password: jazz_login_failures_total{reason=\"$reason\"} = the client's $tries rejects" \
	"$tries" "jazz_login_failures_total{reason=\"$reason\"}"
cp_client_conf nobody-pc nobody password
cp_start nobody-pc
wait_for "$T/nobody-pc.log" "login rejected: unknown-user" 20 || nok "unknown user rejected"
cp_stop nobody-pc
is "unknown user: jazz_login_failures_total{reason=\"unknown-user\"} = the client's rejects" \
	"$(grep -c 'login rejected: unknown-user' "$T/nobody-pc.log")" 'jazz_login_failures_total{reason="unknown-user"}'
is "failures do not count as logins: jazz_logins_total still 1" 1 jazz_logins_total

# alice leaves.
cp_stop alice-pc
for _ in $(seq 50); do [ "$(metric jazz_devices_online)" = 0 ] && break; sleep 0.2; done
is "alice gone: jazz_devices_online 0" 0 jazz_devices_online
is "alice gone: jazz_sessions 0" 0 jazz_sessions

# Redis goes away: the state says so, and the events of a new login wait.
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
for _ in $(seq 30); do [ "$(metric 'jazz_redis_connected{connection="publish"}')" = 0 ] && break; sleep 0.2; done
is "Redis killed: jazz_redis_connected{connection=\"publish\"} 0" 0 'jazz_redis_connected{connection="publish"}'
cp_client_conf erin-pc erin kerberos
cp_start erin-pc
wait_for "$T/server.log" "login: erin@$KDC_REALM device erin-pc" 20 || nok "erin logs in"
for _ in $(seq 30); do [ "$(metric jazz_events_buffered)" -ge 1 ] 2>/dev/null && break; sleep 0.2; done
v=$(metric jazz_events_buffered)
check "erin's login events wait for Redis: jazz_events_buffered $v >= 2" test "${v:-0}" -ge 2
cp_stop erin-pc

# Hostile scrapers.
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "POST /metrics: 405" test "$(code -X POST -d x "$URL")" = 405
check "GET /other: 404" test "$(code "http://127.0.0.1:$MPORT/other")" = 404
check "GET /metrics with a body: 400" test "$(code -X GET -H 'Content-Type: text/plain' --data-binary 0123456789 "$URL")" = 400
big=$(head -c 100000 /dev/zero | tr '\0' a)
c=$(code -H "X-Big: $big" "$URL")
check "100 kB header: refused (HTTP $c), not served" sh -c "[ '$c' = 431 ] || [ '$c' = 413 ] || [ '$c' = 000 ]"
/usr/bin/python3 - "$MPORT" <<'PY' >"$T/garbage.out" 2>&1
import socket, sys, os
port = int(sys.argv[1])
out = []
for payload in (os.urandom(4096), b"GET /metrics HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00" + os.urandom(512), b"GET " + b"/" * 70000 + b" HTTP/1.1\r\n\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(payload)
        r = s.recv(64)
    except OSError as e:
        r = ("error " + type(e).__name__).encode()
    s.close()
    out.append(r.split(b"\r\n")[0].decode(errors="replace") or "closed")
print("\n".join(out))
PY
sed 's/^/# garbage -> /' "$T/garbage.out"
check "garbage requests: none gets a 200" sh -c "! grep -q ' 200' '$T/garbage.out'"
# 300 idle connections at once (more than the listener's limits).
/usr/bin/python3 - "$MPORT" <<'PY' >"$T/flood.out" 2>&1 &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(300):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
        socks.append(s)
    except OSError:
        pass
print("opened", len(socks))
sys.stdout.flush()
time.sleep(8)
PY
fl=$!
sleep 2
cp_client_conf carol-pc carol password
cp_start carol-pc
check "during the flood: jazzd still logs devices in" wait_for "$T/server.log" "login: carol@$KDC_REALM device carol-pc" 20
wait "$fl"
echo "# flood: $(cat "$T/flood.out")"
ok_after=0
for _ in $(seq 30); do
	[ "$(metric jazz_devices_online)" = 1 ] && { ok_after=1; break; }
	sleep 0.5
done
check "after the flood: scrapes work and show carol online" test "$ok_after" = 1
fds=$(ls "/proc/$(cp_pid server)/fd" | wc -l)
check "after the flood: jazzd's descriptors back to a few dozen ($fds)" test "$fds" -lt 64

# A connection approval between two online devices (alice back, carol).
cp_start alice-pc
wait_for "$T/server.log" "login: alice@$KDC_REALM device alice-pc.*" 20 || nok "alice logs in again"
A=$(sed -n 's|^addr \(10\.77\.[0-9.]*\)/.*|\1|p' "$T/alice-pc.kernel" | tail -n 1)
C=$(sed -n 's|^addr \(10\.77\.[0-9.]*\)/.*|\1|p' "$T/carol-pc.kernel" | tail -n 1)
sleep 1
inject alice-pc "request proto=tcp src=$A:40000 dst=$C:80 cookie=7"
check "alice -> carol approval decided" wait_for "$T/server.log" "approval: alice-pc -> carol-pc tcp: approved" 10
is "jazz_approval_duration_seconds_count{verdict=\"approve\"} 1" 1 'jazz_approval_duration_seconds_count{verdict="approve"}'
is "jazz_approval_duration_seconds_count{verdict=\"deny\"} 0" 0 'jazz_approval_duration_seconds_count{verdict="deny"}'
cp_stop alice-pc
cp_stop carol-pc

# A bad listen address is refused at start, saying why.
cp_stop server
cp_server_conf "[metrics]" "listen = nonsense"
if "$JAZZD" -f -c "$T/server.conf" >"$T/bad.log" 2>&1; then
	nok "[metrics] listen = nonsense: refused"
else
	check "[metrics] listen = nonsense: refused, saying why" grep -q "cannot parse 'nonsense'" "$T/bad.log"
fi
cp_done
