#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Raw generic netlink client for jazz's VM tests: no libraries, so it is a
client independent of jazzctl (libmnl) and of YNL (cli.py).

  netlink_tool.py hostile DEV PEER_ID     malformed requests, each must get
                                          its specific errno and extack text
  netlink_tool.py fuzz DEV N SEED         N random requests: every one is
                                          answered, none hangs
  netlink_tool.py unpriv [DEV]            (run as nobody) dev-get, joining
                                          "approvals", and with DEV an
                                          approver-probe and a probe reply
                                          are refused
  netlink_tool.py probe-reply DEV COOKIE  send approver-probe-reply; print
                                          "errno-name extack" (ok when accepted)
  netlink_tool.py dumpstat DEV            peer-get dump: "messages M peers P"
  netlink_tool.py stats DEV               device drop/rx counters as k=v lines
  netlink_tool.py sniff IFACE PORT N OUT  capture N UDP payloads to PORT (hex lines)
  netlink_tool.py udpfuzz SRC DST PORT CAPFILE N SEED
                                          send random, truncated and
                                          bit-flipped packets; print count sent
  netlink_tool.py peerstorm IFINDEX SECS FIRST [KEEPALIVE]
                                          peer-new by ifindex (ids FIRST...,
                                          an endpoint, keepalive) as fast as
                                          possible for SECS or until the
                                          device is gone; print "accepted N"
  netlink_tool.py peerchurn DEV SECS [BASE]  peer-new/set/get/del, key-new/swap
                                          of ids BASE+1..BASE+8 for SECS, errors
                                          ignored; print counts
  netlink_tool.py bigpeer DEV ID N [v4|v6]  peer-set: give peer ID N allowed-ips
                                          (in requests of 500); print errors
  netlink_tool.py peerget DEV ID          peer-get (do): "messages M aips A
                                          error E"; the aips merged over parts
  netlink_tool.py verdict DEV COOKIE PEER|- [PROTO,SRC:P,DST:P]
                                          conn-verdict approve with a peer-id
                                          and addresses; print "ERRNO extack"
  netlink_tool.py peerdump DEV            peer-get dump: "messages M peers P
                                          aips A intr I error E"
  netlink_tool.py connfill DEV PEER N     pre-approve N UDP entries for PEER
                                          (10.66.x.y:1000 -> 10.67.0.1:2000);
                                          print "installed N"
  netlink_tool.py connchurn DEV PEER SECS N  delete and re-install those N
                                          entries for SECS; print counts
  netlink_tool.py conndump DEV            conn-get dump: "messages M conns C
                                          dups D intr I error E"

