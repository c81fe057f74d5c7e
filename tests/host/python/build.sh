#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Builds B/tests/pydrive (tests/host/python/pydrive.c + the Python and
# plugin backends + common/log.c) and the benchmark's sample plugin
# B/tests/bench_plugin.so. Usage: build.sh [B]
set -e
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
B=${1:-$ROOT/build}
PYCONFIG=${PYTHON_CONFIG:-/usr/bin/python3-config}
U=$ROOT/userspace
mkdir -p "$B/tests"
CFLAGS="-O2 -g -std=gnu11 -Wall -Wno-unused-parameter -D_GNU_SOURCE -I$ROOT/netlink -I$U/include -I$U/common -I$U/jazzd"
P=$U/jazzd/policy
SRC="$ROOT/tests/host/python/pydrive.c $(echo $P/python*.c) $P/plugin.c $U/common/log.c"
# rebuild only when a source is newer than the program
if [ ! -x "$B/tests/pydrive" ] || [ -n "$(find $SRC $P/python*.h $P/backend.h -newer "$B/tests/pydrive" 2>/dev/null)" ]; then
	# shellcheck disable=SC2046,SC2086
	nice cc $CFLAGS $($PYCONFIG --includes) -o "$B/tests/pydrive" $SRC \
		$($PYCONFIG --ldflags --embed) -lpthread -ldl
fi
nice cc $CFLAGS -O2 -fPIC -shared -o "$B/tests/bench_plugin.so" "$ROOT/tests/host/python/bench_plugin.c"
# cbbench: the same calls through jazzd's dispatcher (callbacks.c, libevent)
CB_SRC="$ROOT/tests/host/python/cbbench.c $P/callbacks.c $(echo $P/python*.c) $P/plugin.c $U/common/log.c $U/jazzd/metrics/metrics.c"
if [ ! -x "$B/tests/cbbench" ] || [ -n "$(find $CB_SRC $P/callbacks.h -newer "$B/tests/cbbench" 2>/dev/null)" ]; then
	# shellcheck disable=SC2046,SC2086
	nice cc $CFLAGS $($PYCONFIG --includes) $(pkg-config --cflags libevent jansson) \
		-o "$B/tests/cbbench" $CB_SRC \
		$(pkg-config --libs libevent jansson) $($PYCONFIG --ldflags --embed) -lpthread -ldl
fi
