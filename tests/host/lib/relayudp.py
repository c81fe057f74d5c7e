# SPDX-License-Identifier: GPL-2.0
"""Stand-ins for two devices' tunnel sockets against the server's relay
(issue 20; tests/host/nat-relay.sh, cluster-relay.sh): loopback UDP
sockets, a relay latch (a STUN binding request with JAZZ-CHECK {from,
to}), and a receive that gives (None, None) after a second."""
import socket
import struct


def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(1.0)
    return s


def check(frm, to, tx):
    return (struct.pack(">HHI", 1, 12, 0x2112A442) + tx +
            struct.pack(">HHII", 0xC0A7, 8, frm, to))


def got(s):
    try:
        return s.recvfrom(2048)
    except socket.timeout:
        return None, None
