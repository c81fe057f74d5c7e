#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Packet fuzzer for jazz.ko's receive path (docs/PROTOCOL.md, data message).

Sets up, in the current network namespace, a jazz device DEV listening on
PORT with one peer (id 1) whose keys the fuzzer installs itself, so it can
encrypt (python3-cryptography's ChaCha20Poly1305 / AESGCM: no hand-written
crypto). Then it sends to the listen port, over IPv4 and IPv6 loopback:
  random datagrams, truncated, bit-flipped and replayed valid messages,
  valid headers with garbage, wrong type/version/key id/receiver id,
  counters far ahead, at the reject limit, and old;
  validly encrypted messages carrying hostile inner packets: IPv4/IPv6
  headers with bad lengths, versions, IHLs and checksums, options and
  extension headers, fragments (overlapping too), a source outside the
  peer's allowed-ips, broadcast/multicast, oversized (up to 64 KiB), empty
  (keepalive) and tiny packets, and valid pings;
interleaved with key rotation (key-new secondary + key-swap), peer delete
and re-add, and link down/up. Replies the device sends back (ping replies
through the tunnel) are decrypted with the peer's keys.

  pkt_fuzz.py [--seed N] [--seconds S | --count N] [--dev jzp0] [--port 41000]
              [--log FILE]

Checks (PASS/FAIL lines, exit 1 on any FAIL): every datagram that reached
the socket is accounted for by exactly one device counter (rx-packets or a
drop-*), valid pings come back as authentic encrypted replies, and the
device still works afterwards. Everything random comes from --seed (printed
first); `--seed N --count M` replays the same M steps.
"""
import argparse
import collections
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

TOP = os.environ.get("JAZZ_TOP") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "vm"))
import netlink_tool as nt  # noqa: E402

J, A = nt.J, nt.A
CIPHERS = {1: ChaCha20Poly1305, 2: AESGCM}
PEER_ID, REMOTE_ID = 1, 7
# kmod/replay.h JAZZ_REPLAY_REJECT: counters from 2^64 - 4034 on are refused.
# An authentic packet just below it would be accepted and move the key's
# window to the end of the counter space, so every later packet under that
# key would be "too old": "at the limit" draws only refused counters.
REPLAY_REJECT = (1 << 64) - 63 * 64 - 2
ME4, DEV4 = bytes([10, 9, 0, 2]), bytes([10, 9, 0, 1])
ME6, DEV6 = bytes.fromhex("fd090000000000000000000000000002"), bytes.fromhex("fd090000000000000000000000000001")


def csum(b):
    """The Internet checksum (RFC 1071) of inner headers: arithmetic, not crypto."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


class Key:
    def __init__(self, rnd, kid, cipher):
        self.kid, self.cipher = kid, cipher
        # Half the keys have zero salts: a ChaCha20-Poly1305 one then runs
        # on lib/crypto in the kernel (crypto_lib), the rest on the crypto API.
        salt = (lambda: bytes(4)) if rnd.random() < 0.5 else (lambda: rnd.randbytes(4))
        self.tx_key, self.tx_salt = rnd.randbytes(32), salt()   # we -> device
        self.rx_key, self.rx_salt = rnd.randbytes(32), salt()   # device -> we
        self.tx = CIPHERS[cipher](self.tx_key)
        self.rx = CIPHERS[cipher](self.rx_key)
        self.counter = 0

    def keyconf(self, slot):
        kd = lambda k, s: nt.attr(J["JAZZ_A_KEYDIR_KEY"], k) + nt.attr(J["JAZZ_A_KEYDIR_SALT"], s)  # noqa: E731
        # The device's encrypt direction is our receive direction.
        return nt.nest(A("KEY"), nt.u32(J["JAZZ_A_KEYCONF_PEER_ID"], PEER_ID),
                       nt.u32(J["JAZZ_A_KEYCONF_SLOT"], slot), nt.u8(J["JAZZ_A_KEYCONF_KEY_ID"], self.kid),
                       nt.u32(J["JAZZ_A_KEYCONF_CIPHER"], self.cipher),
                       nt.nest(J["JAZZ_A_KEYCONF_ENCRYPT"], kd(self.rx_key, self.rx_salt)),
                       nt.nest(J["JAZZ_A_KEYCONF_DECRYPT"], kd(self.tx_key, self.tx_salt)))

    def seal(self, inner, counter=None, hdr=None):
        if counter is None:
            counter = self.counter
            self.counter += 1
        h = hdr if hdr is not None else struct.pack("!BBBBIQ", 1, 0x10, self.kid, 0, PEER_ID, counter)
        return h + self.tx.encrypt(self.tx_salt + h[8:16], inner, h)

    def open(self, msg):
        h = msg[:16]
        return self.rx.decrypt(self.rx_salt + h[8:16], msg[16:], h)


