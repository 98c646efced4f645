#!/usr/bin/env python3
"""dnsresponder.py: a small DNS server for handoff's dns: probe tests.

It binds its own UDP socket: --bind HOST:PORT, where "{gen}" in HOST is
the worker's generation (HANDOFF_GENERATION), so that each generation
answers on an address of its own (127.0.0.{gen}) and a probe of one
generation cannot be answered by another; or, with --bind listen-fds,
takes the UDP socket handoff passes (LISTEN_FDS, fd 3). Every query gets
an answer with the query's id, QR and RA set, and one A record 127.0.0.1.

The switches make it misbehave, in the generations --gens lists (all if
not given):
  --delay-start S   binds only after S seconds
  --silent          reads queries and never answers
  --wrong-id        answers with the query's id + 1
  --wrong-source    answers from another socket (another source port)
  SIGUSR1           stops answering from then on (a server that hangs)
--log FILE appends one line per query: "gen=G src=IP:PORT id=N answered=0|1".
SIGTERM ends it.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import time

GEN = os.environ.get("HANDOFF_GENERATION", "0")


def answer(query, qid):
    """The reply to query with id qid: its question and one A record."""
    flags = struct.unpack("!H", query[2:4])[0]
    # QR, the query's opcode and RD, RA; rcode 0.
    flags = 0x8000 | (flags & 0x7900) | 0x0080
    qd = struct.unpack("!H", query[4:6])[0]
    head = struct.pack("!HHHHHH", qid & 0xFFFF, flags, qd, 1 if qd else 0, 0, 0)
    if qd == 0:
        return head
    # The question: the name's labels up to the empty one, type, class.
    i = 12
    while i < len(query) and query[i] != 0:
        i += 1 + query[i]
    question = query[12:i + 5]
    # The answer: a pointer to the name at 12, A, IN, TTL 60, 127.0.0.1.
    rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    return head + question + rr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True, help="HOST:PORT, {gen} expanded")
    ap.add_argument("--gens", default="", help="generations the switches apply to")
    ap.add_argument("--delay-start", type=float, default=0)
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--wrong-id", action="store_true")
    ap.add_argument("--wrong-source", action="store_true")
    ap.add_argument("--log", default="")
    a = ap.parse_args()

    mine = not a.gens or GEN in a.gens.split(",")
    if a.bind == "listen-fds":
        host, port = "listen-fds", "3"
    else:
        host, port = a.bind.format(gen=GEN).rsplit(":", 1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    hung = []
    signal.signal(signal.SIGUSR1, lambda *_: hung.append(1))
    if mine and a.delay_start > 0:
        time.sleep(a.delay_start)
    if host == "listen-fds":
        s = socket.socket(fileno=3)
        host, port = s.getsockname()[:2]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, int(port)))
    other = None
    if mine and a.wrong_source:
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind((host, 0))
    log = open(a.log, "a", buffering=1) if a.log else None
    if log:
        log.write("gen=%s bound=%s:%s mono_us=%d\n"
                  % (GEN, host, port, time.monotonic_ns() // 1000))
    while True:
        try:
            query, src = s.recvfrom(4096)
        except InterruptedError:
            continue
        if len(query) < 12:
            continue
        qid = struct.unpack("!H", query[:2])[0]
        send = not hung and not (mine and a.silent)
        if send:
            reply = answer(query, qid + 1 if mine and a.wrong_id else qid)
            (other or s).sendto(reply, src)
        if log:
            log.write("gen=%s src=%s:%d id=%d answered=%d\n"
                      % (GEN, src[0], src[1], qid, int(send)))


if __name__ == "__main__":
    main()
