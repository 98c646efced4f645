# valgrind.sh: the master under memcheck through rolls, a reload and a
# stop: no error, no leak.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need valgrind curl python3
# Under the sanitizers valgrind cannot run: the sanitizer build checks itself.
if nm "$HANDOFF" 2>/dev/null | grep -q __asan_init; then echo "SKIP: ASan build"; exit 77; fi

start_handoff_vg() {
    valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
        --error-exitcode=99 --log-file="$T/vg.log" \
        "$HANDOFF" "$@" >"$T/stdout" 2>"$LOG" &
    HPID=$!
    STARTED="$STARTED $HPID"
    wait_log 'event=listen ' 1 30
    PORT=$(grep -Eo 'event=listen .*address=[^ ]*:[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')
}
start_handoff_vg --pass systemd -n 2 -l 127.0.0.1:0 -- python3 "$SERVER" --bad-gens 3 --exit-at-start 1
wait_log 'event=promote' 1 30
roll_and_wait 2
roll_and_wait 3   # fails: gen 3 exits at start
roll_and_wait 4
kill -HUP "$HPID"
wait_log 'event=promote gen=5 ' 1 30
# A worker killed and restarted, one added and one removed: the restart
# timers and slot bookkeeping under memcheck too.
kill -KILL "$(grep -Eo 'event=spawn gen=5 pid=[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')"
wait_log 'event=restart gen=5 ' 1 30
wait_log 'event=spawn gen=5 ' 3 30
kill -TTIN "$HPID"
wait_log 'event=spawn gen=5 ' 4 30
kill -TTOU "$HPID"
wait_log 'event=drain gen=5 ' 1 30
[ -n "$(pid_serving)" ] || fail "not serving under valgrind"
stop_handoff
[ "$STATUS" -ne 99 ] || { cat "$T/vg.log"; fail "valgrind reported errors or leaks"; }
[ ! -s "$T/vg.log" ] || { cat "$T/vg.log"; fail "valgrind printed: $(head -n 3 "$T/vg.log")"; }
ok "memcheck: no error and no leak through 4 rolls (one failed), a reload, a restart, scaling up and down and a stop"