class Inner:
    """Inner packets, valid and hostile."""

    def __init__(self, rnd):
        self.r = rnd
        self.ipid = 1

    def ip4(self, payload, proto=1, src=ME4, dst=DEV4, ihl=5, ver=4, tot=None, frag=0,
            opts=b"", bad_csum=False, ttl=64):
        self.ipid += 1
        hl = 20 + len(opts)
        tot = hl + len(payload) if tot is None else tot
        h = struct.pack("!BBHHHBBH4s4s", (ver << 4) | ihl, 0, tot & 0xffff, self.ipid & 0xffff, frag,
                        ttl, proto, 0, src, dst) + opts
        c = csum(h) ^ (0x1234 if bad_csum else 0)
        return h[:10] + struct.pack("!H", c) + h[12:] + payload

    def icmp_echo(self, seq, size=16):
        body = struct.pack("!BBHHH", 8, 0, 0, 0x4a5a, seq) + self.r.randbytes(size)
        return body[:2] + struct.pack("!H", csum(body)) + body[4:]

    def ip6(self, payload, nh=58, src=ME6, dst=DEV6, plen=None, ver=6):
        plen = len(payload) if plen is None else plen
        return struct.pack("!IHBB16s16s", ver << 28, plen & 0xffff, nh, 64, src, dst) + payload

    def icmp6_echo(self, seq, src=ME6, dst=DEV6, size=16):
        body = struct.pack("!BBHHH", 128, 0, 0, 0x4a5a, seq) + self.r.randbytes(size)
        pseudo = src + dst + struct.pack("!IxxxB", len(body), 58)
        return body[:2] + struct.pack("!H", csum(pseudo + body)) + body[4:]

    def valid_ping(self, seq):
        if self.r.random() < 0.5:
            return "ping4", self.ip4(self.icmp_echo(seq))
        return "ping6", self.ip6(self.icmp6_echo(seq))

    def hostile(self, seq):
        r = self.r
        e4 = self.icmp_echo(seq)
        k = r.randrange(24)
        if k == 0:
            return "v4 src outside allowed-ips", self.ip4(e4, src=r.choice([bytes([10, 9, 0, 3]), bytes(4), b"\xff" * 4, bytes([127, 0, 0, 1])]))
        if k == 1:
            return "v4 ihl < 5", self.ip4(e4, ihl=r.randrange(5))
        if k == 2:
            return "v4 ihl beyond packet", self.ip4(b"", ihl=15)
        if k == 3:
            return "v4 tot_len > payload", self.ip4(e4, tot=len(e4) + 20 + r.randint(1, 3000))
        if k == 4:
            return "v4 tot_len < header", self.ip4(e4, tot=r.randrange(20))
        if k == 5:
            return "bad version", self.ip4(e4, ver=r.choice([0, 5, 6, 15]))
        if k == 6:
            return "v4 bad checksum", self.ip4(e4, bad_csum=True)
        if k == 7:
            n = r.randint(1, 10)
            return "v4 junk options", self.ip4(e4, ihl=5 + n, opts=r.randbytes(4 * n))
        if k == 8:
            return "v4 fragment (MF, offset 0)", self.ip4(e4 + r.randbytes(64), frag=0x2000)
        if k == 9:
            return "v4 fragment (offset, last)", self.ip4(r.randbytes(r.randint(8, 200)), frag=r.randint(1, 8191))
        if k == 10:
            # overlapping fragments of one datagram (same id)
            self.ipid -= 1
            return "v4 overlapping fragment", self.ip4(r.randbytes(64), frag=0x2000 | r.randint(0, 4))
        if k == 11:
            n = r.choice([1300, 1500, 9000, 30000, 65400])
            return "v4 oversized", self.ip4(r.randbytes(n), proto=17)
        if k == 12:
            return "empty (keepalive)", b""
        if k == 13:
            return "tiny", r.randbytes(r.randint(1, 19))
        if k == 14:
            return "v4 broadcast/multicast", self.ip4(e4, dst=r.choice([b"\xff" * 4, bytes([224, 0, 0, 1]), bytes([10, 9, 0, 255])]))
        if k == 15:
            return "v4 udp bad length", self.ip4(struct.pack("!HHHH", 1234, 9, r.choice([0, 7, 65535]), 0) + r.randbytes(8), proto=17)
        if k == 16:
            return "v4 tcp syn", self.ip4(struct.pack("!HHIIBBHHH", 4321, 22, r.getrandbits(32), 0, 0x50, 0x02, 512, 0, 0), proto=6)
        if k == 17:
            return "v6 src outside allowed-ips", self.ip6(self.icmp6_echo(seq, src=b"\xfd\x09" + bytes(13) + b"\x03"), src=b"\xfd\x09" + bytes(13) + b"\x03")
        if k == 18:
            return "v6 payload_len wrong", self.ip6(self.icmp6_echo(seq), plen=r.choice([0, 1, 4000, 65535]))
        if k == 19:
            # hop-by-hop with junk options / jumbo payload option
            opt = r.choice([r.randbytes(6), b"\xc2\x04" + struct.pack("!I", r.getrandbits(32))])
            return "v6 hop-by-hop", self.ip6(bytes([58, 0]) + opt + self.icmp6_echo(seq), nh=0, plen=r.choice([None, 0]))
        if k == 20:
            frag = struct.pack("!BBHI", 58, 0, r.randint(0, 0xffff), r.getrandbits(32))
            return "v6 fragment header", self.ip6(frag + r.randbytes(r.randint(0, 100)), nh=44)
        if k == 21:
            rh = bytes([58, 2, 0, 1]) + bytes(4) + ME6
            return "v6 routing header type 0", self.ip6(rh + self.icmp6_echo(seq), nh=43)
        if k == 22:
            return "v6 multicast dst", self.ip6(self.icmp6_echo(seq, dst=bytes.fromhex("ff02" + "00" * 13 + "01")), dst=bytes.fromhex("ff02" + "00" * 13 + "01"))
        n = r.choice([1300, 9000, 65400])
        return "v6 oversized", self.ip6(r.randbytes(n), nh=17)


