#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# ChaCha20-Poly1305 keys whose salts are zero run on lib/crypto's
# chacha20poly1305, WireGuard's own path (issue 19; kmod/crypto.h, struct
# jazz_key @lib). Nothing may change on the wire, so:
#
#   both ends on the library: ping, bulk TCP/UDP, no authentication failure,
#   `jazzctl show` (text and --json) names the library;
#   one end on the library, the other on the crypto API's template
#   (crypto_lib=0) and then on cryptd (crypto_force_async=1): traffic both
#   ways, so the library's nonce (a 64-bit argument) is jazz's (salt, then
#   the counter big-endian) and the header is its associated data;
#   a salt that is not zero, or AES-256-GCM, keeps the crypto API;
#   wrong key bytes and a forged datagram are refused (drop_auth), and the
#   tunnel goes on;
#   a swap to a second library key under a ping flood loses nothing;
#   rmmod with traffic in flight frees every key; the kernel log stays clean.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/crypto-lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip iperf3 ping
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude

LIB=chacha20poly1305-lib
Z=00000000
K9=9999999999999999999999999999999999999999999999999999999999999999

param() { echo "$2" >"/sys/module/jazz/parameters/$1"; }
# key NS PEER TX RX [CIPHER] [SLOT] [ID]: a key for jazz0's PEER
key() {
	"$1" "$JZ" key jazz0 new peer "$2" slot "${6:-primary}" id "${7:-1}" \
		cipher "${5:-chacha20-poly1305}" tx "$3" rx "$4"
}
keys_del() {
	n1 "$JZ" key jazz0 del peer 2 slot primary
	n2 "$JZ" key jazz0 del peer 1 slot primary
}
auth() { echo $(($(jstat n1 jazz0 drop_auth) + $(jstat n2 jazz0 drop_auth))); }

rmmod jazz 2>/dev/null
check "module loaded" modprobe jazz
check_eq "crypto_lib is on by default" "$(cat /sys/module/jazz/parameters/crypto_lib)" Y
pair_devices 192.168.248 10.0.8 fd08
S1=$Z S2=$Z pair_config 192.168.248 10.0.8 fd08 10800

# ---------------------------------------------------------- both on lib/crypto
check "zero salts: ping over the library" n1 ping -c 3 -i 0.2 -W 2 10.0.8.2
check "zero salts: ping over IPv6" n2 ping -6 -c 3 -i 0.2 -W 2 fd08::1
check_eq "n1's key runs on the library (--json)" "$(drivers n1 | sort -u)" "$LIB"
check_eq "n2's key too" "$(drivers n2 | sort -u)" "$LIB"
check "jazzctl show (text) names it" bash -c \
	"ip netns exec $(ns_name n1) $JZ show jazz0 | grep -qF 'driver $LIB'"
iperf_step 5301 "library: TCP n1 -> n2" "$T/tcp.json" -c 10.0.8.2 -t 2
iperf_step 5302 "library: UDP 1200 B over IPv6" "$T/udp.json" -c fd08::2 -u -b 20M -l 1200 -t 1
check_eq "no authentication failure at either end" "$(auth)" 0

# --------------------------------- one end on the library, one on the crypto API
check "keys deleted" keys_del
param crypto_lib 0
check "n2: a zero-salt key with crypto_lib=0" key n2 1 "$K2:$Z" "$K1:$Z"
param crypto_lib 1
check "n1: the same key with crypto_lib=1" key n1 2 "$K1:$Z" "$K2:$Z"
check_eq "n1 on the library" "$(drivers n1 | sort -u)" "$LIB"
d2=$(drivers n2 | sort -u)
check "n2 on the crypto API template ($d2)" grep -q '^rfc7539(' <<<"$d2"
check "library -> template: ping" n1 ping -c 3 -i 0.2 -W 2 10.0.8.2
iperf_step 5304 "library -> template: TCP" "$T/tcp-lt.json" -c 10.0.8.2 -t 2
iperf_step 5305 "template -> library: TCP (reverse)" "$T/tcp-tl.json" -c 10.0.8.2 -t 2 -R
check_eq "library and template agree: no authentication failure" "$(auth)" 0

