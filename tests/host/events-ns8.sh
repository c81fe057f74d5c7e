#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# jazzd's handler runner against NethServer 8's agent behaviour (issue 16):
# handler steps written the way NS8's are (core/agent/test/events of
# ns8-core: AGENT_COMFD, payload on stdin, ./environment), NS8's log lines,
# the environment file rules, step discovery, the channel split, hostile
# steps and environment files, SIGUSR1/SIGTERM, and [actions] handed to an
# NS8 agent as tasks on a real redis-server (read back like the agent does,
# BRPOP <agent_id>/tasks). Driven by tests/host/events/evbus.c. TAP output.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/jazz-events-ns8.XXXXXX)
. "$top/tests/host/events/lib.sh"
build_evbus || exit 1
check "redis-server starts on $SOCK" start_redis

pub() { redis-cli -s "$SOCK" PUBLISH "$1" "$2" > /dev/null; }
pubfile() { redis-cli -s "$SOCK" -x PUBLISH "$1" < "$2" > /dev/null; }
# done_line LOG CHANNEL STATUS CODE STEP: NS8's last line of a handler
done_line() {
	grep -qF "Handler of $2 exited with status \"$3\" ($4) at step $5" "$T/$1.log"
}
wait_done() { wait_until "${6:-20}" done_line "$@"; }
has() { grep -qF -- "$2" "$T/$1.log"; }

E1=$T/ev-packaged
E2=$T/ev-local
ST=$T/state
mkdir -p "$E1" "$E2" "$ST" "$T/elsewhere"

# ------------------------------------------------------------ NS8 handlers
# as NS8's fixtures: output, stderr and a command on AGENT_COMFD
mkdir -p "$E1/echo-received"
cat > "$E1/echo-received/10handler" <<'EOF'
#!/bin/bash
echo "Event Payload"
cat -
echo ""
echo "Environment variables:"
env | grep -E '^(AGENT_|MYVARIABLE)' | sort
echo "Message sent to stderr" >&2
echo "set-progress IGNORED DURING_EVENTS" >&${AGENT_COMFD}
echo "set-progress 10" >&${AGENT_COMFD}
EOF
# NS8's Python helpers write commands with csv (CRLF) on the fd they find
cat > "$E1/echo-received/20record" <<EOF
#!/usr/bin/python3
import csv, json, os, sys
payload = sys.stdin.read()
w = csv.writer(os.fdopen(int(os.environ['AGENT_COMFD']), 'w', closefd=False), delimiter=' ')
w.writerow(['set-progress', 50])
raw = open('/proc/self/environ', 'rb').read().split(b'\0')
with open('$T/rec-' + os.environ['AGENT_EVENT_NAME'] + '.json', 'w') as f:
    json.dump({'payload': payload, 'cwd': os.getcwd(),
               'env': [e.decode() for e in raw if e],
               'envfile': open('./environment').read()}, f)
EOF
chmod 755 "$E1/echo-received/"*
# the environment file, with every kind of line NS8's parser meets
printf '%s\n' 'MYVARIABLE=MYVAL' '# a comment=counts in NS8' '' 'no equals sign here' \
	'ENV_EQ=a=b=c' 'ENV_DUP=1' 'ENV_DUP=2' 'JAZZ_T_OVR=fromfile' \
	'AGENT_EVENT_NAME=bogus' 'AGENT_COMFD=99' ' ENV_SPACE=lead' 'ENV_EMPTY=' > "$ST/environment"
printf 'ENV_CR=x\r\nENV_LAST=no newline' >> "$ST/environment"

mkdir -p "$E1/handler-errored"
step "$E1/handler-errored/10failing" 'echo "[ERROR] event handler error in $AGENT_EVENT_NAME/$(basename $0)" >&2; exit 2'
step "$E1/handler-errored/20never_run" 'echo "NEVER REACH THIS POINT"'

# a step removes and un-executes later ones: they are skipped, the event goes on
mkdir -p "$E1/update-received"
step "$E1/update-received/10controller" "rm -f $E1/update-received/20skipped_step; chmod -x $E1/update-received/30skipped_step"
step "$E1/update-received/20skipped_step" 'echo "NEVER REACH THIS POINT1"'
step "$E1/update-received/30skipped_step" 'echo "NEVER REACH THIS POINT2"'
step "$E1/update-received/40after" "echo ran > $T/update.after"
mkdir -p "$E1/last-skipped"
step "$E1/last-skipped/10ok" "echo ran > $T/last.ok"
step "$E1/last-skipped/20noexec" 'echo "NEVER REACH THIS POINT3"'
chmod 644 "$E1/last-skipped/20noexec"

