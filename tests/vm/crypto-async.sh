#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Asynchronous AEADs (issue 19). With crypto_force_async=1 every key runs on
# cryptd, so each packet's crypto completes later, from cryptd's worker:
#
#   ChaCha20-Poly1305 and AES-256-GCM: ping and bulk TCP/UDP pass, and
#   `jazzctl show` (text and --json) names the cryptd driver;
#   a key swap under a ping flood loses nothing, with a TCP transfer whose
#   datagrams reach the async decrypt in GRO batches (issue 19);
#   peer delete, link delete, netns delete and rmmod while traffic is in
#   flight leave every object counter at zero;
#   without the parameter the default (fastest) driver is shown;
#   the kernel log stays clean.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/crypto-async.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip iperf3 ping
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude

zero() { [ "$(objects)" = "devices 0 peers 0 keys 0" ]; }
all_cryptd() { # NS: every key's driver is cryptd(...) (pcrypt(...) before 6.3), and there is one
	local d
	d=$(drivers "$1")
	[ -n "$d" ] && ! grep -qvE '^(cryptd|pcrypt)\(' <<<"$d"
}
both_cryptd() { all_cryptd n1 && all_cryptd n2; }
reload() { # [PARAM]: a fresh module (no device may exist)
	rmmod jazz 2>/dev/null
	modprobe jazz "$@"
}
flood() { # SECONDS: pings both ways and a UDP stream n1 -> n2
	bg n1 ping -f -q -w "$1" 10.0.9.2
	bg n2 ping -f -q -w "$1" 10.0.9.1
	bg n1 ping -6 -f -q -w "$1" fd09::2
}
setup() { # a fresh pair with ChaCha20-Poly1305 keys
	pair_devices 192.168.249 10.0.9 fd09
	pair_config 192.168.249 10.0.9 fd09 10900
}
stop_bg() { # end the background traffic of the last step
	local p
	for p in "${_T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	_T_PIDS=()
}

check "module loaded with crypto_force_async=1" reload crypto_force_async=1
check_eq "parameter reads back" "$(cat /sys/module/jazz/parameters/crypto_force_async)" Y
# warm_drivers: the load-time warm-up's crypto_drivers, once it lists both
warm_drivers() { grep -q 'chacha20-poly1305=.* aes-256-gcm=' /sys/module/jazz/parameters/crypto_drivers; }
# The warm-up (module loads, pcrypt/cryptd instances, self-tests) took over
# 60 s on 6.1 at host load 17; the poll ends as soon as both are listed.
check "warm-up at load: crypto_drivers names both ciphers' drivers" wait_for 240 warm_drivers
diag "crypto_drivers: $(cat /sys/module/jazz/parameters/crypto_drivers)"
check "warm-up under crypto_force_async: both wrapped (cryptd/pcrypt)" bash -c \
	"[ \$(grep -oE '=(cryptd|pcrypt)[(]' /sys/module/jazz/parameters/crypto_drivers | wc -l) = 2 ]"
setup
check "ChaCha20-Poly1305 over cryptd: ping" n1 ping -c 3 -i 0.2 -W 2 10.0.9.2
check "ChaCha20-Poly1305: both ends show a cryptd driver" both_cryptd
diag "n1 drivers: $(drivers n1 | tr '\n' ' ')"
check "jazzctl show (text) prints the driver" bash -c "ip netns exec $(ns_name n1) $JZ show jazz0 | grep -qE 'driver (cryptd|pcrypt)[(]'"

iperf_step 5201 "ChaCha20-Poly1305 over cryptd: TCP" "$T/tcp.json" -c 10.0.9.2 -t 3
iperf_step 5202 "ChaCha20-Poly1305 over cryptd: UDP" "$T/udp.json" -c fd09::2 -u -b 20M -l 1200 -t 2
check_eq "no authentication failures at n2" "$(jstat n2 jazz0 drop_auth)" 0

