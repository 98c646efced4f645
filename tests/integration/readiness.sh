# readiness.sh: the probes: exec (with %p and %g), http, tcp, and a probe
# that never passes.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

# exec: passes once a file named for the generation exists; %p is the pid.
start_handoff --pass systemd --ready-interval 100ms \
    --ready "exec:test -e $T/ready-%g && echo %p >> $T/probed-pids" \
    -l 127.0.0.1:0 -- python3 "$SERVER" --no-notify
sleep 1
[ "$(count 'event=promote')" -eq 0 ] || fail "promoted before the exec probe passed"
touch "$T/ready-1"
wait_log 'event=ready gen=1 .*via=exec' 1
wpid=$(grep -Eo 'event=spawn gen=1 pid=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
grep -qx "$wpid" "$T/probed-pids" || fail "%p was not the worker's pid ($wpid): $(cat "$T/probed-pids")"
kill -USR2 "$HPID"
wait_log 'event=spawn gen=2 ' 1
sleep 0.5
[ "$(count 'event=promote gen=2 ')" -eq 0 ] || fail "gen 2 promoted without its own file (%g)"
touch "$T/ready-2"
wait_log 'event=promote gen=2 ' 1
ok "exec: waits for exit 0, %p is the worker's pid, %g its generation"
stop_handoff

# http: 2xx passes.
probe_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 "$probe_port" --directory "$T" >/dev/null 2>&1 &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null; cleanup' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$probe_port/" >/dev/null && break; sleep 0.1; done
start_handoff --pass systemd --ready-interval 100ms --ready "http:http://127.0.0.1:$probe_port/" \
    -l 127.0.0.1:0 -- python3 "$SERVER" --no-notify
wait_log 'event=ready gen=1 .*via=http' 1
ok "http: a 200 answer makes the worker ready"
stop_handoff
# http: 404 does not.
start_handoff --pass systemd --ready-interval 100ms --ready-timeout 1s \
    --ready "http:http://127.0.0.1:$probe_port/missing" \
    -l 127.0.0.1:0 -- python3 "$SERVER" --no-notify
wait_exit
grep -q 'event=roll_failed gen=1 .*not ready within ready_timeout' "$LOG" || fail "a 404 made the worker ready"
[ "$STATUS" -eq 1 ] || fail "first generation never ready: exit $STATUS, expected 1"
ok "http: 404 is not ready; a first generation never ready stops handoff with 1"

# tcp: a port that accepts passes; one that refuses does not.
start_handoff --pass systemd --ready-interval 100ms --ready "tcp:127.0.0.1:$probe_port" \
    -l 127.0.0.1:0 -- python3 "$SERVER" --no-notify
wait_log 'event=ready gen=1 .*via=tcp' 1
stop_handoff
kill "$HTTPD"
wait "$HTTPD" 2>/dev/null
start_handoff --pass systemd --ready-interval 100ms --ready-timeout 1s --ready "tcp:127.0.0.1:$probe_port" \
    -l 127.0.0.1:0 -- python3 "$SERVER" --no-notify
wait_exit
grep -q 'event=roll_failed gen=1 ' "$LOG" || fail "a refused tcp probe made the worker ready"
ok "tcp: connect passes, refused does not"

# notify from a process that is not a worker is ignored.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" --bad-gens 2 --never-ready
wait_log 'event=promote' 1
nsock=$(tr '\0' '\n' </proc/$(grep -Eo 'event=spawn gen=1 pid=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')/environ | sed -n 's/^NOTIFY_SOCKET=//p')
kill -USR2 "$HPID"
wait_log 'event=spawn gen=2 ' 1
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"READY=1", sys.argv[1])' "$nsock"
wait_log 'event=notify_ignored .*reason=not-a-worker' 1
sleep 0.3
[ "$(count 'event=promote gen=2 ')" -eq 0 ] || fail "READY=1 from a stranger promoted gen 2"
ok "READY=1 from a process that is not a worker is ignored"

# exec: a check that hangs is killed with its process group (the shell and
# its sleep) at its timeout and counts as not ready: the roll fails at
# ready_timeout and nothing of the check is left running.
HANG="sleep 1000.$$" # a marker no other process has
trap 'for q in $(pgrep -fx "$HANG"); do kill -KILL "$q"; done; cleanup' EXIT
start_handoff --pass systemd --ready-interval 100ms --ready-timeout 4s \
    --ready "exec:test %g = 1 || sh -c '$HANG'" \
    -l 127.0.0.1:0 -- python3 "$SERVER" --no-notify
wait_log 'event=promote gen=1 ' 1
kill -USR2 "$HPID"
wait_log 'event=roll_failed gen=2 .*not ready within ready_timeout' 1
for _ in $(seq 50); do
    n=$(pgrep -cfx "$HANG")
    [ "$n" -eq 0 ] && break
    sleep 0.1
done
[ "$n" -eq 0 ] || fail "$n '$HANG' processes of the check left running"
timeouts=$(count 'event=probe_timeout ')
[ "$timeouts" -ge 2 ] || fail "$timeouts runs of the hung check timed out within ready_timeout (4 s), expected 2 or more"
get / | grep -q 'gen=1' || fail "gen 1 does not answer after the failed roll"
ok "exec: a hung check is killed at its timeout ($timeouts times), the roll fails at ready_timeout, no process left"
stop_handoff
