#!/usr/bin/env python3
"""udpclients.py: paced UDP load from many source addresses, for handoff's tests.

It sends datagrams to --target from --sources sockets, each bound to its
own loopback address (127.NET.0.1, 127.NET.0.2, ... 127.NET.0.254,
127.NET.1.1, ...: loopback takes any of 127/8 without set-up; with an IPv6
target every source is ::1 on its own port), one source after the other,
--rate datagrams a second in all (paced to the millisecond), for
--duration seconds or --count datagrams, or until the file --until-file
names exists (bounded by --duration, 300 s if not given). Then it waits
for the answers still outstanding (at most --timeout) and prints one JSON
object on stdout:

  sent, answered, lost (no answer within --timeout ms of its send), late
  (answers matching no request outstanding: after their deadline, or not
  ours; not in answered), send_errors, rate (datagrams a second it
  reached), elapsed_s, by_gen {GEN: answers}, sources_by_gen
  {GEN: sources it answered}, sources_answered (sources with an answer
  carrying a generation), sources_multi (sources answered by more than
  one generation), errors (text answers starting "error="), rcodes
  {RCODE: answers} (--dns), p50_ms, p99_ms, max_ms.

Requests are "seq=N" (N counts from 0), answered by udpgen.py with
"gen=GEN pid=PID seq=N". --dns sends A queries for "example." instead,
matched to their answers by source and id; the generation is read from an
A record 10.0.G1.G2 (G1*256+G2) or a TXT "gen=GEN". --burst N sends N
datagrams at once from one source, then the next N from the next source
when the pace allows (a backlog builds at the server). --log PATH writes
one line per answer: "TIME_MS SOURCE GEN SEQ" (TIME_MS on CLOCK_MONOTONIC,
the clock of handoff's mono_us; GEN "-" for an answer without one).

Exit 0 once the JSON is printed (whatever was lost: the caller checks),
2 on bad arguments, 1 if a socket cannot be made.

  udpclients.py --target 127.0.0.1:P --sources 2000 --rate 3000 --duration 10
"""
import argparse
import collections
import json
import os
import resource
import select
import socket
import struct
import sys
import time

DNS_HDR = struct.Struct("!HHHHHH")
QNAME = b"\x07example\x00"


def parse_target(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--target {text}: not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def source_addr(i, net):
    """The i-th source address: 127.NET.B.C, C in 1..254."""
    return f"127.{net}.{i // 254}.{i % 254 + 1}"


def dns_query(qid):
    return DNS_HDR.pack(qid, 0x0100, 1, 0, 0, 0) + QNAME + b"\x00\x01\x00\x01"


def skip_name(buf, i):
    while i < len(buf):
        n = buf[i]
        if n == 0:
            return i + 1
        if n >= 0xC0:
            return i + 2
        i += 1 + n
    return len(buf)


def dns_parse(buf):
    """(id, rcode, gen or None) of a DNS answer, or None if it is not one."""
    if len(buf) < 12:
        return None
    qid, flags, qd, an, _ns, _ar = DNS_HDR.unpack_from(buf)
    if not flags & 0x8000:
        return None  # not a response (QR clear): not a DNS server's answer
    i = 12
    for _ in range(qd):
        i = skip_name(buf, i) + 4
        if i >= len(buf):
            break
    gen = None
    for _ in range(an):
        if i >= len(buf):
            break
        i = skip_name(buf, i)
        if i + 10 > len(buf):
            break
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", buf, i)
        rdata = buf[i + 10:i + 10 + rdlen]
        i += 10 + rdlen
        if rtype == 1 and len(rdata) == 4:
            gen = str(rdata[2] * 256 + rdata[3])
            break
        if rtype == 16 and b"gen=" in rdata:
            gen = rdata.split(b"gen=", 1)[1].split()[0].decode(errors="replace")
            break
    return qid, flags & 0xF, gen


def text_parse(buf):
    """(seq or None, gen or None, is_error) of a text answer."""
    seq = gen = None
    for tok in buf.split():
        if tok.startswith(b"seq="):
            try:
                seq = int(tok[4:])
            except ValueError:
                pass
        elif tok.startswith(b"gen="):
            gen = tok[4:].decode(errors="replace")
    return seq, gen, buf.startswith(b"error=")


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))
    return round(sorted_vals[k], 3)


