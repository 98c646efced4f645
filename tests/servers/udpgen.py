#!/usr/bin/env python3
"""udpgen.py: a UDP server for handoff's tests that answers with its generation.

Each datagram gets one answer, "gen=GEN pid=PID " followed by the request's
payload: a request "seq=N" (what udpclients.py sends) is answered
"gen=GEN pid=PID seq=N". GEN is $HANDOFF_GENERATION ("?" outside handoff).

Its sockets come from LISTEN_FDS (fd 3 and up, systemd style; LISTEN_PID
is checked if set; the SOCK_DGRAM ones, or the one --fdname names in
LISTEN_FDNAMES), or it binds its own with --bind HOST:PORT: under handoff's
LD_PRELOAD shim that bind() is given the generation's socket.

  --threads N      N threads read the same socket(s)
  --bind-each      with --bind: each thread creates and binds its own
                   socket with SO_REUSEPORT (as unbound does)
  --dns            answer DNS queries instead: an A query (any name) with
                   10.0.GEN/256.GEN%256, a TXT query with "gen=GEN pid=PID",
                   other types with no record (NOERROR)
  --warm S         for S seconds after it begins reading, answer SERVFAIL
                   (--dns) or "error=warming gen=GEN pid=PID ..." (text):
                   a server that says it is ready before it is warm
  --slow-start S   sleep S seconds before reading at all (datagrams queue)
  --delay-ms N     wait N ms before each answer (a slow reader: a backlog
                   builds)
  --rcvbuf BYTES   set the receive buffer (SO_RCVBUFFORCE, else SO_RCVBUF)
                   on every socket: a small datagram takes ~830 bytes of a
                   buffer, so the default 212992 queues about 256, 85 ms
                   of 3,000/s: a busy machine's stalls drop datagrams
                   (RcvbufErrors) unless the buffer is larger

READY=1 goes to $NOTIFY_SOCKET (if set) once it reads. On SIGTERM or
SIGINT it keeps reading until its sockets have been empty for 100 ms, so
that what was queued is answered, then exits 0. It writes nothing on
stdout; errors go to stderr (exit 1, or 2 on bad arguments).
"""
import argparse
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

GEN = os.environ.get("HANDOFF_GENERATION", "?")
PID = os.getpid()
PREFIX = f"gen={GEN} pid={PID} ".encode()
try:
    GEN_NUM = int(GEN)
except ValueError:
    GEN_NUM = 0
# Set by SIGTERM/SIGINT: drain what is queued, then exit.
STOP = threading.Event()
# How long the sockets must stay empty after a stop before the exit.
QUIET_S = 0.1
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def die(msg):
    print(f"udpgen: {msg}", file=sys.stderr)
    sys.exit(1)


def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(msg.encode(), path)


def parse_hostport(text, flag):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{flag} {text}: not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


def sockets_from_env(fdname):
    n = os.environ.get("LISTEN_FDS")
    if n is None:
        die("no LISTEN_FDS and no --bind: no socket to read")
    pid = os.environ.get("LISTEN_PID")
    if pid is not None and pid != str(PID):
        die(f"LISTEN_PID={pid} is not my pid {PID}")
    if not n.isdigit():
        die(f"LISTEN_FDS={n}: not a number")
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    socks = []
    for i in range(int(n)):
        s = socket.socket(fileno=3 + i)
        if s.type != socket.SOCK_DGRAM:
            s.detach()
            continue
        if fdname is not None and (i >= len(names) or names[i] != fdname):
            s.detach()
            continue
        socks.append(s)
    for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(k, None)
    if not socks:
        die(f"no SOCK_DGRAM socket among LISTEN_FDS={n}"
            + (f" named {fdname}" if fdname else ""))
    return socks


def bind_one(host, port, reuseport):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    # dnsmasq sets SO_REUSEADDR; unbound with so-reuseport both.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind((host, port))
    except OSError as e:
        die(f"bind {host}:{port}: {e.strerror}")
    return s


def set_rcvbuf(s, size):
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


# --- DNS -------------------------------------------------------------------
DNS_HDR = struct.Struct("!HHHHHH")
T_A, T_TXT = 1, 16


