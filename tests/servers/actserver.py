#!/usr/bin/env python3
"""actserver.py: a small HTTP server for handoff's tests.

It takes its listening socket from handoff (LISTEN_FDS, or the control
protocol on HANDOFF_FD with --protocol), says READY=1 on NOTIFY_SOCKET and
drains on SIGTERM: it stops accepting, finishes the requests in flight and
exits 0. Switches make it misbehave the ways a real server can.
tests/bench/ runs it under other supervisors too: --server-starter takes
the socket from SERVER_STARTER_PORT, --bind-self binds it itself.

  GET /            -> "pid=PID gen=GEN"
  GET /slow?ms=N   -> the same, after N milliseconds
  --warm-up S      -> 503 to everything for S seconds after it accepts,
                      then READY=1: a server that accepts before it is warm
  GET /health      -> 200, or 500 once --sick-after S seconds have passed
                      (a dependency gone: what a guard checks)
"""
import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

GEN = os.environ.get("HANDOFF_GENERATION", "?")
# Set on the drain signal; read by keep-alive connections (--http11).
DRAINING = threading.Event()
# Cleared while warming up (--warm-up): every answer is a 503.
WARM = threading.Event()
WARM.set()
REQUEST_LOG = None  # --log-requests: one line per request answered
SICK = threading.Event()  # --sick-after: /health answers 500
DELAY_MS = 0  # --delay-ms: every answer that much later


def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), path)


# --- the control protocol (see handoff-protocol(7)) ---------------------
HDR = struct.Struct("=HHIII")
HELLO, WELCOME, GET, SOCKET, ERROR, READY = 1, 2, 3, 4, 5, 6


def proto_call(chan, mtype, rid, **keys):
    payload = "".join(f"{k}={v}\n" for k, v in keys.items()).encode()
    chan.send(HDR.pack(1, mtype, rid, len(payload), 0) + payload)
    if mtype == READY:
        return None, {}, []
    data, fds, _flags, _addr = socket.recv_fds(chan, 4096, 1)
    _ver, rtype, rrid, _len, _res = HDR.unpack_from(data)
    assert rrid == rid, "reply to another request"
    body = data[HDR.size:].decode()
    kv = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    return rtype, kv, fds


def sockets_from_protocol():
    chan = socket.socket(fileno=int(os.environ["HANDOFF_FD"]))
    rtype, kv, _ = proto_call(chan, HELLO, 1, pid=os.getpid())
    assert rtype == WELCOME, kv
    socks = []
    for i, name in enumerate(kv["listeners"].split(",")):
        rtype, kv2, fds = proto_call(chan, GET, 2 + i, name=name)
        if rtype != SOCKET:
            sys.exit(f"actserver: GET {name}: {kv2}")
        socks.append(socket.socket(fileno=fds[0]))
    return chan, socks


def sockets_from_env():
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("actserver: LISTEN_PID is not my pid")
    n = int(os.environ["LISTEN_FDS"])
    return [socket.socket(fileno=3 + i) for i in range(n)]


