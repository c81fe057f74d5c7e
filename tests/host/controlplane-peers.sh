#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Peer lists kept current incrementally (server/peers.c): a new device gets a full
# peer_filter review and its complete list; the viewers already listed are
# asked about the newcomers only and get deltas (peers_delta). This checks,
# with real jazzd clients (fake kernel backend) and a rules-driven test
# plugin (controlplane/filterplug.c), that the filter's decisions hold
# across joins, leaves, a rejoin and a reload: hidden devices and users stay
# hidden, one-sided visibility is never installed, a user hidden in a later
# review loses the devices already shown, and every client's final kernel
# peer set is exactly what the rules allow. TAP output.
# JZT_FILTER_ABI=many (controlplane-peers-many.sh): the plugin answers
# through peer_filter_many (many viewers in one call) instead, with the
# same rules and the same expectations.
set -u
. "$(dirname "$0")/controlplane/lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
MANY=()
[ "${JZT_FILTER_ABI:-}" = many ] && MANY=(-DFILTERPLUG_MANY)
cc -O2 -Wall -shared -fPIC "${MANY[@]}" -I"$TOP/userspace/include" -o "$T/filterplug.so" \
	"$TOP/tests/host/controlplane/filterplug.c" || { echo "not ok 1 - build plugin"; exit 1; }