# ------------------------------------------ key swap to AES-256-GCM, flood
# ... with receive batching engaged (as in rx-gro.sh: GRO on n2's veth, no
# TSO/USO on n1's): batches of datagrams reach the async decrypt while the
# keys change under a TCP transfer as well as the ping flood.
FEAT=$JAZZ_TOP/tests/vm/ethtool_feat.py
check "GRO (NAPI) on n2's veth" n2 $PY "$FEAT" veth2 rx-gro=on
# shellcheck disable=SC2086
check "no TSO / UDP segmentation offload on n1's veth" n1 $PY "$FEAT" veth1 \
	tx-tcp-segmentation=off tx-tcp6-segmentation=off tx-tcp-ecn-segmentation=off \
	tx-tcp-mangleid-segmentation=off tx-udp-segmentation=off
gro0=$(jstat n2 jazz0 rx_gro_batches)
bg n2 iperf3 -s -1 -p 5207
wait_listen n2 tcp 5207
n1 iperf3 -c 10.0.9.2 -p 5207 -t 8 >"$T/tcp-swap.txt" 2>&1 &
swap_tcp=$!
sleep 1
swap_under_flood 10.0.9.2 400
wait "$swap_tcp"
rc=$?
check_eq "TCP transfer across the key swap completes" "$rc" 0 || diag "$(tail -5 "$T/tcp-swap.txt")"
gro=$(($(jstat n2 jazz0 rx_gro_batches) - gro0))
diag "GRO batches at n2 across the swap: $gro"
check_eq "n2 took GRO batches into the async decrypt across the swap" "$((gro > 0))" 1
check "AES-256-GCM: both ends show a cryptd driver" both_cryptd
diag "n1 drivers: $(drivers n1 | tr '\n' ' ')"
check "old keys deleted" bash -c "ip netns exec $(ns_name n1) $JZ key jazz0 del peer 2 slot secondary &&
	ip netns exec $(ns_name n2) $JZ key jazz0 del peer 1 slot secondary"
iperf_step 5203 "AES-256-GCM over cryptd: TCP" "$T/tcp2.json" -c 10.0.9.2 -t 3
iperf_step 5204 "AES-256-GCM over cryptd: UDP" "$T/udp2.json" -c 10.0.9.2 -u -b 20M -l 1200 -t 2
check_eq "no authentication failures at n2 (AES)" "$(jstat n2 jazz0 drop_auth)" 0

# ------------------------------------------ teardown with requests in flight
flood 20
bg n2 iperf3 -s -1 -p 5205
wait_listen n2 tcp 5205
bg n1 iperf3 -c 10.0.9.2 -p 5205 -u -b 200M -l 1300 -t 20
sleep 1.5
check "peer delete under traffic (both ends)" bash -c "ip netns exec $(ns_name n1) $JZ set jazz0 peer 2 remove &&
	ip netns exec $(ns_name n2) $JZ set jazz0 peer 1 remove"
if wait_for 15 test "$(objects)" = "devices 2 peers 0 keys 0"; then ok "peers and keys freed"; else not_ok "peers and keys freed" "$(objects)"; fi
stop_bg
aes_peers() { # the peers back, with AES-256-GCM keys
	n1 "$JZ" set jazz0 peer 2 remote-id 1 endpoint 192.168.249.2:10902 allowed-ips 10.0.9.2/32,fd09::2/128 &&
	n1 "$JZ" key jazz0 new peer 2 slot primary id 1 cipher aes-256-gcm tx "$K1:$S1" rx "$K2:$S2" &&
	n2 "$JZ" set jazz0 peer 1 remote-id 2 endpoint 192.168.249.1:10901 allowed-ips 10.0.9.1/32,fd09::1/128 &&
	n2 "$JZ" key jazz0 new peer 1 slot primary id 1 cipher aes-256-gcm tx "$K2:$S2" rx "$K1:$S1"
}
check "peers back with AES-256-GCM" aes_peers
check "AES-256-GCM tunnel up again" n1 ping -c 1 -W 2 10.0.9.2
flood 20
sleep 1.5
check "link delete under traffic" bash -c "ip -n $(ns_name n1) link del jazz0 && ip -n $(ns_name n2) link del jazz0"
if wait_for 15 zero; then ok "link delete: every object freed"; else not_ok "link delete: every object freed" "$(objects)"; fi
stop_bg

