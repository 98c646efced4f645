# start_stop.sh: what a worker starts with, exit statuses, and stop.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

# A worker sees its sockets, its variables, a default signal state and no
# other fd of the master.
probe="cat /proc/self/status > $T/status; ls /proc/self/fd > $T/fds; env > $T/env; exec sleep 60"
start_handoff --pass systemd --ready delay:100ms -l web=127.0.0.1:0 -l admin=127.0.0.1:0 -- sh -c "$probe"
wait_log 'event=promote' 1
for _ in $(seq 50); do [ -s "$T/env" ] && break; sleep 0.1; done
grep -q '^SigBlk:[[:space:]]*0000000000000000$' "$T/status" || fail "worker starts with a blocked signal: $(grep SigBlk "$T/status")"
grep -q '^SigIgn:[[:space:]]*0000000000000000$' "$T/status" || fail "worker starts with an ignored signal: $(grep SigIgn "$T/status")"
fds=$(sort -n "$T/fds" | paste -sd' ')
# 0-2, two listeners (3, 4), the control channel (5), and ls's own directory fd.
case "$fds" in "0 1 2 3 4 5 6") ;; *) fail "worker fds: $fds" ;; esac
grep -q '^LISTEN_FDS=2$' "$T/env" || fail "LISTEN_FDS"
grep -q '^LISTEN_FDNAMES=web:admin$' "$T/env" || fail "LISTEN_FDNAMES"
grep -q '^HANDOFF_FD=5$' "$T/env" || fail "HANDOFF_FD"
grep -q '^HANDOFF_GENERATION=1$' "$T/env" || fail "HANDOFF_GENERATION"
grep -q '^NOTIFY_SOCKET=/' "$T/env" || fail "NOTIFY_SOCKET"
ok "worker: empty mask, default dispositions, fds $fds, LISTEN_*, HANDOFF_*, NOTIFY_SOCKET"
stop_handoff
# sh exec'd sleep, which dies of SIGTERM: 128 + 15.
[ "$STATUS" -eq 143 ] || fail "exit status $STATUS, expected 143 for a worker killed by SIGTERM"
ok "worker killed by SIGTERM: handoff exits 143"

# LISTEN_PID is the worker's own pid (the server refuses to start otherwise).
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" --term-code 7
wait_log 'event=promote' 1
[ -n "$(pid_serving)" ] || fail "no answer"
stop_handoff
[ "$STATUS" -eq 7 ] || fail "exit status $STATUS, expected the worker's 7"
ok "graceful stop: exit status is the worker's (7)"

# Stop timeout: a worker that ignores SIGTERM is killed.
start_handoff --pass systemd --stop-timeout 500ms -l 127.0.0.1:0 -- python3 "$SERVER" --ignore-drain
wait_log 'event=promote' 1
stop_handoff
[ "$STATUS" -eq 137 ] || fail "exit status $STATUS, expected 137 after SIGKILL"
ok "stop_timeout: SIGKILL, exit 137"

# A command that cannot run: 127 and 126, at once.
start_handoff --pass systemd -l 127.0.0.1:0 -- /nonexistent/server
wait_exit
[ "$STATUS" -eq 127 ] || fail "missing command: exit $STATUS, expected 127"
touch "$T/noexec"
start_handoff --pass systemd -l 127.0.0.1:0 -- "$T/noexec"
wait_exit
[ "$STATUS" -eq 126 ] || fail "non-executable command: exit $STATUS, expected 126"
ok "missing command 127, not executable 126"

# A port in use is refused before anything starts.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
first=$HPID
"$HANDOFF" --pass systemd -l "127.0.0.1:$PORT" -- python3 "$SERVER" 2>"$T/err2"
rc=$?
[ "$rc" -eq 1 ] || fail "bind of a used port: exit $rc"
grep -q "127.0.0.1:$PORT" "$T/err2" || fail "message does not name the address: $(cat "$T/err2")"
kill -0 "$first" || fail "the running handoff was disturbed"
ok "address in use: exit 1, message names it"
stop_handoff


# log_format = json: every line is one JSON object with the same fields.
start_handoff --pass systemd --log-format json -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log '"event":"promote"' 1
stop_handoff
python3 - "$LOG" <<'PY' || fail "log lines are not JSON objects"
import json, sys
events = []
for line in open(sys.argv[1]):
    obj = json.loads(line)
    assert {"ts", "level", "event"} <= obj.keys(), obj
    events.append(obj["event"])
    if obj["event"] == "spawn":
        assert isinstance(obj["pid"], int) and obj["gen"] == 1, obj
    if obj["event"] == "status":
        assert obj["status"] == "serving gen 1", obj
for e in ("start", "listen", "spawn", "ready", "promote", "stop", "drain", "exit", "gone", "exit_master"):
    assert e in events, e
PY
ok "log_format = json: every line parses, with ts, level, event and typed values"

# A stop while generation 1 is still starting (never ready here) exits
# with the worker's status too, as tini does: 7 from its exit, 143 for
# one that dies of the drain's SIGTERM.
start_handoff --pass systemd --ready delay:60s -l 127.0.0.1:0 -- \
    sh -c "trap 'exit 7' TERM; while :; do sleep 0.05; done"
wait_log 'event=spawn gen=1 ' 1
stop_handoff
[ "$STATUS" -eq 7 ] || fail "stop while generation 1 starts: exit status $STATUS, expected the worker's 7"
start_handoff --pass systemd --ready delay:60s -l 127.0.0.1:0 -- sh -c "exec sleep 60"
wait_log 'event=spawn gen=1 ' 1
stop_handoff
[ "$STATUS" -eq 143 ] || fail "stop while generation 1 starts: exit status $STATUS, expected 143 (SIGTERM)"
ok "stop while generation 1 is starting: the worker's status (7, 143)"