export JZT_RULES=$T/rules
printf '%s\n' "dev bob carol-pc" "user alice dave" >"$JZT_RULES"
cp_server_conf "[callbacks]" "plugin = $T/filterplug.so"
cp_start server
check "server starts with the test plugin" wait_for "$T/server.log" "server listening" 5
if [ ${#MANY[@]} -gt 0 ]; then
	check "the plugin defines peer_filter_many only" \
		grep -Eq "plugin .*filterplug.so: abi 1, user_key validate_user peer_filter_many " \
		"$T/server.log"
fi

has_peer() { grep -q "^peer-new .*name=$2 " "$T/$1.kernel"; }
client() { # client NAME USER METHOD
	cp_client_conf "$1" "$2" "$3"
	cp_start "$1"
	wait_for "$T/server.log" "login: $2@$KDC_REALM device $1 " 10
}
settle() { sleep 1.5; }
wait_count() { # FILE REGEX N: until REGEX matches N lines (10 s)
	local i
	for i in $(seq 100); do
		[ "$(count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

client alice-pc alice kerberos
client bob-pc bob password
check "alice and bob see each other" bash -c "$(declare -f wait_for); \
	wait_for '$T/alice-pc.kernel' 'name=bob-pc ' && wait_for '$T/bob-pc.kernel' 'name=alice-pc '"

client carol-pc carol password
check "alice sees the newcomer carol-pc" wait_for "$T/alice-pc.kernel" "peer-new .*name=carol-pc "
check "the newcomer's own review is full (alice-pc and bob-pc)" \
	wait_for "$T/server.log" "filter carol peers=2 users=2: (alice-pc bob-pc|bob-pc alice-pc)$"
check "bob's review is incremental: only the newcomer" \
	grep -Eq "filter bob peers=1 users=1: carol-pc$" "$T/server.log"
settle
check "rule 'dev bob carol-pc': bob does not get carol-pc" bash -c "! grep -q 'name=carol-pc ' '$T/bob-pc.kernel'"
check "one-sided (carol sees bob, bob hides carol): not linked, not installed on carol" \
	bash -c "! grep -q 'name=bob-pc ' '$T/carol-pc.kernel'"
check "carol and alice see each other" grep -q "name=alice-pc " "$T/carol-pc.kernel"

client dave-pc dave password
check "bob sees dave-pc" wait_for "$T/bob-pc.kernel" "peer-new .*name=dave-pc "
client dave-2 dave password
check "bob sees dave-2" wait_for "$T/bob-pc.kernel" "peer-new .*name=dave-2 "
check "carol sees dave-2" wait_for "$T/carol-pc.kernel" "peer-new .*name=dave-2 "
settle
check "rule 'user alice dave': alice gets neither of dave's devices" \
	bash -c "! grep -q 'name=dave' '$T/alice-pc.kernel'"
check "... and dave's devices do not install alice-pc (not linked)" \
	bash -c "! grep -q 'name=alice-pc ' '$T/dave-pc.kernel' '$T/dave-2.kernel'"

# a leave, then the same device again
cid=$(sed -n 's/^peer-new id=\([0-9]*\) .*name=carol-pc .*/\1/p' "$T/alice-pc.kernel" | head -1)
cp_stop carol-pc
check "carol-pc leaving: removed from alice's kernel" wait_for "$T/alice-pc.kernel" "^peer-del id=$cid$"
check "... and from dave-pc's" wait_for "$T/dave-pc.kernel" "^peer-del id=$cid$"
sed -i "s|^log = .*|log = $T/carol-pc2.kernel|" "$T/carol-pc.conf"
cp_start carol-pc
check "carol-pc back: alice gets it again" \
	wait_count "$T/alice-pc.kernel" "^peer-new id=$cid .*name=carol-pc " 2
check "bob's filter was asked about carol-pc again" \
	wait_count "$T/server.log" "filter bob peers=1 users=1: carol-pc$" 2
settle
check "bob still does not get carol-pc" bash -c "! grep -q 'name=carol-pc ' '$T/bob-pc.kernel'"

# a user hidden in a later (incremental) review loses the devices shown before
client erin-pc erin kerberos
check "alice sees erin-pc" wait_for "$T/alice-pc.kernel" "peer-new .*name=erin-pc "
eid=$(sed -n 's/^peer-new id=\([0-9]*\) .*name=erin-pc .*/\1/p' "$T/alice-pc.kernel" | head -1)
echo "user alice erin" >>"$JZT_RULES"
client erin-2 erin kerberos
check "alice's review of erin-2 hides user erin: erin-pc is removed too" \
	wait_for "$T/alice-pc.kernel" "^peer-del id=$eid$"
check "bob sees erin-2" wait_for "$T/bob-pc.kernel" "peer-new .*name=erin-2 "
settle
check "alice never got erin-2" bash -c "! grep -q 'name=erin-2 ' '$T/alice-pc.kernel'"

# a reload reviews everyone again: the new rules take effect
printf '%s\n' "user alice dave" "user alice erin" >"$JZT_RULES"
kill -HUP "$(cp_pid server)"
check "after SIGHUP (rule 'dev bob carol-pc' gone) bob gets carol-pc" \
	wait_for "$T/bob-pc.kernel" "peer-new .*name=carol-pc "
check "the reload asked bob about everyone" \
	wait_for "$T/server.log" "filter bob peers=6 users=4: "
settle

# every client's final kernel peer set is what the rules allow
expect() { # NAME KERNEL-LOG EXPECTED-SET
	local got
	got=$(final_set "$T/$2")
	if [ "$got" = "$3" ]; then ok "final peers of $1: $3"
	else nok "final peers of $1: want '$3', got '$got'"; fi
}
expect alice-pc alice-pc.kernel "bob-pc carol-pc "
expect bob-pc bob-pc.kernel "alice-pc carol-pc dave-2 dave-pc erin-2 erin-pc "
expect carol-pc carol-pc2.kernel "alice-pc bob-pc dave-2 dave-pc erin-2 erin-pc "
expect dave-pc dave-pc.kernel "bob-pc carol-pc dave-2 erin-2 erin-pc "
expect erin-2 erin-2.kernel "bob-pc carol-pc dave-2 dave-pc erin-pc "
check "bob's list, kept by deltas since his first one, has the 6 others" \
	bash -c "grep 'peer list:' '$T/bob-pc.log' | tail -1 | grep -q 'peer list: 6 visible, 6 installed'"

# A client whose login does not list the "peers_delta" feature (a jazzd
# from before it) is sent its complete list every time, never a delta.
if build_jzclient; then
	jzc -L -m password -u bob -p bobpw -d old-pc lists 6 >"$T/old.lists" &
	old_pid=$!
	jzc -m password -u bob -p bobpw -d new-pc lists 6 >"$T/new.lists" &
	new_pid=$!
	wait_for "$T/old.lists" "^welcome" 10 && wait_for "$T/new.lists" "^welcome" 10
	settle
	client dave-3 dave password
	wait "$old_pid" "$new_pid"
	sed 's/^/# old-pc: /' "$T/old.lists"
	check "a legacy client gets the newcomer in a complete list" \
		bash -c "grep '^peers ' '$T/old.lists' | tail -1 | grep -q 'dave-3'"
	check "... and never a peers_delta" bash -c "! grep -q '^peers_delta' '$T/old.lists'"
	check "a client with the feature gets the newcomer as a delta" \
		bash -c "grep -q '^peers_delta' '$T/new.lists' && [ \$(grep -c '^peers ' '$T/new.lists') = 1 ]"

	# peers_compact: entries without owner and addresses (the client
	# makes the addresses from the id), only to a client that lists it
	JZCLIENT_RAW=1 JZCLIENT_FEATURES=peers_delta,peers_compact \
		jzc -m password -u bob -p bobpw -d compact-pc lists 4 >"$T/compact.lists" &
	c_pid=$!
	JZCLIENT_RAW=1 jzc -m password -u bob -p bobpw -d full-pc lists 4 >"$T/full.lists" &
	f_pid=$!
	wait_for "$T/compact.lists" "^welcome" 10 && wait_for "$T/full.lists" "^welcome" 10
	settle
	client dave-4 dave password
	wait "$c_pid" "$f_pid"
	grep '^raw ' "$T/compact.lists" | head -2 | cut -c1-300 | sed 's/^/# compact-pc: /'
	check "peers_compact: alice-pc's entry is {id, device, pubkey, linked, endpoint}" \
		grep -Eq '^raw .*\{"id":[0-9]+,"device":"alice-pc","pubkey":"[^"]+","linked":true,"endpoint":\{' \
		"$T/compact.lists"
	check "peers_compact: no entry names an address, in the list or a delta" \
		bash -c "grep -q '^raw .*peers_delta.*dave-4' '$T/compact.lists' && ! grep '^raw ' '$T/compact.lists' | grep -q 'vip4\|vip6'"
	check "without the feature: entries keep owner and addresses" \
		grep -Eq '^raw .*"device":"alice-pc","user":"alice","realm":"[^"]+","vip4":"10\.77\.0\.[0-9]+","vip6":"fd77:' \
		"$T/full.lists"
else
	nok "build jzclient"
fi
if [ ${#MANY[@]} -gt 0 ]; then
	calls=$(count "$T/server.log" "filter_many viewers=")
	echo "# peer_filter_many calls: $calls; with more than one viewer: $(count "$T/server.log" "filter_many viewers=([2-9]|[1-9][0-9])")"
	check "viewers were reviewed many in one call" \
		grep -Eq "filter_many viewers=([2-9]|[1-9][0-9]) " "$T/server.log"
	check "the reload's full reviews went in one call (every viewer)" \
		grep -Eq "filter_many viewers=([6-9]|[1-9][0-9]) peers=([7-9]|[1-9][0-9]) " "$T/server.log"
fi
if kill -0 "$(cp_pid server)" 2>/dev/null; then ok "server still running"; else nok "server still running"; fi
cp_done
