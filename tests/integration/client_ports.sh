#!/usr/bin/env bash
# client_ports.sh: clients on any source port, as other systems pick them
# (49152-65535 on macOS, Windows and FreeBSD, or anywhere), reach only a
# ready generation through rolls of a server that answers 503 while warming
# up: the probe ports route nothing but the master's probes.
# PROBE_PORTS=LO-HI runs it with --probe-ports LO-HI (default: the
# configured default, as handoff -t prints it).
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

if [ -n "${PROBE_PORTS:-}" ]; then
    probe=$PROBE_PORTS
    set -- --probe-ports "$probe"
else
    probe=$("$HANDOFF" -t -l 127.0.0.1:0 -- true 2>&1 | sed -n 's/^probe_ports = //p')
    set --
fi
case $probe in [0-9]*-[0-9]*) ;; *) fail "no probe_ports range: '$probe'" ;; esac

start_handoff "$@" --pass systemd --ready notify --ready-interval 100ms \
    --drain-timeout 5s -l 127.0.0.1:0 -- python3 "$SERVER" --warm-up 1
wait_log 'event=promote gen=1 ' 1 30
# Clients once gen 1 is warm: until $T/stop, at most 60 s. Each connection
# binds 127.A.B.C (loopback, what the probe routes accept) and a port: two
# in three from 49152-65535, one in three from 1024-65535 outside the
# probe_ports range; another port when that one is in use.
python3 - "$PORT" "$probe" "$T/stop" "$T/clients.out" <<'PY' &
import errno, os, random, socket, sys, threading, time
port, stop, out = int(sys.argv[1]), sys.argv[3], sys.argv[4]
plo, phi = map(int, sys.argv[2].split("-"))
end = time.monotonic() + 60
lock = threading.Lock()
f = open(out, "w")

def pick(rnd):
    if rnd.random() < 2 / 3:
        return rnd.randint(49152, 65535)
    while True:
        p = rnd.randint(1024, 65535)
        if not plo <= p <= phi:
            return p

def one(rnd):
    src = f"127.{rnd.randint(1, 254)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
    s = socket.socket()
    s.settimeout(10)
    while True:
        p = pick(rnd)
        try:
            s.bind((src, p))
            break
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        head = data.split(b"\r\n", 1)[0].split()
        status = head[1].decode() if len(head) > 1 else "none"
    except OSError as e:
        status = type(e).__name__
    finally:
        s.close()
    return f"port={p} status={status}\n"

def loop(seed):
    rnd = random.Random(seed)
    while not os.path.exists(stop) and time.monotonic() < end:
        line = one(rnd)
        with lock:
            f.write(line)

ts = [threading.Thread(target=loop, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
f.close()
PY
clients=$!
sleep 0.5 # some requests before the first roll
for i in 2 3 4 5 6; do roll_and_wait "$i"; done
touch "$T/stop"
wait "$clients"
[ "$(count 'event=roll_failed')" -eq 0 ] || fail "a roll failed"
stop_handoff
read -r n failed high others in_old < <(python3 - "$T/clients.out" <<'PY'
import sys
n = failed = high = others = in_old = 0
for line in open(sys.argv[1]):
    kv = dict(x.split("=", 1) for x in line.split())
    p = int(kv["port"])
    n += 1
    high += p >= 49152
    others += p < 49152
    if kv["status"] != "200":
        failed += 1
        in_old += 61000 <= p <= 61999
        if failed <= 5:
            print(line.strip(), file=sys.stderr)
print(n, failed, high, others, in_old)
PY
)
echo "probe_ports=$probe: $n requests ($high from 49152-65535, $others from 1024-49151), $failed failed ($in_old of them from 61000-61999)"
[ "$high" -ge 500 ] && [ "$others" -ge 100 ] || fail "too few requests to tell: $high from 49152-65535, $others below"
[ "$failed" -eq 0 ] || fail "5 rolls of a warm-up server, probe_ports=$probe: $failed of $n requests failed ($in_old from 61000-61999)"
ok "5 rolls of a warm-up server, probe_ports=$probe: 0 of $n requests failed ($high from ports 49152-65535, $others from 1024-49151, sources 127.x.y.z)"