hostile/fuzz/unpriv print "PASS desc" / "FAIL desc: why" lines.
"""
import errno
import os
import random
import re
import socket
import struct
import sys
import time

TOP = os.environ.get("JAZZ_TOP") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

NETLINK_GENERIC = 16
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP = 1, 2, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 1, 10, 11
NLA_F_NESTED = 0x8000
GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 0x10, 3


def load_enums():
    """Names and values of every enum in netlink/jazz.h (the generated UAPI)."""
    text = open(os.path.join(TOP, "netlink", "jazz.h")).read()
    vals = {}
    for m in re.finditer(r"#define\s+(JAZZ_\w+)\s+(\d+)\b", text):
        vals[m.group(1)] = int(m.group(2))
    for body in re.findall(r"enum(?:\s+\w+)?\s*\{([^}]*)\}", text):
        nxt = 0
        for ent in body.split(","):
            ent = re.sub(r"/\*.*?\*/", "", ent, flags=re.S).strip()
            if not ent:
                continue
            name, _, val = ent.partition("=")
            name = name.strip()
            nxt = int(val.strip(), 0) if val.strip() else nxt
            vals[name] = nxt
            nxt += 1
    return vals


J = load_enums()


def attr(t, payload):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, t) + payload + b"\0" * ((4 - ln % 4) % 4)


def nest(t, *parts):
    return attr(t | NLA_F_NESTED, b"".join(parts))


def u8(t, v): return attr(t, struct.pack("=B", v))
def u16(t, v): return attr(t, struct.pack("=H", v))
def be16(t, v): return attr(t, struct.pack(">H", v))
def u32(t, v): return attr(t, struct.pack("=I", v))
def u64(t, v): return attr(t, struct.pack("=Q", v))
def strz(t, s): return attr(t, s.encode() + b"\0")


def parse_attrs(buf):
    out = []
    off = 0
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4 or off + ln > len(buf):
            break
        out.append((t & 0x3fff, buf[off + 4:off + ln]))
        off += (ln + 3) & ~3
    return out


class Reply:
    def __init__(self):
        self.error = None     # 0 on ack, positive errno on error, None: no reply
        self.msg = ""
        self.miss_type = None
        self.msgs = []        # data messages (genl payload after the header)
        self.intr = False     # a message had NLM_F_DUMP_INTR

    def __repr__(self):
        e = "no reply" if self.error is None else (
            "ok" if self.error == 0 else errno.errorcode.get(self.error, str(self.error)))
        extra = f" '{self.msg}'" if self.msg else ""
        if self.miss_type is not None:
            extra += f" missing attribute {self.miss_type}"
        return e + extra


class Genl:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.bind((0, 0))
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.s.settimeout(10)
        self.seq = int(time.time()) & 0xffffff
        self.family, self.groups = None, {}
        r = self.raw(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, strz(2, "jazz"), version=1)
        for body in r.msgs:
            for t, v in parse_attrs(body):
                if t == 1:
                    self.family = struct.unpack("=H", v[:2])[0]
                elif t == 7:
                    for _, g in parse_attrs(v):
                        d = dict(parse_attrs(g))
                        self.groups[d[1].rstrip(b"\0").decode()] = struct.unpack("=I", d[2])[0]
        if self.family is None:
            raise SystemExit("netlink_tool: no jazz family (module not loaded?)")

    def send_bytes(self, data):
        self.s.send(data)

    def raw(self, typ, cmd, payload, flags=NLM_F_ACK, version=1, hdr=None, length=None):
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, 0) + payload if hdr is None else hdr
        ln = 16 + len(body) if length is None else length
        msg = struct.pack("=IHHII", ln, typ, NLM_F_REQUEST | flags, self.seq, 0) + body
        self.s.send(msg)
        return self.collect(self.seq)

    def req(self, cmd, payload, flags=NLM_F_ACK, **kw):
        return self.raw(self.family, cmd, payload, flags, **kw)

    def collect(self, seq):
        r = Reply()
        while True:
            try:
                data = self.s.recv(1 << 17)
            except socket.timeout:
                return r
            off = 0
            while off + 16 <= len(data):
                ln, typ, flags, s, _ = struct.unpack_from("=IHHII", data, off)
                if ln < 16:
                    return r
                body = data[off + 16:off + ln]
                off += (ln + 3) & ~3
                if s != seq:
                    continue
                if typ in (NLMSG_ERROR, NLMSG_DONE):
                    err = struct.unpack_from("=i", body)[0]
                    tl = 4
                    if typ == NLMSG_ERROR:
                        tl = 20 if flags & NLM_F_CAPPED else 4 + struct.unpack_from("=I", body, 4)[0]
                    if flags & NLM_F_ACK_TLVS:
                        for t, v in parse_attrs(body[(tl + 3) & ~3:]):
                            if t == 1:
                                r.msg = v.rstrip(b"\0").decode(errors="replace")
                            elif t == 5 and len(v) == 4:
                                r.miss_type = struct.unpack("=I", v)[0]
                    r.error = -err
                    return r
                if flags & 0x10:  # NLM_F_DUMP_INTR
                    r.intr = True
                r.msgs.append(body[4:])


def out(ok, desc, why=""):
    print(("PASS " if ok else "FAIL ") + desc + ("" if ok else f": {why}"), flush=True)
    return ok


def A(name):
    return J["JAZZ_A_" + name]


def dev(name):
    return strz(A("IFNAME"), name)


def expect(g, desc, cmd, payload, errnos, msg=None, flags=NLM_F_ACK, **kw):
    """errnos: accepted errno values; msg: required extack substring, '' for
    'any non-empty message or missing-attribute report', None for none."""
    r = g.req(J[cmd], payload, flags, **kw)
    good = r.error in errnos
    if good and msg == "":
        good = bool(r.msg) or r.miss_type is not None
    elif good and msg:
        good = msg in r.msg
    want = "/".join(errno.errorcode[e] for e in errnos) + (f" '{msg}'" if msg else "")
    return out(good, f"{desc}: {r!r}", f"want {want}")


def keyconf(peer, slot=0, cipher=1, kid=1, klen=32, slen=4, rx=True, extra=b""):
    kc = [u32(J["JAZZ_A_KEYCONF_PEER_ID"], peer), u32(J["JAZZ_A_KEYCONF_SLOT"], slot),
          u8(J["JAZZ_A_KEYCONF_KEY_ID"], kid), u32(J["JAZZ_A_KEYCONF_CIPHER"], cipher),
          nest(J["JAZZ_A_KEYCONF_ENCRYPT"], attr(J["JAZZ_A_KEYDIR_KEY"], b"\x11" * klen),
               attr(J["JAZZ_A_KEYDIR_SALT"], b"\x22" * slen))]
    if rx:
        kc.append(nest(J["JAZZ_A_KEYCONF_DECRYPT"], attr(J["JAZZ_A_KEYDIR_KEY"], b"\x33" * 32),
                       attr(J["JAZZ_A_KEYDIR_SALT"], b"\x44" * 4)))
    return nest(A("KEY"), *kc, extra)


def peer(*parts):
    return nest(A("PEER"), *parts)


def pid(v):
    return u32(J["JAZZ_A_PEER_ID"], v)


def aip(family, addr, cidr):
    return nest(J["JAZZ_A_PEER_ALLOWED_IP"], u16(J["JAZZ_A_ALLOWED_IP_FAMILY"], family),
                attr(J["JAZZ_A_ALLOWED_IP_ADDR"], addr), u8(J["JAZZ_A_ALLOWED_IP_CIDR"], cidr))


def hostile(devname, peer_id):
    g = Genl()
    EINVAL, ERANGE, ENOENT, ENODEV, EOPNOTSUPP = (errno.EINVAL, errno.ERANGE, errno.ENOENT,
                                                  errno.ENODEV, errno.EOPNOTSUPP)
    D = dev(devname)
    lo = socket.if_nametoindex("lo")
    P = peer_id
    res = []
    E = lambda *a, **k: res.append(expect(g, *a, **k))

    # Wrong attribute types and lengths.
    E("ifindex as u16", "JAZZ_CMD_DEV_GET", u16(A("IFINDEX"), 1), [EINVAL], "invalid attribute length")
    E("listen-port as u32", "JAZZ_CMD_DEV_SET", D + u32(A("LISTEN_PORT"), 1), [EINVAL],
      "invalid attribute length")
    E("peer id as u64", "JAZZ_CMD_PEER_SET", D + peer(u64(J["JAZZ_A_PEER_ID"], P)), [EINVAL],
      "invalid attribute length")
    E("ifname without NUL", "JAZZ_CMD_DEV_GET", attr(A("IFNAME"), devname.encode()), [EINVAL],
      "Attribute failed policy validation")
    E("peer nest without NLA_F_NESTED", "JAZZ_CMD_PEER_SET", D + attr(A("PEER"), pid(P)), [EINVAL],
      "NLA_F_NESTED is missing")
    E("nested flag on a u32", "JAZZ_CMD_DEV_GET", attr(A("IFINDEX") | NLA_F_NESTED, struct.pack("=I", 1)),
      [EINVAL], "NLA_F_NESTED not expected")
    E("unknown top-level attribute 200", "JAZZ_CMD_DEV_GET", D + u32(200, 1), [EINVAL],
      "Unknown attribute type")
    E("unknown peer attribute 77", "JAZZ_CMD_PEER_SET", D + peer(pid(P), u32(77, 1)), [EINVAL],
      "Unknown attribute type")
    # Truncated.
    E("truncated attribute (says 8, has 6)", "JAZZ_CMD_DEV_GET",
      struct.pack("=HH", 8, A("IFINDEX")) + b"\x01\x00", [EINVAL],
      "bytes leftover after parsing attributes")
    E("truncated nest", "JAZZ_CMD_PEER_SET", D + struct.pack("=HH", 40, A("PEER") | NLA_F_NESTED) + pid(P),
      [EINVAL], "bytes leftover after parsing attributes")
    r = g.req(J["JAZZ_CMD_DEV_GET"], b"", hdr=b"\x01\x01")
    res.append(out(r.error == EINVAL, f"truncated genl header: {r!r}", "want EINVAL"))
    # Oversized.
    E("ifname of 40 bytes", "JAZZ_CMD_DEV_GET", strz(A("IFNAME"), "x" * 40), [EINVAL, ERANGE],
      "Attribute failed policy validation")
    E("peer name of 64 bytes", "JAZZ_CMD_PEER_SET", D + peer(pid(P), strz(J["JAZZ_A_PEER_NAME"], "n" * 64)),
      [EINVAL, ERANGE], "Attribute failed policy validation")
    E("endpoint-ip6 of 4 bytes", "JAZZ_CMD_PEER_SET",
      D + peer(pid(P), attr(J["JAZZ_A_PEER_ENDPOINT_IP6"], b"\0" * 4)), [ERANGE],
      "binary attribute size out of range")
    E("allowed-ip addr of 17 bytes", "JAZZ_CMD_PEER_SET",
      D + peer(pid(P), aip(10, b"\0" * 17, 64)), [ERANGE], "binary attribute size out of range")
    # Missing required attributes.
    E("dev-get without ifindex or ifname", "JAZZ_CMD_DEV_GET", b"", [EINVAL], "")
    E("peer-new without peer", "JAZZ_CMD_PEER_NEW", D, [EINVAL], "")
    E("peer-new peer without id", "JAZZ_CMD_PEER_NEW", D + peer(strz(J["JAZZ_A_PEER_NAME"], "x")),
      [EINVAL], "")
    E("key-new without decrypt", "JAZZ_CMD_KEY_NEW", D + keyconf(P, rx=False), [EINVAL], "")
    E("key-new without key", "JAZZ_CMD_KEY_NEW", D, [EINVAL], "")
    E("endpoint address without port", "JAZZ_CMD_PEER_SET",
      D + peer(pid(P), attr(J["JAZZ_A_PEER_ENDPOINT_IP4"], socket.inet_aton("192.0.2.1"))), [EINVAL], "")
    E("conn-verdict without verdict", "JAZZ_CMD_CONN_VERDICT",
      D + nest(A("CONN"), u64(J["JAZZ_A_CONN_COOKIE"], 1)), [EINVAL], "")
    # Unknown flag bits and out-of-range values.
    E("peer flags with unknown bit 0x4", "JAZZ_CMD_PEER_SET",
      D + peer(pid(P), u32(J["JAZZ_A_PEER_FLAGS"], 0x4)), [EINVAL], "reserved bit set")
    E("peer flags 0x80000000", "JAZZ_CMD_PEER_SET",
      D + peer(pid(P), u32(J["JAZZ_A_PEER_FLAGS"], 0x80000000)), [EINVAL], "reserved bit set")
    E("peer id 0", "JAZZ_CMD_PEER_NEW", D + peer(pid(0)), [ERANGE], "integer out of range")
    E("conncheck 2", "JAZZ_CMD_DEV_SET", D + u8(A("CONNCHECK"), 2), [ERANGE], "integer out of range")
    E("approval-timeout 5 ms", "JAZZ_CMD_DEV_SET", D + u32(A("APPROVAL_TIMEOUT_MS"), 5), [ERANGE],
      "integer out of range")
    E("approval-timeout 600001 ms", "JAZZ_CMD_DEV_SET", D + u32(A("APPROVAL_TIMEOUT_MS"), 600001),
      [ERANGE], "integer out of range")
    E("conn-max 0", "JAZZ_CMD_DEV_SET", D + u32(A("CONN_MAX"), 0), [ERANGE], "integer out of range")
    E("allowed-ip cidr 129", "JAZZ_CMD_PEER_SET", D + peer(pid(P), aip(10, b"\0" * 16, 129)), [ERANGE],
      "integer out of range")
    E("allowed-ip IPv4 /33", "JAZZ_CMD_PEER_SET", D + peer(pid(P), aip(2, b"\x0a\0\0\0", 33)), [EINVAL], "")
    E("allowed-ip family 99", "JAZZ_CMD_PEER_SET", D + peer(pid(P), aip(99, b"\0" * 4, 8)),
      [errno.EAFNOSUPPORT, EINVAL], "")
    E("allowed-ip AF_INET6 with 4-byte address", "JAZZ_CMD_PEER_SET",
      D + peer(pid(P), aip(10, b"\xfd\0\0\0", 8)), [EINVAL], "")
    E("conn-verdict verdict 3", "JAZZ_CMD_CONN_VERDICT",
      D + nest(A("CONN"), u64(J["JAZZ_A_CONN_COOKIE"], 1), u8(J["JAZZ_A_CONN_VERDICT"], 3)), [ERANGE],
      "integer out of range")
    # Keys.
    E("key of 31 bytes", "JAZZ_CMD_KEY_NEW", D + keyconf(P, klen=31), [ERANGE],
      "binary attribute size out of range")
    E("key of 33 bytes", "JAZZ_CMD_KEY_NEW", D + keyconf(P, klen=33), [ERANGE],
      "binary attribute size out of range")
    E("salt of 5 bytes", "JAZZ_CMD_KEY_NEW", D + keyconf(P, slen=5), [ERANGE],
      "binary attribute size out of range")
    E("cipher 3", "JAZZ_CMD_KEY_NEW", D + keyconf(P, cipher=3), [ERANGE], "integer out of range")
    E("cipher 0", "JAZZ_CMD_KEY_NEW", D + keyconf(P, cipher=0), [ERANGE], "integer out of range")
    E("key slot 2", "JAZZ_CMD_KEY_NEW", D + keyconf(P, slot=2), [ERANGE], "integer out of range")
    E("key for unknown peer 4242", "JAZZ_CMD_KEY_NEW", D + keyconf(4242), [ENOENT], "")
    # Devices.
    E("dev-get of lo (not a jazz device)", "JAZZ_CMD_DEV_GET", u32(A("IFINDEX"), lo),
      [ENODEV, EINVAL, EOPNOTSUPP], "")
    E("peer-new on lo", "JAZZ_CMD_PEER_NEW", u32(A("IFINDEX"), lo) + peer(pid(9)),
      [ENODEV, EINVAL, EOPNOTSUPP], "")
    E("dev-get of ifindex 999999", "JAZZ_CMD_DEV_GET", u32(A("IFINDEX"), 999999), [ENODEV], "")
    E("dev-get of ifname nosuch0", "JAZZ_CMD_DEV_GET", strz(A("IFNAME"), "nosuch0"), [ENODEV], "")
    E("peer-get dump of lo", "JAZZ_CMD_PEER_GET", u32(A("IFINDEX"), lo), [ENODEV, EINVAL, EOPNOTSUPP], "",
      flags=NLM_F_ACK | NLM_F_DUMP)
    E("conn-verdict of unknown cookie", "JAZZ_CMD_CONN_VERDICT",
      D + nest(A("CONN"), u64(J["JAZZ_A_CONN_COOKIE"], 0xdead0000beef),
               u8(J["JAZZ_A_CONN_VERDICT"], 1)), [ENOENT], "")
    E("peer-del of unknown peer", "JAZZ_CMD_PEER_DEL", D + peer(pid(4243)), [ENOENT], "")
    E("peer-new of existing id", "JAZZ_CMD_PEER_NEW", D + peer(pid(P)), [errno.EEXIST], "")
    # Approver probe (strict policies: the ops are newer than resv_start_op).
    PR = lambda *parts: nest(A("PROBE"), *parts)
    PC = lambda v: u64(J["JAZZ_A_PROBE_COOKIE"], v)
    E("approver-probe with nobody listening", "JAZZ_CMD_APPROVER_PROBE", D, [errno.ESRCH],
      "nobody listens on approvals")
    E("approver-probe with a probe nest", "JAZZ_CMD_APPROVER_PROBE", D + PR(PC(1)), [EINVAL],
      "Unsupported attribute")
    E("approver-probe of lo", "JAZZ_CMD_APPROVER_PROBE", u32(A("IFINDEX"), lo),
      [ENODEV, EINVAL, EOPNOTSUPP], "")
    E("approver-probe without device", "JAZZ_CMD_APPROVER_PROBE", b"", [EINVAL], "")
    E("probe-reply without probe", "JAZZ_CMD_APPROVER_PROBE_REPLY", D, [EINVAL], "")
    E("probe-reply probe without cookie", "JAZZ_CMD_APPROVER_PROBE_REPLY", D + PR(), [EINVAL],
      "probe cookie is required")
    E("probe-reply cookie as u32", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + PR(u32(J["JAZZ_A_PROBE_COOKIE"], 1)), [EINVAL], "invalid attribute length")
    E("probe-reply with read-only rtt-ns", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + PR(PC(1), u64(J["JAZZ_A_PROBE_RTT_NS"], 5)), [EINVAL], "Unsupported attribute")
    E("probe-reply with read-only listener-portid", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + PR(PC(1), u32(J["JAZZ_A_PROBE_LISTENER_PORTID"], 5)), [EINVAL], "Unsupported attribute")
    E("probe-reply unknown probe attribute 77", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + PR(PC(1), u32(77, 1)), [EINVAL], "Unknown attribute type")
    E("probe-reply probe nest without NLA_F_NESTED", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + attr(A("PROBE"), PC(1)), [EINVAL], "NLA_F_NESTED is missing")
    E("probe-reply with a conn nest", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + PR(PC(1)) + nest(A("CONN"), u64(J["JAZZ_A_CONN_COOKIE"], 1)), [EINVAL],
      "Unsupported attribute")
    E("probe-reply of unknown cookie", "JAZZ_CMD_APPROVER_PROBE_REPLY",
      D + PR(PC(0xdead0000beef)), [ENOENT], "no probe with this cookie")
    E("probe-reply of cookie 0", "JAZZ_CMD_APPROVER_PROBE_REPLY", D + PR(PC(0)), [ENOENT],
      "no probe with this cookie")
    E("probe-reply on lo", "JAZZ_CMD_APPROVER_PROBE_REPLY", u32(A("IFINDEX"), lo) + PR(PC(1)),
      [ENODEV, EINVAL, EOPNOTSUPP], "")
    # Commands.
    r = g.req(99, D)
    res.append(out(r.error == EOPNOTSUPP, f"unknown command 99: {r!r}", "want EOPNOTSUPP"))
    r = g.req(J["JAZZ_CMD_PEER_ROAM_NTF"], D)
    res.append(out(r.error == EOPNOTSUPP, f"notification command as request: {r!r}", "want EOPNOTSUPP"))
    r = g.req(J["JAZZ_CMD_APPROVER_PROBE_RESULT_NTF"], D)
    res.append(out(r.error == EOPNOTSUPP, f"probe result notification as request: {r!r}",
                   "want EOPNOTSUPP"))
    # Still serving valid requests.
    r = g.req(J["JAZZ_CMD_DEV_GET"], D)
    name = ""
    for body in r.msgs:
        for t, v in parse_attrs(body):
            if t == A("IFNAME"):
                name = v.rstrip(b"\0").decode()
    res.append(out(r.error == 0 and name == devname, f"valid dev-get afterwards: {r!r} ifname '{name}'",
                   "module stopped serving"))
    r = g.req(J["JAZZ_CMD_PEER_GET"], D + peer(pid(P)))
    res.append(out(r.error == 0 and len(r.msgs) == 1, f"valid peer-get afterwards: {r!r}", "bad"))
    return all(res)


def fuzz(devname, n, seed):
    """Random, mostly malformed requests: each must be answered (ack or error)."""
    rnd = random.Random(seed)
    g = Genl()
    cmds = [J[k] for k in J if k.startswith("JAZZ_CMD_") and k != "JAZZ_CMD_MAX"]
    ifindex = socket.if_nametoindex(devname)
    answered = 0
    for i in range(n):
        parts = []
        if rnd.random() < 0.8:
            parts.append(u32(A("IFINDEX"), ifindex))
        for _ in range(rnd.randint(0, 4)):
            t = rnd.randint(0, 24)
            kind = rnd.random()
            if kind < 0.3:
                # a nest of random attributes, sometimes nested again
                inner = b"".join(attr(rnd.randint(0, 22), rnd.randbytes(rnd.randint(0, 20)))
                                 for _ in range(rnd.randint(0, 5)))
                if rnd.random() < 0.3:
                    inner += nest(rnd.randint(1, 12), attr(rnd.randint(0, 4), rnd.randbytes(8)))
                parts.append(nest(t, inner))
            elif kind < 0.5:
                b = attr(t, rnd.randbytes(rnd.randint(0, 40)))
                cut = rnd.randint(1, len(b))
                parts.append(b[:cut])  # truncated
            else:
                parts.append(attr(t, rnd.randbytes(rnd.choice([0, 1, 2, 4, 8, 16, 32, 64]))))
        payload = b"".join(parts)
        if rnd.random() < 0.1:
            payload = bytearray(payload)
            for _ in range(3):
                if payload:
                    payload[rnd.randrange(len(payload))] ^= 1 << rnd.randrange(8)
            payload = bytes(payload)
        flags = NLM_F_ACK | (NLM_F_DUMP if rnd.random() < 0.2 else 0)
        r = g.req(rnd.choice(cmds + [0, 200]), payload, flags)
        if r.error is not None:
            answered += 1
    ok = out(answered == n, f"fuzz: {answered}/{n} random requests answered (seed {seed})",
             f"{n - answered} got no reply")
    r = g.req(J["JAZZ_CMD_DEV_GET"], u32(A("IFINDEX"), ifindex))
    return out(r.error == 0, f"valid dev-get after fuzzing: {r!r}", "module stopped serving") and ok


def unpriv(devname=None):
    if os.geteuid() == 0:
        return out(False, "unpriv", "run me as an unprivileged user")
    g = Genl()
    r = g.req(J["JAZZ_CMD_DEV_GET"], b"", NLM_F_ACK | NLM_F_DUMP)
    ok = out(r.error == errno.EPERM, f"unprivileged dev-get dump refused: {r!r}", "want EPERM")
    if devname:
        r = g.req(J["JAZZ_CMD_APPROVER_PROBE"], dev(devname))
        ok = out(r.error == errno.EPERM, f"unprivileged approver-probe refused: {r!r}",
                 "want EPERM") and ok
        r = g.req(J["JAZZ_CMD_APPROVER_PROBE_REPLY"],
                  dev(devname) + nest(A("PROBE"), u64(J["JAZZ_A_PROBE_COOKIE"], 1)))
        ok = out(r.error == errno.EPERM, f"unprivileged approver-probe-reply refused: {r!r}",
                 "want EPERM") and ok
    for grp in ("approvals", "notify"):
        try:
            g.s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g.groups[grp])
            ok = out(False, f"unprivileged join of '{grp}' refused", "join succeeded") and ok
        except OSError as e:
            ok = out(e.errno == errno.EPERM, f"unprivileged join of '{grp}' refused: {e.strerror}",
                     "want EPERM") and ok
    return ok


def ep4(addr, port):
    return (attr(J["JAZZ_A_PEER_ENDPOINT_IP4"], socket.inet_aton(addr)) +
            be16(J["JAZZ_A_PEER_ENDPOINT_PORT"], port))


def peerstorm(ifindex, secs, first, keepalive=0):
    """peer-new by ifindex until SECS pass or the device is gone."""
    g = Genl()
    end = time.time() + secs
    n, i = 0, first
    while time.time() < end:
        parts = [pid(i), ep4("10.250.0.1", 51820), aip(socket.AF_INET, struct.pack(">I", 0x0a000000 + i), 32)]
        if keepalive:
            parts.append(u16(J["JAZZ_A_PEER_KEEPALIVE_S"], keepalive))
        r = g.req(J["JAZZ_CMD_PEER_NEW"], u32(A("IFINDEX"), ifindex) + peer(*parts))
        i += 1
        if r.error == 0:
            n += 1
        elif r.error == errno.ENODEV:
            break
        elif r.error is None:
            print("no reply")
            return False
    print(f"accepted {n}")
    return True


def peerchurn(devname, secs, base=0):
    """peer-new/set/get/del and key-new/swap on ids BASE+1..BASE+8; errors are expected."""
    g = Genl()
    rnd = random.Random(os.getpid())
    end = time.time() + secs
    counts = {}
    while time.time() < end:
        i = base + rnd.randint(1, 8)
        op = rnd.choice(("new", "set", "get", "del", "key", "swap"))
        if op in ("new", "set"):
            cmd = "JAZZ_CMD_PEER_NEW" if op == "new" else "JAZZ_CMD_PEER_SET"
            r = g.req(J[cmd], dev(devname) + peer(pid(i), ep4("10.250.0.1", 51820),
                      u16(J["JAZZ_A_PEER_KEEPALIVE_S"], 1),
                      aip(socket.AF_INET, struct.pack(">I", 0x0a000000 + i), 32)))
        elif op == "get":
            r = g.req(J["JAZZ_CMD_PEER_GET"], dev(devname) + peer(pid(i)))
        elif op == "del":
            r = g.req(J["JAZZ_CMD_PEER_DEL"], dev(devname) + peer(pid(i)))
        elif op == "key":
            r = g.req(J["JAZZ_CMD_KEY_NEW"], dev(devname) + keyconf(i))
        else:
            r = g.req(J["JAZZ_CMD_KEY_SWAP"], dev(devname) + nest(A("KEY"), u32(J["JAZZ_A_KEYCONF_PEER_ID"], i)))
        if r.error is None:
            print("no reply")
            return False
        k = errno.errorcode.get(r.error, "ok") if r.error else "ok"
        counts[k] = counts.get(k, 0) + 1
        if r.error == errno.ENODEV:
            break
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return True


def aip_n(family, i):
    if family == "v4":
        return aip(socket.AF_INET, struct.pack(">I", 0x0b000000 + i), 32)
    return aip(socket.AF_INET6, b"\xfd\x00" + b"\0" * 10 + struct.pack(">I", i), 128)


def bigpeer(devname, peer_id, n, family="v6"):
    g = Genl()
    ok = True
    for start in range(0, n, 500):
        parts = [aip_n(family, i) for i in range(start, min(n, start + 500))]
        r = g.req(J["JAZZ_CMD_PEER_SET"], dev(devname) + peer(pid(peer_id), *parts))
        if r.error != 0:
            print(f"peer-set at {start}: {r!r}")
            ok = False
            break
    return ok


def count_peers(r):
    """peer ids and allowed-ips per peer id, merged over message parts."""
    aips = {}
    for body in r.msgs:
        for t, v in parse_attrs(body):
            if t != A("PEER"):
                continue
            pid_ = None
            n = 0
            for tt, vv in parse_attrs(v):
                if tt == J["JAZZ_A_PEER_ID"]:
                    pid_ = struct.unpack("=I", vv)[0]
                elif tt == J["JAZZ_A_PEER_ALLOWED_IP"]:
                    n += 1
            aips[pid_] = aips.get(pid_, 0) + n
    return aips


def peerget(devname, peer_id):
    g = Genl()
    r = g.req(J["JAZZ_CMD_PEER_GET"], dev(devname) + peer(pid(peer_id)))
    aips = count_peers(r)
    print(f"messages {len(r.msgs)} aips {sum(aips.values())} peers {len(aips)} error {r.error}")
    return r.error == 0


def peergetstall(devname, peer_id):
    """peer-get (do) of a peer too big for one message, whose reader stops
    after the first part: the answer stays pending (a dump) until stdin
    closes."""
    g = Genl()
    g.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    g.seq += 1
    body = struct.pack("=BBH", J["JAZZ_CMD_PEER_GET"], 1, 0) + dev(devname) + peer(pid(peer_id))
    g.s.send(struct.pack("=IHHII", 16 + len(body), g.family, NLM_F_REQUEST | NLM_F_ACK, g.seq, 0) + body)
    first = g.s.recv(1 << 17)
    flags = struct.unpack_from("=IHHII", first)[2]
    print("stalled" if flags & NLM_F_MULTI else f"not a multi-part answer (flags {flags:#x})", flush=True)
    sys.stdin.read()
    return True


def peergetrace(devname, peer_id, seconds):
    """On one socket, peer-get (do) of a peer too big for one message in a
    loop while a peer-get dump is read in another thread: the do's answer
    starts a dump (cb_mutex) and the dump's reads take genl_mutex under
    cb_mutex, so a do that held genl_mutex there deadlocked the two, and
    with them every generic netlink family of the machine. Then a fresh
    socket must still get an answer."""
    import threading
    g = Genl()
    g.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    g.s.settimeout(0.2)
    end = time.time() + seconds
    do = struct.pack("=BBH", J["JAZZ_CMD_PEER_GET"], 1, 0) + dev(devname) + peer(pid(peer_id))
    dump = struct.pack("=BBH", J["JAZZ_CMD_PEER_GET"], 1, 0) + dev(devname)
    sent = [0, 0]

    def send_loop(body, flags, i):
        while time.time() < end:
            try:
                g.s.send(struct.pack("=IHHII", 16 + len(body), g.family,
                                     NLM_F_REQUEST | flags, 0, 0) + body)
                sent[i] += 1
            except OSError:
                pass
            time.sleep(0.001)

    def read_loop():
        while time.time() < end + 1:
            try:
                g.s.recv(1 << 16)
            except (socket.timeout, OSError):
                pass

    ts = [threading.Thread(target=send_loop, args=(do, NLM_F_ACK, 0), daemon=True),
          threading.Thread(target=send_loop, args=(dump, NLM_F_ACK | NLM_F_DUMP, 1), daemon=True),
          threading.Thread(target=read_loop, daemon=True)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 5)
    stuck = sum(t.is_alive() for t in ts)
    print(f"sent do {sent[0]} dump {sent[1]} threads stuck {stuck}", flush=True)
    return stuck == 0


def peerdump(devname):
    g = Genl()
    r = g.req(J["JAZZ_CMD_PEER_GET"], dev(devname), NLM_F_ACK | NLM_F_DUMP)
    aips = count_peers(r)
    print(f"messages {len(r.msgs)} peers {len(aips)} aips {sum(aips.values())} "
          f"intr {int(r.intr)} error {r.error}")
    return r.error == 0


def conn_tuple(i):
    """The i-th test entry: UDP 10.66.(i/250).(i%250+1):1000 -> 10.67.0.1:2000."""
    src = socket.inet_aton(f"10.66.{i // 250}.{i % 250 + 1}")
    return [u8(J["JAZZ_A_CONN_PROTO"], socket.IPPROTO_UDP),
            u16(J["JAZZ_A_CONN_FAMILY"], socket.AF_INET),
            attr(J["JAZZ_A_CONN_SRC_ADDR"], src), be16(J["JAZZ_A_CONN_SRC_PORT"], 1000),
            attr(J["JAZZ_A_CONN_DST_ADDR"], socket.inet_aton("10.67.0.1")),
            be16(J["JAZZ_A_CONN_DST_PORT"], 2000)]


def conn_install(g, devname, peer_id, i):
    return g.req(J["JAZZ_CMD_CONN_VERDICT"], dev(devname) + nest(
        A("CONN"), u8(J["JAZZ_A_CONN_VERDICT"], 1),
        u32(J["JAZZ_A_CONN_PEER_ID"], peer_id), *conn_tuple(i)))


def connfill(devname, peer_id, n):
    g = Genl()
    for i in range(n):
        r = conn_install(g, devname, peer_id, i)
        if r.error != 0:
            print(f"entry {i}: {r!r}")
            return False
    print(f"installed {n}")
    return True


def connchurn(devname, peer_id, secs, n):
    """Entries deleted and re-installed at random: positions in the table's
    list shift under a dump resumed by index."""
    g = Genl()
    rnd = random.Random(os.getpid())
    end = time.time() + secs
    counts = {}
    while time.time() < end:
        i = rnd.randrange(n)
        r = g.req(J["JAZZ_CMD_CONN_DEL"], dev(devname) + nest(A("CONN"), *conn_tuple(i)))
        if r.error is None:
            print("no reply")
            return False
        r2 = conn_install(g, devname, peer_id, i)
        for x in (r, r2):
            k = errno.errorcode.get(x.error, "ok") if x.error else "ok"
            counts[k] = counts.get(k, 0) + 1
        if errno.ENODEV in (r.error, r2.error):
            break
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return True


def conndump(devname):
    g = Genl()
    r = g.req(J["JAZZ_CMD_CONN_GET"], dev(devname), NLM_F_ACK | NLM_F_DUMP)
    seen = []
    for body in r.msgs:
        for t, v in parse_attrs(body):
            if t == A("CONN"):
                for tt, vv in parse_attrs(v):
                    if tt == J["JAZZ_A_CONN_SRC_ADDR"]:  # cookies change on re-install
                        seen.append(vv)
    dups = len(seen) - len(set(seen))
    print(f"messages {len(r.msgs)} conns {len(set(seen))} dups {dups} "
          f"intr {int(r.intr)} error {r.error}")
    return r.error == 0


def verdict(devname, cookie, peer_id, tuple_=None):
    """conn-verdict approve by cookie, with peer-id unless '-', and with
    'proto,src:port,dst:port' (IPv4) when given; print "errno extack"."""
    g = Genl()
    parts = [u64(J["JAZZ_A_CONN_COOKIE"], int(cookie)), u8(J["JAZZ_A_CONN_VERDICT"], 1)]
    if peer_id != "-":
        parts.append(u32(J["JAZZ_A_CONN_PEER_ID"], int(peer_id)))
    if tuple_:
        proto, src, dst = tuple_.split(",")
        (sa, sp), (da, dp) = src.split(":"), dst.split(":")
        parts += [u8(J["JAZZ_A_CONN_PROTO"], int(proto)), u16(J["JAZZ_A_CONN_FAMILY"], socket.AF_INET),
                  attr(J["JAZZ_A_CONN_SRC_ADDR"], socket.inet_aton(sa)),
                  be16(J["JAZZ_A_CONN_SRC_PORT"], int(sp)),
                  attr(J["JAZZ_A_CONN_DST_ADDR"], socket.inet_aton(da)),
                  be16(J["JAZZ_A_CONN_DST_PORT"], int(dp))]
    r = g.req(J["JAZZ_CMD_CONN_VERDICT"], dev(devname) + nest(A("CONN"), *parts))
    name = "OK" if r.error == 0 else errno.errorcode.get(r.error, str(r.error))
    print(f"{name} {r.msg}".rstrip())
    return True


def dumpstat(devname):
    g = Genl()
    r = g.req(J["JAZZ_CMD_PEER_GET"], dev(devname), NLM_F_ACK | NLM_F_DUMP)
    ids = set()
    for body in r.msgs:
        for t, v in parse_attrs(body):
            if t == A("PEER"):
                for tt, vv in parse_attrs(v):
                    if tt == J["JAZZ_A_PEER_ID"]:
                        ids.add(struct.unpack("=I", vv)[0])
    print(f"messages {len(r.msgs)} peers {len(ids)} error {r.error}")
    return r.error == 0


def stats(devname):
    g = Genl()
    r = g.req(J["JAZZ_CMD_DEV_GET"], dev(devname))
    names = {v: k[len("JAZZ_A_STATS_"):].lower() for k, v in J.items()
             if k.startswith("JAZZ_A_STATS_") and k not in ("JAZZ_A_STATS_MAX",)}
    for body in r.msgs:
        for t, v in parse_attrs(body):
            if t == A("STATS"):
                for tt, vv in parse_attrs(v):
                    if len(vv) == 8 and tt in names:
                        print(f"{names[tt]}={struct.unpack('=Q', vv)[0]}")
    return r.error == 0


def tree(buf, depth=0):
    for t, v in parse_attrs(buf):
        print(f"{'  ' * depth}type {t} len {len(v)} {v[:16].hex()}")
        if len(v) >= 4 and struct.unpack_from("=H", v)[0] <= len(v) and depth < 3 and t in (
                A("STATS"), A("PEER"), A("KEY"), A("CONN"), J["JAZZ_A_PEER_STATS"],
                J["JAZZ_A_PEER_KEY"], J["JAZZ_A_PEER_ALLOWED_IP"]):
            tree(v, depth + 1)


def rawdump(devname):
    """Attribute tree of a dev-get reply, for diagnosing other clients."""
    g = Genl()
    r = g.req(J["JAZZ_CMD_DEV_GET"], dev(devname))
    for body in r.msgs:
        tree(body)
    return r.error == 0


def sniff(iface, port, n, outfile):
    """UDP payloads to PORT seen on IFACE (IPv4), hex, one a line."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(20)
    open(outfile + ".ready", "w").close()  # the caller waits for this
    got = []
    while len(got) < n:
        pkt = s.recv(65535)
        ihl = (pkt[0] & 15) * 4
        if pkt[9] != 17:
            continue
        dport = struct.unpack_from(">H", pkt, ihl + 2)[0]
        if dport == port:
            got.append(pkt[ihl + 8:].hex())
    with open(outfile, "w") as f:
        f.write("\n".join(got) + "\n")
    return True


