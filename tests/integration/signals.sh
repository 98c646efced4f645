# signals.sh: signals handoff does not use reach the active generation in
# order; SIGTTIN and SIGTTOU scale; rolls asked for during a roll coalesce.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3

worker="trap 'echo USR1 >> $T/sigs' USR1; trap 'echo WINCH >> $T/sigs' WINCH; trap 'echo QUIT >> $T/sigs' QUIT; trap 'echo ALRM >> $T/sigs' ALRM; trap 'exit 0' TERM; while :; do sleep 0.05; done"
start_handoff --pass systemd --ready delay:100ms -l 127.0.0.1:0 -- sh -c "$worker"
wait_log 'event=promote' 1
for s in USR1 WINCH QUIT ALRM; do
    kill -"$s" "$HPID"
    sleep 0.3
done
got=$(paste -sd' ' "$T/sigs" 2>/dev/null)
[ "$got" = "USR1 WINCH QUIT ALRM" ] || fail "worker got '$got'"
kill -0 "$HPID" || fail "handoff died of a forwarded signal"
ok "forwarded in order: $got"

kill -TTIN "$HPID"
wait_log 'event=spawn gen=1 pid=[0-9]+ slot=1' 1
kill -TTOU "$HPID"
wait_log 'event=drain gen=1 ' 1
wait_log 'event=exit gen=1 ' 1
sleep 0.3
[ "$(count 'event=restart')" -eq 0 ] || fail "a retired worker was restarted"
kill -USR2 "$HPID"
wait_log 'event=promote gen=2 ' 1
[ "$(count 'event=spawn gen=2 ')" -eq 1 ] || fail "the next roll did not keep 1 process"
ok "SIGTTIN adds a process, SIGTTOU drains one, the next roll keeps the count"
stop_handoff

# Three SIGUSR2 during a slow roll: one more roll, not three.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" --bad-gens 2 --ready-after 1.5
wait_log 'event=promote' 1
kill -USR2 "$HPID"
wait_log 'event=spawn gen=2 ' 1
kill -USR2 "$HPID"; kill -USR2 "$HPID"; kill -USR2 "$HPID"
wait_log 'event=promote gen=3 ' 1 20
sleep 1
[ "$(count 'event=roll ')" -eq 3 ] || fail "expected gens 1-3 only, got $(count 'event=roll ') rolls"
[ "$(count 'event=roll_queued')" -ge 1 ] || fail "roll_queued not logged"
ok "three rolls asked during a roll coalesced into one"
stop_handoff

# SIGTTIN during a roll goes to the generation that will be active: the
# starting one gets the extra process too. SIGTTOU then never takes the
# last process of the new generation.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" --bad-gens 2,3 --ready-after 1.5
wait_log 'event=promote gen=1 ' 1
kill -USR2 "$HPID"
wait_log 'event=spawn gen=2 ' 1
kill -TTIN "$HPID"
wait_log 'event=promote gen=2 ' 1 20
n=$(count 'event=spawn gen=2 ')
[ "$n" -eq 2 ] || fail "SIGTTIN during the roll: generation 2 was promoted with $n process(es), expected 2"
kill -TTOU "$HPID"
wait_log 'event=scale gen=2 processes=1' 1
kill -TTOU "$HPID"
wait_log 'event=scale gen=2 processes=1 action=none reason=minimum' 1
sleep 0.5
kill -0 "$HPID" 2>/dev/null || fail "SIGTTOU took the last process: handoff exited"
[ "$(count 'event=no_worker_left')" -eq 0 ] || fail "no_worker_left after SIGTTOU"
[ -n "$(pid_serving)" ] || fail "nothing serves after two SIGTTOU"
ok "SIGTTIN during a roll: generation 2 promoted with 2 processes; SIGTTOU leaves the last one"
# SIGTTOU during a roll: a starting process it drains does not fail the roll.
kill -TTIN "$HPID"
wait_log 'event=scale gen=2 processes=2$' 1
kill -USR2 "$HPID"
wait_log 'event=spawn gen=3 .*slot=1' 1
kill -TTOU "$HPID"
wait_log 'event=(promote|roll_failed) gen=3 ' 1 20
grep -q 'event=promote gen=3 ' "$LOG" || fail "SIGTTOU during the roll failed it"
grep -q 'event=scale gen=3 processes=1$' "$LOG" || fail "SIGTTOU did not reach the starting generation"
kill -USR2 "$HPID"
wait_log 'event=promote gen=4 ' 1
[ "$(count 'event=spawn gen=4 ')" -eq 1 ] || fail "the roll after SIGTTOU started $(count 'event=spawn gen=4 ') processes, expected 1"
ok "SIGTTOU during a roll: generation 3 promoted with 1 process, the next roll keeps it"
stop_handoff
