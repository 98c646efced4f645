#!/usr/bin/env bash
# steering.sh: traffic follows readiness: a generation gets clients only once
# it is ready, its probes reach it alone, and a retirement loses nothing.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl

# warm_rolls TRAFFIC READY [SERVER ARGS...]: 5 rolls under load of a server
# that accepts at once and answers 503 for 1 s; sets FAILED and REQS.
warm_rolls() {
    local traffic=$1 ready=$2 p
    shift 2
    p=$(free_port)
    start_handoff --traffic "$traffic" --pass systemd --ready "${ready//PORT/$p}" \
        --ready-interval 100ms --drain-timeout 5s -l "127.0.0.1:$p" \
        -- python3 "$SERVER" --warm-up 1 "$@"
    # The first generation has nothing to wait behind: clients start once
    # it serves, which its promotion says (READY=1, or the probe's 200,
    # come only after the warm-up).
    wait_log 'event=promote ' 1 30
    load_start 8
    for i in 2 3 4 5 6; do roll_and_wait "$i"; done
    load_stop
    [ "$(count 'event=roll_failed')" -eq 0 ] || fail "a roll failed"
    stop_handoff
}

# 1. READY=1 once warm: no client sees the warm-up.
warm_rolls shared notify
shared_failed=$FAILED shared_reqs=$REQS
[ "$shared_failed" -gt 0 ] || fail "traffic = shared: no 503 seen, the test cannot tell"
mv "$LOG" "$T/shared.log"
warm_rolls steered notify
[ "$FAILED" -eq 0 ] || fail "steered, ready = notify: $FAILED of $REQS failed"
ok "warm-up, ready = notify, 5 rolls: shared $shared_failed of $shared_reqs failed, steered $FAILED of $REQS"

# 2. ready = http: on the managed address itself, no READY=1: the probe
# reaches the new generation only, so it passes only once that one is warm.
mv "$LOG" "$T/notify.log"
warm_rolls steered 'http:http://127.0.0.1:PORT/' --no-notify --log-requests "$T/req.log"
[ "$FAILED" -eq 0 ] || fail "steered, ready = http on the managed address: $FAILED of $REQS failed"
ok "warm-up, ready = http://127.0.0.1:PORT/ (the managed address), 5 rolls: $FAILED of $REQS failed"

# Every request the server saw: a probe (a source port of a generation's
# block, from the steer lines) answered by that generation, and no client
# answered by a generation still warming up.
python3 - "$LOG" "$T/req.log" <<'PY' || fail "a probe or a client reached the wrong generation"
import re, sys
blocks = [(int(g), int(lo), int(hi)) for g, lo, hi in
          re.findall(r"event=steer gen=(\d+) probe_ports=(\d+)-(\d+)", open(sys.argv[1]).read())]
probes = wrong = clients503 = probe503 = clients = 0
for line in open(sys.argv[2]):
    kv = dict(x.split("=", 1) for x in line.split())
    port, gen = int(kv["port"]), int(kv["gen"])
    owner = [g for g, lo, hi in blocks if lo <= port <= hi]
    if owner:
        probes += 1
        probe503 += kv["status"] == "503"
        if owner[0] != gen:
            wrong += 1
            print("probe of gen", owner[0], "answered by gen", gen)
    else:
        clients += 1
        clients503 += kv["status"] == "503"
print(f"probes={probes} (503: {probe503}) wrong={wrong} clients={clients} client_503={clients503}")
sys.exit(0 if probes >= 6 and probe503 > 0 and wrong == 0 and clients503 == 0 and clients > 0 else 1)
PY
ok "probes reached only the generation they checked; no client reached one warming up"
stop_handoff 2>/dev/null

# 3. Retirement: a server that accepts slowly holds connections in its queue
# at every promotion; the old generation serves them all before it drains.
mv "$LOG" "$T/http.log"
p=$(free_port)
start_handoff --pass systemd --drain-timeout 10s -l "127.0.0.1:$p" \
    -- python3 "$SERVER" --accept-delay 15
