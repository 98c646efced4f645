# metrics.sh: GET /metrics and handoff metrics after rolls, a failed roll and
# a restart, parsed as Prometheus parses them; slowloris scrapers do not
# delay a roll; thousands of idle connections cost the master bounded
# memory and give its fds back; rollbacks counted by the guard that caused
# them.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3 timeout
python3 -c 'import prometheus_client' 2>/dev/null ||
    { echo "SKIP: python3-prometheus-client not installed"; exit 77; }

CTL="$T/ctl.sock"
start_handoff --control "$CTL" --metrics 127.0.0.1:0 --pass systemd \
    -l web=127.0.0.1:0 -- python3 "$SERVER" --bad-gens 3 --exit-at-start 1
wait_log 'event=promote gen=1 ' 1
MPORT=$(grep -o 'event=metrics address=[^ ]*' "$LOG" | head -n1 | sed 's/.*://')
[ -n "$MPORT" ] || fail "no event=metrics address= in the log"
ok "metrics on 127.0.0.1:$MPORT"

roll() { timeout 60 "$HANDOFF" roll --control "$CTL" 2>&1; }
out=$(roll) || fail "roll to gen 2: $out"
out=$(roll) && fail "roll to gen 3 should fail: $out"
echo "$out" | grep -q 'failed gen=3' || fail "roll 3: $out"
w=$(get / | sed -n 's/^pid=\([0-9]*\).*/\1/p')
[ -n "$w" ] || fail "no worker answers"
kill -KILL "$w"
wait_log 'event=restart gen=2 ' 1
wait_log 'event=ready gen=2 ' 2
wait_log 'event=gone gen=1 ' 1 # its drain observed
ok "2 rolls promoted (gen 1, gen 2), 1 failed (gen 3), 1 restart (pid $w)"

