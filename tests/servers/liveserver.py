#!/usr/bin/env python3
"""liveserver.py: an HTTP server for handoff's liveness tests.

It takes its listening socket as systemd passes it (LISTEN_FDS, fd 3),
says READY=1 on NOTIFY_SOCKET once it serves, answers every GET with
"gen=GEN pid=PID", one thread per connection, and drains on SIGTERM (stops
accepting, waits for the requests in flight, exits 0). Switches make it
fail the ways liveness checks are for:

  --hang-after S         S seconds after it starts serving, every request
                         (those in flight and every later one) waits
                         forever; it still accepts: a deadlock. Its drain
                         then never ends either.
  --hang-when PATH       the same, once PATH exists (looked at every 50 ms)
  --watchdog-stop S      with WATCHDOG_USEC set (and WATCHDOG_PID its own
                         pid, or unset, as sd_watchdog_enabled(3) reads
                         them), it sends WATCHDOG=1 every WATCHDOG_USEC/3;
                         S seconds after its start it stops, and keeps
                         serving; its log line says when it sent the
                         last one (last_ping_ms=, wall clock)
  --watchdog-stop-when PATH  the same, once PATH exists
  --watchdog-trigger S   S seconds after its start, WATCHDOG=trigger (and
                         WATCHDOG=1 on as before)
  --grow MB              its resident size grows by MB megabytes a second
  --never-ready          serves, but never sends READY=1
  --once PATH            the switches above only if PATH does not exist
                         yet; it is made at start: a process started again
                         (restart) behaves
  --plan FILE            per generation: the line of FILE whose first word
                         is HANDOFF_GENERATION (or else the line "*") adds
                         its other words to the arguments, e.g.
                             1 --hang-after 2
                             * --never-ready
                         (LIVESERVER_PLAN in the environment as well)

What it does is logged on its standard error, one line each, with the
time on CLOCK_MONOTONIC (handoff's mono_us= clock) and the wall clock's
in milliseconds (handoff's ts=):
  liveserver: gen=1 pid=42 what=hang mono_us=123 real_ms=1700000000000
"""
import argparse
import os
import shlex
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GEN = os.environ.get("HANDOFF_GENERATION", "?")
HUNG = threading.Event()  # set: every request waits forever
NEVER = threading.Event()  # never set: what a hung request waits on
MEMORY = []  # what --grow holds


def say(what, **more):
    extra = "".join(f" {k}={v}" for k, v in more.items())
    line = (f"liveserver: gen={GEN} pid={os.getpid()} what={what}{extra} "
            f"mono_us={time.monotonic_ns() // 1000} "
            f"real_ms={time.time_ns() // 1000000}\n")
    os.write(2, line.encode())


def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(msg.encode(), path)
        return True
    except OSError as e:
        say("notify_failed", error=f'"{e}"')
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        if HUNG.is_set():
            NEVER.wait()
        body = f"gen={GEN} pid={os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # A drain waits for every request in flight: a hung one never ends, so
    # neither does the drain of a hung server, as with a real deadlock.
    daemon_threads = False
    block_on_close = True
    request_queue_size = 4096

    def handle_error(self, request, client_address):
        pass


def watchdog(stop_after, trigger_after, start, stop_when=None):
    usec = os.environ.get("WATCHDOG_USEC")
    wpid = os.environ.get("WATCHDOG_PID")
    if not usec:
        return
    if wpid and wpid != str(os.getpid()):
        say("watchdog_not_mine", watchdog_pid=wpid)
        return
    period = int(usec) / 1e6 / 3
    say("watchdog", usec=usec, watchdog_pid=wpid)
    triggered = False
    stopped = False
    last = 0  # the wall clock's ms at the last WATCHDOG=1 sent
    while True:
        now = time.monotonic() - start
        if trigger_after is not None and not triggered and now >= trigger_after:
            say("watchdog_trigger")
            notify("WATCHDOG=trigger")
            triggered = True
        if ((stop_after is not None and now >= stop_after) or
                (stop_when is not None and os.path.exists(stop_when))):
            if not stopped:
                say("watchdog_stop", last_ping_ms=last)
                stopped = True
        else:
            last = time.time_ns() // 1000000
            notify("WATCHDOG=1")
        wake = period
        for t in (trigger_after, stop_after):
            if t is not None and now < t:
                wake = min(wake, t - now)
        time.sleep(max(wake, 0.001))


def grow(mb_per_s):
    chunk = int(mb_per_s * 1024 * 1024 / 10)
    while True:
        # bytes filled with a non-zero value: every page written, resident.
        MEMORY.append(b"\x5a" * chunk)
        time.sleep(0.1)


def parse(argv):
    ap = argparse.ArgumentParser(prog="liveserver.py")
    ap.add_argument("--hang-after", type=float, metavar="S")
    ap.add_argument("--hang-when", metavar="PATH")
    ap.add_argument("--watchdog-stop", type=float, metavar="S")
    ap.add_argument("--watchdog-stop-when", metavar="PATH")
    ap.add_argument("--watchdog-trigger", type=float, metavar="S")
    ap.add_argument("--grow", type=float, default=0, metavar="MB")
    ap.add_argument("--never-ready", action="store_true")
    ap.add_argument("--once", metavar="PATH")
    ap.add_argument("--plan", default=os.environ.get("LIVESERVER_PLAN"),
                    metavar="FILE")
    return ap.parse_args(argv)


def plan_args(path):
    """The words the plan adds for this generation."""
    mine = other = None
    with open(path) as f:
        for line in f:
            words = shlex.split(line, comments=True)
            if not words:
                continue
            if words[0] == GEN and mine is None:
                mine = words[1:]
            elif words[0] == "*" and other is None:
                other = words[1:]
    return mine if mine is not None else (other or [])


def main():
    start = time.monotonic()
    a = parse(sys.argv[1:])
    if a.plan:
        a = parse(sys.argv[1:] + plan_args(a.plan))
    if a.once:
        try:
            os.close(os.open(a.once, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            a.hang_after = a.hang_when = None
            a.watchdog_stop = a.watchdog_trigger = None
            a.grow = 0
            a.never_ready = False
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("liveserver: LISTEN_PID is not my pid (pass = systemd)")
    sock = socket.socket(fileno=3)
    # Sockets of other generations may share its queue: never block on it.
    sock.setblocking(False)
    server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock

    def drain(signum, frame):
        say("drain")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, drain)
    if a.grow:
        threading.Thread(target=grow, args=(a.grow,), daemon=True).start()
    threading.Thread(target=watchdog, daemon=True,
                     args=(a.watchdog_stop, a.watchdog_trigger, start,
                           a.watchdog_stop_when)).start()
    def hang():
        HUNG.set()
        say("hang")

    if a.hang_after is not None:
        t = threading.Timer(a.hang_after, hang)
        t.daemon = True
        t.start()
    if a.hang_when is not None:
        def hang_when(path):
            while not os.path.exists(path):
                time.sleep(0.05)
            hang()
        threading.Thread(target=hang_when, args=(a.hang_when,),
                         daemon=True).start()
    if a.never_ready:
        say("never_ready")
    elif notify(f"READY=1\nSTATUS=serving gen {GEN}"):
        say("ready")
    server.serve_forever(poll_interval=0.05)
    server.server_close()  # waits for the requests in flight
    say("exit")


if __name__ == "__main__":
    main()
