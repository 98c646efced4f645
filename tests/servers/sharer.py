#!/usr/bin/env python3
"""sharer.py: a server that changes its listening socket the ways that would
hurt every other process sharing it, and checks what it sees.

Odd generations are blocking servers for which an accept() that fails with
EAGAIN is fatal, as it is for many; even generations make the socket
non-blocking (ioctl FIONBIO, as nginx does) and select(). Every generation
first reads SO_KEEPALIVE of its listening socket (a previous generation's
setting must not show), then sets SO_KEEPALIVE=1 and checks that its
accepted connections have it. Findings go to the file named by argv[2], one
line each: "gen=N keepalive_before=V", "gen=N conn_keepalive=V", and
"gen=N EAGAIN" or "gen=N view=nonblocking" (a blocking generation finds
O_NONBLOCK set on its socket) for the traps.

Takes its socket from LISTEN_FDS, or binds 127.0.0.1:argv[1] itself (the
shim's case).

For a readiness check bounded by the overlap it needs: once its mode and
option are set, a generation creates argv[2].set.N; the previous one,
after its first accept() (or EAGAIN) that began once that file existed,
and after it looked at its socket's flags, creates argv[2].after.N-1. A
new generation ready once that file exists has overlapped the previous one
by at least one accept().
"""
import fcntl
import os
import select
import signal
import socket
import sys

port, out = int(sys.argv[1]), sys.argv[2]
gen = int(os.environ.get("HANDOFF_GENERATION", "0"))


def note(line):
    with open(out, "a") as f:
        f.write(f"gen={gen} {line}\n")


if os.environ.get("LISTEN_FDS"):
    s = socket.socket(fileno=3)
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
note(f"keepalive_before={s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}")
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
nonblocking = gen % 2 == 0
s.setblocking(not nonblocking)
if not nonblocking and fcntl.fcntl(s, fcntl.F_GETFL) & os.O_NONBLOCK:
    note("view=nonblocking")
open(f"{out}.set.{gen}", "w").close()

stopping, seen_conn, saw_nonblocking = False, False, False
told_next = False


def next_set():
    """Whether the next generation has set its mode (checked before an
    accept()'s outcome is looked at, so that the look comes after it)."""
    return not told_next and os.path.exists(f"{out}.set.{gen + 1}")


def tell_next():
    global told_next
    told_next = True
    open(f"{out}.after.{gen}", "w").close()


# Drain without losing a connection: a handler that exited could run
# between accept() returning and the request being served. A blocking
# generation finishes after its next request, or is killed idle at
# drain_timeout; a non-blocking one leaves when select() times out.
def on_term(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, on_term)


def serve(c):
    global seen_conn
    if not seen_conn:
        seen_conn = True
        note(f"conn_keepalive={c.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}")
    c.setblocking(True)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    body = f"gen={gen}\n".encode()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    c.close()
    if stopping:
        sys.exit(0)


while True:
    if nonblocking:
        if stopping:
            sys.exit(0)
        select.select([s], [], [], 0.2)
        after = next_set()
        try:
            c, _ = s.accept()
        except BlockingIOError:
            if after:
                tell_next()
            continue
    else:
        after = next_set()
        try:
            c, _ = s.accept()
        except BlockingIOError:
            note("EAGAIN")
            if after:
                tell_next()
            sys.exit(1)
        # Whether an accept() then fails depends on the queue being empty
        # at that moment; the flag another generation set shows at once.
        if not saw_nonblocking and fcntl.fcntl(s, fcntl.F_GETFL) & os.O_NONBLOCK:
            saw_nonblocking = True
            note("view=nonblocking")
    if after:
        tell_next()
    serve(c)