def disconnect(sock):
    """connect(fd, {AF_UNSPEC}): python's connect() takes no AF_UNSPEC
    address, so call libc's, which is the shim's when it is preloaded."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    addr = ctypes.create_string_buffer(16)  # sa_family 0 is AF_UNSPEC
    if libc.connect(sock.fileno(), addr, len(addr)) < 0:
        print(f"actserver: connect(AF_UNSPEC): "
              f"{os.strerror(ctypes.get_errno())}", file=sys.stderr)


def sockets_from_server_starter():
    """SERVER_STARTER_PORT is "host:port=fd;path=fd;...", as start_server
    (Server::Starter) and handoff's pass = inherit announce it."""
    spec = os.environ.get("SERVER_STARTER_PORT")
    if not spec:
        sys.exit("actserver: SERVER_STARTER_PORT is not set")
    return [socket.socket(fileno=int(item.rsplit("=", 1)[1]))
            for item in spec.split(";") if item]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/slow":
            ms = int(parse_qs(url.query).get("ms", ["1000"])[0])
            time.sleep(ms / 1000)
        if DELAY_MS:
            time.sleep(DELAY_MS / 1000)
        body = f"pid={os.getpid()} gen={GEN}\n".encode()
        status = 200 if WARM.is_set() else 503
        if url.path == "/health" and SICK.is_set():
            status = 500
        if REQUEST_LOG is not None:
            # One write per line: O_APPEND keeps the lines of every
            # process and thread whole.
            os.write(REQUEST_LOG, f"gen={GEN} port={self.client_address[1]} "
                     f"status={status} t={time.monotonic():.6f}\n".encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if self.protocol_version != "HTTP/1.0" and DRAINING.is_set():
            # A draining keep-alive server says so, as nginx does.
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class KeepAliveHandler(Handler):
    """HTTP/1.1 with keep-alive (--http11). Draining, it answers the
    request in progress with Connection: close and closes idle connections:
    a client that sends on an idle connection as it closes sees it closed,
    the race every keep-alive server has and HTTP leaves to the client."""
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's
    # algorithm and the client's delayed ACK hold each answer for 40 ms.
    disable_nagle_algorithm = True

    def handle(self):
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            # Wait for the next request, but look at the drain flag often.
            while not select.select([self.connection], [], [], 0.05)[0]:
                if DRAINING.is_set():
                    return
            self.handle_one_request()


class Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 4096

    accept_delay = 0.0

    def handle_error(self, request, client_address):
        pass

    def get_request(self):
        # --accept-delay: a slow acceptor, so connections wait in its queue.
        if self.accept_delay:
            time.sleep(self.accept_delay)
        return super().get_request()


def make_orphans(n):
    """Leave n grandchildren whose parent has exited: they become handoff's."""
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:
                time.sleep(0.3)
                os._exit(0)
            os._exit(0)
        os.waitpid(pid, 0)


def orphan_burst(n):
    """Leave n orphans (handoff's) that all exit at the same moment.

    A shell (forks are cheap there) starts n readers of a pipe whose one
    writer left is a sleep of 0.5 s, and exits: when the sleep ends, every
    read returns end of file at once.
    """
    r, w = os.pipe()
    # exec 4>&- in a subshell: a redirection on a builtin keeps a saved copy.
    script = ('i=0; while [ $i -lt %d ]; do (exec 4>&-; read x <&3) & '
              'i=$((i+1)); done; exec 3<&-; sleep 0.5 & exit 0' % n)
    pid = os.fork()
    if pid == 0:
        # Out of the way first: dup2 onto itself would keep close-on-exec.
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (r, w)]
        os.dup2(hi[0], 3)
        os.dup2(hi[1], 4)
        os.execvp("sh", ["sh", "-c", script])
    os.close(r)
    os.close(w)
    os.waitpid(pid, 0)