wait_log 'event=promote ' 1 30
load_start 8
for i in $(seq 2 11); do
    roll_and_wait "$i"
    wait_log 'event=gone ' $((i - 1)) 30
done
load_stop
[ "$FAILED" -eq 0 ] || fail "retirement: $FAILED of $REQS failed"
queued=$(grep -Eo 'event=retire gen=[0-9]+ queued=[0-9]+' "$LOG" | grep -Eo '[0-9]+$' | sort -n | tail -n1)
[ "${queued:-0}" -gt 0 ] || fail "no connection was queued at a promotion: the test shows nothing"
grep -Eq 'event=retired .*queued=[1-9]' "$LOG" && fail "a generation drained with connections queued"
ok "10 rolls of a slow acceptor under load: $FAILED of $REQS failed, up to $queued queued at a promotion"
stop_handoff

# 4. Clients from 2,000 source addresses (127.x.y.z) through rolls where
# three generations coexist: one draining with a slow request in flight,
# the active one, one warming up. None answered by a generation it should
# not have reached: before that generation's promotion, or after a newer
# one's (by CLOCK_MONOTONIC, the clock of mono_us).
mv "$LOG" "$T/retire.log"
p=$(free_port)
start_handoff --pass systemd --ready notify --drain-timeout 10s -l "127.0.0.1:$p" \
    -- python3 "$SERVER" --warm-up 1
# Promoted on READY=1, which comes after the warm-up: it serves.
wait_log 'event=promote ' 1 30
# The clients run until the third roll's old generation is gone (and
# until each of the 2,000 sources was used).
python3 "$TOP_SRCDIR/tests/servers/manyclients.py" --port "$p" --seconds 60 \
    --stop "$T/clients.stop" --threads 6 --sources 2000 --out "$T/clients.out" &
clients=$!
for i in 2 3 4; do
    # A request that keeps the generation about to be superseded busy:
    # it drains for 3 s while the next roll starts and ends.
    curl -s --max-time 10 "http://127.0.0.1:$p/slow?ms=3000" >/dev/null &
    sleep 0.3
    roll_and_wait "$i"
done
wait_log 'event=gone gen=3 ' 1 30
touch "$T/clients.stop"
wait "$clients"
python3 - "$LOG" "$T/clients.out" <<'PY' || fail "a client reached a generation it should not have"
import re, sys
log = open(sys.argv[1]).read()
promote = {int(g): int(us) / 1e6 for g, us in
           re.findall(r"event=promote gen=(\d+) .*mono_us=(\d+)", log)}
# Three at once: a roll began while the generation two back still drained.
three = any(log.find(f"event=roll gen={g} ") < log.find(f"event=gone gen={g - 2} ")
            for g in promote if g >= 3)
bad = errors = n = 0
sources = set()
for line in open(sys.argv[2]):
    kv = dict(x.split("=", 1) for x in line.split())
    n += 1
    sources.add(kv["src"])
    if kv["status"] != "200":
        errors += 1
        continue
    g, t0, t1 = int(kv["gen"]), float(kv["t0"]), float(kv["t1"])
    if t1 < promote.get(g, 1e18) or any(h > g and t < t0 for h, t in promote.items()):
        bad += 1
        print("misrouted:", line.strip())
print(f"connections={n} sources={len(sources)} errors={errors} misrouted={bad} three_at_once={three}")
sys.exit(0 if n > 500 and errors == 0 and bad == 0 and three else 1)
PY
ok "clients from $(cut -d' ' -f3 "$T/clients.out" | sort -u | wc -l) source addresses, three generations at once: none misrouted, none failed"
stop_handoff

