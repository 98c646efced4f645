# longlife.sh: 500 rolls in a row under a light load: every roll promoted,
# no request failed, and the master's fds and RSS flat (years of daily
# deploys, in a minute). The worker is the small C server of examples/, so
# that a roll costs milliseconds.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3
PY=$(python3 -c 'import sys; print(sys.executable)') # not a version manager's shim
# Under ASan, freed memory waits in a quarantine (256 MB by default) and
# the allocator keeps its own books: RSS grows whatever the master does
# (9.7 -> 19.2 MB over 450 rolls here; still 1 MB with no quarantine).
# There the RSS is not judged; LeakSanitizer, on by default with ASan,
# judges leaks when the master exits.
ASAN=0
nm "$HANDOFF" 2>/dev/null | grep -q __asan_init && ASAN=1
ROLLS=${LONGLIFE_ROLLS:-500}
BUILD=$(dirname "$HANDOFF")
WORKER="$BUILD/examples/listenfds-server"
[ -x "$WORKER" ] || make -C "$BUILD" -s examples/listenfds-server >/dev/null 2>&1 ||
    { echo "SKIP: examples/listenfds-server cannot be built"; exit 77; }

start_handoff --pass systemd --ready notify -n 2 --drain-timeout 5s -l 127.0.0.1:0 -- "$WORKER"
wait_log 'event=promote gen=1 ' 1
hey -z 600s -c 2 -q 50 -disable-keepalive "http://127.0.0.1:$PORT/" >"$T/hey.out" 2>&1 &
HEYPID=$!

# The driver: SIGUSR2, then wait for that generation's promote in the log
# (read as it grows); every 50 rolls, once the old generation is gone,
# sample the master's fd count (without the sockets listening on the port:
# steered, each generation's own and placeholders, at most 5) and RSS.
"$PY" - "$LOG" "$HPID" "$ROLLS" "$PORT" >"$T/samples" <<'EOF' || fail "driver: $(tail -n 1 "$T/samples")"
import os, re, signal, sys, time
log, hpid, rolls, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
f = open(log)
seen, part = set(), ""
pat = re.compile(r"event=(\w+) gen=(\d+) ")

def wait(events, gen, secs=30):
    deadline = time.monotonic() + secs
    global part
    while time.monotonic() < deadline:
        for e in events:
            if (e, gen) in seen:
                return e
        chunk = f.read()
        if not chunk:
            time.sleep(0.002)
            continue
        part += chunk
        *lines, part = part.split("\n")
        for line in lines:
            m = pat.search(line)
            if m:
                seen.add((m.group(1), int(m.group(2))))
    print(f"timed out waiting for {events} of gen {gen}")
    sys.exit(1)

def listening(port):
    """Inodes of the sockets listening on port (steered: one per
    generation, and placeholders)."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(name).readlines()[1:]:
            f = line.split()
            if f[3] == "0A" and int(f[1].split(":")[1], 16) == port:
                found.add(f[9])
    return found

base = None

def sample(i):
    # A leak stays; what a generation leaves goes by its drain deadline
    # (drain_timeout, 5 s here, its process group's leftovers included):
    # look again for that long before taking a count that moved.
    global base
    for _ in range(60):
        fds, group, rss = count(i)
        if base is None or fds == base:
            break
        time.sleep(0.1)
    if base is None:
        base = fds
    print(i, fds, rss, flush=True)

def count(i):
    held = []
    for fd in os.listdir(f"/proc/{hpid}/fd"):
        try:
            held.append(os.readlink(f"/proc/{hpid}/fd/{fd}"))
        except OSError:
            pass
    lis = listening(port)
    group = sum(1 for h in held if h.startswith("socket:[") and h[8:-1] in lis)
    # One per generation alive and a placeholder per one that left while
    # the active one was last (steer.c): rolls back to back, under ASan
    # (slow), keep up to three old generations retiring or draining.
    if group > 5:
        print(f"roll {i}: {group} listening sockets on the port, at most 5 expected")
        sys.exit(1)
    fds = len(held) - group
    rss = next(int(l.split()[1]) for l in open(f"/proc/{hpid}/status")
               if l.startswith("VmRSS:"))
    return fds, group, rss

sample(0)
t0 = time.monotonic()
for i in range(1, rolls + 1):
    gen = i + 1
    os.kill(hpid, signal.SIGUSR2)
    if wait(("promote", "roll_failed"), gen) != "promote":
        print(f"roll {i} (gen {gen}) failed")
        sys.exit(1)
    if i % 50 == 0 or i == 10:
        wait(("gone",), gen - 1)
        sample(i)
print("seconds", round(time.monotonic() - t0, 1))
EOF
load_stop
secs=$(sed -n 's/^seconds //p' "$T/samples")
read -r _ fds0 rss0 < <(sed -n 1p "$T/samples")
read -r _ fdsw rssw < <(awk '$1 == 50' "$T/samples")
read -r _ fds1 rss1 < <(awk -v n="$ROLLS" '$1 == n' "$T/samples")
echo "samples (roll:fds:rss_kB): $(grep -v seconds "$T/samples" | tr ' ' : | paste -sd' ')"
[ "$(count 'event=promote ')" -eq $((ROLLS + 1)) ] || fail "$(count 'event=promote ') promotes for $ROLLS rolls"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed over $ROLLS rolls"
# fds: exactly as at the start once the old generation is gone.
bad=$(grep -v seconds "$T/samples" | awk -v f="$fds0" '$2 != f' | paste -sd' ')
[ -z "$bad" ] || fail "fd count moved from $fds0: $bad"
# RSS: after 50 rolls of warm-up (allocator arenas, buffers), flat within
# 512 kB: a leak of 1 kB a roll would show.
[ "$ASAN" -eq 1 ] || [ $((rss1 - rssw)) -le 512 ] ||
    fail "RSS grew from $rssw kB (roll 50) to $rss1 kB (roll $ROLLS)"
[ "$(zombies_of "$HPID")" -eq 0 ] || fail "zombies under handoff"
[ "$(pgrep -P "$HPID" | wc -l)" -eq 2 ] || fail "$(pgrep -P "$HPID" | wc -l) children after the rolls, expected 2"
stop_handoff
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
grep -q "event=exit_master code=0 rolls=$((ROLLS + 1)) failed_rolls=0 " "$LOG" || fail "exit_master: $(grep -o 'event=exit_master.*' "$LOG")"
[ "$ASAN" -eq 1 ] && echo "ASan build: RSS not judged (LeakSanitizer judged leaks at exit)"
ok "$ROLLS rolls in ${secs}s, 0 failed of $REQS requests; master fds $fds0 -> $fds1, RSS $rss0 kB (start) $rssw kB (roll 50) -> $rss1 kB (roll $ROLLS)"
