#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Hostile GRO batches for jazz.ko's receive batching (issue 19, kmod/receive.c
"Receive batching"), run by tests/vm/rx-gro.sh.

Started in the sender's network namespace; the jazz device DEV lives in the
namespace NETNS (a /var/run/netns name), reached over a veth whose receiving
end runs GRO (NAPI) and whose sending end cuts UDP GSO in software, so one
UDP_SEGMENT send arrives at the device's socket as one GRO batch. The fuzzer
configures the device there (netlink) with two peers whose keys it holds
(pkt_fuzz.py's Key: python3-cryptography, no hand-written crypto), then
sends batches of valid and hostile datagrams from this namespace and checks,
per batch, exactly how each datagram was counted and which pings were
answered (authentic replies, decrypted with the peers' keys):

  a valid batch (IPv4 and IPv6 outer), one with a corrupted segment, one
  mixing both peers, a truncated last segment (below the header and inside
  the ciphertext), a replayed segment, an unknown receiver, a 64-datagram
  batch, a 64 KiB batch of 1.4 KB datagrams; then rx_gro=0 (no batches counted, all
  still delivered) and the total: every datagram counted exactly once.

  pkt_batch.py --netns NS --dev DEV --dst4 A --dst6 A6 [--port 41000]
"""
import argparse
import ctypes
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pkt_fuzz as pf  # noqa: E402

nt, J, A = pf.nt, pf.J, pf.A
UDP_SEGMENT = 103
CLONE_NEWNET = 0x40000000
RX_GRO = "/sys/module/jazz/parameters/rx_gro"
PEERS = {1: (7, pf.ME4, pf.ME6), 2: (8, bytes([10, 9, 0, 3]), bytes.fromhex("fd090000000000000000000000000003"))}
libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


class PKey(pf.Key):
    """pkt_fuzz's Key for peer PID (its module constant names peer 1)."""

    def __init__(self, rnd, kid, cipher, pid):
        super().__init__(rnd, kid, cipher)
        self.pid = pid

    def keyconf(self, slot):
        pf.PEER_ID = self.pid
        try:
            return super().keyconf(slot)
        finally:
            pf.PEER_ID = 1

    def seal(self, inner, counter=None, hdr=None):
        if hdr is None:
            c = self.counter if counter is None else counter
            hdr = struct.pack("!BBBBIQ", 1, 0x10, self.kid, 0, self.pid, c)
            if counter is None:
                self.counter += 1
            counter = c
        return super().seal(inner, counter=counter, hdr=hdr)


class Batch:
    def __init__(self, a):
        self.a = a
        self.r = random.Random(19)
        self.inner = pf.Inner(self.r)
        self.ok = True
        self.sent = 0
        self.seq = 0
        self.replies = {1: 0, 2: 0}
        # The netlink socket is made in the device's namespace, the UDP
        # sockets back in this one.
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        setns(f"/var/run/netns/{a.netns}")
        self.g = nt.Genl()
        self.g.s.settimeout(30)
        if libc.setns(home, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(home)
        self.s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        for s in (self.s4, self.s6):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.setblocking(False)
        self.keys = {}

    def nl(self, cmd, payload, what):
        r = self.g.req(J[cmd], nt.strz(A("IFNAME"), self.a.dev) + payload)
        if r.error != 0:
            raise SystemExit(f"pkt_batch: {what}: {r!r}")

    def setup(self):
        self.nl("JAZZ_CMD_DEV_SET", nt.u16(J["JAZZ_A_LISTEN_PORT"], self.a.port) + nt.u8(J["JAZZ_A_CONNCHECK"], 0),
                "dev-set")
        for pid, (rid, a4, a6) in PEERS.items():
            p = nt.nest(A("PEER"), nt.u32(J["JAZZ_A_PEER_ID"], pid), nt.u32(J["JAZZ_A_PEER_REMOTE_ID"], rid),
                        nt.aip(2, a4, 32), nt.aip(10, a6, 128))
            self.nl("JAZZ_CMD_PEER_NEW", p, f"peer-new {pid}")
            # peer 1 ChaCha20-Poly1305, peer 2 AES-256-GCM: same overhead
            self.keys[pid] = PKey(self.r, pid, pid, pid)
            self.nl("JAZZ_CMD_KEY_NEW", self.keys[pid].keyconf(0), f"key-new {pid}")

    def counters(self):
        return pf.counters(self.a.dev, self.g)

    def ping(self, pid, v6=False):
        """A valid ping from peer PID: all of one size per family."""
        _, a4, a6 = PEERS[pid]
        self.seq += 1
        if v6:
            inner = self.inner.ip6(self.inner.icmp6_echo(self.seq, src=a6), src=a6)
        else:
            inner = self.inner.ip4(self.inner.icmp_echo(self.seq), src=a4)
        return self.keys[pid].seal(inner)

    def drain(self):
        for m in pf.received((self.s4, self.s6)):
            for pid, k in self.keys.items():
                try:
                    k.open(m)
                except Exception:
                    continue
                self.replies[pid] += 1
                break

    def send(self, dgrams, v6=False, seg=None):
        s, dst = (self.s6, (self.a.dst6, self.a.port)) if v6 else (self.s4, (self.a.dst4, self.a.port))
        seg = seg or len(dgrams[0])
        s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, seg)
        s.sendto(b"".join(dgrams), dst)
        self.sent += len(dgrams)

    def settle(self, c0, n):
        """Counters once the N datagrams of the batch are all accounted for."""
        deadline, c = time.time() + 20, None
        while time.time() < deadline:
            time.sleep(0.2)
            self.drain()
            c = self.counters()
            if self.accounted(c) - self.accounted(c0) >= n:
                break
        time.sleep(0.3)
        self.drain()
        return c

    @staticmethod
    def accounted(c):
        tx_side = {"drop_no_endpoint", "drop_key_exhausted", "drop_loop", "drop_tx_error"}
        return c.get("rx_packets", 0) + c.get("rx_stun", 0) + sum(
            v for k, v in c.items() if k.startswith("drop_") and k not in tx_side)

    def case(self, label, dgrams, want, replies=None, v6=False, seg=None, batched=True):
        """Send DGRAMS as one UDP_SEGMENT batch; WANT: counter deltas."""
        c0, r0 = self.counters(), dict(self.replies)
        self.send(dgrams, v6, seg)
        c = self.settle(c0, len(dgrams))
        d = {k: c.get(k, 0) - c0.get(k, 0) for k in c}
        got = {k: d.get(k, 0) for k in want}
        self.ok = nt.out(got == want, f"{label}: counted as {want}", f"deltas {got}, all {d}") and self.ok
        if batched:
            self.ok = nt.out(d.get("rx_gro_batches", 0) >= 1 and d.get("rx_gro_datagrams", 0) >= 2,
                             f"{label}: arrived as GRO batches ({d.get('rx_gro_batches', 0)} batches, "
                             f"{d.get('rx_gro_datagrams', 0)} datagrams in them)",
                             f"deltas {d}") and self.ok
        if replies:
            deadline = time.time() + 10
            while time.time() < deadline and any(self.replies[p] - r0[p] < n for p, n in replies.items()):
                time.sleep(0.2)
                self.drain()
            got = {p: self.replies[p] - r0[p] for p in replies}
            self.ok = nt.out(got == replies, f"{label}: authentic replies {replies}", f"got {got}") and self.ok
        return d

    def run(self):
        p = self.ping
        self.case("valid batch of 8, IPv4 outer", [p(1) for _ in range(8)],
                  {"rx_packets": 8, "drop_auth": 0}, {1: 8})
        self.case("valid batch of 8, IPv6 outer", [p(1, v6=True) for _ in range(8)],
                  {"rx_packets": 8, "drop_auth": 0}, {1: 8}, v6=True)
        d = [p(1) for _ in range(8)]
        b = bytearray(d[3])
        b[40] ^= 0x20
        d[3] = bytes(b)
        self.case("batch with a corrupted segment", d, {"rx_packets": 7, "drop_auth": 1}, {1: 7})
        self.case("batch mixing two peers", [p(1 + i % 2) for i in range(8)],
                  {"rx_packets": 8, "drop_auth": 0, "drop_no_peer": 0}, {1: 4, 2: 4})
        d = [p(1) for _ in range(8)]
        d[-1] = d[-1][:10]
        self.case("batch whose last segment is cut below the header", d,
                  {"rx_packets": 7, "drop_malformed": 1}, {1: 7})
        d = [p(2) for _ in range(8)]
        d[-1] = d[-1][:40]
        self.case("batch whose last segment is cut inside the ciphertext", d,
                  {"rx_packets": 7, "drop_auth": 1}, {2: 7})
        d = [p(1) for _ in range(8)]
        d[5] = d[4]
        self.case("batch with a replayed segment", d, {"rx_packets": 7, "drop_replay": 1}, {1: 7})
        d = [p(1) for _ in range(8)]
        d[2] = d[2][:4] + struct.pack("!I", 99) + d[2][8:]
        self.case("batch with an unknown receiver", d, {"rx_packets": 7, "drop_no_peer": 1}, {1: 7})
        self.case("batch of 64", [p(2) for _ in range(64)], {"rx_packets": 64, "drop_auth": 0}, {2: 64})
        # 44 x 1452 bytes: as much as one UDP_SEGMENT send (and one GRO
        # batch, 64 KiB) carries
        big = [self.keys[1].seal(self.inner.ip4(self.r.randbytes(1400), proto=17)) for _ in range(44)]
        self.case("44 datagrams of 1.4 KB (a 64 KiB batch)", big,
                  {"rx_packets": 44, "drop_auth": 0, "drop_malformed": 0})
        with open(RX_GRO, "w") as f:
            f.write("0\n")
        try:
            d = self.case("rx_gro=0: a batch of 8", [p(1) for _ in range(8)],
                          {"rx_packets": 8, "rx_gro_batches": 0}, {1: 8}, batched=False)
        finally:
            with open(RX_GRO, "w") as f:
                f.write("1\n")
        c = self.counters()
        self.ok = nt.out(self.accounted(c) == self.sent,
                         f"every datagram counted once: rx-packets + drops = {self.accounted(c)}, sent {self.sent}",
                         f"counters {c}") and self.ok
        return self.ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--netns", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--dst4", required=True)
    ap.add_argument("--dst6", required=True)
    ap.add_argument("--port", type=int, default=41000)
    a = ap.parse_args()
    b = Batch(a)
    b.setup()
    return 0 if b.run() else 1


if __name__ == "__main__":
    sys.exit(main())
