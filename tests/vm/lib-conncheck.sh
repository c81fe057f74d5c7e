# SPDX-License-Identifier: GPL-2.0
# Shared setup of the direct-connection check tests (conncheck.sh,
# conncheck-burst.sh), sourced by them (it sources lib.sh). Two namespaces n1 and
# n2 joined by a veth, a jazz0 in each, peers and keys set, a Python helper
# tool ($T/tool.py) for TCP/UDP probes, floods, sinks and group joins.
. "$(dirname "$0")/lib.sh"

need_root
need_cmd ip ping setpriv
need_module jazz
TOP=${JAZZ_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
JZ=$TOP/build/jazzctl
NLT=$TOP/tests/vm/netlink_tool.py
[ -x "$JZ" ] || { not_ok "build/jazzctl exists (run make userspace on the host)"; exit 1; }
T=$(mktemp -d)
on_exit rm -rf "$T"
dmesg_mark

stop() { kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; true; }
# jstat NS NAME: a device counter of jazz0 in NS (netlink_tool.py client).
jstat() { ip netns exec "$(ns_name "$1")" $PY "$NLT" stats jazz0 | sed -n "s/^$2=//p"; }
# conns NS EXPR: EXPR over d, the JSON list of NS's jazz0 connections.
conns() {
	ip netns exec "$(ns_name "$1")" "$JZ" conns jazz0 --json >"$T/c.json" 2>&1 || return 1
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/c.json" "$2"
}
# pylines FILE EXPR: EXPR over L, the list of JSON lines in FILE.
pylines() { $PY -c 'import json,sys; L=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print(eval(sys.argv[2]))' "$1" "$2"; }
cobj() { sed -n "s/.*$1 \([0-9]*\).*/\1/p" /sys/module/jazz/parameters/conn_objects; }
is() { [ "$("$@" | tail -n1)" = "$EXPECT" ]; }
expect() { EXPECT=$1; shift; wait_for "$@"; }

cat >"$T/tool.py" <<'PYEOF'
import hashlib, os, socket, sys, time
mode = sys.argv[1]
if mode == "server":		# server ADDR PORT: one TCP connection, reply "len sha"
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.listen(1)
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.sendall(f"{n} {h.hexdigest()}".encode())
    c.close()
elif mode == "client":		# client ADDR PORT NBYTES: print "ours theirs"
    data = os.urandom(int(sys.argv[4]))
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    r = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        r += b
    print(f"{len(data)} {hashlib.sha256(data).hexdigest()}|{r.decode()}")
elif mode == "connect":		# connect ADDR PORT: "errno-name seconds"
    t0 = time.monotonic()
    try:
        socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=10)
        print("connected", round(time.monotonic() - t0, 2))
    except OSError as e:
        import errno
        print(errno.errorcode.get(e.errno, str(e)), round(time.monotonic() - t0, 2))
elif mode == "udpsend":		# udpsend SRC SPORT DST DPORT N
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    for i in range(int(sys.argv[6])):
        s.sendto(b"x%d" % i, (sys.argv[4], int(sys.argv[5])))
        time.sleep(0.05)
elif mode == "udprecv":		# udprecv ADDR PORT SECS: print datagrams received
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.settimeout(float(sys.argv[4]))
    n = 0
    try:
        while True:
            s.recv(100)
            n += 1
    except socket.timeout:
        pass
    print(n)
elif mode == "flood":		# flood SRC DST DPORT N: N UDP flows, source ports 20000+
    src, dst, dport, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    sent = 0
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 20000 + i))
        try:
            s.sendto(b"f", (dst, dport))
            sent += 1
        except OSError:
            pass
        s.close()
    print(sent)
elif mode == "udpboth":	# udpboth SRC SPORT DST DPORT DELAY SECS: send one, count received
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    time.sleep(float(sys.argv[6]))
    s.sendto(b"both", (sys.argv[4], int(sys.argv[5])))
    s.settimeout(float(sys.argv[7]))
    n = 0
    try:
        while True:
            s.recv(100)
            n += 1
            s.settimeout(1)
    except socket.timeout:
        pass
    print(n)
elif mode == "sink":		# sink ADDR PORT N SECS: count datagrams until N or SECS idle
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Released together, the held packets arrive as one burst: FORCE, as
    # SO_RCVBUF is capped by rmem_max (about 400 datagrams' worth).
    s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 1 << 23)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.settimeout(float(sys.argv[5]))
    n = 0
    try:
        while n < int(sys.argv[4]):
            s.recv(100)
            n += 1
    except socket.timeout:
        pass
    print(n)
elif mode == "join":		# join GROUP: join a jazz multicast group, print result
    sys.path.insert(0, os.path.dirname(sys.argv[3]))
    import netlink_tool as nt
    g = nt.Genl()
    try:
        g.s.setsockopt(nt.SOL_NETLINK, nt.NETLINK_ADD_MEMBERSHIP, g.groups[sys.argv[2]])
        print("joined")
    except OSError as e:
        import errno
        print(errno.errorcode.get(e.errno, str(e)))
PYEOF
tool() { local ns=$1; shift; ip netns exec "$(ns_name "$ns")" $PY "$T/tool.py" "$@"; }

setup_peer() { # N: peer, key of jazz0 in nN
	local n=$1 o=$((3 - $1))
	ip netns exec "$(ns_name "n$n")" "$JZ" set jazz0 \
		peer 1 remote-id 1 name "node$o" endpoint "10.98.0.$o:$((51849 + o))" \
		allowed-ips "10.202.0.$o/32,fd00:202::$o/128" || return 1
	ip netns exec "$(ns_name "n$n")" "$JZ" key jazz0 new peer 1 slot primary id 1 \
		cipher chacha20-poly1305 tx "$(printf "%064d" "$n"):0000000$n" rx "$(printf "%064d" "$o"):0000000$o"
}
setup() {
	local n
	for n in 1 2; do
		ip -n "$(ns_name "n$n")" link add jazz0 type jazz || return 1
		ip netns exec "$(ns_name "n$n")" "$JZ" set jazz0 listen-port $((51849 + n)) \
			approval-timeout 30s deny-backoff 20s || return 1
		setup_peer "$n" || return 1
		addr "n$n" jazz0 "10.202.0.$n/24" "fd00:202::$n/64" || return 1
	done
}

ns_add n1 n2
check "veth underlay" veth n1 veth1 n2 veth2
addr n1 veth1 10.98.0.1/24
addr n2 veth2 10.98.0.2/24
check "two jazz devices, peers and keys" setup
