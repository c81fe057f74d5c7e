#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Generic netlink fuzzer for jazz.ko, driven by netlink/jazz.yaml.

For every command the spec lists (do and dump) and every attribute of its
request, down through the nested sets (peer, allowed-ip, keyconf, keydir,
conn, probe), it builds
  valid     messages: values inside the spec's checks, ids and names of live
            devices and peers, well-formed allowed-ips, keys of the right
            length, so requests get past parsing into the handlers;
  boundary  messages: one or two attributes at min-1/min/max/max+1, strings
            at max-len and max-len+1, binaries one byte short or long;
  mutated   messages: wrong attribute lengths, random payloads, the nested
            flag toggled, unknown and out-of-range attribute types,
            duplicates, truncated nla_len, bit flips, random commands,
            versions and dump flags;
interleaved (at seeded positions) with link add/del, a device moved into a
child network namespace which then dies (netns delete), and, when run as
real root, module reload (rmmod/insmod). Some of those run asynchronously
(started, not waited for) so they race with the next requests.

  genl_fuzz.py [--seed N] [--seconds S | --count N] [--userns] [--no-reload]
               [--log FILE]

Everything random comes from --seed (printed first): `--seed N --count M`
replays the same sequence of M requests and actions. Prints `# ...` lines,
then PASS/FAIL lines; exit 1 on any FAIL. Run it in its own network
namespace (`unshare -n`); --userns means it runs as root of a user namespace
(`setpriv --reuid 65534 ... unshare -U -r -n`): no module reload then.
"""
import argparse
import collections
import errno
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

import yaml

TOP = os.environ.get("JAZZ_TOP") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "vm"))
import netlink_tool as nt  # noqa: E402  (raw genl socket, attribute packing)

NLM_F_ACK, NLM_F_DUMP = nt.NLM_F_ACK, nt.NLM_F_DUMP
NLA_F_NESTED = nt.NLA_F_NESTED
INT_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "s32": 32}
DEVS = ["jzf0", "jzf1", "jzf2", "jzf3"]
# Members the kernel reports but refuses in requests: valid messages leave
# them out, the others carry them now and then.
READ_ONLY = {"stats", "last-rx-ns", "del-reason", "rtt-ns", "listener-portid", "age-ms",
             "idle-ms", "packets", "bytes", "held", "end", "wait-ns", "verdict-ns", "state",
             "tx-counter", "conn-count", "wire-version", "features", "peer-name",
             "lifetime-s", "direction", "proto", "family", "src-addr", "src-port",
             "dst-addr", "dst-port", "driver"}


def genl():
    """A jazz genl socket; a request unanswered for 60 s is a finding (the
    debug kernel under TCG can take seconds for a big dump)."""
    g = nt.Genl()
    g.s.settimeout(60)
    return g


# ------------------------------------------------------------------ spec
class Attr:
    def __init__(self, setname, num, d, consts):
        self.set = setname
        self.num = num
        self.name = d["name"]
        self.type = d.get("type")
        self.nested = d.get("nested-attributes")
        self.multi = bool(d.get("multi-attr"))
        self.be = d.get("byte-order") == "big-endian"
        c = d.get("checks") or {}
        self.checks = {k: consts.get(v, v) if isinstance(v, str) else v for k, v in c.items()}


class Spec:
    """Attribute sets and commands of netlink/jazz.yaml, numbered as YNL does
    (attributes from 0 in the order listed, commands from 1)."""

    def __init__(self, path):
        d = yaml.safe_load(open(path))
        consts = {c["name"]: c["value"] for c in d.get("definitions", []) if c.get("type") == "const"}
        self.sets = {}
        for s in d["attribute-sets"]:
            attrs, n = [], 0
            for a in s["attributes"]:
                n = a.get("value", n)
                attrs.append(Attr(s["name"], n, a, consts))
                n += 1
            self.sets[s["name"]] = attrs
        self.cmds = []
        for n, o in enumerate(d["operations"]["list"], 1):
            n = o.get("value", n)
            for kind in ("do", "dump"):
                op = o.get(kind)
                if not isinstance(op, dict):
                    continue
                req = (op.get("request") or {}).get("attributes", [])
                self.cmds.append((o["name"], n, kind, o.get("attribute-set", "dev"), req))
        # The generated UAPI header must agree with our numbering.
        for setname, name, want in (("dev", "ifindex", "JAZZ_A_IFINDEX"), ("peer", "id", "JAZZ_A_PEER_ID"),
                                    ("keydir", "salt", "JAZZ_A_KEYDIR_SALT"),
                                    ("probe", "cookie", "JAZZ_A_PROBE_COOKIE")):
            assert self.attr(setname, name).num == nt.J[want], f"{want}: spec and jazz.h disagree"
        assert self.cmd("peer-new")[1] == nt.J["JAZZ_CMD_PEER_NEW"], "command numbers disagree"

    def attr(self, setname, name):
        return next(a for a in self.sets[setname] if a.name == name)

    def cmd(self, name):
        return next(c for c in self.cmds if c[0] == name)


# ------------------------------------------------------------- generator
class Fuzzer:
    def __init__(self, spec, rnd, userns, reload_ok, log):
        self.spec, self.r, self.userns, self.reload_ok, self.log = spec, rnd, userns, reload_ok, log
        self.g = genl()
        self.stale_ifindex = [0, 1, 0x7fffffff, 0xffffffff]
        self.children = []      # child netns holders (Popen)
        self.pending = []       # asynchronous actions still running
        self.stats = collections.Counter()
        self.accepted = collections.Counter()
        self.unanswered = []
        self.slow = []
        self.n = 0
        self.t0 = time.time()

    # -- state
    def live(self):
        # if_nameindex() dumps over rtnetlink; if_nametoindex() of a missing
        # name would make a real root's kernel run modprobe (netdev-NAME).
        return sorted((name, idx) for idx, name in socket.if_nameindex() if name in DEVS)

    def pick_dev(self, valid):
        live = self.live()
        r = self.r
        if live and (valid or r.random() < 0.6):
            return r.choice(live)
        return (r.choice(DEVS + ["lo", "", "x" * 15]), r.choice(self.stale_ifindex))

    # -- values
    def int_bytes(self, a, v):
        bits = INT_BITS.get(a.type, 32)
        v &= (1 << bits) - 1
        fmt = {8: "B", 16: "H", 32: "I", 64: "Q"}[bits]
        return struct.pack((">" if a.be else "=") + fmt, v)

    def valid_int(self, a):
        r = self.r
        lo = a.checks.get("min", 0)
        hi = a.checks.get("max", (1 << INT_BITS.get(a.type, 32)) - 1)
        sem = {("peer", "id"): (1, 8), ("peer", "remote-id"): (1, 8),
               ("keyconf", "peer-id"): (1, 8), ("conn", "peer-id"): (1, 8),
               ("peer", "endpoint-port"): (1, 65535), ("dev", "listen-port"): (0, 65535),
               ("peer", "keepalive-s"): (0, 3), ("keyconf", "key-id"): (0, 3),
               ("dev", "conn-max"): (1, 64), ("dev", "hold-max"): (1, 16),
               ("dev", "approval-timeout-ms"): (10, 200), ("dev", "deny-backoff-ms"): (0, 100),
               ("peer", "flags"): (0, 3)}.get((a.set, a.name))
        if sem:
            lo, hi = max(lo, sem[0]), min(hi, sem[1])
        if (a.set, a.name) == ("peer", "endpoint-ip4"):
            return self.int_bytes(a, r.choice([0x7f000001, 0x0a000001 + r.randrange(4), 0]))
        if (a.set, a.name) in (("conn", "cookie"), ("probe", "cookie")):
            return self.int_bytes(a, r.choice([r.randrange(1, 64), r.getrandbits(64)]))
        if a.name == "ifindex":
            return self.int_bytes(a, self.pick_dev(True)[1])
        return self.int_bytes(a, r.randint(lo, max(lo, hi)))

    def boundary_int(self, a):
        bits = INT_BITS.get(a.type, 32)
        top = (1 << bits) - 1
        lo = a.checks.get("min", 0)
        hi = a.checks.get("max", top)
        cands = [0, 1, top, top - 1, 1 << (bits - 1), lo, hi, lo - 1, hi + 1]
        return self.int_bytes(a, self.r.choice([c for c in cands if 0 <= c <= top] or [0]))

    def valid_string(self, a):
        r = self.r
        if a.name == "ifname":
            return self.pick_dev(True)[0].encode() + b"\0"
        n = r.randint(1, min(a.checks.get("max-len", 15), 20))
        return bytes(r.choice(b"abcxyz019-_") for _ in range(n)) + b"\0"

    def boundary_string(self, a):
        m = a.checks.get("max-len", 32)
        return self.r.choice([b"", b"\0", b"a" * m + b"\0", b"a" * (m + 1) + b"\0",
                              b"a" * m, b"\xff" * 8 + b"\0", b"a\0b\0"])

    def valid_binary(self, a):
        r = self.r
        if "exact-len" in a.checks:
            return r.randbytes(a.checks["exact-len"])
        if a.name in ("addr", "src-addr", "dst-addr"):
            return r.choice([bytes([10, 0, r.randrange(4), r.randrange(256)]),
                             b"\xfd" + bytes(14) + bytes([r.randrange(256)])])
        return r.randbytes(r.randint(a.checks.get("min-len", 0), a.checks.get("max-len", 16)))

    def boundary_binary(self, a):
        lens = [0, 1, 3, 5, 15, 17, 64]
        for k in ("exact-len", "min-len", "max-len"):
            if k in a.checks:
                lens += [a.checks[k] - 1, a.checks[k], a.checks[k] + 1]
        return self.r.randbytes(max(0, self.r.choice(lens)))

    # -- attributes and nests
    def attr_payload(self, a, mode):
        """mode: valid / boundary / mutate for this one attribute."""
        r = self.r
        if a.type == "nest":
            return self.nest_payload(a.nested, mode if mode != "boundary" else "mixed")
        if mode == "mutate":
            return r.choice([b"", r.randbytes(r.choice([1, 2, 3, 5, 7, 9, 17, 300])),
                             nt.attr(r.randrange(8), r.randbytes(4))])
        if a.type in INT_BITS:
            return self.boundary_int(a) if mode == "boundary" else self.valid_int(a)
        if a.type == "string":
            return self.boundary_string(a) if mode == "boundary" else self.valid_string(a)
        return self.boundary_binary(a) if mode == "boundary" else self.valid_binary(a)

    def one_attr(self, a, mode):
        r = self.r
        typ = a.num
        payload = self.attr_payload(a, mode)
        if a.type == "nest":
            typ |= NLA_F_NESTED
        if mode == "mutate" and r.random() < 0.3:
            typ ^= NLA_F_NESTED
        return nt.attr(typ, payload)

    def nest_payload(self, setname, mode):
        """Attributes of one nested set: a coherent valid subset, with some
        attributes at boundaries or mutated in the other modes."""
        r = self.r
        attrs = [a for a in self.spec.sets[setname] if a.type not in ("unused", "pad")]
        if setname == "allowed-ip" and mode == "valid":
            return self.allowed_ip()
        if setname == "peer" and mode == "valid":
            return self.valid_peer()
        parts = []
        for a in attrs:
            if a.name in READ_ONLY and (setname, a.name) != ("allowed-ip", "family") and \
                    (mode == "valid" or r.random() < 0.8):
                continue
            keep = 0.85 if a.name in ("id", "peer-id", "cookie", "key", "salt", "cipher",
                                      "encrypt", "decrypt", "remote-id", "verdict") else 0.35
            if r.random() > keep:
                continue
            amode = "valid" if mode == "valid" else r.choice(["valid", "valid", mode if mode != "mixed" else "boundary"])
            if a.name == "allowed-ip" and a.multi:
                for _ in range(r.choice([1, 1, 2, 5, 40])):
                    parts.append(nt.attr(a.num | NLA_F_NESTED, self.allowed_ip() if amode == "valid"
                                         else self.nest_payload("allowed-ip", amode)))
                continue
            parts.append(self.one_attr(a, amode))
        if mode != "valid" and r.random() < 0.3:
            # unknown or out-of-range attribute types
            parts.append(nt.attr(r.choice([len(attrs) + 1, len(attrs) + 5, 0x3fff, 0]),
                                 r.randbytes(r.choice([0, 4, 8]))))
        if mode != "valid" and parts and r.random() < 0.2:
            parts.append(r.choice(parts))  # duplicate
        r.shuffle(parts)
        return b"".join(parts)

    def valid_peer(self):
        """A peer as jazzctl would send it: ids, at most one endpoint (with
        its port), a few allowed-ips, maybe a name and a keepalive."""
        r = self.r
        P = lambda n: self.spec.attr("peer", n)  # noqa: E731
        parts = [nt.attr(P("id").num, self.valid_int(P("id")))]
        if r.random() < 0.8:
            parts.append(nt.attr(P("remote-id").num, self.valid_int(P("remote-id"))))
        if r.random() < 0.3:
            parts.append(nt.attr(P("name").num, self.valid_string(P("name"))))
        e = r.random()
        if e < 0.3:
            parts.append(nt.attr(P("endpoint-ip4").num, self.valid_int(P("endpoint-ip4"))))
        elif e < 0.5:
            parts.append(nt.attr(P("endpoint-ip6").num, b"\xfd" + bytes(14) + b"\x01"))
        if e < 0.5:
            parts.append(nt.attr(P("endpoint-port").num, self.valid_int(P("endpoint-port"))))
        if r.random() < 0.3:
            parts.append(nt.attr(P("keepalive-s").num, self.valid_int(P("keepalive-s"))))
        for _ in range(r.choice([0, 1, 1, 2, 3, 40])):
            parts.append(nt.attr(P("allowed-ip").num | NLA_F_NESTED, self.allowed_ip()))
        return b"".join(parts)

    def allowed_ip(self):
        r = self.r
        A = lambda n: self.spec.attr("allowed-ip", n).num  # noqa: E731
        if r.random() < 0.5:
            fam, addr, cidr = 2, bytes([10, r.randrange(4), r.randrange(256), r.randrange(256)]), r.randint(8, 32)
        else:
            fam, addr, cidr = 10, b"\xfd" + r.randbytes(15), r.randint(16, 128)
        return (nt.u16(A("family"), fam) + nt.attr(A("addr"), addr) + nt.u8(A("cidr"), cidr))

    # -- messages
    def message(self):
        r = self.r
        cname, cnum, kind, setname, req = r.choice(self.spec.cmds)
        mode = r.choices(["valid", "boundary", "mutate"], [5, 3, 2])[0]
        attrs = {a.name: a for a in self.spec.sets[setname]}
        parts = []
        # Exactly one device selector in valid messages.
        sel = [n for n in req if n in ("ifindex", "ifname")]
        if sel:
            dname, didx = self.pick_dev(mode == "valid")
            use = r.choice(sel)
            if use == "ifindex":
                parts.append(nt.u32(attrs["ifindex"].num, didx))
            else:
                parts.append(nt.strz(attrs["ifname"].num, dname))
            if mode != "valid" and r.random() < 0.2:
                parts.append(nt.u32(attrs["ifindex"].num, r.choice(self.stale_ifindex)))
        for name in req:
            if name in ("ifindex", "ifname"):
                continue
            a = attrs[name]
            if mode == "valid" and a.type == "nest" or r.random() < 0.5:
                amode = mode if mode == "valid" or r.random() < 0.5 else "valid"
                for _ in range(r.choice([1, 1, 1, 2, 3]) if a.multi or mode != "valid" else 1):
                    parts.append(self.one_attr(a, amode))
        payload = b"".join(parts)
        flags = NLM_F_ACK | (NLM_F_DUMP if kind == "dump" else 0)
        version, cmd = 1, cnum
        if mode == "mutate":
            m = r.random()
            if m < 0.25 and payload:
                b = bytearray(payload)
                for _ in range(r.randint(1, 4)):
                    b[r.randrange(len(b))] ^= 1 << r.randrange(8)
                payload = bytes(b)
            elif m < 0.4 and payload:
                payload = payload[:r.randrange(len(payload))]
            elif m < 0.5:
                cmd = r.choice([0, len(self.spec.cmds) + 3, 255, cnum])
            elif m < 0.6:
                flags ^= NLM_F_DUMP
            elif m < 0.65:
                version = r.choice([0, 2, 255])
            elif m < 0.75 and payload:
                # nla_len of the first attribute beyond the message
                payload = struct.pack("=H", len(payload) + r.randint(1, 64)) + payload[2:]
        return cname, kind, mode, cmd, version, flags, payload

    def send(self):
        cname, kind, mode, cmd, version, flags, payload = self.message()
        self.n += 1
        t = time.time()
        self.log.write(f"{self.n} +{t - self.t0:.2f} req {cname}/{kind} {mode} cmd={cmd} v={version} flags={flags:#x} {payload.hex()}\n")
        r = self.g.req(cmd, payload, flags, version=version)
        if time.time() - t > 2:
            self.slow.append(f"#{self.n} {cname}/{kind} {mode} took {time.time() - t:.1f} s: {r!r}")
        if r.error is None:
            self.unanswered.append(f"#{self.n} {cname}/{kind} {mode}")
            # drain whatever comes late so replies do not get mixed up
            self.g = genl()
        else:
            self.log.write(f"{self.n} = {r!r}\n")
            self.stats[errno.errorcode.get(r.error, str(r.error)) if r.error else "ok"] += 1
            if r.error == 0 and cmd == self.spec.cmd(cname)[1]:
                self.accepted[f"{cname}/{kind}"] += 1

    # -- chaos
    def sh(self, cmd, wait=True):
        self.log.write(f"{self.n} +{time.time() - self.t0:.2f} act {'' if wait else 'async '}{cmd}\n")
        p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        if wait:
            p.wait()
        else:
            self.pending.append(p)
        return p

    def reap(self, block=False):
        for p in list(self.pending):
            if block:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            if p.poll() is not None:
                self.pending.remove(p)

    def action(self):
        r = self.r
        live = self.live()
        for d, idx in live:
            if idx not in self.stale_ifindex:
                self.stale_ifindex.append(idx)
        kinds = ["add", "add", "del", "netns", "up"]
        if self.reload_ok:
            kinds.append("reload")
        k = r.choice(kinds)
        wait = r.random() < 0.6
        self.stats["action-" + k] += 1
        if k == "add":
            d = r.choice(DEVS)
            self.sh(f"ip link add {d} type jazz && ip link set {d} up", wait)
        elif k == "up" and live:
            d = r.choice(live)[0]
            self.sh(f"ip link set {d} {r.choice(['up', 'down', 'mtu 1280', 'mtu 9000'])}", wait)
        elif k == "del" and live:
            self.sh(f"ip link del {r.choice(live)[0]}", wait)
        elif k == "netns" and live:
            # A child netns takes a device, then dies with it.
            holder = subprocess.Popen(["unshare", "-n", "sleep", "600"], start_new_session=True)
            self.children.append(holder)
            time.sleep(0.05)
            self.sh(f"ip link set {r.choice(live)[0]} netns {holder.pid}", True)
            victim = r.choice(self.children)
            self.log.write(f"{self.n} act kill netns holder {victim.pid}\n")
            victim.kill()
            victim.wait()
            self.children.remove(victim)
        elif k == "reload":
            self.reap(True)
            self.sh("rmmod jazz; modprobe jazz", True)
            self.g = genl()

    def run(self, count, seconds):
        end = time.time() + seconds if seconds else None
        self.sh("ip link set lo up && ip link add jzf0 type jazz && ip link set jzf0 up")
        i = 0
        while (count is None or i < count) and (end is None or time.time() < end):
            i += 1
            if not self.live() and self.r.random() < 0.7:
                # Valid requests need a device to reach the handlers.
                d = self.r.choice(DEVS)
                self.sh(f"ip link add {d} type jazz && ip link set {d} up")
            if self.r.random() < 0.04:
                self.action()
            else:
                self.send()
            self.reap()
            if i % 200 == 0:
                self.log.flush()
        self.reap(True)
        for c in self.children:
            c.kill()
            c.wait()
        self.log.flush()
        return i


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--userns", action="store_true")
    ap.add_argument("--no-reload", action="store_true")
    ap.add_argument("--log", default="/dev/null")
    a = ap.parse_args()
    if a.seconds is None and a.count is None:
        a.seconds = 60
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"# genl_fuzz seed {seed} ({'user namespace root' if a.userns else 'root'})", flush=True)
    rnd = random.Random(seed)
    spec = Spec(os.path.join(TOP, "netlink", "jazz.yaml"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    log = open(a.log, "w", buffering=1 << 16)
    log.write(f"seed {seed}\n")
    f = Fuzzer(spec, rnd, a.userns, not a.userns and not a.no_reload, log)
    t0 = time.time()
    steps = f.run(a.count, a.seconds)
    secs = time.time() - t0
    replay = f"genl_fuzz.py --seed {seed} --count {steps}{' --userns' if a.userns else ''}"
    print(f"# {steps} steps ({f.n} requests) in {secs:.0f} s; replay: {replay}")
    print("# answers: " + ", ".join(f"{k} {v}" for k, v in f.stats.most_common()))
    for sl in f.slow[:10]:
        print(f"# slow request {sl}")
    print("# accepted: " + ", ".join(f"{k} {v}" for k, v in sorted(f.accepted.items())))
    ok = nt.out(not f.unanswered, f"every request answered ({f.n} requests, seed {seed})",
                f"{len(f.unanswered)} unanswered, first {f.unanswered[:3]}; replay: {replay}")
    # Valid messages must get into the handlers, not only the parser.
    want = ["dev-get/do", "dev-set/do", "peer-new/do", "peer-get/dump"]
    miss = [w for w in want if not f.accepted[w]]
    if f.n >= 300:  # enough requests that every one of these is all but certain
        ok = nt.out(not miss, "valid requests were accepted by the handlers for " + ", ".join(want),
                    f"never accepted: {miss}") and ok
    g = genl()
    subprocess.run("ip link add jzf9 type jazz", shell=True, check=False)
    r = g.req(nt.J["JAZZ_CMD_DEV_GET"], nt.strz(nt.A("IFNAME"), "jzf9"))
    ok = nt.out(r.error == 0, f"the module still serves after fuzzing: dev-get {r!r}", "refused") and ok
    subprocess.run("for d in jzf0 jzf1 jzf2 jzf3 jzf9; do ip link del $d 2>/dev/null; done", shell=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
