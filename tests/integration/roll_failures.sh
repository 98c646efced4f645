# roll_failures.sh: a new version that exits at start, one that never
# becomes ready, and one that cannot even be run: the old one keeps
# serving, the roll is reported failed, and the next roll succeeds.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need hey curl python3

# promoted_then_unloaded N: roll N is promoted, then the load stops with no
# request failed.
promoted_then_unloaded() {
    roll_and_wait "$1"
    grep -q "event=promote gen=$1 " "$LOG" || fail "roll $1 was not promoted"
    load_stop
    [ "$FAILED" -eq 0 ] || fail "$FAILED of $REQS requests failed"
}

start_handoff --pass systemd --ready-timeout 10s --drain-timeout 2s -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 2 --exit-at-start 3
wait_log 'event=promote' 1
first=$(pid_serving)
load_start 8
roll_and_wait 2
grep -q 'event=roll_failed gen=2 .*exited before it was ready (code=3)' "$LOG" ||
    fail "no roll_failed for a worker that exits at start"
[ "$(pid_serving)" = "$first" ] || fail "the old worker is no longer the one serving"
ok "exit at start: rolled back, old pid $first still serving"
promoted_then_unloaded 3
ok "exit at start then a good roll: 0 failed of $REQS"
stop_handoff

# 5 s: a loaded machine can take 2 s to start python (through pyenv's shim).
start_handoff --pass systemd --ready-timeout 5s --drain-timeout 1s -l 127.0.0.1:0 -- \
    python3 "$SERVER" --bad-gens 2 --never-ready
wait_log 'event=promote' 1
first=$(pid_serving)
load_start 8
roll_and_wait 2
grep -q 'event=roll_failed gen=2 .*not ready within ready_timeout' "$LOG" ||
    fail "no roll_failed for a worker that never becomes ready"
wait_log 'event=gone gen=2 ' 1 10
[ "$(pid_serving)" = "$first" ] || fail "the old worker is no longer the one serving"
promoted_then_unloaded 3
ok "never ready: rolled back after ready_timeout, next roll promoted, 0 failed of $REQS"
stop_handoff

# A version that cannot even be run (its file not executable): the exec
# fails in the child while the master goes on, and a readiness check that
# would pass at once (delay:1ms) must not promote it: readiness is watched
# only once the exec has succeeded. Then the file is fixed: promoted.
cat >"$T/server" <<SH
#!/bin/sh
exec python3 "$SERVER" "\$@"
SH
chmod +x "$T/server"
start_handoff --pass systemd --ready delay:1ms -l 127.0.0.1:0 -- "$T/server"
wait_log 'event=promote' 1
first=$(pid_serving)
load_start 8
chmod -x "$T/server"
for k in 2 3 4; do
    roll_and_wait "$k"
    grep -q "event=exec_failed gen=$k .*err=\"Permission denied\"" "$LOG" || fail "roll $k: no exec_failed"
    grep -q "event=roll_failed gen=$k .*(code=126)" "$LOG" || fail "roll $k: no roll_failed with code 126"
done
[ "$(count 'event=promote ')" -eq 1 ] || fail "a version that could not be run was promoted"
[ "$(count 'event=spawn gen=[234] ')" -eq 0 ] || fail "spawn logged for a failed exec"
[ "$(pid_serving)" = "$first" ] || fail "the old worker is no longer the one serving"
chmod +x "$T/server"
promoted_then_unloaded 5
ok "not executable, ready = delay:1ms: 3 rolls rolled back (exec_failed, 126), never promoted; fixed, promoted; 0 failed of $REQS"
stop_handoff

# Rolls retried in a loop, of a version that is never ready and ignores
# its drain signal: each failed generation would linger for drain_timeout
# (30 s here). The cap: a new roll kills an older failed generation still
# draining, so failed processes never pile up. The newest failed one is
# still there at the end and ignores the stop's SIGTERM too: stop_timeout
# 2 s (not the default 30 s) bounds the stop, which is not judged here.
# Python's start can outlast the 1 s ready_timeout on a loaded machine, and
# a SIGTERM before the server's own SIG_IGN would end it: the shell ignores
# it from the first instant, and python inherits that across exec.
start_handoff --pass systemd --ready-timeout 1s --drain-timeout 30s --stop-timeout 2s -l 127.0.0.1:0 -- \
    sh -c 'case $HANDOFF_GENERATION in 2|3|4) trap "" TERM ;; esac; exec python3 "$0" "$@"' \
    "$SERVER" --bad-gens 2,3,4 --never-ready --ignore-drain
wait_log 'event=promote gen=1 ' 1
first=$(pid_serving)
for k in 2 3 4; do
    roll_and_wait "$k"
    grep -q "event=roll_failed gen=$k " "$LOG" || fail "roll $k did not fail"
done
sleep 0.5
n=$(pgrep -P "$HPID" | wc -l)
[ "$n" -le 2 ] || fail "after 3 failed rolls: $n processes, expected 2 (generation 1 and the newest failed one)"
for k in 2 3; do
    grep -q "event=kill gen=$k .*reason=drain_cap" "$LOG" || fail "failed generation $k was not killed by the cap"
    wait_log "event=gone gen=$k " 1 5
done
[ "$(pid_serving)" = "$first" ] || fail "the old worker is no longer the one serving"
ok "3 failed rolls that ignore the drain: older failed generations killed (drain_cap), $n processes left"
stop_handoff