def abuse(chan, mode):
    """Misuse the control channel the ways a broken worker could."""
    if mode == "close":
        chan.close()
    elif mode == "garbage":
        for size in (1, 15, 16, 17, 100, 4000):
            chan.send(os.urandom(size))
        chan.send(HDR.pack(99, HELLO, 7, 0, 0))            # unknown version
        chan.send(HDR.pack(1, 777, 8, 0, 0))               # unknown type
        chan.send(HDR.pack(1, GET, 9, 3, 0) + b"a\0b")    # NUL in the text
        chan.send(HDR.pack(1, GET, 10, 100, 0) + b"x=1\n") # length lies
        chan.send(HDR.pack(1, GET, 11, 6, 0) + b"noeq\n\n")
        chan.send(HDR.pack(1, GET, 12, 0, 0))              # GET without name
        with open(os.devnull) as f:                         # an fd it never asked for
            socket.send_fds(chan, [HDR.pack(1, HELLO, 13, 0, 0)], [f.fileno()])
            socket.send_fds(chan, [HDR.pack(1, HELLO, 14, 0, 0)], [f.fileno()] * 3)
    elif mode == "oversized":
        chan.send(HDR.pack(1, HELLO, 15, 65536, 0) + b"k=v\n" * 16384)
    elif mode == "flood":
        # Requests whose replies are never read: bounded, and over when
        # the master gives up on this channel.
        try:
            for i in range(200000):
                chan.send(HDR.pack(1, HELLO, i, 0, 0))
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", action="store_true")
    ap.add_argument("--ready-after", type=float, default=0)
    ap.add_argument("--never-ready", action="store_true")
    ap.add_argument("--exit-at-start", type=int)
    ap.add_argument("--ignore-drain", action="store_true")
    ap.add_argument("--crash-after", type=float)
    ap.add_argument("--orphans", type=int, default=0)
    ap.add_argument("--term-code", type=int, default=0)
    ap.add_argument("--no-notify", action="store_true")
    ap.add_argument("--bind-self", type=int, metavar="PORT",
                    help="bind 127.0.0.1:PORT itself (pass = shim)")
    ap.add_argument("--harmful", action="store_true",
                    help="listen() twice, and shutdown() the listening "
                    "socket when draining: what the shim must absorb")
    ap.add_argument("--disconnect", action="store_true",
                    help="connect(AF_UNSPEC) on the listening socket when "
                    "draining: it would stop the shared socket listening")
    ap.add_argument("--exit-if", metavar="PATH",
                    help="exit 3 at start while PATH exists: a crash loop")
    ap.add_argument("--burst", type=int, default=0, metavar="N",
                    help="leave N orphans that all exit at once, at start")
    ap.add_argument("--abuse", default="", metavar="GEN:MODE,...",
                    help="once ready, misuse the control channel (--protocol): "
                    "close, garbage, oversized or flood, by generation")
    ap.add_argument("--bad-gens", default="",
                    help="comma list: misbehave only in these generations")
    ap.add_argument("--bad-if", metavar="FILE",
                    help="misbehave only if FILE exists at start (the "
                    "version on disk is bad), whatever the supervisor")
    ap.add_argument("--server-starter", action="store_true",
                    help="sockets from SERVER_STARTER_PORT, generation "
                    "from SERVER_STARTER_GENERATION (start_server)")
    ap.add_argument("--no-drain", action="store_true",
                    help="no graceful drain: die at once on SIGTERM")
    ap.add_argument("--warm-up", type=float, default=0, metavar="S",
                    help="accept at once but answer 503 for S seconds, "
                    "then send READY=1")
    ap.add_argument("--accept-delay", type=float, default=0, metavar="MS",
                    help="wait MS milliseconds before each accept")
    ap.add_argument("--delay-ms", type=float, default=0, metavar="MS",
                    help="answer every request MS milliseconds late: slower")
    ap.add_argument("--sick-after", type=float, metavar="S",
                    help="/health answers 500 S seconds after the start")
    ap.add_argument("--log-requests", metavar="FILE",
                    help="append a line per request: gen, client port, status")
    ap.add_argument("--http11", action="store_true",
                    help="HTTP/1.1 keep-alive, closed when draining")
    a = ap.parse_args()
    global GEN, REQUEST_LOG, DELAY_MS
    if a.log_requests:
        REQUEST_LOG = os.open(a.log_requests,
                              os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    if a.server_starter:
        GEN = os.environ.get("SERVER_STARTER_GENERATION", "?")
    if (a.bad_gens and GEN not in a.bad_gens.split(",")) or (
            a.bad_if and not os.path.exists(a.bad_if)):
        a.ready_after = a.warm_up = 0
        a.never_ready = a.ignore_drain = a.no_drain = False
        a.exit_at_start = a.crash_after = a.sick_after = None
        a.delay_ms = 0
        a.burst = 0

    if a.exit_at_start is not None:
        sys.exit(a.exit_at_start)
    if a.exit_if and os.path.exists(a.exit_if):
        sys.exit(3)
    chan = None
    if a.bind_self is not None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", a.bind_self))
        s.listen(16)
        if a.harmful:
            s.listen(1)  # would shrink the shared queue for everyone
        socks = [s]
    elif a.protocol:
        chan, socks = sockets_from_protocol()
    elif a.server_starter:
        socks = sockets_from_server_starter()
    else:
        socks = sockets_from_env()
    if a.ignore_drain:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if a.never_ready:
        while True:
            time.sleep(3600)
    if a.ready_after:
        time.sleep(a.ready_after)
    if a.orphans:
        make_orphans(a.orphans)
    if a.burst:
        orphan_burst(a.burst)

    handler = KeepAliveHandler if a.http11 else Handler
    server = Server(("127.0.0.1", 0), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = socks[0]
    server.accept_delay = a.accept_delay / 1000
    DELAY_MS = a.delay_ms
    # Shared by every generation: accept must never block a draining server.
    server.socket.setblocking(False)

    def drain(signum, frame):
        DRAINING.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    if a.no_drain:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    elif not a.ignore_drain:
        signal.signal(signal.SIGTERM, drain)
    if a.crash_after is not None:
        threading.Timer(a.crash_after, lambda: os._exit(3)).start()
    if a.sick_after is not None:
        threading.Timer(a.sick_after, SICK.set).start()
    def warm():
        WARM.set()
        if not a.no_notify:
            notify(f"READY=1\nSTATUS=serving gen {GEN}")

    if a.warm_up:
        WARM.clear()
        t = threading.Timer(a.warm_up, warm)
        t.daemon = True  # a drain during the warm-up is not held by it
        t.start()
    else:
        warm()
    if chan is not None:
        proto_call(chan, READY, 99)
        modes = dict(x.split(":", 1) for x in a.abuse.split(",") if x)
        if GEN in modes:
            threading.Thread(target=abuse, args=(chan, modes[GEN]),
                             daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    if a.harmful:
        # Would reset every queued connection of every generation.
        server.socket.shutdown(socket.SHUT_RDWR)
    if a.disconnect:
        disconnect(server.socket)
    server.server_close()  # waits for the requests in flight
    sys.exit(a.term_code)


if __name__ == "__main__":
    main()
