#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The jazzd server's STUN port ([server] stun_listen, server/stun.c; issue
# 20) from outside, with a STUN client of its own (Python, not jazz's codec):
# binding requests over IPv4 and IPv6 (a dual-stack "[::1]" socket answers
# IPv4 as IPv4) get their source back in XOR-MAPPED-ADDRESS under their
# transaction id; malformed datagrams, responses, indications and requests
# with an unknown comprehension-required attribute get no answer; a flood is
# answered at most stun_rate a second and the server keeps serving (STUN and
# TLS); bad settings stop the server at start with a message. No KDC: the
# STUN port needs none. About 10 s.
set -u
. "$(dirname "$0")/lib/tap.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
JAZZD=${JAZZD:-$TOP/build/jazzd}
PY=/usr/bin/python3
[ -x "$JAZZD" ] || make -C "$TOP" userspace >/dev/null || { not_ok "build jazzd"; exit 1; }
T=$(mktemp -d /tmp/jazz-stun.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

free_ports() { # N free ports (TCP and UDP) on 127.0.0.1
	$PY - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    while True:
        t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
        except OSError:
            t.close(); continue
        socks += [t, u]; print(p); break
EOF
}
read -r TLS STUN STUN2 < <(free_ports 3 | tr '\n' ' ')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/k.pem" \
	-out "$T/c.pem" -days 2 -subj /CN=stun.jazz.test 2>/dev/null

conf() { # conf FILE STUN-LINES...: a server configuration
	local f=$1
	shift
	{
		cat <<EOC
[jazzd]
mode = server
[server]
listen = 127.0.0.1:$TLS
cert = $T/c.pem
key = $T/k.pem
leases = $T/leases.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
EOC
		printf '%s\n' "$@"
	} >"$f"
}

# [::]: a dual-stack socket (it only listens; the clients use loopback).
conf "$T/s.conf" "stun_listen = [::]:$STUN" "stun_rate = 50"
"$JAZZD" -f -d -c "$T/s.conf" >"$T/s.log" 2>&1 &
PIDS+=($!)
SRV=$!
for _ in $(seq 50); do grep -q 'server listening' "$T/s.log" && break; sleep 0.1; done
check "server starts with the STUN port" grep -q "STUN binding requests answered on \[::\]:$STUN (at most 50 a second)" "$T/s.log"

# The client: prints one "PASS/FAIL desc" line per check.
$PY - "$STUN" "$TLS" >"$T/client.out" 2>&1 <<'EOF'
import os, socket, struct, sys, time
C = 0x2112A442
PORT, TLS = int(sys.argv[1]), int(sys.argv[2])

def out(ok, desc):
    print(("PASS " if ok else "FAIL ") + desc, flush=True)

def msg(t=1, body=b"", tx=None, length=None, cookie=C):
    tx = tx or os.urandom(12)
    return struct.pack(">HHI", t, len(body) if length is None else length, cookie) + tx + body, tx

def mapped(d):
    """(family, ip, port) of XOR-MAPPED-ADDRESS in response d, else None."""
    off = 20
    while off + 4 <= len(d):
        at, al = struct.unpack_from(">HH", d, off)
        v = d[off + 4:off + 4 + al]
        if at == 0x20:
            fam, xp = v[1], struct.unpack(">H", v[2:4])[0] ^ (C >> 16)
            key = struct.pack(">I", C) + d[8:20]
            ip = bytes(b ^ k for b, k in zip(v[4:], key))
            return fam, socket.inet_ntop(socket.AF_INET if fam == 1 else socket.AF_INET6, ip), xp
        off += 4 + ((al + 3) & ~3)
    return None

def ask(s, dst, data, tx, timeout=3):
    """Send data; return the first answer to tx (answers to others are kept)."""
    s.sendto(data, dst)
    s.settimeout(timeout)
    others = []
    try:
        while True:
            d, a = s.recvfrom(2000)
            if d[8:20] == tx:
                return d, a, others
            others.append(d)
    except socket.timeout:
        return None, None, others

s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s4.bind(("127.0.0.1", 0))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s6.bind(("::1", 0))
m, tx = msg()
d, a, _ = ask(s6, ("::1", PORT), m, tx)
out(d is not None and struct.unpack(">H", d[:2])[0] == 0x0101 and d[4:8] == struct.pack(">I", C),
    "IPv6 binding request: a success response with our transaction id")
out(d is not None and mapped(d) == (2, "::1", s6.getsockname()[1]),
    f"it maps our IPv6 source {s6.getsockname()[1]}: {mapped(d) if d else None}")
v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v4.bind(("127.0.0.1", 0))
m, tx = msg()
d, a, _ = ask(v4, ("127.0.0.1", PORT), m, tx)
out(d is not None and mapped(d) == (1, "127.0.0.1", v4.getsockname()[1]),
    f"an IPv4 source on the dual-stack port maps as IPv4: {mapped(d) if d else None}")

# Malformed and non-requests first, then a good request: its answer must be
# the first thing that comes back (one socket, answered in order).
bad = {
    "length field lies": msg(length=8)[0],
    "no magic cookie": msg(cookie=0x2112A443)[0],
    "first bits set": msg(t=0xC001)[0],
    "19 bytes": msg()[0][:19],
    "attribute past the end": msg(body=struct.pack(">HH", 0x8022, 40) + b"x" * 4)[0],
    "1284 bytes": msg(body=struct.pack(">HH", 0x8022, 1260) + b"x" * 1260)[0],
    "a success response": msg(t=0x0101)[0],
    "an indication": msg(t=0x0011)[0],
    "an unknown comprehension-required attribute": msg(body=struct.pack(">HH", 0x7777, 4) + b"abcd")[0],
    "USERNAME (authentication it does not do)": msg(body=struct.pack(">HH", 0x0006, 4) + b"user")[0],
    "a bad XOR-MAPPED-ADDRESS family": msg(body=struct.pack(">HHBBH", 0x20, 8, 0, 3, 1) + b"abcd")[0],
}
for desc, data in bad.items():
    s6.sendto(data, ("::1", PORT))
m, tx = msg(body=struct.pack(">HH", 0x8022, 4) + b"jazz")   # SOFTWARE: optional, fine
d, a, others = ask(s6, ("::1", PORT), m, tx)
out(d is not None, "a request with an optional attribute (SOFTWARE) is answered")
out(not others, f"none of {len(bad)} malformed or non-request datagrams was answered "
    f"({', '.join(bad)}): got {len(others)}")

# Flood: 1000 requests as fast as we can; count answers until 2 s of quiet.
f = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); f.bind(("::1", 0))
f.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
t0 = time.time()
for _ in range(1000):
    f.sendto(msg()[0], ("::1", PORT))