# discovery: byte-wise order, later dir wins, dirs ignored, links are steps
mkdir -p "$E1/order-check/30-subdir" "$E2/order-check" "$T/somedir"
for s in 10a 9b A1 _x a1; do step "$E1/order-check/$s" "echo $s >> $T/order.out"; done
step "$E1/order-check/30-subdir/10-inside" "echo inside >> $T/order.out"
step "$E1/order-check/50-dup" "echo 50-dup packaged >> $T/order.out"
step "$E2/order-check/50-dup" "echo 50-dup local >> $T/order.out"
ln -s "$T/somedir" "$E1/order-check/40-link-to-dir"
ln -s "$T/nowhere" "$E2/order-check/45-dangling"

mkdir -p "$E1/raw-payload"
step "$E1/raw-payload/10cat" "cat > $T/raw.out"
printf 'not json {\0\001\377 tail' > "$T/raw.in"

cat > "$T/eventsgw.conf" <<EOF
[commands]
split* = printf '%s|%s\n' "\$AGENT_EVENT_SOURCE" "\$AGENT_EVENT_NAME" >> $T/split.out
EOF

evconf n "events_dir = $E1:$E2" "eventsgw_conf = $T/eventsgw.conf" "state_dir = $ST" \
	"step_timeout = 120" "max_handlers = 4"
# jazzd runs elsewhere: the steps run in state_dir
cd "$T/elsewhere" || exit 1
export JAZZ_T_OVR=fromjazzd
start_evbus n "$T/n.ini"
unset JAZZ_T_OVR
cd "$top" || exit 1
check "evbus subscribed (state_dir $ST)" grep -q 'subscribed to' "$T/n.log"

pub module/m1/event/echo-received payload0005
wait_done n module/m1/event/echo-received completed 0 20record
check "NS8 fixture: completed, NS8's line 'Handler of module/m1/event/echo-received exited with status \"completed\" (0) at step 20record'" \
	done_line n module/m1/event/echo-received completed 0 20record
check "stdout of the step is in the log (payload echoed)" \
	grep -q 'event echo-received step 10handler\[[0-9]*\]: payload0005' "$T/n.log"
check "stderr of the step is in the log" \
	grep -q 'event echo-received step 10handler\[[0-9]*\]: Message sent to stderr' "$T/n.log"
check "a command on \$AGENT_COMFD is logged, ignored: 'set-progress IGNORED DURING_EVENTS'" \
	grep -q 'event echo-received step 10handler\[[0-9]*\]: ignored during events: set-progress IGNORED DURING_EVENTS$' "$T/n.log"
check "a Python csv command (CRLF) on AGENT_COMFD is logged without the CR" \
	grep -q 'event echo-received step 20record\[[0-9]*\]: ignored during events: set-progress 50$' "$T/n.log"
check "no 'ambiguous redirect' and no step failed" \
	bash -c "! grep -qE 'ambiguous redirect|failed with exit code' '$T/n.log'"
check "the step's environment: ./environment by NS8's rules, AGENT_* last, one entry per name" \
	/usr/bin/python3 - "$T/rec-echo-received.json" "$ST" <<'EOF'
import collections, json, sys
r = json.load(open(sys.argv[1]))
env = r['env']
names = collections.Counter(e.split('=', 1)[0] if not e.startswith('=') else e for e in env)
dups = [k for k, c in names.items() if c > 1]
assert not dups, dups
d = dict(e.split('=', 1) for e in env)
want = {'MYVARIABLE': 'MYVAL', '# a comment': 'counts in NS8', 'ENV_EQ': 'a=b=c',
        'ENV_DUP': '2', 'JAZZ_T_OVR': 'fromfile', 'AGENT_EVENT_NAME': 'echo-received',
        'AGENT_EVENT_SOURCE': 'module/m1', 'AGENT_COMFD': '3', ' ENV_SPACE': 'lead',
        'ENV_EMPTY': '', 'ENV_CR': 'x\r', 'ENV_LAST': 'no newline',
        'AGENT_STATE_DIR': sys.argv[2]}
for k, v in want.items():
    assert d.get(k) == v, (k, d.get(k), v)