def dns_answer(req, warming):
    """The reply to one query, or None for a datagram too short to answer."""
    if len(req) < 12:
        return None
    qid, flags, qd, _an, _ns, _ar = DNS_HDR.unpack_from(req)
    if flags & 0x8000:
        return None  # a response: never answer one
    opcode_rd = flags & 0x7900  # opcode and RD, copied
    # The question: labels up to the root, then type and class.
    i = 12
    while qd >= 1 and i < len(req):
        n = req[i]
        if n == 0 or n >= 0xC0:
            break
        i += 1 + n
    end = i + 1 + 4
    if qd != 1 or i >= len(req) or req[i] != 0 or end > len(req):
        # FORMERR, the header alone.
        return DNS_HDR.pack(qid, 0x8000 | opcode_rd | 1, 0, 0, 0, 0)
    question = req[12:end]
    qtype = struct.unpack_from("!H", req, end - 4)[0]
    if warming:
        return DNS_HDR.pack(qid, 0x8400 | opcode_rd | 2, 1, 0, 0, 0) + question
    rr = b""
    if qtype == T_A:
        rdata = bytes((10, 0, (GEN_NUM >> 8) & 255, GEN_NUM & 255))
        rr = struct.pack("!HHHIH", 0xC00C, T_A, 1, 0, 4) + rdata
    elif qtype == T_TXT:
        txt = PREFIX.strip()
        rdata = bytes((len(txt),)) + txt
        rr = struct.pack("!HHHIH", 0xC00C, T_TXT, 1, 0, len(rdata)) + rdata
    return DNS_HDR.pack(qid, 0x8400 | opcode_rd, 1, 1 if rr else 0, 0, 0) + question + rr


# --- the reading loop ------------------------------------------------------
def serve(socks, args, warm_until):
    """Answer what reaches socks until a stop and 100 ms of empty sockets."""
    poller = select.poll()
    byfd = {}
    for s in socks:
        s.setblocking(False)
        poller.register(s.fileno(), select.POLLIN)
        byfd[s.fileno()] = s
    delay = args.delay_ms / 1000.0
    last_busy = time.monotonic()
    while True:
        stopping = STOP.is_set()
        events = poller.poll(20 if stopping else 100)
        now = time.monotonic()
        if not events:
            if stopping and now - last_busy >= QUIET_S:
                return
            continue
        last_busy = now
        for fd, _ev in events:
            s = byfd[fd]
            while True:
                try:
                    data, peer = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    print(f"udpgen: recvfrom: {e.strerror}", file=sys.stderr)
                    break
                if delay:
                    time.sleep(delay)
                warming = warm_until and time.monotonic() < warm_until
                if args.dns:
                    out = dns_answer(data, warming)
                    if out is None:
                        continue
                elif warming:
                    out = b"error=warming " + PREFIX + data
                else:
                    out = PREFIX + data
                try:
                    s.sendto(out, peer)
                except OSError as e:
                    print(f"udpgen: sendto {peer}: {e.strerror}", file=sys.stderr)
        last_busy = time.monotonic()


def on_stop(_sig, _frame):
    STOP.set()


def main():
    ap = argparse.ArgumentParser(description="UDP server answering with its generation")
    ap.add_argument("--bind", type=lambda t: parse_hostport(t, "--bind"))
    ap.add_argument("--bind-each", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fdname")
    ap.add_argument("--dns", action="store_true")
    ap.add_argument("--warm", type=float, default=0.0)
    ap.add_argument("--slow-start", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--rcvbuf", type=int, default=0)
    args = ap.parse_args()
    if args.threads < 1:
        ap.error("--threads must be 1 or more")
    if args.bind_each and not args.bind:
        ap.error("--bind-each needs --bind")
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    # Each thread's list of sockets.
    if args.bind and args.bind_each:
        host, port = args.bind
        first = bind_one(host, port, True)
        port = first.getsockname()[1]  # --bind HOST:0: the others join it
        per_thread = [[first]] + [[bind_one(host, port, True)] for _ in range(args.threads - 1)]
    else:
        socks = [bind_one(*args.bind, False)] if args.bind else sockets_from_env(args.fdname)
        per_thread = [socks] * args.threads
    if args.rcvbuf:
        for socks in per_thread:
            for s in socks:
                set_rcvbuf(s, args.rcvbuf)

    if args.slow_start:
        STOP.wait(args.slow_start)  # a stop ends the wait: drain at once
    warm_until = time.monotonic() + args.warm if args.warm else 0
    notify("READY=1")
    threads = [threading.Thread(target=serve, args=(socks, args, warm_until), daemon=True)
               for socks in per_thread[1:]]
    for t in threads:
        t.start()
    serve(per_thread[0], args, warm_until)
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
