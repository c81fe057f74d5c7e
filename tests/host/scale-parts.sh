#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile peer lists in parts ("part"/"more", feature peers_more) against a
# real jazzd client (password login, fake kernel backend). The rogue server
# (controlplane/rogue.c, with a valid proof of identity: a compromised
# server) sends, one session each: a good list in 3 parts, a part without a
# list in progress, a delta inside a list, a missing part, "part" and
# "more" of the wrong type, an unfinished list growing past the client's
# max_peers, and a good list in 2 parts. The client must install the good
# lists whole, refuse each bad one as a protocol error (drop the connection
# with a log line saying why) and never install an entry of a refused
# list. TAP.
set -u
. "$(dirname "$0")/controlplane/lib.sh"
. "$TOP/tests/host/controlplane/rogue-lib.sh"

cp_setup || { echo "not ok 1 - setup"; exit 1; }
build_rogue || { echo "not ok 1 - build the rogue server"; exit 1; }
has() { grep -q -- "$2" "$T/$1"; }

parts() { # parts NO MORE ID...: one "peers" message of a list in parts
	local no=$1 more=$2 l="" i
	shift 2
	for i in "$@"; do
		l+="$(peer "$i" "10.77.1.$i" "fd77:6a61:7a7a::1:$i"),"
	done
	printf '{"type":"peers","peers":[%s],"users":[],"part":%s,"more":%s}' \
		"${l%,}" "$no" "$more"
}
session() { # session NAME MESSAGES [client conf lines...]
	local name=$1 msgs=$2
	shift 2
	rogue_start "$name" valid "[$(welcome 10.77.0.7 fd77:6a61:7a7a::7),$msgs,{\"type\":\"_sleep\",\"ms\":500}]" \
		-n 1 -w 2 -p bobpw
	rogue_client "$name" bob password "$@"
}
refused() { # refused NAME WHAT LOG-LINE
	check "$2: the connection is dropped, saying why" has "$1.log" "disconnected from .*: $3"
	check "$2: no entry reached the kernel" bash -c "! grep -q '^peer-new' '$T/$1.kernel'"
}

session good "$(parts 0 true 2 3),$(parts 1 true 4 5),$(parts 2 false 6)"
check "a list in 3 parts is applied once, whole" has good.log "peer list: 5 visible, 5 installed"
check "... and each of its 5 peers reached the kernel" \
	[ "$(count "$T/good.kernel" "^peer-new id=[2-6] ")" = 5 ]
check "... and was never applied half" bash -c "! grep -q 'peer list: [1-4] visible' '$T/good.log'"

session nolist "$(parts 1 false 17)"
refused nolist "a part without a list in progress" "bad peer list part: part 1 without a list in progress"

session delta "$(parts 0 true 10 11),{\"type\":\"peers_delta\",\"set\":[$(peer 12 10.77.1.12 fd77:6a61:7a7a::1:12)],\"del\":[]}"
refused delta "a delta inside a list in parts" "peer list delta inside a list in parts"

session gap "$(parts 0 true 20 21),$(parts 2 false 22)"
refused gap "a missing part" "bad peer list part: part 2, expected 1"

session badpart "$(parts '"0"' false 30)"
refused badpart "a 'part' that is not a number" 'bad peer list part: peers: "part" is not an integer'

session badmore "$(parts 0 '"yes"' 40)"
refused badmore "a 'more' that is not a boolean" 'bad peer list part: peers: "more" is not a boolean'

# an unfinished list growing past max_peers: the entries so far count
session over "$(parts 0 true $(seq 100 119)),$(parts 1 true $(seq 120 139)),$(parts 2 true $(seq 140 159)),$(parts 3 false $(seq 160 179))" \
	"max_peers = 50"
refused over "an unfinished list past max_peers (60 of 50)" \
	"peer list in parts: part 2 brings it over max_peers = 50 entries"
check "... and the client did not wait for a last part to count" \
	bash -c "! grep -q 'peer list: .* more than max_peers' '$T/over.log'"

session two "$(parts 0 true 2 3 4),$(parts 1 false 8)"
check "a list in 2 parts is applied: p2 p3 p4 p8" has two.log "peer list: 4 visible, 4 installed"
check "p8, from its second part, reached the kernel" has two.kernel "^peer-new id=8 .*name=p8 "
cp_done
