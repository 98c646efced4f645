#!/usr/bin/env bash
# start_handoff.sh: lib.sh's start_handoff sets PORT to the listener's port
# whatever else writes into the log: a process of an earlier handoff that
# still holds the old log open (its writes left NUL bytes in a truncated
# log, grep read it as binary and PORT stayed empty), either log format.
. "$TOP_SRCDIR/tests/integration/lib.sh"
need curl

# A late writer: the old log open at an offset past where the new one will
# be, writing every 20 ms for 5 s (as a worker of an earlier run would).
echo "a line of an earlier run" >"$LOG"
python3 -u -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
os.lseek(fd, 6000, 0)
print("open", flush=True)
for _ in range(250):
    os.write(fd, b"a late line of an earlier run\n")
    time.sleep(0.02)' "$LOG" >"$T/late" &
late=$!
for _ in $(seq 200); do [ -s "$T/late" ] && break; sleep 0.05; done
[ -s "$T/late" ] || fail "the late writer did not start"

for fmt in logfmt json; do
    start_handoff --pass systemd --log-format "$fmt" -l 127.0.0.1:0 -- python3 "$SERVER"
    [ -n "$PORT" ] || fail "$fmt: PORT empty after start_handoff"
    wait_log 'event"?[=:]"?promote[ "]' 1 30
    body=$(get /)
    case $body in *gen=1*) ;; *) fail "$fmt: port $PORT answered [$body]" ;; esac
    ok "$fmt log, a late writer in the old one: PORT=$PORT answers ($body)"
    stop_handoff
done
kill "$late" 2>/dev/null
wait "$late" 2>/dev/null
exit 0
