# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests/host/controlplane*.sh: a KDC (lib/kdc.sh), TLS
# certificates made with openssl, jazzd server/client configurations with
# the fake kernel backend, process start/stop, waiting for log lines, TAP.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
JAZZD=${JAZZD:-$TOP/build/jazzd}
PLUGIN=$TOP/build/plugins/sample.so
. "$TOP/tests/host/lib/kdc.sh"

N=0
FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
nok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check() { # check "desc" cmd...
	local d=$1; shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}
cp_done() {
	echo "# $N tests, $FAILED failed"
	[ "$FAILED" = 0 ]
}

PIDS=()
cp_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	kdc_stop 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# cp_setup: temp dir, KDC with alice (kerberos), bob/carol/dave (password,
# via the plugin's user_key), the service key, and a server certificate.
cp_setup() {
	T=$(mktemp -d /tmp/jazz-cp.XXXXXX)
	trap cp_cleanup EXIT
	[ -x "$JAZZD" ] || make -C "$TOP" userspace >/dev/null || return 1
	kdc_start "$T/kdc" >/dev/null || return 1
	kdc_add_user alice alicepw >/dev/null || return 1
	kdc_add_user erin erinpw >/dev/null || return 1
	kdc_add_service jazz/server.jazz.test "$T/server.keytab" >/dev/null || return 1
	kdc_kinit alice alicepw "FILE:$T/alice.cc" >/dev/null || return 1
	kdc_kinit erin erinpw "FILE:$T/erin.cc" >/dev/null || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/server.key" -out "$T/server.crt" -days 2 \
		-subj /CN=server.jazz.test -addext subjectAltName=DNS:server.jazz.test \
		2>/dev/null || return 1
	FPR=$(openssl x509 -in "$T/server.crt" -noout -fingerprint -sha256 | sed 's/.*=//')
	PORT=$(free_port)
	export JAZZ_SAMPLE_PASSWORDS="bob:bobpw,carol:carolpw,dave:davepw,slow:slowpw,mallory:malpw"
}

# cp_server_conf [extra lines...]: writes $T/server.conf
cp_server_conf() {
	{
		cat <<EOC
[server]
listen = 127.0.0.1:$PORT
cert = $T/server.crt
key = $T/server.key
keytab = FILE:$T/server.keytab
service = jazz/server.jazz.test@$KDC_REALM
rcache = file2:$T/rcache
leases = $T/leases.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
handshake_timeout = 3
login_timeout = 5
peer_debounce_ms = 20

[callbacks]
plugin = $PLUGIN
timeout_ms = 1500
EOC
		printf '%s\n' "$@"
	} >"$T/server.conf"
}

# cp_client_conf NAME USER METHOD [extra lines...]: writes $T/NAME.conf.
# Its pair_handshake is eager (keys at login, what most tests expect of a
# pair) unless CP_PAIR_HANDSHAKE says otherwise; CP_PAIR_HANDSHAKE= (empty)
# writes none, so jazzd's default (on-demand) applies.
cp_client_conf() {
	local name=$1 user=$2 method=$3
	shift 3
	{
		cat <<EOC
[client]
server = 127.0.0.1:$PORT
server_name = server.jazz.test
ca = $T/server.crt
device = $name
method = $method
user = $user
realm = $KDC_REALM
service = jazz/server.jazz.test@$KDC_REALM
ccache = FILE:$T/$user.cc
password = ${user}pw
reconnect_min = 1
reconnect_max = 2
keepalive = 2
identity_key = $T/$name.key
$(cp_pair_handshake_line)

[kernel]
backend = fake
log = $T/$name.kernel
inject = $T/$name.fifo

[client]
EOC
		printf '%s\n' "$@"
	} >"$T/$name.conf"
}

cp_pair_handshake_line() {
	local mode=${CP_PAIR_HANDSHAKE-eager}
	[ -n "$mode" ] && echo "pair_handshake = $mode"
	return 0
}

# cp_start NAME [jazzd args...]: jazzd -f -d -c $T/NAME.conf, log in $T/NAME.log
cp_start() {
	local name=$1
	shift
	"$JAZZD" -f -d -c "$T/$name.conf" "$@" >"$T/$name.log" 2>&1 &
	eval "PID_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)=$!"
	PIDS+=($!)
}

cp_stop() {
	local v="PID_$(echo "$1" | tr -c 'a-zA-Z0-9\n' _)"
	kill "${!v}" 2>/dev/null
	wait "${!v}" 2>/dev/null
}

cp_pid() {
	local v="PID_$(echo "$1" | tr -c 'a-zA-Z0-9\n' _)"
	echo "${!v}"
}

# wait_for FILE REGEX [SECONDS=10]
wait_for() {
	local i lim=$(( ${3:-10} * 10 ))
	for ((i = 0; i < lim; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# final_set KERNEL-LOG: the peers installed at its end, by name, sorted
final_set() {
	awk '/^peer-(new|set) / { for (i = 2; i <= NF; i++) {
			if ($i ~ /^id=/) id = substr($i, 4)
			if ($i ~ /^name=/) nm = substr($i, 6) }
		s[id] = nm }
	     /^peer-del / { delete s[substr($2, 4)] }
	     END { for (k in s) print s[k] }' "$1" | sort | tr '\n' ' '
}

# count FILE REGEX
count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }

inject() { # inject NAME LINE
	echo "$2" >"$T/$1.fifo"
}

# build_test_tool OUT "PKG..." SOURCE...: a test program linked with
# jazzd's own sources (userspace/jazzd/ on the include path).
build_test_tool() {
	local out=$1 pkgs=$2
	shift 2
	mkdir -p "$TOP/build/tests"
	# shellcheck disable=SC2086
	cc -O2 -g -Wall -D_GNU_SOURCE -I"$TOP/userspace/jazzd" \
		$(pkg-config --cflags $pkgs) -o "$out" "$@" \
		$(pkg-config --libs $pkgs) -lpthread
}
# build/tests/jzclient: the test client (jzclient.c + auth/krb*.c, and
# client/noise.c and core/util.c for its oldpeer mode)
JZCLIENT=$TOP/build/tests/jzclient
build_jzclient() {
	build_test_tool "$JZCLIENT" "krb5 jansson openssl libevent libevent_openssl" \
		"$TOP/tests/host/controlplane/jzclient.c" "$TOP"/userspace/jazzd/auth/*.c \
		"$TOP/userspace/jazzd/client/noise.c" "$TOP/userspace/jazzd/core/util.c"
}
# build/tests/tlsbench: the server's CPU per TLS handshake (core/proto.c's context)
TLSBENCH=$TOP/build/tests/tlsbench
build_tlsbench() {
	build_test_tool "$TLSBENCH" "openssl jansson libevent libevent_openssl" \
		"$TOP/tests/host/controlplane/tlsbench.c" \
		"$TOP/userspace/jazzd/core/proto.c" "$TOP/userspace/jazzd/core/util.c"
}
jzc() { # jzc [opts] CMD... : the test client against this test's server
	"$JZCLIENT" -s "127.0.0.1:${JZPORT:-$PORT}" -C "$T/server.crt" -r "$KDC_REALM" \
		-S "jazz/server.jazz.test@$KDC_REALM" "$@"
}
