# upgrade_valgrind.sh: the master under memcheck upgraded twice (to another
# build and back), each new image under memcheck too; the image that
# resumed rolls, restarts a worker and stops: no error and no leak.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need valgrind curl python3
# Under the sanitizers valgrind cannot run: the sanitizer build checks itself.
if nm "$HANDOFF" 2>/dev/null | grep -q __asan_init; then echo "SKIP: ASan build"; exit 77; fi

upgrade_setup

# The master executes the new binary in its own process: only with
# --trace-children does valgrind run the new image, and it does so for
# execveat(fd, "", AT_EMPTY_PATH) as well. The workers (python) are not
# traced. The check run before each exec (binary --upgrade-check) is not
# either: memcheck there would double an upgrade's time, and the sanitizer
# build checks it. Its report goes to fd 2, the log, which every image
# keeps: one file opened once, so a new image does not truncate what the
# one before it reported (--log-file would, at the same pid).
rm -f "$LOG"
valgrind -q --trace-children=yes --trace-children-skip='*python3*' \
    --trace-children-skip-by-arg=--upgrade-check \
    --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
    --error-exitcode=99 --log-fd=2 \
    "$HANDOFF" --pass systemd -n 2 --control "$CTL" -l 127.0.0.1:0 -- python3 "$SERVER" \
    >"$T/stdout" 2>"$LOG" &
HPID=$!
STARTED="$STARTED $HPID"
wait_log 'event=promote gen=1 ' 1 60
PORT=$(grep -Eo 'event=listen .*address=[^ ]*:[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')
W=$(ps -o pid= --ppid "$HPID" | sort -n | tr -d ' ' | tr '\n' ' ')

# reported: valgrind's lines in the log ("==PID== ...").
reported() { grep -aE '^==[0-9]+==' "$LOG" | head -n 20; }

from=$V1
for bin in "$NEXT" "$SELF"; do
    [ "$bin" = "$NEXT" ] && to=$V2 || to=$V1
    out=$("$HANDOFF" upgrade --control "$CTL" --binary "$bin" --timeout 60s 2>&1) ||
        fail "upgrade to $bin under valgrind: exit $?: $out"
    case $out in
    "upgraded pid=$HPID from=$from to=$to ms="*) ;;
    *) fail "upgrade to $bin answered: $out" ;;
    esac
    from=$to
    # The new image runs under memcheck: valgrind's tool is the process's
    # executable, the new binary its client.
    case $(readlink "/proc/$HPID/exe") in
    */memcheck-*) ;;
    *) fail "after the upgrade to $bin, not under valgrind: /proc/$HPID/exe is $(readlink "/proc/$HPID/exe")" ;;
    esac
    tr '\0' ' ' <"/proc/$HPID/cmdline" | grep -qF " $bin --pass systemd " ||
        fail "after the upgrade to $bin, the client is: $(tr '\0' ' ' <"/proc/$HPID/cmdline")"
    [ "$(ps -o pid= --ppid "$HPID" | sort -n | tr -d ' ' | tr '\n' ' ')" = "$W" ] ||
        fail "the workers changed across the upgrade to $bin"
    [ -z "$(reported)" ] || fail "valgrind reported: $(reported)"
    echo "under memcheck: $out"
done
ok "2 upgrades under memcheck ($V1 -> $V2 -> $V1), each new image under memcheck"

# The resumed image at work: a roll, a worker killed and restarted.
roll_and_wait 2
grep -q 'event=promote gen=2 ' "$LOG" || fail "the roll after the upgrades failed"
kill -KILL "$(grep -Eo 'event=spawn gen=2 pid=[0-9]+' "$LOG" | head -n1 | grep -Eo '[0-9]+$')"
wait_log 'event=restart gen=2 ' 1 30
wait_log 'event=spawn gen=2 ' 3 30
[ -n "$(pid_serving)" ] || fail "not serving under valgrind"
stop_handoff
[ "$STATUS" -ne 99 ] || fail "valgrind reported errors or leaks: $(reported)"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS after a graceful stop"
[ -z "$(reported)" ] || fail "valgrind reported: $(reported)"
ok "memcheck: no error and no leak in the resumed image through a roll, a restart and a graceful stop"
