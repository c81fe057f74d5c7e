#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# jazzctl's direct-connection commands against jazz.ko: answer (approve-all,
# deny-all, rules), monitor of the approvals group (JSON lines), conns
# (text and JSON, with the decision wait), conn approve ahead of traffic,
# conn del, conn flush, the errors for unknown cookies, and the approver
# probe (jazzctl probe answered by jazzctl answer, no listener, a listener
# that does not answer, a used cookie, the result unicast to the prober).
#
# Usage (inside the VM): scripts/vm.sh --each tests/vm/netlink-conn.sh
#   n1: veth1 10.97.0.1/24  jazz0 10.201.0.1/24 port 51840
#   n2: veth2 10.97.0.2/24  jazz0 10.201.0.2/24 port 51841
. "$(dirname "$0")/lib.sh"

need_root
need_cmd ip ping
need_module jazz
JZ=$JAZZ_TOP/build/jazzctl
[ -x "$JZ" ] || { not_ok "build/jazzctl exists (run make userspace on the host)"; exit 1; }
T=$(mktemp -d)
on_exit rm -rf "$T"
dmesg_mark
pyget() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# pylines FILE EXPR: EXPR over L, the list of JSON lines in FILE.
pylines() { $PY -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(eval(sys.argv[2]))' "$1" "$2"; }
stop() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; true; }

ns_add n1 n2
check "veth underlay" veth n1 veth1 n2 veth2
addr n1 veth1 10.97.0.1/24
addr n2 veth2 10.97.0.2/24
K1=3333333333333333333333333333333333333333333333333333333333333333
K2=4444444444444444444444444444444444444444444444444444444444444444
for n in 1 2; do
	o=$((3 - n))
	check "jazz0 in n$n" ip -n "$(ns_name n$n)" link add jazz0 type jazz
	# other-idle 600s: the icmp entry must outlive the checks before its
	# conn-del (30 s by default; the debug kernel took longer than that).
	check "configure n$n (conncheck on, approval-timeout 4s)" "n$n" "$JZ" set jazz0 \
		listen-port $((51839 + n)) conncheck on approval-timeout 4s other-idle 600s \
		peer 1 remote-id 1 name "node$o" endpoint "10.97.0.$o:$((51839 + o))" allowed-ips "10.201.0.$o/32"
	addr "n$n" jazz0 "10.201.0.$n/24"
done
check "key n1" n1 "$JZ" key jazz0 new peer 1 slot primary id 1 cipher aes-256-gcm \
	tx "$K1:01010101" rx "$K2:02020202"
check "key n2" n2 "$JZ" key jazz0 new peer 1 slot primary id 1 cipher aes-256-gcm \
	tx "$K2:02020202" rx "$K1:01010101"

# ------------------------------------------------------------ approve-all
bg n1 "$JZ" monitor --json --group approvals >"$T/mon1" 2>&1
mon=$!
bg n1 "$JZ" answer jazz0 approve-all --json >"$T/ans1" 2>&1
a1=$!
bg n2 "$JZ" answer jazz0 approve-all >"$T/ans2" 2>&1
a2=$!
sleep 1
check "ping held, approved at both ends, delivered" n1 ping -c 3 -i 0.3 -W 5 10.201.0.2
check_eq "n1 answered its egress request" "$(pylines "$T/ans1" \
	'[(x["verdict"], x["ok"], x["direction"], x["proto"], x["src"], x["dst"]) for x in L][:1]')" \
	"[('approve', True, 'egress', 'icmp', '10.201.0.1', '10.201.0.2')]"
check "n2 answered the ingress request" grep -q "^approve jazz0 cookie [0-9]* peer 1 (node1) ingress icmp 10.201.0.1 -> 10.201.0.2" "$T/ans2"
check_eq "monitor saw the conn-request" "$(pylines "$T/mon1" \
	'[(x["event"], x["peer_name"], x["cookie"].isdigit()) for x in L if x["event"] == "conn-request"][:1]')" \
	"[('conn-request', 'node2', True)]"
check "conns --json" to_file "$T/conns.json" n1 "$JZ" conns jazz0 --json
check_eq "conns: one approved icmp entry" "$(pyget "$T/conns.json" \
	'[(c["state"], c["proto"], c["direction"]) for c in d]')" "[('approved', 'icmp', 'egress')]"
