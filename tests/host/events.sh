#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The jazzd Redis event layer (userspace/jazzd/events/: bus.c, bus_config.c, handlers.c, eventsgw.c)
# against a real redis-server started here on a random loopback port and a
# unix socket in a temp dir. The layer is driven by tests/host/events/evbus.c.
# TAP output; exit status 1 if anything failed. KEEP=1 keeps the temp dir.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/jazz-events.XXXXXX)
. "$top/tests/host/events/lib.sh"
build_evbus || exit 1
# pmessages of a redis-cli (P)SUBSCRIBE transcript as "channel<TAB>payload"
pairs() { awk '$0=="pmessage"{getline; getline c; getline p; print c "\t" p} $0=="message"{getline c; getline p; print c "\t" p}' "$1"; }

check "redis-server starts on 127.0.0.1:$PORT and $SOCK" start_redis

# ---------------------------------------------------------------- publish
cat > "$T/pub.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
module_id = jazz1
handle = no
EOF
redis-cli -s "$SOCK" PSUBSCRIBE '*/event/*' > "$T/rec.psub" 2>&1 &
rp1=$!
redis-cli -s "$SOCK" SUBSCRIBE module/jazz1/event/user-logged-in > "$T/rec.sub" 2>&1 &
rp2=$!
wait_until 5 numpat_is 1
sleep 0.2
P1='{"user":"alice","realm":"EXAMPLE.ORG","device":"laptop","source":"192.0.2.10"}'
P2='{"user":"alice","device":"laptop","vip4":"10.77.0.2","vip6":"fd00:77::2"}'
timeout 20 "$EVBUS" -x 200 -T 15 -S "$T/pub.json" -e "user-logged-in=$P1" \
	-e "device-connected=$P2" -e 'key-rotated={"epoch":7}' "$T/pub.ini" 2> "$T/pub.log"
sleep 0.3
kill $rp1 $rp2 2>/dev/null
wait $rp1 $rp2 2>/dev/null
printf 'module/jazz1/event/user-logged-in\t%s\nmodule/jazz1/event/device-connected\t%s\nmodule/jazz1/event/key-rotated\t{"epoch":7}\n' \
	"$P1" "$P2" > "$T/pub.expect"
check "publish over a unix socket: PSUBSCRIBE sees exact channels and payloads in order" \
	cmp -s <(pairs "$T/rec.psub") "$T/pub.expect"
check "SUBSCRIBE on module/jazz1/event/user-logged-in sees exactly that event" \
	cmp -s <(pairs "$T/rec.sub") <(head -1 "$T/pub.expect")
check "publisher counted 3 published, 0 dropped" \
	test "$(stat_of pub published)/$(stat_of pub publish_dropped)" = "3/0"

# ---------------------------------------------------------------- handlers
EA=$T/events-a
EB=$T/events-b
AD=$T/actions
mkdir -p "$EA/cert-renewed/40-a-dir" "$EB/cert-renewed" "$EA/fail-event" "$EA/raw-payload" \
	"$AD/renew-certificate" "$EA/certificate-renewed"
step "$EA/cert-renewed/10-first" "echo \"10 \$AGENT_EVENT_NAME|\$AGENT_EVENT_SOURCE|\$(cat)\" >> $T/order; echo hello from ten"
step "$EA/cert-renewed/20-second" "echo \"20 \$AGENT_EVENT_NAME|\$AGENT_EVENT_SOURCE|\$(cat)\" >> $T/order; echo to stderr >&2"
step "$EA/cert-renewed/25-noexec" "echo 25 >> $T/order"
chmod 644 "$EA/cert-renewed/25-noexec"
step "$EA/cert-renewed/30-third" "echo '30 A' >> $T/order"
step "$EB/cert-renewed/30-third" "echo '30 B' >> $T/order"
step "$EA/fail-event/10-ok" "echo 10 >> $T/fail"
step "$EA/fail-event/20-fails" "echo 20 >> $T/fail; exit 7"
step "$EA/fail-event/30-after" "echo 30 >> $T/fail"
step "$EA/raw-payload/10-cat" "cat > $T/raw.out"
mkdir -p "$EA/big-payload"
step "$EA/big-payload/10-copy" "cat > $T/big.out"
/usr/bin/python3 -c 'import json; print(json.dumps({"blob": "x" * 300000}), end="")' > "$T/big.json"
step "$AD/renew-certificate/10-renew" "{ cat; echo \" \$AGENT_EVENT_NAME \$AGENT_EVENT_SOURCE\"; } >> $T/action.out"
# an NS8 handler as the NS8 docs write them: JSON on stdin, checks the source
cat > "$EA/certificate-renewed/10-ns8" <<EOF
#!/usr/bin/python3
import json
import os
import sys

