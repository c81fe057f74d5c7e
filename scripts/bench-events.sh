#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of the jazzd Redis event layer against baselines measured in the
# same run on the same redis-server (unix socket, started here):
#   published/s  evbus publishing N events ({"seq":i}, one connection,
#                pipelined, until Redis acknowledged the last)
#                vs redis-benchmark PUBLISH (-c 50, the tool's default), and
#                for information redis-benchmark -c 1 -P 1024 (our pipelining)
#   handled/s    N events published and handled by a trivial handler
#                (/bin/true as the only step, max_handlers parallel)
#                vs a bare fork+exec+wait loop of /bin/true, same parallelism
# Each figure is the best of R runs. Prints a Markdown table.
#   scripts/bench-events.sh [-n PUBLISH_N] [-h HANDLE_N] [-p PARALLEL] [-r RUNS]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
PN=200000
HN=5000
PAR=32
RUNS=3
while getopts "n:h:p:r:" o; do
	case $o in
	n) PN=$OPTARG ;; h) HN=$OPTARG ;; p) PAR=$OPTARG ;; r) RUNS=$OPTARG ;;
	*) exit 64 ;;
	esac
done
T=$(mktemp -d /tmp/jazz-bench-events.XXXXXX)
RPID=
cleanup() { [ -n "$RPID" ] && kill $RPID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

"$top/tests/host/events/build.sh" || exit 1
EVBUS=$top/build/tests/evbus
SOCK=$T/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" \
	> "$T/redis.log" 2>&1 &
RPID=$!
for _ in $(seq 100); do redis-cli -s "$SOCK" ping > /dev/null 2>&1 && break; sleep 0.05; done

stat_of() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
best() { sort -g | tail -1; }
ratio() { /usr/bin/python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }

# a subscriber keeps PUBLISH honest (it has someone to deliver to)
redis-cli -s "$SOCK" PSUBSCRIBE '*/event/*' > /dev/null 2>&1 &

cat > "$T/pub.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
handle = no
buffer = $((PN + 1))
buffer_bytes = 1073741824
EOF
mkdir -p "$T/events/bench-handled"
cp /bin/true "$T/events/bench-handled/10-true"
cat > "$T/h.ini" <<EOF
[redis]
address = unix:$SOCK
[events]
events_dir = $T/events
max_handlers = $PAR
queue = $((HN + 1))
buffer = $((HN + 1))
EOF

pub_ours=() pub_base=() pub_pipe=() h_ours=() h_base=()
for r in $(seq "$RUNS"); do
	"$EVBUS" -x 100 -T 120 -S "$T/p.json" -N "$PN" -E bench-published "$T/pub.ini" 2> "$T/p.log"
	pub_ours+=("$(/usr/bin/python3 -c "import sys; print('%.0f' % ($PN / float(sys.argv[1])))" "$(stat_of "$T/p.json" publish_seconds)")")
	pub_base+=("$(redis-benchmark -s "$SOCK" -n "$PN" -q PUBLISH module/bench/event/x '{"seq":1}' 2>/dev/null |
		tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d. -f1)")
	pub_pipe+=("$(redis-benchmark -s "$SOCK" -n "$PN" -c 1 -P 1024 -q PUBLISH module/bench/event/x '{"seq":1}' 2>/dev/null |
		tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d. -f1)")
	"$EVBUS" -x 100 -T 300 -S "$T/h.json" -N "$HN" -E bench-handled "$T/h.ini" 2> "$T/h.log"
	if [ "$(stat_of "$T/h.json" handlers_done)" != "$HN" ]; then
		echo "handled only $(stat_of "$T/h.json" handlers_done) of $HN" >&2
		exit 1
	fi
	h_ours+=("$(/usr/bin/python3 -c "import sys; print('%.0f' % ($HN / float(sys.argv[1])))" "$(stat_of "$T/h.json" handle_seconds)")")
	h_base+=("$("$top/build/tests/forkexec" /bin/true "$HN" "$PAR" | cut -d. -f1)")
	echo "# run $r: published/s ${pub_ours[-1]} vs redis-benchmark ${pub_base[-1]} (-c 1 -P 1024: ${pub_pipe[-1]}); handled/s ${h_ours[-1]} vs fork+exec ${h_base[-1]}" >&2
done
po=$(printf '%s\n' "${pub_ours[@]}" | best)
pb=$(printf '%s\n' "${pub_base[@]}" | best)
ho=$(printf '%s\n' "${h_ours[@]}" | best)
hb=$(printf '%s\n' "${h_base[@]}" | best)
pp=$(printf '%s\n' "${pub_pipe[@]}" | best)
echo "| measure | jazzd event bus | baseline (same run) | ratio | target |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| events published/s ($PN events) | $po | $pb (redis-benchmark PUBLISH, 50 clients) | $(ratio "$po" "$pb") | ≥ 0.5 |"
echo "| events published/s, same pipelining ($PN events) | $po | $pp (redis-benchmark PUBLISH, 1 client, -P 1024) | $(ratio "$po" "$pp") | (info) |"
echo "| events handled/s, /bin/true handler ($HN events, $PAR at once) | $ho | $hb (fork+exec+wait /bin/true, $PAR at once) | $(ratio "$ho" "$hb") | ≥ 0.5 |"