assert not any(e.startswith('no equals') for e in env), 'a line without = counted'
assert r['cwd'] == sys.argv[2], r['cwd']
assert r['payload'] == 'payload0005', r['payload']
assert r['envfile'].startswith('MYVARIABLE=MYVAL\n'), 'cannot read ./environment'
EOF

pub module/m1/event/handler-errored payload0006
wait_done n module/m1/event/handler-errored aborted 2 10failing
check "a failing step: 'exited with status \"aborted\" (2) at step 10failing'" \
	done_line n module/m1/event/handler-errored aborted 2 10failing
check "... and the later steps do not run" \
	bash -c "! grep -q 'NEVER REACH THIS POINT\$' '$T/n.log'"
check "jazz's own detail beside it" \
	grep -q 'event handler-errored step 10failing\[[0-9]*\] failed with exit code 2; later steps aborted' "$T/n.log"

pub module/m1/event/update-received somepayload
wait_done n module/m1/event/update-received completed 0 40after
check "a vanished and a non-executable step are skipped, the event completes (0) at its last step" \
	bash -c "test -s '$T/update.after' && ! grep -q 'NEVER REACH THIS POINT[12]' '$T/n.log'"
check "NS8's warnings: 'skipped step 20skipped_step: No such file', '30skipped_step: Permission denied'" \
	bash -c "grep -q 'Handler of module/m1/event/update-received skipped step 20skipped_step: No such file or directory' '$T/n.log' && grep -q 'Handler of module/m1/event/update-received skipped step 30skipped_step: Permission denied' '$T/n.log'"
pub module/m1/event/last-skipped '{}'
wait_done n module/m1/event/last-skipped completed 0 20noexec
check "the last step skipped: completed (0) at step 20noexec, as NS8 names it" \
	bash -c "test -s '$T/last.ok' && ! grep -q 'NEVER REACH THIS POINT3' '$T/n.log'"

pub module/m1/event/order-check '{}'
wait_done n module/m1/event/order-check completed 0 a1
printf '%s\n' 10a '50-dup local' 9b A1 _x a1 > "$T/order.expect"
check "steps in byte order over both dirs, the later dir wins, a subdirectory is not a step" \
	cmp -s "$T/order.out" "$T/order.expect"
check "a link to a directory and a dangling link are steps, skipped with a warning" \
	bash -c "grep -q 'skipped step 40-link-to-dir: Permission denied' '$T/n.log' && grep -q 'skipped step 45-dangling: No such file' '$T/n.log'"

pubfile module/m1/event/raw-payload "$T/raw.in"
wait_done n module/m1/event/raw-payload completed 0 10cat
check "a payload that is not JSON (NUL, invalid UTF-8) is handed over byte for byte" \
	cmp -s "$T/raw.out" "$T/raw.in"

for c in split/a/event/b/event/c split/event/event/x splitx/event/; do pub "$c" '{}'; done
wait_until 10 test "$(wc -l < "$T/split.out" 2>/dev/null)" = 3
printf '%s\n' 'split/a|b/event/c' 'split|event/x' 'splitx|' > "$T/split.expect"
check "AGENT_EVENT_SOURCE/NAME split at the first /event/ (NS8's strings.Cut)" \
	cmp -s <(sort "$T/split.out") <(sort "$T/split.expect")

# ------------------------------------------------------------ hostile steps
# a step floods AGENT_COMFD (1000 lines a write, faster than any log) until
# another event was handled: the runner must go on serving events
mkdir -p "$E1/flood" "$E1/other"
cat > "$E1/flood/10flood" <<EOF
#!/usr/bin/python3
import os, time
fd = int(os.environ['AGENT_COMFD'])
n, end = 0, time.time() + 90
while not os.path.exists('$T/other.done') and time.time() < end:
    os.write(fd, ''.join('set-progress %d\\n' % i for i in range(n, n + 1000)).encode())
    n += 1000
for j in range(1000):
    os.write(fd, b'set-progress tail%d\\n' % j)