event = json.load(sys.stdin)
if os.environ['AGENT_EVENT_SOURCE'] != 'module/traefik1':
    sys.exit(0)
with open('$T/ns8.out', 'a') as f:
    print(event['domain'], os.environ['AGENT_EVENT_NAME'], file=f)
print('renewed', event['domain'])
EOF
chmod 755 "$EA/certificate-renewed/10-ns8"
cat > "$T/eventsgw.conf" <<EOF
# NS8 eventsgw.conf
[actions]
module/traefik*/event/certificate-renew = renew-certificate

[commands]
module/*/event/Device-* = { cat; echo " \$AGENT_EVENT_NAME"; } >> $T/cmd.out
EOF
cat > "$T/h.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $EA
events_dir = $EB
actions_dir = $AD
eventsgw_conf = $T/eventsgw.conf
step_timeout = 10
EOF
start_evbus h "$T/h.ini"
check "evbus subscribed (PSUBSCRIBE */event/*)" grep -q 'subscribed to \*/event/\*' "$T/h.log"
redis-cli -s "$SOCK" PUBLISH module/traefik1/event/cert-renewed '{"domain":"a.example.org"}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/jazz1/event/fail-event '{}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/traefik2/event/certificate-renew '{"domain":"b.example.org"}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/traefik2/event/certificate-renewal '{"domain":"no.example.org"}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/jazz1/event/device-connected '{"device":"lower"}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/jazz1/event/Device-connected '{"device":"upper"}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/x/event/raw-payload 'not json {' > /dev/null
redis-cli -s "$SOCK" -x PUBLISH module/x/event/big-payload < "$T/big.json" > /dev/null
redis-cli -s "$SOCK" PUBLISH 'module/x/event/../cert-renewed' '{}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/traefik2/event/certificate-renewed '{"domain":"other.example.org"}' > /dev/null
redis-cli -s "$SOCK" PUBLISH module/traefik1/event/certificate-renewed '{"domain":"ns8.example.org"}' > /dev/null
wait_until 10 grep -q ns8 "$T/ns8.out" 2>/dev/null
sleep 0.5
stop_evbus $EPID
printf '10 cert-renewed|module/traefik1|{"domain":"a.example.org"}\n20 cert-renewed|module/traefik1|{"domain":"a.example.org"}\n30 B\n' > "$T/order.expect"
check "steps run in sorted order with payload, AGENT_EVENT_NAME, AGENT_EVENT_SOURCE; later events dir wins" \
	cmp -s "$T/order" "$T/order.expect"
check "stdout relayed line by line with the step name" \
	grep -q 'event cert-renewed step 10-first\[[0-9]*\]: hello from ten' "$T/h.log"
check "stderr relayed line by line with the step name" \
	grep -q 'event cert-renewed step 20-second\[[0-9]*\]: to stderr' "$T/h.log"
check "a non-executable step is logged and skipped" \
	grep -q 'event cert-renewed step 25-noexec cannot be executed (Permission denied), skipped' "$T/h.log"
check "a non-zero exit aborts later steps" cmp -s "$T/fail" <(printf '10\n20\n')
check "the log names the failed step and its exit code" \
	grep -q 'event fail-event step 20-fails\[[0-9]*\] failed with exit code 7; later steps aborted' "$T/h.log"
check "[actions] glob runs the action's steps with the event data on stdin" \
	cmp -s "$T/action.out" <(printf '{"domain":"b.example.org"} certificate-renew module/traefik2\n')
check "[commands] keys keep their case: Device-* matched only Device-connected" \
	cmp -s "$T/cmd.out" <(printf '{"device":"upper"} Device-connected\n')
check "a non-JSON payload is handed over raw" cmp -s "$T/raw.out" <(printf 'not json {')
check "a 300 kB payload reaches the step intact (memfd stdin)" cmp -s "$T/big.out" "$T/big.json"
check "a non-JSON payload is logged" \
	grep -q 'module/x/event/raw-payload: payload is not valid JSON' "$T/h.log"
check "an event name with a path is refused, not run" \
	grep -q 'event name not usable as a directory' "$T/h.log"
