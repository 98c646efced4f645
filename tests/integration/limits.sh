#!/usr/bin/env bash
# limits.sh: the descriptor limit. handoff raises its own soft
# RLIMIT_NOFILE to the hard one, so that 600 listeners start and roll under
# the usual soft limit of 1,024; its workers get the soft limit it was
# started with; a hard limit too low is named in the error.
. "$TOP_SRCDIR/tests/integration/lib.sh"
# Room above the soft limit: a hard one of 4,096 at least (root may raise it).
[ "$(ulimit -Hn)" -ge 4096 ] || ulimit -Hn 4096 2>/dev/null ||
    { echo "SKIP: the hard RLIMIT_NOFILE is $(ulimit -Hn), below 4096"; exit 77; }
HARD=$(ulimit -Hn)
ulimit -Sn 1024
N=600
listeners=()
for _ in $(seq $N); do listeners+=(-l 127.0.0.1:0); done
# The worker writes its soft limit, then waits to be drained.
worker=(sh -c 'ulimit -Sn >"$0/soft.$HANDOFF_GENERATION.$$"; exec sleep 1000' "$T")

start_handoff --pass systemd --ready delay:200ms "${listeners[@]}" -- "${worker[@]}"
wait_log 'event=(promote|roll_failed) gen=1 ' 1 60
grep -q 'event=promote gen=1 ' "$LOG" || fail "$N listeners under a soft limit of 1024: $(grep -E 'event=(exec_failed|roll_failed)' "$LOG" | head -n 2)"
[ "$(count 'event=listen ')" -eq $N ] || fail "$(count 'event=listen ') listeners of $N"
master=$(awk '/^Max open files/ { print $4 " " $5 }' "/proc/$HPID/limits")
[ "$master" = "$HARD $HARD" ] || fail "the master's limit is '$master', want '$HARD $HARD'"
ok "$N listeners start under a soft limit of 1024 (the master's raised to $HARD)"

for gen in 2 3; do
    roll_and_wait "$gen"
    grep -q "event=promote gen=$gen " "$LOG" || fail "roll to gen $gen with $N listeners: $(grep -E 'event=(exec_failed|roll_failed)' "$LOG" | tail -n 2)"
done
for gen in 1 2 3; do
    soft=$(cat "$T"/soft.$gen.* 2>/dev/null)
    [ "$soft" = 1024 ] || fail "a worker of gen $gen saw a soft limit of '$soft', want 1024"
done
ok "2 rolls with $N listeners; every worker sees the soft limit handoff started with (1024)"
stop_handoff

# More listeners than the soft limit handoff started with: a worker given
# them keeps the raised limit, as under the start's it could not open one
# descriptor more (ld.so could not even load its libraries: EMFILE).
many=()
for _ in $(seq 1100); do many+=(-l 127.0.0.1:0); done
start_handoff --pass systemd --ready delay:200ms "${many[@]}" -- python3 -c '
import os, resource, sys, time
os.close(os.open("/dev/null", os.O_RDONLY))
print("opened, soft limit %d" % resource.getrlimit(resource.RLIMIT_NOFILE)[0], file=sys.stderr, flush=True)
time.sleep(1000)'
wait_log 'event=(promote|roll_failed) gen=1 ' 1 60
grep -q 'event=promote gen=1 ' "$LOG" ||
    fail "1100 listeners under a soft limit of 1024: $(grep -Eo 'event=roll_failed gen=1 reason="[^"]*"' "$LOG"); $(grep -m1 'error while loading' "$LOG")"
wait_log '^opened, soft limit ' 1 10
ok "1100 listeners: the worker starts and opens a file ($(grep -o '^opened, soft limit [0-9]*' "$LOG"))"
stop_handoff

# A hard limit below what the listeners need: the error names the limit.
(
    ulimit -n 300
    exec timeout 60 "$HANDOFF" --pass systemd --ready delay:200ms "${listeners[@]}" -- "${worker[@]}"
) >"$T/low.out" 2>"$T/low.err"
rc=$?
[ "$rc" -eq 1 ] || fail "under a hard limit of 300: exit $rc, want 1 ($(grep -v 'event=listen ' "$T/low.err" | head -n 3))"
grep -q '^handoff: .*too many open files (RLIMIT_NOFILE 300' "$T/low.err" ||
    fail "the error does not name the limit: $(grep -v 'event=listen ' "$T/low.err" | head -n 3)"
ok "a hard limit of 300: $(grep '^handoff: ' "$T/low.err" | cut -c1-160)"

# The hard limit lowered on the running master (prlimit --pid): a worker of
# another user, who may not raise it again, still starts, under the hard
# limit as it is now and with the soft one handoff started with.
if [ "$(id -u)" -eq 0 ]; then
    start_handoff -u nobody --pass systemd --ready delay:200ms -l 127.0.0.1:0 -- \
        sh -c 'echo "limits=$(ulimit -Sn) $(ulimit -Hn) gen=$HANDOFF_GENERATION" >&2; exec sleep 1000'
    wait_log 'event=(promote|roll_failed) gen=1 ' 1 60
    grep -q 'event=promote gen=1 ' "$LOG" || fail "a worker of user nobody did not start: $(grep -E 'event=(exec_failed|roll_failed)' "$LOG")"
    [ "$HARD" -gt 2048 ] || fail "the hard limit is $HARD, not above 2048"
    prlimit --pid "$HPID" --nofile=2048:2048 || fail "prlimit --pid $HPID failed"
    roll_and_wait 2
    grep -q 'event=promote gen=2 ' "$LOG" ||
        fail "a roll after the master's hard limit was lowered to 2048: $(grep -Eo 'event=roll_failed gen=2 reason="[^"]*"' "$LOG")"
    lim=$(grep -o 'limits=.* gen=2' "$LOG")
    [ "$lim" = "limits=1024 2048 gen=2" ] || fail "the worker of gen 2 says '$lim', want 'limits=1024 2048 gen=2' (soft, hard)"
    ok "the master's hard limit lowered to 2048 (prlimit): gen 2 of user nobody promoted, its $lim"
    stop_handoff
fi

# 450 listeners start under a hard limit of 1024, but a roll needs more (a
# second socket each, and the new worker's copies): the roll fails naming
# the limit, the old generation serves on.
half=()
for _ in $(seq 450); do half+=(-l 127.0.0.1:0); done
ulimit -n 1024
start_handoff --pass systemd --ready delay:200ms "${half[@]}" -- "${worker[@]}"
wait_log 'event=(promote|roll_failed) gen=1 ' 1 60
grep -q 'event=promote gen=1 ' "$LOG" || fail "450 listeners under a hard limit of 1024 did not start"
roll_and_wait 2
grep -q 'event=roll_failed gen=2 reason=".*too many open files (RLIMIT_NOFILE 1024, hard limit 1024): 450 listeners' "$LOG" ||
    fail "the failed roll does not name the limit: $(grep -E 'event=(exec_failed|roll_failed|promote) gen=2' "$LOG")"
ok "a roll of 450 listeners under a hard limit of 1024 fails naming it: $(grep -o 'event=roll_failed gen=2 reason="[^"]*"' "$LOG" | cut -c1-160)"
stop_handoff