why = 'other event handled' if os.path.exists('$T/other.done') else 'gave up after 90 s'
open('$T/flood.count', 'w').write('%d %s\\n' % (n, why))
EOF
chmod 755 "$E1/flood/10flood"
step "$E1/other/10mark" "touch $T/other.done"
pub module/m1/event/flood '{}'
wait_until 20 grep -q 'step 10flood\[[0-9]*\]: ignored during events: set-progress 100$' "$T/n.log"
pub module/m1/event/other '{}'
wait_done n module/m1/event/flood completed 0 10flood 240
fc=0 why=none
[ -e "$T/flood.count" ] && read -r fc why < "$T/flood.count"
logged=$(grep -c 'step 10flood\[[0-9]*\]: ignored during events: set-progress [0-9]*$' "$T/n.log")
tails=$(grep -c 'step 10flood\[[0-9]*\]: ignored during events: set-progress tail[0-9]*$' "$T/n.log")
echo "# flood: $fc lines until: $why; $logged logged"
check "while a step floods AGENT_COMFD another event is handled (flood stopped: $why)" \
	test "$why" = "other event handled"
check "every flooded line is logged, none lost ($logged of $fc, $tails of 1000 after)" \
	test "$logged" = "$fc" -a "$tails" = 1000

# binary and overlong lines on AGENT_COMFD
mkdir -p "$E1/binary"
cat > "$E1/binary/10bin" <<'EOF'
#!/usr/bin/python3
import os
fd = int(os.environ['AGENT_COMFD'])
os.write(fd, b'x' * 100000 + b'\x00\x01\x1b[2J\xff\r\nend\r\n')
EOF
chmod 755 "$E1/binary/10bin"
pub module/m1/event/binary '{}'
wait_done n module/m1/event/binary completed 0 10bin
xs=$(grep -a 'event binary step 10bin\[[0-9]*\]: ignored during events: ' "$T/n.log" |
	sed 's/.*ignored during events: //; s/\\x[0-9a-f][0-9a-f]//g' | tr -cd x | wc -c)
check "an overlong binary line on AGENT_COMFD: split, all 100000 bytes logged ($xs)" test "$xs" = 100000
check "control bytes and NUL are escaped in the log (\\x00\\x01\\x1b), the next line is whole" \
	bash -c "grep -aqF 'x\\x00\\x01\\x1b[2J' '$T/n.log' && grep -q 'event binary step 10bin\[[0-9]*\]: ignored during events: end\$' '$T/n.log'"

# stdin: closed at once, never read, read one byte; small and 300 kB payloads
mkdir -p "$E1/stdin-games"
step "$E1/stdin-games/10close" 'exec 0<&-; echo closed'
step "$E1/stdin-games/20ignore" 'sleep 0.2; echo ignored'
step "$E1/stdin-games/30onebyte" 'head -c1 > /dev/null; echo one'
/usr/bin/python3 -c 'import json; print(json.dumps({"blob": "y" * 300000}), end="")' > "$T/big.json"
pub module/m1/event/stdin-games '{"small":1}'
pubfile module/m1/event/stdin-games "$T/big.json"
wait_until 20 test "$(grep -c 'Handler of module/m1/event/stdin-games exited with status "completed" (0) at step 30onebyte' "$T/n.log")" = 2
check "steps that close or never read stdin: both events complete (small and 300 kB payload)" \
	test "$(grep -c 'Handler of module/m1/event/stdin-games exited with status "completed" (0) at step 30onebyte' "$T/n.log")" = 2

# a step forks a child that keeps stdout, stderr and AGENT_COMFD open
mkdir -p "$E1/forker" "$E1/after-fork"
step "$E1/forker/10fork" "sleep 60 & echo \$! > $T/child.pid; echo parent done"
step "$E1/after-fork/10mark" "touch $T/after-fork.done"
pub module/m1/event/forker '{}'
wait_done n module/m1/event/forker completed 0 10fork
pub module/m1/event/after-fork '{}'
wait_done n module/m1/event/after-fork completed 0 10mark
cpid=$(cat "$T/child.pid" 2>/dev/null)
check "a child holding the pipes does not hold the handler: done, next event handled, child still alive" \
	bash -c "[ -n '$cpid' ] && kill -0 '$cpid' && test -e '$T/after-fork.done'"
[ -n "$cpid" ] && kill "$cpid" 2>/dev/null

