# roll_slow_start.sh: a new version that takes 3 s to become ready: the old
# one keeps serving and no client waits more than 0.5 s.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

start_handoff --pass systemd -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 2 --ready-after 3
wait_log 'event=promote' 1
load_start 8
old=$(pid_serving)
roll_and_wait 2
new=$(pid_serving)
load_stop
roll_ms=$(grep -Eo 'event=promote gen=2 .*roll_ms=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
echo "promoted after ${roll_ms} ms, slowest request ${SLOWEST} s"
[ "$roll_ms" -ge 2900 ] || fail "promoted before the new version was ready (${roll_ms} ms)"
[ "$new" != "$old" ] || fail "the roll did not replace the process"
[ "$FAILED" -eq 0 ] || fail "$FAILED requests failed"
awk -v s="$SLOWEST" 'BEGIN { exit !(s < 0.5) }' || fail "a client waited ${SLOWEST} s"
ok "slow start: 0 failed, slowest ${SLOWEST} s, promotion at ${roll_ms} ms"