check "an NS8-style Python handler runs unchanged (and ignores other sources)" \
	cmp -s "$T/ns8.out" <(printf 'ns8.example.org certificate-renewed\n')

# ---------------------------------------------------------------- timeout
mkdir -p "$T/events-t/hang"
step "$T/events-t/hang/10-hang" "sleep 300 & echo \$! > $T/grandchild.pid; sleep 300"
step "$T/events-t/hang/20-after" "echo ran > $T/hang.after"
cat > "$T/t.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $T/events-t
step_timeout = 1
EOF
start_evbus t "$T/t.ini"
t0=$(date +%s.%N)
redis-cli -s "$SOCK" PUBLISH module/jazz1/event/hang '{}' > /dev/null
wait_until 10 grep -q 'timed out' "$T/t.log"
t1=$(date +%s.%N)
sleep 0.2
stop_evbus $EPID
check "a hanging step is killed at the timeout (1 s, took $(printf %.2f "$(echo "$t1 - $t0" | bc)") s)" \
	grep -q 'event hang step 10-hang\[[0-9]*\] timed out after 1000 ms, process group killed' "$T/t.log"
check "its process group went with it (the background sleep is gone)" \
	bash -c "p=\$(cat $T/grandchild.pid); [ ! -e /proc/\$p ] || grep -q '^State:.*Z' /proc/\$p/status"
check "steps after the timed-out one do not run" test ! -e "$T/hang.after"

# ---------------------------------------------------------------- burst
mkdir -p "$T/events-c/burst" "$T/conc"
cp "$top/build/tests/conc" "$T/events-c/burst/10-conc"
cat > "$T/c.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $T/events-c
max_handlers = 8
queue = 20000
buffer = 20000
EOF
ts=$SECONDS
CONC_DIR=$T/conc timeout 300 nice "$EVBUS" -x 500 -T 280 -S "$T/c.json" -N 10000 -E burst "$T/c.ini" 2> "$T/c.log"
echo "# burst of 10000 handled in $((SECONDS - ts)) s"
seen=$(sort -u "$T/conc/seen" | wc -l)
check "burst of 10 000 events: every one handled exactly once ($seen distinct, $(wc -l < "$T/conc/seen") lines)" \
	test "$seen" = 10000 -a "$(wc -l < "$T/conc/seen")" = 10000
mx=$(cat "$T/conc/max")
check "at most max_handlers=8 handlers at once (handlers measured $mx, runner saw $(stat_of c max_running_seen))" \
	test "$mx" -le 8 -a "$mx" -ge 2 -a "$(stat_of c max_running_seen)" -le 8
check "no handler dropped, none failed" \
	test "$(stat_of c handler_dropped)/$(stat_of c handlers_failed)" = "0/0"

# ---------------------------------------------------------------- queue overflow
mkdir -p "$T/events-q/slow"
step "$T/events-q/slow/10-slow" "sleep 0.05"
cat > "$T/q.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $T/events-q
max_handlers = 1
queue = 10
EOF
timeout 60 "$EVBUS" -x 300 -T 50 -S "$T/q.json" -N 200 -E slow "$T/q.ini" 2> "$T/q.log"
check "a full handler queue drops, counts ($(stat_of q handler_dropped)) and logs" \
	bash -c "[ $(stat_of q handler_dropped) -gt 0 ] && [ $(( $(stat_of q handler_dropped) + $(stat_of q handlers_started) )) = 200 ] && grep -q 'handler queue full' $T/q.log"
check "the process count stayed at one handler" test "$(stat_of q max_running_seen)" = 1

# ---------------------------------------------------------------- flood
mkdir -p "$T/events-f/flood"
cp /bin/true "$T/events-f/flood/10-true"
cat > "$T/f.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $T/events-f
max_handlers = 4
queue = 100
EOF
start_evbus f -x 1000 -T 120 "$T/f.ini"
fp=$EPID
redis-benchmark -s "$SOCK" -n 100000 -c 10 -P 50 -q PUBLISH module/flooder/event/flood '{"seq":1}' > /dev/null 2>&1
wait $fp
echo "# flood: received $(stat_of f received), handlers $(stat_of f handlers_started), dropped $(stat_of f handler_dropped), max RSS $(stat_of f maxrss_kb) KiB"
check "a flood of 100 000 events: all received, excess handlers dropped and counted" \
	bash -c "[ $(stat_of f received) = 100000 ] && [ $(( $(stat_of f handlers_started) + $(stat_of f handler_dropped) )) = 100000 ] && [ $(stat_of f handler_dropped) -gt 0 ]"