class PktFuzz:
    def __init__(self, rnd, dev, port, log):
        self.r, self.dev, self.port, self.log = rnd, dev, port, log
        self.inner = Inner(rnd)
        self.kinds = collections.Counter()
        self.sent = 0
        self.pings = 0
        self.replies = 0
        self.bad_replies = 0
        self.history = []
        self.keys = []
        self.all_keys = []      # every key ever installed: replies in flight
        self.s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s4.bind(("127.0.0.1", 0))
        self.s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.s6.bind(("::1", 0))
        for s in (self.s4, self.s6):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.setblocking(False)
        self.g = nt.Genl()
        self.g.s.settimeout(60)

    def sh(self, cmd):
        self.log.write(f"act {cmd}\n")
        subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)

    def nl(self, cmd, payload, what):
        r = self.g.req(J[cmd], nt.strz(A("IFNAME"), self.dev) + payload)
        self.log.write(f"nl {what}: {r!r}\n")
        if r.error != 0:
            raise SystemExit(f"pkt_fuzz: {what}: {r!r}")

    def add_peer(self):
        p = nt.nest(A("PEER"), nt.u32(J["JAZZ_A_PEER_ID"], PEER_ID), nt.u32(J["JAZZ_A_PEER_REMOTE_ID"], REMOTE_ID),
                    nt.aip(2, ME4, 32), nt.aip(10, ME6, 128))
        self.nl("JAZZ_CMD_PEER_NEW", p, "peer-new")
        self.keys = [Key(self.r, self.r.randrange(256), self.r.choice([1, 2]))]
        self.all_keys += self.keys
        self.nl("JAZZ_CMD_KEY_NEW", self.keys[0].keyconf(0), "key-new primary")

    def setup(self):
        self.sh(f"ip link add {self.dev} type jazz")
        self.sh(f"ip addr add 10.9.0.1/24 dev {self.dev} && ip addr add fd09::1/64 dev {self.dev} nodad && ip link set {self.dev} up")
        self.nl("JAZZ_CMD_DEV_SET", nt.u16(J["JAZZ_A_LISTEN_PORT"], self.port) + nt.u8(J["JAZZ_A_CONNCHECK"], 0), "dev-set")
        self.add_peer()

    def rotate(self):
        old = self.keys[0]
        kid = (old.kid + 1) % 256
        new = Key(self.r, kid, self.r.choice([1, 2]))
        self.nl("JAZZ_CMD_KEY_NEW", new.keyconf(1), "key-new secondary")
        self.nl("JAZZ_CMD_KEY_SWAP", nt.nest(A("KEY"), nt.u32(J["JAZZ_A_KEYCONF_PEER_ID"], PEER_ID)), "key-swap")
        self.keys = [new, old]
        self.all_keys.append(new)

    def event(self):
        k = self.r.choice(["rotate", "rotate", "repeer", "updown"])
        self.kinds["event " + k] += 1
        if k == "rotate":
            self.rotate()
        elif k == "repeer":
            self.nl("JAZZ_CMD_PEER_DEL", nt.nest(A("PEER"), nt.u32(J["JAZZ_A_PEER_ID"], PEER_ID)), "peer-del")
            self.add_peer()
        else:
            self.sh(f"ip link set {self.dev} down && ip link set {self.dev} up")

    def datagram(self):
        r = self.r
        key = r.choice(self.keys) if self.keys else None
        k = r.randrange(100)
        if k < 8:
            kind, d = "random", r.randbytes(r.choice([0, 1, 7, 8, 15, 16, 31, 32, 33, 100, 1500]))
        elif k < 16 and self.history:
            kind, d = "replayed", r.choice(self.history)
        elif k < 24 and self.history:
            b = r.choice(self.history)
            kind, d = "truncated", b[:r.randrange(len(b))]
        elif k < 34 and self.history:
            b = bytearray(r.choice(self.history))
            for _ in range(r.randint(1, 3)):
                b[r.randrange(len(b))] ^= 1 << r.randrange(8)
            kind, d = "bit-flipped", bytes(b)
        elif k < 40:
            h = struct.pack("!BBBBIQ", r.choice([0, 1, 2, 255]), r.choice([0x10, 0x1f, 0x00, 0x20, 0xf0]),
                            r.randrange(256), r.randrange(256), r.choice([PEER_ID, 0, 2, 0xffffffff]), r.getrandbits(64))
            kind, d = "header + garbage", h + r.randbytes(r.randint(0, 200))
        elif k < 46:
            # authentic under a lie about the header: wrong key id / receiver
            h = struct.pack("!BBBBIQ", 1, 0x10, r.randrange(256), 0, r.choice([PEER_ID, 2, 0]), key.counter + 5)
            kind, d = "wrong key id/receiver", key.seal(self.inner.icmp_echo(1), hdr=h)
        elif k < 50:
            c = r.choice([key.counter + r.randint(5000, 1 << 20), REPLAY_REJECT + r.choice([0, 1, r.randrange(4034)]),
                          max(0, key.counter - r.randint(1, 5000))])
            kind, d = "counter far ahead/at the limit/old", key.seal(self.inner.icmp_echo(2), counter=c % (1 << 64))
            if c > key.counter and c < (1 << 63):
                key.counter = c + 1
        elif k < 70:
            kind, inner = self.inner.valid_ping(self.pings)
            self.pings += 1
            d = key.seal(inner)
        else:
            kind, inner = self.inner.hostile(self.pings)
            kind = "inner: " + kind
            d = key.seal(inner)
        return kind, d

    def send(self):
        kind, d = self.datagram()
        s, dst = (self.s4, ("127.0.0.1", self.port)) if self.r.random() < 0.6 else (self.s6, ("::1", self.port))
        self.log.write(f"{self.sent} {kind} {len(d)} {d[:48].hex()}\n")
        try:
            s.sendto(d, dst)
        except OSError as e:
            self.kinds["send error " + e.strerror] += 1
            return
        self.sent += 1
        self.kinds[kind] += 1
        if kind in ("ping4", "ping6") or kind.startswith("inner"):
            self.history.append(d)
            if len(self.history) > 64:
                self.history.pop(0)

    def drain(self):
        for m in received((self.s4, self.s6)):
            if len(m) < 32 or m[0] != 1:
                self.bad_replies += 1
                continue
            inner = None
            for key in (k for k in reversed(self.all_keys) if k.kid == m[2]):
                try:
                    inner = key.open(m)
                    break
                except InvalidTag:
                    pass
            if inner is None:
                self.bad_replies += 1
            elif inner and (inner[0] >> 4 == 4 and inner[20] == 0 or inner[0] >> 4 == 6 and inner[40] == 129):
                self.replies += 1

    def run(self, count, seconds):
        end = time.time() + seconds if seconds else None
        i = 0
        while (count is None or i < count) and (end is None or time.time() < end):
            i += 1
            if self.r.random() < 0.01:
                self.event()
            else:
                self.send()
            if i % 32 == 0:
                self.drain()
                time.sleep(0.002)
        time.sleep(1)
        self.drain()
        return i


