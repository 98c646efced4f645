#!/usr/bin/env python3
"""memcudp.py: paced memcached UDP load (set and get), for handoff's tests.

Each request is one datagram: memcached's 8-byte frame header (request
ID, sequence 0, 1 datagram, 0) and a text command, alternately
"set kN 0 0 LEN" with its value and "get kN" of the key just set. Sent
from --sources sockets on 127.0.0.1, --rate a second, until the file
--until-file names exists (at most --duration seconds, 300 by default),
then the answers still outstanding are waited for (at most --timeout ms
each). Prints one JSON object:

  sent, answered, lost (no answer within --timeout), late (answers that
  match nothing outstanding), stored (STORED), hits (VALUE ... END),
  misses (a bare END: the generation that answered had not the key),
  errors (ERROR, CLIENT_ERROR, SERVER_ERROR), bad (no frame header or a
  reply in more than one datagram).

Exit 0 once the JSON is printed, 2 on bad arguments.

  memcudp.py --target 127.0.0.1:P --rate 2000 --until-file STOP
"""
import argparse
import collections
import json
import os
import select
import socket
import struct
import sys
import time

HDR = struct.Struct("!HHHH")


def main():
    ap = argparse.ArgumentParser(description="memcached UDP load")
    ap.add_argument("--target", required=True)
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--duration", type=float, default=300.0)
    ap.add_argument("--until-file")
    ap.add_argument("--timeout", type=float, default=1000.0, help="ms")
    args = ap.parse_args()
    host, sep, port = args.target.rpartition(":")
    if not sep or not port.isdigit() or args.sources < 1 or args.rate <= 0:
        ap.error("--target HOST:PORT, --sources and --rate positive")
    target = (host, int(port))
    ep = select.epoll()
    socks = []
    for _ in range(args.sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        socks.append(s)
        ep.register(s.fileno(), select.EPOLLIN)
    byfd = {s.fileno(): i for i, s in enumerate(socks)}

    timeout_s = args.timeout / 1000.0
    outstanding = {}  # (source, request id) -> deadline
    deadlines = collections.deque()  # (deadline, key), in send order
    c = dict(sent=0, answered=0, lost=0, late=0, stored=0, hits=0, misses=0,
             errors=0, bad=0)
    t0 = time.monotonic()
    end = t0 + args.duration
    sending = True
    next_check = t0
    n = 0
    while True:
        now = time.monotonic()
        if sending and (now >= end or (args.until_file and now >= next_check
                                       and os.path.exists(args.until_file))):
            sending = False
        if args.until_file and now >= next_check:
            next_check = now + 0.05
        budget = int(args.rate / 100) + 1  # catch-up after a stall, bounded
        while sending and budget > 0 and now >= t0 + n / args.rate:
            i = n % len(socks)
            rid = (n // len(socks)) & 0xFFFF
            key = b"k%d" % (n // 2)
            if n % 2 == 0:
                val = b"v%d" % n
                cmd = b"set %s 0 0 %d\r\n%s\r\n" % (key, len(val), val)
            else:
                cmd = b"get %s\r\n" % key
            socks[i].sendto(HDR.pack(rid, 0, 1, 0) + cmd, target)
            outstanding[(i, rid)] = now + timeout_s
            deadlines.append((now + timeout_s, (i, rid)))
            c["sent"] += 1
            n += 1
            budget -= 1
        while deadlines and deadlines[0][0] <= now:
            _, k = deadlines.popleft()
            if outstanding.pop(k, None) is not None:
                c["lost"] += 1
        if not sending and not outstanding:
            break
        for fd, _ in ep.poll(0.005):
            i = byfd[fd]
            while True:
                try:
                    buf = socks[i].recv(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # an ICMP error: the requests of this source time out
                if len(buf) < 8:
                    c["bad"] += 1
                    continue
                rid, seq, total, _ = HDR.unpack_from(buf)
                if outstanding.pop((i, rid), None) is None:
                    c["late"] += 1
                    continue
                c["answered"] += 1
                body = buf[8:]
                if seq != 0 or total != 1:
                    c["bad"] += 1
                elif body.startswith(b"STORED"):
                    c["stored"] += 1
                elif body.startswith(b"VALUE"):
                    c["hits"] += 1
                elif body.startswith(b"END"):
                    c["misses"] += 1
                else:
                    c["errors"] += 1
    c["elapsed_s"] = round(time.monotonic() - t0, 3)
    print(json.dumps(c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
