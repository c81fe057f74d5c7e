#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Receive batching (issue 19): jazz.ko's UDP tunnel GRO hooks take GRO
# batches of received datagrams whole (kmod/receive.c "Receive batching",
# module parameter rx_gro). The receiving veth runs GRO (NAPI on, set with
# tests/vm/ethtool_feat.py: no ethtool in the guest); the sending veth has
# no TSO and no UDP segmentation offload, so its packets take veth's NAPI
# path and a UDP GSO packet is cut in software before it, as a NIC with
# USO would send it.
#
#   - end to end (lib-pair.sh n1 -> n2): TCP over jazz with tx_gso=0 and
#     with tx_gso=1, IPv4 and IPv6 outer: the receiver counts GRO batches
#     (rx_gro_batches, rx_gro_datagrams: 0 without the hooks), refuses no
#     datagram, and the transfer completes; rx_gro=0: no batch counted;
#   - hostile batches (tests/fuzz-kernel/pkt_batch.py, one UDP_SEGMENT send
#     per batch into a device in its own namespace): a corrupted segment,
#     two peers mixed, a last segment cut below the header and inside the
#     ciphertext, a replayed segment, an unknown receiver, 64 datagrams,
#     64 KiB: each datagram counted exactly once, the valid ones answered;
#   - device deletion under batched traffic, rmmod: every object freed,
#     kernel log clean.
#
# Run in the VM: scripts/vm.sh --kernel 6.12 --each tests/vm/rx-gro.sh
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip ping iperf3
need_module jazz

. "$(dirname "$0")/lib-pair.sh"
jazz_prelude
RXG=/sys/module/jazz/parameters/rx_gro
GSO=/sys/module/jazz/parameters/tx_gso
[ -w "$RXG" ] || skip_all "jazz.ko has no rx_gro parameter"
on_exit sh -c "echo 1 > $RXG; echo 1 > $GSO"
FEAT=$JAZZ_TOP/tests/vm/ethtool_feat.py
NOTSO="tx-tcp-segmentation=off tx-tcp6-segmentation=off tx-tcp-ecn-segmentation=off tx-tcp-mangleid-segmentation=off tx-udp-segmentation=off"

pair_devices 192.168.244 10.4.0 fd04 fd04:aa
pair_config 192.168.244 10.4.0 fd04 13000
check "ping over jazz" n1 ping -c 2 -i 0.2 -W 2 10.4.0.2
check "GRO (NAPI) on n2's veth" n2 $PY "$FEAT" veth2 rx-gro=on
# shellcheck disable=SC2086
check "no TSO / UDP segmentation offload on n1's veth" n1 $PY "$FEAT" veth1 $NOTSO

# batched LABEL DST PORT: 4 MB of TCP n1 -> n2; GRO batches counted at n2.
batched() {
	local b0 d0 r0 b d
	b0=$(jstat n2 jazz0 rx_gro_batches)
	d0=$(jstat n2 jazz0 rx_gro_datagrams)
	r0=$(refusals n2 drop_no_peer drop_queue_full)
	iperf_step "$3" "$1: 4 MB of TCP through the tunnel" "$T/iperf.$3" -c "$2" -n 4M
	b=$(($(jstat n2 jazz0 rx_gro_batches) - b0))
	d=$(($(jstat n2 jazz0 rx_gro_datagrams) - d0))
	diag "$1: $d datagrams arrived in $b GRO batches"
	check_eq "$1: the receiver took GRO batches whole" \
		"$([ "$b" -gt 0 ] && [ "$d" -gt "$b" ] && echo y)" y
	check_eq "$1: the receiver refused no datagram" "$(refusals n2 drop_no_peer drop_queue_full)" "$r0"
}

echo 0 >"$GSO"
batched "tx_gso=0, IPv4 outer" 10.4.0.2 5401
echo 1 >"$GSO"
batched "tx_gso=1 (cut before the veth), IPv4 outer" 10.4.0.2 5402
pair_endpoints "[fd04:aa::1]" "[fd04:aa::2]" 13000
batched "tx_gso=1, IPv6 outer" fd04::2 5403
pair_endpoints 192.168.244.1 192.168.244.2 13000

echo 0 >"$RXG"
b0=$(jstat n2 jazz0 rx_gro_batches)
iperf_step 5404 "rx_gro=0: 2 MB of TCP through the tunnel" "$T/iperf.5404" -c 10.4.0.2 -n 2M
check_eq "rx_gro=0: no GRO batch counted" "$(jstat n2 jazz0 rx_gro_batches)" "$b0"
echo 1 >"$RXG"

# ------------------------------------------------------ hostile batches
ns_add ha hb
veth ha vha hb vhb
addr ha vha 10.78.0.1/24 fd78::1/64
addr hb vhb 10.78.0.2/24 fd78::2/64
hb ip link add jzb type jazz
addr hb jzb 10.9.0.1/24 fd09::1/64
check "GRO (NAPI) on the device's veth" hb $PY "$FEAT" vhb rx-gro=on
# shellcheck disable=SC2086
check "no TSO / UDP segmentation offload on the sender's veth" ha $PY "$FEAT" vha $NOTSO
tap_of ha $PY "$JAZZ_TOP/tests/fuzz-kernel/pkt_batch.py" \
	--netns "$(ns_name hb)" --dev jzb --dst4 10.78.0.2 --dst6 fd78::2 --port 41000

# ------------------------------------------------------ teardown
bg n2 iperf3 -s -p 5405
wait_listen n2 tcp 5405
n1 iperf3 -c 10.4.0.2 -p 5405 -t 30 >/dev/null 2>&1 &
CP=$!
sleep 3
check "n2's device deleted under batched traffic" n2 ip link del jazz0
kill "$CP" 2>/dev/null
wait "$CP" 2>/dev/null
n1 ip link del jazz0
hb ip link del jzb
check "rmmod after batched traffic" rmmod jazz
check "every object freed at unload" bash -c "dmesg | grep 'jazz: unloaded' | tail -1 | grep -q 'devices 0 peers 0 keys 0'"
modprobe jazz
dmesg_check
