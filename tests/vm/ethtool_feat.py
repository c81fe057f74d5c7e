#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn netdev features on or off by their ethtool names, without ethtool
(not installed in the test guests): the SIOCETHTOOL ioctl's
ETHTOOL_GSTRINGS (the feature names), ETHTOOL_SFEATURES and
ETHTOOL_GFEATURES (to read back what the device now has).

  ethtool_feat.py DEV NAME=on|off ...

Prints NAME=on|off per feature as the device has it afterwards; exit 1
when one did not take the wanted value. Example (tests/vm/rx-gro.sh): GRO
and so NAPI on a veth, `ethtool_feat.py veth2 rx-gro=on`.
"""
import ctypes
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
ETHTOOL_GSTRINGS, ETHTOOL_GSSET_INFO = 0x1b, 0x37
ETHTOOL_GFEATURES, ETHTOOL_SFEATURES = 0x3a, 0x3b
ETH_SS_FEATURES, ETH_GSTRING_LEN = 4, 32


def ioctl(s, dev, buf):
    ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(buf))
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)


def names(s, dev):
    info = ctypes.create_string_buffer(struct.pack("IIQI", ETHTOOL_GSSET_INFO, 0, 1 << ETH_SS_FEATURES, 0))
    ioctl(s, dev, info)
    n = struct.unpack_from("I", info, 16)[0]
    gs = ctypes.create_string_buffer(struct.pack("III", ETHTOOL_GSTRINGS, ETH_SS_FEATURES, n) + bytes(n * ETH_GSTRING_LEN))
    ioctl(s, dev, gs)
    raw = gs.raw[12:]
    return [raw[i * ETH_GSTRING_LEN:(i + 1) * ETH_GSTRING_LEN].split(b"\0")[0].decode() for i in range(n)]


def active(s, dev, nblocks):
    g = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GFEATURES, nblocks) + bytes(16 * nblocks))
    ioctl(s, dev, g)
    return [struct.unpack_from("IIII", g, 8 + 16 * b)[2] for b in range(nblocks)]


def main():
    dev, want = sys.argv[1], {}
    for a in sys.argv[2:]:
        k, v = a.split("=")
        want[k] = v == "on"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    idx = {n: i for i, n in enumerate(names(s, dev))}
    nblocks = (len(idx) + 31) // 32
    valid, req = [0] * nblocks, [0] * nblocks
    for k, on in want.items():
        i = idx[k]
        valid[i // 32] |= 1 << (i % 32)
        if on:
            req[i // 32] |= 1 << (i % 32)
    sf = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_SFEATURES, nblocks) +
                                     b"".join(struct.pack("II", v, r) for v, r in zip(valid, req)))
    ioctl(s, dev, sf)
    act, ok = active(s, dev, nblocks), True
    for k, on in want.items():
        i = idx[k]
        got = bool(act[i // 32] >> (i % 32) & 1)
        print(f"{k}={'on' if got else 'off'}")
        ok = ok and got == on
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
