# control.sh: the control socket: handoff status, roll and stop from another
# shell; its mode, its owner check, a second handoff on the same path, a
# stale socket file, the client's errors, and the PID 1 default.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3 timeout

CTL="$T/ctl.sock"
# raw TEXT [hold]: send TEXT over the socket as any client would, then end
# the sending side (unless hold); prints the answer.
raw() {
    python3 - "$CTL" "$1" "${2:-}" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
if not sys.argv[3]:
    s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
EOF
}

start_handoff --control "$CTL" --pass systemd -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 3 --exit-at-start 7 --term-code 3
wait_log 'event=promote gen=1 ' 1
wait_log "event=control path=$CTL" 1
[ "$(stat -c %a "$CTL")" = 600 ] || fail "socket mode $(stat -c %a "$CTL"), expected 600"
ok "listens on --control with mode 0600"

# status, for people and as JSON.
hc status --control "$CTL"
[ "$RC" -eq 0 ] || fail "status: exit $RC: $ERR"
echo "$OUT" | grep -q "pid $HPID," || fail "status does not name pid $HPID: $OUT"
echo "$OUT" | grep -q '^gen 1: active, 1 process' || fail "status: no active gen 1: $OUT"
echo "$OUT" | grep -q '^last roll: promoted gen=1 ' || fail "status: no last roll: $OUT"
hc status --json --control "$CTL"
[ "$RC" -eq 0 ] || fail "status --json: exit $RC: $ERR"
echo "$OUT" | python3 -c '
import json, sys
s = json.load(sys.stdin)
pid = int(sys.argv[1])
assert s["pid"] == pid, s
assert s["pass"] == "systemd" and s["ready"] == "notify", s
assert s["rolls_ok"] == 1 and s["rolls_failed"] == 0 and s["restarts"] == 0, s
assert s["active"] == 1, s
assert s["last_roll"]["outcome"] == "promoted" and s["last_roll"]["gen"] == 1, s
assert isinstance(s["uptime_ms"], int) and isinstance(s["version"], str), s
g = s["generations"]
assert len(g) == 1 and g[0]["id"] == 1 and g[0]["state"] == "active", g
p = g[0]["processes"]
assert len(p) == 1 and p[0]["ready"] is True and p[0]["state"] == "ready", p
assert p[0]["pid"] > 0 and p[0]["restarts"] == 0 and p[0]["status"] == "serving gen 1", p
' "$HPID" || fail "status --json: $OUT"
ok "status and status --json (valid JSON, the fields expected)"

# roll: promoted, a new pid serves.
old=$(pid_serving)
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: exit $RC: $ERR"
echo "$OUT" | grep -Eq '^promoted gen=2 roll_ms=[0-9]+$' || fail "roll: '$OUT'"
new=$(pid_serving)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "roll: pid $old still serves ($new)"
get / | grep -q 'gen=2' || fail "roll: gen 2 does not serve: $(get /)"
ok "handoff roll: $OUT, pid $old -> $new"

# A roll that fails: exit 1 with the reason; gen 2 serves on.
hc roll --control "$CTL"
[ "$RC" -eq 1 ] || fail "failed roll: exit $RC, expected 1 ($OUT)"
echo "$ERR" | grep -q 'failed gen=3 reason="worker exited before it was ready (code=7)"' ||
    fail "failed roll: stderr '$ERR'"
[ "$(pid_serving)" = "$new" ] || fail "failed roll: gen 2 no longer serves"
ok "handoff roll of a failing version: exit 1, $ERR"

# Two at once: the second queues behind the first, both get their verdict.
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/r1" 2>&1 &
r1=$!
timeout 60 "$HANDOFF" roll --control "$CTL" >"$T/r2" 2>&1 &
r2=$!
wait "$r1"; s1=$?
wait "$r2"; s2=$?
[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] || fail "two rolls: exit $s1 and $s2: $(cat "$T/r1" "$T/r2")"
gens=$(cat "$T/r1" "$T/r2" | sed -n 's/^promoted gen=\([0-9]*\) .*/\1/p' | sort -n | paste -sd' ')
[ "$gens" = "4 5" ] || fail "two rolls: gens '$gens', expected '4 5': $(cat "$T/r1" "$T/r2")"
ok "two handoff roll at once: promoted gens $gens"

hc status --json --control "$CTL"
echo "$OUT" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["rolls_ok"] == 4 and s["rolls_failed"] == 1 and s["active"] == 5, s
' || fail "status after the rolls: $OUT"