# 5. Processes added (SIGTTIN) or restarted join their generation's socket;
# reloads that add, move and remove a listener keep every listener served
# by the active generation, under load: none failed on a listener that
# stays, and the removed one's port refuses once its generation left.
mv "$LOG" "$T/clients.log"
WORKER="${BUILD:-$(dirname "$HANDOFF")}/examples/listenfds-server"
[ -x "$WORKER" ] || make -C "$(dirname "$WORKER")/.." -s examples/listenfds-server >/dev/null 2>&1 ||
    { echo "SKIP: examples/listenfds-server cannot be built"; exit 77; }
pa=$(free_port) pb=$(free_port) pc=$(free_port)
conf() { # ADDRESSES...: a file with one listener per address
    local i=0 a
    : >"$T/h.conf"
    for a in "$@"; do
        printf '[listen l%d]\naddress = 127.0.0.1:%s\n' "$i" "$a" >>"$T/h.conf"
        i=$((i + 1))
    done
    printf '[worker]\ncommand = %s\npass = systemd\nready = notify\ndrain_timeout = 5s\n' \
        "$WORKER" >>"$T/h.conf"
}
# pids_of GEN: the running workers of a generation, from the log.
pids_of() {
    local p
    for p in $(grep -Eo "event=spawn gen=$1 pid=[0-9]+" "$LOG" | grep -Eo '[0-9]+$'); do
        kill -0 "$p" 2>/dev/null && echo "$p"
    done
}
sock() { readlink "/proc/$1/fd/$2" 2>/dev/null; }
# gen_of_answer PORT: the generation of the worker that answers.
gen_of_answer() {
    local pid
    pid=$(curl -s --max-time 5 "http://127.0.0.1:$1/" | grep -Eo 'pid [0-9]+' | grep -Eo '[0-9]+')
    grep -Eo "event=spawn gen=[0-9]+ pid=$pid " "$LOG" | grep -Eo 'gen=[0-9]+' | cut -d= -f2
}
conf "$pa"
start_handoff -c "$T/h.conf"
wait_log 'event=promote gen=1 ' 1 20
PORT=$pa
kill -TTIN "$HPID"
wait_log 'event=spawn gen=1 ' 2 20
set -- $(pids_of 1)
[ "$#" -eq 2 ] && [ "$(sock "$1" 3)" = "$(sock "$2" 3)" ] ||
    fail "SIGTTIN: the added process does not hold its generation's socket ($(sock "$1" 3) $(sock "${2:-0}" 3))"
s1=$(sock "$1" 3)
kill -KILL "$2"
wait_log 'event=spawn gen=1 ' 3 20
set -- $(pids_of 1)
for p in "$@"; do [ "$(sock "$p" 3)" = "$s1" ] || fail "restarted: pid $p holds $(sock "$p" 3), not $s1"; done
# reqloop PORT NAME: 4 clients on PORT, a new connection per request, until
# $T/NAME.stop exists (or the test is gone); a line per request in
# $T/NAME.out: when it began and ended on CLOCK_MONOTONIC (the clock of
# mono_us) and what it got: the status, or the error's name. hey counts
# errors but does not say when they happened.
LOOPS=
reqloop() {
    python3 - "$1" "$T/$2.out" "$T/$2.stop" <<'PY' &
import os, socket, sys, threading, time
port, stop, parent = int(sys.argv[1]), sys.argv[3], os.getppid()
out, lock = open(sys.argv[2], "w", buffering=1), threading.Lock()
def client():
    while not os.path.exists(stop) and os.getppid() == parent:
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b"".join(iter(lambda: s.recv(4096), b""))
            what = (data.split() + [b"none"] * 2)[1].decode()
        except OSError as e:
            what = type(e).__name__
        with lock:
            out.write(f"{t0:.6f} {time.monotonic():.6f} {what}\n")
for t in [threading.Thread(target=client) for _ in range(4)]:
    t.start()
PY
    LOOPS="$LOOPS $!"
    # Started once its first request is done: the load spans what follows.
    for _ in $(seq 200); do [ -s "$T/$2.out" ] && return 0; sleep 0.05; done
    fail "no request to $1 done in 10 s"
}
# The load from here: a SIGKILLed worker loses the request it was
# answering, which no supervisor can save.
reqloop "$pa" pa
roll_and_wait 2
set -- $(pids_of 2)
[ "$#" -eq 2 ] && [ "$(sock "$1" 3)" = "$(sock "$2" 3)" ] && [ "$(sock "$1" 3)" != "$s1" ] ||
    fail "generation 2 does not have a socket of its own"
