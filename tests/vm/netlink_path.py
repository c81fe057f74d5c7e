#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Hostile requests for a peer's path record (issue 20: the "path" nest of
peer-new/peer-set, netlink/jazz.yaml), on netlink_tool.py's raw client.

  netlink_path.py hostile DEV PEER     malformed records, each refused with
                                       its errno and extack text; a valid
                                       one is stored, stamped and read back;
                                       nothing refused changes it
  netlink_path.py get DEV PEER         print "kind K since S reason R"
                                       ("none" without a record)
  netlink_path.py set DEV PEER KIND REASON
                                       write a record; print "ok" or
                                       "ERRNO extack"
  netlink_path.py foreign DEV IFINDEX PEER
                                       (run in another netns, e.g. as a
                                       user namespace's root) writing DEV's
                                       peer by name and by ifindex is
                                       refused with ENODEV

Prints "PASS desc" / "FAIL desc: why" lines (hostile, foreign).
"""
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlink_tool as nt  # noqa: E402

J, A, attr, nest, u8, u32, u64, strz = nt.J, nt.A, nt.attr, nt.nest, nt.u8, nt.u32, nt.u64, nt.strz
KINDS = {"direct": J["JAZZ_PATH_KIND_DIRECT"], "relayed": J["JAZZ_PATH_KIND_RELAYED"]}


def path(*parts):
    return nest(J["JAZZ_A_PEER_PATH"], *parts)


def kind(v):
    return u32(J["JAZZ_A_PATH_KIND"], v)


def reason(s):
    return attr(J["JAZZ_A_PATH_REASON"], s + b"\0")


def record(g, devname, peer_id):
    """(kind, since_ns, reason) of the peer's record, None without one."""
    r = g.req(J["JAZZ_CMD_PEER_GET"], nt.dev(devname) + nt.peer(nt.pid(peer_id)))
    for body in r.msgs:
        for t, v in nt.parse_attrs(body):
            if t != A("PEER"):
                continue
            for pt, pv in nt.parse_attrs(v):
                if pt != J["JAZZ_A_PEER_PATH"]:
                    continue
                rec = {t2: v2 for t2, v2 in nt.parse_attrs(pv)}
                k = int.from_bytes(rec.get(J["JAZZ_A_PATH_KIND"], b"\0" * 4)[:4], sys.byteorder)
                s = int.from_bytes(rec.get(J["JAZZ_A_PATH_SINCE_NS"], b"\0" * 8)[:8], sys.byteorder)
                why = rec.get(J["JAZZ_A_PATH_REASON"], b"\0").rstrip(b"\0").decode("ascii", "replace")
                return (k, s, why)
    return None


def hostile(devname, peer_id):
    g = nt.Genl()
    EINVAL, ERANGE, ENOENT = errno.EINVAL, errno.ERANGE, errno.ENOENT
    D, P = nt.dev(devname), nt.pid(peer_id)
    res = []

    def E(desc, payload, errnos, msg):
        res.append(nt.expect(g, "path: " + desc, "JAZZ_CMD_PEER_SET", D + nt.peer(P, payload),
                             errnos, msg))

    E("a record without a kind", path(reason(b"why")), [EINVAL], "path kind is required")
    E("kind 0", path(kind(0)), [ERANGE], "integer out of range")
    E("kind 3 (past relayed)", path(kind(3)), [ERANGE], "integer out of range")
    E("kind 0xffffffff", path(kind(0xffffffff)), [ERANGE], "integer out of range")
    E("kind as u8", path(u8(J["JAZZ_A_PATH_KIND"], 1)), [EINVAL], "invalid attribute length")
    E("reason of 96 bytes", path(kind(1), reason(b"r" * 96)), [EINVAL, ERANGE],
      "Attribute failed policy validation")
    E("reason of 4000 bytes", path(kind(1), reason(b"r" * 4000)), [EINVAL, ERANGE],
      "Attribute failed policy validation")
    E("reason without NUL", path(kind(1), attr(J["JAZZ_A_PATH_REASON"], b"abc")), [EINVAL],
      "Attribute failed policy validation")
    E("reason with a terminal escape", path(kind(1), reason(b"ok\x1b[2J")), [EINVAL],
      "path reason must be printable ASCII")
    E("reason with a newline", path(kind(1), reason(b"line\nforged: line")), [EINVAL],
      "path reason must be printable ASCII")
    E("reason with bytes over 0x7e", path(kind(2), reason("relayé".encode())), [EINVAL],
      "path reason must be printable ASCII")
    E("since-ns given (read only)", path(kind(1), u64(J["JAZZ_A_PATH_SINCE_NS"], 1)), [EINVAL],
      "")
    E("pad in the record", path(kind(1), attr(J["JAZZ_A_PATH_PAD"], b"\0" * 4)), [EINVAL], "")
    E("unknown record attribute 9", path(kind(1), u32(9, 1)), [EINVAL], "Unknown attribute type")
    E("record without NLA_F_NESTED", attr(J["JAZZ_A_PEER_PATH"], kind(1)), [EINVAL],
      "NLA_F_NESTED is missing")
    E("record truncated (says 40 bytes, has 12)",
      nt.struct.pack("=HH", 40, J["JAZZ_A_PEER_PATH"] | nt.NLA_F_NESTED) + kind(1), [EINVAL], "")
    res.append(nt.expect(g, "path: a valid record for a peer that does not exist",
                         "JAZZ_CMD_PEER_SET", D + nt.peer(nt.pid(0x7ffffff0), path(kind(1))),
                         [ENOENT], "no peer with this id"))
    # Nothing above stored anything; a valid record is stored and stamped.
    before = record(g, devname, peer_id)
    res.append(nt.out(before is None, f"path: no record after the refused requests ({before})",
                      "a refused request stored one"))
    r = g.req(J["JAZZ_CMD_PEER_SET"], D + nt.peer(P, path(kind(2), reason(b"no direct path found in 10 s"))))
    rec = record(g, devname, peer_id)
    res.append(nt.out(r.error == 0 and rec is not None and rec[0] == 2 and rec[1] > 0 and
                      rec[2] == "no direct path found in 10 s",
                      f"path: a valid record is stored, stamped and read back ({r!r} {rec})", "bad"))
    # A request refused for another reason leaves the record as it was.
    r = g.req(J["JAZZ_CMD_PEER_SET"], D + nt.peer(P, nt.be16(J["JAZZ_A_PEER_ENDPOINT_PORT"], 9),
                                                 path(kind(1), reason(b"forged"))))
    after = record(g, devname, peer_id)
    res.append(nt.out(r.error == EINVAL and after == rec,
                      f"path: a peer-set refused for its endpoint leaves the record ({r!r} {after})",
                      "record changed"))
    return all(res)


def foreign(devname, ifindex, peer_id):
    g = nt.Genl()
    res = []
    for desc, sel in (("by name", nt.dev(devname)), ("by ifindex", u32(A("IFINDEX"), ifindex))):
        r = g.req(J["JAZZ_CMD_PEER_SET"], sel + nt.peer(nt.pid(peer_id),
                                                        path(kind(1), reason(b"forged"))))
        res.append(nt.out(r.error == errno.ENODEV,
                          f"path: another netns's device {desc} is not found: {r!r}", "want ENODEV"))
    return all(res)


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "hostile":
        return 0 if hostile(a[1], int(a[2])) else 1
    if len(a) >= 3 and a[0] == "get":
        rec = record(nt.Genl(), a[1], int(a[2]))
        print("none" if rec is None else f"kind {rec[0]} since {rec[1]} reason {rec[2]}")
        return 0
    if len(a) >= 5 and a[0] == "set":
        g = nt.Genl()
        r = g.req(J["JAZZ_CMD_PEER_SET"], nt.dev(a[1]) + nt.peer(
            nt.pid(int(a[2])), path(kind(KINDS.get(a[3], 0)), reason(a[4].encode()))))
        print("ok" if r.error == 0 else f"{errno.errorcode.get(r.error, r.error)} {r.msg}")
        return 0
    if len(a) >= 4 and a[0] == "foreign":
        return 0 if foreign(a[1], int(a[2]), int(a[3])) else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
