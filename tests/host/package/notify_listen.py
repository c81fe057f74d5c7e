#!/usr/bin/python3
# notify_listen.py SOCKET LOG HOST:PORT - the systemd side of sd_notify for
# tests: binds a datagram socket at SOCKET and appends every message it
# receives to LOG, one assignment per line. When a message holds READY=1 it
# connects to HOST:PORT at once and logs whether the port accepted
# ("# port accepting at READY" / "# port NOT accepting at READY").
import os
import socket
import sys

path, log, target = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = target.rsplit(":", 1)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.rename(path + ".tmp", path)
while True:
    data = s.recv(65536).decode(errors="replace")
    lines = data.split("\n")
    if "READY=1" in lines:
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            lines.append("# port accepting at READY")
        except OSError:
            lines.append("# port NOT accepting at READY")
    with open(log, "a") as f:
        f.write("\n".join(l for l in lines if l) + "\n")