# ------------------------------------------------------------ environment file
mkdir -p "$E1/envcheck"
cat > "$E1/envcheck/10dump" <<EOF
#!/usr/bin/python3
import json, os, sys
n = int(sys.stdin.read())
env = {k: v for k, v in os.environ.items() if k.startswith(('GOOD', 'MYVARIABLE', 'HUGE'))}
json.dump(env, open('$T/envcheck.%d.json' % n, 'w'))
EOF
chmod 755 "$E1/envcheck/10dump"
envcheck() { # envcheck N: publish, wait for the dump
	pub module/m1/event/envcheck "$1"
	wait_until 20 test -s "$T/envcheck.$1.json"
}
env_is() { /usr/bin/python3 -c "import json,sys; assert json.load(open(sys.argv[1])) == json.loads(sys.argv[2]), open(sys.argv[1]).read()" "$T/envcheck.$1.json" "$2"; }
# huge lines, NUL bytes, no '=' at all
/usr/bin/python3 - "$ST/environment" <<'EOF'
import sys
with open(sys.argv[1], 'wb') as f:
    f.write(b'GOOD1=one\n')
    f.write(b'HUGE=' + b'h' * 200000 + b'\n')
    f.write(b'GOOD2=tw\x00o\n')
    f.write(b'z' * 300000 + b'\n')
    f.write(b'\x00\x00\x00\n')
    f.write(b'GOOD3=three\n')
EOF
envcheck 1
check "a malformed environment file: huge and NUL lines dropped, the good ones kept, the step ran" \
	env_is 1 '{"GOOD1":"one","GOOD3":"three"}'
check "... and it is logged once: '2 line(s) dropped (1 with a NUL byte, 1 over 131071 bytes)'" \
	grep -q "environment: 2 line(s) dropped (1 with a NUL byte, 1 over 131071 bytes), the first at line 2" "$T/n.log"
head -c 2000000 /dev/zero | tr '\0' 'a' > "$ST/environment"
envcheck 2
check "an environment file over 1 MiB is ignored with a warning, the step still runs" \
	bash -c "grep -q 'environment is 2000000 bytes, over the 1048576 bytes limit' '$T/n.log' && [ \"\$(cat '$T/envcheck.2.json')\" = '{}' ]"
rm -f "$ST/environment"
mkfifo "$ST/environment"
envcheck 3
check "a FIFO as environment does not hang the runner: warned, the step ran" \
	bash -c "grep -q 'environment is not a regular file' '$T/n.log' && [ \"\$(cat '$T/envcheck.3.json')\" = '{}' ]"
rm -f "$ST/environment"
before=$(grep -c environment "$T/n.log")
envcheck 4
check "no environment file: no error, no warning, the step ran" \
	bash -c "[ \"\$(cat '$T/envcheck.4.json')\" = '{}' ] && [ \$(grep -c environment '$T/n.log') = $before ]"
printf 'MYVARIABLE=back\n' > "$ST/environment"
envcheck 5
check "the file is read per event: a new value reaches the next handler" env_is 5 '{"MYVARIABLE":"back"}'
check "the runner served every event: nothing dropped, nothing failed but the failing fixture" \
	bash -c "! grep -q 'handler queue full' '$T/n.log' && [ \$(grep -c 'exited with status \"aborted\"' '$T/n.log') = 1 ]"
stop_evbus "$EPID"

# ------------------------------------------------------------ NS8 agent tasks
AD=$T/actions
mkdir -p "$AD/renew-certificate"
step "$AD/renew-certificate/10local" "touch $T/local-action.ran"
cat > "$T/gw-agent.conf" <<EOF
[actions]
module/traefik*/event/certificate-renewed = renew-certificate
EOF
evconf a "publish = no" "actions_dir = $AD" "eventsgw_conf = $T/gw-agent.conf" \
	"agent_id = module/jazz1"
start_evbus a "$T/a.ini"
pub module/traefik1/event/certificate-renewed '{"domain":"a.example.org","names":["a","b"]}'
pub module/traefik2/event/certificate-renewed 'plain text'
printf 'bad \377 utf8' > "$T/bad.in"
pubfile module/traefik3/event/certificate-renewed "$T/bad.in"
pub module/other/event/certificate-renewed '{"domain":"x"}'
wait_until 10 grep -q 'not handed to agent' "$T/a.log"
sleep 0.3
redis-cli -s "$SOCK" --no-raw LLEN module/jazz1/tasks > "$T/llen"
# the NS8 agent's side: BRPOP <agent_id>/tasks, one task at a time
for i in 1 2; do redis-cli -s "$SOCK" --raw BRPOP module/jazz1/tasks 5 | sed -n 2p > "$T/task$i.json"; done
stop_evbus "$EPID"
check "two tasks on module/jazz1/tasks ($(tr -d '\n' < "$T/llen")), the non-UTF-8 payload refused and logged" \
	bash -c "grep -q '(integer) 2' '$T/llen' && grep -q 'module/traefik3/event/certificate-renewed: action renew-certificate not handed to agent module/jazz1: payload is neither JSON nor UTF-8 text' '$T/a.log'"