def main():
    ap = argparse.ArgumentParser(description="paced UDP load from many sources")
    ap.add_argument("--target", type=parse_target, required=True)
    ap.add_argument("--sources", type=int, default=1)
    ap.add_argument("--net", type=int, default=1, help="second octet of the sources (1)")
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--count", type=int)
    ap.add_argument("--timeout", type=float, default=1000.0, help="ms")
    ap.add_argument("--dns", action="store_true")
    ap.add_argument("--until-file")
    ap.add_argument("--burst", type=int, default=1)
    ap.add_argument("--log")
    args = ap.parse_args()
    if args.sources < 1 or args.sources > 254 * 256:
        ap.error("--sources must be 1..65024")
    if not 0 <= args.net <= 255:
        ap.error("--net must be 0..255")
    if args.rate <= 0 or args.burst < 1 or args.timeout <= 0:
        ap.error("--rate, --burst and --timeout must be positive")
    if args.duration is None and args.count is None and args.until_file is None:
        ap.error("give --duration, --count or --until-file")
    duration = args.duration
    if duration is None and args.count is None:
        duration = 300.0  # --until-file alone: bounded all the same

    host, port = args.target
    v6 = ":" in host
    family = socket.AF_INET6 if v6 else socket.AF_INET
    target = (host, port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.sources + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.sources + 64), hard))

    ep = select.epoll()
    socks = []
    byfd = {}
    names = []
    rcvbuf = args.burst * 2048 if args.burst > 64 else 0
    for i in range(args.sources):
        s = socket.socket(family, socket.SOCK_DGRAM)
        name = "::1" if v6 else source_addr(i, args.net)
        try:
            s.bind((name, 0))
        except OSError as e:
            print(f"udpclients: bind {name}: {e.strerror}", file=sys.stderr)
            return 1
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        socks.append(s)
        byfd[s.fileno()] = i
        if v6:
            name = f"[::1]:{s.getsockname()[1]}"
        names.append(name)
        ep.register(s.fileno(), select.EPOLLIN)

    log = open(args.log, "w") if args.log else None
    timeout_s = args.timeout / 1000.0
    outstanding = {}  # key -> (send time, seq, source)
    deadlines = collections.deque()  # (deadline, key), in send order
    sent = answered = lost = late = send_errors = errors = 0
    by_gen = collections.Counter()
    rcodes = collections.Counter()
    gens_of = [None] * args.sources  # per source: a set of generations
    lat = []
    seq = 0
    nxt = 0  # the next source
    # Catch-up after a stall goes at most this many datagrams at a time,
    # answers read between: a stalled client must not flood the server.
    catchup = max(args.burst, int(args.rate / 100) + 1)

    t0 = time.monotonic()
    end = t0 + duration if duration is not None else None
    sending = True
    next_check = t0
    last_send = t0
    while True:
        now = time.monotonic()
        if sending:
            if (args.count is not None and sent + send_errors >= args.count) or \
                    (end is not None and now >= end):
                sending = False
            elif args.until_file and now >= next_check:
                next_check = now + 0.05
                if os.path.exists(args.until_file):
                    sending = False
            if not sending:
                last_send = now
        if sending:
            budget = catchup
            while budget > 0 and now >= t0 + (sent + send_errors) / args.rate:
                n = args.burst
                if args.count is not None:
                    n = min(n, args.count - sent - send_errors)
                if n <= 0:
                    break
                i = nxt
                nxt = (nxt + 1) % args.sources
                s = socks[i]
                for _ in range(n):
                    if args.dns:
                        qid = seq & 0xFFFF
                        key = (i, qid)
                        payload = dns_query(qid)
                    else:
                        key = seq
                        payload = b"seq=%d" % seq
                    try:
                        s.sendto(payload, target)
                    except OSError:
                        send_errors += 1
                        seq += 1
                        continue
                    t = time.monotonic()
                    outstanding[key] = (t, seq, i)
                    deadlines.append((t + timeout_s, key))
                    sent += 1
                    seq += 1
                budget -= n
            now = time.monotonic()
        # Requests past their deadline are lost.
        while deadlines and deadlines[0][0] <= now:
            _, key = deadlines.popleft()
            if outstanding.pop(key, None) is not None:
                lost += 1
        if not sending and not outstanding:
            break
        # Wait for answers, the next send, the next deadline, at most 50 ms.
        wait = 0.05
        if sending:
            wait = min(wait, t0 + (sent + send_errors) / args.rate - now)
        if deadlines:
            wait = min(wait, deadlines[0][0] - now)
        events = ep.poll(max(wait, 0))
        logged = False
        for fd, _ev in events:
            i = byfd[fd]
            s = socks[i]
            while True:
                try:
                    buf = s.recv(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # an ICMP error on this socket: its requests time out
                t = time.monotonic()
                if args.dns:
                    parsed = dns_parse(buf)
                    if parsed is None:
                        continue
                    qid, rcode, gen = parsed
                    key = (i, qid)
                else:
                    key, gen, is_error = text_parse(buf)
                    rcode = None
                entry = outstanding.pop(key, None)
                if entry is None:
                    late += 1  # after its deadline, or not ours
                    continue
                answered += 1
                lat.append((t - entry[0]) * 1000.0)
                if rcode is not None:
                    rcodes[str(rcode)] += 1
                elif is_error:
                    errors += 1
                if gen is not None:
                    by_gen[gen] += 1
                    if gens_of[i] is None:
                        gens_of[i] = {gen}
                    else:
                        gens_of[i].add(gen)
                if log:
                    log.write(f"{t * 1000:.3f} {names[i]} {gen or '-'} {entry[1]}\n")
                    logged = True
        if logged:
            log.flush()

    elapsed = time.monotonic() - t0
    send_time = max(last_send - t0, 1e-9)
    if log:
        log.close()
    sources_by_gen = collections.Counter()
    multi = 0
    answered_sources = 0
    for g in gens_of:
        if g:
            answered_sources += 1
            for x in g:
                sources_by_gen[x] += 1
            if len(g) > 1:
                multi += 1
    lat.sort()
    out = {
        "sent": sent,
        "answered": answered,
        "lost": lost,
        "late": late,
        "send_errors": send_errors,
        "rate": round(sent / send_time, 1),
        "elapsed_s": round(elapsed, 3),
        "by_gen": dict(sorted(by_gen.items())),
        "sources_by_gen": dict(sorted(sources_by_gen.items())),
        "sources_answered": answered_sources,
        "sources_multi": multi,
        "errors": errors,
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": round(lat[-1], 3) if lat else None,
    }
    if args.dns:
        out["rcodes"] = dict(sorted(rcodes.items()))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
