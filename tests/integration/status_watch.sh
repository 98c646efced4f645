# status_watch.sh: handoff status --watch: a JSON line at each change of a
# roll and none while idle, the text redrawn on a terminal, exit 0 on
# SIGINT and SIGTERM, exit 1 once handoff has gone, exit 2 on bad flags.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3 timeout

CTL="$T/ctl.sock"
# lines FILE: how many lines FILE has.
lines() { wc -l <"$1" | tr -d ' '; }
# gens FILE: the generations of FILE's last line, "ID:STATE ...".
gens() {
    tail -n 1 "$1" | python3 -c '
import json, sys
line = sys.stdin.read()
if line.strip():
    print(" ".join("%d:%s" % (g["id"], g["state"]) for g in json.loads(line)["generations"]))
' 2>/dev/null
}
# wait_gens FILE WANT [SECONDS]: until the last line's generations are WANT.
wait_gens() {
    local i
    for i in $(seq $((${3:-20} * 10))); do
        [ "$(gens "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    fail "watch output never showed '$2' (last: '$(gens "$1")'): $(tail -c 600 "$1")"
}
# wait_gone PID [SECONDS]: until PID has exited; sets WRC to its status.
wait_gone() {
    local i
    for i in $(seq $((${2:-10} * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && { kill -KILL "$1"; fail "watch $1 did not exit"; }
    wait "$1"
    WRC=$?
}

# Bad flags: exit 2, the flag named, before any connection.
for c in "--watch:roll --watch" "--interval:status --watch --interval soon" \
    "--interval:status --watch --interval 0" "--interval:status --interval 1s" \
    "--watch:stop --watch --interval 1s"; do
    flag=${c%%:*} args=${c#*:}
    hc $args --control "$T/none.sock"
    [ "$RC" -eq 2 ] || fail "handoff $args: exit $RC, expected 2: $ERR"
    echo "$ERR" | grep -q -- "^handoff [a-z]*: $flag: " || fail "handoff $args: message does not name $flag: $ERR"
done
ok "bad flags: exit 2 naming the flag ($(head -n 1 "$T/hc.err"))"

hc status --watch --json --control "$T/none.sock"
[ "$RC" -eq 1 ] && echo "$ERR" | grep -q "none.sock: cannot connect" ||
    fail "watch with nothing on the socket: exit $RC: $ERR"
ok "no handoff on the socket: exit 1, $ERR"

# Every worker is 0.5 s to be ready: a new generation is seen starting.
start_handoff --control "$CTL" --pass systemd -l 127.0.0.1:0 -- \
    python3 "$SERVER" --ready-after 0.5
wait_log 'event=promote gen=1 ' 1
wait_log "event=control path=$CTL" 1

"$HANDOFF" status --watch --json --interval 100ms --control "$CTL" >"$T/watch.out" 2>"$T/watch.err" &
WPID=$!
wait_gens "$T/watch.out" "1:active" 10
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll: exit $RC: $ERR"
wait_gens "$T/watch.out" "2:active" 20
n=$(lines "$T/watch.out")
sleep 1.2
[ "$(lines "$T/watch.out")" -eq "$n" ] ||
    fail "lines printed while nothing changed: $(tail -n +$((n + 1)) "$T/watch.out" | head -c 600)"
ok "idle for 1.2 s at 100ms: no line printed"
kill -INT "$WPID"
wait_gone "$WPID"
[ "$WRC" -eq 0 ] || fail "watch after SIGINT: exit $WRC: $(cat "$T/watch.err")"
[ -s "$T/watch.err" ] && fail "watch wrote on stderr: $(cat "$T/watch.err")"
python3 - "$T/watch.out" <<'EOF' || fail "watch output: $(head -c 2000 "$T/watch.out")"
import json, re, sys
raw = open(sys.argv[1]).read().split("\n")
assert raw[-1] == "", "the last line is not whole"
states = []
prev = None
for i, line in enumerate(raw[:-1]):
    s = json.loads(line)
    assert isinstance(s["generations"], list), line
    # Only the uptimes may differ between two lines that show no change.
    bare = re.sub(r'"uptime_ms":[0-9]+', "", line)
    assert bare != prev, "lines %d and %d show the same status: %s" % (i, i + 1, line)
    prev = bare
    states.append([(g["id"], g["state"]) for g in s["generations"]])
print("watch lines:", len(states))
for st in states:
    print("  ", st)
assert states[0] == [(1, "active")], states[0]
assert states[-1] == [(2, "active")], states[-1]
# gen 2 seen before it was active, gen 1 still active then.
before = [i for i, st in enumerate(states)
          if (2, "active") not in st and any(g == 2 for g, _ in st)]
assert before, "gen 2 never seen before it was active"
assert (1, "active") in states[before[0]], states[before[0]]
after = [i for i, st in enumerate(states) if (2, "active") in st]
assert before[-1] < after[0], "gen 2 seen starting after it was active"
# In between, gen 1 draining beside the new active one, or gone at once.
assert len(states) >= 3, states
EOF
ok "status --watch --json: every line JSON, none repeated, gen 1 active -> gen 2 starting -> gen 2 active alone; SIGINT: exit 0"

# On a terminal: the text redrawn in place (home, clear), again and again.
python3 - "$HANDOFF" "$CTL" >"$T/pty.out" 2>&1 <<'EOF' || fail "on a terminal: $(cat "$T/pty.out")"
import os, pty, select, signal, subprocess, sys, time
master, slave = pty.openpty()
p = subprocess.Popen([sys.argv[1], "status", "--watch", "--interval", "200ms",
                      "--control", sys.argv[2]], stdin=slave, stdout=slave,
                     stderr=subprocess.PIPE)
os.close(slave)
out = b""
end = time.monotonic() + 1.5
while time.monotonic() < end:
    r, _, _ = select.select([master], [], [], 0.1)
    if r:
        out += os.read(master, 65536)
p.send_signal(signal.SIGTERM)
rc = p.wait(timeout=10)
err = p.stderr.read().decode()
text = out.decode(errors="replace")
draws = text.count("\x1b[H\x1b[J")
shown = text.count("gen 2: active, 1 process")
print("exit %d, %d redraws, the status %d times, stderr %r" % (rc, draws, shown, err))
assert rc == 0 and err == "", (rc, err)
assert draws >= 2 and shown >= 2, text[-800:]
assert "{" not in text, "JSON on a terminal: " + text[-400:]
EOF
ok "on a terminal: $(cat "$T/pty.out"); SIGTERM: exit 0"

# handoff goes away: the watch says so and exits 1.
"$HANDOFF" status --watch --interval 100ms --control "$CTL" >"$T/watch2.out" 2>"$T/watch2.err" &
WPID=$!
wait_gens "$T/watch2.out" "2:active" 10
stop_handoff
wait_gone "$WPID" 10
[ "$WRC" -eq 1 ] || fail "watch after handoff stopped: exit $WRC: $(cat "$T/watch2.err")"
grep -q "ctl.sock: handoff has gone away: " "$T/watch2.err" ||
    fail "watch after handoff stopped: stderr: $(cat "$T/watch2.err")"
ok "handoff stopped: watch exit 1, $(cat "$T/watch2.err")"
