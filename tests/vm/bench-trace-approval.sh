#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Where an approval's time goes, traced in the guest (ftrace: sched_switch,
# sched_wakeup and a few jazz/netlink functions, vCPU 0 only). Everything
# is pinned to vCPU 0: n1's `jazzctl answer` (approve-all), a UDP client
# opening FLOWS new flows to an echo server on n2 (checks off there), then
# `jazzctl probe --count 5` against the same listener. Prints per approval:
# request sent -> listener switched in -> verdict handler -> release, and
# per probe: probe sent -> listener switched in -> reply handler (µs).
# A diagnostic, not a test (scripts/test.sh skips bench-*):
#   scripts/vm.sh --kernel 6.12 --out out/trace -- bash tests/vm/bench-trace-approval.sh
. "$(dirname "$0")/lib-conncheck.sh"
FLOWS=${FLOWS:-8}
OUT=${JAZZ_OUT:-$T}
TR=/sys/kernel/tracing
mountpoint -q $TR || mount -t tracefs nodev $TR || skip_all "no tracefs"
ip netns exec "$(ns_name n2)" "$JZ" set jazz0 conncheck off
cat >"$T/echo.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.202.0.2", 7000))
while True:
    d, a = s.recvfrom(100)
    s.sendto(d, a)
PY
cat >"$T/flows.py" <<'PY'
import socket, sys, time
for i in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.202.0.1", 30000 + i))
    s.settimeout(2)
    s.sendto(b"a", ("10.202.0.2", 7000))
    s.recv(100)
    s.close()
    time.sleep(0.1)
PY
ip netns exec "$(ns_name n2)" taskset -c 0 $PY "$T/echo.py" &
EP=$!
ip netns exec "$(ns_name n1)" taskset -c 0 "$JZ" answer jazz0 approve-all --quiet &
AP=$!
on_exit kill $EP $AP
sleep 1
echo 0 >$TR/tracing_on
echo 1 >$TR/tracing_cpumask
echo 'jazz_conn_notify jazz_nl_conn_doit jazz_conn_release' >$TR/set_ftrace_filter
echo function >$TR/current_tracer
echo 1 >$TR/events/sched/sched_switch/enable
echo 1 >$TR/events/sched/sched_wakeup/enable
echo >$TR/trace
echo 1 >$TR/tracing_on
check "$FLOWS new flows echoed" ip netns exec "$(ns_name n1)" taskset -c 0 $PY "$T/flows.py" "$FLOWS"
check "5 probes answered" ip netns exec "$(ns_name n1)" taskset -c 0 "$JZ" probe jazz0 --count 5
echo 0 >$TR/tracing_on
cp $TR/trace "$OUT/trace.txt"
echo nop >$TR/current_tracer
echo 0 >$TR/events/sched/enable
$PY - "$OUT/trace.txt" "$AP" <<'PY'
import re, sys
ev = []
for l in open(sys.argv[1]):
    m = re.match(r'\s*(\S+)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(.*)', l)
    if m:
        ev.append((m.group(1), int(m.group(2)), float(m.group(3)) * 1e6, m.group(4)))
ans = int(sys.argv[2])  # answer's pid (ip netns exec execs it)
sw_in = 'next_pid=%d ' % ans
print("# approval: request -> listener in, listener in -> verdict, verdict -> released (us)")
for i, (c, p, t, w) in enumerate(ev):
    if not w.startswith('jazz_conn_notify'):
        continue
    sw = doit = None
    for c2, p2, t2, w2 in ev[i + 1:]:
        if sw is None and sw_in in w2 + ' ':
            sw = t2
        if w2.startswith('jazz_nl_conn_doit') and p2 == ans:
            doit = t2
        if doit and w2.startswith('jazz_conn_release'):
            print("#   %6.0f %6.0f %6.0f" % (sw - t, doit - sw, t2 - doit))
            break
print("# probe: sent -> listener in, listener in -> reply (us)")
for i, (c, p, t, w) in enumerate(ev):
    if not (w.startswith('jazz_nl_conn_doit') and p != ans):
        continue
    sw = None
    for c2, p2, t2, w2 in ev[i + 1:]:
        if sw is None and sw_in in w2 + ' ':
            sw = t2
        if w2.startswith('jazz_nl_conn_doit') and p2 == ans and sw:
            print("#   %6.0f %6.0f" % (sw - t, t2 - sw))
            break
PY