# check FILE: the scrape, as prometheus_client reads it.
check() {
    python3 - "$1" "$(count 'event=ready ')" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def val(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError("no sample %s %s" % (name, labels))
assert val("handoff_rolls_total", outcome="promoted") == 2
assert val("handoff_rolls_total", outcome="failed") == 1
assert val("handoff_restarts_total") == 1
# No rollback yet, but every guard's series is there: rate() needs the 0.
for g in ("crash", "probe", "latency", "operator"):
    assert val("handoff_rollbacks_total", guard=g) == 0, g
assert val("handoff_generation_restarts_total", generation="2") == 1
assert val("handoff_generation_state", generation="2", state="active") == 1
assert val("handoff_generation_share_ratio", generation="2") == 1
assert val("handoff_generation_processes", generation="2", state="ready") == 1
assert val("handoff_generation_resident_memory_bytes", generation="2") > 1e6
assert val("handoff_listener_backlog", listener="web") == 4096
assert val("handoff_listener_queue_length", listener="web", generation="2") == 0
assert val("process_resident_memory_bytes") > 1e5
assert val("process_open_fds") > 3
assert val("handoff_build_info") == 1
for h in ("handoff_ready_seconds", "handoff_roll_seconds", "handoff_drain_seconds"):
    f = fams[h]
    assert f.type == "histogram", (h, f.type)
    count = val(h + "_count")
    assert val(h + "_bucket", le="+Inf") == count, h
    buckets = [s.value for s in f.samples if s.name == h + "_bucket"]
    assert buckets == sorted(buckets), (h, buckets)
assert val("handoff_roll_seconds_count") == 2
assert val("handoff_ready_seconds_count") == int(sys.argv[2])
assert val("handoff_drain_seconds_count") >= 1
print(" ".join(sorted(fams)))
PY
}
hdr=$(curl -s -D - -o "$T/scrape" --max-time 10 "http://127.0.0.1:$MPORT/metrics") ||
    fail "curl /metrics"
echo "$hdr" | grep -qi '^content-type: text/plain; version=0.0.4' || fail "content type: $hdr"
fams=$(check "$T/scrape") || fail "the scrape: $(cat "$T/scrape")"
ok "GET /metrics: $(echo "$fams" | wc -w) families, counters and histograms as expected"
timeout 30 "$HANDOFF" metrics --control "$CTL" >"$T/ctl.metrics" || fail "handoff metrics"
fams2=$(check "$T/ctl.metrics") || fail "handoff metrics: $(cat "$T/ctl.metrics")"
[ "$fams" = "$fams2" ] || fail "families differ: $fams / $fams2"
ok "handoff metrics prints the same families"

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
[ "$(code "http://127.0.0.1:$MPORT/")" = 404 ] || fail "/ is not 404"
[ "$(code -X POST "http://127.0.0.1:$MPORT/metrics")" = 405 ] || fail "POST is not 405"
[ "$(code -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$MPORT/metrics")" = 431 ] ||
    fail "a 9 KB header is not 431"
r=$(printf 'BREW /metrics HTCPCP/1.0\r\n\r\n' | timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
print(s.recv(100).split(b"\r\n")[0].decode())' "$MPORT")
[ "$r" = "HTTP/1.1 400 Bad Request" ] || fail "not HTTP: '$r'"
ok "404, 405, 431 and 400"

# Slowloris: 20 connections sending a byte a second. The deadline closes
# them; a roll meanwhile takes as long as without them.
roll_ms() { roll | sed -n 's/^promoted gen=[0-9]* roll_ms=\([0-9]*\)$/\1/p'; }
base=$(roll_ms)
[ -n "$base" ] || fail "roll without slowloris"
python3 - "$MPORT" 20 >"$T/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("open", flush=True)
start, closed, msg = time.monotonic(), {}, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 60
for i in range(len(msg)):
    for k, s in enumerate(socks):
        if k in closed:
            continue
        try:
            s.send(msg[i:i + 1])
        except OSError:
            closed[k] = time.monotonic() - start
    if len(closed) == n:
        break
    time.sleep(1)
print("closed %d of %d, last after %.1fs" % (len(closed), n, max(closed.values() or [0])))
PY
SLOW=$!
for _ in $(seq 100); do grep -q open "$T/slow.out" && break; sleep 0.1; done
with=$(roll_ms)
[ -n "$with" ] || fail "roll with slowloris"
echo "roll_ms: $base without, $with with 20 slowloris connections open"
[ "$with" -lt 5000 ] || fail "a roll took ${with}ms with slowloris scrapers"
wait "$SLOW"
cat "$T/slow.out"
grep -q 'closed 20 of 20, last after [0-9]\.' "$T/slow.out" || fail "slowloris not closed within 10 s"
ok "slowloris does not delay a roll and is closed at the deadline"

# Idle connections: as many as the fd limit allows, up to 10000.
N=10000
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -gt $((N + 100)) ] || N=$(( $(ulimit -n) - 100 ))
[ "$N" -ge 2000 ] || N=2000
rss() { awk '/^VmRSS/ {print $2}' "/proc/$HPID/status"; }
fds() { ls "/proc/$HPID/fd" | wc -l; }
rss0=$(rss) fds0=$(fds)
mkfifo "$T/hold"
ovf() { nstat -az TcpExtListenOverflows 2>/dev/null | awk '/^TcpExtListenOverflows/ {print $2}'; }
ovf0=$(ovf)
python3 - "$MPORT" "$N" "$T/hold" >"$T/idle.out" 2>&1 <<'PY' &
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks, failed, retrans, slowest = [], 0, 0, 0.0
start = time.monotonic()
for _ in range(n):
    s = socket.socket()
    s.settimeout(5)
    t = time.monotonic()
    try:
        s.connect(("127.0.0.1", port))
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
    t = time.monotonic() - t
    slowest = max(slowest, t)
    # The kernel completes a connect without the master; only a SYN
    # dropped on a full accept queue makes one wait, for the 1 s of the
    # first retransmission.
    if t >= 1.0:
        retrans += 1
print("connected %d failed %d in %.1fs, %d waited for a SYN retransmission "
      "(slowest %.3fs)" % (len(socks), failed, time.monotonic() - start,
                           retrans, slowest), flush=True)
open(hold).read()  # until the test has measured
for s in socks:
    s.close()
PY
IDLE=$!
for _ in $(seq 600); do grep -q connected "$T/idle.out" && break; sleep 0.1; done
grep -q connected "$T/idle.out" || fail "the idle connections: $(cat "$T/idle.out")"
rss1=$(rss) fds1=$(fds)
growth=$((rss1 - rss0))
echo "$(cat "$T/idle.out"): master RSS ${rss0} -> ${rss1} kB (+${growth} kB), fds ${fds0} -> ${fds1}"
# The counter is the whole namespace's: shown, not judged.
[ -n "$ovf0" ] && echo "TcpExtListenOverflows: +$(( $(ovf) - ovf0 )) during the flood"
grep -q ' 0 waited for a SYN retransmission' "$T/idle.out" ||
    fail "connects to the metrics endpoint waited for a SYN retransmission: the master's accept queue overflowed"
# Under ASan freed memory waits in a quarantine (256 MB): each connection
# that makes room frees its handle, so RSS grows whatever the master does
# (4 MB here; 119 MB when each also freed its 8 KiB request buffer, now
# reused). There the fds bound the connections held, and LeakSanitizer
# judges leaks at the master's exit.
if nm "$HANDOFF" 2>/dev/null | grep -q __asan_init; then
    echo "ASan build: RSS not judged"
else
    [ "$growth" -lt 8192 ] || fail "RSS grew by ${growth} kB for $N idle connections"
fi
[ "$fds1" -le $((fds0 + 64 + 8)) ] || fail "the master holds $fds1 fds"
c=$(code "http://127.0.0.1:$MPORT/metrics")
[ "$c" = 200 ] || fail "a scrape while $N connections are idle: $c"
echo >"$T/hold"
wait "$IDLE"
for _ in $(seq 150); do [ "$(fds)" -le "$fds0" ] && break; sleep 0.1; done
[ "$(fds)" -le "$fds0" ] || fail "fds $(fds), were $fds0"
[ "$(code "http://127.0.0.1:$MPORT/metrics")" = 200 ] || fail "no scrape after the idle connections"
ok "$N idle connections: +${growth} kB RSS, fds back to $fds0 (a scrape meanwhile: $c)"

stop_handoff
[ "$STATUS" -eq 0 ] || fail "exit $STATUS"
ok "stops"

# Rollbacks by guard: a canary that crashes (--bad-if: only a generation
# started while $T/crash exists), one whose exec: guard fails (only for a
# generation N with $T/sick.N), one that handoff rollback sends back.
start_handoff --control "$CTL" --metrics 127.0.0.1:0 --pass systemd \
    -l web=127.0.0.1:0 --canary 50%/60s --guard-interval 200ms \
    --guard-failures 2 --guard "exec:test ! -e $T/sick.%g" \
    -- python3 "$SERVER" --bad-if "$T/crash" --crash-after 2
wait_log 'event=promote gen=1 ' 1
MPORT=$(grep -o 'event=metrics address=[^ ]*' "$LOG" | head -n1 | sed 's/.*://')
touch "$T/crash"
out=$(roll) && fail "a canary that crashes was promoted: $out"
rm -f "$T/crash"
touch "$T/sick.3"
out=$(roll) && fail "a canary whose guard fails was promoted: $out"
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/roll4" 2>&1 &
r4=$!
wait_log 'event=canary gen=4 ' 1 30
out=$(timeout 30 "$HANDOFF" rollback --control "$CTL" 2>&1) || fail "handoff rollback: $out"
wait "$r4" && fail "a canary rolled back by handoff rollback: roll exit 0: $(cat "$T/roll4")"
for want in 'gen=2 .*guard=crash' 'gen=3 .*guard=probe' 'gen=4 .*guard=operator'; do
    grep -Eq "event=rollback $want " "$LOG" || fail "no event=rollback $want"
done
curl -s -o "$T/scrape.rb" --max-time 10 "http://127.0.0.1:$MPORT/metrics" || fail "curl /metrics"
got=$(python3 - "$T/scrape.rb" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
by, failed = {}, None
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        if s.name == "handoff_rollbacks_total":
            by[s.labels["guard"]] = s.value
        if s.name == "handoff_rolls_total" and s.labels["outcome"] == "failed":
            failed = s.value
print(" ".join("%s=%g" % kv for kv in sorted(by.items())), "failed_rolls=%g" % failed)
PY
) || fail "the scrape: $(cat "$T/scrape.rb")"
echo "handoff_rollbacks_total: $got"
[ "$got" = "crash=1 latency=0 operator=1 probe=1 failed_rolls=3" ] ||
    fail "rollbacks by guard: $got"
ok "3 canaries rolled back: one each under guard crash, probe and operator, latency 0"
stop_handoff

# 100 listeners, two generations: every listener in the metrics, each once,
# and a queue length per listener and generation (more than 64 listeners
# were cut at 64).
args=()
for i in $(seq 100); do args+=(-l "l$i=127.0.0.1:0"); done
start_handoff --control "$CTL" --metrics 127.0.0.1:0 --pass systemd \
    --drain-timeout 30s "${args[@]}" -- python3 "$SERVER"
wait_log 'event=promote gen=1 ' 1 60
MPORT=$(grep -o 'event=metrics address=[^ ]*' "$LOG" | head -n1 | sed 's/.*://')
kill -USR2 "$HPID"
wait_log 'event=promote gen=2 ' 1 60
curl -s -o "$T/scrape.100" --max-time 10 "http://127.0.0.1:$MPORT/metrics" || fail "curl /metrics"
got=$(python3 - "$T/scrape.100" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
backlog, queue = [], set()
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        if s.name == "handoff_listener_backlog":
            backlog.append(s.labels["listener"])
        if s.name == "handoff_listener_queue_length":
            queue.add((s.labels["listener"], s.labels["generation"]))
print(len(backlog), len(set(backlog)), len({l for l, g in queue if g == "2"}))
PY
) || fail "the scrape: $(head -c 300 "$T/scrape.100")"
[ "$got" = "100 100 100" ] || fail "100 listeners: backlog series, distinct, queues of gen 2: $got"
ok "100 listeners: each once in handoff_listener_backlog, a queue for each in gen 2"
stop_handoff
