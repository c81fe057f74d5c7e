#!/bin/sh
# Builds build/tests/evbus from the jazzd event layer plus the driver.
set -e
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=$top/build/tests
mkdir -p "$out"
u=$top/userspace
e=$u/jazzd/events
src="$e/bus.c $e/bus_config.c $e/handlers.c $e/relay.c $e/steps.c $e/eventsgw.c $e/envfile.c $e/ns8task.c $u/common/log.c $top/tests/host/events/evbus.c"
cc -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-I"$u/jazzd" -I"$u/common" -I"$u/include" \
	$(pkg-config --cflags hiredis jansson libevent inih uuid) \
	-o "$out/evbus.tmp.$$" $src \
	$(pkg-config --libs hiredis jansson libevent inih uuid) -lpthread
mv "$out/evbus.tmp.$$" "$out/evbus"
# the fork+exec baseline of the benchmark
cc -O2 -std=gnu11 -Wall -D_GNU_SOURCE -o "$out/forkexec" "$top/tests/host/events/forkexec.c"
cc -O2 -std=gnu11 -Wall -D_GNU_SOURCE -o "$out/conc" "$top/tests/host/events/conc.c"