check "flood: at most 4 handler processes, memory bounded (max RSS $(stat_of f maxrss_kb) KiB < 32 MiB)" \
	bash -c "[ $(stat_of f max_running_seen) -le 4 ] && [ $(stat_of f maxrss_kb) -lt 32768 ]"

# ---------------------------------------------------------------- publish buffer overflow
cat > "$T/o.ini" <<EOF
[redis]
address = unix:$T/nothing-here.sock
[events]
handle = no
buffer = 50
EOF
timeout 20 "$EVBUS" -0 -T 1 -S "$T/o.json" -N 100 -E lost "$T/o.ini" 2> "$T/o.log"
check "Redis down: the bounded buffer keeps 50, counts 50 dropped and logs it" \
	bash -c "[ $(stat_of o buffered) = 50 ] && [ $(stat_of o publish_dropped) = 50 ] && grep -q 'event buffer full' $T/o.log"

# a server that accepts but never answers: connect_timeout gives up and retries
SILENT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(64); time.sleep(30)' "$SILENT" &
sp=$!
pids+=($sp)
sleep 0.3
cat > "$T/st.ini" <<EOF
[redis]
address = 127.0.0.1:$SILENT
connect_timeout = 300
reconnect_min = 100
[events]
handle = no
EOF
timeout 20 "$EVBUS" -0 -T 2 -S "$T/st.json" -e 'held={"k":1}' "$T/st.ini" 2> "$T/st.log"
kill $sp 2>/dev/null
check "a Redis that never answers: connect_timeout gives up, retries, keeps the event buffered" \
	bash -c "[ \$(grep -c 'no answer within connect_timeout' $T/st.log) -ge 2 ] && [ $(stat_of st buffered) = 1 ] && [ $(stat_of st published) = 0 ]"

# ---------------------------------------------------------------- reload
mkdir -p "$T/events-r1/tick" "$T/events-r2/tick" "$T/events-r2/reloaded"
step "$T/events-r1/tick/10-log" "printf '%s\\n' \"\$(cat)\" >> $T/ticks"
step "$T/events-r2/tick/10-log" "printf '%s\\n' \"\$(cat)\" >> $T/ticks"
step "$T/events-r2/reloaded/10-mark" "echo yes > $T/reloaded.out"
write_r() {
	cat > "$T/r.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $1
EOF
}
write_r "$T/events-r1"
start_evbus r -N 400 -E tick -i 5 -x 500 -T 60 "$T/r.ini"
rp=$EPID
sleep 0.7
write_r "$T/events-r2"
kill -HUP $rp
sleep 0.3
kill -HUP $rp
wait $rp
check "SIGHUP reload mid-stream: all 400 events handled exactly once" \
	bash -c "[ \$(grep -c seq $T/ticks) = 400 ] && [ \$(sort -u $T/ticks | grep -c seq) = 400 ]"
check "the reload took effect (log)" grep -q 'event bus reloaded' "$T/r.log"

# a bad eventsgw.conf on reload keeps the running tables
printf '[actions]\nmodule/*/event/gw-test = ../escape\n' > "$T/bad.conf"
cat > "$T/b.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
eventsgw_conf = $T/eventsgw.conf
actions_dir = $AD
EOF
start_evbus b "$T/b.ini"
sed -i "s|^eventsgw_conf = .*|eventsgw_conf = $T/bad.conf|" "$T/b.ini"
kill -HUP $EPID
sleep 0.3
: > "$T/action.out"
redis-cli -s "$SOCK" PUBLISH module/traefik9/event/certificate-renew '{"k":1}' > /dev/null
wait_until 5 test -s "$T/action.out"
stop_evbus $EPID
check "a bad eventsgw.conf on SIGHUP is refused and the old one keeps working" \
	bash -c "grep -q 'bad action name' $T/b.log && grep -q traefik9 $T/action.out"

