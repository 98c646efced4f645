#!/usr/bin/env python3
"""manyclients.py: HTTP clients from many 127.x.y.z source addresses.

Each connection binds one of --sources loopback addresses (127.1.0.1 and
up, or --net A.B: loopback takes any of 127/8 without set-up), sends GET / and records
one line: when it began and ended on CLOCK_MONOTONIC (the clock of the
master's mono_us), its source, the status and the generation that
answered ("gen=N" in the body), or the error. Every source is used
once first (in a shuffled order), then at random: a loaded machine makes
fewer connections, and a check of "2,000 addresses" must still see them
all. Runs --seconds (or until the file --stop names exists, if sooner)
and until each source was used, at most --seconds plus 30 s.

  manyclients.py --port P --seconds S [--stop FILE] [--threads N] [--sources N] --out FILE
"""
import argparse
import os
import random
import re
import socket
import threading
import time

GEN = re.compile(rb"gen=(\d+)")


def one(src, port):
    t0 = time.monotonic()
    s = socket.socket()
    s.settimeout(10)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n", 1)[0].split()
        status = head[1].decode() if len(head) > 1 else "none"
        m = GEN.search(data)
        gen = m.group(1).decode() if m else "-"
        what = f"status={status} gen={gen}"
    except OSError as e:
        what = f"status=error gen=- error={type(e).__name__}"
    finally:
        s.close()
    return f"t0={t0:.6f} t1={time.monotonic():.6f} src={src} {what}\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--stop", help="stop once this file exists")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--sources", type=int, default=2000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--net", default="127.1",
                    help="the first two bytes of the sources (up to 62,500)")
    a = ap.parse_args()
    sources = [f"{a.net}.{i // 250 % 250}.{1 + i % 250}" for i in range(a.sources)]
    first = list(sources)
    random.Random(a.seed).shuffle(first)
    end = time.monotonic() + a.seconds
    cap = end + 30
    lock = threading.Lock()
    out = open(a.out, "w")

    def loop(seed):
        rnd = random.Random(seed)
        while True:
            now = time.monotonic()
            with lock:
                src = first.pop() if first else None
            done = now >= end or (a.stop and os.path.exists(a.stop))
            if (src is None and done) or now >= cap:
                break
            line = one(src or rnd.choice(sources), a.port)
            with lock:
                out.write(line)

    threads = [threading.Thread(target=loop, args=(a.seed * 1000 + i,))
               for i in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


if __name__ == "__main__":
    main()