def udpfuzz(src, dst, port, capfile, n, seed):
    rnd = random.Random(seed)
    caps = [bytes.fromhex(l.strip()) for l in open(capfile) if l.strip()]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    sent = 0
    for i in range(n):
        kind = i % 4
        base = bytearray(rnd.choice(caps))
        if kind == 0:      # random bytes of random length
            p = rnd.randbytes(rnd.randint(0, 200))
        elif kind == 1:    # truncated valid packet
            p = bytes(base[:rnd.randint(0, len(base) - 1)])
        elif kind == 2:    # one bit flipped
            base[rnd.randrange(len(base))] ^= 1 << rnd.randrange(8)
            p = bytes(base)
        else:              # header of a valid packet, random rest
            p = bytes(base[:16]) + rnd.randbytes(rnd.randint(0, 100))
        s.sendto(p, (dst, port))
        sent += 1
        if i % 50 == 49:
            time.sleep(0.05)
    print(sent)
    return True


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__)
        return 2
    cmd = a[0]
    if cmd == "hostile":
        ok = hostile(a[1], int(a[2]))
    elif cmd == "fuzz":
        ok = fuzz(a[1], int(a[2]), int(a[3]))
    elif cmd == "unpriv":
        ok = unpriv(a[1] if len(a) > 1 else None)
    elif cmd == "probe-reply":
        g = Genl()
        r = g.req(J["JAZZ_CMD_APPROVER_PROBE_REPLY"],
                  dev(a[1]) + nest(A("PROBE"), u64(J["JAZZ_A_PROBE_COOKIE"], int(a[2]))))
        print("ok" if r.error == 0 else f"{errno.errorcode.get(r.error, r.error)} {r.msg}")
        ok = True
    elif cmd == "peerstorm":
        ok = peerstorm(int(a[1]), float(a[2]), int(a[3]), int(a[4]) if len(a) > 4 else 0)
    elif cmd == "peerchurn":
        ok = peerchurn(a[1], float(a[2]), int(a[3]) if len(a) > 3 else 0)
    elif cmd == "bigpeer":
        ok = bigpeer(a[1], int(a[2]), int(a[3]), a[4] if len(a) > 4 else "v6")
    elif cmd == "peerget":
        ok = peerget(a[1], int(a[2]))
    elif cmd == "peergetstall":
        ok = peergetstall(a[1], int(a[2]))
    elif cmd == "peergetrace":
        ok = peergetrace(a[1], int(a[2]), float(a[3]))
    elif cmd == "peerdump":
        ok = peerdump(a[1])
    elif cmd == "connfill":
        ok = connfill(a[1], int(a[2]), int(a[3]))
    elif cmd == "connchurn":
        ok = connchurn(a[1], int(a[2]), float(a[3]), int(a[4]))
    elif cmd == "conndump":
        ok = conndump(a[1])
    elif cmd == "verdict":
        ok = verdict(a[1], a[2], a[3], a[4] if len(a) > 4 else None)
    elif cmd == "dumpstat":
        ok = dumpstat(a[1])
    elif cmd == "rawdump":
        ok = rawdump(a[1])
    elif cmd == "stats":
        ok = stats(a[1])
    elif cmd == "sniff":
        ok = sniff(a[1], int(a[2]), int(a[3]), a[4])
    elif cmd == "udpfuzz":
        ok = udpfuzz(a[1], a[2], int(a[3]), a[4], int(a[5]), int(a[6]))
    else:
        print(__doc__)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