# 3 echo requests and 3 replies; the first request was held, which the
# kernel may or may not count as a packet of the connection.
np=$(pyget "$T/conns.json" 'd[0]["packets"] if d else 0')
check "conns: packets counted in both directions ($np)" test "${np:-0}" -ge 5
check "conns text" bash -c "ip netns exec $(ns_name n1) $JZ conns | grep -q '^jazz0 cookie .* egress icmp 10.201.0.1 -> 10.201.0.2 id .* approved'"
check "conns all" bash -c "ip netns exec $(ns_name n1) $JZ conns all | grep -q approved"
# The decision wait: from the held first packet to its release, in ns.
wait=$(pyget "$T/conns.json" 'd[0].get("wait_ns", 0) if d else 0')
age=$(pyget "$T/conns.json" 'd[0]["age_ms"] if d else 0')
diag "decision wait of the approved entry: $wait ns (age $age ms)"
check "conns: wait_ns > 0 on the approved entry" test "${wait:-0}" -gt 0
check "conns: wait_ns below the 4 s approval timeout and the entry's age" \
	test "${wait:-0}" -lt 4000000000 -a "${wait:-0}" -le $(((age + 1) * 1000000))
vwait=$(pyget "$T/conns.json" 'd[0].get("verdict_ns", 0) if d else 0')
check "conns: 0 < verdict_ns <= wait_ns ($vwait ns: the wait until the verdict arrived)" \
	test "${vwait:-0}" -gt 0 -a "${vwait:-0}" -le "${wait:-0}"
check "conns text shows the wait" bash -c "ip netns exec $(ns_name n1) $JZ conns jazz0 | grep -Eq ' wait [0-9]+\.[0-9]us verdict-after [0-9]+\.[0-9]us$'"
cookie=$(pyget "$T/conns.json" 'd[0]["cookie"]')
check "conn del cookie $cookie" n1 "$JZ" conn jazz0 del cookie "$cookie"
check_eq "entry gone" "$(n1 "$JZ" conns jazz0 | wc -l)" 0
stop "$a1" "$a2" "$mon"
check "the expiry was reported" grep -q '"event":"conn-expire"' "$T/mon1"

# ------------------------------------------------------------ verdicts ahead of traffic
check "pre-approve udp by addresses" n1 "$JZ" conn jazz0 approve proto udp \
	from 10.201.0.1:5000 to 10.201.0.2:6000 peer 1 lifetime 60
check "conns shows it approved" bash -c \
	"ip netns exec $(ns_name n1) $JZ conns jazz0 | grep -q 'udp 10.201.0.1:5000 -> 10.201.0.2:6000 approved'"
check "conns: no wait for a verdict ahead of traffic" bash -c \
	"ip netns exec $(ns_name n1) $JZ conns jazz0 --json | grep -q '\"state\":\"approved\"' && ! ip netns exec $(ns_name n1) $JZ conns jazz0 --json | grep -q _ns"
check "conn del by addresses" n1 "$JZ" conn jazz0 del proto udp from 10.201.0.1:5000 to 10.201.0.2:6000
check "pre-deny tcp" n1 "$JZ" conn jazz0 deny proto tcp from 10.201.0.1:5001 to 10.201.0.2:22
check "conns shows it denied" bash -c \
	"ip netns exec $(ns_name n1) $JZ conns jazz0 | grep -q 'tcp 10.201.0.1:5001 -> 10.201.0.2:22 denied'"
check "conn flush peer 1" n1 "$JZ" conn jazz0 flush peer 1
check "conn flush" n1 "$JZ" conn jazz0 flush
check_eq "table empty" "$(n1 "$JZ" conns jazz0 | wc -l)" 0
err=$(n1 "$JZ" conn jazz0 approve cookie 123456789 2>&1)
check_eq "unknown cookie: exit 1 with context" "$?:${err%%:*}:$(cut -d: -f2 <<<"$err")" "1:jazzctl: jazz0"

# ------------------------------------------------------------ deny-all
bg n1 "$JZ" answer jazz0 deny-all --count 1 >"$T/deny1" 2>&1
d1=$!
sleep 1
check_fail "ping denied" n1 ping -c 1 -W 3 10.201.0.2
wait_for 5 grep -q '^deny jazz0' "$T/deny1"
check "deny-all answered and exited after --count 1" bash -c "grep -q '^deny jazz0 cookie' $T/deny1 && ! kill -0 $d1 2>/dev/null"
check "conn flush after deny" n1 "$JZ" conn jazz0 flush

