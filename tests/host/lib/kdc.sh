# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# tests/host/lib/kdc.sh - a throwaway MIT KDC for tests. Source it from bash.
#
#   . tests/host/lib/kdc.sh
#   kdc_start "$tmpdir/kdc"              # realm JAZZ.TEST on 127.0.0.1:<random>
#   kdc_add_user alice alicepw            # password principal
#   kdc_add_service jazz/server.jazz.test "$tmpdir/server.keytab"
#   kdc_user_keytab alice "$tmpdir/alice.keytab"   # client keytab (same key)
#   kdc_kinit alice alicepw "FILE:$tmpdir/alice.cc" [-l 10s]
#   ...
#   kdc_stop                               # also runs from the EXIT trap
#
# kdc_start exports, for everything run afterwards in this shell:
#   KRB5_CONFIG       $DIR/krb5.conf (realm JAZZ.TEST -> the KDC, no DNS)
#   KRB5_KDC_PROFILE  $DIR/kdc.conf
#   KRB5RCACHEDIR     $DIR/rcache (replay caches land here)
#   KRB5CCNAME        FILE:$DIR/default.ccache (not the user's own ccache)
#   KDC_DIR KDC_REALM KDC_PORT KDC_PID KDC_LOG
# Optional inputs (set before kdc_start):
#   KDC_REALM (default JAZZ.TEST), KDC_MAX_LIFE (default 10h),
#   KDC_CLOCKSKEW (libdefaults clockskew, default 300),
#   KDC_WEAK=1 (allow_weak_crypto, and des3-cbc-sha1 and arcfour-hmac
#   permitted: for tests that show weak enctypes refused).
# Principals get keys for aes256-cts-hmac-sha1-96 and
# aes256-cts-hmac-sha384-192 (both accepted by the password mode too).
#
# Every function returns non-zero with a message on stderr on failure; none
# calls exit. Safe under "set -e" (kdc_stop from an EXIT trap too). Only
# loopback is used (127.0.0.1, UDP and TCP on one port).

KDC_ENCTYPES="aes256-cts-hmac-sha1-96:normal aes256-cts-hmac-sha384-192:normal"

_kdc_err() { echo "kdc.sh: $*" >&2; return 1; }

_kdc_free_port() {
	local p _ used
	used=$(ss -Hlntu 2>/dev/null | awk '{print $5}' | sed 's/.*://' | sort -u)
	for _ in $(seq 1 200); do
		p=$(( (RANDOM * 32768 + RANDOM) % 30000 + 20000 ))
		grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
	done
	return 1
}

_kdc_write_conf() {
	local d=$1 port=$2 realm=$3
	cat >"$d/krb5.conf" <<EOF
[libdefaults]
	default_realm = $realm
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	ignore_acceptor_hostname = false
	clockskew = ${KDC_CLOCKSKEW:-300}
	udp_preference_limit = 1
	permitted_enctypes = aes256-cts-hmac-sha384-192 aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha256-128 aes128-cts-hmac-sha1-96${KDC_WEAK:+ des3-cbc-sha1 arcfour-hmac}
	allow_weak_crypto = $([ -n "${KDC_WEAK:-}" ] && echo true || echo false)
${KDC_WEAK:+	default_tgs_enctypes = aes256-cts-hmac-sha384-192 aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha256-128 aes128-cts-hmac-sha1-96 des3-cbc-sha1 arcfour-hmac}
	kdc_timeout = 3000
	max_retries = 2

[realms]
	$realm = {
		kdc = 127.0.0.1:$port
		admin_server = 127.0.0.1:1
	}

[domain_realm]
	.${realm,,} = $realm
	${realm,,} = $realm
EOF
	cat >"$d/kdc.conf" <<EOF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$port
	kdc_tcp_listen = 127.0.0.1:$port

[realms]
	$realm = {
		database_name = $d/db/principal
		key_stash_file = $d/db/stash
		acl_file = $d/kadm5.acl
		max_life = ${KDC_MAX_LIFE:-10h}
		max_renewable_life = 0
		master_key_type = aes256-cts-hmac-sha1-96
		supported_enctypes = $KDC_ENCTYPES
		default_principal_flags = -preauth
	}

[logging]
	kdc = FILE:$d/kdc.log
	admin_server = FILE:$d/kadmin.log
	default = FILE:$d/krb5lib.log
EOF
	: >"$d/kadm5.acl"
}

# kadmin.local with this realm's config; output also kept in kadmin.out.
# kadmin.local exits 0 even when the query fails, so its output is checked:
# errors look like "add_principal: ... while creating ..." or
# "kadmin.local: Unknown request ...".
_kdc_kadmin() {
	local out rc
	rc=0
	out=$(kadmin.local -r "$KDC_REALM" -q "$1" 2>&1) || rc=$?
	printf '%s\n' "$out" >>"$KDC_DIR/kadmin.out"
	if [ $rc -ne 0 ] || grep -qE ' while |^[a-z_.]+: ' <<<"$out"; then
		grep -E ' while |^[a-z_.]+: ' <<<"$out" >&2
		_kdc_err "kadmin.local '$1' failed"
		return 1
	fi
}

