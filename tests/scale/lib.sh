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
		"$TOP/tests/scale/jzsim.c" "$TOP"/userspace/jazzd/auth/*.c
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
# Room for thousands of connections in this shell's children.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
