# upgrade_pid1.sh: handoff as PID 1 of a new pid namespace, upgraded three
# times between two builds: still PID 1 running the new file each time, the
# same workers, the orphans made after the upgrades reaped (no zombie), and
# the worker's exit status passed through at the stop. Not PID 1, it
# stays the subreaper of its workers' orphans after an upgrade.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl python3 unshare nsenter
unshare --pid --fork --mount-proc true 2>/dev/null || { echo "SKIP: no pid namespaces"; exit 77; }

upgrade_setup
[ "$V1" != "$V2" ] || fail "the two builds say the same version ($V1)"

# The workers make orphans only once $T/orphans exists: every orphan
# handoff reaps here was made after the upgrades. Each worker of a roll
# leaves 25 grandchildren that exit 0.3 s later.
CMD="if [ -e $T/orphans ]; then exec python3 $SERVER --orphans 25 --term-code 5; fi; exec python3 $SERVER --term-code 5"

# A private /run, as pid1.sh: what handoff as PID 1 makes there stays here.
unshare --pid --fork --mount-proc sh -c 'mount -t tmpfs tmpfs /run 2>/dev/null; exec "$@"' sh \
    "$HANDOFF" --pass systemd -n 2 --control "$CTL" -l 127.0.0.1:0 -- sh -c "$CMD" \
    >"$T/stdout" 2>"$LOG" &
UNSHARE=$!
HPID=$UNSHARE
STARTED="$STARTED $UNSHARE"
wait_log 'event=promote' 1
grep -q 'event=start pid=1 ' "$LOG" || fail "handoff is not PID 1 in the namespace"
PORT=$(grep -Eo 'event=listen .*address=[^ ]*:[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')
# handoff's pid outside the namespace: unshare's child.
inner=$(pgrep -P "$UNSHARE" | head -n1)
[ -n "$inner" ] || fail "cannot find handoff"
workers() { ps -o pid= --ppid "$inner" | sort -n | tr -d ' ' | tr '\n' ' '; }
W=$(workers)
[ "$(echo $W | wc -w)" -eq 2 ] || fail "expected 2 workers, found: $W"

# Three upgrades: the build under test -> next -> under test -> next.
from=$V1
for i in 1 2 3; do
    if [ $((i % 2)) -eq 1 ]; then bin=$NEXT to=$V2; else bin=$SELF to=$V1; fi
    out=$("$HANDOFF" upgrade --control "$CTL" --binary "$bin" 2>&1) ||
        fail "upgrade $i to $bin: exit $?: $out"
    case $out in
    "upgraded pid=1 from=$from to=$to ms="*) ;;
    *) fail "upgrade $i to $bin answered: $out" ;;
    esac
    from=$to
    # PID 1 as the namespace sees it, and the same process seen from outside.
    exe=$(nsenter -t "$inner" -p -m readlink /proc/1/exe) ||
        fail "upgrade $i: cannot read /proc/1/exe in the namespace"
    [ "$exe" = "$bin" ] || fail "upgrade $i: /proc/1/exe is $exe, expected $bin"
    [ "$(pgrep -P "$UNSHARE" | head -n1)" = "$inner" ] || fail "upgrade $i: handoff's pid changed"
    [ "$(workers)" = "$W" ] || fail "upgrade $i: workers $(workers), were $W"
    [ -n "$(pid_serving)" ] || fail "upgrade $i: not serving"
    echo "upgrade $i: $out; /proc/1/exe $exe"
done
ok "3 upgrades: PID 1 throughout, /proc/1/exe the new file each time, workers $W kept"

# Orphans made after the upgrades: a roll whose 2 workers leave 50.
touch "$T/orphans"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] && case $OUT in "promoted gen=2 "*) true ;; *) false ;; esac ||
    fail "roll after the upgrades: exit $RC: $OUT $ERR"
# Until handoff's only children are the 2 new workers: every orphan exited
# and was reaped (a zombie stays its child), generation 1 gone.
left=
for _ in $(seq 200); do
    left=$(ps -o pid= --ppid "$inner" | wc -l)
    [ "$left" -eq 2 ] && [ "$(zombies_of "$inner")" -eq 0 ] && break
    sleep 0.05
done
[ "$(zombies_of "$inner")" -eq 0 ] || fail "$(zombies_of "$inner") zombies under handoff after the upgrades"
[ "$left" -eq 2 ] || fail "$left children of handoff 10 s after the roll, expected its 2 workers"
ok "a roll after the upgrades: $OUT; its orphans all reaped, no zombie"

kill -TERM "$inner"
for _ in $(seq 300); do kill -0 "$UNSHARE" 2>/dev/null || break; sleep 0.1; done
kill -0 "$UNSHARE" 2>/dev/null && fail "handoff did not exit on SIGTERM"
wait "$UNSHARE"
STATUS=$?
HPID=
sanitizers_quiet
[ "$STATUS" -eq 5 ] || fail "exit status $STATUS, expected the worker's 5"
reaped=$(grep -Eo 'orphans_reaped=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "${reaped:-0}" -ge 50 ] || fail "reaped ${reaped:-0} orphans, expected 50"
ok "stop: exit status 5 passed through, $reaped orphans reaped"

# Not PID 1: handoff is a child subreaper, and stays one across an upgrade:
# the orphans made after it are its own to reap, not init's.
rm -f "$T/orphans"
start_handoff --pass systemd -n 2 --control "$CTL" -l 127.0.0.1:0 -- sh -c "$CMD"
wait_log 'event=promote' 1
out=$("$HANDOFF" upgrade --control "$CTL" --binary "$NEXT" 2>&1) ||
    fail "upgrade (not PID 1): exit $?: $out"
touch "$T/orphans"
hc roll --control "$CTL"
[ "$RC" -eq 0 ] || fail "roll after the upgrade (not PID 1): exit $RC: $OUT $ERR"
for _ in $(seq 200); do
    [ "$(ps -o pid= --ppid "$HPID" | wc -l)" -eq 2 ] && [ "$(zombies_of "$HPID")" -eq 0 ] && break
    sleep 0.05
done
[ "$(zombies_of "$HPID")" -eq 0 ] || fail "$(zombies_of "$HPID") zombies under handoff (subreaper) after the upgrade"
stop_handoff
sanitizers_quiet
[ "$STATUS" -eq 5 ] || fail "exit status $STATUS (not PID 1), expected the worker's 5"
reaped=$(grep -Eo 'orphans_reaped=[0-9]+' "$LOG" | grep -Eo '[0-9]+$')
[ "${reaped:-0}" -ge 50 ] || fail "subreaper reaped ${reaped:-0} orphans after an upgrade, expected 50"
ok "subreaper (not PID 1) after an upgrade: $reaped orphans reaped, no zombie, exit status 5"