# kdc_start DIR: create the realm database under DIR (made if missing) and
# start krb5kdc on a free loopback port; waits until it issues a ticket.
kdc_start() {
	local d=$1 try
	[ -n "$d" ] || { _kdc_err "usage: kdc_start DIR"; return 1; }
	[ -z "${KDC_PID:-}" ] || { _kdc_err "a KDC is already running (pid $KDC_PID)"; return 1; }
	mkdir -p "$d" || return 1
	d=$(cd "$d" && pwd) || return 1
	KDC_DIR=$d
	KDC_REALM=${KDC_REALM:-JAZZ.TEST}
	KDC_LOG=$d/kdc.log
	mkdir -p "$d/db" "$d/rcache"
	export KRB5_CONFIG=$d/krb5.conf KRB5_KDC_PROFILE=$d/kdc.conf
	export KRB5RCACHEDIR=$d/rcache KRB5CCNAME=FILE:$d/default.ccache
	export KDC_DIR KDC_REALM KDC_LOG

	for try in 1 2 3 4 5; do
		KDC_PORT=$(_kdc_free_port) || { _kdc_err "no free port"; return 1; }
		_kdc_write_conf "$d" "$KDC_PORT" "$KDC_REALM"
		if [ ! -f "$d/db/stash" ]; then
			kdb5_util -r "$KDC_REALM" create -s -P "jazz-master-$$-$RANDOM" \
				>"$d/kdb5_util.out" 2>&1 ||
				{ cat "$d/kdb5_util.out" >&2; _kdc_err "kdb5_util create failed"; return 1; }
			_kdc_kadmin "addprinc -pw kdcprobe-pw kdcprobe" || return 1
		fi
		: >"$KDC_LOG"
		krb5kdc -n -r "$KDC_REALM" >"$d/krb5kdc.out" 2>&1 &
		KDC_PID=$!
		echo "$KDC_PID" >"$d/kdc.pid"
		export KDC_PORT KDC_PID
		_kdc_trap_once
		if _kdc_wait_ready; then
			return 0
		fi
		kdc_stop
		echo "kdc.sh: KDC did not come up on port $KDC_PORT (try $try)" >&2
		tail -n 5 "$KDC_LOG" "$d/krb5kdc.out" >&2 2>/dev/null
	done
	_kdc_err "could not start krb5kdc"
}

# Poll with a real AS exchange (the probe principal) for up to ~10 s.
_kdc_wait_ready() {
	local _
	for _ in $(seq 1 100); do
		kill -0 "$KDC_PID" 2>/dev/null || return 1
		if echo kdcprobe-pw | KRB5CCNAME=MEMORY:kdcprobe \
			kinit kdcprobe >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# Append kdc_stop to the EXIT trap once, keeping the caller's own trap.
_kdc_trap_once() {
	[ -n "${_KDC_TRAPPED:-}" ] && return 0
	local old
	old=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
	# shellcheck disable=SC2064
	trap "kdc_stop; ${old:-:}" EXIT
	_KDC_TRAPPED=1
}

# kdc_stop: stop krb5kdc (idempotent). The directory is left for inspection;
# the caller removes its temp dir.
kdc_stop() {
	local _
	[ -n "${KDC_PID:-}" ] || return 0
	# Every step may fail harmlessly (already gone): "|| true" keeps this
	# usable from an EXIT trap of a "set -e" script.
	kill "$KDC_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$KDC_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$KDC_PID" 2>/dev/null || true
	wait "$KDC_PID" 2>/dev/null || true
	KDC_PID=
	return 0
}

# kdc_add_user NAME PASS [kadmin addprinc options...]: a password principal.
kdc_add_user() {
	local name=$1 pass=$2
	shift 2 || { _kdc_err "usage: kdc_add_user NAME PASS [opts]"; return 1; }
	_kdc_kadmin "addprinc $* -pw \"$pass\" $name"
}

# kdc_set_password NAME PASS: change a principal's password (new kvno).
kdc_set_password() {
	_kdc_kadmin "cpw -pw \"$2\" $1"
}

# kdc_add_service PRINC KEYTAB: random-key service principal, keys exported
# to KEYTAB (appended if it exists). PRINC without @REALM gets KDC_REALM.
kdc_add_service() {
	local princ=$1 kt=$2
	if [ -z "$princ" ] || [ -z "$kt" ]; then
		_kdc_err "usage: kdc_add_service PRINC KEYTAB"
		return 1
	fi
	_kdc_kadmin "addprinc -randkey $princ" || return 1
	_kdc_kadmin "ktadd -k $kt $princ"
}

# kdc_rekey_service PRINC KEYTAB: new random key (kvno+1) into KEYTAB.
kdc_rekey_service() {
	_kdc_kadmin "ktadd -k $2 $1"
}

# kdc_user_keytab NAME KEYTAB: export a user's current keys (no new key, so
# the password keeps working) as a client keytab.
kdc_user_keytab() {
	_kdc_kadmin "ktadd -norandkey -k $2 $1"
}

# kdc_kinit USER PASS CCACHE [kinit options...]: get a TGT into CCACHE.
kdc_kinit() {
	local user=$1 pass=$2 cc=$3
	shift 3 || { _kdc_err "usage: kdc_kinit USER PASS CCACHE [opts]"; return 1; }
	echo "$pass" | kinit "$@" -c "$cc" "$user" >"$KDC_DIR/kinit.out" 2>&1 ||
		{ cat "$KDC_DIR/kinit.out" >&2; _kdc_err "kinit $user failed"; return 1; }
}

# kdc_kvno PRINC CCACHE: get a service ticket for PRINC into CCACHE.
kdc_kvno() {
	KRB5CCNAME=$2 kvno "$1" >/dev/null 2>>"$KDC_DIR/kinit.out"
}