# ------------------------------------------------------------ rules
cat >"$T/rules" <<'EOF'
# first match wins
deny peer mallory
deny proto tcp dport 22
approve lifetime 30 proto icmp to 10.201.0.2/32
EOF
bg n1 "$JZ" answer jazz0 rules "$T/rules" --json >"$T/r1" 2>&1
r1=$!
bg n2 "$JZ" answer jazz0 approve-all >/dev/null 2>&1
r2=$!
sleep 1
check "ping approved by rule 3" n1 ping -c 2 -i 0.3 -W 5 10.201.0.2
check_eq "rule 3 matched" "$(pylines "$T/r1" '[(x["verdict"], x["rule"]) for x in L][:1]')" "[('approve', 3)]"
stop "$r1" "$r2"
printf 'approve bogus 1\n' >"$T/badrules"
err=$(n1 "$JZ" answer jazz0 rules "$T/badrules" 2>&1)
check_eq "bad rules file: exit 2, file and line quoted" "$?:$err" "2:jazzctl: $T/badrules:1: unknown match 'bogus'"

# ------------------------------------------------------------ approver probe
TOOL=$JAZZ_TOP/tests/vm/netlink_tool.py
err=$(n1 "$JZ" probe jazz0 2>&1)
check_eq "probe with nobody listening: refused at once, exit 1" "$?:$err" \
	"1:jazzctl: probe jazz0: No such process: nobody listens on approvals"
bg n1 "$JZ" monitor --json --group approvals >"$T/pmon" 2>&1
pm=$!
sleep 1
err=$(n1 "$JZ" probe jazz0 --timeout 500 2>&1)
check_eq "probe heard but not answered: exit 1 after the timeout" "$?:$err" \
	"1:jazzctl: probe jazz0: no listener answered within 500 ms"
bg n1 "$JZ" answer jazz0 approve-all --json >"$T/pans" 2>&1
pa=$!
# A second prober in the same netns: must never see the first one's results.
bg n1 "$JZ" monitor --json --group all >"$T/pall" 2>&1
pl=$!
sleep 1
check "probe answered by jazzctl answer" to_file "$T/probe1" n1 "$JZ" probe jazz0
diag "$(cat "$T/probe1")"
read -r pcookie prtt plistener < <(awk '{ print $4, $6, $9 }' "$T/probe1")
check "probe: cookie, rtt > 0, listener port id" awk -v c="$pcookie" -v r="$prtt" -v l="$plistener" \
	'BEGIN { exit !(c ~ /^[0-9]+$/ && r + 0 > 0 && l + 0 > 0) }'
check "probe --count 50: summary" to_file "$T/probe50" n1 "$JZ" probe jazz0 --count 50
diag "$(cat "$T/probe50")"
check "summary: 50 answered, min <= median <= max, all > 0" awk \
	'{ exit !($3 == 50 && $7 > 0 && $10 <= $7 && $7 <= $16) }' "$T/probe50"
r=$(n1 $PY "$TOOL" probe-reply jazz0 "$pcookie")
check_eq "reply with the used cookie again: ENOENT with extack" "$r" \
	"ENOENT no probe with this cookie (unknown, answered, or expired)"
sleep 0.5
stop "$pa" "$pm" "$pl"
np=$(pylines "$T/pans" 'len([x for x in L if x.get("event") == "approver-probe" and x["ok"]])')
check_eq "answer replied to the 51 probes sent while it listened" "$np" 51
check_eq "monitor saw 52 probes on approvals" "$(pylines "$T/pmon" \
	'len([x for x in L if x["event"] == "approver-probe"])')" 52
# (A result would show as event "unknown": monitor has no name for it.)
check_eq "a second socket saw the 51 probes and no result (unicast to the prober)" \
	"$(pylines "$T/pall" '(len([x for x in L if x["event"] == "approver-probe"]), "unknown" in set(x["event"] for x in L))')" \
	"(51, False)"

check "delete devices" bash -c "ip -n $(ns_name n1) link del jazz0 && ip -n $(ns_name n2) link del jazz0"
dmesg_check "kernel log clean"
