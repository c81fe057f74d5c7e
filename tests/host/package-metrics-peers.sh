#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A client's per-peer data-path metrics (issue 17, docs/METRICS.md "Client"):
# a real server and MIT KDC, two jazzd clients with the fake kernel backend,
# alice with a [metrics] listener. Simulated traffic and drops injected into
# alice's fake kernel (its FIFO) must show on her page, per peer and for the
# device, as exactly the counters that moved; the last-receive age must
# appear with the first received packet and grow; a departed peer's series
# go. Every page is read with the reference parser (python3-prometheus-
# client). Malformed injections change nothing and leave jazzd serving.
# The real kernel's side is tests/vm/metrics-peers.sh.
set -uo pipefail

. "$(dirname "$0")/controlplane/lib.sh"
cp_setup || { nok "setup (KDC, certificate, build)"; exit 1; }
MPORT=$(free_port)
URL=http://127.0.0.1:$MPORT/metrics
PROM="/usr/bin/python3 $TOP/tests/host/lib/prom.py"

page() { curl -sS --max-time 5 "$URL" | $PROM; }	# parsed, one sample a line
metric() { page | awk -v k="$1" '$1 == k { print $2 }'; }
# settle NAME WANT: the sample reaches WANT within 5 s (copied once a second)
settle() {
	local i
	for i in $(seq 25); do [ "$(metric "$1")" = "$2" ] && return 0; sleep 0.2; done
	return 1
}
is() { # DESC WANT NAME
	if settle "$3" "$2"; then ok "$1"; else nok "$1 (got '$(metric "$3")')"; fi
}
# drops SCOPE: the nonzero drop samples of the device (dev) or bob-pc
drops() {
	if [ "$1" = dev ]; then page | grep '^jazz_device_drops_total' | grep -v ' 0$'
	else page | grep '^jazz_peer_drops_total{peer="bob-pc"'; fi
}

cp_server_conf
cp_start server
check "server starts" wait_for "$T/server.log" "server listening" 10
cp_client_conf alice-pc alice kerberos "[metrics]" "listen = 127.0.0.1:$MPORT"
cp_client_conf bob-pc bob password
cp_start alice-pc
cp_start bob-pc
check "alice and bob log in" bash -c "$(declare -f wait_for); wait_for '$T/alice-pc.log' 'logged in as alice' 20 &&
	wait_for '$T/bob-pc.log' 'logged in as bob' 20"
check "bob-pc is installed in alice's (fake) kernel" wait_for "$T/alice-pc.kernel" "peer-new .*name=bob-pc" 20
BOB=$(sed -n 's/^peer-new id=\([0-9]*\) .*name=bob-pc .*/\1/p' "$T/alice-pc.kernel" | tail -n 1)
check "alice's page parses with the reference parser (and has HELP for every family)" \
	bash -c "curl -sS --max-time 5 '$URL' | $PROM >/dev/null"
is "jazz_peers 1 (bob-pc)" 1 jazz_peers
is "no traffic yet: jazz_peer_receive_packets_total{peer=\"bob-pc\"} 0" 0 'jazz_peer_receive_packets_total{peer="bob-pc"}'
check "no packet received yet: no last-receive age for bob-pc" \
	bash -c "! curl -sS '$URL' | grep -q 'jazz_peer_last_receive_age_seconds{peer=\"bob-pc\"}'"

# Simulated traffic moves exactly the byte and packet counters, twice.
inject alice-pc "traffic peer=$BOB rx=3:300 tx=5:700"
is "traffic: receive packets 3" 3 'jazz_peer_receive_packets_total{peer="bob-pc"}'
is "traffic: receive bytes 300" 300 'jazz_peer_receive_bytes_total{peer="bob-pc"}'
is "traffic: transmit packets 5" 5 'jazz_peer_transmit_packets_total{peer="bob-pc"}'
is "traffic: transmit bytes 700" 700 'jazz_peer_transmit_bytes_total{peer="bob-pc"}'
is "device totals follow: jazz_device_receive_bytes_total 300" 300 jazz_device_receive_bytes_total
inject alice-pc "traffic peer=$BOB rx=2:1000"
is "more traffic adds up: receive packets 5" 5 'jazz_peer_receive_packets_total{peer="bob-pc"}'
is "more traffic adds up: receive bytes 1300" 1300 'jazz_peer_receive_bytes_total{peer="bob-pc"}'
is "transmit unchanged by receive-only traffic: 5" 5 'jazz_peer_transmit_packets_total{peer="bob-pc"}'
check "no drop counted by traffic" bash -c "$(declare -f page drops); URL='$URL' PROM='$PROM'; [ -z \"\$(drops dev)\" ] && [ -z \"\$(drops peer)\" ]"

# The last-receive age appears with the first received packet and grows.
a1=$(metric 'jazz_peer_last_receive_age_seconds{peer="bob-pc"}')
ts=$(metric 'jazz_peer_last_receive_timestamp_seconds{peer="bob-pc"}')
check "last-receive age present and >= 0 ($a1)" /usr/bin/python3 -c "import sys; sys.exit(0 if 0 <= float('${a1:-x}') else 1)"
check "last-receive timestamp is the wall clock of the injection ($ts, now $(date +%s))" \
	/usr/bin/python3 -c "import sys, time; t = float('${ts:-0}'); sys.exit(0 if 0 < time.time() - t < 600 else 1)"
