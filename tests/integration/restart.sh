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
[ "$STATUS" -eq 0 ] || [ "$STATUS" -eq 3 ] || fail "unexpected exit status $STATUS"

# restart = never: the service ends when its worker ends, with its status.
start_handoff --pass systemd --restart never -l 127.0.0.1:0 -- python3 "$SERVER" --crash-after 0.3
wait_exit
[ "$STATUS" -eq 3 ] || fail "restart = never: exit status $STATUS, expected the worker's 3"
grep -q 'event=no_worker_left' "$LOG" || fail "no_worker_left not logged"
ok "restart = never: handoff exits with the worker's status 3"
