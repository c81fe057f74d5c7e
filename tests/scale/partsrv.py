#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""partsrv: a lying jazz server for tests/host/scale-parts.sh.

TLS 1.3 on 127.0.0.1:PORT with the test's certificate. Each connection:
read the login frame, send a welcome (no authentication proof: the client
under test has already made its token), then the script of that
connection (its number, 1, 2, ...), and hold the connection until the
client closes it. Lines "conn N closed" go to stdout.

  partsrv.py PORT CERT KEY
"""
import json, socket, ssl, struct, sys, threading

PORT, CERT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def entry(i):
    return {"id": i, "device": "p%d" % i, "user": "alice", "realm": "R",
            "vip4": "10.77.1.%d" % i, "vip6": "fd77::1:%d" % i, "linked": True,
            "endpoint": {"ip": "127.0.0.1", "port": 40000 + i}}


def part(ids, no=None, more=None):
    m = {"type": "peers", "peers": [entry(i) for i in ids],
         "users": [{"user": "alice", "realm": "R"}]}
    if no is not None:
        m["part"] = no
    if more is not None:
        m["more"] = more
    return m


SCRIPTS = {
    # a good list in 3 parts, then a part 1 without a list in progress
    1: [part([2, 3], 0, True), part([4, 5], 1, True), part([6], 2, False),
        part([7], 1, False)],
    # part 0 of a new list, then a delta in the middle of it
    2: [part([10, 11], 0, True),
        {"type": "peers_delta", "set": [entry(12)], "del": []}],
    # part 0, then part 2: one missing
    3: [part([20, 21], 0, True), part([22], 2, False)],
    # "part" of the wrong type
    4: [part([30], "0", False)],
    # "more" of the wrong type
    5: [part([40], 0, "yes")],
    # a good list in 2 parts, held
    6: [part([2, 3, 4], 0, True), part([8], 1, False)],
}


def send(s, m):
    m["v"] = 1
    b = json.dumps(m, separators=(",", ":")).encode()
    s.sendall(struct.pack(">I", len(b)) + b)


def recv(s):
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    n = struct.unpack(">I", hdr)[0]
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return json.loads(b)


def serve(conn, no):
    try:
        login = recv(conn)
        if not login:
            return
        send(conn, {"type": "welcome", "user": "alice", "realm": "R",
                    "device": login.get("device", "?"), "id": 1,
                    "vip4": "10.77.1.1", "vip6": "fd77::1:1", "prefix4": 16,
                    "prefix6": 64, "keepalive": 30})
        for m in SCRIPTS.get(no, []):
            send(conn, m)
        while recv(conn) is not None:
            pass
    except OSError:
        pass
    finally:
        print("conn %d closed" % no, flush=True)
        conn.close()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(CERT, KEY)
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", PORT))
lsock.listen(8)
print("listening", flush=True)
n = 0
while True:
    raw, _ = lsock.accept()
    n += 1
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        continue
    threading.Thread(target=serve, args=(conn, n), daemon=True).start()
