#!/usr/bin/env python3
"""gapprobe.py: one client, a new connection per request, back to back; one line per request.

Each line: "t0 t1 ok" (wall clock, seconds: the clock of bash's
EPOCHREALTIME, so that bench.sh can mark when it acted) and "ok" 1 for a
200 answer, 0 for anything else (refused, reset, timeout, another status).
The gaps between its answers show how long the server paused for one
client: report.py reads them around each upgrade or restart.

  gapprobe.py PORT OUT          runs until SIGTERM or SIGINT
"""
import signal
import socket
import sys
import time

port, out = int(sys.argv[1]), sys.argv[2]
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
with open(out, "w", buffering=1) as f:
    while running:
        t0 = time.time()
        ok = 0
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            ok = 1 if data.startswith(b"HTTP/1.") and data.split(None, 2)[1] == b"200" else 0
        except (OSError, IndexError):
            ok = 0
        f.write(f"{t0:.6f} {time.time():.6f} {ok}\n")
        if not ok:
            time.sleep(0.001)  # a refused connect fails at once: do not spin