check "the tasks have the NS8 agent's format (id uuid4, action, data decoded, extra, queue, timestamp), FIFO order" \
	/usr/bin/python3 - "$T/task1.json" "$T/task2.json" <<'EOF'
import datetime, json, sys, uuid
t = [json.load(open(p)) for p in sys.argv[1:]]
for x in t:
    assert set(x) == {'id', 'action', 'data', 'extra', 'parent', 'queue', 'timestamp'}, x
    assert uuid.UUID(x['id']).version == 4 and str(uuid.UUID(x['id'])) == x['id'], x['id']
    assert x['action'] == 'renew-certificate' and x['queue'] == 'module/jazz1/tasks'
    assert x['parent'] == '' and x['extra']['title'] == 'module/jazz1/renew-certificate'
    assert x['extra']['isNotificationHidden'] is True
    ts = datetime.datetime.fromisoformat(x['timestamp'].replace('Z', '+00:00'))
    assert ts.tzinfo and abs((datetime.datetime.now(datetime.timezone.utc) - ts).total_seconds()) < 600
assert t[0]['data'] == {'domain': 'a.example.org', 'names': ['a', 'b']}, t[0]
assert t[0]['extra']['description'] == 'module/traefik1/event/certificate-renewed'
assert t[1]['data'] == 'plain text', t[1]
assert t[0]['id'] != t[1]['id']
EOF
check "in agent mode no action step runs locally; the counters say 2 tasks" \
	bash -c "[ ! -e '$T/local-action.ran' ] && [ $(stat_of a tasks_pushed) = 2 ]"

# ------------------------------------------------------------ SIGUSR1, SIGTERM
mkdir -p "$T/ev-g/long-run" "$T/ev-g/after-usr1"
step "$T/ev-g/long-run/10handler" "echo x >> $T/long.started; sleep 2; echo done >> $T/long.done"
step "$T/ev-g/after-usr1/10mark" "touch $T/after-usr1.ran"
evconf g "events_dir = $T/ev-g" "max_handlers = 1"
start_evbus g "$T/g.ini"
gp=$EPID
pub module/m1/event/long-run payloadoflongrun
wait_until 10 test -s "$T/long.started"
pub module/m1/event/long-run queued
sleep 1		# the second one waits in the queue (max_handlers = 1)
kill -USR1 "$gp"
wait_until 5 numpat_is 0
pub module/m1/event/after-usr1 '{}'
wait "$gp"
grc=$?
check "SIGUSR1: graceful stop, exit status 0 ($grc)" test "$grc" = 0
check "the running handler finished: completed (0), its step ran to the end" \
	bash -c "$(declare -f done_line); T='$T'; done_line g module/m1/event/long-run completed 0 10handler && [ \$(wc -l < '$T/long.done') = 1 ]"
check "no new handler started: the queued one is logged as not started, the later event not handled" \
	bash -c "grep -q 'graceful stop: event long-run for module/m1/event/long-run not started' '$T/g.log' && [ \$(wc -l < '$T/long.started') = 1 ] && [ ! -e '$T/after-usr1.ran' ]"
check "NS8's line: Signal \"user defined signal 1\" caught: shutdown started." \
	grep -q 'Signal "user defined signal 1" caught: shutdown started.' "$T/g.log"

rm -f "$T/long.started" "$T/long.done"
step "$T/ev-g/long-run/10handler" "echo x >> $T/long.started; sleep 30; echo done >> $T/long.done"
start_evbus h "$T/g.ini"
hp=$EPID
pub module/m1/event/long-run payloadoflongrun
wait_until 10 test -s "$T/long.started"
t0=$SECONDS
kill -TERM "$hp"
wait "$hp"
took=$((SECONDS - t0))
check "SIGTERM: the running 30 s handler is aborted and the runner quits at once (${took} s)" \
	bash -c "[ $took -le 3 ] && grep -q 'step 10handler\[[0-9]*\] killed at shutdown' '$T/h.log' && [ ! -e '$T/long.done' ]"
check "... without an 'exited with status' line (as NS8)" \
	bash -c "! grep -q 'exited with status' '$T/h.log'"

echo "# events-ns8 tests: $((n - fails)) passed, $fails failed"
[ $fails = 0 ]
