#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# tcpproxy.py LISTEN_PORT TARGET_PORT: forwards 127.0.0.1:LISTEN to
# 127.0.0.1:TARGET. The cluster tests stop it (SIGSTOP) to cut one jazzd
# server off from Redis while the others still reach it.
import socket
import sys
import threading


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    lis = socket.socket()
    lis.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lis.bind(("127.0.0.1", int(sys.argv[1])))
    lis.listen(64)
    while True:
        c, _ = lis.accept()
        try:
            t = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, t), daemon=True).start()
        threading.Thread(target=pump, args=(t, c), daemon=True).start()


main()