# A netns goes away once its last process has: n1's are killed while n2
# keeps flooding towards it, then n2's.
ns_kill() { # NS: kill its processes and delete it
	local p
	for p in $(ip netns pids "$(ns_name "$1")"); do kill -9 "$p" 2>/dev/null; done
	ip netns del "$(ns_name "$1")"
}
setup
flood 20
bg n2 ping -f -q -s 1300 -w 20 10.0.9.1
sleep 1.5
check "netns n1 deleted under traffic" ns_kill n1
if wait_for 20 test "$(objects | cut -d' ' -f2)" = 1; then ok "n1's device gone"; else not_ok "n1's device gone" "$(objects)"; fi
check "netns n2 deleted" ns_kill n2
if wait_for 20 zero; then ok "netns delete under traffic: every object freed"; else not_ok "netns delete under traffic: every object freed" "$(objects)"; fi
stop_bg

setup
flood 20
bg n2 iperf3 -s -1 -p 5206
wait_listen n2 tcp 5206
bg n1 iperf3 -c 10.0.9.2 -p 5206 -t 20
sleep 1.5
check "rmmod while traffic flows" rmmod jazz
stop_bg
check "every object freed at unload" bash -c "dmesg | grep 'jazz: unloaded' | tail -1 | grep -q 'devices 0 peers 0 keys 0'"

# ------------------------------------------ the default: fastest driver
check "module loaded without the parameter" reload
check_eq "crypto_force_async off by default" "$(cat /sys/module/jazz/parameters/crypto_force_async)" N
setup
check "default ChaCha20-Poly1305: ping" n1 ping -c 2 -i 0.2 -W 2 10.0.9.2
d=$(drivers n1 | head -1)
diag "default ChaCha20-Poly1305 driver: $d"
check "default ChaCha20-Poly1305 driver is shown, not cryptd" bash -c "[ -n '$d' ] && [ '${d#cryptd(}' = '$d' ]"
check "warm-up after a plain load: crypto_drivers names both ciphers' drivers" wait_for 60 warm_drivers
check_eq "the warm-up's ChaCha20-Poly1305 driver is the key's" \
	"$(grep -oE 'chacha20-poly1305=[^ ]+' /sys/module/jazz/parameters/crypto_drivers)" "chacha20-poly1305=$d"
check "AES-256-GCM keys with the default driver" bash -c "
	ip netns exec $(ns_name n1) $JZ key jazz0 new peer 2 slot primary id 3 cipher aes-256-gcm tx $K3:$S1 rx $K4:$S2 &&
	ip netns exec $(ns_name n2) $JZ key jazz0 new peer 1 slot primary id 3 cipher aes-256-gcm tx $K4:$S2 rx $K3:$S1"
check "default AES-256-GCM: ping" n1 ping -c 2 -i 0.2 -W 2 10.0.9.2
d=$(drivers n1 | head -1)
diag "default AES-256-GCM driver: $d"
check "default AES-256-GCM driver is shown, not cryptd" bash -c "[ -n '$d' ] && [ '${d#cryptd(}' = '$d' ]"
check_eq "the warm-up's AES-256-GCM driver is the key's" \
	"$(grep -oE 'aes-256-gcm=[^ ]+' /sys/module/jazz/parameters/crypto_drivers)" "aes-256-gcm=$d"
if grep -qw aes /proc/cpuinfo; then
	check "AES-NI present: the AES-NI driver was picked" bash -c "grep -qE 'aesni|vaes' <<<'$d'"
else
	skip "AES-NI driver picked" "the CPU has no AES-NI"
fi
n1 ip link del jazz0
n2 ip link del jazz0
if wait_for 15 zero; then ok "every object freed"; else not_ok "every object freed" "$(objects)"; fi
dmesg_check