check "keys deleted again" keys_del
param crypto_force_async 1
check "n2: a zero-salt key on cryptd (crypto_force_async=1)" key n2 1 "$K2:$Z" "$K1:$Z"
param crypto_force_async 0
check "n1: on the library" key n1 2 "$K1:$Z" "$K2:$Z"
d2=$(drivers n2 | sort -u)
check "n2 on cryptd ($d2)" grep -qE '^(cryptd|pcrypt)\(' <<<"$d2"
check "library <-> cryptd: ping both ways" bash -c \
	"ip netns exec $(ns_name n1) ping -c 3 -i 0.2 -W 2 10.0.8.2 && ip netns exec $(ns_name n2) ping -c 3 -i 0.2 -W 2 10.0.8.1"
iperf_step 5306 "library <-> cryptd: TCP" "$T/tcp-lc.json" -c 10.0.8.2 -t 2 -R
check_eq "no authentication failure" "$(auth)" 0

# -------------------------------------------------- what stays on the crypto API
check "keys deleted a third time" keys_del
check "a salt that is not zero" key n1 2 "$K1:$S1" "$K2:$Z"
d1=$(drivers n1 | sort -u)
check "... keeps the crypto API ($d1)" grep -q '^rfc7539(' <<<"$d1"
n1 "$JZ" key jazz0 del peer 2 slot primary
check "AES-256-GCM with zero salts" key n1 2 "$K1:$Z" "$K2:$Z" aes-256-gcm
d1=$(drivers n1 | sort -u)
check "... keeps the crypto API ($d1)" bash -c "[ -n '$d1' ] && [ '$d1' != '$LIB' ]"
n1 "$JZ" key jazz0 del peer 2 slot primary

# ------------------------------------------------------------------ refused
check "n1: library key, n2: other key bytes" bash -c "
	ip netns exec $(ns_name n1) $JZ key jazz0 new peer 2 slot primary id 1 cipher chacha20-poly1305 tx $K1:$Z rx $K2:$Z &&
	ip netns exec $(ns_name n2) $JZ key jazz0 new peer 1 slot primary id 1 cipher chacha20-poly1305 tx $K2:$Z rx $K9:$Z"
a0=$(jstat n2 jazz0 drop_auth)
check "wrong key: no ping gets through" bash -c "! ip netns exec $(ns_name n1) ping -c 3 -i 0.2 -W 1 10.0.8.2"
check "wrong key: n2 refuses them as failed authentication" \
	test "$(($(jstat n2 jazz0 drop_auth) - a0))" -ge 3
n2 "$JZ" key jazz0 del peer 1 slot primary
check "n2 gets the right key" key n2 1 "$K2:$Z" "$K1:$Z"
check "the tunnel works again" n1 ping -c 2 -i 0.2 -W 2 10.0.8.2

# A datagram with a valid header (n2 knows n1 as receiver id 1, key id 1)
# and a ciphertext nobody made: refused before anything is delivered.
a0=$(jstat n2 jazz0 drop_auth)
check "a forged datagram is sent to n2's port" n1 $PY -c '
import os, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in range(5):
    hdr = struct.pack(">BBBBIQ", 1, 0x10, 1, 0, 1, 10**9 + n)
    s.sendto(hdr + os.urandom(48), ("192.168.248.2", 10802))
'
forged_counted() { [ $(($(jstat n2 jazz0 drop_auth) - a0)) -ge 5 ]; }
check "forged datagrams: drop_auth counts them" wait_for 5 forged_counted
check "after them the tunnel still works" n1 ping -c 2 -i 0.2 -W 2 10.0.8.2

# -------------------------------------------- swap to a second library key
swap_under_flood 10.0.8.2 400 chacha20-poly1305 "$Z"
check_eq "n1 sends with the library again" "$(drivers n1 | sort -u)" "$LIB"

# ------------------------------------------------- rmmod with traffic in flight
bg n1 ping -f -q -w 10 10.0.8.2
bg n2 ping -f -q -w 10 10.0.8.1
sleep 2
check "rmmod jazz while library keys carry traffic" rmmod jazz
check "every key freed at unload" bash -c "dmesg | grep 'jazz: unloaded' | tail -1 | grep -q 'devices 0 peers 0 keys 0'"
check "modprobe jazz again" modprobe jazz
dmesg_check