# The protocol itself, as a client in another language speaks it.
out=$(raw 'status json
')
echo "$out" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "raw status json: $out"
out=$(raw 'bogus "x"
')
[ "$out" = 'error: unknown command "bogus \"x\"" (expected status, status json, roll, promote, rollback, metrics, upgrade or stop)' ] ||
    fail "raw unknown command: '$out'"
out=$(raw "$(head -c 300 /dev/zero | tr '\0' a)")
[ "$out" = "error: request line longer than 256 bytes" ] || fail "raw long line: '$out'"
out=$(raw 'status')  # no newline, then end of file: still one request
echo "$out" | grep -q '^gen 5: active' || fail "raw status without newline: '$out'"
out=$(raw 'sta' hold)
[ "$out" = "error: no request line within 5s" ] || fail "raw, no whole line: '$out'"
ok "line protocol: status json, unknown command, a line too long, no line in 5 s"

# A second handoff on the same path refuses to start, before any worker.
timeout 20 "$HANDOFF" --control "$CTL" --pass systemd -l 127.0.0.1:0 -- \
    python3 "$SERVER" >"$T/h2.out" 2>"$T/h2.log"
rc=$?
[ "$rc" -eq 1 ] || fail "second handoff on $CTL: exit $rc, expected 1: $(cat "$T/h2.log")"
grep -q "control $CTL: process $HPID answers on it" "$T/h2.log" ||
    fail "second handoff: message: $(cat "$T/h2.log")"
! grep -q 'event=spawn' "$T/h2.log" || fail "second handoff started a worker"
[ -S "$CTL" ] || fail "second handoff removed the first one's socket"
hc status --control "$CTL"
[ "$RC" -eq 0 ] || fail "the first handoff no longer answers"
ok "a second handoff on the same path: exit 1, '$(grep -o 'control .*' "$T/h2.log" | head -n1)'"

# A file that is not a socket is left alone.
echo keep >"$T/file"
timeout 20 "$HANDOFF" --control "$T/file" --pass systemd -l 127.0.0.1:0 -- \
    python3 "$SERVER" >/dev/null 2>"$T/h3.log"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'exists and is not a socket' "$T/h3.log" && [ "$(cat "$T/file")" = keep ] ||
    fail "--control on a plain file: exit $rc: $(cat "$T/h3.log")"
ok "a plain file at the path: refused, left alone"

# A stale socket file (nothing listens) is replaced. This one's generation 2
# never becomes ready: a roll awaited when the stop comes gets its verdict.
STALE="$T/stale.sock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$STALE"
[ -S "$STALE" ] || fail "could not make a stale socket"
"$HANDOFF" --control "$STALE" --pass systemd --ready-timeout 60s -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 2 --never-ready >"$T/h4.out" 2>"$T/h4.log" &
H4=$!
STARTED="$STARTED $H4"
for _ in $(seq 200); do grep -q 'event=promote' "$T/h4.log" && break; sleep 0.05; done
grep -q "event=control_stale path=$STALE action=removed" "$T/h4.log" || fail "stale: $(cat "$T/h4.log")"
"$HANDOFF" status --control "$STALE" >/dev/null || fail "stale: the new socket does not answer"
ok "a stale socket file is replaced"
timeout 60 "$HANDOFF" roll --control "$STALE" >"$T/r3" 2>&1 &
r3=$!
for _ in $(seq 200); do grep -q 'event=spawn gen=2 ' "$T/h4.log" && break; sleep 0.05; done
hc stop --control "$STALE"
[ "$RC" -eq 0 ] || fail "stop with a roll awaited: exit $RC: $ERR"
wait "$r3"; s3=$?
[ "$s3" -eq 1 ] && grep -q 'failed reason="stopping"' "$T/r3" ||
    fail "roll awaited during a stop: exit $s3: $(cat "$T/r3")"
kill -0 "$H4" 2>/dev/null && { sleep 0.5; kill -0 "$H4" 2>/dev/null; } && fail "stop returned, handoff still runs"
[ ! -e "$STALE" ] || fail "the socket was not removed at exit"
ok "a roll awaited when handoff stops: exit 1, $(cat "$T/r3")"

# Only the owner (and root) may use it.
if [ "$(id -u)" -eq 0 ] && setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null; then
    chmod 711 "$T"
    cp "$HANDOFF" "$T/hc" && chmod 755 "$T/hc"
    asnobody() { timeout 20 setpriv --reuid 65534 --regid 65534 --clear-groups "$T/hc" "$@"; }
    out=$(asnobody status --control "$CTL" 2>&1); rc=$?
    [ "$rc" -eq 1 ] && echo "$out" | grep -q 'cannot connect: Permission denied' ||
        fail "nobody, mode 0600: exit $rc: $out"
    chmod 666 "$CTL"
    out=$(asnobody roll --control "$CTL" 2>&1); rc=$?
    chmod 600 "$CTL"
    chmod 700 "$T"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q 'error: permission denied' ||
        fail "nobody, mode 0666: exit $rc: $out"
    grep -q 'event=control_refused .*uid=65534 reason=permission' "$LOG" || fail "refusal not logged"
    [ "$(count 'event=roll gen=6 ')" -eq 0 ] || fail "a refused client rolled"
    ok "another user: refused by the mode, and by SO_PEERCRED when the mode allows"
else
    echo "note: not root or no setpriv: the test of another user is skipped"
fi

# Client errors.
hc status --control "$T/nope.sock"
[ "$RC" -eq 1 ] && echo "$ERR" | grep -q "handoff: $T/nope.sock: cannot connect: No such file or directory" ||
    fail "no socket: exit $RC: $ERR"
hc roll --bogus
[ "$RC" -eq 2 ] || fail "roll --bogus: exit $RC, expected 2"
hc stop --json
[ "$RC" -eq 2 ] || fail "stop --json: exit $RC, expected 2"
# roll has no timeout unless given one: a bad one is named as bad, not 0.
hc roll --timeout soon
[ "$RC" -eq 2 ] && echo "$ERR" | grep -q 'bad duration "soon"' ||
    fail "roll --timeout soon: exit $RC: $ERR"
hc status extra
[ "$RC" -eq 2 ] || fail "status extra: exit $RC, expected 2"
# handoff -h says every flag of the server (flag_keys[] of config.c) and
# every command of the client with its own options.
hc -h
[ "$RC" -eq 0 ] || fail "handoff -h: exit $RC"
missing=
for f in $(sed -n '/^} flag_keys\[\] = {/,/^};/p' "$TOP_SRCDIR/supervisor/config.c" |
           sed -n 's/^ *{"\([a-z-]*\)", .*/\1/p'); do
    grep -q -- "--$f[] |=]" <<<"$OUT" || missing="$missing --$f"
done
for c in status roll promote rollback stop metrics; do
    grep -Eq -- "handoff ([a-z]+ \| )*$c( |$)" <<<"$OUT" || missing="$missing $c"
done
grep -Eq -- "handoff status .*--watch \[--interval D\]" <<<"$OUT" || missing="$missing status --watch/--interval"
grep -Eq -- "handoff roll .*--canary" <<<"$OUT" || missing="$missing roll --canary"
[ -z "$missing" ] || fail "handoff -h does not mention:$missing"
ok "handoff -h: every flag, and status --watch --interval, roll --canary, promote, rollback"

# handoff alone: how to use it, not the first thing missing.
hc
[ "$RC" -eq 2 ] && echo "$ERR" | head -n 1 | grep -q '^usage: handoff ' ||
    fail "handoff with no argument: exit $RC: $(echo "$ERR" | head -n 2)"
HANDOFF_CONTROL="$CTL" hc status
[ "$RC" -eq 0 ] || fail "HANDOFF_CONTROL: exit $RC: $ERR"
printf '[handoff]\ncontrol = %s\n' "$CTL" >"$T/c.conf"
hc status -c "$T/c.conf"
[ "$RC" -eq 0 ] || fail "-c FILE (control only): exit $RC: $ERR"
printf '[handoff]\ncontrol = none\n' >"$T/none.conf"
hc status -c "$T/none.conf"
[ "$RC" -eq 1 ] && echo "$ERR" | grep -q 'control = none' || fail "control = none: exit $RC: $ERR"
ok "client: no socket -> 1 naming the path, bad usage -> 2, no argument -> usage, HANDOFF_CONTROL, -c FILE"

# stop: answered, then the client returns once handoff has exited.
hc stop --control "$CTL"
[ "$RC" -eq 0 ] || fail "stop: exit $RC: $ERR"
for _ in $(seq 20); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$HPID" 2>/dev/null && fail "handoff stop returned but handoff runs"
wait "$HPID"
STATUS=$?
HPID=
[ "$STATUS" -eq 3 ] || fail "exit status $STATUS, expected the worker's 3"
[ ! -e "$CTL" ] || fail "the socket is left after exit"
grep -q 'event=stop signal=SIGTERM' "$LOG" || fail "stop: not logged as a stop"
ok "handoff stop: exit 0 once handoff is gone (status $STATUS, the worker's), socket removed"

# A worker's STATUS= is its own bytes: not UTF-8, with quotes and a
# backslash. status --json and log_format = json stay valid JSON, the
# bytes that are not UTF-8 replaced by U+FFFD and the rest kept.
cat >"$T/status_worker.py" <<'EOF'
import os, socket, time
path = os.environ["NOTIFY_SOCKET"]
if path.startswith("@"):
    path = "\0" + path[1:]
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.sendto(b'READY=1\nSTATUS=caf\xe9 "q" \\ ok', path)
time.sleep(60)
EOF
start_handoff --control "$CTL" --pass systemd --log-format json -l 127.0.0.1:0 -- \
    python3 "$T/status_worker.py"
wait_log '"event":"promote"' 1
hc status --json --control "$CTL"
echo "$OUT" | python3 -c '
import json, sys
s = json.load(sys.stdin)
got = s["generations"][0]["processes"][0]["status"]
assert got == "caf\ufffd \"q\" \\ ok", got
' || fail "status --json of a STATUS= that is not UTF-8: $OUT"
stop_handoff
python3 - "$LOG" <<'PY' || fail "JSON log of a STATUS= that is not UTF-8: $(cat "$LOG")"
import json, sys
seen = []
for line in open(sys.argv[1], "rb"):
    obj = json.loads(line.decode("utf-8"))
    if obj["event"] == "status":
        seen.append(obj["status"])
assert seen == ["caf\ufffd \"q\" \\ ok"], seen
PY
ok "a STATUS= that is not UTF-8: valid JSON in status --json and the log, U+FFFD for the byte"

# C1 controls (U+0080-U+009F, or the bytes 0x80-0x9f alone) in a STATUS=:
# U+009B is a CSI to a terminal, as ESC [ is. handoff status shows a
# blank for each, as for C0, and keeps the rest of the text (UTF-8 included).
cat >"$T/c1_worker.py" <<'EOF'
import os, socket, time
path = os.environ["NOTIFY_SOCKET"]
if path.startswith("@"):
    path = "\0" + path[1:]
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.sendto(b'READY=1\nSTATUS=\xc3\xa9t\xc3\xa9 \xc2\x9b31mred \x9b31mraw \x1b[31mesc \xc2\x85nel \xe2\x82\xac', path)
time.sleep(60)
EOF
start_handoff --control "$CTL" --pass systemd -l 127.0.0.1:0 -- python3 "$T/c1_worker.py"
wait_log 'event=promote' 1
hc status --control "$CTL"
[ "$RC" -eq 0 ] || fail "status: exit $RC: $ERR"
python3 - "$T/hc.out" <<'PY' || fail "C1 controls of a STATUS= reach the terminal: $(grep -a 'status "' "$T/hc.out" | od -c | head -n 8)"
import re, sys
out = open(sys.argv[1], "rb").read()
line = [l for l in out.split(b"\n") if b'status "' in l][0]
want = b'status "\xc3\xa9t\xc3\xa9  31mred  31mraw  [31mesc  nel \xe2\x82\xac"'
assert line.endswith(want), line
# Nothing a terminal takes for a control: no C0 but the line's end, no
# C1 in UTF-8 (C2 80-9F) and no byte 0x80-0x9f outside a UTF-8 sequence.
text = out.decode("utf-8")
assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", text), text
PY
stop_handoff
ok "a STATUS= with C1 controls (UTF-8 and raw): blanks in handoff status, UTF-8 text kept"

# As PID 1 (a container) the default is /run/handoff.sock: here in a private
# /run, reached through /proc/PID/root.
if unshare --pid --fork --mount-proc sh -c 'mount -t tmpfs tmpfs /run' 2>/dev/null; then
    unshare --pid --fork --mount-proc sh -c 'mount -t tmpfs tmpfs /run && exec "$@"' sh \
        "$HANDOFF" --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" >/dev/null 2>"$T/p1.log" &
    U=$!
    for _ in $(seq 200); do grep -q 'event=promote' "$T/p1.log" && break; sleep 0.05; done
    inner=$(pgrep -P "$U" | head -n1)
    STARTED="$STARTED $inner"
    grep -q 'event=control path=/run/handoff.sock' "$T/p1.log" || fail "PID 1: $(cat "$T/p1.log")"
    hc status --json --control "/proc/$inner/root/run/handoff.sock"
    echo "$OUT" | python3 -c 'import json,sys; assert json.load(sys.stdin)["pid"] == 1' ||
        fail "PID 1: status: $OUT $ERR"
    hc stop --control "/proc/$inner/root/run/handoff.sock"
    [ "$RC" -eq 0 ] || fail "PID 1: stop: $ERR"
    wait "$U"
    ok "as PID 1: /run/handoff.sock by default"
else
    echo "note: no pid and mount namespaces: the PID 1 default is not tested"
fi