ok "processes added by SIGTTIN and restarted hold their generation's socket; the next generation has another"
# A listener added on reload, then the first one moved to another port:
# $pa is served across the roll and the first reload, $pb from its
# generation's promotion across the second; $pa goes with generation 3.
conf "$pa" "$pb"
kill -HUP "$HPID"
wait_log 'event=promote gen=3 ' 1 30
reqloop "$pb" pb
[ "$(gen_of_answer "$pb")" = 3 ] && [ "$(gen_of_answer "$pa")" = 3 ] ||
    fail "after adding a listener: answered by gen $(gen_of_answer "$pb") on it, $(gen_of_answer "$pa") on the first"
conf "$pc" "$pb"
kill -HUP "$HPID"
wait_log 'event=promote gen=4 ' 1 30
[ "$(gen_of_answer "$pc")" = 4 ] && [ "$(gen_of_answer "$pb")" = 4 ] ||
    fail "after moving a listener: answered by gen $(gen_of_answer "$pc") on the new port, $(gen_of_answer "$pb") on the other"
wait_log 'event=gone gen=3 ' 1 30
curl -s --max-time 2 "http://127.0.0.1:$pa/" >/dev/null
rc=$?
[ "$rc" -eq 7 ] || fail "the removed listener's port after its generation left: curl exit $rc, not 7 (refused)"
touch "$T/pa.stop" "$T/pb.stop"
wait $LOOPS
# Judged by the log's times: every request to $pb, and every one to $pa
# sent before the promotion that removed it, answered 200. Sent later,
# $pa is going: those are counted, not judged.
python3 - "$LOG" "$T/pa.out" "$T/pb.out" <<'PY' || fail "reloads under load: a request failed on a listener that stayed"
import collections, re, sys
log = open(sys.argv[1]).read()
mono = lambda ev: int(re.search(ev + r" .*mono_us=(\d+)", log).group(1)) / 1e6
p2, p3, p4 = mono("event=promote gen=2"), mono("event=promote gen=3"), mono("event=promote gen=4")
d3 = mono("event=drain gen=3")
rows = lambda f: [(float(a), float(b), w) for a, b, w in (l.split() for l in open(f))]
pa, pb = rows(sys.argv[2]), rows(sys.argv[3])
bad = [r for r in pa if r[0] < p4 and r[2] != "200"] + [r for r in pb if r[2] != "200"]
for t0, t1, what in bad:
    print(f"failed: t0={t0:.6f} t1={t1:.6f} {what} (promote gen=4 at {p4:.6f})")
late = lambda a, b: dict(collections.Counter(w for t0, _, w in pa if a <= t0 < b))
print(f"port a: {sum(t0 < p4 for t0, _, _ in pa)} before its removal (all 200 expected),",
      f"after the promotion {late(p4, d3)}, after gen 3's drain {late(d3, 1e18)};",
      f"port b: {len(pb)} ({sum(t0 < p4 for t0, _, _ in pb)} before the promotion)")
# A load that did not span both reloads shows nothing.
spans = (any(t0 < p2 for t0, _, _ in pa) and any(p3 < t0 < p4 for t0, _, _ in pa) and
         any(t0 < p4 for t0, _, _ in pb) and any(t0 > d3 for t0, _, _ in pb))
sys.exit(0 if spans and not bad else 1)
PY
ok "reloads adding, moving and removing a listener: each served by the active generation, none failed on a listener that stayed; the old port refused once its generation was gone"
stop_handoff
