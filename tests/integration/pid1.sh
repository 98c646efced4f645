# pid1.sh: handoff as PID 1 of a new pid namespace reaps the orphans its
# worker leaves behind and exits with the worker's status on SIGTERM.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3 unshare
unshare --pid --fork --mount-proc true 2>/dev/null || { echo "SKIP: no pid namespaces"; exit 77; }

# A private /run: as PID 1, handoff makes its control socket there.
unshare --pid --fork --mount-proc sh -c 'mount -t tmpfs tmpfs /run 2>/dev/null; exec "$@"' sh \
    "$HANDOFF" --pass systemd -l 127.0.0.1:0 -- \
    python3 "$SERVER" --orphans 100 --term-code 5 >"$T/stdout" 2>"$LOG" &
UNSHARE=$!
HPID=$UNSHARE
wait_log 'event=promote' 1
grep -q 'event=start pid=1 ' "$LOG" || fail "handoff is not PID 1 in the namespace"
PORT=$(grep -Eo 'event=listen .*address=[^ ]*:[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')
# handoff's pid outside the namespace: unshare's child.
inner=$(pgrep -P "$UNSHARE" | head -n1)
[ -n "$inner" ] || fail "cannot find handoff"
sleep 1 # the orphans exit 0.3 s after they are made
zombies=$(zombies_of "$inner")
[ "$zombies" -eq 0 ] || fail "$zombies zombies under handoff"
[ -n "$(pid_serving)" ] || fail "not serving"
kill -TERM "$inner"
for _ in $(seq 100); do kill -0 "$UNSHARE" 2>/dev/null || break; sleep 0.1; done
wait "$UNSHARE"
STATUS=$?
HPID=
[ "$STATUS" -eq 5 ] || fail "exit status $STATUS, expected the worker's 5"
reaped=$(grep -Eo 'orphans_reaped=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "${reaped:-0}" -ge 100 ] || fail "reaped ${reaped:-0} orphans, expected 100"
ok "PID 1: $reaped orphans reaped, no zombie, exit status 5 passed through"

# Not PID 1: handoff makes itself a child subreaper and reaps them all the same.
start_handoff --pass systemd -l 127.0.0.1:0 -- python3 "$SERVER" --orphans 100
wait_log 'event=promote' 1
sleep 1
zombies=$(zombies_of "$HPID")
[ "$zombies" -eq 0 ] || fail "$zombies zombies under handoff (subreaper)"
stop_handoff
reaped=$(grep -Eo 'orphans_reaped=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "${reaped:-0}" -ge 100 ] || fail "subreaper reaped ${reaped:-0} orphans, expected 100"
ok "subreaper (not PID 1): $reaped orphans reaped, no zombie"

# Orphans that outlive their worker: at stop handoff sends them SIGTERM, and
# SIGKILL at stop_timeout to one that ignores it; it exits only when every
# descendant is gone, with its worker's status.
start_handoff --pass systemd --stop-timeout 1s -l 127.0.0.1:0 -- sh -c \
    "sh -c 'sleep 300 & echo \$! >$T/lingers; (trap \"\" TERM; exec sleep 301) & echo \$! >$T/stubborn'; exec python3 $SERVER --term-code 4"
wait_log 'event=promote' 1
lingers=$(cat "$T/lingers") stubborn=$(cat "$T/stubborn")
[ "$(awk '{print $4}' "/proc/$stubborn/stat")" = "$HPID" ] || fail "the orphan was not re-parented to handoff"
stop_handoff
[ "$STATUS" -eq 4 ] || fail "exit status $STATUS with lingering orphans, expected the worker's 4"
kill -0 "$lingers" 2>/dev/null && fail "an orphan outlived handoff"
kill -0 "$stubborn" 2>/dev/null && fail "an orphan that ignores SIGTERM outlived handoff"
grep -q 'event=stop_timeout ' "$LOG" || fail "the stubborn orphan was not killed at stop_timeout"
ok "lingering orphans: SIGTERM, then SIGKILL at stop_timeout; handoff exits last, with status 4"
