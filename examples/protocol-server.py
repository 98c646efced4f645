#!/usr/bin/env python3
"""protocol-server.py: a server that asks handoff for its socket by name.

The control protocol of handoff-protocol(7), spoken directly with the
standard library: HELLO, GET name=web, then READY once serving. Run from
the source tree with:

    handoff -c examples/protocol.conf        (then: kill -USR2 <pid>)
"""
import os
import signal
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

HDR = struct.Struct("=HHIII")  # version, type, id, payload length, reserved
HELLO, WELCOME, GET, SOCKET, ERROR, READY = 1, 2, 3, 4, 5, 6


def request(chan, mtype, rid, **keys):
    """Send one message; for a request, return (type, keys, fds) of its reply."""
    payload = "".join(f"{k}={v}\n" for k, v in keys.items()).encode()
    chan.send(HDR.pack(1, mtype, rid, len(payload), 0) + payload)
    if mtype == READY:
        return None
    data, fds, _, _ = socket.recv_fds(chan, 4096, 1)
    _, rtype, rid_back, _, _ = HDR.unpack_from(data)
    assert rid_back == rid
    body = data[HDR.size:].decode()
    return rtype, dict(l.split("=", 1) for l in body.splitlines()), fds


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from pid {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    chan = socket.socket(fileno=int(os.environ["HANDOFF_FD"]))
    rtype, welcome, _ = request(chan, HELLO, 1, pid=os.getpid())
    if rtype != WELCOME:
        sys.exit(f"protocol-server: HELLO refused: {welcome}")
    rtype, reply, fds = request(chan, GET, 2, name="web")
    if rtype != SOCKET:
        sys.exit(f"protocol-server: GET web refused: {reply}")
    server = HTTPServer(("127.0.0.1", 0), Hello, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=fds[0])
    # SIGTERM: stop accepting, finish the request in hand, exit 0.
    # shutdown() waits for serve_forever(), so it runs in another thread.
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown).start())
    request(chan, READY, 3)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
