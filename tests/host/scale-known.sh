#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A server restart under many devices with "peers_known" (issue 18; server/
# known.c): jzsim's devices (real TLS and Kerberos logins, the sample
# plugin: everyone sees everyone) come back each presenting the list it
# holds; the server holds each first list while the network fills and
# answers "peers_unchanged" once it matches: every device back with its
# complete list (checked id by id by jzsim), none sent a full list. The
# same restart with logins without the field (jzsim -K, clients from
# before it): every device gets its full list again, and recovers too.
# About 60 s.
set -u
. "$(dirname "$0")/../scale/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
check "jzsim builds" build_jzsim
cp_server_conf "[server]" "max_sessions = 1000" "${SCALE_LIMITS[@]}"
sed -i -e 's/^handshake_timeout = .*/handshake_timeout = 30/' \
	-e 's/^login_timeout = .*/login_timeout = 60/' "$T/server.conf"

run_restart() { # NAME N FIRST SECOND [jzsim options]: N devices, a restart
	local name=$1 n=$2 first=$3 second=$4 sim
	shift 4
	check "server starts ($name)" scale_serve "$first"
	jzsim "$@" -R -P 100 -T 240 "$n" >"$T/$name.out" 2>"$T/$name.err" &
	sim=$!
	PIDS+=($sim)
	check "$n devices online with complete lists; the server restarted" \
		scale_restart_under "$name.out" "$first" "$second"
	wait "$sim"
	check "all $n back with complete lists, id by id" test $? = 0
	sed "s/^/# $name: /" "$T/$name.out"
}

run_restart known 300 s1 s2
check "every device presented its list and was answered unchanged" \
	grep -q "^lists unchanged 300 full 0$" "$T/known.out"
check "... as the server says: 300 unchanged, no full list" \
	bash -c "[ \$(grep -c 'as it holds them: unchanged' '$T/s2.log') = 300 ] && \
	! grep -q ': the full list$' '$T/s2.log'"
check "no device's identity key changed" bash -c "! grep -q 'identity key changed' '$T/s2.log'"
check "their digests came from one array of every device (all see all)" \
	grep -q "peers_known: 300 devices all see each other: digests from one array" "$T/s2.log"

# the same with logins that do not present their list (older clients)
cp_stop s2
run_restart old 200 s3 s4 -K -d old
check "none presented a list, none was answered unchanged" \
	bash -c "grep -q '^lists unchanged 0 full 0$' '$T/old.out' && \
	! grep -q 'unchanged$' '$T/s4.log'"
cp_done
