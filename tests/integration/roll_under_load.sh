# roll_under_load.sh: 20 rolls in a row under load: no failed request, and
# every roll really replaced the processes.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

start_handoff --pass systemd -n 2 -l 127.0.0.1:0 -- python3 "$SERVER"
wait_log 'event=promote' 1
load_start 8
seen="$T/pids"
pid_serving >"$seen"
for i in $(seq 2 21); do
    before=$(pid_serving)
    roll_and_wait "$i"
    [ "$(count 'event=roll_failed')" -eq 0 ] || fail "roll $i failed"
    after=$(pid_serving)
    [ -n "$after" ] || fail "no answer after roll $i"
    grep -qx "$after" "$seen" && fail "roll $i: pid $after answered before (was $before)"
    echo "$after" >>"$seen"
done
ok "20 rolls, each answered by a new pid"
load_stop
[ "$REQS" -gt 100 ] || fail "too little load ($REQS requests)"
[ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed during 20 rolls"
ok "0 failed of $REQS requests"
[ "$(count 'event=promote')" -eq 21 ] || fail "expected 21 promotions"
wait_log 'event=gone gen=20 ' 1 10
stop_handoff
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS after a graceful stop"
ok "graceful stop, exit 0"
