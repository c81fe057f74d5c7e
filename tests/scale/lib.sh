# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests/host/scale-*.sh and scripts/bench-scale.sh, on top of
# tests/host/controlplane/lib.sh (KDC, certificates, server and client
# configurations, fake kernel backend): the many-device simulator jzsim and
# the slow peer_filter plugin.

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../host/controlplane/lib.sh"

# build/tests/jzsim: thousands of devices in one process (jzsim.c + auth/)
JZSIM=$TOP/build/tests/jzsim
build_jzsim() {
	build_test_tool "$JZSIM" "krb5 jansson openssl libevent libevent_openssl" \
		"$TOP/tests/scale/jzsim.c" "$TOP/tests/scale/simlist.c" \
		"$TOP/userspace/jazzd/core/listdigest.c" "$TOP"/userspace/jazzd/auth/*.c
}
# build/tests/slowfilter.so: peer_filter that takes $JZT_FILTER_MS per call
SLOWFILTER=$TOP/build/tests/slowfilter.so
build_slowfilter() {
	mkdir -p "$TOP/build/tests"
	cc -O2 -g -Wall -fPIC -shared -I"$TOP/userspace/include" -o "$SLOWFILTER" \
		"$TOP/tests/scale/slowfilter.c"
}
jzsim() { # jzsim [opts] N : devices of alice (Kerberos) against this test's server
	"$JZSIM" -s "127.0.0.1:$PORT" -C "$T/server.crt" -r "$KDC_REALM" \
		-S "jazz/server.jazz.test@$KDC_REALM" -c "FILE:$T/alice.cc" "$@"
}
# the same in place of the calling (sub)shell: `jzsim_exec ... &` gives $!
# the simulator's own pid (to signal it)
jzsim_exec() {
	exec "$JZSIM" -s "127.0.0.1:$PORT" -C "$T/server.crt" -r "$KDC_REALM" \
		-S "jazz/server.jazz.test@$KDC_REALM" -c "FILE:$T/alice.cc" "$@"
}
# [server] lines for thousands of devices of one user from one address:
# the pre-login limits (issue 15) and max_devices would refuse the
# simulator, which is one source and one user name.
SCALE_LIMITS=("max_per_source = 1000000" "max_halfopen = 1000000"
	"login_rate = 1000000" "login_burst = 1000000"
	"user_login_rate = 1000000" "user_login_burst = 1000000" "max_devices = 0")
# scale_redis EVENT: redis-server on a unix socket ($SOCK, a check) and a
# subscriber writing every */event/EVENT to $T/rec
scale_redis() {
	SOCK=$T/redis.sock
	redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$T" \
		> "$T/redis.log" 2>&1 &
	PIDS+=($!)
	check "redis-server on a unix socket" bash -c "for i in \$(seq 100); do redis-cli -s '$SOCK' ping >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1"
	redis-cli -s "$SOCK" PSUBSCRIBE "*/event/$1" > "$T/rec" 2>&1 &
	PIDS+=($!)
}
# scale_slowfilter_conf TIMEOUT_MS [callbacks lines...]: $T/server.conf with
# the slow peer_filter plugin, callback timeout_ms TIMEOUT_MS, events on
# scale_redis's Redis (module_id scale) and long login timeouts
scale_slowfilter_conf() {
	local ms=$1

	shift
	cp_server_conf "[server]" "max_sessions = 4000" "${SCALE_LIMITS[@]}" \
		"[redis]" "address = unix:$SOCK" "[events]" "module_id = scale"
	sed -i -e "s|^plugin = .*|plugin = $SLOWFILTER|" -e "s/^timeout_ms = .*/timeout_ms = $ms/" \
		-e 's/^handshake_timeout = .*/handshake_timeout = 60/' \
		-e 's/^login_timeout = .*/login_timeout = 120/' "$T/server.conf"
	for l in "$@"; do
		sed -i "/^timeout_ms = /a $l" "$T/server.conf"
	done
}
# Room for thousands of connections in this shell's children.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# scale_serve NAME: the server of $T/server.conf (copied to $T/NAME.conf;
# the same leases file each time), log $T/NAME.log, until it listens
scale_serve() {
	cp "$T/server.conf" "$T/$1.conf"
	cp_start "$1"
	wait_for "$T/$1.log" "server listening" 10
}
# scale_restart_under OUT OLD NEW: once jzsim's OUT says every list is
# complete, server OLD stopped and NEW started in its place
scale_restart_under() {
	wait_for "$T/$1" "^complete " 180 || return 1
	cp_stop "$2"
	scale_serve "$3"
}