sleep 2
a2=$(metric 'jazz_peer_last_receive_age_seconds{peer="bob-pc"}')
check "the age grows while nothing is received ($a1 -> $a2)" \
	/usr/bin/python3 -c "import sys; sys.exit(0 if float('${a2:-0}') >= float('${a1:-0}') + 1 else 1)"
inject alice-pc "traffic peer=$BOB tx=1:60"
sleep 1.5
a3=$(metric 'jazz_peer_last_receive_age_seconds{peer="bob-pc"}')
check "sending does not reset the age ($a2 -> $a3)" \
	/usr/bin/python3 -c "import sys; sys.exit(0 if float('${a3:-0}') >= float('${a2:-0}') else 1)"
inject alice-pc "traffic peer=$BOB rx=1:80"
sleep 1.5
a4=$(metric 'jazz_peer_last_receive_age_seconds{peer="bob-pc"}')
check "a received packet resets it ($a3 -> $a4)" \
	/usr/bin/python3 -c "import sys; sys.exit(0 if float('${a4:-99}') < float('${a3:-0}') else 1)"

# One drop reason moves exactly its counter.
inject alice-pc "drop peer=$BOB reason=replay count=3"
is "drop replay x3: jazz_peer_drops_total{peer=\"bob-pc\",reason=\"replay\"} 3" 3 \
	'jazz_peer_drops_total{peer="bob-pc",reason="replay"}'
check_drops() { # DESC SCOPE EXPECTED-LINES
	local got
	got=$(drops "$2" | tr '\n' ' ')
	if [ "$got" = "$3" ]; then ok "$1"; else nok "$1 (got '$got')"; fi
}
check_drops "bob-pc: only replay has counted" peer 'jazz_peer_drops_total{peer="bob-pc",reason="replay"} 3 '
check_drops "device: only replay has counted" dev 'jazz_device_drops_total{reason="replay"} 3 '
inject alice-pc "drop reason=malformed"
is "a drop with no peer: device malformed 1" 1 'jazz_device_drops_total{reason="malformed"}'
check_drops "... and the peer's drops unchanged" peer 'jazz_peer_drops_total{peer="bob-pc",reason="replay"} 3 '
inject alice-pc "traffic peer=999999 rx=4:400"
is "traffic for a peer not installed: device no_peer 4" 4 'jazz_device_drops_total{reason="no_peer"}'
is "... and counted for no peer (device receive bytes still 1380)" 1380 jazz_device_receive_bytes_total
inject alice-pc "traffic peer=999999 tx=2:200"
is "sent to a peer not installed: device tx_no_peer 2" 2 'jazz_device_drops_total{reason="tx_no_peer"}'
is "... and the receive side's no_peer still 4" 4 'jazz_device_drops_total{reason="no_peer"}'

# Hostile injections change nothing.
before=$(page | grep -E '^jazz_(peer|device)_')
for bad in "drop peer=$BOB reason=bogus" "drop peer=$BOB" "traffic peer=$BOB rx=-1:5" \
	"traffic peer=$BOB rx=5" "traffic peer=$BOB rx=1:2x" "traffic rx=1:1" \
	"traffic peer=$BOB rx=1:1 junk" "traffic peer=$BOB reason=auth" \
	"drop peer=$BOB reason=replay rx=1:1" "drop peer=$BOB reason=replay count=3x" \
	"drop peer=x$BOB reason=replay" "traffic peer=4294967297 rx=1:1" \
	"$(head -c 5000 /dev/zero | tr '\0' x)"; do
	inject alice-pc "$bad"
done
inject alice-pc "traffic peer=$BOB tx=0:0"	# a valid no-op: the FIFO was read
check "the injections after them were read" wait_for "$T/alice-pc.kernel" "injected-traffic peer=$BOB rx=0:0 tx=0:0" 5
sleep 1.5
after=$(page | grep -E '^jazz_(peer|device)_' | grep -v last_receive_age)
check "malformed injections changed no counter" test "$after" = "$(grep -v last_receive_age <<<"$before")"
check "jazzd logged them as malformed" test "$(count "$T/alice-pc.log" 'malformed (drop|traffic) injection')" -ge 11
check "alice's jazzd is still serving scrapes" bash -c "curl -sS --max-time 5 '$URL' | $PROM >/dev/null"

# bob leaves: his peer and its series go; the device keeps its totals.
cp_stop bob-pc
check "alice's kernel drops bob-pc" wait_for "$T/alice-pc.kernel" "peer-del id=$BOB" 30
is "jazz_peers 0" 0 jazz_peers
check "no bob-pc series remain" bash -c "! curl -sS '$URL' | grep -q 'peer=\"bob-pc\"'"
is "device receive bytes kept (1380)" 1380 jazz_device_receive_bytes_total
is "jazz_kernel_read_errors_total 0" 0 jazz_kernel_read_errors_total
cp_stop alice-pc
cp_stop server
cp_done
