# restart.sh: an active worker that crashes is restarted with backoff
# (100 ms doubling), and handoff keeps serving with the others.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" --crash-after 0.2
wait_log 'event=promote' 1
wait_log 'event=restart gen=1 slot=0 delay_ms=400' 1 20
delays=$(grep -Eo 'event=restart gen=1 slot=0 delay_ms=[0-9]+' "$LOG" | grep -Eo '[0-9]+$' | head -n 3 | paste -sd' ')
[ "$delays" = "100 200 400" ] || fail "restart delays were '$delays', expected '100 200 400'"
kill -0 "$HPID" || fail "handoff exited because its worker crashed"
grep -q 'event=exit gen=1 .*code=3' "$LOG" || fail "the crash's exit code was not logged"
ok "crashing worker restarted with backoff: $delays ms"
stop_handoff
# 0: the worker stopped on SIGTERM; 3: the stop came during a backoff and
# the last worker's crash is the status; 143: the stop met a worker just
# restarted, before its SIGTERM handler was set (killed by the signal:
# 128+15, as handoff(8) says).
case $STATUS in
0 | 3 | 143) ;;
*) fail "unexpected exit status $STATUS" ;;
esac

# restart = never: the service ends when its worker ends, with its status.
start_handoff --pass systemd --restart never -l 127.0.0.1:0 -- python3 "$SERVER" --crash-after 0.3
wait_exit
[ "$STATUS" -eq 3 ] || fail "restart = never: exit status $STATUS, expected the worker's 3"
grep -q 'event=no_worker_left' "$LOG" || fail "no_worker_left not logged"
ok "restart = never: handoff exits with the worker's status 3"

# restart = never, and the active worker ends while a roll starts, which
# then fails: the service has ended. handoff stops with that worker's
# status (137: SIGKILL) rather than serve nothing, clients queued.
start_handoff --pass systemd --restart never --ready-timeout 4s -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 2 --never-ready
wait_log 'event=promote gen=1 ' 1
w=$(grep -Eo 'event=spawn gen=1 pid=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
kill -USR2 "$HPID"
wait_log 'event=spawn gen=2 ' 1
kill -KILL "$w"
wait_log 'event=exit gen=1 ' 1
wait_log 'event=roll_failed gen=2 ' 1
for _ in $(seq 100); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$HPID" 2>/dev/null && fail "handoff still runs with no worker 10 s after the failed roll"
wait_exit
[ "$STATUS" -eq 137 ] || fail "service ended during a roll: exit status $STATUS, expected the worker's 137"
grep -q 'event=no_worker_left gen=1' "$LOG" || fail "no_worker_left not logged"
ok "restart = never, active worker gone during a failed roll: handoff exits 137"
