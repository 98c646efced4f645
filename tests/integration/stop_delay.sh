# stop_delay.sh: after SIGTERM, stop_delay keeps serving (for load balancers
# slow to stop sending traffic), then drains; a second signal cuts it short.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

ms() { date +%s%3N; }

# A delay long enough that a loaded machine still gets its checks in before
# it ends; the checks themselves then make sure they did.
start_handoff --pass systemd --stop-delay 3s -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
load_start 8
t0=$(ms)
kill -TERM "$HPID"
wait_log 'event=stop_delay signal=SIGTERM delay_ms=3000' 1
kill -USR2 "$HPID"
wait_log 'event=roll_ignored reason=SIGUSR2 during=stop_delay' 1
[ "$(get / | sed -n 's/.*gen=\([0-9]*\).*/\1/p')" = 1 ] || fail "not serving during stop_delay"
# The load stops before the delay ends: what follows is the stop itself.
load_stop
[ "$(count 'event=drain ')" -eq 0 ] || fail "the worker was drained during stop_delay (or the checks took over 3 s)"
wait_log 'event=drain gen=1' 1 10
t1=$(ms)
wait_exit
[ "$STATUS" -eq 0 ] || fail "handoff exited $STATUS"
[ $((t1 - t0)) -ge 2900 ] || fail "drained $((t1 - t0)) ms after SIGTERM, before stop_delay"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed during stop_delay"
ok "stop_delay 3 s: served $REQS requests with 0 failed, a roll ignored, drain began $((t1 - t0)) ms after SIGTERM"

# A second SIGTERM (an impatient operator, Ctrl-C twice) stops at once.
start_handoff --pass systemd --stop-delay 30s -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
t0=$(ms)
kill -TERM "$HPID"
wait_log 'event=stop_delay' 1
kill -INT "$HPID"
wait_exit
t1=$(ms)
[ $((t1 - t0)) -lt 10000 ] || fail "a second signal did not cut stop_delay short ($((t1 - t0)) ms)"
grep -q 'event=stop signal=SIGINT' "$LOG" || fail "the second signal did not start the stop"
ok "a second signal during stop_delay stops at once ($((t1 - t0)) ms)"
