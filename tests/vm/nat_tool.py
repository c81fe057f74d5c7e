#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""STUN on the tunnel socket (issue 20), for tests/vm/nat-*.sh. A raw generic
netlink client (netlink_tool.py's), independent of jazzd and jazzctl.

  nat_tool.py listen OUT SECS [N]       join the "stun" group; write each
                                        stun-rx-ntf as a JSON line to OUT
                                        until N arrived or SECS passed
  nat_tool.py hold RCVBUF SECS          join "stun" with SO_RCVBUF RCVBUF and
                                        never read; print "portid P", sleep
  nat_tool.py send DEV ADDR PORT HEX    stun-send; print "ok" or "ERRNO extack"
  nat_tool.py sendstorm DEV ADDR PORT SECS  stun-send until SECS pass or the
                                        device is gone; print counts by answer
  nat_tool.py hostile DEV ADDR PORT     malformed stun-send requests and the
                                        reserved peer id: PASS/FAIL lines
  nat_tool.py unpriv DEV ADDR PORT      (as nobody) stun-send and joining
                                        "stun" refused: PASS/FAIL lines
  nat_tool.py userns DEV ADDR PORT READY GO  (as a user namespace's root)
                                        write READY, wait for GO, then
                                        stun-send refused, dev-get and joining
                                        "stun" allowed: PASS/FAIL lines
  nat_tool.py request [LEN]             print a binding request (hex), LEN
                                        bytes (default 20; padded with an
                                        attribute)
  nat_tool.py udpsend DST PORT HEX[,HEX...] N [SPORT [EVERY PAUSE]]  send
                                        each HEX N times from a plain UDP
                                        socket, pausing PAUSE s after every
                                        EVERY; print "sent TOTAL"
  nat_tool.py udprecv PORT OUT N SECS   plain UDP socket: write "SRC PORT HEX"
                                        lines to OUT for N datagrams
"""
import errno
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlink_tool as nt  # noqa: E402

J, A = nt.J, nt.A
COOKIE = 0x2112A442


def stun_msg(mtype=0x0001, body=b"", txid=None, length=None, cookie=COOKIE):
    txid = txid if txid is not None else os.urandom(12)
    ln = len(body) if length is None else length
    return struct.pack(">HHI", mtype, ln, cookie) + txid + body


def request_hex(total=20):
    total = int(total)
    if total == 20:
        return stun_msg().hex()
    # SOFTWARE (0x8022) attribute padding the message to TOTAL bytes.
    vlen = total - 24
    return stun_msg(body=struct.pack(">HH", 0x8022, vlen) + b"j" * vlen).hex()


def stun_nest(addr=None, port=None, data=None, extra=b""):
    parts = []
    if addr is not None:
        raw = addr if isinstance(addr, bytes) else socket.inet_pton(
            socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)
        parts.append(nt.attr(J["JAZZ_A_STUN_ADDR"], raw))
    if port is not None:
        parts.append(nt.be16(J["JAZZ_A_STUN_PORT"], port))
    if data is not None:
        parts.append(nt.attr(J["JAZZ_A_STUN_DATA"], data))
    return nt.nest(A("STUN"), *parts, extra)


def do_send(g, devname, addr, port, data, extra=b""):
    return g.req(J["JAZZ_CMD_STUN_SEND"], nt.dev(devname) + stun_nest(addr, port, data, extra))


def send(devname, addr, port, hexdata):
    r = do_send(nt.Genl(), devname, addr, int(port), bytes.fromhex(hexdata))
    print("ok" if r.error == 0 else f"{errno.errorcode.get(r.error, r.error)} {r.msg}")
    return r.error == 0


def parse_ntf(body):
    d = {}
    for t, v in nt.parse_attrs(body):
        if t == A("IFINDEX"):
            d["ifindex"] = struct.unpack("=I", v)[0]
        elif t == A("STUN"):
            for tt, vv in nt.parse_attrs(v):
                if tt == J["JAZZ_A_STUN_ADDR"]:
                    d["addr"] = socket.inet_ntop(socket.AF_INET if len(vv) == 4
                                                 else socket.AF_INET6, vv)
                elif tt == J["JAZZ_A_STUN_PORT"]:
                    d["port"] = struct.unpack(">H", vv)[0]
                elif tt == J["JAZZ_A_STUN_SCOPE_ID"]:
                    d["scope"] = struct.unpack("=I", vv)[0]
                elif tt == J["JAZZ_A_STUN_LOCAL_PORT"]:
                    d["local_port"] = struct.unpack("=H", vv)[0]
                elif tt == J["JAZZ_A_STUN_DATA"]:
                    d["data"] = vv.hex()
                else:
                    d.setdefault("unknown", []).append(tt)
    return d


def join(g, rcvbuf=None):
    if rcvbuf:
        g.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rcvbuf))
    g.s.setsockopt(nt.SOL_NETLINK, nt.NETLINK_ADD_MEMBERSHIP, g.groups["stun"])


def listen(outfile, secs, n=0):
    g = nt.Genl()
    join(g)
    end = time.time() + float(secs)
    got = 0
    with open(outfile, "w") as f:
        print("listening", flush=True)
        while time.time() < end and (not n or got < int(n)):
            g.s.settimeout(max(0.05, end - time.time()))
            try:
                data = g.s.recv(1 << 16)
            except socket.timeout:
                break
            except OSError as e:   # ENOBUFS: we were overrun
                f.write(json.dumps({"error": e.errno}) + "\n")
                continue
            off = 0
            while off + 16 <= len(data):
                ln, typ, _, _, _ = struct.unpack_from("=IHHII", data, off)
                if ln < 16:
                    break
                body = data[off + 16:off + ln]
                off += (ln + 3) & ~3
                if typ != g.family or body[0] != J["JAZZ_CMD_STUN_RX_NTF"]:
                    continue
                f.write(json.dumps(parse_ntf(body[4:])) + "\n")
                f.flush()
                got += 1
    return True


def hold(rcvbuf, secs):
    g = nt.Genl()
    join(g, rcvbuf)
    print(f"portid {g.s.getsockname()[0]}", flush=True)
    time.sleep(float(secs))
    return True


def sendstorm(devname, addr, port, secs):
    g = nt.Genl()
    g.s.settimeout(5)
    counts = {}
    end = time.time() + float(secs)
    data = bytes.fromhex(request_hex())
    while time.time() < end:
        r = do_send(g, devname, addr, int(port), data)
        k = "ok" if r.error == 0 else errno.errorcode.get(r.error, str(r.error))
        counts[k] = counts.get(k, 0) + 1
        if counts.get("ok") == 1 and k == "ok":
            print("running", flush=True)
        if r.error in (errno.ENODEV, None):
            break
    print(" ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return True


def hostile(devname, addr, port):
    g = nt.Genl()
    port = int(port)
    good = bytes.fromhex(request_hex())
    E = errno
    ok = True
    cases = [
        ("no stun nest", nt.dev(devname), [E.EINVAL], ""),
        ("no data", nt.dev(devname) + stun_nest(addr, port), [E.EINVAL], ""),
        ("no addr", nt.dev(devname) + stun_nest(None, port, good), [E.EINVAL], ""),
        ("no port", nt.dev(devname) + stun_nest(addr, None, good), [E.EINVAL], ""),
        ("port 0", nt.dev(devname) + stun_nest(addr, 0, good), [E.ERANGE, E.EINVAL], ""),
        ("addr of 5 bytes", nt.dev(devname) + stun_nest(b"\x0a" * 5, port, good),
         [E.EINVAL], "addr must be 4 (IPv4) or 16 (IPv6) bytes"),
        ("addr of 3 bytes", nt.dev(devname) + stun_nest(b"\x0a" * 3, port, good),
         [E.ERANGE], "size out of range"),
        ("addr of 17 bytes", nt.dev(devname) + stun_nest(b"\x0a" * 17, port, good),
         [E.ERANGE], "size out of range"),
        ("data of 19 bytes", nt.dev(devname) + stun_nest(addr, port, good[:19]),
         [E.ERANGE], "size out of range"),
        ("data over stun-max-len",
         nt.dev(devname) + stun_nest(addr, port, stun_msg(body=b"\0" * 1264)),
         [E.ERANGE], "size out of range"),
        ("data not STUN (jazz data header)",
         nt.dev(devname) + stun_nest(addr, port, b"\x01\x10" + b"\0" * 30),
         [E.EINVAL], "data is not a STUN message"),
        ("data with the wrong cookie",
         nt.dev(devname) + stun_nest(addr, port, stun_msg(cookie=0x2112A443)),
         [E.EINVAL], "data is not a STUN message"),
        ("data with the top bits set",
         nt.dev(devname) + stun_nest(addr, port, stun_msg(mtype=0xc001)),
         [E.EINVAL], "data is not a STUN message"),
        ("data whose length field lies",
         nt.dev(devname) + stun_nest(addr, port, stun_msg(body=b"\0" * 8, length=12)),
         [E.EINVAL], "data is not a STUN message"),
        ("data whose length is not a multiple of 4",
         nt.dev(devname) + stun_nest(addr, port, stun_msg(body=b"\0" * 6)),
         [E.EINVAL], "data is not a STUN message"),
        ("read-only local-port in a request",
         nt.dev(devname) + stun_nest(addr, port, good, nt.u16(J["JAZZ_A_STUN_LOCAL_PORT"], 1)),
         [E.EINVAL], ""),
        ("unknown attribute in the stun nest",
         nt.dev(devname) + stun_nest(addr, port, good, nt.u32(J["JAZZ_A_STUN_LOCAL_PORT"] + 1, 1)),
         [E.EINVAL], ""),
        ("stun attribute not nested",
         nt.dev(devname) + nt.attr(A("STUN"), nt.attr(J["JAZZ_A_STUN_DATA"], good)),
         [E.EINVAL], ""),
        ("broadcast addr", nt.dev(devname) + stun_nest("255.255.255.255", port, good),
         [E.EINVAL], "unicast"),
        ("multicast addr", nt.dev(devname) + stun_nest("224.0.0.1", port, good),
         [E.EINVAL], "unicast"),
        ("zero addr", nt.dev(devname) + stun_nest("0.0.0.0", port, good), [E.EINVAL], "unicast"),
        ("IPv6 multicast addr", nt.dev(devname) + stun_nest("ff02::1", port, good),
         [E.EINVAL, E.ENETDOWN], ""),
        ("IPv6 link-local addr without scope-id",
         nt.dev(devname) + stun_nest("fe80::1", port, good), [E.EINVAL, E.ENETDOWN], ""),
        ("unknown device", nt.dev("nosuchjazz") + stun_nest(addr, port, good), [E.ENODEV], ""),
        ("lo", nt.dev("lo") + stun_nest(addr, port, good), [E.EOPNOTSUPP], "not a jazz device"),
    ]
    for desc, payload, errnos, msg in cases:
        ok = nt.expect(g, "stun-send " + desc, "JAZZ_CMD_STUN_SEND", payload, errnos, msg) and ok
    # A subnet broadcast is found by the route, not by the address's form.
    bcast = addr.rsplit(".", 1)[0] + ".255"
    ok = nt.expect(g, "stun-send to the subnet broadcast " + bcast, "JAZZ_CMD_STUN_SEND",
                   nt.dev(devname) + stun_nest(bcast, port, good), [E.EINVAL],
                   "broadcast or multicast") and ok
    ok = nt.expect(g, "peer-new with the STUN cookie as id refused", "JAZZ_CMD_PEER_NEW",
                   nt.dev(devname) + nt.peer(nt.pid(COOKIE)), [E.EINVAL],
                   "STUN magic cookie") and ok
    r = do_send(g, devname, addr, port, good)
    ok = nt.out(r.error == 0, f"a valid stun-send still works: {r!r}", "refused") and ok
    return ok


def unpriv(devname, addr, port):
    if os.geteuid() == 0:
        return nt.out(False, "unpriv", "run me as an unprivileged user")
    g = nt.Genl()
    r = do_send(g, devname, addr, int(port), bytes.fromhex(request_hex()))
    ok = nt.out(r.error == errno.EPERM, f"unprivileged stun-send refused: {r!r}", "want EPERM")
    try:
        join(g)
        ok = nt.out(False, "unprivileged join of 'stun' refused", "join succeeded") and ok
    except OSError as e:
        ok = nt.out(e.errno == errno.EPERM, f"unprivileged join of 'stun' refused: {e.strerror}",
                    "want EPERM") and ok
    return ok


def udpsend(dst, port, hexdata, n, sport=0, every=0, pause=0):
    """HEXDATA may be several messages separated by commas: each sent N times,
    with a PAUSE (seconds) after every EVERY datagrams."""
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if int(sport):
        s.bind(("", int(sport)))
    sent = 0
    for h in hexdata.split(","):
        data = bytes.fromhex(h)
        for _ in range(int(n)):
            try:
                s.sendto(data, (dst, int(port)))
                sent += 1
            except OSError:
                pass
            if int(every) and sent % int(every) == 0:
                time.sleep(float(pause))
    print(f"sent {sent}")
    return True


def userns(devname, addr, port, readyfile, gofile):
    """Run as a user namespace's root, in its netns: wait for GOFILE (the
    device was moved in), then try stun-send and joining the group."""
    open(readyfile, "w").write("ready\n")
    end = time.time() + 60
    while not os.path.exists(gofile) and time.time() < end:
        time.sleep(0.1)
    g = nt.Genl()
    r = do_send(g, devname, addr, int(port), bytes.fromhex(request_hex()))
    ok = nt.out(r.error == errno.EPERM and "where the sockets live" in r.msg,
                f"a user namespace's admin may not send from sockets of the initial one: {r!r}",
                "want EPERM 'stun-send needs CAP_NET_ADMIN where the sockets live'")
    r = g.req(J["JAZZ_CMD_DEV_GET"], nt.dev(devname))
    ok = nt.out(r.error == 0, f"... while it administers the device: dev-get {r!r}",
                "dev-get refused") and ok
    try:
        join(g)
        ok = nt.out(True, "... and may join the stun group of its own namespace") and ok
    except OSError as e:
        ok = nt.out(False, "... and may join the stun group of its own namespace", e.strerror)
    return ok


def udprecv(port, outfile, n, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", int(port)))
    end = time.time() + float(secs)
    got = 0
    with open(outfile, "w") as f:
        print("listening", flush=True)
        while got < int(n) and time.time() < end:
            s.settimeout(max(0.05, end - time.time()))
            try:
                data, src = s.recvfrom(65535)
            except socket.timeout:
                break
            f.write(f"{src[0]} {src[1]} {data.hex()}\n")
            f.flush()
            got += 1
    return True


def main():
    cmds = {"listen": listen, "hold": hold, "send": send, "sendstorm": sendstorm,
            "hostile": hostile, "unpriv": unpriv, "userns": userns, "udpsend": udpsend, "udprecv": udprecv,
            "request": lambda *a: print(request_hex(*a)) or True}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    sys.exit(0 if cmds[sys.argv[1]](*sys.argv[2:]) else 1)


if __name__ == "__main__":
    main()