def received(socks):
    """Every datagram waiting on the non-blocking sockets SOCKS."""
    for s in socks:
        while True:
            try:
                yield s.recv(1 << 17)
            except BlockingIOError:
                break


def counters(dev, g=None):
    """The device's counters by name, through G (a new client if None)."""
    g = g or nt.Genl()
    r = g.req(J["JAZZ_CMD_DEV_GET"], nt.strz(A("IFNAME"), dev))
    names = {v: k[len("JAZZ_A_STATS_"):].lower() for k, v in J.items()
             if k.startswith("JAZZ_A_STATS_") and k != "JAZZ_A_STATS_MAX"}
    out = {}
    for body in r.msgs:
        for t, v in nt.parse_attrs(body):
            if t == A("STATS"):
                for tt, vv in nt.parse_attrs(v):
                    if len(vv) == 8 and tt in names:
                        out[names[tt]] = struct.unpack("=Q", vv)[0]
    return out


def udp_lost():
    """Datagrams to us the UDP layer dropped before any encap socket saw them
    (or found no socket): /proc/net/snmp Udp InErrors + NoPorts, and their
    IPv6 twins in /proc/net/snmp6."""
    n = 0
    lines = open("/proc/net/snmp").read().split("\n")
    for a, b in zip(lines, lines[1:]):
        if a.startswith("Udp: ") and b.startswith("Udp: ") and not b.split()[1].isalpha():
            v = dict(zip(a.split()[1:], map(int, b.split()[1:])))
            n += v["InErrors"] + v["NoPorts"]
    for l in open("/proc/net/snmp6"):
        k = l.split()
        if k and k[0] in ("Udp6InErrors", "Udp6NoPorts"):
            n += int(k[1])
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--dev", default="jzp0")
    ap.add_argument("--port", type=int, default=41000)
    ap.add_argument("--log", default="/dev/null")
    a = ap.parse_args()
    if a.seconds is None and a.count is None:
        a.seconds = 60
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"# pkt_fuzz seed {seed}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    log = open(a.log, "w", buffering=1 << 16)
    log.write(f"seed {seed}\n")
    f = PktFuzz(random.Random(seed), a.dev, a.port, log)
    f.setup()
    udp_err0 = udp_lost()
    t0 = time.time()
    steps = f.run(a.count, a.seconds)
    log.flush()
    replay = f"pkt_fuzz.py --seed {seed} --count {steps}"
    print(f"# {steps} steps, {f.sent} datagrams in {time.time() - t0:.0f} s; replay: {replay}")
    print("# sent: " + ", ".join(f"{k} {v}" for k, v in sorted(f.kinds.items())))
    # Receive-side counters only (tx-drop-*, drop-no-endpoint, -key-exhausted,
    # -loop and -tx-error count what the device failed to send: replies to
    # the fuzzer's pings caught between a peer-del and the new key, say);
    # polled until the
    # decrypt queues have drained (stable for 2 s, at most 30 s).
    tx_side = {"drop_no_endpoint", "drop_key_exhausted", "drop_loop", "drop_tx_error"}
    last, stable, deadline = None, 0, time.time() + 30
    while time.time() < deadline:
        c = counters(a.dev)
        accounted = c.get("rx_packets", 0) + c.get("rx_stun", 0) + sum(v for k, v in c.items()
                                                 if k.startswith("drop_") and k not in tx_side)
        if accounted == f.sent:
            break
        stable = stable + 1 if accounted == last else 0
        if stable >= 4:
            break
        last = accounted
        time.sleep(0.5)
    udp_err = udp_lost() - udp_err0
    print("# device counters: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if v))
    # (UDP errors/no-port include the inner UDP packets delivered locally.)
    print(f"# UDP InErrors + NoPorts during the run: {udp_err}")
    ok = nt.out(accounted == f.sent,
                f"every datagram is counted once: rx-packets + rx-stun + drop-* = {accounted}, "
                f"sent {f.sent}",
                f"{f.sent - accounted} unaccounted; replay: {replay}")
    ok = nt.out(f.replies > 0, f"valid encrypted pings come back as authentic encrypted replies ({f.replies} of {f.pings})",
                "no authentic reply") and ok
    ok = nt.out(f.bad_replies == 0, f"every datagram the device sent back is authentic ({f.bad_replies} not)",
                "device sent something our keys do not open") and ok
    # still works: one more ping under the current key
    before = f.replies
    for i in range(40):    # up to 20 s: a loaded TCG guest may lag behind
        f.s4.sendto(f.keys[0].seal(f.inner.ip4(f.inner.icmp_echo(60000 + i))), ("127.0.0.1", a.port))
        time.sleep(0.5)
        f.drain()
        if f.replies > before:
            break
    ok = nt.out(f.replies > before, "the tunnel still answers a ping after fuzzing", "no reply") and ok
    subprocess.run(f"ip link del {a.dev}", shell=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