t1 = time.time()
got = 0
f.settimeout(2)
try:
    while True:
        f.recvfrom(2000); got += 1
except socket.timeout:
    pass
bound = 50 + 50 * (t1 - t0 + 1)
out(0 < got <= bound, f"a flood of 1000 requests in {t1 - t0:.2f} s: {got} answered, "
    f"at most 50 + 50 a second ({bound:.0f})")
time.sleep(1.1)
m, tx = msg()
d, a, _ = ask(s6, ("::1", PORT), m, tx)
out(d is not None, "after the flood a request is answered again")
t = socket.create_connection(("127.0.0.1", TLS), timeout=3)
out(True, "the TLS port still accepts connections")
t.close()
EOF
while IFS= read -r line; do
	case "$line" in
	"PASS "*) ok "${line#PASS }" ;;
	"FAIL "*) not_ok "${line#FAIL }" ;;
	*) echo "# $line" ;;
	esac
done <"$T/client.out"
check "the client ran all its checks" test "$(grep -c '^PASS\|^FAIL' "$T/client.out")" = 8
check "server still running" kill -0 "$SRV"
kill "$SRV"
wait "$SRV"
check "at exit it logs what it answered" grep -Eq 'STUN port closed: [0-9]+ answered, [1-9][0-9]* over the rate, 11 ignored' "$T/s.log"

# Bad settings stop the server at start.
bad_start() { # bad_start DESC MESSAGE LINES...
	local desc=$1 want=$2
	shift 2
	conf "$T/b.conf" "$@"
	if timeout 10 "$JAZZD" -f -c "$T/b.conf" >"$T/b.log" 2>&1; then
		not_ok "$desc: the server started"
	elif grep -qF "$want" "$T/b.log"; then
		ok "$desc: refused ($want)"
	else
		not_ok "$desc: refused without '$want'"
		sed 's/^/#   /' "$T/b.log" | tail -3
	fi
}
bad_start "stun_rate = 0" "stun_rate must be at least 1" "stun_listen = 127.0.0.1:$STUN2" "stun_rate = 0"
bad_start "an unparsable stun_listen" "stun_listen: cannot parse" "stun_listen = nowhere"
python_holder() { $PY -c 'import socket,sys,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1]))); print("bound",flush=True); time.sleep(30)' "$1"; }
python_holder "$STUN2" >"$T/holder.out" &
PIDS+=($!)
for _ in $(seq 50); do grep -q bound "$T/holder.out" && break; sleep 0.1; done
bad_start "a stun_listen port in use" "Address already in use" "stun_listen = 127.0.0.1:$STUN2"
echo "1..$n"
tap_done
