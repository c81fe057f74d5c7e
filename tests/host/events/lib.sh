# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests/host/events*.sh: TAP lines, a redis-server on a random
# loopback port and a unix socket in $T, the evbus driver (built by
# build.sh next to this file) in the background. The caller sets T (a temp
# dir) and top (the checkout) before sourcing; cleanup runs at exit.

n=0
fails=0
pids=()
RPID=

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
cleanup() {
	for p in "${pids[@]}" $RPID; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# build_evbus: builds the driver, sets EVBUS; false (and a TAP line) on failure
build_evbus() {
	if ! nice "$top/tests/host/events/build.sh" > "$T/build.log" 2>&1; then
		sed 's/^/# /' "$T/build.log"
		nok "evbus builds"
		return 1
	fi
	ok "evbus test driver builds"
	EVBUS=$top/build/tests/evbus
}

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SOCK=$T/redis.sock

# wait_until SECONDS COMMAND...: polls every 50 ms
wait_until() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

start_redis() {
	cat > "$T/redis.conf" <<EOF
port $PORT
bind 127.0.0.1
unixsocket $SOCK
unixsocketperm 700
save ""
appendonly no
dir $T
user default on nopass ~* &* +@all
user jazz on >s3cret ~* &* +@all
EOF
	redis-server "$T/redis.conf" >> "$T/redis.log" 2>&1 &
	RPID=$!
	wait_until 10 rcli ping
}
rcli() { redis-cli -s "$SOCK" "$@" > /dev/null 2>&1; }
numpat_is() { [ "$(redis-cli -s "$SOCK" pubsub numpat 2>/dev/null)" = "$1" ]; }

# start_evbus NAME ARGS... : background evbus, log in $T/NAME.log, waits for -R
start_evbus() {
	local name=$1; shift
	rm -f "$T/$name.ready"
	"$EVBUS" -R "$T/$name.ready" -S "$T/$name.json" "$@" > "$T/$name.log" 2>&1 &
	EPID=$!
	pids+=($EPID)
	wait_until 10 test -e "$T/$name.ready"
}
stop_evbus() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
stat_of() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$T/$1.json" "$2"; }
# step FILE SHELL-LINES: an executable /bin/sh step
step() { printf '#!/bin/sh\n%s\n' "$2" > "$1"; chmod 755 "$1"; }
# evconf NAME LINE...: $T/NAME.ini, [redis] on $SOCK and the LINEs under [events]
evconf() {
	local f=$T/$1.ini
	shift
	{ printf '[redis]\naddress = unix:%s\n[events]\n' "$SOCK"; printf '%s\n' "$@"; } > "$f"
}
