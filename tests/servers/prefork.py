#!/usr/bin/env python3
"""prefork.py: a careless pre-forking server for handoff's tests.

The parent takes its listening socket from handoff (LISTEN_FDS, fd 3),
forks N children that accept on it and answer "gen=GEN pid=PID", writes
their pids to PIDFILE.GEN, says READY=1 on NOTIFY_SOCKET and, on SIGTERM,
exits at once: its children are left behind, and they ignore SIGTERM, as
the children of a server that forgot them would go on serving. Once their
socket no longer listens (handoff shuts a steered generation's socket
down when its workers are gone), they linger, as such leftovers do.

  prefork.py N PIDFILE
"""
import os
import signal
import socket
import sys
import time

GEN = os.environ.get("HANDOFF_GENERATION", "?")


def serve(sock):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    body = ("gen=%s pid=%d\n" % (GEN, os.getpid())).encode()
    reply = (b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close"
             b"\r\n\r\n" % len(body)) + body
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            while True:
                time.sleep(1)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.sendall(reply)
        except OSError:
            pass
        conn.close()


def main():
    n, pidfile = int(sys.argv[1]), sys.argv[2]
    sock = socket.socket(fileno=3)
    kids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            serve(sock)
            os._exit(0)
        kids.append(pid)
    with open("%s.%s" % (pidfile, GEN), "w") as f:
        f.write(" ".join(map(str, kids)) + "\n")
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    path = os.environ["NOTIFY_SOCKET"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1", path)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