# ---------------------------------------------------------------- redis restart
cat > "$T/k.ini" <<EOF
[redis]
address = 127.0.0.1:$PORT
reconnect_min = 1000
reconnect_max = 2000
[events]
handle = no
buffer = 1000
EOF
redis-cli -s "$SOCK" PSUBSCRIBE '*/event/*' > "$T/rec.k1" 2>&1 &
wait_until 5 numpat_is 1
start_evbus k -N 300 -E seq -i 10 -x 300 -T 60 "$T/k.ini"
kp=$EPID
sleep 1
kill -9 $RPID 2>/dev/null
{ wait $RPID; } 2>/dev/null
sleep 1.3
start_redis
redis-cli -s "$SOCK" PSUBSCRIBE '*/event/*' > "$T/rec.k2" 2>&1 &
rk2=$!
wait_until 5 numpat_is 1
wait $kp
sleep 0.3
kill $rk2 2>/dev/null
seqs() { pairs "$1" | grep -o '"seq":[0-9]*' | cut -d: -f2; }
s1=$(seqs "$T/rec.k1" | tr '\n' ' ')
s2=$(seqs "$T/rec.k2" | tr '\n' ' ')
echo "# before the kill: $(echo $s1 | wc -w) events (last $(echo $s1 | awk '{print $NF}')), after the restart: $(echo $s2 | wc -w) (first $(echo $s2 | awk '{print $1}'))"
check "Redis killed and restarted mid-stream: reconnected and flushed in order, no event lost" \
	/usr/bin/python3 -c "
import sys
a=[int(x) for x in sys.argv[1].split()]; b=[int(x) for x in sys.argv[2].split()]
assert a == list(range(1, len(a)+1)), 'first part not contiguous'
assert b and b == list(range(b[0], 301)), 'second part not contiguous to 300'
assert b[0] <= len(a) + 1, 'gap between the parts'
assert len(a) > 10 and b[0] > 10, 'the kill was not mid-stream'
" "$s1" "$s2"
check "the outage was seen and reconnected ($(stat_of k reconnects) reconnect attempts)" \
	bash -c "[ $(stat_of k reconnects) -ge 1 ] && [ $(stat_of k publish_dropped) = 0 ] && [ $(stat_of k published) -ge 300 ]"

# the subscriber comes back too
mkdir -p "$T/events-s/after-restart"
step "$T/events-s/after-restart/10-mark" "cat > $T/after.out"
cat > "$T/s.ini" <<EOF
[redis]
address = 127.0.0.1:$PORT
reconnect_min = 100
reconnect_max = 200
[events]
events_dir = $T/events-s
EOF
start_evbus s "$T/s.ini"
kill -9 $RPID 2>/dev/null
{ wait $RPID; } 2>/dev/null
start_redis
wait_until 10 numpat_is 1
redis-cli -s "$SOCK" PUBLISH module/jazz1/event/after-restart '{"again":true}' > /dev/null
wait_until 5 test -s "$T/after.out"
stop_evbus $EPID
check "the subscriber re-subscribes after a Redis restart (TCP)" \
	cmp -s "$T/after.out" <(printf '{"again":true}')

# ---------------------------------------------------------------- ACL
mkdir -p "$T/events-acl/acl-test"
step "$T/events-acl/acl-test/10-mark" "cat > $T/acl.out"
cat > "$T/acl.ini" <<EOF
[redis]
address = 127.0.0.1:$PORT
username = jazz
password = s3cret
[events]
events_dir = $T/events-acl
EOF
start_evbus acl -e 'acl-test={"user":"bob"}' "$T/acl.ini"
wait_until 5 test -s "$T/acl.out"
users=$(redis-cli -s "$SOCK" CLIENT LIST | grep -o 'user=[a-z]*' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
stop_evbus $EPID
check "ACL user+password over TCP: published and handled" \
	bash -c "[ $(stat_of acl published) = 1 ] && cmp -s $T/acl.out <(printf '{\"user\":\"bob\"}')"
check "ACL: both connections authenticated as user jazz (CLIENT LIST: $users)" \
	bash -c "echo '$users' | grep -q '2 user=jazz'"
sed -i 's/^password = .*/password = wrong/' "$T/acl.ini"
timeout 20 "$EVBUS" -0 -T 1 -S "$T/acl2.json" -e 'acl-test={"user":"eve"}' "$T/acl.ini" 2> "$T/acl2.log"
check "ACL: a wrong password is refused, logged, and nothing is published" \
	bash -c "grep -q 'authentication failed' $T/acl2.log && [ $(stat_of acl2 published) = 0 ] && [ $(stat_of acl2 buffered) = 1 ]"

echo "# events tests: $((n - fails)) passed, $fails failed"
[ $fails = 0 ]
