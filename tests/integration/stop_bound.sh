# stop_bound.sh: a stop ends by stop_timeout whatever appears meanwhile. A
# worker's descendant keeps leaving new orphans (each in a session of its
# own, out of the worker's group, ignoring SIGTERM, made by a middle
# process that is not a child of handoff when the SIGKILL round runs):
# handoff still exits within stop_timeout and a small bound.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need python3

# The chain is linear and ends by itself (40 links, each alive at most
# 30 s), so nothing is left to breed if a test goes wrong.
cat >"$T/breeder.py" <<'EOF'
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pids = open(sys.argv[1], "a")

def breeder(link):
    os.setsid()
    pids.write("%d\n" % os.getpid())
    pids.flush()
    if link < 40 and os.fork() == 0:
        # The middle one: the breeder's child, not handoff's, until the
        # breeder dies; then it leaves the next breeder and exits.
        pids.write("%d\n" % os.getpid())
        pids.flush()
        time.sleep(0.5)
        if os.fork() == 0:
            breeder(link + 1)
        os._exit(0)
    time.sleep(30)
    os._exit(0)

if os.fork() == 0:
    breeder(0)
while True:
    time.sleep(1)
EOF

start_handoff --pass systemd --ready delay:100ms --stop-timeout 1s -l 127.0.0.1:0 -- \
    python3 "$T/breeder.py" "$T/pids"
wait_log 'event=promote gen=1 ' 1
sleep 1.2 # a few links, and a middle one waiting
t0=$(date +%s%N)
kill -TERM "$HPID"
for _ in $(seq 100); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.05; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if kill -0 "$HPID" 2>/dev/null; then
    # Not to leave the chain breeding: SIGKILL handoff and every link.
    kill -KILL "$HPID"
    for _ in 1 2 3; do
        for p in $(cat "$T/pids"); do kill -STOP "$p" 2>/dev/null; done
        for p in $(cat "$T/pids"); do kill -KILL "$p" 2>/dev/null; done
        sleep 0.6
    done
    fail "handoff still running ${ms} ms after SIGTERM with stop_timeout 1s ($(wc -l <"$T/pids") orphans made)"
fi
wait "$HPID"
HPID=
[ "$ms" -le 3000 ] || fail "the stop took ${ms} ms, stop_timeout is 1 s"
grep -q 'event=stop_timeout ' "$LOG" || fail "no stop_timeout logged"
left=
for p in $(cat "$T/pids"); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
for p in $left; do kill -KILL "$p" 2>/dev/null; done
[ -z "$left" ] || fail "orphans outlived handoff:$left"
ok "stop with a breeding orphan ends in ${ms} ms (stop_timeout 1 s), nothing left"
